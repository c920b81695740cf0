"""Assertion helpers that the notebooks' visible and hidden tests call.

Every failing check raises ``AssertionError`` whose message starts with the ``name`` it was given
(e.g. ``"numerical_gradient(f, x): ..."``) and names the most likely mistake. Messages never print the
expected (oracle) values; they may print the student's own value and the size of the error.

Order of diagnosis in ``check_array`` / ``check_scalar``:

1. type: None, list, scalar-instead-of-array, ndarray subclass or look-alike, str, bool, complex...;
2. dtype (integer, float32, bool, object...) and shape (transpose, extra or missing axis of length 1);
3. NaN or inf in the student's value;
4. close enough (``|actual - expected| <= atol + rtol*|expected|`` everywhere): pass;
5. if the value is not even close at a loose tolerance, look for a structural mistake: all zeros,
   the transpose (square 2-D), the sign flipped, scaled by or divided by 2 or a named factor;
6. otherwise: not within tolerance, with the worst entry's error and where it is.

Only plain float64 copies are judged, and the numpy functions used are bound at import, so a student
who later monkeypatches numpy (``np.allclose = lambda *a, **k: True``) or calls ``np.seterr`` cannot
change a verdict.
"""
from math import isfinite as _finite

from numpy import absolute as _abs, add as _add, all as _all, any as _any, argmax as _argmax
from numpy import array as _array, asarray as _asarray, bool_ as _npbool, complexfloating as _complex
from numpy import count_nonzero as _count, divide as _divide, dtype as _dtype, equal as _equal
from numpy import errstate as _errstate, float64 as _float64, generic as _generic, isfinite as _isfinite
from numpy import isnan as _isnan, less_equal as _less_equal, logical_and as _and, logical_not as _not
from numpy import logical_or as _or, max as _max, multiply as _mul, ndarray as _ndarray
from numpy import negative as _neg, subtract as _sub, typecodes as _typecodes
from numpy import unravel_index as _unravel, where as _where

__all__ = ["as_array", "check_array", "check_scalar", "check_unchanged", "check_choice", "check_true"]

_REAL_SCALARS = frozenset([int, float] + [_dtype(c).type for c in _typecodes["AllInteger"] + "efdg"])
_LOOSE_RTOL = 1e-4  # structural diagnoses (transpose, sign, factor) match at this tolerance
_NONFINITE_HINT = "overflow? log(0)? 0/0?"


def _typename(value):
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _not_an_array(value, shape):
    """Why `value` (whose type is not exactly numpy.ndarray) is refused."""
    if value is None:
        return "returned None: did you forget `return`?"
    if type(value) in (list, tuple):
        return f"is a {type(value).__name__}, not a numpy array: wrap it with np.array(...)"
    if type(value) in (int, float, bool, complex) or isinstance(value, _generic):
        wanted = f" of shape {shape}" if shape else ""
        hint = "; did np.sum run over all axes? pass axis=..." if shape else ""
        return f"is a scalar ({_typename(value)}), not a numpy array{wanted}{hint}"
    if isinstance(value, _ndarray):
        hint = " (np.matrix changes what * means: use np.array and @)" if "matrix" in _typename(value) else ""
        return (f"is a {_typename(value)}, an ndarray subclass, not a plain numpy array: "
                f"return np.asarray(...){hint}")
    return f"is a {_typename(value)}, not a numpy array: return a numpy.ndarray (np.array(...))"


def _dtype_problem(dt, kind):
    """Why an array of dtype `dt` is refused when `kind` ("f", "i" or None) is asked, or None."""
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
    drop = lambda s, i: s[:i] + s[i + 1:]  # noqa: E731
    if len(got) == 2 and got == want[::-1]:
        return f"{msg}: looks like the transpose (check .T and the order of the matrix product)"
    if len(got) == len(want) + 1 and any(got[i] == 1 and drop(got, i) == want for i in range(len(got))):
        return f"{msg}: it has an extra axis of length 1; return shape {want}"
    if len(want) == len(got) + 1 and any(want[i] == 1 and drop(want, i) == got for i in range(len(want))):
        return f"{msg}: it is missing an axis of length 1; return shape {want} (keepdims=True or .reshape)"
    if len(want) == 1 and got == (want[0], want[0]):
        return f"{msg}: a square matrix where a vector is asked (np.diag of the vector?)"
    if got == ():
        return f"{msg}: a single number; did np.sum run over all axes? pass axis=..."
    return msg


