"""Plot helpers the notebooks import: functions and tangents, contours and gradient arrows, descent
paths, loss curves, error-versus-step-size plots, and a guard for demos that call a student's code.

Everything here is plain matplotlib. Nothing here computes an exercise's answer: a helper that
needs a derivative, a gradient, a finite-difference estimate or a descent path takes it as an
argument (a function the notebook or the student wrote, or the values it returned).

Conventions
- A function of one variable takes and returns floats (it may also accept numpy arrays).
- A function of two variables takes one point ``p`` of shape (2,) and returns a float, like the
  losses that ``gradient_descent`` minimises. It is evaluated point by point unless it also works
  on a stacked grid (``p[0]`` and ``p[1]`` being 2-D arrays), which is faster.
- Every helper draws into ``ax`` when one is given, else into a new figure, and returns the axes
  (or the figure, for helpers that make several panels). Axes always have labels and a title.
"""
from __future__ import annotations

import traceback

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "set_style", "missing_code_note", "run_demo",
    "plot_function", "plot_tangent", "plot_contour", "plot_gradient_field",
    "plot_descent_path", "plot_loss_curve", "descent_regime", "descent_summary",
    "compare_learning_rates", "REGIME_COLOURS",
    "plot_error_vs_h", "plot_loglog_errors", "plot_curves",
]

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "lines.linewidth": 2.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

# Colours used consistently across the course (colour-blind friendly).
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#777777"
# The colour of a descent path by how it went (see descent_regime).
REGIME_COLOURS = {"converges": GREEN, "converges slowly": ORANGE, "oscillates": PURPLE,
                   "diverges": RED}


def set_style():
    """The course's plotting defaults (figure size, grid, font sizes). Called by each setup cell."""
    plt.rcParams.update(STYLE)


# --- demos that call the student's code -------------------------------------------------------------

def _innermost_function(exc, *, user_code_only=False):
    """Name of the function in which `exc` was raised (the deepest traceback frame); with
    user_code_only, the deepest frame that is not inside an installed package or this package."""
    frames = traceback.extract_tb(exc.__traceback__)
    if user_code_only:
        here = __file__.rsplit("/", 1)[0]
        frames = [fr for fr in frames
                  if "site-packages" not in fr.filename and not fr.filename.startswith(here)]
    return frames[-1].name if frames else None


def missing_code_note(exc, what="this demo"):
    """A friendly sentence when `exc` says a student's function is not written or not run yet.

    NotImplementedError raised inside ``def name(...)`` -> "implement `name` above ...";
    NameError -> "run the cell that defines `name` ...". Anything else -> None.
    `what` names what the student will see once it works ("this demo", "its curve", ...).
    """
    if isinstance(exc, NotImplementedError):
        name = _innermost_function(exc)
        name = f"`{name}`" if name and not name.startswith("<") else "the exercise"
        return (f"(not shown yet) Implement {name} above and run its cell, "
                f"then run this cell again to see {what}.")
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or str(exc)
        return (f"(not shown yet) `{name}` is not defined: run the cells above "
                f"(the setup cell and the exercise that defines it), then this cell again to see {what}.")
    return None


