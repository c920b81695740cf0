"""Assertion helpers that the notebooks' visible and hidden tests call.

Every failing check raises ``AssertionError`` whose message starts with the ``name`` it was given
(e.g. ``"numerical_gradient(f, x): ..."``) and names the most likely mistake. Messages never print the
expected (oracle) values; they may print the student's own value and the size of the error.

Order of diagnosis in ``check_array`` (and ``check_scalar``, with scalar wording):

1. type: None, list, scalar instead of array, ndarray subclass or look-alike (only a plain
   ``numpy.ndarray`` passes); for scalars also bool, str, complex, arrays;
2. dtype (integer, float32, bool, object, ...), then shape (transpose, extra or missing axis of length 1);
3. NaN or inf in the student's value;
4. close enough, ``|actual - expected| <= atol + rtol*|expected|`` everywhere: pass;
5. if not even close at a loose tolerance (1e-4), a structural mistake: all zeros, the transpose
   (square 2-D), the sign flipped, scaled by or divided by 2 or a named factor;
6. otherwise: not within tolerance, with the worst entry's error and its index.

Only plain float64 copies are judged, the student's object is never asked to do anything (no methods,
no ``==``), and numpy errors are ignored while judging, so ``np.seterr(all="raise")`` cannot crash a check.
"""
from math import isfinite as _finite
from types import SimpleNamespace

import numpy

# A snapshot of the numpy functions used here, taken at import: a student's later
# `np.allclose = lambda *a, **k: True` (or np.abs, np.isfinite, ...) cannot change a verdict.
_np = SimpleNamespace(**{f: getattr(numpy, f) for f in """abs all any argmax array asarray bool_
    complexfloating count_nonzero dtype errstate float64 generic isfinite isnan max ndarray typecodes
    unravel_index where""".split()})

__all__ = ["as_array", "check_array", "check_scalar", "check_unchanged", "check_choice", "check_true",
           "own_work", "check_values", "argument_spy", "student_namespace",
           "Contract", "Protocol", "call", "arrays", "labels", "numbers", "choices", "fixed", "keyed",
           "instance"]

_REAL_SCALARS = frozenset([int, float] + [_np.dtype(c).type for c in _np.typecodes["AllInteger"] + "efdg"])
_LOOSE_RTOL = 1e-4  # tolerance at which a structural diagnosis (transpose, sign, factor) is claimed
_NONFINITE_HINT = "overflow? log(0)? 0/0?"


def _typename(value):
    """'list', 'numpy.float64', 'numpy.ma.MaskedArray': the type of `value`, for messages."""
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _a(value):
    """'a list', 'an int', 'a numpy.float64'."""
    word = _typename(value)
    return ("an " if word[0] in "aeiou" else "a ") + word


def _not_an_array(value, shape):
    """Why `value`, whose type is not exactly numpy.ndarray, is refused."""
    if value is None:
        return "returned None: did you forget `return`?"
    if type(value) in (list, tuple):
        return f"is {_a(value)}, not a numpy array: wrap it with np.array(...)"
    if type(value) in (int, float, bool, complex) or isinstance(value, _np.generic):
        if shape:
            return (f"is a scalar ({_typename(value)}), not a numpy array of shape {shape}; "
                    "did np.sum run over all axes? pass axis=...")
        return f"is a scalar ({_typename(value)}), not a numpy array"
    if isinstance(value, _np.ndarray):
        hint = " (np.matrix changes what * means: use np.array and @)" if "matrix" in _a(value) else ""
        return f"is {_a(value)}, an ndarray subclass, not a plain numpy array: return np.asarray(...){hint}"
    return f"is {_a(value)}, not a numpy array: return a numpy.ndarray (np.array(...))"


