"""Pictures and widgets for 03_chain_rule: the shape checker of the layer s = u^T f(Wx + b).

The layer: x has n entries, W is (m, n), b, z = Wx + b, h = f(z) and u have m entries, s = u^T h is a
number. The shape checker draws every quantity of the forward pass, every Jacobian of the chain rule
and every gradient as a grid of its entries, labelled with its shape, for the n and m a slider gives.
Shapes only: nothing here computes a value, let alone an exercise's answer.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from course.plots import BLUE, GREEN, ORANGE, PURPLE
from course.widgets import slider, slider_demo

__all__ = ["layer_shapes", "plot_shapes", "shape_checker"]

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
    ("gradient", "∂s/∂W = δ xᵀ", lambda n, m: (m, n), "shape of W"),
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
