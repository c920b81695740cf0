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


def test_it_is_not_the_exercise_of_01_and_02_it_steps_along_directions_that_mix_entries():
    # 01 and 02 ask students to nudge one entry at a time; the referee must not be that answer.
    x = RNG.normal(size=(3, 3))
    moved = []
    numerical_gradient(lambda v: (moved.append(np.count_nonzero(v != x)), float(np.sum(v ** 2)))[1], x)
    assert max(moved) > 1 and moved.count(1) < len(moved) // 2


def test_smooth_nonlinear_function_to_central_difference_precision():
    W, x = RNG.normal(size=(5, 7)), RNG.normal(size=7)
    jac = numerical_jacobian(lambda v: np.tanh(W @ v), x)
    exact = (1 - np.tanh(W @ x) ** 2)[:, None] * W
    np.testing.assert_allclose(jac, exact, rtol=1e-8, atol=1e-10)


def test_the_same_call_gives_the_same_numbers_and_edge_shapes_work():
    f = lambda v: float(np.sum(np.sin(v)))
    x = RNG.normal(size=11)
    np.testing.assert_array_equal(numerical_gradient(f, x), numerical_gradient(f, x))
    assert numerical_gradient(f, np.zeros(0)).shape == (0,)
    assert numerical_gradient(lambda v: float(v) ** 2, 3.0) == pytest.approx(6.0)
    assert numerical_jacobian(lambda v: v * 2, np.ones((1, 1))).shape == (1, 1, 1, 1)


def test_a_function_whose_output_shape_changes_is_refused():
    calls = []
    def f(v):
        calls.append(1)
        return np.ones(len(calls) % 2 + 1)
    with pytest.raises(ValueError, match="returned shape"):
        numerical_jacobian(f, np.ones(3))