def run_demo(demo, *args, **kwargs):
    """Call ``demo(*args, **kwargs)`` and return its result; never let a demo cell fail.

    If a student's function is not implemented yet (NotImplementedError) or not defined (NameError),
    print a friendly note instead. If the student's code raises anything else, print one line
    saying which error it raised and where, so "Run All" does not stop at a demo; the exercise's
    own test cells give the details. Returns None when the demo did not run to the end.
    """
    try:
        return demo(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001  (a demo explains, it never fails)
        plt.close("all")  # drop a half-drawn figure
        note = missing_code_note(exc)
        if note is None:
            where = _innermost_function(exc, user_code_only=True)
            where = f" in `{where}`" if where and not where.startswith("<") else ""
            note = (f"(demo stopped) {type(exc).__name__}{where}: {exc}. "
                    "Run the test cells of that exercise to find out what to fix.")
        print(note)
        return None


# --- helpers ----------------------------------------------------------------------------------------

def _axes(ax, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _grid_values(f, xs, ys):
    """f evaluated on the grid xs x ys: Z[i, j] = f([xs[j], ys[i]])."""
    X, Y = np.meshgrid(xs, ys)
    try:
        with np.errstate(all="ignore"):
            Z = np.asarray(f(np.stack([X, Y])), dtype=float)
        if Z.shape == X.shape:
            return X, Y, Z
    except Exception:  # noqa: BLE001  (f only works on single points: evaluate point by point)
        pass
    Z = np.array([[float(f(np.array([x, y]))) for x in xs] for y in ys])
    return X, Y, Z


def _as_path(history):
    """history as a float array of shape (steps + 1, d) with d = 1 or 2."""
    path = np.asarray(history, dtype=float)
    if path.ndim == 1:
        path = path[:, None]
    path = path.reshape(len(path), -1)
    if path.shape[1] not in (1, 2):
        raise ValueError(f"can only draw paths in 1 or 2 dimensions, not {path.shape[1]}")
    return path


def _losses(f, path):
    """f at each row of a (steps + 1, d) path (inf where f overflows)."""
    with np.errstate(all="ignore"):
        return np.array([float(f(p)) for p in path])


# --- one variable -----------------------------------------------------------------------------------

def plot_function(f, xlim, *, ax=None, n=400, label=None, xlabel="x", ylabel="f(x)", title=None,
                  **line_kw):
    """Draw y = f(x) for x in xlim (f is called on a numpy array of n points)."""
    ax = _axes(ax)
    xs = np.linspace(*xlim, n)
    ax.plot(xs, f(xs), label=label, **{"color": BLUE, **line_kw})
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or (label or "f(x)"))
    return ax


def plot_tangent(f, df, x0, *, xlim=(-1.5, 4.5), ylim=None, dx=None, ax=None, name="f",
                 title=None):
    """Draw f, the point (x0, f(x0)) and the tangent line there, whose slope df(x0) is given.

    With dx, also draw the secant through x0 and x0 + dx and report its slope
    (f(x0 + dx) - f(x0)) / dx, which approaches df(x0) as dx shrinks.
    """
    ax = _axes(ax)
    xs = np.linspace(*xlim, 400)
    y0, slope = float(f(x0)), float(df(x0))
    ax.plot(xs, f(xs), color=BLUE, label=f"{name}(x)")
    ax.plot(xs, y0 + slope * (xs - x0), color=ORANGE, lw=1.6,
            label=f"tangent at x = {x0:.2f}: slope {slope:.3g}")
    text = f"{name}'({x0:.2f}) = {slope:.4g}"
    if dx:
        x1 = x0 + dx
        secant = (float(f(x1)) - y0) / dx
        ax.plot(xs, y0 + secant * (xs - x0), color=GREEN, lw=1.2, ls="--",
                label=f"secant to x + {dx:.2g}: slope {secant:.4g}")
        ax.plot([x1], [f(x1)], "o", color=GREEN)
        text += f",  secant slope with step {dx:.2g}: {secant:.4g}"
    ax.plot([x0], [y0], "o", color=RED, zorder=5)
    ax.set_xlim(*xlim)
    if ylim is None:
        ys = f(xs)
        pad = 0.08 * (ys.max() - ys.min() + 1e-12)
        ylim = (ys.min() - pad, ys.max() + pad)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x")
    ax.set_ylabel(f"{name}(x)")
    ax.set_title(title or text)
    ax.legend(loc="upper left")
    return ax


# --- two variables ----------------------------------------------------------------------------------

def plot_contour(f, xlim, ylim, *, ax=None, levels=20, n=120, title=None, xlabel="x₁", ylabel="x₂",
                 colorbar=False):
    """Contour lines of a function of two variables, f(p) with p of shape (2,)."""
    ax = _axes(ax)
    X, Y, Z = _grid_values(f, np.linspace(*xlim, n), np.linspace(*ylim, n))
    cs = ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=1.0)
    if colorbar:
        plt.colorbar(cs, ax=ax, label="f")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "contour lines of f")
    return ax


def plot_gradient_field(f, grad, xlim, ylim, *, ax=None, arrows=9, title=None, **contour_kw):
    """Contours of f with arrows of the gradient grad(p) (given, shape (2,)) on an arrows x arrows grid.

    The arrows point uphill and cross the contour lines at right angles.
    """
    ax = plot_contour(f, xlim, ylim, ax=ax, title=title or "f and its gradient (arrows point uphill)",
                      **contour_kw)
    xs, ys = np.linspace(*xlim, arrows + 2)[1:-1], np.linspace(*ylim, arrows + 2)[1:-1]
    P = np.array([[x, y] for y in ys for x in xs])
    G = np.array([np.asarray(grad(p), dtype=float).reshape(2) for p in P])
    ax.quiver(P[:, 0], P[:, 1], G[:, 0], G[:, 1], color=RED, angles="xy", width=0.004,
              label="gradient")
    ax.legend(loc="upper right")
    return ax