def as_array(value, name="result", *, shape=None, dtype_kind="f"):
    """Return a plain float64 copy of `value` after checking it is a real numpy array.

    Only ``type(value) is numpy.ndarray`` passes. `shape` (a tuple), when given, must match exactly.
    `dtype_kind`: "f" asks for float64, "i" for integers, None accepts any integer or float dtype.
    """
    if dtype_kind not in ("f", "i", None):
        raise ValueError(f"dtype_kind must be 'f', 'i' or None, not {dtype_kind!r}")
    want = None if shape is None else tuple(int(n) for n in shape)
    if type(value) is not _ndarray:
        raise AssertionError(f"{name}: {_not_an_array(value, want)}")
    problem = _dtype_problem(value.dtype, dtype_kind)
    if problem:
        raise AssertionError(f"{name}: {problem}")
    if want is not None and value.shape != want:
        raise AssertionError(f"{name}: {_shape_problem(value.shape, want)}")
    return _array(value, dtype=_float64, copy=True)


def _within(a, e, rtol, atol):
    """Elementwise |a - e| <= atol + rtol*|e| (a bool array of the common shape)."""
    return _less_equal(_abs(_sub(a, e)), _add(atol, _mul(rtol, _abs(e))))


def _at(shape, flat_index):
    if len(shape) == 0:
        return ""
    idx = tuple(int(i) for i in _unravel(flat_index, shape))
    return f" at index {idx[0] if len(idx) == 1 else idx}"


def _tolerance_message(a, e, ok, rtol, atol):
    """The worst entry's error (relative where rtol dominates there, else absolute), never e itself."""
    err, allowed = _abs(_sub(a, e)), _add(atol, _mul(rtol, _abs(e)))
    k = int(_argmax(_where(ok, 0.0, _divide(err, allowed))))
    mine, err_k, e_k = float(a.flat[k]), float(err.flat[k]), abs(float(e.flat[k]))
    relative = rtol * e_k > atol
    if a.ndim == 0:
        if relative:
            return f"is {mine:.6g}, not within tolerance: relative error {err_k / e_k:.1e} (allowed {rtol:.2g})"
        return f"is {mine:.6g}, not within {atol:.2g} of the correct value"
    detail = (f"max relative error {err_k / e_k:.1e} (allowed {rtol:.2g})" if relative
              else f"absolute error {err_k:.1e} (allowed {atol:.2g})")
    n_off = a.size - int(_count(ok))
    return (f"not within tolerance: {detail}{_at(a.shape, k)} "
            f"(your value there: {mine:.6g}; {n_off} of {a.size} entries off)")


def _factor_list(factors):
    named = [(str(k), float(v)) for k, v in (factors or {}).items()]
    for label, v in named:
        if abs(v) in (0.0, 1.0) or not _finite(v):
            raise ValueError(f"factor {label!r} must be finite and not 0 or +-1, got {v}")
    return named + ([] if any(v == 2.0 for _, v in named) else [("a factor 2", 2.0)])


def _diagnose(a, e, rtol, atol, factors):
    """None when float64 arrays `a` (student) and `e` (oracle) agree, else the likely mistake."""
    bad = _not(_isfinite(a))
    if _any(bad):
        k = int(_argmax(bad))
        what = "nan" if _isnan(a.flat[k]) else "inf"
        if a.ndim == 0:
            return f"is {what}: {_NONFINITE_HINT}"
        return (f"contains {what.replace('nan', 'NaN')}{_at(a.shape, k)} ({int(_count(bad))} of {a.size} "
                f"entries not finite): {_NONFINITE_HINT}")
    ok = _within(a, e, rtol, atol)
    if _all(ok):
        return None
    loose = max(rtol, _LOOSE_RTOL)
    def like(candidate):  # finite, and within the loose tolerance everywhere
        return bool(_all(_isfinite(candidate)) and _all(_within(a, candidate, loose, atol)))

    if not like(e):
        if a.ndim > 0 and not _any(a):
            return "is all zeros: was it never filled in?"
        if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and like(e.T):
            return "looks like the transpose of the correct result (check .T and the order of the product)"
        if like(_neg(e)):
            return "has the sign flipped: a missing minus, or a subtraction in the wrong order?"
        for label, f in _factor_list(factors):
            if like(_mul(e, f)):
                return f"looks scaled by {label}: about {label} times the correct value; a missing division?"
            if like(_divide(e, f)):
                return f"looks divided by {label}: the correct value divided by {label}; one division too many?"
    return _tolerance_message(a, e, ok, rtol, atol)


def _expected(expected):
    e = _asarray(expected, dtype=_float64)
    if not _all(_isfinite(e)):
        raise ValueError("the expected value must be finite")
    return e