def _dtype_problem(dt, kind):
    """Why an array of dtype `dt` is refused when `kind` ("f", "i" or None) is asked; None if it is not."""
    if dt.kind == "O":
        return "has dtype object: the entries are not plain numbers (a ragged list, or a list of arrays?)"
    if dt.kind in "USV":
        return f"has dtype {dt}: expected numbers, not text"
    if dt.kind == "b":
        return "has dtype bool: expected numbers; convert with .astype(float)"
    if dt.kind == "c":
        return f"has complex dtype {dt}: expected real numbers"
    if dt.kind not in "iuf":
        return f"has dtype {dt}: expected numbers"
    if kind == "f" and dt.kind in "iu":
        return (f"has integer dtype {dt}: the values were truncated; did np.zeros_like copy the dtype of "
                "an integer input? (use np.zeros(x.shape) or x.astype(float))")
    if kind == "f" and dt.itemsize != 8:
        return f"has dtype {dt}: compute in float64"
    if kind == "i" and dt.kind == "f":
        return f"has float dtype {dt}: expected integers (e.g. .astype(int))"
    return None


def _shape_problem(got, want):
    """Message for an array of shape `got` where shape `want` is asked."""
    msg = f"has shape {got}, expected {want}"

    def one_more(longer, shorter):  # `longer` is `shorter` with one extra axis of length 1
        return len(longer) == len(shorter) + 1 and any(
            longer[i] == 1 and longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))

    if len(got) == 2 and got == want[::-1]:
        return f"{msg}: looks like the transpose (check .T and the order of the matrix product)"
    if one_more(got, want):
        return f"{msg}: it has an extra axis of length 1; return shape {want}"
    if one_more(want, got):
        return f"{msg}: it is missing an axis of length 1; return shape {want} (keepdims=True or .reshape)"
    if len(want) == 1 and got == (want[0], want[0]):
        return f"{msg}: a square matrix where a vector is asked (np.diag of the vector?)"
    if got == ():
        return f"{msg}: a single number; did np.sum run over all axes? pass axis=..."
    return msg


def as_array(value, name="result", *, shape=None, dtype_kind="f"):
    """Return a plain float64 copy of `value` after checking that it is a real numpy array.

    Only ``type(value) is numpy.ndarray`` passes. `shape` (a tuple), when given, must match exactly.
    `dtype_kind`: "f" asks for float64, "i" for integers, None accepts any integer or float dtype;
    the copy returned is float64 in every case.
    """
    if dtype_kind not in ("f", "i", None):
        raise ValueError(f"dtype_kind must be 'f', 'i' or None, not {dtype_kind!r}")
    want = None if shape is None else tuple(int(n) for n in shape)
    if type(value) is not _np.ndarray:
        raise AssertionError(f"{name}: {_not_an_array(value, want)}")
    problem = _dtype_problem(value.dtype, dtype_kind)
    if problem:
        raise AssertionError(f"{name}: {problem}")
    if want is not None and value.shape != want:
        raise AssertionError(f"{name}: {_shape_problem(value.shape, want)}")
    return _np.array(value, dtype=_np.float64, copy=True)


def _within(a, e, rtol, atol):
    """Elementwise |a - e| <= atol + rtol*|e| for plain float64 arrays (a bool array)."""
    return _np.abs(a - e) <= atol + rtol * _np.abs(e)


def _at(shape, flat_index):
    """' at index 3' or ' at index (1, 2)'; '' for a 0-d value."""
    if len(shape) == 0:
        return ""
    idx = tuple(int(i) for i in _np.unravel_index(flat_index, shape))
    return f" at index {idx[0] if len(idx) == 1 else idx}"


def _tolerance_message(a, e, ok, rtol, atol):
    """The worst entry's error (relative where rtol dominates there, else absolute), never e itself."""
    err, allowed = _np.abs(a - e), atol + rtol * _np.abs(e)
    k = int(_np.argmax(_np.where(ok, 0.0, err / allowed)))
    mine, err_k, e_k = float(a.flat[k]), float(err.flat[k]), abs(float(e.flat[k]))
    relative = rtol * e_k > atol
    if a.ndim == 0 and relative:
        return f"is {mine:.6g}, not within tolerance: relative error {err_k / e_k:.1e} (allowed {rtol:.2g})"
    if a.ndim == 0:
        return f"is {mine:.6g}, not within {atol:.2g} of the correct value"
    detail = (f"max relative error {err_k / e_k:.1e} (allowed {rtol:.2g})" if relative
              else f"absolute error {err_k:.1e} (allowed {atol:.2g})")
    n_off = a.size - int(_np.count_nonzero(ok))
    return (f"not within tolerance: {detail}{_at(a.shape, k)} "
            f"(your value there: {mine:.6g}; {n_off} of {a.size} entries off)")


