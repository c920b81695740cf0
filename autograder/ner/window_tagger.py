"""The window classifier of CS224N lecture 3, made to work on real text (instructor side).

This is the model the students build in 04_window_ner, with what real CoNLL-2003 text needs on top:

* a lower-cased vocabulary (digits mapped to 0) where words seen fewer than `min_count` times are the
  unknown token, so the unknown vector learns what a rare word looks like in context;
* a capitalisation feature per word (lower, Capitalised, ALLCAPS, has a digit, other, padding), the
  case that lower-casing removed, as a small learned vector concatenated with the word vector;
* ReLU hidden units, dropout on the window and the hidden layer, and Adam.

Shapes: N tokens (windows) in a batch, K = 2 * window + 1 positions, d word-vector size, c case-vector
size, D = K * (d + c) window vector, H hidden units, C tags.

    x = [L[w_1], C[c_1], ..., L[w_K], C[c_K]]   (N, D)
    h = relu(x @ W1 + b1)                         (N, H)
    p = softmax(h @ W2 + b2)                      (N, C)

Everything is vectorised over the batch; the only Python loops are over batches and over sentences
while building windows. Embedding gradients are scattered with `np.add.at` onto the batch's unique
rows, and Adam updates only those rows (a "lazy" Adam: rows not in the batch keep their moments).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

PAD, UNK = "<pad>", "<unk>"
CASES = ("<pad>", "lower", "Capitalised", "ALLCAPS", "digit", "other")
_DIGIT = re.compile(r"\d")


def normalise(word: str) -> str:
    return _DIGIT.sub("0", word.lower())


def case_of(word: str) -> int:
    """Index into CASES of a word's shape."""
    if any(ch.isdigit() for ch in word):
        return 4
    if not any(ch.isalpha() for ch in word):
        return 5
    if word.isupper() and len(word) > 1:
        return 3
    if word[0].isupper():
        return 2
    return 1


@dataclass
class Config:
    window: int = 2
    word_dim: int = 50
    case_dim: int = 5
    hidden: int = 300
    dropout: float = 0.5
    lr: float = 1e-3
    batch_size: int = 128
    min_count: int = 2
    seed: int = 0


@dataclass
class Vocab:
    words: dict = field(default_factory=dict)  # normalised word -> id (0 pad, 1 unknown)
    tags: list = field(default_factory=list)   # id -> tag

    @classmethod
    def build(cls, sentences, min_count: int):
        counts = Counter(normalise(w) for words, _ in sentences for w in words)
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        tags = sorted({t for _, ts in sentences for t in ts} | {"O"})
        return cls({PAD: 0, UNK: 1, **{w: i + 2 for i, w in enumerate(kept)}}, tags)

    def encode(self, sentences):
        """(word ids, case ids, tag ids or -1 for unknown tags, sentence lengths), all flat."""
        words = [w for ws, _ in sentences for w in ws]
        tag_index = {t: i for i, t in enumerate(self.tags)}
        word_ids = np.fromiter((self.words.get(normalise(w), 1) for w in words), np.int64, len(words))
        case_ids = np.fromiter((case_of(w) for w in words), np.int64, len(words))
        tag_ids = np.fromiter((tag_index.get(t, -1) for _, ts in sentences for t in ts), np.int64,
                              len(words))
        lengths = np.array([len(ws) for ws, _ in sentences], dtype=np.int64)
        return word_ids, case_ids, tag_ids, lengths


def windows(ids: np.ndarray, lengths: np.ndarray, window: int, pad: int = 0) -> np.ndarray:
    """(N, 2*window+1) ids of each token's window, padded with `pad` at sentence edges; vectorised:
    each token's offset inside its sentence decides which neighbours exist."""
    n = ids.shape[0]
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    ends = np.repeat(np.cumsum(lengths), lengths)
    position = np.arange(n)
    offsets = np.arange(-window, window + 1)
    where = position[:, None] + offsets[None, :]
    inside = (where >= starts[:, None]) & (where < ends[:, None])
    return np.where(inside, ids[np.clip(where, 0, max(n - 1, 0))], pad)


