"""The wire between the trusted kernel (hidden tests) and the student's kernel: data, never code.

Split execution (autograder/safety/split.py) runs the student's cells in the sandboxed student
kernel and the test cells in a trusted kernel. A test that calls `grad_quadratic(x)` calls a proxy:
the call travels to the student kernel as a message, the student's function runs there, and the
result comes back as a message. Both kernels run this same file: the trusted one imports it, the
student one receives its text (`SOURCE`) and runs it in a private namespace.

A message is JSON. A value in it is data (None, bool, int, float, str, and tagged tuples, lists,
dicts, sets, complex numbers, bytes, slices, numpy arrays and scalars of non-object dtypes, as raw
bytes) or a reference to an object that stays in the kernel that made it (`{"$": "h", "i": id}`):
the other side gets a `Remote` proxy whose attributes, calls and operators are forwarded as
messages. Nothing is pickled, evaluated or imported by name from a message; `decode` builds only
the types listed here, so the trusted side never runs a line the student wrote.

Every message also carries numpy's and Python's global random state when it changed since the
last message, so code that draws random numbers sees one random stream, as in one kernel.

The two kernels exchange messages over a Unix socket that the trusted side listens on in the
student kernel's private folder (`Wire`: each message a length and its UTF-8 JSON text).

Kinds of message: {"k": "req", "op": ..., ...} asks the other side to do something;
{"k": "ok", "v": value, "a": [arguments after the call]} and {"k": "err", "e": [exception type
names, most derived first], "m": message} answer it; {"k": "ready"} and {"k": "end"} open and close a
student kernel's session. While one side waits for an answer it serves the other's requests, so a
student's function may call back into the test (a reference gate, a `_backward` the test wrote)
to any depth.
"""
import builtins
import itertools
import operator
from base64 import b64decode as _b64decode, b64encode as _b64encode
from builtins import *  # noqa: F401,F403  (bound here: a student's later builtins.x = ... changes nothing)
from json import dumps as _dumps, loads as _loads
from random import getstate as _py_getstate, setstate as _py_setstate
from socket import AF_UNIX as _AF_UNIX, SOCK_STREAM as _SOCK_STREAM, socket as _socket
from struct import pack as _pack, unpack_from as _unpack_from
from sys import _getframe
from time import monotonic as _monotonic
from types import SimpleNamespace
from warnings import catch_warnings as _catch_warnings, simplefilter as _simplefilter, warn as _warn
from weakref import ref as _weakref

import numpy
from numpy.lib.array_utils import byte_bounds

# numpy as it was when this file ran: in the student's kernel that is before the student's first
# cell, so a later `np.frombuffer = ...` does not change what the bridge sends or receives
_np = SimpleNamespace(**{name: getattr(numpy, name) for name in (
    "array_equal", "ascontiguousarray", "copyto", "dtype", "errstate", "frombuffer", "generic",
    "geterr", "ndarray", "uint8", "uint16", "uint32", "uint64")}, get_state=numpy.random.get_state,
    set_state=numpy.random.set_state)


def _generator_bytes():
    """A function returning the raw state of numpy's global Mersenne Twister (its 624 keys and
    position, read in place: a fraction of a microsecond, where get_state() takes about 30), or
    None where numpy does not expose it."""
    try:
        from ctypes import string_at
        address = numpy.random.mtrand._rand._bit_generator.ctypes.state_address
        size = 624 * 4 + 4
        if _np.get_state()[1].tobytes() != string_at(address, size)[:624 * 4]:
            return None
        return lambda: string_at(address, size)
    except Exception:  # another numpy: the full comparison on every message
        return None


_generator_state = _generator_bytes()

BRIDGE_FILE = _getframe().f_code.co_filename  # "<course bridge>" in the student's kernel
DATA_KINDS = "biufcUS"  # numpy dtype kinds sent as raw bytes (never "O": objects)
OPERATORS = {  # operator name -> function; a proxy's dunder methods are forwarded as these
    name: getattr(operator, name) for name in (
        "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs",
        "invert", "lt", "le", "gt", "ge", "getitem", "setitem", "delitem", "contains",
        "and_", "or_", "xor", "lshift", "rshift")}
OPERATORS.update(len=len, truth=bool, repr=repr, str=str, format=format, hash=hash,
                 list=list, float=float, int=int, index=operator.index, complex=complex)
