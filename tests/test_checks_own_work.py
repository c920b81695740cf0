"""Unit tests of course.checks.own_work: a test's function refuses calls that come through
course.gradcheck (or another installed package), and passes the student's own calls through."""
import functools

import numpy as np
import pytest

from course import gradcheck
from course.checks import own_work


def square_sum(v):
    return float(np.sum(np.asarray(v) ** 2))


def own_central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def test_the_students_own_loop_gets_the_value_through():
    f = own_work(square_sum, "numerical_gradient(f, x)")
    np.testing.assert_allclose(own_central_difference(f, [1.0, -2.0]), [2.0, -4.0], rtol=1e-8)


def test_numpy_and_the_standard_library_may_call_it():
    f = own_work(square_sum, "g")
    assert np.apply_along_axis(f, 1, np.ones((2, 3))).tolist() == [3.0, 3.0]
    assert functools.partial(f)([2.0]) == 4.0


@pytest.mark.parametrize("delegate", [gradcheck.numerical_gradient, gradcheck.numerical_jacobian,
                                      lambda f, x: gradcheck.check_gradient(np.zeros(2), f, x)])
def test_a_call_through_course_gradcheck_is_refused_with_the_module_named(delegate):
    f = own_work(square_sum, "numerical_gradient(f, x)")
    with pytest.raises(AssertionError) as info:
        delegate(f, np.array([1.0, 2.0]))
    message = str(info.value)
    assert message.startswith("numerical_gradient(f, x): ")
    assert "course/gradcheck.py" in message and "yourself" in message


def test_an_alias_imported_under_another_name_is_refused_too():
    from course.gradcheck import numerical_jacobian as helper
    f = own_work(square_sum, "numerical_jacobian(f, x)")
    with pytest.raises(AssertionError, match="course/gradcheck.py"):
        helper(f, np.array([1.0]))


def test_a_third_party_package_is_named(monkeypatch):
    import pluggy  # any installed package other than numpy: call f from a frame inside it
    f = own_work(square_sum, "g")
    code = compile("def call(f, x):\n    return f(x)\n", pluggy.__file__, "exec")
    namespace = {}
    exec(code, namespace)  # the test itself builds a frame whose file is in site-packages
    with pytest.raises(AssertionError, match="pluggy/__init__.py"):
        namespace["call"](f, [1.0])


def test_a_call_that_never_passes_through_the_tests_file_is_not_judged():
    namespace = {"own_work": own_work, "square_sum": square_sum}
    exec(compile("f = own_work(square_sum, 'g')", "<another test file>", "exec"), namespace)
    # called from this file, not from the file that made it: no chain to judge, the value passes
    assert gradcheck.numerical_gradient(namespace["f"], np.array([3.0]))[0] == pytest.approx(6.0)