# --- gradient descent -------------------------------------------------------------------------------

def descent_regime(losses, path=None):
    """A word for how a descent went, from its losses (and its path, for oscillation).

    "diverges" (the loss grew or overflowed), "oscillates" (the steps keep reversing direction in
    some coordinate while the loss shrinks), "converges slowly" (less than 90% of the way from the
    start towards the lowest loss 0; meant for bowls whose minimum is 0), else "converges".
    """
    losses = np.asarray(losses, dtype=float)
    if not np.all(np.isfinite(losses)) or losses[-1] > losses[0]:
        return "diverges"
    if path is not None and len(path) > 2:
        steps = np.diff(_as_path(path), axis=0)
        reversals = np.any(steps[1:] * steps[:-1] < 0, axis=1)
        if reversals.mean() >= 0.5:
            return "oscillates"
    if losses[0] > 0 and losses[-1] > 0.1 * losses[0]:
        return "converges slowly"
    return "converges"


def descent_summary(f, history):
    """(path, losses, regime) of a descent: the history as a (steps + 1, d) float array, f at each
    point (inf where it overflowed), and descent_regime's word for it."""
    path = _as_path(history)
    losses = _losses(f, path)
    return path, losses, descent_regime(losses, path)


def plot_descent_path(f, history, *, ax=None, xlim=None, ylim=None, title=None, label=None,
                      color=RED, legend=True):
    """Draw a descent path: history has shape (steps + 1, 1) or (steps + 1,) for one variable (the
    points on the curve f), or (steps + 1, 2) for two (the points over f's contour lines).

    The start is a square, the end a star. Points outside the limits are clipped, so a diverging
    path visibly leaves the picture.
    """
    path = _as_path(history)
    ax = _axes(ax)
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(path), axis=1)
    path = path[finite]
    end = path[-1]
    if path.shape[1] == 1:
        lo, hi = xlim or (min(path.min(), -path.max()) * 1.1, max(path.max(), -path.min()) * 1.1)
        xs = np.linspace(lo, hi, 400)
        ax.plot(xs, [f(np.array([x])) for x in xs], color=BLUE, label="f(x)")
        ys = _losses(f, path)
        ax.plot(path[:, 0], ys, "-o", color=color, ms=4, lw=1, label=label or "descent path")
        ax.plot(path[0, 0], ys[0], "s", color="black", ms=7, label="start")
        ax.plot(path[-1, 0], ys[-1], "*", color=color, ms=13, label="end")
        ax.set_xlim(lo, hi)
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
    else:
        xlim = xlim or (path[:, 0].min() - 1, path[:, 0].max() + 1)
        ylim = ylim or (path[:, 1].min() - 1, path[:, 1].max() + 1)
        plot_contour(f, xlim, ylim, ax=ax)
        ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=3.5, lw=1.2, label=label or "descent path")
        ax.plot(*path[0], "s", color="black", ms=7, label="start")
        ax.plot(*path[-1], "*", color=color, ms=13, label="end")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
    lo, hi = ax.get_xlim()
    outside = not lo <= end[0] <= hi or (path.shape[1] == 2 and not ylim[0] <= end[1] <= ylim[1])
    if outside or not np.all(finite):
        ax.text(0.5, 0.04, "the path left the picture", transform=ax.transAxes, ha="center",
                fontsize=9, color=color, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    ax.set_title(title or "gradient descent path")
    if legend:
        ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_loss_curve(f, history, *, ax=None, label=None, title=None, color=RED):
    """f at each point of a descent path against the step number, on a log scale."""
    path = _as_path(history)
    ax = _axes(ax)
    losses = _losses(f, path)
    shown = np.where(np.isfinite(losses), losses, np.nan)
    positive = np.all(shown[np.isfinite(shown)] > 0)
    ax.plot(np.arange(len(path)), shown, "-o", color=color, ms=3, lw=1.2, label=label)
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("step k")
    ax.set_ylabel("f(x_k)" + (" (log scale)" if positive else ""))
    ax.set_title(title or "loss after each step")
    if label:
        ax.legend()
    return ax


def compare_learning_rates(descent, f, grad_f, x0, lrs, steps, *, xlim=None, ylim=None,
                           ncols=None, figsize=None):
    """One panel per learning rate: the path of ``descent(grad_f, x0, lr, steps)`` over f.

    `descent` is the student's ``gradient_descent``, returning (x_final, history). Each title says
    whether that run converges, oscillates or diverges. Panels are laid out `ncols` per row (all in
    one row by default). Returns the figure (None, with a note printed, if `descent` is not
    implemented yet).
    """
    def draw():
        runs = [(lr, descent(grad_f, np.array(x0, dtype=float), lr, steps)[1]) for lr in lrs]
        cols = ncols or len(lrs)
        rows = -(-len(lrs) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=figsize or (5.0 * cols, 3.7 * rows),
                                 squeeze=False)
        for ax in axes.flat[len(lrs):]:
            ax.set_visible(False)
        for ax, (lr, history) in zip(axes.flat, runs):
            path, _, regime = descent_summary(f, history)
            plot_descent_path(f, path, ax=ax, xlim=xlim, ylim=ylim, legend=ax is axes.flat[0],
                              title=f"lr = {lr:g}: {regime}", color=REGIME_COLOURS[regime])
        fig.suptitle(f"gradient descent: {steps} steps from the same start, one learning rate per panel")
        fig.tight_layout()
        return fig

    return run_demo(draw)


# --- finite differences -----------------------------------------------------------------------------

def plot_loglog_errors(hs, errors, *, ax=None, title=None, mark_h=None, fit_slopes=True):
    """Log-log plot of errors against step sizes: errors maps a label to an array like hs.

    Zero errors (exact up to the last bit) are drawn at 1e-17 so the curve stays visible. With
    fit_slopes, each legend entry also gives the curve's slope over the largest three decades of h
    (where truncation error dominates: about 1 for an error proportional to h, 2 for h**2).
    `mark_h` draws a vertical line at that h.
    """
    ax = _axes(ax, figsize=(6.8, 4.4))
    hs = np.asarray(hs, dtype=float)
    colours = [ORANGE, BLUE, GREEN, PURPLE, RED]
    large = hs >= 1e-3 * hs.max()
    for (label, err), colour in zip(errors.items(), colours):
        err = np.maximum(np.abs(np.asarray(err, dtype=float)), 1e-17)
        if fit_slopes and large.sum() >= 2:
            slope = np.polyfit(np.log10(hs[large]), np.log10(err[large]), 1)[0]
            label = f"{label}: slope {slope:.1f} for large h"
        ax.loglog(hs, err, "-o", ms=2.5, lw=1.5, color=colour, label=label)
    if mark_h:
        ax.axvline(mark_h, color=GREY, lw=1, ls="--")
        ax.annotate(f"h = {mark_h:g}", (mark_h, ax.get_ylim()[0]), fontsize=8, color=GREY,
                    xytext=(3, 4), textcoords="offset points")
    ax.set_xlabel("step size h (log scale)")
    ax.set_ylabel("|estimate − exact derivative| (log scale)")
    ax.set_title(title or "error of finite differences against h")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=9, frameon=False)
    return ax


