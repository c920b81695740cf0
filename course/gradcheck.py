"""Numerical gradients for the tests and demos of the notebooks after 01_gradients.

Students write their own central difference in 01_gradients. From 02 on, hidden tests use these as
an oracle that never calls the student's code: the numerical gradient of a *reference* forward, so a
student's forward/backward pair that is wrong in a consistent way still fails. Exercises that ask a
student to compute a numerical gradient or Jacobian themselves may refuse a call to this module.
"""
from types import SimpleNamespace

import numpy

from course.checks import check_array

# Captured at import, like course.checks: a student's later patch of numpy cannot change an oracle.
_np = SimpleNamespace(array=numpy.array, asarray=numpy.asarray, empty=numpy.empty,
                      float64=numpy.float64, ndindex=numpy.ndindex)

__all__ = ["numerical_gradient", "numerical_jacobian", "check_gradient"]


def _value(y, shape=None):
    """f's output as a float64 array (of `shape`, when given)."""
    out = _np.array(y, dtype=_np.float64)
    if shape is not None and out.shape != shape:
        raise ValueError(f"f returned shape {out.shape} at one point and {shape} at another")
    return out


def numerical_jacobian(f, x, h=1e-5):
    """Central-difference derivative of every output of f with respect to every entry of x.

    f: callable taking a float64 array of x's shape and returning an array (or a number)
    x: array-like of any shape; never modified (f is evaluated at a float64 copy)
    returns: float64 array of shape f(x).shape + x.shape; entry [i..., j...] = d f(x)[i...] / d x[j...]
    """
    point = _np.array(x, dtype=_np.float64)  # a copy: the caller's x is never touched
    out_shape = _value(f(point.copy())).shape
    jac = _np.empty(out_shape + point.shape, dtype=_np.float64)
    for j in _np.ndindex(point.shape):
        saved = point[j]
        point[j] = saved + h
        plus = _value(f(point.copy()), out_shape)
        point[j] = saved - h
        minus = _value(f(point.copy()), out_shape)
        point[j] = saved
        jac[(Ellipsis,) + j] = (plus - minus) / (2 * h)
    return jac


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function f at x.

    f: callable taking a float64 array of x's shape and returning one number
    x: array-like of any shape; never modified
    returns: float64 array of x's shape
    """
    jac = numerical_jacobian(f, x, h)
    if jac.shape != _np.asarray(x).shape:
        raise ValueError("f must return a single number; use numerical_jacobian for vector outputs")
    return jac


def check_gradient(actual, f, x, name="gradient", *, h=1e-5, rtol=1e-6, atol=1e-8, factors=None):
    """Assert `actual` (the student's gradient) equals the numerical gradient of the reference `f` at x.

    f must be a reference forward written in the test, never the student's own. Failure messages are
    those of course.checks.check_array (shape, transpose, sign, factor, tolerance).
    """
    check_array(actual, numerical_gradient(f, x, h), name, rtol=rtol, atol=atol, factors=factors)
