"""Pictures and widgets for 02_jacobians: Jacobian heatmaps, and activations beside their derivatives.

Nothing here computes an exercise's answer. The Jacobians, activations and derivatives are passed in
by the notebook (the student's functions, or course.gradcheck's numerical ones), and every call of a
student's function goes through ``run_demo``, so an unwritten exercise shows a note, not an error.

Conventions
- A Jacobian is a 2-D array of shape (m, n): row i is output i, column j is input j.
- ``jacobians`` maps a label to a function of one int n (the size of the input) that returns a Jacobian.
- ``activations`` maps a name to a pair (f, fprime) of elementwise functions of a float array.
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from course.plots import BLUE, GREEN, GREY, ORANGE, PURPLE, RED, run_demo
from course.widgets import slider, slider_demo

__all__ = ["plot_jacobian", "jacobian_gallery", "jacobian_explorer", "plot_activation",
           "activation_gallery", "activation_explorer"]


def plot_jacobian(J, *, ax=None, title="Jacobian", annotate=None, colorbar=True):
    """Heatmap of a Jacobian J of shape (m, n): blue negative, red positive, white 0.

    Entries are written in the cells when there are at most 64 of them (or when annotate=True).
    Returns the axes.
    """
    J = np.atleast_2d(np.asarray(J, dtype=float))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    scale = float(np.max(np.abs(J))) or 1.0
    image = ax.imshow(J, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    m, n = J.shape
    if annotate or (annotate is None and J.size <= 64):
        for (i, j), value in np.ndenumerate(J):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 * scale else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(m))
    ax.set_xlabel(f"input j (n = {n})")
    ax.set_ylabel(f"output i (m = {m})")
    ax.set_title(f"{title}\nshape {J.shape}", fontsize=10)
    ax.grid(False)
    if colorbar:
        plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def jacobian_gallery(jacobians, n=6):
    """One heatmap per entry of `jacobians` (label -> function of n), side by side: the still
    picture of ``jacobian_explorer``. Returns the figure (None, with a note, if one is unwritten)."""
    def draw():
        matrices = [(label, make(n)) for label, make in jacobians.items()]
        fig, axes = plt.subplots(1, len(matrices), figsize=(4.3 * len(matrices), 3.9), squeeze=False)
        for ax, (label, J) in zip(axes.flat, matrices):
            plot_jacobian(J, ax=ax, title=label, annotate=False, colorbar=False)
        fig.suptitle(f"Jacobians for an input of size n = {n} (red positive, blue negative, white 0)")
        fig.tight_layout()
        return fig

    return run_demo(draw)


def jacobian_explorer(jacobians, *, n=5, n_range=(2, 10)):
    """A dropdown choosing a Jacobian (label -> function of n) and a slider for the input size n;
    the heatmap redraws. Elementwise functions show a diagonal, a layer Wx + b shows W."""
    labels = list(jacobians)
    controls = {
        "label": W.Dropdown(options=labels, value=labels[0], description="function",
                            layout=W.Layout(width="420px"), style={"description_width": "110px"}),
        "size": slider("input size n", n, n_range[0], n_range[1], 1),
    }

    def draw(label, size):
        print(f"{label}, input size n = {size}")  # so the output changes even while a note is shown
        _, ax = plt.subplots(figsize=(5.2, 4.4))
        plot_jacobian(jacobians[label](size), ax=ax, title=label)
        return ax

    return slider_demo(draw, controls,
                       caption="Choose a function and a size: which entries of its Jacobian can be non-zero?")


def plot_activation(name, f, fprime, *, axes=None, xlim=(-4.0, 4.0)):
    """Two panels: f(x) on the left, fprime(x) on the right, with the slope of f measured on the
    plotted curve (np.gradient of the samples) dashed over it, so a wrong derivative shows."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
    left, right = axes
    xs = np.linspace(*xlim, 401)
    ys = np.asarray(f(xs), dtype=float)
    left.plot(xs, ys, color=BLUE)
    left.set_title(f"{name}(x)")
    left.set_xlabel("x")
    left.set_ylabel(f"{name}(x)")
    slope = np.gradient(ys, xs)
    right.plot(xs, np.asarray(fprime(xs), dtype=float), color=ORANGE, label=f"your {name}'(x)")
    right.plot(xs, slope, color=GREY, lw=1.2, ls="--", label="slope of the curve on the left")
    right.set_title(f"{name}'(x): the derivative")
    right.set_xlabel("x")
    right.set_ylabel(f"{name}'(x)")
    right.legend(loc="best", fontsize=8)
    return axes


def activation_gallery(activations, xlim=(-4.0, 4.0)):
    """Every activation (name -> (f, fprime)) in one figure: the functions on the left, their
    derivatives on the right with the measured slope of each function dashed over them. The still
    picture of ``activation_explorer``; a derivative not written yet is left out with a note."""
    rows = []
    for name, (f, fprime) in activations.items():
        if run_demo(lambda: fprime(np.linspace(-1.0, 1.0, 3))) is not None:
            rows.append((name, f, fprime))
    if not rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0))
    xs = np.linspace(*xlim, 401)
    for (name, f, fprime), colour in zip(rows, [BLUE, ORANGE, GREEN, PURPLE, RED]):
        ys = np.asarray(f(xs), dtype=float)
        left.plot(xs, ys, color=colour, label=name)
        right.plot(xs, np.asarray(fprime(xs), dtype=float), color=colour, label=f"your {name}'")
        right.plot(xs, np.gradient(ys, xs), color=GREY, lw=1.0, ls="--")
    right.plot([], [], color=GREY, lw=1.0, ls="--", label="measured slopes")
    left.set_title("activations f(x)")
    right.set_title("their derivatives f'(x)")
    for ax, label in ((left, "f(x)"), (right, "f'(x)")):
        ax.set_xlabel("x")
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def activation_explorer(activations, *, xlim=(-4.0, 4.0)):
    """A dropdown of activations (name -> (f, fprime)); the function and its derivative redraw side by
    side, with the measured slope of f dashed over the derivative."""
    names = list(activations)
    controls = {"name": W.Dropdown(options=names, value=names[0], description="activation",
                                   layout=W.Layout(width="420px"), style={"description_width": "110px"})}

    def draw(name):
        f, fprime = activations[name]
        _, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
        plot_activation(name, f, fprime, axes=axes, xlim=xlim)
        plt.tight_layout()
        return axes

    return slider_demo(draw, controls,
                       caption="Pick an activation: where is its derivative largest? where is it 0?")