def _factor_list(factors):
    """[(label, value)]: the named factors, then a factor 2 unless one of them is 2."""
    named = [(str(label), float(v)) for label, v in (factors or {}).items()]
    for label, v in named:
        if abs(v) in (0.0, 1.0) or not _finite(v):
            raise ValueError(f"factor {label!r} must be finite and not 0 or +-1, got {v}")
    return named + ([] if any(v == 2.0 for _, v in named) else [("a factor 2", 2.0)])


def _diagnose(a, e, rtol, atol, factors):
    """None when plain float64 arrays `a` (student) and `e` (oracle, same shape) agree, else the mistake."""
    bad = ~_np.isfinite(a)
    if _np.any(bad):
        k = int(_np.argmax(bad))
        what = "NaN" if _np.isnan(a.flat[k]) else "inf"
        if a.ndim == 0:
            return f"is {what.lower()}: {_NONFINITE_HINT}"
        n_bad = int(_np.count_nonzero(bad))
        return f"contains {what}{_at(a.shape, k)} ({n_bad} of {a.size} entries not finite): {_NONFINITE_HINT}"
    ok = _within(a, e, rtol, atol)
    if _np.all(ok):
        return None

    def like(candidate):  # finite, and within the loose tolerance of `a` everywhere
        return bool(_np.all(_np.isfinite(candidate)) and _np.all(_within(a, candidate, loose, atol)))

    loose = max(rtol, _LOOSE_RTOL)
    if not like(e):  # close at the loose tolerance means a precision problem, not a structural one
        if a.ndim > 0 and not _np.any(a):
            return "is all zeros: was it never filled in?"
        if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and like(e.T):
            return "looks like the transpose of the correct result (check .T and the order of the product)"
        if like(-e):
            return "has the sign flipped: a missing minus, or a subtraction in the wrong order?"
        for label, f in _factor_list(factors):
            if like(e * f):
                return f"looks scaled by {label} (a missing division by it?)"
            if like(e / f):
                return f"looks divided by {label} (one division by it too many?)"
    return _tolerance_message(a, e, ok, rtol, atol)


def _expected(expected):
    e = _np.asarray(expected, dtype=_np.float64)
    if not _np.all(_np.isfinite(e)):
        raise ValueError("the expected value must be finite")
    return e


def check_array(actual, expected, name="result", *, rtol=1e-7, atol=1e-12, factors=None):
    """Assert `actual` (student) is a float64 ndarray of expected's shape, close to `expected` (oracle).

    `factors` maps a human name to a number, e.g. {"the batch size 7": 7, "h": 1e-4}, to diagnose
    a result scaled by (actual ~ f*expected) or divided by (actual ~ expected/f) that number.
    """
    e = _expected(expected)
    a = as_array(actual, name, shape=e.shape)
    with _np.errstate(all="ignore"):
        problem = _diagnose(a, e, rtol, atol, factors)
    if problem:
        raise AssertionError(f"{name}: {problem}")


def _not_a_number(value, name):
    """Why `value` is refused where a single real number is asked; None if it is not."""
    if value is None:
        called = name.endswith(")")  # "loss(x)" names a call, "rate_at_1" a variable
        return "returned None: did you forget `return`?" if called else "is None: assign your answer"
    if type(value) in (bool, _np.bool_):
        return "is a bool (True/False), not a number"
    if isinstance(value, str):
        return "is a string: write the number, not text"
    if isinstance(value, (complex, _np.complexfloating)):
        return "is complex: expected a real number"
    if type(value) in (list, tuple):
        return f"is {_a(value)}, expected a single number"
    if type(value) is _np.ndarray and value.size == 1:
        return "is a numpy array; return a Python float, e.g. float(value)"
    if isinstance(value, _np.ndarray):
        return f"is a numpy array of shape {value.shape}, expected a single number"
    if type(value) not in _REAL_SCALARS:
        return f"is {_a(value)}, expected a number (int or float)"
    return None


