"""Unit tests of course.jacobian_demos (02) and course.chain_rule_demos (03): the pictures draw what
they say, the widgets have their controls, and an unwritten exercise gives a note, not an error."""
import ipywidgets as W
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course import chain_rule_demos, jacobian_demos

matplotlib.use("Agg")


def unwritten(*args):
    raise NotImplementedError()


def controls(box):
    """Every value widget inside a VBox tree."""
    found = []
    for child in box.children:
        if isinstance(child, W.Box):
            found += controls(child)
        elif isinstance(child, (W.Dropdown, W.IntSlider, W.FloatSlider, W.FloatLogSlider)):
            found.append(child)
    return found


def test_layer_shapes_for_a_non_square_layer():
    shapes = {name: shape for _, name, shape, _ in chain_rule_demos.layer_shapes(4, 2)}
    assert shapes["x"] == (4,) and shapes["W"] == (2, 4) and shapes["s = uᵀh"] == ()
    assert shapes["∂s/∂W"] == (2, 4) and shapes["∂s/∂W, Jacobian form"] == (1, 8)
    assert shapes["∂s/∂x"] == (4,) and shapes["∂z/∂x"] == (2, 4) and shapes["∂h/∂z = diag(f'(z))"] == (2, 2)
    with pytest.raises(ValueError):
        chain_rule_demos.layer_shapes(0, 3)


@pytest.mark.parametrize("n, m", [(2, 3), (7, 1), (20, 4)])
def test_plot_shapes_draws_one_cell_per_entry_up_to_the_cut(n, m):
    fig = chain_rule_demos.plot_shapes(n, m)
    cells = sum(len(c.get_paths()) for ax in fig.axes for c in ax.collections)
    expected = 0
    for _, _, shape, _ in chain_rule_demos.layer_shapes(n, m):
        rows, cols = chain_rule_demos._grid(shape)
        expected += min(rows, 12) * min(cols, 12)
    assert cells == expected
    assert f"n = {n}" in fig._suptitle.get_text() and f"m = {m}" in fig._suptitle.get_text()
    plt.close(fig)


def test_shape_checker_has_a_slider_for_n_and_one_for_m():
    values = {c.description: c for c in controls(chain_rule_demos.shape_checker(n=3, m=2))}
    assert values["inputs n"].value == 3 and values["hidden units m"].value == 2


def test_no_label_of_the_shape_pictures_states_a_graded_gradient():
    # 03 asks for ds/dW, ds/dx and ds/du: the pictures show their shapes, never their formulas
    names = [name for _, name, _, _ in chain_rule_demos.layer_shapes(3, 2)]
    for name in names:
        if name.startswith(("∂s/∂W", "∂s/∂x", "∂s/∂u")):
            assert "=" not in name, name


def test_shape_predictor_asks_before_it_shows():
    verdict = chain_rule_demos.shape_verdict
    assert "type your prediction" in verdict("∂s/∂W", "", 3, 2) and "(2, 3)" not in verdict("∂s/∂W", "", 3, 2)
    assert "right, shape (2, 3)" in verdict("∂s/∂W", " (2,3) ", 3, 2)
    assert "transpose" in verdict("∂s/∂W", "(3, 2)", 3, 2) and "it is (2, 3)" in verdict("∂s/∂W", "(3, 2)", 3, 2)
    assert "cannot read" in verdict("∂s/∂x", "x", 3, 2)
    assert "right" in verdict("s = uᵀh", "()", 4, 1) and "right" in verdict("∂s/∂x", "(4,)", 4, 1)
    assert chain_rule_demos.parse_shape("3, -2") is None and chain_rule_demos.parse_shape("[5]") == (5,)
    with pytest.raises(ValueError):
        verdict("no such thing", "(1,)", 2, 2)


def test_shape_predictor_has_sliders_a_dropdown_and_a_text_box():
    box = chain_rule_demos.shape_predictor(n=4, m=3)
    inner = [c for c in box.children if isinstance(c, W.Box)][0].children
    kinds = {type(c).__name__: c for c in inner}
    assert kinds["Dropdown"].value == "∂s/∂W" and kinds["Text"].value == ""
    assert [c.value for c in inner if isinstance(c, W.IntSlider)] == [4, 3]


def test_plot_jacobian_labels_rows_as_outputs_and_annotates_small_matrices():
    J = np.arange(6.0).reshape(2, 3)
    ax = jacobian_demos.plot_jacobian(J, title="J")
    assert "shape (2, 3)" in ax.get_title() and "m = 2" in ax.get_ylabel() and "n = 3" in ax.get_xlabel()
    assert len(ax.texts) == 6
    plt.close("all")


def test_gallery_with_an_unwritten_jacobian_prints_a_note(capsys):
    assert jacobian_demos.jacobian_gallery({"yours": unwritten, "eye": np.eye}) is None
    assert "not shown yet" in capsys.readouterr().out


def test_activation_gallery_leaves_out_unwritten_derivatives(capsys):
    fig = jacobian_demos.activation_gallery({"tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
                                             "relu": (lambda z: np.maximum(z, 0), unwritten)})
    assert len(fig.axes) == 2 and "not shown yet" in capsys.readouterr().out
    assert [line.get_label() for line in fig.axes[0].lines] == ["tanh"]
    plt.close(fig)


def test_explorers_have_their_dropdowns_and_sliders():
    acts = {"tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2), "id": (lambda z: z, np.ones_like)}
    dropdown = controls(jacobian_demos.activation_explorer(acts))[0]
    assert list(dropdown.options) == ["tanh", "id"]
    parts = controls(jacobian_demos.jacobian_explorer({"eye": np.eye, "ones": lambda n: np.ones((2, n))}, n=4))
    assert [c.description for c in parts] == ["function", "input size n"] and parts[1].value == 4
    plt.close("all")