def check_array(actual, expected, name="result", *, rtol=1e-7, atol=1e-12, factors=None):
    """Assert `actual` (student) is a float64 ndarray of expected's shape, close to `expected` (oracle).

    `factors` maps a human name to a number, e.g. {"the batch size 7": 7, "h": 1e-4}, to diagnose
    a result scaled by (actual ~ f*expected) or divided by (actual ~ expected/f) that number.
    """
    e = _expected(expected)
    a = as_array(actual, name, shape=e.shape)
    with _errstate(all="ignore"):
        problem = _diagnose(a, e, rtol, atol, factors)
    if problem:
        raise AssertionError(f"{name}: {problem}")


def _not_a_number(value, name):
    """Why `value` is refused where a single real number is asked, or None."""
    if value is None:
        return "returned None: did you forget `return`?" if name.endswith(")") else "is None: assign your answer"
    if type(value) in (bool, _npbool):
        return "is a bool (True/False), not a number"
    if isinstance(value, str):
        return "is a string: write the number, not text"
    if isinstance(value, (complex, _complex)):
        return "is complex: expected a real number"
    if type(value) in (list, tuple):
        return f"is a {type(value).__name__}, expected a single number"
    if type(value) is _ndarray and value.size == 1:
        return "is a numpy array; return a Python float, e.g. float(value)"
    if isinstance(value, _ndarray):
        return f"is a numpy array of shape {value.shape}, expected a single number"
    if type(value) not in _REAL_SCALARS:
        return f"is a {_typename(value)}, expected a number (int or float)"
    return None


def check_scalar(actual, expected, name="result", *, rtol=1e-7, atol=1e-12, factors=None):
    """Assert `actual` is a single real number (int, float, numpy real scalar) close to `expected`.

    For hand-computed answers pass a loose atol, e.g. atol=0.01 for "rounded to 2 decimals".
    """
    e = _expected(expected)
    if e.size != 1:
        raise ValueError(f"expected must be a single number, got shape {e.shape}")
    problem = _not_a_number(actual, name)
    if problem is None:
        try:
            a = _array(float(actual), dtype=_float64)
        except OverflowError:
            problem = "is too large to be a float"
        else:
            with _errstate(all="ignore"):
                problem = _diagnose(a, e.reshape(()), rtol, atol, factors)
    if problem:
        raise AssertionError(f"{name}: {problem}")


def check_unchanged(before, after, name="x"):
    """Assert `after` (the input object after the student's call) still equals `before` (a copy).

    Shape, dtype and every value must be the same; NaN equals NaN.
    """
    b, a = _asarray(before), _asarray(after)
    if a.shape != b.shape:
        change = f"its shape changed from {b.shape} to {a.shape}"
    elif a.dtype != b.dtype:
        change = f"its dtype changed from {b.dtype} to {a.dtype}"
    else:
        same = _equal(a, b)
        if a.dtype.kind in "fc":
            same = _or(same, _and(_isnan(a), _isnan(b)))
        n = a.size - int(_count(same))
        change = f"{n} of {a.size} values changed" if n else None
        if n and a.dtype.kind == "f":
            with _errstate(all="ignore"):
                moved, size = _abs(_sub(a, b))[_not(same)], _max(_abs(b[_not(same)]))
            if _all(_isfinite(moved)) and _max(moved) <= 1e-12 * max(1.0, float(size)):
                change += ", by round-off only: put back the saved value instead of subtracting h"
    if change:
        raise AssertionError(f"the input {name} was modified in place ({change}): "
                             f"work on a copy ({name}.copy()) or restore it after perturbing")


def _letter(text):
    return str.lower(str.strip(text, "()[].'\" \t\n"))


def check_choice(answer, correct, options, name="answer"):
    """Assert the multiple-choice `answer` (e.g. "(B) ") is the letter `correct` among `options` ("abcd")."""
    allowed = [str.lower(c) for c in options]
    if _letter(correct) not in allowed:
        raise ValueError(f"correct answer {correct!r} is not among the options {options!r}")
    example = f'{name} = "{allowed[0]}"'
    if answer is None:
        raise AssertionError(f"{name}: is None: assign one letter, e.g. {example}")
    if not isinstance(answer, str):
        raise AssertionError(f"{name}: is a {_typename(answer)}, not a string: write the letter in quotes, "
                             f"e.g. {example}")
    letter = _letter(answer)
    if letter not in allowed:
        raise AssertionError(f"{name}: must be one of {', '.join(allowed)} (got {str.__str__(answer)[:40]!r})")
    if letter != _letter(correct):
        raise AssertionError(f"{name}: is not the right choice: reread the question and each option")


def check_true(condition, message):
    """Raise AssertionError(message) unless `condition` is True (a bool or numpy bool, nothing truthy)."""
    if not (type(condition) in (bool, _npbool) and condition):
        raise AssertionError(message)
