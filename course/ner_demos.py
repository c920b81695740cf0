"""Plots and widgets of 04_window_ner: data summaries, a most-frequent-tag baseline, training curves,
a confusion matrix, tagged sentences, and a text box that tags what a person types.

Nothing here computes an exercise's answer: the notebook passes in its own functions (the tagger, the
entity F1). The baseline is not an exercise: it is the yardstick the model must beat.
"""
from __future__ import annotations

import html
from collections import Counter, defaultdict

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np

from course import plots
from course.plots import missing_code_note

__all__ = ["plot_batch_notation", "tag_counts", "most_frequent_tag_baseline", "unseen_name_sentences", "plot_training",
           "confusion_counts", "plot_confusion", "format_tagged", "plot_tagged_sentences",
           "tag_explorer"]

# One colour per entity type, for tagged sentences.
TYPE_COLOURS = {"PER": plots.BLUE, "ORG": plots.ORANGE, "LOC": plots.GREEN, "MISC": plots.PURPLE}


def _kind(tag: str):
    return None if tag == "O" else tag.split("-", 1)[-1]


def tag_counts(sentences) -> Counter:
    """Counter of tags over a list of (words, tags) sentences."""
    return Counter(t for _, tags in sentences for t in tags)


def most_frequent_tag_baseline(train_sentences):
    """A tagger that gives each word the tag it had most often in training ("O" for unseen words).

    Returns tag(words) -> list of tags, for a list of words. Ties go to the tag seen first."""
    seen = defaultdict(Counter)
    for words, tags in train_sentences:
        for w, t in zip(words, tags):
            seen[w][t] += 1
    best = {w: c.most_common(1)[0][0] for w, c in seen.items()}
    return lambda words: [best.get(w, "O") for w in words]


def unseen_name_sentences(train_sentences, sentences):
    """Indices of the sentences whose names never occur in training: every capitalised word inside a
    gold entity is absent from the training text (so a model can only use context and shape)."""
    train_words = {w for words, _ in train_sentences for w in words}
    keep = []
    for i, (words, tags) in enumerate(sentences):
        names = [w for w, t in zip(words, tags) if t != "O" and w[:1].isupper()]
        if names and not any(w in train_words for w in names):
            keep.append(i)
    return keep


def plot_training(history, *, title="Training the window tagger"):
    """Two panels: mean training loss per epoch, and dev entity F1 and token accuracy per epoch.

    history: dict with lists "loss", "dev_f1" and "dev_accuracy" (one value per epoch)."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    plots.plot_curves(epochs, {"training loss": np.array(history["loss"])}, ax=left, xlabel="epoch",
                      ylabel="mean cross-entropy", title="loss goes down")
    plots.plot_curves(epochs, {"dev entity F1": np.array(history["dev_f1"]),
                               "dev token accuracy": np.array(history["dev_accuracy"])}, ax=right,
                      xlabel="epoch", ylabel="score", title="dev scores")
    right.set_ylim(0, 1.02)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_counts(gold_sentences, pred_sentences, labels):
    """(len(labels), len(labels)) int array: row = gold tag, column = predicted tag, over all tokens."""
    index = {t: i for i, t in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    for gold, pred in zip(gold_sentences, pred_sentences):
        for g, p in zip(gold, pred):
            counts[index[g], index[p]] += 1
    return counts


def plot_confusion(gold_sentences, pred_sentences, labels, *, normalise=True, ax=None, title=None):
    """Heat map of the token-level confusion matrix (rows gold, columns predicted), row-normalised."""
    counts = confusion_counts(gold_sentences, pred_sentences, labels)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalise else counts
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted tag")
    ax.set_ylabel("gold tag")
    ax.grid(False)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, f"{shown[i, j]:.2f}" if normalise else str(counts[i, j]), ha="center",
                        va="center", fontsize=7, color="white" if shown[i, j] > 0.5 * shown.max() else "black")
    ax.set_title(title or ("confusion matrix (each row sums to 1)" if normalise else "confusion matrix"))
    plt.colorbar(image, ax=ax, fraction=0.046)
    return ax


def format_tagged(words, tags, probs) -> str:
    """A plain-text table: one line per word with its tag and the probability of that tag."""
    width = max([len(w) for w in words] + [4])
    lines = [f"{'word':<{width}}  {'tag':<7} probability"]
    lines += [f"{w:<{width}}  {t:<7} {p:.2f}" for w, t, p in zip(words, tags, probs)]
    return "\n".join(lines)


def plot_tagged_sentences(tagger, sentences, *, title="What the tagger says"):
    """A still picture of `tagger` on a few sentences: each word coloured by its predicted type, with
    the tag's probability under it. tagger(words) -> (tags, probabilities)."""
    fig, ax = plt.subplots(figsize=(11, 0.9 * len(sentences) + 0.6))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(-len(sentences), 0.6)
    for row, sentence in enumerate(sentences):
        words = sentence.split()
        tags, probs = tagger(words)
        x = 0.0
        for w, t, p in zip(words, tags, probs):
            colour = TYPE_COLOURS.get(_kind(t), "black")
            ax.text(x, -row, w, color=colour, fontsize=11, fontweight="bold" if t != "O" else "normal")
            ax.text(x, -row - 0.38, f"{t} {p:.2f}", color=colour, fontsize=7)
            x += max(len(w) * 0.0125, (len(t) + 5) * 0.0075) + 0.015
    handles = [plt.Line2D([], [], color=c, lw=6, label=k) for k, c in TYPE_COLOURS.items()]
    ax.legend(handles=handles, loc="upper right", ncols=4, fontsize=8, frameon=False)
    ax.set_title(title)
    return fig


