"""Pictures and widgets for 03_chain_rule: the shapes of the layer s = u^T f(Wx + b).

The layer: x has n entries, W is (m, n), b, z = Wx + b, h = f(z) and u have m entries, s = u^T h is a
number. `plot_shapes` draws every quantity of the forward pass, every Jacobian of the chain rule and
every gradient as a grid of its entries, labelled with its shape. `shape_predictor` asks first: the
student types a shape for the quantity chosen, and only then sees the right one, with its grid.
Shapes only: nothing here computes a value, and no label states a gradient's formula (the exercises
ask for those).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from course.plots import BLUE, GREEN, ORANGE, PURPLE
import ipywidgets as W

from course.widgets import slider, slider_demo

__all__ = ["layer_shapes", "plot_shapes", "shape_checker", "parse_shape", "shape_verdict", "shape_predictor"]

# (group, name, shape as a function of n and m, what it is)
_QUANTITIES = [
    ("forward", "x", lambda n, m: (n,), "input"),
    ("forward", "W", lambda n, m: (m, n), "weights"),
    ("forward", "b", lambda n, m: (m,), "bias"),
    ("forward", "z = Wx + b", lambda n, m: (m,), "pre-activation"),
    ("forward", "h = f(z)", lambda n, m: (m,), "activation"),
    ("forward", "u", lambda n, m: (m,), "output weights"),
    ("forward", "s = uᵀh", lambda n, m: (), "score (a number)"),
    ("Jacobian", "∂s/∂h", lambda n, m: (1, m), "1 output, m inputs"),
    ("Jacobian", "∂h/∂z = diag(f'(z))", lambda n, m: (m, m), "m outputs, m inputs"),
    ("Jacobian", "∂z/∂x", lambda n, m: (m, n), "m outputs, n inputs"),
    ("Jacobian", "∂z/∂b = I", lambda n, m: (m, m), "m outputs, m inputs"),
    ("Jacobian", "∂s/∂W, Jacobian form", lambda n, m: (1, m * n), "1 output, m·n inputs"),
    ("gradient", "δ = u ⊙ f'(z)", lambda n, m: (m,), "error signal at z"),
    ("gradient", "∂s/∂b = δ", lambda n, m: (m,), "shape of b"),
    ("gradient", "∂s/∂W", lambda n, m: (m, n), "shape of W"),
    ("gradient", "∂s/∂x", lambda n, m: (n,), "shape of x"),
    ("gradient", "∂s/∂u", lambda n, m: (m,), "shape of u"),
]
_COLOURS = {"forward": BLUE, "Jacobian": PURPLE, "gradient": GREEN}


def layer_shapes(n, m):
    """[(group, name, shape, what it is)] for every quantity of the layer with n inputs and m units;
    group is "forward", "Jacobian" or "gradient", shape a tuple (() for the number s)."""
    if n < 1 or m < 1:
        raise ValueError(f"n and m must be at least 1, got n={n}, m={m}")
    return [(group, name, shape(n, m), what) for group, name, shape, what in _QUANTITIES]


def _grid(shape):
    """(rows, columns) to draw: a vector of k entries is a column of k cells, a number one cell."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], 1
    return shape


def plot_shapes(n, m, *, max_cells=12):
    """The still picture of the shape checker: one panel per group (forward pass, Jacobians,
    gradients), each quantity drawn as a grid of its entries with its name and shape below it.
    Grids wider or taller than max_cells cells are drawn cut off, with the true shape in the label."""
    rows = layer_shapes(n, m)
    groups = ["forward", "Jacobian", "gradient"]
    fig, axes = plt.subplots(3, 1, figsize=(12.5, 8.6))
    for ax, group in zip(axes, groups):
        items = [r for r in rows if r[0] == group]
        x0 = 0.0
        tallest = 1
        cells = []
        for _, name, shape, what in items:
            r, c = _grid(shape)
            dr, dc = min(r, max_cells), min(c, max_cells)
            tallest = max(tallest, dr)
            cells += [Rectangle((x0 + j, -i - 1), 0.9, 0.9) for i in range(dr) for j in range(dc)]
            if (dr, dc) != (r, c):
                ax.text(x0 + dc / 2, -dr - 0.2, "…", ha="center", va="top", fontsize=12, color=ORANGE)
            label = f"{name}\nshape {shape}" + ("" if shape else " (a number)")
            ax.text(x0 + dc / 2, 0.5, label, ha="center", va="bottom", fontsize=8.5)
            x0 += max(dc, 4.5) + 1.5
        ax.add_collection(PatchCollection(cells, facecolor=_COLOURS[group], alpha=0.75, edgecolor="none"))
        ax.set_xlim(-0.5, x0)
        ax.set_ylim(-min(tallest, max_cells) - 1.2, 2.6)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title({"forward": "forward pass", "Jacobian": "Jacobians of the chain rule",
                      "gradient": "gradients (shape convention: the shape of the parameter)"}[group],
                     loc="left", fontsize=10, color=_COLOURS[group])
    fig.suptitle(f"s = uᵀ f(Wx + b) with n = {n} inputs and m = {m} hidden units:  "
                 f"∂s/∂x = ∂s/∂h · ∂h/∂z · ∂z/∂x = (1×{m})({m}×{m})({m}×{n}) = (1×{n})", fontsize=10.5)
    fig.tight_layout()
    return fig


