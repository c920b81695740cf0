"""The wire between the trusted kernel and the student's (autograder/safety/bridge.py), in one
process: the student's side serves in a thread, joined to the trusted side by two queues as the
kernels are by input(). What crosses is data or a reference; the student's side never reaches the
trusted side's internals; a test sees what it would see in one kernel (in-place changes, views,
identity, exceptions, warnings, numpy's error modes)."""
import json
import queue
import threading
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from autograder.safety import bridge


class Pair:
    """A trusted peer talking to a student peer that serves `namespace` in a thread."""

    def __init__(self, namespace):
        self.to_student, self.to_trusted = queue.Queue(), queue.Queue()
        self.student = bridge.Peer(None, trusted=False, namespace=namespace)

        def ask(text):
            self.to_trusted.put(text)
            return self.to_student.get(timeout=20)

        self.thread = threading.Thread(target=bridge.serve, args=(ask, namespace, self.student),
                                       daemon=True)
        self.thread.start()
        self.trusted = bridge.Peer(self._send, trusted=True)
        self.trusted._take_random(json.loads(self.to_trusted.get(timeout=20)))  # "ready"

    def _send(self, message):
        self.to_student.put(json.dumps(message))
        return json.loads(self.to_trusted.get(timeout=20))

    def names(self, *names):
        found = self.trusted.request({"op": "lookup", "a": list(names)})
        return [found[n] for n in names]

    def close(self):
        self.to_student.put(json.dumps({"k": "end"}))
        self.thread.join(timeout=20)


@pytest.fixture
def pair():
    made = []

    def connect(**namespace):
        made.append(Pair(namespace))
        return made[-1]

    yield connect
    for p in made:
        p.close()


def test_data_arrives_as_data_of_the_same_types(pair):
    values = [None, True, 3, 2.5, float("nan"), float("inf"), "s", b"b", 1 + 2j, (1, [2.0]),
              {"a": 1, 2: "b"}, {1, 2}, frozenset({3}), slice(1, None, 2), np.float32(1.5),
              np.int64(7), np.bool_(True), np.arange(6.0).reshape(2, 3), np.array(["x", "yz"]),
              np.zeros((0, 3))]
    p = pair(echo=lambda v: v)
    echo, = p.names("echo")
    for value in values:
        got = echo(value)
        assert type(got) is type(value)
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape
            assert np.array_equal(got, value)
        elif value == value:
            assert got == value


def test_a_student_object_is_a_proxy_whose_methods_and_operators_run_there(pair):
    class Value:
        def __init__(self, data, children=()):
            self.data, self.grad, self._prev = data, 0.0, set(children)

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            return Value(self.data + other.data, (self, other))

        __radd__ = __add__

    p = pair(Value=Value)
    V, = p.names("Value")
    a, b = V(2.0), V(3.0)
    c = a + b
    d = 1 + a
    assert isinstance(c, V) and not isinstance(2.0, V) and type(c).__name__ == "Value"
    assert c.data == 5.0 and d.data == 3.0
    assert c._prev == {a, b} and a in c._prev and len({a, a, b}) == 2
    c.grad = 4.0
    assert c.grad == 4.0
    with pytest.raises(TypeError):
        np.add(c, 1.0)  # numpy never computes with a student's object