def check_scalar(actual, expected, name="result", *, rtol=1e-7, atol=1e-12, factors=None):
    """Assert `actual` is a single real number (int, float, numpy real scalar) close to `expected`.

    `expected` is a number or a size-1 array. For hand-computed answers pass a loose atol, e.g.
    atol=0.01 for "rounded to 2 decimals". `factors` as in check_array.
    """
    e = _expected(expected)
    if e.size != 1:
        raise ValueError(f"expected must be a single number, got shape {e.shape}")
    problem = _not_a_number(actual, name)
    if problem is None:
        try:
            a = _np.array(float(actual), dtype=_np.float64)
        except OverflowError:
            problem = "is too large to be a float"
        else:
            with _np.errstate(all="ignore"):
                problem = _diagnose(a, e.reshape(()), rtol, atol, factors)
    if problem:
        raise AssertionError(f"{name}: {problem}")


def check_unchanged(before, after, name="x"):
    """Assert `after` (the input object after the student's call) still equals `before` (a copy).

    Shape, dtype and every value must be the same; NaN equals NaN.
    """
    b, a = _np.asarray(before), _np.asarray(after)
    if a.shape != b.shape:
        change = f"its shape changed from {b.shape} to {a.shape}"
    elif a.dtype != b.dtype:
        change = f"its dtype changed from {b.dtype} to {a.dtype}"
    else:
        changed = a != b
        if a.dtype.kind in "fc":
            changed &= ~(_np.isnan(a) & _np.isnan(b))
        n = int(_np.count_nonzero(changed))
        change = f"{n} of {a.size} values changed" if n else None
        if n and a.dtype.kind == "f":
            with _np.errstate(all="ignore"):
                moved, scale = _np.abs(a - b)[changed], max(1.0, float(_np.max(_np.abs(b[changed]))))
                if _np.all(_np.isfinite(moved)) and _np.max(moved) <= 1e-12 * scale:
                    change += ", by round-off only: put back the saved value instead of subtracting h"
    if change:
        raise AssertionError(f"the input {name} was modified in place ({change}): "
                             f"work on a copy ({name}.copy()) or restore it after perturbing")


def _letter(text):
    """'(B) ' -> 'b': case, whitespace, brackets, quotes and a trailing dot removed (str's own methods)."""
    return str.lower(str.strip(text, "()[].'\" \t\n"))


def check_choice(answer, correct, options, name="answer"):
    """Assert the multiple-choice `answer` (e.g. "(B) ") is the letter `correct` among `options` ("abcd")."""
    allowed = [str.lower(c) for c in options]
    if _letter(correct) not in allowed:
        raise ValueError(f"correct answer {correct!r} is not among the options {options!r}")
    example = f'e.g. {name} = "{allowed[0]}"'
    if answer is None:
        raise AssertionError(f"{name}: is None: assign one letter, {example}")
    if not issubclass(type(answer), str):
        raise AssertionError(f"{name}: is {_a(answer)}, not a string: write the letter in quotes, {example}")
    letter = _letter(answer)
    if letter not in allowed:
        got = str.__str__(answer)[:40]
        raise AssertionError(f"{name}: must be one of {', '.join(allowed)} (got {got!r})")
    if letter != _letter(correct):
        raise AssertionError(f"{name}: is not the right choice: reread the question and each option")


def check_true(condition, message):
    """Raise AssertionError(message) unless `condition` is True: a bool or numpy bool, not just truthy."""
    if not (type(condition) in (bool, _np.bool_) and condition):
        raise AssertionError(message)