def shape_checker(n=3, m=2, *, n_range=(1, 8), m_range=(1, 8)):
    """Sliders for n and m; the picture of every intermediate's shape redraws."""
    controls = {"n": slider("inputs n", n, n_range[0], n_range[1], 1),
                "m": slider("hidden units m", m, m_range[0], m_range[1], 1)}
    return slider_demo(lambda n, m: plot_shapes(n, m), controls,
                       caption="Move n and m: which shapes change with n, which with m, which never?")


def parse_shape(text):
    """A typed shape such as "(3, 2)", "3, 2", "(3,)", "3" or "()" as a tuple of ints; None if it is
    not one (words, negative or fractional sizes)."""
    cleaned = str(text).strip().strip("()[] ")
    if cleaned == "":
        return () if str(text).strip() in ("()", "[]") else None
    parts = [p.strip() for p in cleaned.split(",") if p.strip() != ""]
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def shape_verdict(name, prediction, n, m):
    """The text the predictor shows for `prediction` (what the student typed) of quantity `name` in
    the layer with n inputs and m units: a request to predict first, a note that the text is not a
    shape, or right / not right with the true shape and why."""
    shapes = {q: (shape, what) for _, q, shape, what in layer_shapes(n, m)}
    if name not in shapes:
        raise ValueError(f"unknown quantity {name!r}; choose one of {sorted(shapes)}")
    shape, what = shapes[name]
    if str(prediction).strip() == "":
        return f"{name} with n = {n}, m = {m}: type your prediction (e.g. (3, 2)) and press Enter."
    guess = parse_shape(prediction)
    if guess is None:
        return f"{name}: cannot read {str(prediction)[:30]!r} as a shape; write it as (3, 2), (3,) or ()."
    if guess == shape:
        return f"{name} with n = {n}, m = {m}: right, shape {shape} ({what})."
    hint = " (that is the transpose)" if len(shape) == 2 and guess == shape[::-1] else ""
    return f"{name} with n = {n}, m = {m}: you said {guess}{hint}; it is {shape} ({what})."


def _draw_one(name, n, m):
    """The grid of quantity `name`'s entries, labelled with its shape."""
    shape = {q: s for _, q, s, _ in layer_shapes(n, m)}[name]
    rows, cols = _grid(shape)
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    cells = [Rectangle((j, -i - 1), 0.9, 0.9) for i in range(min(rows, 12)) for j in range(min(cols, 12))]
    ax.add_collection(PatchCollection(cells, facecolor=GREEN, alpha=0.75, edgecolor="none"))
    ax.set_xlim(-0.5, max(min(cols, 12), 4) + 0.5)
    ax.set_ylim(-min(rows, 12) - 0.5, 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{name}: shape {shape}" + (" (a number)" if shape == () else ""), fontsize=10)
    return fig


def shape_predictor(n=3, m=2, *, quantity="∂s/∂W"):
    """Predict, then see: sliders for n and m, a dropdown of the layer's quantities, a text box for
    the predicted shape. The output shows the verdict and the quantity's grid only once a prediction
    has been typed (Enter)."""
    names = [q for _, q, _, _ in layer_shapes(1, 1)]
    controls = {"n": slider("inputs n", n, 1, 8, 1), "m": slider("hidden units m", m, 1, 8, 1),
                "name": W.Dropdown(options=names, value=quantity, description="quantity",
                                   style={"description_width": "110px"}),
                "prediction": W.Text(value="", description="your shape", placeholder="(m, n)?",
                                     continuous_update=False, style={"description_width": "110px"})}

    def show(n, m, name, prediction):
        print(shape_verdict(name, prediction, n, m))
        if str(prediction).strip() and parse_shape(prediction) is not None:
            _draw_one(name, n, m)
            plt.show()

    out = W.interactive_output(show, controls)
    caption = W.HTML("<b>Choose a quantity, type the shape you expect, press Enter: then the widget shows it.</b>")
    return W.VBox([caption, W.VBox(list(controls.values())), out])
