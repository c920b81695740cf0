"""Numerical gradients for the tests and demos of the notebooks after 01_gradients.

Students write their own central difference in 01_gradients (one entry nudged at a time) and their
own numerical Jacobian in 02_jacobians. This module is the course's referee, and it measures in
another way, so that it is no copy of those answers: it takes central differences along random
orthonormal *directions*, each mixing a few entries of x, and solves the small rotation back into one
partial derivative per entry. From 02 on, hidden tests use it as an oracle that never calls the
student's code: the numerical gradient of a *reference* forward, so a student's forward/backward
pair that is wrong in a consistent way still fails. Exercises that ask a student to compute a
numerical gradient or Jacobian themselves refuse a call through this module (course.checks.own_work).

Why directions work: along a unit vector q, (f(x + hq) - f(x - hq)) / (2h) estimates J q, the
Jacobian times q. The entries of x are shuffled and cut into blocks of at most BLOCK; each block gets
a random orthogonal matrix Q whose columns are the directions, so the estimates D = J[:, block] Q give
J[:, block] = D Q^T (Q^{-1} = Q^T). The error is that of a central difference, about h^2 for smooth
f; a kink (ReLU at 0) within h of x spoils the columns of its block instead of one column.
"""
from types import SimpleNamespace

import numpy

from course.checks import check_array

# Captured at import, like course.checks: a student's later patch of numpy cannot change an oracle.
_np = SimpleNamespace(array=numpy.array, asarray=numpy.asarray, empty=numpy.empty, sign=numpy.sign,
                      diag=numpy.diag, float64=numpy.float64, qr=numpy.linalg.qr,
                      default_rng=numpy.random.default_rng)

__all__ = ["numerical_gradient", "numerical_jacobian", "check_gradient"]

BLOCK = 4  # entries mixed by one set of directions: small, so a kink spoils few columns


def _value(y, shape=None):
    """f's output as a float64 array (of `shape`, when given)."""
    out = _np.array(y, dtype=_np.float64)
    if shape is not None and out.shape != shape:
        raise ValueError(f"f returned shape {out.shape} at one point and {shape} at another")
    return out


def _blocks(n):
    """The directions for n entries: a list of (indices, Q), Q a random (k, k) orthogonal matrix.

    The same n always gives the same directions (the generator is seeded by n), so an oracle is
    reproducible from run to run.
    """
    rng = _np.default_rng(n)
    order = rng.permutation(n)
    blocks = []
    for start in range(0, n, BLOCK):
        indices = order[start:start + BLOCK]
        q, r = _np.qr(rng.normal(size=(indices.size, indices.size)))
        blocks.append((indices, q * _np.sign(_np.diag(r))))  # signs fixed: Q is uniform, not biased
    return blocks


def numerical_jacobian(f, x, h=1e-5):
    """Derivative of every output of f with respect to every entry of x, by directional differences.

    f: callable taking a float64 array of x's shape and returning an array (or a number)
    x: array-like of any shape; never modified (f is evaluated at float64 copies)
    h: the length of each step along a unit direction
    returns: float64 array of shape f(x).shape + x.shape; entry [i..., j...] = d f(x)[i...] / d x[j...]
    """
    point = _np.array(x, dtype=_np.float64)  # a copy: the caller's x is never touched
    out_shape = _value(f(point.copy())).shape
    flat = point.reshape(-1)  # a view of the copy: moving flat moves point
    jac = _np.empty(out_shape + (flat.size,), dtype=_np.float64)
    for indices, q in _blocks(flat.size):
        saved = flat[indices].copy()
        slopes = _np.empty(out_shape + (indices.size,), dtype=_np.float64)
        for k in range(indices.size):
            flat[indices] = saved + h * q[:, k]
            plus = _value(f(point.copy()), out_shape)
            flat[indices] = saved - h * q[:, k]
            minus = _value(f(point.copy()), out_shape)
            slopes[..., k] = (plus - minus) / (2 * h)
        flat[indices] = saved
        jac[..., indices] = slopes @ q.T
    return jac.reshape(out_shape + point.shape)


def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function f at x, by directional differences (see numerical_jacobian).

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
