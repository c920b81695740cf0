"""The trusted kernel's side of split execution: the student's names as proxies, over the wire.

The trusted kernel (autograder/safety/split.py starts it) runs the instructor's setup and the test
cells, never a line of the student's. Before each test cell, `bind` puts the names the cell needs
into its namespace from the student kernel: a value the student assigned comes as data, a function,
class or object the student made comes as a proxy (autograder/safety/bridge.py) whose calls run in
the student's kernel. A session with the student kernel opens at the first call of a cell and
closes after the cell (`end`); while it is open the student kernel runs nothing else.

The student kernel is reached as any Jupyter client reaches a kernel (its connection file): each
message to it is the reply to an input() its side of the bridge asked, each message from it the
next input() prompt, so no extra socket is opened into the sandbox.
"""
from __future__ import annotations

import json
import queue
import time

from jupyter_client import BlockingKernelClient

from autograder.safety import bridge

_student: "StudentKernel | None" = None
last_end_ok = True  # False when the student kernel did not close its session (it hangs)


class StudentKernelGone(Exception):
    """The student's kernel died or stopped answering while a test was talking to it."""


class StudentKernel:
    """A client of the student's kernel that speaks the bridge's protocol over its stdin channel."""

    def __init__(self, connection_info: dict, pid: int | None = None):
        client = BlockingKernelClient()
        client.load_connection_info(connection_info)
        client.start_channels(shell=True, iopub=False, stdin=True, hb=False, control=False)
        self.client = client
        self.pid = pid  # the host process that runs the student's kernel (its sandbox)
        self.peer = bridge.Peer(self._send, trusted=True)
        self.session: str | None = None  # msg_id of the open session's execute_request
        self.waiting = False  # the student kernel waits for our next message

    def request(self, request: dict):
        self._open()
        return self.peer.request(request)

    def _open(self):
        if self.session is not None:
            return
        self.session = self.client.execute(bridge.session_code(), silent=True,
                                           store_history=False, allow_stdin=True)
        ready = self._receive()
        if ready.get("k") != "ready":
            raise bridge.BridgeError("the student's kernel did not open the session")
        self.peer._take_random(ready)

    def _send(self, message: dict) -> dict:
        if not self.waiting:
            raise StudentKernelGone("the student's kernel is not waiting for a message")
        self.waiting = False
        self.client.input(json.dumps(message))
        return self._receive()

    def _receive(self) -> dict:
        """The next message of the student kernel: the prompt of its next input()."""
        while True:
            try:
                msg = self.client.stdin_channel.get_msg(timeout=0.2)
            except queue.Empty:
                self._check_alive()
                continue
            if msg["msg_type"] != "input_request" or msg["parent_header"].get("msg_id") != self.session:
                continue
            self.waiting = True
            try:
                message = json.loads(msg["content"]["prompt"])
            except (ValueError, TypeError, RecursionError):
                raise bridge.BridgeError("the student's code asked for input() while a test "
                                         "called it") from None
            if not isinstance(message, dict):
                raise bridge.BridgeError("a message from the student's kernel that is not an object")
            return message

    def _check_alive(self):
        try:
            reply = self.client.shell_channel.get_msg(timeout=0)
        except queue.Empty:
            reply = None
        if reply is not None and reply["parent_header"].get("msg_id") == self.session:
            self.session, self.waiting = None, False
            raise StudentKernelGone("the student's code ended the test's session (it broke the "
                                    "kernel's input() or raised out of it)")
        if self.pid is not None and not _running(self.pid):
            raise StudentKernelGone("the student's kernel died while a test was calling it")

    def end(self, grace: float = 10.0) -> bool:
        """Close the session: tell the student kernel "end" and wait until its cell is over.
        False when it did not finish within `grace` seconds (it hangs: the grader stops it)."""
        if self.session is None:
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self.waiting:
                self.waiting = False
                self.client.input(json.dumps({"k": "end"}))
            try:
                reply = self.client.shell_channel.get_msg(timeout=0.05)
                if reply["parent_header"].get("msg_id") == self.session:
                    self.session = None
                    return True
            except queue.Empty:
                pass
            try:
                msg = self.client.stdin_channel.get_msg(timeout=0.05)
                if msg["msg_type"] == "input_request":
                    self.waiting = True
            except queue.Empty:
                pass
        self.session = None
        return False

    def close(self):
        self.client.stop_channels()


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
    global _student, last_end_ok
    disconnect()
    _student = StudentKernel(connection_info, pid)
    last_end_ok = True


def disconnect():
    global _student
    if _student is not None:
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


def end() -> bool:
    """Close the session after a test cell; False when the student kernel did not let go."""
    global last_end_ok
    last_end_ok = True if _student is None else _student.end()
    return last_end_ok


def student_globals() -> StudentNamespace:
    return StudentNamespace()
