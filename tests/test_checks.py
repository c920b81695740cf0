"""Unit tests of course.checks: every diagnosis has a wrong value that triggers its message,
and correct values (tolerance edges, -0.0, large magnitudes, 0-d) pass."""
import warnings

import numpy as np
import pytest

from course.checks import as_array, check_array, check_choice, check_scalar, check_true, check_unchanged

RNG = np.random.default_rng(0)
E = RNG.normal(size=(3, 4)) + 0.5          # non-square oracle
SQ = RNG.normal(size=(4, 4))                # square, not symmetric
SECRET = np.array([[0.123456789, -2.71828182], [3.14159265, 1.41421356], [9.87654321, 0.5]])


def matrix(rows):
    """np.matrix without its PendingDeprecationWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(rows)


def fails(fn, *args, **kwargs):
    """Run a check that must fail; return its message."""
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------- as_array: types
class LyingEq(np.ndarray):
    def __eq__(self, other):
        return True


class PosesViaArray:
    def __array__(self, dtype=None, copy=None):
        return np.asarray(E)


class PosesViaUfunc:
    def __array_ufunc__(self, *args, **kwargs):
        return True


@pytest.mark.parametrize("value, phrase", [
    (None, "returned None: did you forget `return`?"),
    ([1.0, 2.0], "is a list, not a numpy array: wrap it with np.array(...)"),
    ((1.0, 2.0), "is a tuple, not a numpy array"),
    (3.0, "is a scalar (float), not a numpy array"),
    (np.float64(3.0), "is a scalar (numpy.float64), not a numpy array"),
    (matrix([[1.0, 2.0]]), "ndarray subclass, not a plain numpy array"),
    (np.ma.MaskedArray([1.0, 2.0]), "ndarray subclass, not a plain numpy array"),
    (np.zeros(3).view(LyingEq), "ndarray subclass"),
    (PosesViaArray(), "is a test_checks.PosesViaArray, not a numpy array"),
    (PosesViaUfunc(), "not a numpy array"),
])
def test_as_array_refuses_non_arrays(value, phrase):
    msg = fails(as_array, value, "f(x)")
    assert msg.startswith("f(x): ") and phrase in msg


def test_matrix_message_mentions_star():
    assert "np.matrix changes what *" in fails(as_array, matrix([[1.0]]))


def test_scalar_where_array_expected_hints_at_sum():
    assert "did np.sum run over all axes" in fails(as_array, np.float64(1.0), "db", shape=(3,))


@pytest.mark.parametrize("value, phrase", [
    (np.array([1, 2]), "has integer dtype int64: the values were truncated; did np.zeros_like copy"),
    (np.array([1, 2], dtype=np.uint8), "has integer dtype uint8"),
    (np.array([1.0], dtype=np.float32), "has dtype float32: compute in float64"),
    (np.array([1.0], dtype=np.float16), "compute in float64"),
    (np.array([True]), "has dtype bool"),
    (np.array([1j]), "has complex dtype complex128"),
    (np.array(["1.0"]), "expected numbers, not text"),
    (np.array([1.0, None]), "has dtype object"),
])
def test_as_array_refuses_dtypes(value, phrase):
    assert phrase in fails(as_array, value, "g")


def test_as_array_dtype_kinds():
    assert as_array(np.array([1, 2]), dtype_kind="i").dtype == np.float64
    assert "expected integers" in fails(as_array, np.array([1.0]), dtype_kind="i")
    assert as_array(np.array([1.0], dtype=np.float32), dtype_kind=None).dtype == np.float64
    with pytest.raises(ValueError):
        as_array(np.zeros(2), dtype_kind="x")


def test_as_array_returns_plain_float64_copy():
    x = np.arange(3.0)
    out = as_array(x, shape=(3,))
    assert type(out) is np.ndarray and out.dtype == np.float64 and out is not x
    out[0] = 99
    assert x[0] == 0


# ---------------------------------------------------------------- as_array: shapes
@pytest.mark.parametrize("got, want, phrase", [
    ((4, 3), (3, 4), "has shape (4, 3), expected (3, 4): looks like the transpose"),
    ((5, 1), (5,), "has an extra axis of length 1; return shape (5,)"),
    ((1, 5), (5,), "extra axis of length 1"),
    ((5,), (5, 1), "missing an axis of length 1; return shape (5, 1)"),
    ((3, 3), (3,), "np.diag"),
    ((), (3,), "did np.sum run over all axes"),
    ((2, 3), (3, 4), "has shape (2, 3), expected (3, 4)"),
])
def test_as_array_shape_messages(got, want, phrase):
    assert phrase in fails(as_array, np.zeros(got), "dW", shape=want)


def test_square_shape_mismatch_is_not_called_transpose():
    assert "transpose" not in fails(as_array, np.zeros((2, 3)), shape=(3, 4))


# ---------------------------------------------------------------- check_array: diagnoses
def test_check_array_passes_type_and_shape_problems_through():
    assert "returned None" in fails(check_array, None, E, "f(x)")
    assert "looks like the transpose" in fails(check_array, E.T.copy(), E)


@pytest.mark.parametrize("bad, phrase", [(np.nan, "contains NaN at index (1, 2)"),
                                         (np.inf, "contains inf at index (1, 2)")])
def test_nonfinite(bad, phrase):
    a = E.copy()
    a[1, 2] = bad
    msg = fails(check_array, a, E, "softmax(x)")
    assert phrase in msg and "overflow? log(0)?" in msg and msg.startswith("softmax(x): ")


def test_nonfinite_is_reported_before_closeness():
    a = E.copy()
    a[0, 0] = np.nan
    assert "NaN" in fails(check_array, a, E, rtol=1e9, atol=1e9)


def test_transposed_square():
    msg = fails(check_array, SQ.T.copy(), SQ, "dW")
    assert "looks like the transpose" in msg


def test_sign_flipped():
    assert "sign flipped" in fails(check_array, -E, E)


def test_scaled_by_two_and_halved():
    assert "looks scaled by a factor 2" in fails(check_array, 2 * E, E)
    assert "looks divided by a factor 2" in fails(check_array, E / 2, E)


def test_named_factors():
    factors = {"the batch size 7": 7, "h": 1e-4}
    assert "looks scaled by the batch size 7" in fails(check_array, 7 * E, E, factors=factors)
    assert "looks divided by the batch size 7" in fails(check_array, E / 7, E, factors=factors)
    assert "looks divided by h" in fails(check_array, E / 1e-4, E, factors=factors)


def test_named_factor_two_wins_over_default():
    assert "scaled by the batch size 2" in fails(check_array, 2 * E, E, factors={"the batch size 2": 2})


def test_invalid_factor_is_a_test_bug():
    with pytest.raises(ValueError):
        check_array(3 * E, E, factors={"one": 1})


def test_all_zeros():
    assert "is all zeros" in fails(check_array, np.zeros_like(E), E)


def test_tolerance_message_has_relative_error_and_index():
    a = E.copy()
    a[1, 2] *= 1 + 3.2e-3
    msg = fails(check_array, a, E, "numerical_gradient(f, x)")
    assert msg.startswith("numerical_gradient(f, x): not within tolerance: max relative error 3.2e-03 "
                          "(allowed 1e-07) at index (1, 2)")
    assert "1 of 12 entries off" in msg


def test_tolerance_message_1d_index_and_absolute_error():
    e = np.array([0.0, 1.0, 2.0])
    msg = fails(check_array, np.array([0.5, 1.0, 2.0]), e, atol=1e-3)
    assert "absolute error 5.0e-01 (allowed 0.001) at index 0" in msg


def test_small_precision_error_is_not_called_a_pattern():
    # E*(1+1e-5) agrees at the loose tolerance: a precision problem, not a transpose/sign/factor
    msg = fails(check_array, E * (1 + 1e-5), E)
    assert "not within tolerance" in msg and "looks" not in msg


@pytest.mark.parametrize("wrong", [2 * SECRET, -SECRET, SECRET * 1.01, SECRET + 0.3, SECRET / 7,
                                   np.zeros_like(SECRET), np.where(SECRET > 1, np.nan, SECRET)])
def test_expected_values_never_leak(wrong):
    msg = fails(check_array, wrong, SECRET, factors={"the batch size 7": 7})
    for v in SECRET.ravel():
        for text in (f"{v}", f"{v:.6g}", f"{v:.4g}", f"{v:.3g}"):
            assert text not in msg


def test_expected_values_never_leak_scalar():
    msg = fails(check_scalar, 1.0, 3.14159265)
    assert "3.14" not in msg


# ---------------------------------------------------------------- check_array: correct values pass
def test_exact_and_close_pass():
    check_array(E.copy(), E)
    check_array(E * (1 + 5e-8), E)
    check_array(np.array(E.tolist()), E.tolist())                  # expected may be a list


def test_tolerance_edges():
    e = np.array([1.0, 0.0])
    check_array(np.array([1.0 + 0.9e-7, 0.9e-12]), e)               # inside rtol, inside atol
    assert "not within tolerance" in fails(check_array, np.array([1.0 + 1.2e-7, 0.0]), e)
    assert "not within tolerance" in fails(check_array, np.array([1.0, 1.2e-12]), e)
    check_array(np.array([1.01, 0.004]), e, rtol=0, atol=0.011)


def test_negative_zero_large_magnitudes_and_0d():
    check_array(np.array([-0.0, 0.0]), np.array([0.0, -0.0]))
    big = np.array([1e300, -3e307])
    check_array(big * (1 + 1e-9), big)
    assert "sign flipped" in fails(check_array, -big, big)
    check_array(np.array(2.5), 2.5)
    check_array(np.array(2.5), np.array(2.5))
    assert "is a scalar" in fails(check_array, 2.5, np.array(2.5))
    assert fails(check_array, np.array(3.0), 2.5).startswith("result: is 3, not within tolerance")


def test_non_finite_expected_is_a_test_bug():
    with pytest.raises(ValueError):
        check_array(np.zeros(2), np.array([0.0, np.nan]))


# ---------------------------------------------------------------- numpy tampering
def test_monkeypatched_numpy_does_not_change_verdicts(monkeypatch):
    always = lambda *a, **k: True  # noqa: E731
    for attr in ("allclose", "isclose", "abs", "absolute", "all", "any", "isfinite", "array_equal",
                 "less_equal", "subtract", "asarray", "array"):
        monkeypatch.setattr(np, attr, always)
    monkeypatch.setattr(np, "ndarray", type("Fake", (), {}))
    x = np.zeros(3) + np.arange(3.0)       # np.zeros is untouched, so this is a real ndarray
    assert "sign flipped" in fails(check_array, -x - 1, x + 1)
    assert "relative error" in fails(check_scalar, 1.1, 1.0)
    check_array(x + 1, x + 1)
    assert "modified in place" in fails(check_unchanged, x + 1, x)


def test_seterr_raise_and_warnings_as_errors_do_not_crash():
    old = np.seterr(all="raise")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            big = np.array([1e308, 1.0])
            assert "not within tolerance" in fails(check_array, np.array([1e308, 3.0]), big)
            assert "not within tolerance" in fails(check_array, np.array([1.0, 0.0]), np.array([0.0, 0.0]),
                                                   atol=0)
            assert "relative error" in fails(check_scalar, 1e308, 1.7e308)
            check_unchanged(np.array([np.nan]), np.array([np.nan]))
    finally:
        np.seterr(**old)


# ---------------------------------------------------------------- check_scalar
@pytest.mark.parametrize("value, name, phrase", [
    (None, "rate_at_1", "rate_at_1: is None: assign your answer"),
    (None, "loss(x)", "loss(x): returned None: did you forget `return`?"),
    (True, "r", "is a bool"),
    (np.True_, "r", "is a bool"),
    ("0.25", "r", "is a string: write the number, not text"),
    (1 + 0j, "r", "is complex"),
    (np.complex128(1), "r", "is complex"),
    ([0.25], "r", "is a list, expected a single number"),
    (np.array(0.25), "r", "is a numpy array; return a Python float, e.g. float(value)"),
    (np.array([0.25]), "r", "is a numpy array; return a Python float"),
    (np.array([0.25, 1.0]), "r", "is a numpy array of shape (2,), expected a single number"),
    (PosesViaArray(), "r", "expected a number (int or float)"),
    (10 ** 400, "r", "too large"),
])
def test_check_scalar_refuses(value, name, phrase):
    assert phrase in fails(check_scalar, value, 0.25, name)


@pytest.mark.parametrize("value", [0.25, np.float64(0.25), np.float32(0.25), 0.25 + 1e-9])
def test_check_scalar_accepts_real_numbers(value):
    check_scalar(value, 0.25, rtol=1e-6)


def test_check_scalar_accepts_ints_and_zero():
    check_scalar(3, 3.0)
    check_scalar(np.int64(3), np.float64(3.0))
    check_scalar(-0.0, 0.0)
    check_scalar(2.5, np.array(2.5))
    with pytest.raises(ValueError):
        check_scalar(1.0, [1.0, 2.0])


def test_check_scalar_diagnoses():
    assert fails(check_scalar, float("nan"), 1.0, "loss").startswith("loss: is nan: overflow?")
    assert "is inf" in fails(check_scalar, float("inf"), 1.0)
    assert "sign flipped" in fails(check_scalar, -1.5, 1.5)
    assert "looks scaled by a factor 2" in fails(check_scalar, 3.0, 1.5)
    msg = fails(check_scalar, 7.0, 1.0, factors={"the batch size 7": 7})
    assert "looks scaled by the batch size 7" in msg
    msg = fails(check_scalar, 1.0032, 1.0)
    assert "is 1.0032, not within tolerance: relative error 3.2e-03 (allowed 1e-07)" in msg


def test_check_scalar_hand_computed_rounding():
    check_scalar(0.42, 0.4199, atol=0.01)
    check_scalar(0.41, 0.4199, atol=0.01)
    msg = fails(check_scalar, 0.45, 0.4199, "rate_at_1", atol=0.01)
    assert msg == "rate_at_1: is 0.45, not within 0.01 of the correct value"


# ---------------------------------------------------------------- check_unchanged
def test_check_unchanged():
    x = E.copy()
    before = x.copy()
    check_unchanged(before, x)
    x[0, 1] += 1e-4
    msg = fails(check_unchanged, before, x, "x")
    assert "the input x was modified in place" in msg and "1 of 12 values changed" in msg
    assert "work on a copy (x.copy()) or restore it after perturbing" in msg


def test_check_unchanged_roundoff_dtype_shape_nan():
    x = np.array([0.1, 2.3, np.nan])
    before = x.copy()
    check_unchanged(before, x)                      # NaN equals NaN
    x[1] += 1e-4                                    # perturb +h, -h, then "restore" by adding h back
    x[1] -= 2e-4
    x[1] += 1e-4
    assert "round-off" in fails(check_unchanged, before, x)
    assert "dtype changed" in fails(check_unchanged, np.zeros(2), np.zeros(2, dtype=int))
    assert "shape changed" in fails(check_unchanged, np.zeros(2), np.zeros((2, 1)))
    check_unchanged(np.array([-0.0]), np.array([0.0]))


# ---------------------------------------------------------------- check_choice / check_true
@pytest.mark.parametrize("answer", ["b", "B", " (B) ", "b)", "[b]", '"b"', "b.\n"])
def test_choice_normalised(answer):
    check_choice(answer, "b", "abcd")


def test_choice_wrong_and_invalid():
    msg = fails(check_choice, "c", "b", "abcd", "q3")
    assert msg.startswith("q3: is not the right choice: reread") and "'b'" not in msg
    assert "must be one of a, b, c, d" in fails(check_choice, "e", "b", "abcd")
    assert "must be one of" in fails(check_choice, "ab", "b", "abcd")
    assert "is None: assign one letter" in fails(check_choice, None, "b", "abcd")
    assert "not a string" in fails(check_choice, 2, "b", "abcd")
    with pytest.raises(ValueError):
        check_choice("a", "z", "abcd")


def test_choice_str_subclass_with_lying_methods():
    class Liar(str):
        def __eq__(self, other):
            return True

        def strip(self, *a):
            return "b"

        __hash__ = str.__hash__

    assert "not the right choice" in fails(check_choice, Liar("c"), "b", "abcd")


def test_check_true():
    check_true(True, "never")
    check_true(np.bool_(True), "never")
    assert fails(check_true, False, "history[0] must be the start point x0") == \
        "history[0] must be the start point x0"
    assert fails(check_true, np.array([1, 1]), "m") == "m"     # truthy non-bool is not accepted
    assert fails(check_true, 1, "m") == "m"


def test_student_object_is_never_asked_anything():
    calls = []

    class Spy:
        def __getattr__(self, attr):
            calls.append(attr)
            raise AttributeError(attr)

        def __array__(self, *a, **k):
            calls.append("__array__")
            return np.zeros(3)

        def __eq__(self, other):
            calls.append("__eq__")
            return True

        def __float__(self):
            calls.append("__float__")
            return 0.25

    assert "not a numpy array" in fails(check_array, Spy(), np.zeros(3))
    assert "expected a number" in fails(check_scalar, Spy(), 0.25)
    assert calls == []


def test_float_subclass_with_lying_eq_is_refused():
    class Always(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    assert "expected a number (int or float)" in fails(check_scalar, Always(9.0), 0.25)
