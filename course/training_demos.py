"""Plots and widgets for training a network: decision regions, training curves, activation
histograms, optimiser trajectories on a contour plot (notebooks 07_softmax_with_loss, 08_training_tips).

Nothing here holds an exercise's answer. The network, its gradient and the parameter update are
passed in by the notebook (the student's TwoLayerNet, an update rule written in the notebook, the
student's optimiser classes); this module only loops, records and draws.

Conventions
- A classifier's ``predict(X)`` takes points X of shape (M, 2) and returns class scores (M, C)
  (any monotone function of the probabilities) or labels (M,).
- ``update(params, grads)`` changes the arrays of the dict ``params`` in place (as the optimisers of
  08 do), so the layers that hold those same arrays see the new values.
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from course import plots
from course.plots import BLUE, GREEN, GREY, ORANGE, PURPLE, RED
from course.widgets import log_slider, slider, slider_demo

__all__ = ["predicted_labels", "plot_decision_regions", "train_classifier", "plot_training_curves",
           "decision_region_explorer", "plot_activation_histograms", "optimizer_path",
           "plot_optimizer_paths", "optimizer_explorer", "valley", "valley_gradient"]

CLASS_COLOURS = [BLUE, ORANGE, GREEN, PURPLE, RED, GREY]


# --- classifiers on 2-D data ----------------------------------------------------------------------

def predicted_labels(predict, X):
    """The class predict(X) chooses for each row of X (M, 2): argmax of scores (M, C), or labels (M,)."""
    out = np.asarray(predict(np.asarray(X, dtype=float)))
    if out.ndim == 2:
        return out.argmax(axis=1)
    if out.ndim == 1 and len(out) == len(X):
        return out.astype(int)
    raise ValueError(f"predict(X) for X of shape {np.shape(X)} returned shape {out.shape}; "
                     "expected scores (M, C) or labels (M,)")


def plot_decision_regions(predict, X, y, *, ax=None, resolution=150, title=None, margin=0.15):
    """Colour the plane by the class predict chooses, with the data points X (N, 2), labels y (N,) on top."""
    ax = ax if ax is not None else plt.subplots(figsize=(5, 5))[1]
    X, y = np.asarray(X, dtype=float), np.asarray(y).astype(int)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    n_classes = int(max(y.max() + 1, 2))
    colours = ListedColormap(CLASS_COLOURS[:n_classes])
    regions = predicted_labels(predict, grid).reshape(gx.shape)
    ax.contourf(gx, gy, regions, levels=np.arange(n_classes + 1) - 0.5, cmap=colours, alpha=0.25)
    for k in range(n_classes):
        ax.scatter(*X[y == k].T, s=14, color=CLASS_COLOURS[k % len(CLASS_COLOURS)],
                   edgecolor="white", linewidth=0.4, label=f"class {k}")
    accuracy = float(np.mean(predicted_labels(predict, X) == y))
    ax.set_title(title or f"decision regions (accuracy on these points {accuracy:.0%})")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="upper right", fontsize=8)
    return ax


def _accuracy(net, X, y):
    return float(np.mean(predicted_labels(net.predict, X) == np.asarray(y)))


def train_classifier(net, X, y, update, *, iterations=1000, batch_size=32, X_test=None, y_test=None,
                     record_every=50, seed=0):
    """Mini-batch training of ``net`` (with predict, loss and gradient, like TwoLayerNet).

    Each iteration draws `batch_size` rows of X (N, D), y (N,) at random (seeded), computes
    ``grads = net.gradient(X_batch, y_batch)`` and calls ``update(net.params, grads)``.
    Every `record_every` iterations (and at the end) it records the loss on the whole training set
    and the accuracies. Returns a history dict of lists: "iteration", "loss", "train_accuracy" and,
    with test data, "test_accuracy". Stops early (and says so in history["stopped"]) if the loss
    becomes NaN or inf.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    rng = np.random.default_rng(seed)
    history = {"iteration": [], "loss": [], "train_accuracy": [], "stopped": None}
    if X_test is not None:
        history["test_accuracy"] = []

    def record(iteration):
        history["iteration"].append(iteration)
        history["loss"].append(float(net.loss(X, y)))
        history["train_accuracy"].append(_accuracy(net, X, y))
        if X_test is not None:
            history["test_accuracy"].append(_accuracy(net, X_test, y_test))

    with np.errstate(all="ignore"):
        record(0)
        for it in range(1, iterations + 1):
            batch = rng.choice(len(X), size=min(batch_size, len(X)), replace=False)
            update(net.params, net.gradient(X[batch], y[batch]))
            if it % record_every == 0 or it == iterations:
                record(it)
                if not np.isfinite(history["loss"][-1]):
                    history["stopped"] = f"the loss became {history['loss'][-1]} at iteration {it}"
                    break
    return history


