"""The trusted kernel's side of split execution: the student's names as proxies, over the wire.

The trusted kernel (autograder/safety/split.py starts it) runs the instructor's setup and the test
cells, never a line of the student's. Before each test cell, `bind` puts the names the cell needs
into its namespace from the student kernel: a value the student assigned comes as data, a function,
class or object the student made comes as a proxy (autograder/safety/bridge.py) whose calls run in
the student's kernel. A session with the student kernel opens at the first call of a test and
stays open while each test's calls come back (the student's cells have all run by then); a test
stopped half way ends it (`end`), and a student kernel that does not let go is killed.

A session is an execute_request on the student kernel's shell channel (as any Jupyter client
sends) whose code connects back to a Unix socket this side listens on, in the student kernel's
private folder (the one its IPC sockets are in, bound into its sandbox): the messages of the
session go over that socket, a length and a JSON text each.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time

import zmq
from jupyter_client.session import Session

from autograder.safety import bridge

CONNECT_SECONDS = 30  # how long the student's kernel may take to connect a session's socket
POLL_SECONDS = 0.2  # how often a wait for the student's kernel checks that it still runs
_student: "StudentKernel | None" = None


class StudentKernelGone(Exception):
    """The student's kernel died or stopped answering while a test was talking to it."""


class StudentKernel:
    """A client of the student's kernel that opens sessions of the bridge's protocol in it.

    One ZMQ socket (shell), used from this thread alone, to start a session and see it end; the
    session's messages on a Unix socket of their own (`bridge.Wire`)."""

    def __init__(self, connection_info: dict, pid: int | None = None):
        info = connection_info
        self.session_keys = Session(key=info["key"].encode(), signature_scheme=info.get(
            "signature_scheme", "hmac-sha256"))
        self.context = zmq.Context()
        self.shell = self._socket(info, "shell_port", self.session_keys.bsession)
        if info.get("transport") == "ipc":  # the kernel's private folder, bound into its sandbox
            self.folder, self._own_folder = os.path.dirname(info["ip"]), None
        else:  # a kernel on this host's loopback, not sandboxed
            self.folder = self._own_folder = tempfile.mkdtemp(prefix="course-bridge-")
        self.pid = pid  # the host process that runs the student's kernel (its sandbox)
        self.peer = bridge.Peer(self._send, trusted=True)
        self.session: str | None = None  # msg_id of the open session's execute_request
        self.wire: bridge.Wire | None = None
        self.waiting = False  # the student's side waits for our next message

    def _socket(self, info: dict, port: str, identity: bytes):
        """A DEALER connected to the kernel's `port` (a request sent before the connection is
        made waits in it; the kernel answers the identity the request came from)."""
        socket_ = self.context.socket(zmq.DEALER)
        socket_.setsockopt(zmq.IDENTITY, identity)
        socket_.setsockopt(zmq.LINGER, 0)
        if info.get("transport", "tcp") == "tcp":
            socket_.connect(f"tcp://{info['ip']}:{info[port]}")
        else:
            socket_.connect(f"{info['transport']}://{info['ip']}-{info[port]}")
        return socket_

    def request(self, request: dict):
        self._open()
        return self.peer.request(request)

    def _open(self):
        """Start a session: the student kernel runs `bridge.serve_at(path)`, which connects to
        the socket listening at `path` (a fresh name: nothing there could have waited for it)."""
        if self.session is not None:
            return
        path = os.path.join(self.folder, f"course-bridge-{secrets.token_hex(8)}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            try:
                os.chmod(path, 0o666)  # the sandbox's uid connects; only it and we see the folder
                listener.listen(1)
                listener.settimeout(POLL_SECONDS)
                sent = self.session_keys.send(self.shell, "execute_request", {
                    "code": bridge.session_code(path), "silent": True, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": False})
                self.session = sent["header"]["msg_id"]
                deadline = time.monotonic() + CONNECT_SECONDS
                while True:
                    try:
                        connection, _ = listener.accept()
                        break
                    except TimeoutError:
                        self._check_alive()
                        if time.monotonic() > deadline:
                            self.session = None
                            raise StudentKernelGone("the student's kernel did not open the "
                                                    f"test's session in {CONNECT_SECONDS} s")
            finally:
                os.unlink(path)
        connection.settimeout(POLL_SECONDS)
        self.wire = bridge.Wire(connection, idle=self._check_alive)
        ready = self._receive()
        if ready.get("k") != "ready":
            raise bridge.BridgeError("the student's kernel did not open the session")
        self.peer._take_random(ready)

    def _send(self, message: dict) -> dict:
        if self.session is None:  # a proxy kept from an earlier test: a new session
            self._open()
        if not self.waiting or self.wire is None:
            raise StudentKernelGone("the student's kernel is not waiting for a message")
        self.waiting = False
        try:
            self.wire.send(json.dumps(message))
        except OSError:
            self._lost_wire()
        return self._receive()

    def _receive(self) -> dict:
        """The student kernel's next message."""
        try:
            text = self.wire.receive()
        except (EOFError, OSError):
            self._lost_wire()
        except (UnicodeDecodeError, bridge.BridgeError) as error:
            self._close_wire()  # out of step with the student's side: its session ends
            raise bridge.BridgeError(f"a message from the student's kernel refused: {error}") \
                from None
        self.waiting = True
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            raise bridge.BridgeError("a message from the student's kernel that is not JSON") \
                from None
        if not isinstance(message, dict):
            raise bridge.BridgeError("a message from the student's kernel that is not an object")
        return message

    def _lost_wire(self):
        """The session's socket broke: the student's kernel died, or its code closed the socket
        (then its session ends; the next test opens a new one)."""
        self._close_wire()
        if self.session is not None and self._session_ended(2000):
            self.session = None
        if self.pid is not None and not _running(self.pid):
            raise StudentKernelGone("the student's kernel died while a test was calling it")
        raise StudentKernelGone("the student's code closed the test's session")

    def _close_wire(self):
        if self.wire is not None:
            self.wire.sock.close()
            self.wire, self.waiting = None, False

    def _session_ended(self, timeout_ms: int = 0) -> bool:
        """Whether the open session's execute_reply came (the student kernel's cell is over)."""
        while self.shell.poll(timeout_ms):
            _, reply = self.session_keys.recv(self.shell, mode=0)
            if reply is not None and reply["parent_header"].get("msg_id") == self.session:
                return True
            timeout_ms = 0
        return False

    def _check_alive(self):
        if self.session is not None and self._session_ended():
            self.session = None
            self._close_wire()
            raise StudentKernelGone("the student's code ended the test's session (it raised out "
                                    "of it or broke its connection)")
        if self.pid is not None and not _running(self.pid):
            raise StudentKernelGone("the student's kernel died while a test was calling it")

    def end(self, grace: float = 10.0) -> bool:
        """Close the session: tell the student kernel "end" and wait until its cell is over.
        False when it did not finish within `grace` seconds (it hangs: the grader stops it)."""
        if self.session is None:
            return True
        deadline = time.monotonic() + grace
        ended = False
        if self.wire is not None:
            self.wire.idle = None  # the checks are made here
        while time.monotonic() < deadline:
            if self.pid is not None and not _running(self.pid):
                break
            if self.waiting:
                self.waiting = False
                try:
                    self.wire.send(json.dumps({"k": "end"}))
                except OSError:
                    self._close_wire()
            if self._session_ended(50):
                ended = True
                break
            if self.wire is not None:  # a reply to a request the test left: answer it "end"
                try:
                    self.wire.receive(deadline=time.monotonic() + 0.05)
                    self.waiting = True
                except TimeoutError:
                    pass
                except (EOFError, OSError, UnicodeDecodeError, bridge.BridgeError):
                    self._close_wire()
        self._close_wire()
        self.session = None
        return ended

    def close(self):
        self._close_wire()
        self.shell.close(0)
        self.context.term()
        if self._own_folder:
            shutil.rmtree(self._own_folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether process `pid` still runs (not gone, not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class StudentNamespace:
    """The student kernel's global names, for a test that must put something into the student's
    world while it runs (a reference gate the student's XOR calls): values are sent as data,
    functions and objects of the test as callback proxies that run here."""

    def __getitem__(self, name):
        found = _connected().request({"op": "lookup", "a": [name]})
        if name not in found:
            raise KeyError(name)
        return found[name]

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __setitem__(self, name, value):
        self.update({name: value})

    def update(self, names: dict):
        _connected().request({"op": "assign", "v": dict(names)})


def connect(connection_info: dict, pid: int | None = None):
    """Talk to this submission's student kernel from now on (`pid`: its process on this host,
    whose end means the kernel died)."""
    global _student
    disconnect()
    _student = StudentKernel(connection_info, pid)
    _bound.clear()


def disconnect():
    global _student
    if _student is not None:
        _student.end(grace=2.0)
        _student.close()
        _student = None


def connected() -> bool:
    return _student is not None


def _connected() -> StudentKernel:
    if _student is None:
        raise StudentKernelGone("no student kernel to call")
    return _student


_bound: dict = {}  # name -> the value bind() put there (a name the test reassigned is the test's)


def bind(namespace: dict, names, answer_names=()):
    """Put into `namespace` the student's value for each of `names` that the trusted side does
    not define itself (or that an answer cell defines): data, or a proxy of the student's object."""
    answers = set(answer_names)
    wanted = [n for n in names
              if n in answers or n not in namespace or (n in _bound and namespace[n] is _bound[n])]
    if not wanted:
        return
    found = _connected().request({"op": "lookup", "a": wanted})
    for name in wanted:
        if name in found:
            namespace[name] = _bound[name] = found[name]
        elif name in _bound and namespace.get(name) is _bound[name]:
            del namespace[name]
            del _bound[name]


_process_state: dict = {}


def keep_process_state():
    """Note, in a fresh trusted kernel, the process state a test may change (numpy's error modes
    and print options, the warning filters), for `reset` to put back."""
    import warnings
    import numpy
    _process_state.update(numpy_errors=numpy.geterr(), numpy_print=numpy.get_printoptions(),
                          warning_filters=list(warnings.filters))


def reset(shell):
    """Make a kept trusted kernel as a fresh one for the next submission: its namespace emptied,
    the noted process state put back, figures closed, Python's random stream reseeded (numpy's
    is seeded by the setup cell, run next)."""
    import random
    import sys
    import warnings
    import numpy
    disconnect()
    shell.reset(new_session=False)
    numpy.seterr(**_process_state["numpy_errors"])
    numpy.set_printoptions(**_process_state["numpy_print"])
    warnings.filters[:] = _process_state["warning_filters"]
    warnings._filters_mutated()
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    random.seed()
    shell.user_ns["__course_split__"] = sys.modules[__name__]


def end() -> bool:
    """Close the session after a test cell; False when the student kernel did not let go (it
    hangs in the student's code): then it is killed, and the tests after score 0."""
    ended = True if _student is None else _student.end()
    if not ended and _student.pid is not None:
        try:
            os.kill(_student.pid, signal.SIGKILL)
        except OSError:
            pass
    return ended


_hooked: set = set()


def install_hooks(shell):
    """Bind the student's names before each test cell the grader runs here and check the session
    after it (IPython's pre_run_cell and post_run_cell; the grader's own silent requests fire
    neither), so a test costs no request beyond its own."""
    if id(shell) in _hooked:
        return
    _hooked.add(id(shell))

    def before(info):
        if _student is None:
            return
        names = shell.user_ns.get("__course_split_names__", ())
        answers = shell.user_ns.get("__course_split_answers__", ())
        try:
            bind(shell.user_ns, names, answers)
        except Exception as error:  # the test then fails on the missing name, with this said
            print(f"[the student's names could not be read: {error}]")

    def after(result):
        # a test whose calls all came back leaves the student kernel waiting for the next
        # request: the session stays open for the next test (the student's cells are all over);
        # one that was stopped half way ends it, and a student kernel that does not let go is
        # killed
        if _student is not None and _student.session is not None and not _student.waiting:
            end()

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def student_globals() -> StudentNamespace:
    return StudentNamespace()