# what the trusted side answers for a student's object: no iteration of hidden internals, only
# the operators a value-like test object needs
TRUSTED_OPERATORS = frozenset(OPERATORS) - {"hash"}


MAX_WARNINGS = 20  # warnings one call passes on (a loop that warns a million times floods nothing)
NUMPY_ERROR_MODES = ("ignore", "warn", "raise", "call", "print", "log")
CALLER_FILES: list = []  # while a call from the other side runs: the files of its caller's frames


class BridgeError(Exception):
    """The other side broke the protocol (a malformed message, an unknown reference)."""


class StudentError(Exception):
    """The student's code raised something that is not one of Python's built-in exceptions."""


def builtin_exception(names):
    """The most derived of Python's built-in Exception classes among `names` (an exception's MRO
    names, most derived first); StudentError when none is one (BaseExceptions such as
    SystemExit and KeyboardInterrupt are reported, not re-raised)."""
    for name in names:
        kind = getattr(builtins, str(name), None)
        if isinstance(kind, type) and issubclass(kind, Exception) and kind is not Exception:
            return kind
    return StudentError


def builtin_warning(names):
    """The most derived of Python's built-in Warning classes among `names`; UserWarning else."""
    for name in names:
        kind = getattr(builtins, str(name), None)
        if isinstance(kind, type) and issubclass(kind, Warning):
            return kind
    return UserWarning


def _numpy_errors(state):
    """numpy's floating-point error modes sent with a request (_np.geterr() of the caller)."""
    if not isinstance(state, dict):
        return {}
    return {key: mode for key, mode in state.items()
            if key in ("divide", "over", "under", "invalid") and mode in NUMPY_ERROR_MODES}


def _caller_files():
    """The files of the frames that called into the bridge, nearest first, up to the bridge's
    own frames (own_work in course/checks.py judges who called a test's function)."""
    frame, files = _getframe(1), []
    while frame is not None and frame.f_code.co_filename == BRIDGE_FILE:
        frame = frame.f_back
    while frame is not None and frame.f_code.co_filename != BRIDGE_FILE and len(files) < 200:
        files.append(frame.f_code.co_filename)
        frame = frame.f_back
    return files


class Remote:
    """An object that lives in the other kernel. Attributes, calls and operators are forwarded;
    identity, == and hash are the remote object's identity (one proxy per remote object)."""

    __slots__ = ("_bridge_peer", "_bridge_id", "__weakref__")

    def __getattr__(self, name):
        return _peer(self).request({"op": "getattr", "t": _ref(self), "n": name})

    def __setattr__(self, name, value):
        _peer(self).request({"op": "setattr", "t": _ref(self), "n": name, "v": value})

    def __delattr__(self, name):
        _peer(self).request({"op": "delattr", "t": _ref(self), "n": name})

    def __call__(self, *args, **kwargs):
        return _peer(self).request({"op": "call", "t": _ref(self), "a": list(args), "kw": kwargs})

    def __instancecheck__(self, obj):
        if not isinstance(obj, Remote):
            return False
        return _peer(self).request({"op": "isinstance", "t": _ref(self), "a": [obj]})

    def __iter__(self):
        return iter(_op(self, "list", self))

    def __bool__(self):
        return _op(self, "truth", self)

    def __repr__(self):
        return _op(self, "repr", self)

    def __str__(self):
        return _op(self, "str", self)

    def __format__(self, spec):
        return _op(self, "format", self, spec)

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__
    __array_ufunc__ = None  # numpy refuses to compute with it (no silent object arrays)


def _peer(proxy):
    return object.__getattribute__(proxy, "_bridge_peer")


def _ref(proxy):
    return {"$": "r", "i": object.__getattribute__(proxy, "_bridge_id")}


def _op(proxy, name, *args):
    return _peer(proxy).request({"op": "op", "f": name, "a": list(args)})


def _forward(name, reflected=False):
    if reflected:
        def method(self, other):
            return _op(self, name, other, self)
    else:
        def method(self, *args):
            return _op(self, name, self, *args)
    method.__name__ = f"__{'r' if reflected else ''}{name.rstrip('_')}__"
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and_", "or_", "xor", "lshift", "rshift"):
    setattr(Remote, f"__{_name.rstrip('_')}__", _forward(_name))
    setattr(Remote, f"__r{_name.rstrip('_')}__", _forward(_name, reflected=True))
