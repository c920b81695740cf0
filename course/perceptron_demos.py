"""Pictures and sliders for perceptrons and XOR (notebook 06_perceptron_xor): the four input
points of a two-input gate, a perceptron's decision line over them, a network's decision regions,
and the final loss of many training runs.

Nothing here is an exercise's answer: the gates' truth tables are their definitions (given in the
text); AND, OR and NAND with the book's weights and a stable sigmoid are given code of the notebook
(the sigmoid's derivative is graded in 02); weights for other gates, networks and training runs are
the notebook's.
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from course import plots, widgets

__all__ = ["GATE_INPUTS", "TRUTH_TABLES", "AND", "OR", "NAND", "sigmoid", "init_xor_params", "plot_decision_line", "plot_gate_lines",
           "decision_line_explorer", "plot_decision_regions", "plot_final_losses"]

# The four inputs (x1, x2) of a two-input gate, one per row, and each gate's outputs in that order.
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
TRUTH_TABLES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1]),
                "NAND": np.array([1, 1, 1, 0]), "XOR": np.array([0, 1, 1, 0])}
_LIM = (-0.6, 1.6)


def _gate(w1, w2, b, x1, x2):
    """A two-input perceptron: numbers in, a Python int out; arrays of one shape in, a new int array."""
    y = (w1 * np.asarray(x1) + w2 * np.asarray(x2) + b > 0).astype(int)
    return int(y) if y.ndim == 0 else y


def AND(x1, x2):
    """AND as a perceptron with the book's weights (0.5, 0.5, -0.7) (Deep Learning from Scratch, ch. 2)."""
    return _gate(0.5, 0.5, -0.7, x1, x2)


def OR(x1, x2):
    """OR as a perceptron with the book's weights (0.5, 0.5, -0.2)."""
    return _gate(0.5, 0.5, -0.2, x1, x2)


def NAND(x1, x2):
    """NAND as a perceptron with the book's weights (-0.5, -0.5, 0.7)."""
    return _gate(-0.5, -0.5, 0.7, x1, x2)


def sigmoid(z):
    """1 / (1 + e**(-z)) elementwise as a float array (a float for a number), written so that no exp
    overflows: z = -1000 gives 0.0 without a warning."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))


def init_xor_params(seed, hidden=2, inputs=2):
    """The starting parameters of an inputs-hidden-1 network, the same for the same seed:
    {"W1": (inputs, hidden), "b1": (hidden,), "W2": (hidden, 1), "b2": (1,)}, weights drawn from the
    standard normal distribution with numpy.random.default_rng(seed), biases 0. float64 arrays."""
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0.0, 1.0, (inputs, hidden)), "b1": np.zeros(hidden),
            "W2": rng.normal(0.0, 1.0, (hidden, 1)), "b2": np.zeros(1)}


def _points(ax, targets, X=GATE_INPUTS):
    """Targets 1 as filled circles, 0 as open ones."""
    targets, X = np.asarray(targets), np.asarray(X)
    ones, zeros = X[targets == 1], X[targets == 0]
    ax.scatter(ones[:, 0], ones[:, 1], s=110, color=plots.RED, edgecolor="black", zorder=5,
               label="target 1")
    ax.scatter(zeros[:, 0], zeros[:, 1], s=110, facecolor="white", edgecolor="black", lw=1.6,
               zorder=5, label="target 0")


def plot_decision_line(w1, w2, b, targets, *, X=GATE_INPUTS, ax=None, title=None, legend=True,
                       lim=_LIM):
    """The line w1 x1 + w2 x2 + b = 0 over the points X (N, 2) (default: the four gate inputs),
    the side where it is > 0 (where a perceptron outputs 1) shaded, and how many points land on
    their target's side (targets: N zeros and ones)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.6))
    targets, X = np.asarray(targets), np.asarray(X)
    xs = np.linspace(*lim, 200)
    X1, X2 = np.meshgrid(xs, xs)
    ax.contourf(X1, X2, (w1 * X1 + w2 * X2 + b > 0).astype(float), levels=[-0.5, 0.5, 1.5],
                colors=["white", "#f6d5c8"], alpha=0.9)
    if abs(w2) > 1e-12:
        ax.plot(xs, -(w1 * xs + b) / w2, color=plots.BLUE, label="w1 x1 + w2 x2 + b = 0")
    elif abs(w1) > 1e-12:
        ax.axvline(-b / w1, color=plots.BLUE, label="w1 x1 + w2 x2 + b = 0")
    _points(ax, targets, X)
    outputs = (X @ np.array([w1, w2]) + b > 0).astype(int)
    right = int(np.sum(outputs == targets))
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or f"w = ({w1:.2f}, {w2:.2f}), b = {b:.2f}: {right}/{len(X)} points right")
    if legend:
        ax.legend(loc="upper right", fontsize=7.5, framealpha=0.9)
    return ax


