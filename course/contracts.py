"""Contract checks: one hidden test cell per property of a graded function, on generated inputs.

A ``Contract`` states what a function promises (the inputs it accepts, a reference, which arguments
it leaves alone, the shapes and magnitudes it must handle); each ``check_*`` method then tries the
student's function on inputs generated from that statement (with Hypothesis) and, when a property
breaks, raises ``AssertionError`` naming the function, the property, and the smallest input found
that breaks it (Hypothesis shrinks the failing input). Like the rest of ``course.checks``, messages never
print the reference's values, only the input and the student's own output.

Example: the hidden test cells of ``softmax(x)``, ``x: (N, C)`` -> ``(N, C)``, rows summing to 1::

    # hidden cell 1: the contract, then its first property. Import the helpers here, not in the
    # setup cell (a student may well name a variable `labels` or `call`), and give the contract
    # and the reference names with a leading underscore, like every hidden oracle.
    from course.contracts import Contract, arrays

    def _ref_softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    _softmax_contract = Contract(
        "softmax", _ref_softmax,
        args={"x": arrays(("N", "C"), low=-3, high=3, stable=(-1e3, 1e3))},
        dims={"N": (1, 4), "C": (1, 6)},          # sizes drawn in these ranges (beyond the examples')
        edges=[{"N": 1}, {"N": 0}, {"C": 1}],     # one row, an empty batch, one class
    )
    _softmax_contract.check_values(softmax)        # matches the reference on generated inputs

    # hidden cell 2
    _softmax_contract.check_unchanged(softmax)     # x is not modified in place
    # hidden cell 3
    _softmax_contract.check_new_output(softmax)    # the result is a new array, not x or a view of x
    # hidden cell 4
    _softmax_contract.check_edges(softmax)         # N=1, N=0 and C=1 give the reference's shape and values
    # hidden cell 5
    _softmax_contract.check_stable(softmax)        # finite and right for x anywhere in [-1e3, 1e3]
    # hidden cell 6
    _softmax_contract.check_dtypes(softmax)        # float32 and int64 inputs give float results

A failure reads, for a softmax that subtracts the row minimum instead of the maximum::

    softmax(x): stable for inputs in the promised range: the output contains NaN at index (0, 1) ...
    Smallest input found that breaks it: x = array([[0.0, 710.0]])  (dims N=1, C=2)

What can be stated (``args`` maps each positional argument's name to one of these):

- ``arrays(shape, low, high, dtype=, stable=)``: a float64 array; ``shape`` holds ints and dimension
  names; ``stable=(lo, hi)`` is the range ``check_stable`` draws from instead of ``(low, high)``.
- ``labels(shape, classes="C")``: an int64 array of class indices in ``[0, C)``.
- ``numbers(low, high, integer=False)``: a Python float (or int); ``choices(values)``: one of them;
  ``fixed(value)``: always ``value`` (a function to pass, a large array).
- ``keyed({"W": arrays(...), "b": arrays(...), ...}, min_keys=1, group="params")``: a dict holding a
  drawn subset of these keys in a drawn order (names and orders beyond the examples'); dicts of the
  same ``group`` get the same keys in the same order (params and grads).
- plain dicts, lists and tuples of the above (a cache tuple, a dict of arrays), and
  ``instance(factory, W=arrays(...), ...)``: ``factory(W=..., ...)``, an object with array attributes.

``no_warnings=True`` makes a numpy warning in the student's code (overflow, division by 0, invalid
value) a failure, for contracts that promise "no warnings for large inputs".
``dims`` maps each dimension name to a size or an inclusive range ``(lo, hi)``; ``edges`` is a list of
dims overrides, each checked on its own. ``unchanged`` (default: every argument not in ``updated``)
names the arguments that must come back exactly as they went in (deep: arrays inside dicts, tuples,
objects' attributes). ``updated`` names arguments that the function changes in place: their new
content is judged against the reference's. The output is judged like ``check_array`` /
``check_scalar`` (``rtol``, ``atol``, ``factors``): a reference returning a number asks for a number, one
returning an array asks for a float64 array of its shape; tuples, lists and dicts are judged entry
by entry; a reference returning None means the output is not judged.

For objects that keep state across calls, a ``Protocol`` runs the same generated sequence of calls
on a fresh student object and on a fresh reference object, and judges every call::

    P = {"W": arrays(("D", "H")), "b": arrays(("H",)), "W2": arrays(("H", "H"))}
    momentum = Protocol("Momentum", lambda: _RefMomentum(lr=0.1, beta=0.9),
                        [call("update", {"params": keyed(P, group="p"), "grads": keyed(P, group="p")},
                              updated=["params"])],
                        dims={"D": (1, 3), "H": (1, 3)}, rounds=(2, 3))
    momentum.check_sequence(lambda: Momentum(lr=0.1, beta=0.9))      # one hidden cell
    momentum.check_fresh_object(lambda: Momentum(lr=0.1, beta=0.9))  # another

``check_sequence``: every call's output and ``updated`` arguments match the reference's, and the other
arguments stay unchanged, over 2-3 rounds in which a dict may gain keys first seen in a later call
and comes in another key order (a state made for the first call's keys, or read by position, fails;
so does a method that changes the object so that the next call goes wrong). ``check_fresh_object``:
a second object, made after a first one ran the sequence, gives what the first gave (no state
shared between objects through a class attribute or a mutable default argument). A round can hold
several calls, e.g. ``[call("forward", {"x": ...}), call("backward", {"dout": ...})]``.

Grading is deterministic (the same examples for every student: derandomised, no example database, no
deadline, no numbers taken from the source of loaded modules, nothing written to disk) and cheap:
``examples`` per property (default 10; an edge or a dtype gets a third or a half of them), about
0.02-0.03 s of CPU per passing property on a small function, and a failure's shrinking stops after
150 tries. The numpy and Hypothesis functions used here are captured at import (``course.checks``
imports this module, so a notebook's setup cell does it before any student code); the judge works on
plain float64 copies and never asks the student's objects to compare themselves; numpy's attributes
as imported are put back while the reference runs, and Hypothesis's while it runs; so a later
``np.array_equal = lambda *a: True`` or ``np.exp = ...`` changes no verdict. Student code runs with
numpy warnings off and its printing hidden. A mistake in the contract itself (a spec, a dims name,
a reference that raises) raises ValueError or the reference's error, not AssertionError.
"""
import contextlib as _contextlib
import importlib as _importlib
import io as _io
import math as _math
import warnings as _warnings
from types import SimpleNamespace as _NS