for _name in ("neg", "pos", "abs", "invert", "lt", "le", "gt", "ge", "getitem", "setitem",
              "delitem", "contains", "len", "float", "int", "index", "complex"):
    setattr(Remote, f"__{_name}__", _forward(_name))
del _name


class Peer:
    """One side of the wire. `send(message) -> the next message` is the transport; `trusted` is
    True in the trusted kernel, which answers only what a test object needs and never hands out
    its namespace."""

    def __init__(self, send, trusted, namespace=None):
        self._send = send
        self.trusted = trusted
        self.namespace = namespace  # the student's globals (student side only)
        self.exported = {}  # id -> object of this side the other side holds a reference to
        self.proxies = {}  # id of the other side's object -> its Remote proxy here
        self.proxy_types = {}  # remote type name -> Remote subclass of that name
        self._random = None  # the random state both sides last agreed on
        self._generator = self._py_random = None  # its quick look (`_random_unchanged`)
        self.prefix = "t" if trusted else "s"  # keys of the array pairs this side started
        self.mirrors = {}  # key -> [weakref to this side's array, its contents at the last sync]
        self._mirror_of = {}  # id(array) -> key
        self._counter = itertools.count()

    # ---- values -> JSON and back -------------------------------------------------------------
    def encode(self, value):
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if value == value and abs(value) != float("inf") else {"$": "f", "v": repr(value)}
        if kind is list:
            return [self.encode(v) for v in value]
        if kind is tuple:
            return {"$": "t", "v": [self.encode(v) for v in value]}
        if kind is dict:
            return {"$": "d", "v": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if kind in (set, frozenset):
            return {"$": "s" if kind is set else "fs", "v": [self.encode(v) for v in value]}
        if kind is complex:
            return {"$": "c", "v": [self.encode(value.real), self.encode(value.imag)]}
        if kind is bytes:
            return {"$": "b", "v": _b64encode(value).decode()}
        if kind is slice:
            return {"$": "sl", "v": [self.encode(value.start), self.encode(value.stop), self.encode(value.step)]}
        if value is Ellipsis:
            return {"$": "el"}
        if kind is _np.ndarray and value.dtype.kind in DATA_KINDS:
            return self._encode_array(value)
        if isinstance(value, _np.generic) and type(value).__module__ == "numpy" \
                and value.dtype.kind in DATA_KINDS:
            return {"$": "n", "d": value.dtype.str, "v": _b64encode(value.tobytes()).decode()}
        if isinstance(value, Remote) and _peer(value) is self:
            return {"$": "r", "i": object.__getattribute__(value, "_bridge_id")}
        self.exported[id(value)] = value
        return {"$": "h", "i": id(value), "c": _type_name(value)}

    def decode(self, item):
        if item is None or type(item) in (bool, int, str):
            return item
        if type(item) is float:
            return item
        if type(item) is list:
            return [self.decode(v) for v in item]
        if type(item) is not dict:
            raise BridgeError(f"not a value: {type(item).__name__}")
        tag = item.get("$")
        if tag == "a" or tag == "n":
            dtype = _np.dtype(str(item["d"]))
            if dtype.kind not in DATA_KINDS or dtype.hasobject:
                raise BridgeError(f"refused dtype {dtype}")
            raw = _b64decode(item["v"])
            if tag == "n":
                return _np.frombuffer(raw, dtype=dtype, count=1)[0]
            return self._decode_array(item, dtype, raw)
        if tag == "f":
            if item["v"] not in ("nan", "inf", "-inf"):
                raise BridgeError("bad float")
            return float(item["v"])
        if tag == "t":
            return tuple(self.decode(v) for v in item["v"])
        if tag == "d":
            return {self.decode(k): self.decode(v) for k, v in item["v"]}
        if tag == "s":
            return {self.decode(v) for v in item["v"]}
        if tag == "fs":
            return frozenset(self.decode(v) for v in item["v"])
        if tag == "c":
            return complex(float(self.decode(item["v"][0])), float(self.decode(item["v"][1])))
        if tag == "b":
            return _b64decode(item["v"])
        if tag == "sl":
            return slice(*(self.decode(v) for v in item["v"]))
        if tag == "el":
            return Ellipsis
        if tag == "r":  # one of ours, handed back
            try:
                return self.exported[int(item["i"])]
            except KeyError:
                raise BridgeError("a reference to an object this side never handed out") from None
        if tag == "h":  # one of theirs
            return self._proxy(int(item["i"]), str(item.get("c", "object")))
        raise BridgeError(f"unknown tag {tag!r}")

    def _proxy(self, remote_id, type_name):
        proxy = self.proxies.get(remote_id)
        if proxy is None:
            kind = self.proxy_types.get(type_name)
            if kind is None:
                name = type_name if type_name.isidentifier() else "Remote"
                # named after the student's type; its module says where it lives
                kind = self.proxy_types[type_name] = type(name, (Remote,), {
                    "__slots__": (), "__module__": "student's kernel"})
            proxy = object.__new__(kind)
            object.__setattr__(proxy, "_bridge_peer", self)
            object.__setattr__(proxy, "_bridge_id", remote_id)
            self.proxies[remote_id] = proxy
        return proxy

    # ---- arrays: one array on each side, kept equal --------------------------------------------
    # An array that crosses the wire becomes a pair: the sender's and the receiver's copy, under
    # one key. The same array sent again arrives as the same object; every message carries the
    # new contents of each pair changed since the last message, so a change made in place on one
    # side (an optimiser updating W, a function that modifies its input) is seen on the other.
    def _encode_array(self, value):
        key = self._mirror_key(value)
        item = {"$": "a", "m": key, "d": value.dtype.str, "s": list(value.shape),
                "v": _raw(value)}
        if not value.flags.writeable:
            item["w"] = False
        if key is None:
            view = self._view_of_mirror(value)
            if view:
                item["view"] = view
            item["m"] = self._register(value, self.prefix + str(next(self._counter)))
        return item

    def _mirror_key(self, value):
        key = self._mirror_of.get(id(value))
        if key is not None and key in self.mirrors and self.mirrors[key][0]() is value:
            return key
        return None

    def _register(self, array, key):
        self.mirrors[key] = [_weakref(array), array.copy()]
        self._mirror_of[id(array)] = key
        return key

    def _decode_array(self, item, dtype, raw):
        shape = tuple(int(n) for n in item["s"])
        data = _np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        key = str(item.get("m", ""))
        entry = self.mirrors.get(key)
        existing = entry[0]() if entry else None
        if existing is not None and existing.shape == shape and existing.dtype == dtype:
            _assign(existing, data)
            entry[1] = data
            return existing
        array = self._as_view(data, item["view"]) if "view" in item else data
        if item.get("w") is False:
            array.setflags(write=False)
        if key and not key.startswith(self.prefix):
            self._register(array, key)
        return array

    def _sync_out(self, message):
        """Add to `message` the new contents of every array pair changed on this side."""
        updates, dead = [], []
        for key, entry in self.mirrors.items():
            array = entry[0]()
            if array is None:
                dead.append(key)
            elif array.shape == entry[1].shape and not _same_bits(array, entry[1]):
                updates.append([key, _raw(array)])
                entry[1] = array.copy()
        for key in dead:
            del self.mirrors[key]
        if updates:
            message["sync"] = updates
        return message

    def _sync_in(self, message):
        for key, raw in message.get("sync", [])[:100000]:
            entry = self.mirrors.get(str(key))
            array = entry[0]() if entry else None
            if array is None:
                continue
            data = _np.frombuffer(_b64decode(raw), dtype=array.dtype)
            if data.size == array.size:
                data = data.reshape(array.shape)
                _assign(array, data)
                entry[1] = data.copy()

    def _view_of_mirror(self, array):
        """Where `array` lies inside an array of a pair, if it does (a function that returns a
        view of its input must do so on the other side too)."""
        if not array.size:
            return None
        low, high = byte_bounds(array)
        for key, entry in list(self.mirrors.items()):
            other = entry[0]()
            if other is not None and other.size and other.dtype == array.dtype:
                start, end = byte_bounds(other)
                if start <= low and high <= end:
                    return {"m": key, "o": array.ctypes.data - other.ctypes.data,
                            "st": list(array.strides)}
        return None

    def _as_view(self, copy, view):
        """`copy` as a view into this side's array of the pair `view["m"]`, when the other side
        says it is one and the view lies inside that array's memory; else `copy` itself."""
        entry = self.mirrors.get(str(view.get("m")))
        argument = entry[0]() if entry else None
        if type(argument) is not _np.ndarray or argument.dtype != copy.dtype:
            return copy
        try:
            root = argument
            while isinstance(root.base, _np.ndarray):
                root = root.base
            offset = argument.ctypes.data - root.ctypes.data + int(view["o"])
            # numpy checks that every element lies inside root's buffer
            result = _np.ndarray(copy.shape, copy.dtype, buffer=root, offset=offset,
                                strides=tuple(int(s) for s in view["st"]))
        except (TypeError, ValueError, KeyError, IndexError, BufferError):
            return copy
        low, high = byte_bounds(result)
        start, end = byte_bounds(argument)
        if low < start or high > end or not _same_bits(result, copy):
            return copy
        if not argument.flags.writeable:
            result.setflags(write=False)
        return result

    # ---- the shared random stream ------------------------------------------------------------
    # Looked at on every message (`_random_unchanged`, about a microsecond), compared whole only
    # when it may have changed, encoded only when it did.
    def _random_state(self):
        kind, keys, pos, has_gauss, gauss = _np.get_state()
        version, py_keys, py_gauss = _py_getstate()
        return (kind, keys.tobytes(), int(pos), int(has_gauss), float(gauss), py_keys, py_gauss)

    def _random_unchanged(self):
        """A quick look, true only when neither random state changed since `_note_random`: numpy's
        generator bytes and Python's whole state as noted, and numpy held no cached normal draw
        (one it can use up without drawing from the generator). Only a set_state() that changes
        nothing but that cache gets past it."""
        return (_generator_state is not None and self._random is not None
                and not self._random[3] and _generator_state() == self._generator
                and _py_getstate() == self._py_random)

    def _note_random(self, state):
        self._random = state
        if _generator_state is not None:
            self._generator, self._py_random = _generator_state(), _py_getstate()

    def _stamp(self, message):
        self._sync_out(message)
        if self._random_unchanged():
            return message
        state = self._random_state()
        if state != self._random:
            kind, keys, pos, has_gauss, gauss, py_keys, py_gauss = state
            message["rng"] = [kind, _b64encode(keys).decode(), pos, has_gauss, gauss,
                              list(py_keys), py_gauss]
        self._note_random(state)
        return message

    def _take_random(self, message):
        self._sync_in(message)
        state = message.get("rng")
        if state is None:
            return
        kind, keys, pos, has_gauss, gauss, py_keys, py_gauss = state
        _np.set_state((str(kind), _np.frombuffer(_b64decode(keys), dtype=_np.uint32),
                       int(pos), int(has_gauss), float(gauss)))
        _py_setstate((3, tuple(int(k) for k in py_keys),
                      None if py_gauss is None else float(py_gauss)))
        self._note_random(self._random_state())

    # ---- asking and answering ----------------------------------------------------------------
    def request(self, request):
        """Send a request; serve the other side's requests until its answer comes; return it."""
        request = dict(request, k="req", np=_np.geterr())
        if not self.trusted and request.get("op") == "call":
            request["stack"] = _caller_files()
        args = request.get("a")
        for key in ("a", "kw", "v"):
            if key in request:
                request[key] = self.encode(request[key])
        reply = self._send(self._stamp(request))
        return self._await(reply, args)

    def _await(self, reply, args):
        while True:
            if not isinstance(reply, dict):
                raise BridgeError("a message that is not an object")
            self._take_random(reply)
            if reply.get("k") != "req":
                break
            reply = self._send(self._stamp(self.answer(reply)))
        for names, message in list(reply.get("w", []))[:MAX_WARNINGS]:
            _warn(str(message), builtin_warning(names), stacklevel=4)
        if reply.get("k") == "ok":
            if args is not None and "a" in reply:
                for before, after in zip(args, self.decode(reply["a"])):
                    write_back(before, after)
            return self.decode(reply.get("v"))
        if reply.get("k") == "err":
            names = [str(n) for n in reply.get("e", [])][:32]
            kind = builtin_exception(names)
            message = str(reply.get("m", ""))
            if kind is StudentError and names:
                message = f"{names[0]}: {message}"
            raise kind(message)
        raise BridgeError(f"unexpected message {reply.get('k')!r}")

    def answer(self, request):
        """Do what the other side asked; the reply message (an exception becomes an "err")."""
        caught = []
        try:
            args = self.decode(request.get("a", []))
            global CALLER_FILES
            outer_files, CALLER_FILES = CALLER_FILES, [str(f) for f in request.get("stack", [])][:200]
            try:
                with _catch_warnings(record=True) as caught, \
                        _np.errstate(**_numpy_errors(request.get("np"))):
                    _simplefilter("always")
                    value = self._do(request, args)
            finally:
                CALLER_FILES = outer_files
            reply = {"k": "ok", "v": self.encode(value)}
            if request.get("op") in ("call", "op") and any(_mutable(a) for a in args):
                reply["a"] = self.encode(args)  # the arguments' state after the call
        except BaseException as error:  # the other side decides what a student's error means
            reply = {"k": "err", "e": [k.__name__ for k in type(error).__mro__], "m": _message(error)}
        if caught:
            reply["w"] = [[[k.__name__ for k in w.category.__mro__], _message(w.message)]
                          for w in caught[:MAX_WARNINGS]]
        return reply

    def _do(self, request, args):
        op = request.get("op")
        if op == "op":
            name = request.get("f")
            allowed = TRUSTED_OPERATORS if self.trusted else OPERATORS
            if name not in allowed:
                raise BridgeError(f"operator {name!r} refused")
            return OPERATORS[name](*args)
        if op == "lookup" and not self.trusted:
            return {name: self.namespace[name] for name in args if name in self.namespace}
        if op == "assign" and not self.trusted:
            self.namespace.update(self.decode(request["v"]))
            return None
        if op == "release":
            for key in args:
                self.exported.pop(int(key), None)
            return None
        target = self.decode(request.get("t"))
        if op == "call":
            kwargs = self.decode(request.get("kw", {"$": "d", "v": []}))
            return target(*args, **kwargs)
        name = str(request.get("n", ""))
        if self.trusted and name.startswith("_"):
            raise AttributeError(f"{name!r} is not available to the student's code")
        if op == "getattr":
            return getattr(target, name)
        if op == "setattr":
            return setattr(target, name, self.decode(request.get("v")))
        if op == "delattr":
            return delattr(target, name)
        if op == "isinstance":
            return isinstance(args[0], target)
        raise BridgeError(f"unknown request {op!r}")


def _same_bits(a, b):
    """Whether arrays `a` and `b` (one shape and dtype) hold the same bytes: compared as unsigned
    integers of their item size where both views can be made (ten times faster than comparing
    floats with equal_nan, on every message for every array pair), else as values."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    kind = _UNSIGNED.get(a.dtype.itemsize, _np.uint8)
    try:
        return bool(_np.array_equal(a.view(kind), b.view(kind)))
    except (ValueError, TypeError):  # not contiguous where the view needs it
        return bool(_np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


_UNSIGNED = {1: _np.uint8, 2: _np.uint16, 4: _np.uint32, 8: _np.uint64}


def _raw(array):
    return _b64encode(_np.ascontiguousarray(array).tobytes()).decode()


def _assign(array, data):
    """Give `array` the contents `data` in place (a read-only array of a pair too)."""
    if _same_bits(array, data):
        return
    if array.flags.writeable:
        _np.copyto(array, data)
    elif array.flags.owndata:
        array.setflags(write=True)
        _np.copyto(array, data)
        array.setflags(write=False)


def _mutable(value):
    return type(value) in (_np.ndarray, list, dict, set)


def write_back(before, after):
    """Make `before` (an argument of ours) hold `after` (its state after the other side's call):
    arrays are overwritten in place, containers refilled, so a function that changes its input in
    place does so here too."""
    if type(before) is _np.ndarray and type(after) is _np.ndarray:
        if before.shape == after.shape and before.dtype == after.dtype:
            if not _same_bits(before, after):
                before.setflags(write=True) if before.base is None and not before.flags.writeable else None
                _np.copyto(before, after)
    elif type(before) is list and type(after) is list:
        if len(before) == len(after):
            for i, (b, a) in enumerate(zip(before, after)):
                if _mutable(b) and type(b) is type(a):
                    write_back(b, a)
                elif b is not a:
                    before[i] = a
        else:
            before[:] = after
    elif type(before) is dict and type(after) is dict:
        for key in [k for k in before if k not in after]:
            del before[key]
        for key, a in after.items():
            b = before.get(key)
            if key in before and _mutable(b) and type(b) is type(a):
                write_back(b, a)
            else:
                before[key] = a
    elif type(before) is set and type(after) is set:
        if before != after:
            before.clear()
            before.update(after)


def _type_name(value):
    return type(value).__name__


def _message(error):
    try:
        return str(error)[:2000]
    except BaseException:  # a student's __str__ that raises
        return "(its message could not be read)"


FRAME_LIMIT = 2**28  # bytes one message may have: a longer one is refused, never buffered
_HEADER = 8  # bytes of a message's length, before its text


class Wire:
    """Messages as texts over a connected stream socket: each one its length (8 bytes, big-endian)
    then its UTF-8 text. `idle()` is called whenever the socket's timeout passes with no message
    complete (the trusted side checks there that the student's kernel still runs)."""

    def __init__(self, sock, idle=None):
        self.sock, self.idle, self.buffer = sock, idle, bytearray()

    def send(self, text):
        data = text.encode()
        self.sock.sendall(_pack("!Q", len(data)) + data)

    def receive(self, deadline=None):
        """The next message's text. EOFError when the other side closed the socket; TimeoutError
        at `deadline` (time.monotonic()) with no message complete (a part stays buffered)."""
        while True:
            if len(self.buffer) >= _HEADER:
                size = _unpack_from("!Q", self.buffer)[0]
                if size > FRAME_LIMIT:
                    raise BridgeError(f"a message of {size} bytes refused")
                if len(self.buffer) >= _HEADER + size:
                    text = bytes(self.buffer[_HEADER:_HEADER + size]).decode()
                    del self.buffer[:_HEADER + size]
                    return text
            try:
                chunk = self.sock.recv(1 << 18)
            except TimeoutError:
                if deadline is not None and _monotonic() >= deadline:
                    raise
                if self.idle is not None:
                    self.idle()
                continue
            if not chunk:
                raise EOFError("the other side closed the connection")
            self.buffer += chunk

    def ask(self, text):
        self.send(text)
        return self.receive()


_STUDENT_PEER = None  # in the student kernel: one peer for all sessions (its references live on)


def serve(ask, namespace, peer=None):
    """The student kernel's side of one session: answer the trusted side's requests until it says
    "end". `ask(text) -> text` sends a message and returns the other side's next one (`Wire.ask`
    in the kernel)."""
    global _STUDENT_PEER
    if peer is None:
        if _STUDENT_PEER is None:
            _STUDENT_PEER = Peer(None, trusted=False, namespace=namespace)
        peer = _STUDENT_PEER
    peer._send = lambda message: _loads(ask(_dumps(message)))
    message = peer._send(peer._stamp({"k": "ready"}))
    while message.get("k") == "req":
        peer._take_random(message)
        message = peer._send(peer._stamp(peer.answer(message)))


def install(namespace):
    """In the student's kernel, before the student's first cell: keep the kernel's namespace (a
    later cell that replaces get_ipython changes nothing here)."""
    global _NAMESPACE
    _NAMESPACE = namespace


def serve_at(path):
    """The student kernel's side of one session, over the Unix socket the trusted side listens on
    at `path` (in the kernel's private folder)."""
    with _socket(_AF_UNIX, _SOCK_STREAM) as sock:
        sock.connect(path)
        serve(Wire(sock).ask, _NAMESPACE)


_NAMESPACE = None


def _source() -> str:
    with open(__file__, encoding="utf-8") as source:
        return source.read()


def install_code() -> str:
    """What the grader runs in the student's kernel before its first cell: this file's text, run
    in a module of its own (`_course_bridge`), with the kernel's namespace kept."""
    return (
        "def _course_install(text):\n"
        "    import sys, types\n"
        "    module = types.ModuleType('_course_bridge')\n"
        "    exec(compile(text, '<course bridge>', 'exec'), module.__dict__)\n"
        "    sys.modules['_course_bridge'] = module\n"
        "    module.install(get_ipython().user_ns)\n"
        f"_course_install({_source()!r})\n"
        "del _course_install\n")


def session_code(path: str) -> str:
    """What the trusted side runs in the student kernel to open a session: `serve_at(path)`, with
    the namespace kept at install."""
    return ("import sys as _course_sys\n"
            "_course_bridge = _course_sys.modules['_course_bridge']\n"
            "del _course_sys\n"
            f"_course_bridge.serve_at({path!r})\n")
