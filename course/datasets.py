"""Small data sets the course generates itself (seeded, so every run and every student sees the same).

make_spiral: the classic 2-D "spiral arms" classification problem. No straight line separates the
classes, so a linear classifier fails and a network with one hidden layer succeeds: the data set of
notebooks 07_softmax_with_loss and 08_training_tips.
"""
from __future__ import annotations

import numpy as np

__all__ = ["make_spiral", "train_test_split"]


def make_spiral(n_per_class=100, n_classes=3, *, noise=0.2, turns=1.0, seed=0):
    """Points on `n_classes` interleaved spiral arms in the plane.

    Arm k starts at the origin and winds outwards: point i of it has radius r = i / (n - 1) and angle
    theta = 2 pi k / n_classes + 4 * turns * r + noise * normal(); it is (r sin theta, r cos theta).

    n_per_class: points per class (int >= 2); n_classes: number of classes (int >= 2);
    noise: standard deviation of the angle's noise, in radians (>= 0); seed: the generator's seed.
    Returns (X, y): X float64 (n_per_class * n_classes, 2), coordinates within [-1, 1];
    y int64 (n_per_class * n_classes,), the class 0 .. n_classes - 1 of each row (grouped by class).
    """
    if int(n_per_class) != n_per_class or n_per_class < 2:
        raise ValueError(f"n_per_class must be an integer >= 2, got {n_per_class!r}")
    if int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    n_per_class, n_classes = int(n_per_class), int(n_classes)
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    X = np.empty((n_per_class * n_classes, 2))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    for k in range(n_classes):
        theta = 2 * np.pi * k / n_classes + 4 * turns * radius + noise * rng.normal(size=n_per_class)
        rows = slice(k * n_per_class, (k + 1) * n_per_class)
        X[rows, 0] = radius * np.sin(theta)
        X[rows, 1] = radius * np.cos(theta)
    return X, y


def train_test_split(X, y, test_fraction=0.25, *, seed=0):
    """A seeded random split of the rows of X (N, D) and y (N,) into (X_train, y_train, X_test, y_test).

    test_fraction: the share of rows held out (0 < test_fraction < 1); at least one row on each side.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = min(max(1, round(test_fraction * len(X))), len(X) - 1)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]
