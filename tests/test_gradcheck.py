"""Unit tests of course.gradcheck: exact on known gradients, x untouched, shapes, and a wrong
gradient fails with course.checks' diagnosis."""
import numpy as np
import pytest

from course.gradcheck import check_gradient, numerical_gradient, numerical_jacobian

RNG = np.random.default_rng(3)


def test_gradient_of_a_quadratic_with_a_non_symmetric_matrix():
    A, b, x = RNG.normal(size=(4, 4)), RNG.normal(size=4), RNG.normal(size=4)
    f = lambda v: 0.5 * v @ A @ v + b @ v
    np.testing.assert_allclose(numerical_gradient(f, x), 0.5 * (A + A.T) @ x + b, rtol=1e-8)


def test_jacobian_of_a_matrix_function_has_output_then_input_axes_and_x_is_untouched():
    W, x = RNG.normal(size=(3, 5)), RNG.normal(size=(5, 2))
    before = x.copy()
    jac = numerical_jacobian(lambda v: W @ v, x)
    assert jac.shape == (3, 2, 5, 2)
    expected = np.einsum("ij,kl->ikjl", W, np.eye(2))
    np.testing.assert_allclose(jac, expected, atol=1e-9)
    np.testing.assert_array_equal(x, before)


def test_integer_input_is_differentiated_as_float():
    assert numerical_gradient(lambda v: float(np.sum(v ** 3)), np.array([1, 2])) == pytest.approx([3, 12])


def test_vector_output_is_refused_by_numerical_gradient():
    with pytest.raises(ValueError, match="single number"):
        numerical_gradient(lambda v: v * 2, np.ones(3))


def test_check_gradient_passes_the_right_gradient_and_names_a_transpose():
    W = RNG.normal(size=(3, 4))
    x, u = RNG.normal(size=4), RNG.normal(size=3)
    f = lambda M: u @ np.tanh(M @ x)
    right = np.outer(u * (1 - np.tanh(W @ x) ** 2), x)
    check_gradient(right, f, W, "grad_W")
    with pytest.raises(AssertionError, match="grad_W.*transpose"):
        check_gradient(right.T, f, W, "grad_W")
    with pytest.raises(AssertionError, match="sign"):
        check_gradient(-right, f, W, "grad_W")