import numpy

import hypothesis as _hypothesis
from hypothesis import strategies as _strategies

# Snapshots taken at import: a student's later patch of numpy or Hypothesis cannot change a verdict.
_np = _NS(**{f: getattr(numpy, f) for f in """array bool_ empty errstate float32 float64 floating integer
    isfinite ndarray shares_memory""".split()})
_h = _NS(given=_hypothesis.given, settings=_hypothesis.settings, HealthCheck=_hypothesis.HealthCheck,
         Phase=_hypothesis.Phase, Verbosity=_hypothesis.Verbosity, data=_strategies.data,
         integers=_strategies.integers, floats=_strategies.floats, lists=_strategies.lists,
         permutations=_strategies.permutations, sampled_from=_strategies.sampled_from)
_health_checks = list(_hypothesis.HealthCheck)
# Hypothesis sometimes draws numbers written in the source of "local" modules (not site-packages), read
# from every such module loaded and cached in ./.hypothesis/: the examples would then depend on what
# the kernel has imported, and files would be written beside the notebook. The contract checks turn
# this off while they run (hypothesis is pinned in requirements.txt; tests/test_contracts.py checks it).
_providers = _importlib.import_module("hypothesis.internal.conjecture.providers")
_no_local_constants = _importlib.import_module("hypothesis.internal.constants_ast").Constants()
_phases = [_hypothesis.Phase.explicit, _hypothesis.Phase.generate, _hypothesis.Phase.shrink]
# Every public attribute of these modules as imported: a student's later `np.exp = ...` or
# `hypothesis.settings = ...` is undone while the reference runs (numpy) or while Hypothesis runs.
_genuine_numpy = [(numpy, {k: v for k, v in vars(numpy).items() if k[0] != "_"})]
_genuine_hypothesis = [(m, {k: v for k, v in vars(m).items() if k[0] != "_"}) for m in (_hypothesis, _strategies)]
_redirect_stdout, _redirect_stderr = _contextlib.redirect_stdout, _contextlib.redirect_stderr
_StringIO, _catch_warnings, _simplefilter = _io.StringIO, _warnings.catch_warnings, _warnings.simplefilter

__all__ = ["Contract", "Protocol", "call", "arrays", "labels", "numbers", "choices", "fixed", "keyed",
           "instance"]

_SHRINK_STEPS = 150  # examples tried while shrinking a failure, at most (bounds a failing check's cost)
_MAX_SHOWN = 400      # characters of one argument shown in a message
_MAX_ENTRIES = 1000   # entries of one generated array (Hypothesis draws each one: ~40 us apiece)


# --- what the generated inputs are made of ---------------------------------------------------------
# A spec draws a *plan* (plain Python data); a plan builds fresh numpy objects as often as needed:
# one for the student, one for the reference, one pristine copy to compare with.

class _Array:
    def __init__(self, shape, dtype, values):
        self.shape, self.dtype, self.values = shape, dtype, values

    def build(self, f64=False):
        dtype = _np.float64 if f64 and self.dtype != "int64" else self.dtype
        if not self.values:
            return _np.empty(self.shape, dtype=dtype)
        return _np.array(self.values, dtype=dtype).reshape(self.shape)

    def show(self):
        if not self.values:
            return f"an empty array of shape {self.shape}" + ("" if self.dtype == "float64" else f", {self.dtype}")
        text = repr(_np.array(self.values, dtype=_np.float64 if self.dtype != "int64" else self.dtype)
                    .reshape(self.shape).tolist())
        return f"array({_cut(text)}{'' if self.dtype == 'float64' else ', dtype=' + self.dtype})"


class _Value:
    def __init__(self, value):
        self.value = value

    def build(self, f64=False):
        v = self.value
        return _np.array(v, copy=True) if type(v) is _np.ndarray else v

    def show(self):
        return _cut(repr(self.value))


class _Container:
    def __init__(self, kind, items, factory=None):
        self.kind, self.items, self.factory = kind, items, factory  # items: [(key, plan)]

    def build(self, f64=False):
        built = [(k, p.build(f64)) for k, p in self.items]
        if self.kind == "dict":
            return dict(built)
        if self.kind == "instance":
            return self.factory(**dict(built))
        return (tuple if self.kind == "tuple" else list)(v for _, v in built)

    def show(self):
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {p.show()}" for k, p in self.items) + "}"
        if self.kind == "instance":
            name = getattr(self.factory, "__name__", "object")
            return f"{name}(" + ", ".join(f"{k}={p.show()}" for k, p in self.items) + ")"
        inner = ", ".join(p.show() for _, p in self.items)
        return f"({inner},)" if self.kind == "tuple" and len(self.items) == 1 else (
            f"({inner})" if self.kind == "tuple" else f"[{inner}]")


def _cut(text):
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + " ...]"


class _Context:
    """What one example shares between its arguments: the dims, the mode, the keys of each group."""

    def __init__(self, draw, dims, mode="values", dtype=None, pools=None):
        self.draw, self.dims, self.mode, self.dtype, self.groups = draw, dims, mode, dtype, {}
        self.pools = pools  # in a sequence of calls: {group: (every key in a drawn order, keys used so far)}


class _Spec:
    def plan(self, ctx):
        raise NotImplementedError