def plot_gate_lines(weights, *, gates=None):
    """A still picture: one panel per gate, weights = {gate: (w1, w2, b)} (gates default to its
    keys in order; a gate with no weights shows its points only). Returns the figure."""
    gates = list(gates or weights)
    fig, axes = plt.subplots(1, len(gates), figsize=(3.9 * len(gates), 4.0), squeeze=False)
    for ax, gate in zip(axes.flat, gates):
        if gate in weights:
            w1, w2, b = weights[gate]
            plot_decision_line(w1, w2, b, TRUTH_TABLES[gate], ax=ax, legend=False,
                               title=f"{gate}: w = ({w1:g}, {w2:g}), b = {b:g}")
        else:
            _points(ax, TRUTH_TABLES[gate])
            ax.set(xlim=_LIM, ylim=_LIM, xlabel="x1", ylabel="x2", aspect="equal",
                   title=f"{gate}: no single line works")
    fig.suptitle("shaded: where w1 x1 + w2 x2 + b > 0 (output 1); filled points: target 1")
    fig.tight_layout()
    return fig


def decision_line_explorer(gate="AND", w1=0.5, w2=0.5, b=-0.7):
    """Sliders for w1, w2, b and a gate dropdown: the decision line over that gate's four points."""
    controls = {
        "gate": W.Dropdown(options=list(TRUTH_TABLES), value=gate, description="gate"),
        "w1": widgets.slider("w1", w1, -1.0, 1.0, 0.05),
        "w2": widgets.slider("w2", w2, -1.0, 1.0, 0.05),
        "b": widgets.slider("b (bias)", b, -1.5, 1.5, 0.05),
    }

    def draw(gate, w1, w2, b):
        plot_decision_line(w1, w2, b, TRUTH_TABLES[gate],
                           title=f"{gate}: w = ({w1:.2f}, {w2:.2f}), b = {b:.2f}: "
                                 f"{int(np.sum((GATE_INPUTS @ np.array([w1, w2]) + b > 0) == TRUTH_TABLES[gate]))}/4 right")

    return widgets.slider_demo(draw, controls,
                               caption="Find weights for each gate. Can any line do XOR?")


def plot_decision_regions(predict, X=GATE_INPUTS, targets=TRUTH_TABLES["XOR"], *, ax=None,
                          title=None, lim=_LIM, n=150):
    """The output of predict (a function of an (M, 2) array returning M numbers in [0, 1]) over
    the plane, with the 0.5 contour (the decision boundary) and the labelled points."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 4.6))
    xs = np.linspace(*lim, n)
    X1, X2 = np.meshgrid(xs, xs)
    Z = np.asarray(predict(np.column_stack([X1.ravel(), X2.ravel()])), dtype=float).reshape(X1.shape)
    filled = ax.contourf(X1, X2, Z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75)
    ax.contour(X1, X2, Z, levels=[0.5], colors="black", linewidths=1.5)
    plt.colorbar(filled, ax=ax, label="network output")
    _points(ax, targets, np.asarray(X))
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "decision regions (black line: output 0.5)")
    return ax


def plot_final_losses(seeds, final_losses, *, solved=None, ax=None, title=None):
    """Final loss of one training run per seed (log scale), solved runs (solved[i] True) in green,
    stuck ones in red."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.8))
    seeds, losses = np.asarray(seeds), np.asarray(final_losses, dtype=float)
    solved = np.ones(len(seeds), bool) if solved is None else np.asarray(solved, bool)
    ax.bar(np.arange(len(seeds))[solved], losses[solved], color=plots.GREEN, label="100% accuracy")
    ax.bar(np.arange(len(seeds))[~solved], losses[~solved], color=plots.RED,
           label="stuck (not all four right)")
    ax.set_xticks(np.arange(len(seeds)), [str(s) for s in seeds], fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("seed of the initial weights")
    ax.set_ylabel("final loss (log scale)")
    ax.set_title(title or f"{int(solved.sum())} of {len(seeds)} seeds solve XOR")
    ax.legend()
    return ax