def plot_training_curves(history, *, axes=None, title=""):
    """Loss (left) and accuracy (right) against the iteration, from a train_classifier history."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    left, right = axes
    its = history["iteration"]
    plots.plot_curves(its, {"training loss": history["loss"]}, ax=left, xlabel="iteration",
                      ylabel="cross-entropy loss", title=f"{title}loss (whole training set)".strip())
    accuracies = {"train": history["train_accuracy"]}
    if "test_accuracy" in history:
        accuracies["test"] = history["test_accuracy"]
    plots.plot_curves(its, accuracies, ax=right, xlabel="iteration", ylabel="accuracy",
                      title=f"{title}accuracy".strip())
    right.set_ylim(0, 1.02)
    return axes


def decision_region_explorer(make_net, update, X, y, *, hidden_sizes=(1, 50), hidden=10, lr=1.0,
                             lr_range=(0.01, 10.0), iterations=300, batch_size=64, X_test=None,
                             y_test=None):
    """Sliders for the hidden size and the learning rate; each move trains a fresh network
    ``make_net(hidden_size)`` for `iterations` mini-batch steps with ``update(params, grads, lr)``
    and draws its decision regions next to its training curves. Keep `iterations` small: the
    training runs at every move (about 0.1-0.3 s for the spiral)."""
    controls = {
        "hidden_size": slider("hidden size", hidden, hidden_sizes[0], hidden_sizes[1], 1,
                              continuous_update=False),
        "lr": log_slider("learning rate", lr, *lr_range, continuous_update=False),
    }

    def draw(hidden_size, lr):
        net = make_net(hidden_size)
        history = train_classifier(net, X, y, lambda p, g: update(p, g, lr), iterations=iterations,
                                   batch_size=batch_size, X_test=X_test, y_test=y_test,
                                   record_every=max(1, iterations // 30))
        fig = plt.figure(figsize=(12, 4))
        regions = fig.add_subplot(1, 3, 1)
        curves = fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3)
        final = history["test_accuracy" if X_test is not None else "train_accuracy"][-1]
        which = "test" if X_test is not None else "train"
        plot_decision_regions(net.predict, X, y, ax=regions,
                              title=f"hidden {hidden_size}, lr {lr:.2g}: {which} accuracy {final:.0%}")
        plot_training_curves(history, axes=curves)
        if history["stopped"]:
            curves[0].set_title(f"diverged: {history['stopped']}", color=RED)
        fig.tight_layout()
        return fig

    return slider_demo(draw, controls, caption=f"Each move trains a new network for {iterations} "
                       "mini-batch steps: how small can the hidden layer be, how large the learning rate?")


# --- initialisation --------------------------------------------------------------------------------

def plot_activation_histograms(activations, *, ax=None, title="", bins=40, value_range=None):
    """The histograms of several layers' outputs in one panel, one outline per layer (lighter = deeper).

    activations: a list of arrays (the outputs of layer 1, 2, ...); the legend gives each layer's
    standard deviation. One panel per initialisation keeps a comparison readable (and fast to draw).
    """
    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.2))[1]
    shades = plt.cm.Blues(np.linspace(1.0, 0.35, max(len(activations), 2)))
    for i, a in enumerate(activations):
        values = np.asarray(a, dtype=float).ravel()
        ax.hist(values, bins=bins, range=value_range, histtype="step", linewidth=1.6, color=shades[i],
                density=True, label=f"layer {i + 1} (std {values.std():.2g})")
    ax.set_xlabel("activation")
    ax.set_ylabel("density")
    ax.set_title(title or "activations by layer")
    ax.legend(fontsize=7)
    return ax


# --- optimisers on a 2-D valley --------------------------------------------------------------------

def valley(p):
    """f(x, y) = x² / 20 + y²: a long, flat valley along x with steep walls along y (minimum at 0)."""
    return p[0] ** 2 / 20.0 + p[1] ** 2


def valley_gradient(p):
    """The gradient (x / 10, 2 y) of `valley`, shape (2,)."""
    return np.array([p[0] / 10.0, 2.0 * p[1]])


def optimizer_path(optimizer, grad_f, x0, steps):
    """The points visited by ``optimizer.update(params, grads)`` from x0 (shape (2,)) in `steps` steps.

    params = {"p": point} and grads = {"p": grad_f(point)}; the optimiser updates params["p"] in place.
    Returns a float array (steps + 1, 2), row 0 = x0. Stops early if the point becomes NaN or inf.
    """
    params = {"p": np.array(x0, dtype=float)}
    path = [params["p"].copy()]
    with np.errstate(all="ignore"):
        for _ in range(steps):
            optimizer.update(params, {"p": grad_f(params["p"].copy())})
            path.append(np.array(params["p"], dtype=float).reshape(2))
            if not np.all(np.isfinite(path[-1])) or np.max(np.abs(path[-1])) > 1e6:
                break
    return np.array(path)


def plot_optimizer_paths(paths, f=valley, *, xlim=(-10, 10), ylim=(-5, 5), axes=None, ncols=None):
    """One panel per optimiser: paths maps a name to its (steps + 1, 2) path, drawn over f's contours."""
    names = list(paths)
    ncols = ncols or min(len(names), 3)
    nrows = -(-len(names) // ncols)
    if axes is None:
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 2.9 * nrows), squeeze=False)
    axes = np.ravel(axes)
    for ax, name in zip(axes, names):
        path = np.asarray(paths[name], dtype=float)
        plots.plot_contour(f, xlim, ylim, ax=ax, levels=np.geomspace(0.05, 30, 12), n=60)
        with np.errstate(all="ignore"):
            shown = path[np.all(np.abs(path) < 1e3, axis=1)]
        ax.plot(shown[:, 0], shown[:, 1], "o-", ms=2.5, lw=1.2, color=RED)
        ax.plot(*path[0], "s", color="black", ms=6, label="start")
        ax.plot(0, 0, "*", color=GREEN, ms=12, label="minimum")
        final = float(f(path[-1])) if np.all(np.isfinite(path[-1])) else float("inf")
        ax.set_title(f"{name}: {len(path) - 1} steps, f = {final:.2g}")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].legend(loc="lower left", fontsize=8)
    return axes