class _ArraySpec(_Spec):
    def __init__(self, shape, low, high, dtype, stable, cast):
        self.shape, self.low, self.high, self.dtype = tuple(shape), float(low), float(high), dtype
        self.stable, self.cast = stable, cast
        if not self.low <= self.high:
            raise ValueError(f"arrays: low {low} must not exceed high {high}")
        if stable is not None and not float(stable[0]) <= float(stable[1]):
            raise ValueError(f"arrays: stable range {stable} must be (lo, hi) with lo <= hi")

    def plan(self, ctx):
        shape = _shape(self.shape, ctx.dims)
        n = _math.prod(shape)
        if n > _MAX_ENTRIES:
            raise ValueError(f"arrays: shape {shape} has {n} entries; generated arrays hold at most "
                             f"{_MAX_ENTRIES} (hidden tests run in every grading: keep dims small, or "
                             "pass a large fixed array with fixed(...))")
        low, high = ((float(self.stable[0]), float(self.stable[1]))
                     if ctx.mode == "stable" and self.stable is not None else (self.low, self.high))
        dtype = ctx.dtype if ctx.dtype is not None and self.cast else self.dtype
        if dtype == "int64" and _math.ceil(low) > _math.floor(high):
            dtype = self.dtype  # no integer in the range: this argument stays float
        if dtype == "int64":
            elements = _h.integers(_math.ceil(low), _math.floor(high))
        else:
            elements = _h.floats(low, high, allow_nan=False, allow_infinity=False,
                                 width=32 if dtype == "float32" else 64)
        if not n:
            return _Array(shape, dtype, [])
        # How the entries are drawn; Hypothesis tries 0 first when it shrinks: 0 = all zeros (when the
        # range holds 0: one step to a simple input), 1-3 = each entry anywhere in the range. In the
        # stable mode also 4-6 = entries at the ends of the range and halfway to them (both signs:
        # rows spread wide, or all large of one sign), 7-9 = a large shared offset plus entries of
        # the usual range (rows of large entries close together, e.g. all near -1e3).
        kind = ctx.draw(_h.integers(0, 9))
        if kind == 0 and low <= 0 <= high:
            return _Array(shape, dtype, [0 if dtype == "int64" else 0.0] * n)
        if kind >= 4 and ctx.mode == "stable" and self.stable is not None and dtype != "int64":
            if kind <= 6:
                ends = _h.sampled_from([0.0, high, low, high / 2, low / 2, high * 0.75, low * 0.75])
                return _Array(shape, dtype, ctx.draw(_h.lists(ends, min_size=n, max_size=n)))
            offset = ctx.draw(_h.floats(low, high, allow_nan=False, allow_infinity=False))
            near = ctx.draw(_h.lists(_h.floats(self.low, self.high, allow_nan=False, allow_infinity=False),
                                     min_size=n, max_size=n))
            return _Array(shape, dtype, [min(high, max(low, offset + v)) for v in near])
        return _Array(shape, dtype, ctx.draw(_h.lists(elements, min_size=n, max_size=n)))


class _LabelSpec(_Spec):
    def __init__(self, shape, classes):
        self.shape, self.classes = tuple(shape), classes

    def plan(self, ctx):
        shape, c = _shape(self.shape, ctx.dims), _size(self.classes, ctx.dims)
        n = _math.prod(shape)
        if n and c < 1:
            raise ValueError(f"labels: {self.classes} = {c} classes, need at least 1")
        values = ctx.draw(_h.lists(_h.integers(0, c - 1), min_size=n, max_size=n)) if n else []
        return _Array(shape, "int64", values)


class _NumberSpec(_Spec):
    def __init__(self, low, high, integer):
        self.low, self.high, self.integer = low, high, integer

    def plan(self, ctx):
        if self.integer:
            return _Value(ctx.draw(_h.integers(int(self.low), int(self.high))))
        return _Value(ctx.draw(_h.floats(float(self.low), float(self.high), allow_nan=False,
                                          allow_infinity=False)))


class _ChoiceSpec(_Spec):
    def __init__(self, values):
        self.values = list(values)
        if not self.values:
            raise ValueError("choices: give at least one value")

    def plan(self, ctx):
        return _Value(self.values[ctx.draw(_h.integers(0, len(self.values) - 1))])


class _FixedSpec(_Spec):
    def __init__(self, value):
        self.value = value

    def plan(self, ctx):
        return _Value(self.value)


class _ContainerSpec(_Spec):
    def __init__(self, kind, items, factory=None):
        self.kind, self.items, self.factory = kind, items, factory

    def plan(self, ctx):
        return _Container(self.kind, [(k, s.plan(ctx)) for k, s in self.items], self.factory)


class _KeyedSpec(_Spec):
    def __init__(self, specs, min_keys, group):
        self.specs, self.min_keys, self.group = specs, min_keys, group
        if not 0 <= min_keys <= len(specs):
            raise ValueError(f"keyed: min_keys {min_keys} must be between 0 and {len(specs)}")

    def keys(self, ctx):
        """This example's keys (a subset, in a drawn order), shared by every dict of the same group."""
        group = self.group if self.group is not None else id(self)
        if group in ctx.groups:
            return ctx.groups[group]
        if ctx.pools is None:
            order = ctx.draw(_h.permutations(list(self.specs)))
            ctx.groups[group] = order[:ctx.draw(_h.integers(self.min_keys, len(order)))]
        else:  # a later call of a sequence: the same keys or more (first seen now), in another order
            pool, used = ctx.pools.get(group) or (ctx.draw(_h.permutations(list(self.specs))), self.min_keys)
            k = ctx.draw(_h.integers(used, len(pool)))
            ctx.pools[group] = (pool, k)
            ctx.groups[group] = ctx.draw(_h.permutations(pool[:k]))
        return ctx.groups[group]

    def plan(self, ctx):
        return _Container("dict", [(k, self.specs[k].plan(ctx)) for k in self.keys(ctx)])


def _spec(value):
    """A spec from a spec, or from a plain dict/list/tuple of specs; anything else is fixed(value)."""
    if isinstance(value, _Spec):
        return value
    if type(value) is dict:
        return _ContainerSpec("dict", [(k, _spec(v)) for k, v in value.items()])
    if type(value) in (list, tuple):
        return _ContainerSpec(type(value).__name__, [(i, _spec(v)) for i, v in enumerate(value)])
    return _FixedSpec(value)


def _dim_names(spec):
    """Every dimension name a spec (and the specs inside it) uses."""
    names = {n for n in getattr(spec, "shape", ()) if isinstance(n, str)}
    if isinstance(getattr(spec, "classes", None), str):
        names.add(spec.classes)
    for inner in [v for _, v in getattr(spec, "items", [])] + list(getattr(spec, "specs", {}).values()):
        names |= _dim_names(inner)
    return names


def _check_dims(specs, dims, where):
    missing = sorted(set().union(*[_dim_names(s) for s in specs]) - set(dims))
    if missing:
        raise ValueError(f"{where}: dimension(s) {missing} used in a shape but not given in dims")


