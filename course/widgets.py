"""Slider demos for the notebooks (ipywidgets 8 + matplotlib inline, works in JupyterLab).

``slider_demo`` is the one building block: it shows controls above an ``ipywidgets.Output`` and
re-draws a matplotlib figure into that output whenever a control moves. The explorers below are
built from it. A demo that calls a student's function which is not implemented yet shows a friendly
note in its output instead of failing (``course.plots.run_demo``).

Nothing here computes an exercise's answer: derivatives, gradients and the descent itself are
passed in by the notebook.
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from course import plots
from course.plots import missing_code_note, run_demo  # noqa: F401  (re-exported for notebooks)

__all__ = ["slider", "log_slider", "slider_demo", "tangent_explorer", "descent_explorer",
           "run_demo", "missing_code_note"]

_LAYOUT = W.Layout(width="420px")
_STYLE = {"description_width": "110px"}


def slider(description, value, low, high, step, *, readout_format=".2f", continuous_update=True):
    """A labelled FloatSlider (or IntSlider when value, low, high and step are all ints)."""
    cls = W.IntSlider if all(isinstance(v, int) for v in (value, low, high, step)) else W.FloatSlider
    kwargs = {} if cls is W.IntSlider else {"readout_format": readout_format}
    return cls(value=value, min=low, max=high, step=step, description=description,
               continuous_update=continuous_update, layout=_LAYOUT, style=_STYLE, **kwargs)


def log_slider(description, value, low, high, *, continuous_update=True):
    """A FloatLogSlider from `low` to `high` (both > 0), for step sizes and learning rates."""
    return W.FloatLogSlider(value=value, base=10, min=np.log10(low), max=np.log10(high), step=0.05,
                            description=description, continuous_update=continuous_update,
                            readout_format=".2g", layout=_LAYOUT, style=_STYLE)


def slider_demo(draw, controls, *, caption=None):
    """Controls above an output that re-draws ``draw(**values)`` whenever a control moves.

    draw: a function that draws with matplotlib (into a new figure, or plt.gca()); its keyword
    arguments are the keys of `controls`. controls: dict name -> ipywidgets control (see `slider`,
    `log_slider`). caption: optional text shown above the controls.
    Returns the widget; make it the last expression of a cell to display it. The first figure is
    drawn at once. A NotImplementedError from a student's function becomes a note in the output.
    """
    def redraw(**values):
        run_demo(draw, **values)
        plt.show()

    out = W.interactive_output(redraw, controls)
    parts = ([W.HTML(f"<b>{caption}</b>")] if caption else []) + [W.VBox(list(controls.values())), out]
    return W.VBox(parts)


def tangent_explorer(f, df, *, x=1.0, x_range=(-1.0, 4.0), xlim=(-1.5, 4.5), ylim=None, dx=0.5,
                     dx_range=(0.001, 2.0), name="f"):
    """Slide x along the curve f and see the tangent, whose slope df(x) is given; slide the step
    dx to see the secant slope (f(x + dx) - f(x)) / dx approach the tangent slope."""
    controls = {
        "x0": slider("x", x, x_range[0], x_range[1], 0.05),
        "dx": log_slider("secant step Δx", dx, *dx_range),
    }

    def draw(x0, dx):
        _, ax = plt.subplots(figsize=(7.2, 4.4))
        plots.plot_tangent(f, df, x0, dx=dx, xlim=xlim, ylim=ylim, ax=ax, name=name)
        return ax

    return slider_demo(draw, controls,
                       caption="Move x: the tangent follows. Shrink Δx: the secant turns into the tangent.")


def descent_explorer(descent, f, grad_f, x0, *, lr=0.1, lr_range=(0.01, 0.5), steps=20,
                     steps_range=(1, 60), xlim=None, ylim=None):
    """A learning-rate slider (and a steps slider) for ``descent(grad_f, x0, lr, steps)``, the
    student's gradient_descent returning (x_final, history). Left: the path over f (a curve for one
    variable, contour lines for two). Right: f after each step, log scale. The title says whether
    the run converges, oscillates or diverges."""
    controls = {
        "lr": slider("learning rate η", lr, lr_range[0], lr_range[1], 0.01, continuous_update=False),
        "n_steps": slider("steps", steps, steps_range[0], steps_range[1], 1, continuous_update=False),
    }

    def draw(lr, n_steps):
        _, history = descent(grad_f, np.array(x0, dtype=float), lr, n_steps)
        path, losses, regime = plots.descent_summary(f, history)
        colour = plots.REGIME_COLOURS[regime]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0))
        plots.plot_descent_path(f, path, ax=left, xlim=xlim, ylim=ylim, color=colour,
                                title=f"lr = {lr:.2f}: {regime}")
        plots.plot_loss_curve(f, path, ax=right, color=colour,
                              title=f"f after each step (last: {losses[-1]:.3g})")
        fig.tight_layout()
        return fig

    return slider_demo(draw, controls,
                       caption="Move the learning rate: slow, just right, zig-zag, or blow up?")
