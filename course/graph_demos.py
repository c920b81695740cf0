"""Computation graphs drawn with matplotlib, and a stepper that walks a backward pass node by node
(notebook 05_backprop_graphs).

A *graph node* here is any object with the attributes of a micrograd-style ``Value``:
``data`` (a float), ``grad`` (a float), ``_prev`` (the set of its children: the nodes it was computed
from), ``_op`` (a short string such as "+" or "*", "" for an input) and optionally ``label``.
The student's ``Value`` is one; ``Node`` below is a plain record with the same attributes, for
pictures of graphs whose numbers are written by hand.

Nothing here computes a gradient. The stepper *records* what the student's own ``backward()`` does:
it wraps every node's ``_backward`` so that each call takes a snapshot of all gradients, then
replays the snapshots one at a time. For a hand-written graph it reveals the given gradients in a
given order.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch

from course import plots, widgets

__all__ = ["Node", "graph_nodes", "graph_levels", "draw_graph", "record_backward", "reveal_frames",
           "plot_backward_steps", "backward_stepper"]

_BOX_W, _BOX_H = 1.5, 0.78     # node box size, in layout units
_DX, _DY = 2.6, 1.25           # distance between levels and between nodes of one level
_DONE, _NOW, _TODO = "#d8ecf7", "#ffd27f", "#f2f2f2"


class Node:
    """A hand-built graph node (no arithmetic, no autograd): what ``draw_graph`` needs to draw one.

    data, grad: floats (grad None = not known yet, drawn as "?"); children: the nodes it was
    computed from; op: the operation that produced it ("" for an input); label: its name.
    """

    def __init__(self, label, data, grad=None, children=(), op=""):
        self.label, self.data, self.grad = label, data, grad
        self._prev, self._op = set(children), op
        self._order = tuple(children)  # drawing order of the children (a set has none)

    def __repr__(self):
        return f"Node({self.label!r}, data={self.data}, grad={self.grad})"


def _children(node):
    """The node's children in a stable order (Node keeps its own; a set is sorted by data, label)."""
    if hasattr(node, "_order"):
        return list(node._order)
    return sorted(node._prev, key=lambda c: (str(getattr(c, "label", "")), float(c.data)))


def graph_nodes(root):
    """Every node the root depends on, the root first (a plain traversal; no particular order)."""
    seen, stack, nodes = set(), [root], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(_children(node))
    return nodes


def graph_levels(root):
    """{id(node): level}: 0 for the root, else 1 + the largest level of a node that uses it, so
    every edge goes from a higher level (left in the picture) to a lower one (right)."""
    nodes = graph_nodes(root)
    level = {id(root): 0}
    for _ in range(len(nodes)):  # relax until stable: at most len(nodes) rounds in a DAG
        changed = False
        for node in nodes:
            if id(node) not in level:
                continue
            for child in _children(node):
                if level.get(id(child), -1) < level[id(node)] + 1:
                    level[id(child)] = level[id(node)] + 1
                    changed = True
        if not changed:
            break
    return level


def _positions(root):
    """{id(node): (x, y)}: levels from right (root) to left (inputs), nodes of one level stacked."""
    level = graph_levels(root)
    columns = {}
    for node in graph_nodes(root):
        columns.setdefault(level[id(node)], []).append(node)
    depth = max(columns)
    pos = {}
    for lv, nodes in columns.items():
        for i, node in enumerate(nodes):
            pos[id(node)] = ((depth - lv) * _DX, ((len(nodes) - 1) / 2 - i) * _DY)
    return pos


def _fmt(value):
    if value is None:
        return "?"
    return f"{float(value):.4g}"


def draw_graph(root, *, ax=None, grads=None, highlight=None, done=(), title=None, show_grad=True):
    """Draw the graph of `root`: one box per node (label, data, grad), the operation that made it
    in a circle, arrows in the forward direction (inputs on the left, the output on the right).

    grads: {id(node): grad} to show instead of each node's own .grad (a frame of the stepper).
    highlight: the node drawn in orange (the one whose local gradients are being applied).
    done: nodes drawn in blue (already processed). Returns the axes.
    """
    nodes = graph_nodes(root)
    pos = _positions(root)
    if ax is None:
        width = 2.2 + 1.9 * (max(x for x, _ in pos.values()) / _DX + 1)
        height = 1.6 + 1.1 * max(1, max(abs(y) for _, y in pos.values()) * 2 / _DY + 1)
        _, ax = plt.subplots(figsize=(min(width, 14), min(height, 9)))
    done_ids = {id(n) for n in done}
    for node in nodes:
        x, y = pos[id(node)]
        if node._op:
            ox = x - 0.5 * _BOX_W - 0.42
            ax.add_patch(Circle((ox, y), 0.26, facecolor="white", edgecolor=plots.GREY, zorder=3))
            ax.text(ox, y, node._op, ha="center", va="center", fontsize=9, zorder=4)
            ax.annotate("", (x - 0.5 * _BOX_W, y), (ox + 0.26, y),
                        arrowprops={"arrowstyle": "->", "color": plots.GREY, "lw": 1.0})
            for child in _children(node):
                cx, cy = pos[id(child)]
                ax.annotate("", (ox - 0.26, y), (cx + 0.5 * _BOX_W, cy),
                            arrowprops={"arrowstyle": "->", "color": plots.GREY, "lw": 1.0,
                                        "shrinkA": 0, "shrinkB": 2})
        colour = _NOW if node is highlight else _DONE if id(node) in done_ids else _TODO
        ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H,
                                    boxstyle="round,pad=0.03", facecolor=colour,
                                    edgecolor="black" if node is highlight else plots.GREY, zorder=3))
        label = str(getattr(node, "label", "") or "")
        lines = ([label] if label else []) + [f"data {_fmt(node.data)}"]
        if show_grad:
            grad = grads.get(id(node), node.grad) if grads is not None else node.grad
            lines.append(f"grad {_fmt(grad)}")
        ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=8.5, zorder=4,
                family="monospace")
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - _BOX_W, max(xs) + _BOX_W * 0.7)
    ax.set_ylim(min(ys) - _BOX_H, max(ys) + _BOX_H)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "computation graph: forward (data) left to right, gradients (grad) flow back")
    return ax