# --- exercises that must do the work themselves -----------------------------------------------------

_COURSE_DIR = __file__.rsplit("/", 1)[0] + "/"


def _library_frame(filename):
    """The module a frame's file belongs to when it is the course package or a third-party package
    other than numpy ('course/gradcheck.py', 'scipy/optimize/_numdiff.py'); None for anything else
    (the student's notebook, the standard library, numpy)."""
    if filename.startswith(_COURSE_DIR):
        return "course/" + filename[len(_COURSE_DIR):]
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in filename:
            inside = filename.split(marker, 1)[1]
            return None if inside.startswith("numpy/") else inside
    return None


def _remote_callers():
    """When the grader runs this test in a trusted kernel and the student's code (in its own
    kernel) called `f` through the grader's bridge: the files of the student's frames that made
    the call. Empty when the test shares the student's kernel."""
    import sys
    bridge = sys.modules.get("autograder.safety.bridge")
    return list(getattr(bridge, "CALLER_FILES", []) or [])


def student_namespace(own_globals):
    """The global names the student's code runs with, for a test that puts something into the
    student's world while it runs (a reference gate the student's XOR must call).

    `own_globals` is the test cell's globals(): the student's own when tests share the student's
    kernel. When the grader runs tests in a trusted kernel (autograder/safety/split.py), a mapping
    of the student kernel's names instead: reading gives the student's value or a proxy,
    `update`/item assignment sends data, and functions of the test as callbacks that run here.
    """
    import sys
    trusted = sys.modules.get("autograder.safety.trusted")
    if trusted is not None and trusted.connected():
        return trusted.student_globals()
    return own_globals


def own_work(f, name):
    """Wrap a test's function `f` so that it refuses to be called by a library doing the exercise.

    An exercise such as "write a numerical gradient" must not earn its points by handing `f` to
    course.gradcheck (or any installed package other than numpy). The wrapper looks at the frames
    between the call and the test that made it (the nearest frame of the test's file): if one of them belongs to the course package or to a
    third-party package, it raises AssertionError naming that module. Calls from the student's own
    code, the standard library and numpy pass through to `f` unchanged.
    """
    import sys  # only here: the frames are read, never changed
    # The test's file: IPython runs a cell's statements as separate code objects, all in one file.
    home = sys._getframe(1).f_code.co_filename

    def guarded(*args, **kwargs):
        frame, chain = sys._getframe(1), []
        while frame is not None and frame.f_code.co_filename != home:
            chain.append(frame.f_code.co_filename)
            frame = frame.f_back
        if frame is not None:
            for filename in chain + _remote_callers():
                where = _library_frame(filename)
                if where:
                    raise AssertionError(
                        f"{name}: the function you were given was called from {where}: this exercise "
                        "asks you to compute the differences yourself, not to call course.gradcheck "
                        "or another library that does the work")
        return f(*args, **kwargs)

    return guarded


# --- values judged apart from the shape -------------------------------------------------------------