def _size(n, dims):
    if isinstance(n, str):
        if n not in dims:
            raise ValueError(f"dimension {n!r} is not in the contract's dims {sorted(dims)}")
        return dims[n]
    return int(n)


def _shape(shape, dims):
    return tuple(_size(n, dims) for n in shape)


def arrays(shape, low=-1.0, high=1.0, *, dtype="float64", stable=None, cast=True):
    """A float64 array of `shape` (ints and dimension names), entries drawn in [low, high].

    stable=(lo, hi): the range check_stable draws from instead (magnitudes the contract promises to
    handle). cast=False keeps this argument float64 in check_dtypes. dtype="int64" draws integers.
    """
    if dtype not in ("float64", "float32", "int64"):
        raise ValueError(f"arrays: dtype must be 'float64', 'float32' or 'int64', not {dtype!r}")
    return _ArraySpec(shape, low, high, dtype, stable, cast)


def labels(shape, classes):
    """An int64 array of `shape` of class indices in [0, classes) (`classes`: an int or a dim name)."""
    return _LabelSpec(shape, classes)


def numbers(low, high, *, integer=False):
    """A single Python float (int if integer=True) drawn in [low, high]."""
    return _NumberSpec(low, high, integer)


def choices(values):
    """One of `values` (names, flags, small ints), drawn; shrinks towards the first."""
    return _ChoiceSpec(values)


def fixed(value):
    """Always `value` (an array is copied for every call)."""
    return _FixedSpec(value)


def keyed(specs, *, min_keys=1, group=None):
    """A dict with a drawn subset (at least `min_keys`) of the keys of `specs`, in a drawn order.

    Dicts with the same `group` name get the same keys in the same order in one call (params, grads).
    """
    return _KeyedSpec({k: _spec(v) for k, v in specs.items()}, min_keys, group)


def instance(factory, **fields):
    """factory(**fields) with each field drawn from its spec: an object whose attributes are arrays.

    The factory is the contract's own (types.SimpleNamespace, a reference class): the reference
    gets such an object too. To test a student's class, use a Protocol.
    """
    return _ContainerSpec("instance", [(k, _spec(v)) for k, v in fields.items()], factory)


# --- judging ------------------------------------------------------------------------------------------

def _describe_error(error):
    text = str(error)
    text = text if len(text) <= 200 else text[:200] + "..."
    hint = " (a numpy warning: the contract asks for none)" if type(error) is FloatingPointError else ""
    return f"raised {type(error).__name__}" + (f": {text}" if text else "") + hint