def record_backward(root):
    """Run ``root.backward()`` (the student's) and record it: a list of frames (node, grads), one
    before the call (node None) and one after every ``_backward`` call, in the order they happened;
    grads = {id(n): n.grad} for every node of the graph at that moment. Each node's ``_backward``
    is restored afterwards. Errors of the student's code propagate.
    """
    nodes = graph_nodes(root)
    snapshot = lambda: {id(n): n.grad for n in nodes}  # noqa: E731
    frames = [(None, snapshot())]
    originals = {}

    def recorder(node, original):
        def call():
            original()
            frames.append((node, snapshot()))
        return call

    try:
        for node in nodes:
            originals[id(node)] = node.__dict__.get("_backward")
            node._backward = recorder(node, node._backward)
        root.backward()
    finally:
        for node in nodes:
            if originals.get(id(node)) is not None:
                node._backward = originals[id(node)]
            elif id(node) in originals:  # it was a class attribute: drop the instance's wrapper
                del node._backward
    return frames


def reveal_frames(root, order):
    """Frames (as record_backward's) for a hand-built graph whose nodes already hold their final
    gradients: before the pass nothing is known; after processing the k-th node of `order` (from the
    output back to the inputs) a node's gradient is shown once every node that uses it is processed.
    """
    nodes = graph_nodes(root)
    users = {id(n): [] for n in nodes}
    for n in nodes:
        for child in _children(n):
            users[id(child)].append(n)
    frames = [(None, {id(n): None for n in nodes})]
    processed = set()
    for node in order:
        processed.add(id(node))
        shown = {id(n): (n.grad if n is root or (users[id(n)] and
                                                  all(id(u) in processed for u in users[id(n)]))
                         else None) for n in nodes}
        frames.append((node, shown))
    return frames


def _draw_frame(root, frames, step, ax=None, title=None):
    node, grads = frames[step]
    done = [f[0] for f in frames[1:step]]
    if title is None:
        what = "before backward()" if node is None else \
            f"after node {getattr(node, 'label', '') or node._op or 'input'}'s local step"
        title = f"step {step} of {len(frames) - 1}: {what}"
    return draw_graph(root, ax=ax, grads=grads, highlight=node, done=done, title=title)


def plot_backward_steps(root, order, steps=None, *, ncols=2, figsize=None, suptitle=None):
    """A still picture of a backward pass on a hand-built graph: one panel per step in `steps`
    (default: every step), gradients revealed as in reveal_frames. Returns the figure."""
    frames = reveal_frames(root, order)
    steps = list(range(len(frames))) if steps is None else list(steps)
    rows = -(-len(steps) // ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=figsize or (6.2 * ncols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(steps):]:
        ax.set_visible(False)
    for ax, step in zip(axes.flat, steps):
        _draw_frame(root, frames, step, ax=ax)
    fig.suptitle(suptitle or "the backward pass, one node at a time (orange: the node being processed)")
    fig.tight_layout()
    return fig


def backward_stepper(build, *, fallback=None, fallback_order=None):
    """A slider that walks the backward pass one node at a time and redraws the graph.

    build: a function of no arguments returning the output node of a graph built with the student's
    ``Value``; its ``backward()`` is recorded (record_backward) and replayed step by step.
    fallback, fallback_order: a hand-built graph (Node) and its processing order, shown (with a
    note) while the student's ``Value`` cannot run yet, so the slider always has something to show.
    Returns the widget.
    """
    try:
        root = build()
        frames = record_backward(root)
        caption = "Your Value's backward(), one _backward call at a time. Move the step slider."
    except Exception as exc:  # noqa: BLE001  (a demo explains, it never fails)
        note = plots.missing_code_note(exc, what="the stepper on your own engine") or \
            f"(your engine stopped with {type(exc).__name__}: {exc})"
        if fallback is None:
            print(note)
            return None
        print(note + "\nMeanwhile the stepper shows the worked example from the text.")
        root, frames = fallback, reveal_frames(fallback, fallback_order)
        caption = "The worked example's backward pass. Move the step slider."

    def draw(step):
        _draw_frame(root, frames, step)

    controls = {"step": widgets.slider("step", 0, 0, len(frames) - 1, 1)}
    return widgets.slider_demo(draw, controls, caption=caption)