class WindowTagger:
    """Parameters, forward/backward, Adam, training and prediction of the window model."""

    def __init__(self, vocab: Vocab, config: Config = Config()):
        self.vocab, self.cfg = vocab, config
        rng = np.random.default_rng(config.seed)
        k, d, c = 2 * config.window + 1, config.word_dim, config.case_dim
        n_in, n_tags = k * (d + c), len(vocab.tags)
        self.params = {
            "L": rng.normal(0, 0.1, (len(vocab.words), d)),
            "Cs": rng.normal(0, 0.1, (len(CASES), c)),
            "W1": rng.normal(0, np.sqrt(2.0 / n_in), (n_in, config.hidden)),
            "b1": np.zeros(config.hidden),
            "W2": rng.normal(0, np.sqrt(1.0 / config.hidden), (config.hidden, n_tags)),
            "b2": np.zeros(n_tags),
        }
        self.params["L"][0] = 0.0
        self._m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._t = 0
        self._rng = rng

    # --- the network ------------------------------------------------------------------------------
    def _inputs(self, word_win, case_win):
        p = self.params
        n, k = word_win.shape
        return np.concatenate([p["L"][word_win], p["Cs"][case_win]], axis=2).reshape(n, -1)

    def forward(self, word_win, case_win, train=False):
        """Probabilities (N, C) and the cache for backward."""
        p, drop = self.params, self.cfg.dropout if train else 0.0
        x = self._inputs(word_win, case_win)
        mx = mh = None
        if drop:
            mx = (self._rng.random(x.shape) >= drop) / (1 - drop)
            x = x * mx
        z = x @ p["W1"] + p["b1"]
        h = np.maximum(z, 0.0)
        if drop:
            mh = (self._rng.random(h.shape) >= drop) / (1 - drop)
            h = h * mh
        s = h @ p["W2"] + p["b2"]
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        probs = e / e.sum(axis=1, keepdims=True)
        return probs, (word_win, case_win, x, mx, z, h, mh)

    def backward(self, probs, tag_ids, cache):
        """Mean cross-entropy loss and the gradients; the embedding gradients as (rows, grads)."""
        word_win, case_win, x, mx, z, h, mh = cache
        p, n = self.params, probs.shape[0]
        loss = -np.mean(np.log(probs[np.arange(n), tag_ids] + 1e-12))
        ds = probs.copy()
        ds[np.arange(n), tag_ids] -= 1.0
        ds /= n
        grads = {"W2": h.T @ ds, "b2": ds.sum(axis=0)}
        dh = ds @ p["W2"].T
        if mh is not None:
            dh *= mh
        dz = dh * (z > 0)
        grads["W1"] = x.T @ dz
        grads["b1"] = dz.sum(axis=0)
        dx = dz @ p["W1"].T
        if mx is not None:
            dx *= mx
        k, d = word_win.shape[1], p["L"].shape[1]
        dx = dx.reshape(n, k, -1)
        rows, inverse = np.unique(word_win, return_inverse=True)
        d_rows = np.zeros((rows.shape[0], d))
        np.add.at(d_rows, inverse.reshape(-1), dx[:, :, :d].reshape(-1, d))
        grads["L"] = (rows, d_rows)
        d_case = np.zeros_like(p["Cs"])
        np.add.at(d_case, case_win.reshape(-1), dx[:, :, d:].reshape(-1, dx.shape[2] - d))
        grads["Cs"] = d_case
        return loss, grads

    def adam_step(self, grads, beta1=0.9, beta2=0.999, eps=1e-8):
        self._t += 1
        lr = self.cfg.lr * np.sqrt(1 - beta2 ** self._t) / (1 - beta1 ** self._t)
        for name, g in grads.items():
            param, m, v = self.params[name], self._m[name], self._v[name]
            if name == "L":  # only the rows of the batch (row 0, padding, stays zero)
                rows, g = g
                keep = rows != 0
                rows, g = rows[keep], g[keep]
                m[rows] = beta1 * m[rows] + (1 - beta1) * g
                v[rows] = beta2 * v[rows] + (1 - beta2) * g * g
                param[rows] -= lr * m[rows] / (np.sqrt(v[rows]) + eps)
            else:
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                param -= lr * m / (np.sqrt(v) + eps)

    # --- data -------------------------------------------------------------------------------------
    def encode(self, sentences):
        """(word windows, case windows, tag ids, lengths) of a list of (words, tags) sentences."""
        word_ids, case_ids, tag_ids, lengths = self.vocab.encode(sentences)
        w = self.cfg.window
        return windows(word_ids, lengths, w), windows(case_ids, lengths, w), tag_ids, lengths

    def train_epoch(self, data, on_batch=None) -> float:
        """One pass over encoded `data` in shuffled mini-batches; returns the mean loss."""
        word_win, case_win, tag_ids, _ = data
        keep = np.flatnonzero(tag_ids >= 0)
        order = keep[self._rng.permutation(keep.shape[0])]
        total, size = 0.0, self.cfg.batch_size
        for start in range(0, order.shape[0], size):
            batch = order[start:start + size]
            probs, cache = self.forward(word_win[batch], case_win[batch], train=True)
            loss, grads = self.backward(probs, tag_ids[batch], cache)
            self.adam_step(grads)
            total += loss * batch.shape[0]
            if on_batch:
                on_batch(batch.shape[0])
        return total / max(order.shape[0], 1)

    def predict_ids(self, data, batch_size=4096) -> np.ndarray:
        word_win, case_win = data[0], data[1]
        out = [self.forward(word_win[i:i + batch_size], case_win[i:i + batch_size])[0].argmax(axis=1)
               for i in range(0, word_win.shape[0], batch_size)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def predict(self, sentences):
        """Predicted tag lists, one per sentence (an I- that continues no entity starts one when
        scored with CoNLL semantics, so no repair is needed)."""
        data = self.encode(sentences)
        ids = self.predict_ids(data)
        tags = [self.vocab.tags[i] for i in ids]
        out, start = [], 0
        for n in data[3]:
            out.append(tags[start:start + n])
            start += n
        return out