def check_values(actual, expected, name="result", *, rtol=1e-7, atol=1e-12, factors=None):
    """Assert the VALUES of `actual` are right, forgiving a layout slip that a separate shape test judges.

    So that one mistake costs one property's points: an array with expected's entries in another
    layout (the transpose of a 2-D result, extra or missing axes of length 1), a
    square matrix whose diagonal is the expected vector and whose other entries are 0 (np.diag of the
    answer), the vector of the diagonal where a diagonal matrix is expected, or a single number equal
    to the sum of the expected entries (summed over every axis) is judged on its values. Anything
    else is judged by check_array, shape included.
    """
    e = _expected(expected)
    kw = {"rtol": rtol, "atol": atol, "factors": factors}
    if e.ndim == 0 or (type(actual) is _np.ndarray and actual.shape == e.shape):
        return check_array(actual, e, name, **kw)
    if type(actual) is _np.ndarray and _dtype_problem(actual.dtype, "f") is None:
        a = _np.array(actual, dtype=_np.float64, copy=True)
        squeezed = tuple(n for n in a.shape if n != 1) == tuple(n for n in e.shape if n != 1)
        transposed = a.ndim == 2 and e.ndim == 2 and a.shape == e.shape[::-1]
        if a.size > 1 and (transposed or squeezed):
            layout = a.T if transposed else a.reshape(e.shape)
            return check_array(layout, e, f"{name} (values, whatever the layout)", **kw)
        if e.ndim == 1 and a.shape == (e.size, e.size):
            diagonal = _np.array([[e[i] if i == j else 0.0 for j in range(e.size)] for i in range(e.size)])
            return check_array(a, diagonal, f"{name} (values of the diagonal matrix)", **kw)
        square = e.ndim == 2 and e.shape[0] == e.shape[1]
        off_diagonal_zero = square and all(e[i, j] == 0 for i in range(e.shape[0])
                                           for j in range(e.shape[1]) if i != j)
        if off_diagonal_zero and a.shape == (e.shape[0],):
            return check_array(a, _np.array([e[i, i] for i in range(e.shape[0])]),
                               f"{name} (values of the diagonal)", **kw)
        if a.size == 1 and e.size > 1:
            return check_scalar(float(a.reshape(-1)[0]), e.sum(), f"{name} (a single number: the sum)", **kw)
    if e.size > 1 and _not_a_number(actual, name) is None:
        return check_scalar(actual, e.sum(), f"{name} (a single number: the sum)", **kw)
    return check_array(actual, e, name, **kw)


# --- what a function passed to the student's code is called with --------------------------------------

def argument_spy(f, expected, wrong, name, *, forgive=False):
    """A stand-in for `f` (a function a test passes to the student's code) that watches its argument.

    expected: (description, array), the argument f should get, e.g. ("z = Wx + b", z).
    wrong: {description: array}, arguments that are a known mistake, e.g. {"h = f(z)": h}.
    A call whose argument equals one of `wrong` (same shape, same values; or, for a single number as a
    loop passes, an entry of a wrong array that is no entry of the expected one) raises AssertionError
    "<name>: the function was called on <wrong description> ...", unless forgive=True: then it returns
    f(expected array), so that a test of another property (a shape, an input left unchanged) can judge
    that property alone. Every other call is passed to f unchanged.
    """
    label, target = expected
    target = _np.array(target, dtype=_np.float64, copy=True)
    mistakes = [(str(d), _np.array(a, dtype=_np.float64, copy=True)) for d, a in wrong.items()]

    def same(v, a):
        return v.shape == a.shape and bool(_np.all(_np.abs(v - a) <= 1e-12 + 1e-9 * _np.abs(a)))

    def entry_of(v, a):  # a single number that is one of a's entries
        return bool(_np.any(_np.abs(a - v) <= 1e-12 + 1e-9 * _np.abs(a)))

    def matches(seen, a):
        if seen.ndim == 0 and a.ndim > 0:
            return entry_of(seen, a) and not entry_of(seen, target)
        return same(seen, a)

    def spy(v, *args, **kwargs):
        try:
            seen = _np.array(v, dtype=_np.float64)
        except (TypeError, ValueError):
            return f(v, *args, **kwargs)
        if not same(seen, target):
            for description, a in mistakes:
                if matches(seen, a):
                    if forgive and seen.ndim == 0 and a.shape == target.shape:  # the entry at z's place
                        return f(target.flat[int(_np.argmax(-_np.abs(a - seen).reshape(-1)))], *args, **kwargs)
                    if forgive:
                        return f(target.copy(), *args, **kwargs)
                    raise AssertionError(f"{name}: the derivative was evaluated at {description}; "
                                         f"evaluate it at {label}")
        return f(v, *args, **kwargs)

    return spy


# Contract checks (course/contracts.py), imported here so that a notebook's setup cell captures them.
from course.contracts import (Contract, Protocol, arrays, call, choices, fixed, instance,  # noqa: E402
                              keyed, labels, numbers)