def _numpy_errors(no_warnings):
    """numpy's floating-point error handling while the student's code runs: ignored, or (for a
    contract that promises no warnings) raised, except underflow to 0, which is harmless."""
    return {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"} if no_warnings \
        else {"all": "ignore"}


def _judge(out, ref, label, rtol, atol, factors, f32=False):
    """None when the student's `out` matches the reference's `ref`, else what is wrong (no ref values)."""
    try:
        if ref is None:
            return None
        if type(ref) is _np.ndarray and ref.dtype.kind == "b":
            if type(out) is not _np.ndarray or out.dtype.kind != "b" or out.shape != ref.shape:
                what = f"a {out.dtype} array of shape {out.shape}" if type(out) is _np.ndarray else _a(out)
                return f"{label}: is {what}, expected a bool array of shape {ref.shape}"
            n = sum(1 for x, y in zip(out.reshape(-1).tolist(), ref.reshape(-1).tolist()) if x != y)
            return f"{label}: has {n} of {ref.size} entries wrong" if n else None
        if type(ref) is _np.ndarray and ref.dtype.kind in "iu":
            a = _as_array(out, label, shape=ref.shape, dtype_kind="i")
            n = sum(1 for x, y in zip(a.reshape(-1).tolist(), ref.reshape(-1).tolist()) if x != y)
            return f"{label}: has {n} of {ref.size} entries wrong" if n else None
        if type(ref) is _np.ndarray:
            if f32 and type(out) is _np.ndarray and out.dtype == _np.float32:
                out = _np.array(out, dtype=_np.float64)  # float32 in, float32 out is allowed
            _check_array(out, ref, label, rtol=rtol, atol=atol, factors=factors)
            return None
        if type(ref) in (tuple, list):
            if type(out) not in (tuple, list):
                return f"{label}: is a {type(out).__name__}, expected a {type(ref).__name__} of {len(ref)}"
            if len(out) != len(ref):
                return f"{label}: has {len(out)} entries, expected {len(ref)}"
            for i, (o, r) in enumerate(zip(out, ref)):
                problem = _judge(o, r, f"{label}[{i}]", rtol, atol, factors, f32)
                if problem:
                    return problem
            return None
        if type(ref) is dict:
            if type(out) is not dict:
                return f"{label}: is a {type(out).__name__}, expected a dict"
            missing = [k for k in ref if k not in out]
            extra = [k for k in out if k not in ref]
            if missing or extra:
                return f"{label}: keys missing {missing}, unexpected {extra}"
            for k in ref:
                problem = _judge(out[k], ref[k], f"{label}[{k!r}]", rtol, atol, factors, f32)
                if problem:
                    return problem
            return None
        if type(ref) is str:
            return None if type(out) is str and out == ref else f"{label}: is wrong (yours: {_cut(repr(out))})"
        if type(ref) is bool or isinstance(ref, _np.bool_):
            return None if type(out) in (bool, _np.bool_) and bool(out) == bool(ref) else f"{label}: is wrong"
        if type(ref) in (int, float) or isinstance(ref, (_np.floating, _np.integer)):
            if f32 and isinstance(out, _np.floating):
                out = float(out)
            _check_scalar(out, float(ref), label, rtol=rtol, atol=atol, factors=factors)
            return None
        raise TypeError(f"the reference returned {type(ref).__name__}, which a contract cannot judge")
    except AssertionError as error:
        return str(error)


def _arrays_in(value, path, seen=None):
    """[(path, ndarray)] for every numpy array inside `value` (dicts, lists, tuples, attributes)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, _np.ndarray):
        return [(path, value)]
    if isinstance(value, dict):
        return [a for k, v in list(value.items()) for a in _arrays_in(v, f"{path}[{k!r}]", seen)]
    if isinstance(value, (list, tuple)):
        return [a for i, v in enumerate(value) for a in _arrays_in(v, f"{path}[{i}]", seen)]
    attributes = getattr(value, "__dict__", None)
    if type(attributes) is dict and not callable(value):
        return [a for k, v in list(attributes.items()) for a in _arrays_in(v, f"{path}.{k}", seen)]
    return []


def _changed(before, after, path):
    """None if `after` (an argument after the call) deep-equals `before` (a pristine copy), else how not."""
    if type(before) is _np.ndarray:
        if type(after) is not _np.ndarray:
            return f"{path} was replaced by a {type(after).__name__}"
        if after.shape != before.shape:
            return f"{path} changed shape from {before.shape} to {after.shape}"
        if after.dtype != before.dtype:
            return f"{path} changed dtype from {before.dtype} to {after.dtype}"
        b, a = before.reshape(-1).tolist(), _np.array(after).reshape(-1).tolist()
        n = sum(1 for x, y in zip(b, a) if not (x == y or (x != x and y != y)))
        return f"{path} was modified in place ({n} of {len(b)} values changed)" if n else None
    if type(before) is dict:
        if type(after) is not dict:
            return f"{path} was replaced by a {type(after).__name__}"
        if set(before) != set(after):
            added = [k for k in after if k not in before]
            removed = [k for k in before if k not in after]
            return f"{path} was modified in place (keys added {added}, removed {removed})"
        for k in before:
            problem = _changed(before[k], after[k], f"{path}[{k!r}]")
            if problem:
                return problem
        return None
    if type(before) in (list, tuple):
        if type(after) is not type(before) or len(after) != len(before):
            return f"{path} was modified in place (its length or type changed)"
        for i, (b, a) in enumerate(zip(before, after)):
            problem = _changed(b, a, f"{path}[{i}]")
            if problem:
                return problem
        return None
    attributes = getattr(before, "__dict__", None)
    if type(attributes) is dict and not callable(before):  # an object: its attributes, not new ones
        theirs = getattr(after, "__dict__", None) if type(after) is type(before) else None
        if type(theirs) is not dict:
            return f"{path} was replaced by a {type(after).__name__}"
        for k, v in attributes.items():
            if k not in theirs:
                return f"{path} lost its attribute {k}"
            problem = _changed(v, theirs[k], f"{path}.{k}")
            if problem:
                return problem
        return None
    if type(before) in (int, float, str, bool, type(None)):
        return None if type(after) is type(before) and (after == before or before != before) else (
            f"{path} was changed")
    return None


# --- running a property -------------------------------------------------------------------------------

class _Failure(Exception):
    """Raised inside Hypothesis's test so that it shrinks; the message is kept outside."""


class _Stop(BaseException):
    """Raised inside Hypothesis's test to end shrinking: Hypothesis lets a BaseException through."""


def _quiet():
    """Student code runs without printing into the grading output and without numpy warnings."""
    stack = _contextlib.ExitStack()
    stack.enter_context(_redirect_stdout(_StringIO()))
    stack.enter_context(_redirect_stderr(_StringIO()))
    stack.enter_context(_catch_warnings())
    _simplefilter("ignore")
    stack.enter_context(_np.errstate(all="ignore"))
    return stack


@_contextlib.contextmanager
def _genuine(modules):
    """Within: the modules' attributes as they were at import; after: as the student left them."""
    changed = [(m, k, ours, m.__dict__.get(k, _missing)) for m, attrs in modules
               for k, ours in attrs.items() if m.__dict__.get(k, _missing) is not ours]
    for m, k, ours, _ in changed:
        setattr(m, k, ours)
    try:
        yield
    finally:
        for m, k, _, theirs in changed:
            if theirs is _missing:
                delattr(m, k)
            else:
                setattr(m, k, theirs)


_missing = object()


_constants_left = {}  # Hypothesis's cache of allowed constants as the last contract check left it


def _forget_constants_of_others():
    """Empty Hypothesis's cache of allowed constants if anything else filled it since the last check
    (it would hold local modules' constants); keep it otherwise (recomputing it costs ~10 ms)."""
    cache = _providers.CONSTANTS_CACHE.cache
    if len(cache) != len(_constants_left) or any(_constants_left.get(k, _missing) is not v
                                                 for k, v in cache.items()):
        cache.clear()


def _no_local_constants_now():
    return _no_local_constants


def _search(draw_example, judge, examples):
    """Run `judge(example)` (None or a problem) on up to `examples` generated examples; on a problem,
    let Hypothesis shrink it and return (smallest example, its problem); None when all pass."""
    state = {"shrinking": 0, "passed": 0, "failure": None}

    def body(data):
        if state["failure"] is not None:
            state["shrinking"] += 1
            if state["shrinking"] > _SHRINK_STEPS:
                raise _Stop()  # past Hypothesis's engine at once: the last failure is the smallest yet
        example = draw_example(data.draw)
        problem = judge(example)
        if problem is None:
            state["passed"] += 1
            return
        state["failure"] = (example, problem)
        raise _Failure()

    test = _h.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                       suppress_health_check=_health_checks, phases=_phases, print_blob=False,
                       report_multiple_bugs=False, verbosity=_h.Verbosity.quiet)(_h.given(_h.data())(body))
    saved = _providers._get_local_constants
    _providers._get_local_constants = _no_local_constants_now
    _forget_constants_of_others()
    with _quiet(), _genuine(_genuine_hypothesis):
        try:
            test()
        except (_Failure, _Stop):
            pass
        except Exception as error:  # the contract's own mistake (a spec, the reference), or Hypothesis's
            if state["failure"] is None:
                error.add_note("(raised while running a contract check: the contract or its reference is wrong)")
                raise
        finally:
            _providers._get_local_constants = saved
            _constants_left.clear()
            _constants_left.update(_providers.CONSTANTS_CACHE.cache)
    if state["failure"] is None and state["passed"] == 0:
        raise AssertionError("the contract check ran no example (was Hypothesis or numpy changed?)")
    return state["failure"]