def test_callbacks_run_on_the_trusted_side_and_may_call_back_again(pair):
    def numerical_gradient(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in range(x.size):
            old = x.flat[i]
            x.flat[i] = old + h
            up = f(x)
            x.flat[i] = old - h
            grad.flat[i] = (up - f(x)) / (2 * h)
            x.flat[i] = old
        return grad

    def twice(g, v):
        return g(g(v))

    p = pair(numerical_gradient=numerical_gradient, twice=twice, square=lambda v: v * v)
    ng, tw, sq = p.names("numerical_gradient", "twice", "square")
    seen = []
    x = np.array([1.0, -2.0, 0.5])
    g = ng(lambda v: seen.append(v.copy()) or float(np.sum(v ** 2)), x)
    assert np.allclose(g, 2 * x) and len(seen) == 6
    assert tw(lambda v: sq(v) + 1, 2) == 26  # trusted -> student -> trusted -> student


def test_in_place_changes_identity_and_views_are_as_in_one_kernel(pair):
    class Affine:
        def __init__(self, W):
            self.W = W

        def forward(self, x):
            return x @ self.W

    def scale_in_place(x):
        x *= 2

    p = pair(Affine=Affine, scale=scale_in_place, first_row=lambda x: x[0], same=lambda x: x)
    A, scale, first_row, same = p.names("Affine", "scale", "first_row", "same")
    W = np.eye(2)
    layer = A(W)
    W += 1.0  # an optimiser updates the parameters in place: the layer must see it
    assert np.array_equal(layer.forward(np.array([[1.0, 0.0]])), [[2.0, 1.0]])
    assert layer.W is layer.W  # the student's array arrives as one object
    x = np.arange(4.0)
    scale(x)
    assert np.array_equal(x, [0, 2, 4, 6])
    m = np.arange(6.0).reshape(2, 3)
    assert np.shares_memory(first_row(m), m) and same(m) is not None
    assert np.shares_memory(same(m), m)
    r = np.arange(3.0)
    r.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        scale(r)


def test_exceptions_come_back_as_builtin_types_never_as_the_students_classes(pair):
    class Sneaky(KeyError):
        pass

    def raise_(kind):
        raise {"value": ValueError("v"), "sneaky": Sneaky("k"), "exit": SystemExit(3)}[kind]

    p = pair(raise_=raise_)
    r, = p.names("raise_")
    with pytest.raises(ValueError, match="v"):
        r("value")
    with pytest.raises(KeyError) as info:
        r("sneaky")
    assert type(info.value) is KeyError
    with pytest.raises(bridge.StudentError, match="SystemExit"):
        r("exit")


def test_warnings_and_numpy_error_modes_cross_as_in_one_kernel(pair):
    p = pair(exp=lambda x: np.exp(x))
    exp, = p.names("exp")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning, match="overflow"):
            exp(np.array([1000.0]))
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            exp(np.array([1000.0]))
    with np.errstate(all="ignore"):
        assert np.isinf(exp(np.array([1000.0]))[0])


def test_the_random_stream_is_shared(pair):
    p = pair(draw=lambda: np.random.rand())
    draw, = p.names("draw")
    np.random.seed(4)
    expected = np.random.rand(2)
    np.random.seed(4)
    assert [draw(), np.random.rand()] == list(expected)


def test_the_student_side_cannot_reach_the_trusted_sides_internals(pair):
    secret = {"expected": 42}

    def probe(f):
        for name in ("__globals__", "__closure__", "_secret", "__code__"):
            try:
                getattr(f, name)
            except AttributeError:
                continue
            return f"read {name}"
        return "nothing"

    p = pair(probe=probe)
    pr, = p.names("probe")
    assert pr(lambda: secret) == "nothing"
    trusted = p.trusted
    for request in ({"k": "req", "op": "lookup", "a": ["secret"]},
                    {"k": "req", "op": "op", "f": "hash", "a": [1]},
                    {"k": "req", "op": "call", "t": {"$": "r", "i": 12345}, "a": []}):
        assert trusted.answer(request)["k"] == "err"
    with pytest.raises(bridge.BridgeError):
        trusted.decode({"$": "a", "d": "|O", "s": [1], "v": ""})
    with pytest.raises(bridge.BridgeError):
        trusted.decode({"$": "pickle", "v": "gASV"})


# --- what split execution reads from a cell (autograder/safety/split.py) ----------------------------

def test_the_names_an_answer_defines_are_its_own_not_its_imports():
    from autograder.safety.split import names_defined, names_read
    source = ("%matplotlib inline\nimport numpy as np\nfrom math import exp\n"
              "def f(x):\n    return helper(x)\nclass V:\n    pass\nW, b = 1, 2\nfor i in range(2):\n    pass\n")
    assert names_defined(source) == {"f", "V", "W", "b", "i"}
    assert {"helper", "range"} <= names_read(source)
    assert names_defined("this is not python (") == set()


def test_a_tests_visible_part_is_what_the_student_has():
    from autograder.safety.split import HIDDEN
    cell = ("x = 1\ncheck(x)\n### BEGIN HIDDEN TESTS\nsecret = 2\ncheck(secret)\n"
            "### END HIDDEN TESTS\nprint('done')\n")
    assert HIDDEN.sub("", cell) == "x = 1\ncheck(x)\nprint('done')\n"


