"""Unit tests of course.checks.check_values: a layout slip is forgiven (its shape test judges it),
wrong values are not, whatever the layout."""
import numpy as np
import pytest

from course.checks import check_values

RNG = np.random.default_rng(11)
M = RNG.normal(size=(3, 5))
V = RNG.normal(size=4)


def fails(*args, **kwargs):
    with pytest.raises(AssertionError) as info:
        check_values(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("actual, expected", [
    (M.copy(), M), (M.T.copy(), M), (M.reshape(1, 3, 5).copy(), M),
    (V.reshape(4, 1).copy(), V), (V.reshape(1, 4).copy(), V), (np.diag(V), V), (V.copy(), np.diag(V)),
    (float(V.sum()), V), (np.array(V.sum()), V), (np.float64(M.sum()), M),
])
def test_right_values_in_another_layout_pass(actual, expected):
    check_values(actual, expected, "g")


def test_wrong_values_fail_in_any_layout_with_the_usual_diagnosis():
    assert "sign flipped" in fails(-M.T, M, "g")
    assert "factor 2" in fails(2 * V.reshape(4, 1), V, "g")
    assert fails(float(V.sum()) + 1.0, V, "g").startswith("g (a single number: the sum): ")
    off = np.diag(V)
    off[0, 1] = 1.0
    assert "not within tolerance" in fails(off, V, "g")


def test_other_shapes_and_types_fail_as_check_array_does():
    assert "has shape (2, 2), expected (4,)" in fails(np.zeros((2, 2)), V, "g")
    assert "is a list" in fails(list(V), V, "g")
    assert "returned None" in fails(None, V, "g")
    assert "integer dtype" in fails(np.ones((3, 5), dtype=int), M, "g")
    assert "diagonal" not in fails(V[:3].copy(), np.diag(V), "g")
    assert "has shape (15,), expected (3, 5)" in fails(M.reshape(-1).copy(), M, "g")


# ---------------------------------------------------------------- argument_spy
from course.checks import argument_spy  # noqa: E402

Z, H, X = np.array([0.5, -1.0, 2.0]), np.tanh(np.array([0.5, -1.0, 2.0])), np.array([1.0, 2.0])


def test_spy_passes_the_expected_argument_and_unknown_ones_through():
    spy = argument_spy(lambda v: 2 * v, ("z", Z), {"h": H, "x": X}, "g")
    np.testing.assert_array_equal(spy(Z.copy()), 2 * Z)
    assert spy(3.0) == 6.0 and spy(Z[0]) == 1.0  # element by element, as a loop does


def test_spy_names_a_wrong_argument():
    spy = argument_spy(lambda v: 2 * v, ("z = Wx + b", Z), {"h = f(z)": H, "x": X}, "grad_b(cache, fprime)")
    with pytest.raises(AssertionError, match=r"^grad_b\(cache, fprime\): the derivative was evaluated at "
                                             r"h = f\(z\); evaluate it at z = Wx \+ b$"):
        spy(H.copy())
    with pytest.raises(AssertionError, match="evaluated at x"):
        spy(X)


def test_spy_that_forgives_returns_the_value_at_the_expected_argument():
    spy = argument_spy(lambda v: 2 * v, ("z", Z), {"x": X}, "g", forgive=True)
    np.testing.assert_array_equal(spy(X), 2 * Z)


def test_spy_recognises_a_single_entry_of_a_wrong_array_as_a_loop_passes_it():
    spy = argument_spy(lambda v: 2 * v, ("z", Z), {"h = f(z)": H}, "g")
    assert spy(Z[1]) == 2 * Z[1]
    with pytest.raises(AssertionError, match="evaluated at h = f\\(z\\)"):
        spy(H[2])
    forgiving = argument_spy(lambda v: 2 * v, ("z", Z), {"h = f(z)": H}, "g", forgive=True)
    assert forgiving(H[2]) == 2 * Z[2]