class _Example:
    def __init__(self, dims, plans):
        self.dims, self.plans = dims, plans  # plans: [(arg name, plan)]

    def build(self, f64=False):
        return [p.build(f64) for _, p in self.plans]

    def show(self, named_dims):
        args = "; ".join(f"{name} = {p.show()}" for name, p in self.plans)
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items() if k in named_dims)
        return args + (f"  (dims {dims})" if dims else "")


def _dim_range(value, name):
    if type(value) is int:
        return value, value
    if type(value) in (tuple, list) and len(value) == 2 and all(type(v) is int for v in value):
        if not 0 <= value[0] <= value[1]:
            raise ValueError(f"dims[{name!r}] = {value}: need 0 <= lo <= hi")
        return tuple(value)
    raise ValueError(f"dims[{name!r}] must be an int or a (lo, hi) pair of ints, not {value!r}")


def _edge_words(edge):
    words = []
    for k, v in edge.items():
        note = " (an empty batch)" if v == 0 else " (a dimension of 1)" if v == 1 else ""
        words.append(f"{k}={v}{note}")
    return ", ".join(words)


class Contract:
    """The contract of a function `name(*args)`; each check_* method is one hidden test's property.

    name: the function's name in messages. reference: a correct implementation (same arguments).
    args: {argument name: spec} in positional order (see the module docstring for the specs).
    dims: {dimension name: size or (lo, hi)}. edges: list of dims overrides for check_edges.
    unchanged: names of arguments that must stay exactly as given (default: all not in `updated`).
    updated: names of arguments the function changes in place, judged against the reference's.
    dtypes: input dtypes for check_dtypes ("float32", "int64"). rtol, atol, factors: as check_array.
    examples: generated examples per property (kept small: hidden tests run in every grading).
    no_warnings: the contract promises no numpy warning (overflow, division by 0, invalid value;
    underflow to 0 is allowed): one is a failure of whichever property meets it.
    """

    def __init__(self, name, reference, args, *, dims=None, edges=(), unchanged=None, updated=(),
                 dtypes=("float32", "int64"), rtol=1e-6, atol=1e-9, factors=None, examples=10,
                 no_warnings=False):
        if type(args) is not dict or not args:
            raise ValueError("args must be a non-empty dict {argument name: spec}")
        self.name, self.reference = str(name), reference
        self.specs = {str(k): _spec(v) for k, v in args.items()}
        self.dims = {k: _dim_range(v, k) for k, v in (dims or {}).items()}
        self.edges = [dict(e) for e in edges]
        for edge in self.edges:
            for k, v in edge.items():
                if k not in self.dims or type(v) is not int or v < 0:
                    raise ValueError(f"edge {edge}: {k!r} must be one of dims {sorted(self.dims)}, size >= 0")
        self.updated = list(updated)
        self.unchanged = [k for k in self.specs if k not in self.updated] if unchanged is None else list(unchanged)
        for k in self.unchanged + self.updated:
            if k not in self.specs:
                raise ValueError(f"{k!r} is not an argument of {name} (args: {list(self.specs)})")
        for d in dtypes:
            if d not in ("float32", "int64"):
                raise ValueError(f"dtypes: {d!r} is not 'float32' or 'int64'")
        _check_dims(self.specs.values(), self.dims, f"the contract of {name}")
        self.dtypes, self.rtol, self.atol, self.factors = list(dtypes), rtol, atol, factors
        self.examples, self.no_warnings = int(examples), bool(no_warnings)
        self.used_dims = set().union(*[_dim_names(s) for s in self.specs.values()])
        self.call = f"{self.name}({', '.join(self.specs)})"

    # -- the properties --------------------------------------------------------------------------

    def check_values(self, f):
        """f matches the reference (output, and `updated` arguments) on inputs of every size in dims."""
        self._property(f, "matches the reference on generated inputs", self._judge_values)

    def check_unchanged(self, f):
        """f leaves the `unchanged` arguments exactly as they were (deep: dicts, tuples, attributes)."""
        if not self.unchanged:
            raise ValueError(f"the contract of {self.name} names no argument that must stay unchanged")
        self._property(f, "leaves its inputs unchanged", self._judge_unchanged)

    def check_new_output(self, f):
        """No array in f's output is an input array or a view of one (shares memory with it)."""
        self._property(f, "returns a new array", self._judge_new_output)

    def check_edges(self, f):
        """f matches the reference with each edge's dims (a dimension of 1, an empty batch, ...)."""
        if not self.edges:
            raise ValueError(f"the contract of {self.name} lists no edges")
        for edge in self.edges:
            self._property(f, f"edge shape {_edge_words(edge)}", self._judge_values, edge=edge,
                           examples=max(2, self.examples // 3))

    def check_stable(self, f):
        """f matches the reference (finite) on inputs drawn in the arguments' `stable` ranges."""
        if not any(isinstance(s, _ArraySpec) and s.stable is not None for s in self._all_specs()):
            raise ValueError(f"the contract of {self.name} gives no argument a stable=(lo, hi) range")
        self._property(f, "stable for inputs in the promised range", self._judge_values, mode="stable")

    def check_dtypes(self, f):
        """float32 and int64 inputs (the `dtypes`) give float results that match the reference."""
        if not self.dtypes:
            raise ValueError(f"the contract of {self.name} lists no dtypes")
        for dtype in self.dtypes:
            what = "float32 inputs" if dtype == "float32" else "integer (int64) inputs"
            self._property(f, f"accepts {what}", self._judge_values, dtype=dtype,
                           examples=max(2, self.examples // 2))

    # -- machinery ---------------------------------------------------------------------------------

    def _all_specs(self):
        found, todo = [], list(self.specs.values())
        while todo:
            s = todo.pop()
            found.append(s)
            todo += [v for _, v in getattr(s, "items", [])] + list(getattr(s, "specs", {}).values())
        return found

    def _property(self, f, prop, judge_example, *, edge=None, mode="values", dtype=None, examples=None):
        if not callable(f):
            raise AssertionError(f"{self.call}: is {type(f).__name__}, not a function: define {self.name}")
        ranges = {**self.dims, **{k: (v, v) for k, v in (edge or {}).items()}}

        def draw_example(draw):
            dims = {k: draw(_h.integers(lo, hi)) if lo < hi else lo for k, (lo, hi) in ranges.items()}
            ctx = _Context(draw, dims, mode, dtype)
            return _Example(dims, [(name, spec.plan(ctx)) for name, spec in self.specs.items()])

        found = _search(draw_example, lambda ex: judge_example(f, ex, dtype),
                        examples or self.examples)
        if found:
            example, problem = found
            raise AssertionError(f"{self.call}: {prop}: {problem}\n"
                                 f"Smallest input found that breaks it: {example.show(self.used_dims)}")

    def _run(self, f, example, f64=False):
        """(args as passed, output, None) or (args, None, problem) for a call of f on a fresh build."""
        args = example.build(f64)
        try:
            with _np.errstate(**_numpy_errors(self.no_warnings)):
                return args, f(*args), None
        except Exception as error:  # any failure of the student's code is this property's failure
            return args, None, _describe_error(error)

    def _reference(self, example):
        args = example.build(f64=True)
        with _np.errstate(all="ignore"), _genuine(_genuine_numpy):
            out = self.reference(*args)
        return args, out

    def _judge_values(self, f, example, dtype):
        args, out, problem = self._run(f, example)
        if problem:
            return problem
        ref_args, ref_out = self._reference(example)
        f32 = dtype == "float32"
        rtol, atol = (max(self.rtol, 1e-4), max(self.atol, 1e-5)) if f32 else (self.rtol, self.atol)
        problem = _judge(out, ref_out, "the output", rtol, atol, self.factors, f32)
        for i, name in enumerate(self.specs):
            if problem is None and name in self.updated:
                problem = _after(_judge(args[i], ref_args[i], name, rtol, atol, self.factors, f32), "the call")
        return _sentence(problem)

    def _judge_unchanged(self, f, example, dtype):
        args, out, problem = self._run(f, example)
        if problem:
            return problem
        pristine = example.build()
        for i, name in enumerate(self.specs):
            if name in self.unchanged:
                change = _changed(pristine[i], args[i], name)
                if change:
                    return (f"the input {change}: work on a copy ({name}.copy(), or "
                            f"{name} = {name} + ... instead of {name} += ...)")
        return None

    def _judge_new_output(self, f, example, dtype):
        args, out, problem = self._run(f, example)
        if problem:
            return problem
        inputs = [a for i, name in enumerate(self.specs) for a in _arrays_in(args[i], name)]
        for where, o in _arrays_in(out, "the output"):
            for name, a in inputs:
                if o is a:
                    return f"{where} is the input {name} itself: return a new array (e.g. {name}.copy())"
                if o.size and a.size and _np.shares_memory(o, a):
                    return (f"{where} shares memory with the input {name} (a view of it, e.g. a "
                            f"slice or .reshape): return a new array (e.g. .copy())")
        return None


def _sentence(problem):
    """"the output[1]: has shape ..." -> "the output[1] has shape ..." (check_array's "name: problem")."""
    if problem is not None and problem.startswith("the output"):
        label, colon, rest = problem.partition(": ")
        return f"{label} {rest}" if colon and " " not in label[len("the output"):] else problem
    return problem


def _after(problem, where):
    """"params['W']: not within ..." -> "after the call, params['W'] is not within ..." (or None)."""
    return None if problem is None else f"after {where}, " + problem.replace(": ", " ", 1)



# --- objects that keep state across calls -----------------------------------------------------------

class _Step:
    def __init__(self, method, args, updated, unchanged):
        self.method, self.updated = str(method), list(updated)
        self.specs = {str(k): _spec(v) for k, v in args.items()}
        self.unchanged = [k for k in self.specs if k not in self.updated] if unchanged is None else list(unchanged)
        for k in self.unchanged + self.updated:
            if k not in self.specs:
                raise ValueError(f"{k!r} is not an argument of {method} (args: {list(self.specs)})")


def call(method, args=None, *, updated=(), unchanged=None):
    """One call of a Protocol: obj.method(*args), args = {argument name: spec} in positional order.

    updated: arguments the method changes in place (judged against the reference's); unchanged
    (default: all others): arguments that must come back exactly as they went in.
    """
    return _Step(method, args or {}, updated, unchanged)


class _Sequence:
    def __init__(self, dims, calls):
        self.dims, self.calls = dims, calls  # calls: [(step, [(arg name, plan)])]

    def show(self, named_dims, upto=None):
        lines = []
        for i, (step, plans) in enumerate(self.calls[:upto]):
            args = ", ".join(f"{name}={p.show()}" for name, p in plans)
            lines.append(f"  call {i + 1}: obj.{step.method}({args})")
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items() if k in named_dims)
        return "\n".join(lines) + (f"\n  (dims {dims})" if dims else "")


def _plain(value):
    """A float64 copy of what the student's object returned, to compare a second object with; None
    for what cannot be compared (an object, a non-finite array)."""
    if type(value) is _np.ndarray and value.dtype.kind in "iuf":
        copy = _np.array(value, dtype=_np.float64)
        return copy if bool(_np.isfinite(copy).all()) else None
    if type(value) in (tuple, list):
        return type(value)(_plain(v) for v in value)
    if type(value) is dict:
        return {k: _plain(v) for k, v in value.items()}
    if type(value) in (int, float) and _math.isfinite(value):
        return float(value)
    if isinstance(value, (_np.floating, _np.integer)) and _math.isfinite(float(value)):
        return float(value)
    return None


class Protocol:
    """The contract of an object that keeps state across calls (an optimiser, a layer with a cache).

    name: the class's name in messages. reference: a function making a fresh reference object.
    calls: the calls of one round, e.g. [call("forward", {"x": ...}), call("backward", {"dout": ...})]
    or [call("update", {"params": keyed(P, group="p"), "grads": keyed(P, group="p")},
    updated=["params"])]; a sequence is `rounds` (lo, hi) rounds. A keyed group keeps its keys or
    gains new ones from one call to the next, in a new order each call; dims are drawn once per
    sequence. rtol, atol, factors: as check_array; examples: sequences per property; no_warnings:
    as Contract.
    """

    def __init__(self, name, reference, calls, *, dims=None, rounds=(2, 3), rtol=1e-6, atol=1e-9,
                 factors=None, examples=10, no_warnings=False):
        if not calls or not all(isinstance(c, _Step) for c in calls):
            raise ValueError("calls must be a non-empty list of call(method, args, ...)")
        self.name, self.reference, self.steps = str(name), reference, list(calls)
        self.dims = {k: _dim_range(v, k) for k, v in (dims or {}).items()}
        _check_dims([s for step in self.steps for s in step.specs.values()], self.dims, f"the protocol of {name}")
        self.rounds = _dim_range(rounds, "rounds")
        if self.rounds[0] < 1:
            raise ValueError("rounds: at least one round")
        self.rtol, self.atol, self.factors, self.examples = rtol, atol, factors, int(examples)
        self.no_warnings = bool(no_warnings)

    def check_sequence(self, make):
        """A fresh object from make() gives the reference's results (outputs, `updated` arguments)
        at every call of a generated sequence, and leaves the `unchanged` arguments alone."""
        self._property(make, "keeps the right state across a sequence of calls", self._judge_sequence)

    def check_fresh_object(self, make):
        """A second object from make(), after a first one ran a sequence, gives the same results as
        the first did: no state shared between objects (a class attribute, a default argument)."""
        self._property(make, "a second object starts fresh", self._judge_fresh)

    def _property(self, make, prop, judge):
        if not callable(make):
            raise AssertionError(f"{self.name}: is {type(make).__name__}, not a class or function")

        def draw_example(draw):
            dims = {k: draw(_h.integers(lo, hi)) if lo < hi else lo for k, (lo, hi) in self.dims.items()}
            lo, hi = self.rounds
            rounds = draw(_h.integers(lo, hi)) if lo < hi else lo
            pools, calls = {}, []
            for _ in range(rounds):
                for step in self.steps:
                    ctx = _Context(draw, dims, pools=pools)
                    calls.append((step, [(name, spec.plan(ctx)) for name, spec in step.specs.items()]))
            return _Sequence(dims, calls)

        state = {}

        def judge_example(seq):
            result = judge(make, seq)
            state["at"] = None if result is None else result[0]
            return None if result is None else result[1]

        found = _search(draw_example, judge_example, self.examples)
        if found:
            seq, problem = found
            with _quiet():
                again = judge(make, seq)  # the smallest sequence again, for the call it breaks at
            at = state.get("at")
            if again is None:
                problem += (" (this sequence passes on a fresh object when run alone: the result depends "
                            "on objects made before: is state shared between objects, e.g. a class attribute?)")
            raise AssertionError(f"{self.name}: {prop}: {problem}\n"
                                 f"Smallest sequence found that breaks it (obj = {self.name}() made fresh):\n"
                                 f"{seq.show(self.dims, at)}")

    def _run_sequence(self, obj, seq, expected, label):
        """Run seq on obj; expected: per call (output, {updated name: value}) to compare with, or a
        reference object to call alongside. (call index, problem) or None; also returns what obj gave."""
        gave, watched = [], []
        for i, (step, plans) in enumerate(seq.calls):
            args = [p.build() for _, p in plans]
            where = f"call {i + 1} ({step.method})"
            method = getattr(obj, step.method, None)
            if not callable(method):
                return (i + 1, f"{label} has no method {step.method}"), gave
            try:
                with _np.errstate(**_numpy_errors(self.no_warnings)):
                    out = method(*args)
            except Exception as error:
                return (i + 1, f"{where} {_describe_error(error)}"), gave
            names = list(step.specs)
            gave.append((out, {n: args[names.index(n)] for n in step.updated}))
            if type(expected) is list:  # what another object gave (nothing: not judged)
                ref_out, ref_updated = expected[i] if i < len(expected) else (None, dict.fromkeys(step.updated))
            else:
                ref_args = [p.build(f64=True) for _, p in plans]
                with _np.errstate(all="ignore"), _genuine(_genuine_numpy):
                    ref_out = getattr(expected, step.method)(*ref_args)
                ref_updated = {n: ref_args[names.index(n)] for n in step.updated}
            problem = _judge(out, ref_out, f"the output of {where}", self.rtol, self.atol, self.factors)
            for n in step.updated:
                problem = problem or _after(_judge(args[names.index(n)], ref_updated[n], n, self.rtol,
                                                   self.atol, self.factors), where)
            if type(expected) is not list:  # arguments given so far must stay as given, even later
                pristine = [p.build() for _, p in plans]
                watched += [(where, n, pristine[j], args[j]) for j, n in enumerate(names) if n in step.unchanged]
            for given_at, n, before, after in watched:
                change = problem is None and _changed(before, after, n)
                if change:
                    later = "" if given_at == where else f" during {where}"
                    problem = f"{given_at}: the input {change}{later}: work on a copy"
            if problem:
                return (i + 1, _sentence_at(problem, where)), gave
        return None, gave

    def _new(self, make, label):
        try:
            return make(), None
        except Exception as error:
            return None, (0, f"making the {label} object {_describe_error(error)}")

    def _judge_sequence(self, make, seq):
        obj, problem = self._new(make, "student's")
        if problem:
            return problem
        with _np.errstate(all="ignore"), _genuine(_genuine_numpy):
            reference = self.reference()
        return self._run_sequence(obj, seq, reference, "the object")[0]

    def _judge_fresh(self, make, seq):
        first, problem = self._new(make, "first")
        if problem:
            return problem
        _, gave = self._run_sequence(first, seq, [], "the first object")
        second, problem = self._new(make, "second")
        if problem:
            return problem
        expected = [(_plain(out), {n: _plain(v) for n, v in updated.items()}) for out, updated in gave]
        found, _ = self._run_sequence(second, _Sequence(seq.dims, seq.calls[:len(gave)]), expected,
                                      "the second object")
        if found:
            at, problem = found
            return at, (f"{problem} (the second object, given the same calls as the first, "
                        "does not give what the first gave: is state shared between objects, e.g. a "
                        "class attribute or a mutable default argument?)")
        return None


def _sentence_at(problem, where):
    """'the output of call 2 (update): has shape' -> 'the output of call 2 (update) has shape'."""
    prefix = f"the output of {where}: "
    return f"the output of {where} " + problem[len(prefix):] if problem.startswith(prefix) else problem


# At the end: course.checks imports this module at its own end, so either may be imported first.
from course.checks import _a, as_array as _as_array, check_array as _check_array  # noqa: E402
from course.checks import check_scalar as _check_scalar  # noqa: E402