# ---- between two real kernels: the session's socket ----------------------------------------------

@pytest.fixture
def student_kernel(tmp_path):
    """A plain IPython kernel (IPC transport in `tmp_path`) with the student's side of the bridge
    installed, and this process as the trusted side; `run(code)` runs student code in it."""
    from jupyter_client.manager import KernelManager
    from autograder.safety import trusted

    km = KernelManager(transport="ipc", ip=str(tmp_path / "kernel"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)

    def run(code):
        reply = kc.execute_interactive(code, silent=True, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]

    run(bridge.install_code())
    info = dict(km.get_connection_info())
    info["key"] = info["key"].decode()
    trusted.connect(info, km.provisioner.process.pid)

    def names(*wanted):
        found = {}
        trusted.bind(found, wanted)
        return [found[n] for n in wanted]

    yield SimpleNamespace(run=run, names=names, trusted=trusted)
    trusted.disconnect()
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_one_random_stream_across_kernels_cached_normal_draws_included(student_kernel):
    import random
    student_kernel.run("import numpy as np, random\n"
                       "def draws():\n"
                       "    return [np.random.randn(), random.gauss(0, 1), np.random.rand()]")
    draws, = student_kernel.names("draws")
    np.random.seed(4)
    random.seed(4)
    expected = [np.random.randn(), random.gauss(0, 1), np.random.rand(), np.random.randn(),
                random.gauss(0, 1), np.random.randn(), random.gauss(0, 1), np.random.rand()]
    np.random.seed(4)
    random.seed(4)
    # each side uses up a normal draw the other cached: only the whole state says so
    got = draws() + [np.random.randn(), random.gauss(0, 1)] + draws()
    assert got == expected


def test_a_student_function_that_closes_the_sessions_socket_fails_only_its_own_call(student_kernel):
    student_kernel.run(
        "import gc, socket\n"
        "def sabotage():\n"
        "    for s in [o for o in gc.get_objects() if isinstance(o, socket.socket)]:\n"
        "        s.close()\n"
        "    return 1\n"
        "def square(x):\n"
        "    return x * x\n")
    sabotage, square = student_kernel.names("sabotage", "square")
    assert square(3.0) == 9.0
    with pytest.raises(student_kernel.trusted.StudentKernelGone, match="closed the test's session"):
        sabotage()
    student_kernel.trusted.end()  # as after the test cell
    assert square(4.0) == 16.0  # the next test opens a new session


def test_a_message_too_long_is_refused_unread_and_the_next_call_opens_a_new_session(student_kernel):
    student_kernel.run(
        "import gc, socket, struct\n"
        "def flood():\n"
        "    for s in [o for o in gc.get_objects() if isinstance(o, socket.socket)]:\n"
        "        s.sendall(struct.pack('!Q', 2**40))\n"
        "    return 1\n"
        "def square(x):\n"
        "    return x * x\n")
    flood, square = student_kernel.names("flood", "square")
    with pytest.raises(bridge.BridgeError, match="refused"):
        flood()
    assert student_kernel.trusted.end()
    assert square(5.0) == 25.0


def test_the_wire_reassembles_messages_whatever_pieces_they_arrive_in():
    import socket
    import time
    left, right = socket.socketpair()
    with left, right:
        texts = ["{}", json.dumps({"k": "ok", "v": "é" * 5000}), "[1]"]
        data = b"".join(len(t.encode()).to_bytes(8, "big") + t.encode() for t in texts)
        sender = threading.Thread(target=lambda: [left.sendall(data[i:i + 7])  # 7 bytes a time
                                                  for i in range(0, len(data), 7)])
        sender.start()
        right.settimeout(0.05)
        wire = bridge.Wire(right)
        assert [wire.receive() for _ in texts] == texts
        sender.join()
        left.sendall(data[:5])  # a part of a message: kept for the next receive
        with pytest.raises(TimeoutError):
            wire.receive(deadline=time.monotonic() + 0.1)
        left.sendall(data[5:len(texts[0]) + 8])
        assert wire.receive() == texts[0]
        left.close()
        with pytest.raises(EOFError):
            wire.receive()