def _tagger_table(tagger, words) -> str:
    """The text the explorer shows for `words`: the table, or a note and the words if the tagger fails."""
    if not words:
        return "(type a sentence above)"
    try:
        tags, probs = tagger(words)
    except Exception as exc:  # noqa: BLE001  (a demo explains, it never fails)
        if isinstance(exc, NotImplementedError) and str(exc):
            note = f"(no tags yet) {exc}"
        else:
            note = missing_code_note(exc) or f"(tagger stopped) {type(exc).__name__}: {exc}"
        return note + "\nwords: " + " | ".join(words)
    return format_tagged(words, list(tags), list(probs))


def tag_explorer(tagger, *, value="Jordan said the talks in Jordan went well ."):
    """A text box: type a sentence (words separated by spaces) and see each word's tag and its
    probability, updated as you type. tagger(words) -> (tags, probabilities).

    Returns a VBox (caption, text box, HTML output); the output is widget state, so it also updates
    in a browser without a kernel round-trip to an Output area."""
    box = W.Text(value=value, description="sentence:", continuous_update=True,
                 layout=W.Layout(width="650px"), style={"description_width": "80px"})
    shown = W.HTML(layout=W.Layout(min_height="120px"))

    def show(_=None):
        shown.value = "<pre>" + html.escape(_tagger_table(tagger, box.value.split())) + "</pre>"

    box.observe(show, names="value")
    show()
    return W.VBox([W.HTML("<b>Type a sentence; every word gets a tag and its probability.</b>"), box, shown])


def _block(ax, x0, y0, rows, cols, colour, label, *, highlight_row=None, highlight_col=None):
    """Draw a rows x cols grid of cells with its top-left corner at (x0, y0) and a label below it."""
    from matplotlib.patches import Rectangle
    for i in range(rows):
        for j in range(cols):
            on = (highlight_row is not None and i == highlight_row) or (highlight_col is not None and j == highlight_col)
            ax.add_patch(Rectangle((x0 + j, y0 - i - 1), 0.9, 0.9, facecolor=colour,
                                   alpha=0.95 if on else 0.3, edgecolor="none"))
    ax.text(x0 + cols / 2, y0 - rows - 0.4, label, ha="center", va="top", fontsize=9)


def plot_batch_notation(n=4, d=6, m=3):
    """The one picture of the change from single examples (notebooks 01-03) to batches (04 on).

    Left: one example as a column, z = W x + b with W of shape (m, d). Right: n examples as the rows
    of X (n, d), Z = X W + b with W of shape (d, m): the batch's W is the single-example W transposed,
    and row k of Z is example k's z, written as a row. Shapes only; returns the figure.
    """
    if min(n, d, m) < 1:
        raise ValueError(f"n, d and m must be at least 1, got n={n}, d={d}, m={m}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.4), gridspec_kw={"width_ratios": [1, 1.35]})
    top = max(d, n) + 1
    # single example: z (m,) = W (m, d) x (d,) + b
    _block(left, 0, top, m, 1, plots.GREEN, f"z\n({m},)", highlight_row=0)
    left.text(1.6, top - m / 2 - 0.5, "=", fontsize=14, ha="center", va="center")
    _block(left, 2.4, top, m, d, plots.PURPLE, f"W\n({m}, {d})", highlight_row=0)
    _block(left, 3.2 + d, top, d, 1, plots.BLUE, f"x\n({d},)", highlight_col=0)
    left.text(4.8 + d, top - m / 2 - 0.5, "+ b", fontsize=12, ha="left", va="center")
    left.set_title("one example (01-03): a column, z = Wx + b", loc="left", fontsize=10)
    # batch: Z (n, m) = X (n, d) W (d, m) + b
    _block(right, 0, top, n, m, plots.GREEN, f"Z\n({n}, {m})", highlight_row=0)
    right.text(m + 0.6, top - n / 2 - 0.5, "=", fontsize=14, ha="center", va="center")
    _block(right, m + 1.4, top, n, d, plots.BLUE, f"X\n({n}, {d})", highlight_row=0)
    _block(right, m + d + 2.2, top, d, m, plots.PURPLE, f"W\n({d}, {m}) = (the W on the left)ᵀ")
    right.text(2 * m + d + 2.8, top - n / 2 - 0.5, "+ b", fontsize=12, ha="left", va="center")
    right.set_title("a batch (04 on): one example per row, Z = XW + b; b is added to every row",
                    loc="left", fontsize=10)
    for ax in (left, right):
        ax.set_xlim(-0.5, ax.get_xlim()[1] if ax is right else d + 7)
        ax.set_ylim(-1.5, top + 0.8)
        ax.set_aspect("equal")
        ax.axis("off")
    right.set_xlim(-0.5, 2 * m + d + 5.5)
    fig.suptitle("The same layer for one example and for a batch: the highlighted row of Z is the first example's z",
                 fontsize=10.5)
    fig.tight_layout()
    return fig
