"""Unit tests of course.graph_demos (05) and course.perceptron_demos (06): layouts, the recorded
backward pass, the stepper's fallback, and the pictures' labels."""
import ipywidgets as W
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import graph_demos, perceptron_demos  # noqa: E402
from course.graph_demos import Node  # noqa: E402


class Scalar:
    """A minimal micrograd-style node for these tests: + and * only, backward in a given order."""

    def __init__(self, data, children=(), op=""):
        self.data, self.grad, self._prev, self._op = data, 0.0, set(children), op
        self._backward = lambda: None

    def __add__(self, other):
        out = Scalar(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Scalar(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def backward(self):
        order = []

        def visit(n):
            if n not in order:
                for c in n._prev:
                    visit(c)
                order.append(n)
        visit(self)
        self.grad = 1.0
        for n in reversed(order):
            n._backward()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def worked_example():
    x, y, z = Node("x", 3, -2), Node("y", -1, -2), Node("z", -2, 2)
    q = Node("q", 2, -2, children=(x, y), op="+")
    f = Node("f", -4, 1, children=(q, z), op="*")
    return f, [f, q, z, x, y], (x, y, z, q)


def test_graph_nodes_and_levels_put_every_node_left_of_its_users():
    f, _, (x, y, z, q) = worked_example()
    assert {n.label for n in graph_demos.graph_nodes(f)} == {"f", "q", "z", "x", "y"}
    level = graph_demos.graph_levels(f)
    assert level[id(f)] == 0 and level[id(q)] == 1 and level[id(z)] == 1 and level[id(x)] == 2
    # a node used at two depths sits left of its deepest user
    a = Scalar(2.0)
    b = a * a
    c = b + a
    assert graph_demos.graph_levels(c)[id(a)] == 2


def test_record_backward_snapshots_each_call_and_restores_backward():
    a, b = Scalar(2.0), Scalar(-3.0)
    c = a * b + a
    originals = {id(n): n._backward for n in graph_demos.graph_nodes(c)}
    frames = graph_demos.record_backward(c)
    assert len(frames) == 1 + len(graph_demos.graph_nodes(c))   # one frame per _backward call
    assert frames[0][0] is None
    last = frames[-1][1]
    assert last[id(a)] == pytest.approx(-2.0) and last[id(b)] == pytest.approx(2.0)
    assert frames[1][0] is c and frames[1][1][id(c)] == 1.0
    assert all(n._backward is originals[id(n)] for n in graph_demos.graph_nodes(c))


def test_record_backward_restores_backward_when_the_students_code_fails():
    class Broken(Scalar):
        def backward(self):
            raise NotImplementedError()
    a = Broken(1.0)
    before = a._backward
    with pytest.raises(NotImplementedError):
        graph_demos.record_backward(a)
    assert a._backward is before


def test_reveal_frames_shows_a_gradient_once_all_users_are_processed():
    f, order, (x, y, z, q) = worked_example()
    frames = graph_demos.reveal_frames(f, order)
    assert len(frames) == len(order) + 1
    assert all(g is None for g in frames[0][1].values())
    after_f = frames[1][1]
    assert after_f[id(f)] == 1 and after_f[id(q)] == -2 and after_f[id(z)] == 2 and after_f[id(x)] is None
    assert frames[2][1][id(x)] == -2


def test_draw_graph_and_still_picture_are_labelled():
    f, order, _ = worked_example()
    ax = graph_demos.draw_graph(f)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "data -4" in texts and "grad 1" in texts and ax.get_title()
    fig = graph_demos.plot_backward_steps(f, order, steps=[0, 2])
    assert [a.get_title() for a in fig.axes][:2] == ["step 0 of 5: before backward()",
                                                     "step 2 of 5: after node q's local step"]


def test_stepper_uses_the_students_engine_and_falls_back_to_the_worked_example(capsys):
    def build():
        a, b = Scalar(2.0), Scalar(-3.0)
        return a * b + a
    widget = graph_demos.backward_stepper(build)
    slider = next(w for w in widget.children[1].children if isinstance(w, W.IntSlider))
    assert slider.max == 4   # 4 nodes: one step per _backward call

    def unwritten():
        raise NotImplementedError()
    f, order, _ = worked_example()
    widget = graph_demos.backward_stepper(unwritten, fallback=f, fallback_order=order)
    assert "worked example" in capsys.readouterr().out
    slider = next(w for w in widget.children[1].children if isinstance(w, W.IntSlider))
    assert slider.max == len(order)
    assert graph_demos.backward_stepper(unwritten) is None


def test_init_xor_params_is_reproducible_and_shaped():
    p, q = perceptron_demos.init_xor_params(3), perceptron_demos.init_xor_params(3)
    assert {k: v.shape for k, v in p.items()} == {"W1": (2, 2), "b1": (2,), "W2": (2, 1), "b2": (1,)}
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["W1"], perceptron_demos.init_xor_params(4)["W1"])
    assert perceptron_demos.init_xor_params(0, hidden=3, inputs=4)["W1"].shape == (4, 3)


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND"])
def test_given_gates_follow_the_notebooks_interface(gate):
    f, table = getattr(perceptron_demos, gate), perceptron_demos.TRUTH_TABLES[gate]
    numbers = [f(a, b) for a, b in perceptron_demos.GATE_INPUTS]
    assert numbers == list(table) and all(type(v) is int for v in numbers)
    assert type(f(np.float64(1.0), np.int64(1))) is int
    x1, x2 = perceptron_demos.GATE_INPUTS.T.copy()
    out = f(x1, x2)
    assert type(out) is np.ndarray and out.shape == (4,) and out.dtype.kind == "i"
    assert np.array_equal(out, table) and not np.shares_memory(out, x1)
    one = f(np.array([1.0]), np.array([1.0]))
    assert type(one) is np.ndarray and one.shape == (1,)


def test_sigmoid_is_exact_and_never_overflows():
    z = np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        s = perceptron_demos.sigmoid(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert np.allclose(s[1:4], 1 / (1 + np.exp(-z[1:4])), rtol=1e-14, atol=0)
    assert perceptron_demos.sigmoid(np.array([[0.0]])).shape == (1, 1)


def test_decision_line_counts_points_on_the_right_side_with_a_strict_threshold():
    ax = perceptron_demos.plot_decision_line(0.5, 0.5, -0.7, perceptron_demos.TRUTH_TABLES["AND"])
    assert ax.get_title().endswith("4/4 points right")
    ax = perceptron_demos.plot_decision_line(1.0, 1.0, -1.0, perceptron_demos.TRUTH_TABLES["OR"])
    assert ax.get_title().endswith("2/4 points right")   # (0, 1) and (1, 0) sit on the line: output 0
    assert ax.get_xlabel() == "x1" and ax.get_ylabel() == "x2"


def test_gate_explorer_has_sliders_for_w1_w2_b_and_a_gate_dropdown():
    widget = perceptron_demos.decision_line_explorer()
    controls = widget.children[1].children
    assert [c.description for c in controls] == ["gate", "w1", "w2", "b (bias)"]
    assert isinstance(controls[0], W.Dropdown) and "XOR" in controls[0].options


def test_regions_and_final_losses_pictures():
    ax = perceptron_demos.plot_decision_regions(lambda P: (P[:, 0] > 0.5).astype(float))
    assert ax.get_title() and ax.get_xlabel() == "x1"
    ax = perceptron_demos.plot_final_losses([0, 1, 2], [0.01, 0.35, 0.02], solved=[True, False, True])
    assert ax.get_title() == "2 of 3 seeds solve XOR"
    fig = perceptron_demos.plot_gate_lines({"AND": (0.5, 0.5, -0.7)}, gates=["AND", "XOR"])
    assert fig.axes[1].get_title() == "XOR: no single line works"