def plot_error_vs_h(estimators, exact, hs=None, *, ax=None, title=None, mark_h=1e-4, fit_slopes=True):
    """Log-log plot of |estimate(h) - exact| for each estimator, a function of h.

    estimators maps a label to a function of h returning an estimate of one derivative whose exact
    value is `exact`. An estimator that calls a student's unfinished function is left out with a
    note, so the others are still drawn. Returns the axes.
    """
    hs = np.logspace(-13, 0, 53) if hs is None else np.asarray(hs, dtype=float)
    errors = {}
    for label, estimate in estimators.items():
        try:
            values = np.array([float(estimate(h)) for h in hs])
        except Exception as exc:  # noqa: BLE001  (leave this curve out, explain why)
            note = (missing_code_note(exc, what="its curve")
                    or f"(curve left out) {type(exc).__name__}: {exc}")
            print(f"{label}: {note}")
            continue
        errors[label] = values - exact
    return plot_loglog_errors(hs, errors, ax=ax, title=title, mark_h=mark_h, fit_slopes=fit_slopes)


# --- anything else ----------------------------------------------------------------------------------

def plot_curves(x, curves, *, ax=None, xlabel="x", ylabel="y", title="", logx=False, logy=False,
                steps=False):
    """Several curves over the same x: curves maps a label to y values. steps=True draws a staircase
    (for piecewise-constant quantities such as accuracy)."""
    ax = _axes(ax)
    colours = [BLUE, ORANGE, GREEN, PURPLE, RED]
    for (label, y), colour in zip(curves.items(), colours):
        if steps:
            ax.step(x, y, where="mid", color=colour, label=label)
        else:
            ax.plot(x, y, color=colour, label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1 or next(iter(curves), ""):
        ax.legend()
    return ax