def optimizer_explorer(factories, *, f=valley, grad_f=valley_gradient, x0=(-7.0, 2.0), steps=30,
                       lr=None, lr_range=(0.001, 2.0), xlim=(-10, 10), ylim=(-5, 5)):
    """A dropdown of optimisers and a learning-rate slider: the path of the chosen one on f.

    factories maps a name to a function lr -> optimiser object (with update(params, grads)), e.g.
    {"SGD": lambda lr: SGD(lr)}. lr: the slider's start (default: the range's geometric middle).
    """
    names = list(factories)
    lr = lr if lr is not None else float(np.sqrt(lr_range[0] * lr_range[1]))
    controls = {
        "name": W.Dropdown(options=names, value=names[0], description="optimiser"),
        "lr": log_slider("learning rate", lr, *lr_range, continuous_update=False),
        "n_steps": slider("steps", steps, 1, 200, 1, continuous_update=False),
    }

    def draw(name, lr, n_steps):
        path = optimizer_path(factories[name](lr), grad_f, x0, n_steps)
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.6, 1]})
        plot_optimizer_paths({f"{name}, lr {lr:.2g}": path}, f, xlim=xlim, ylim=ylim, axes=[left])
        with np.errstate(all="ignore"):
            values = np.array([float(f(p)) for p in path])
        right.semilogy(np.arange(len(values)), np.where(np.isfinite(values), values, np.nan), color=RED)
        right.set_xlabel("step")
        right.set_ylabel("f (log scale)")
        right.set_title("f after each step")
        fig.tight_layout()
        return fig

    return slider_demo(draw, controls, caption="Choose an optimiser and move its learning rate.")
