"""Unit tests of course.datasets (the seeded spiral) and course.training_demos (training loop, plots,
widgets): shapes, seeding, bad input, and widgets that react when their controls move."""
import ipywidgets as W
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import datasets, training_demos  # noqa: E402


# --- datasets ---------------------------------------------------------------------------------------

def test_spiral_shapes_labels_and_range():
    X, y = datasets.make_spiral(50, 4, noise=0.1, seed=3)
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.shape == (200,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), [50] * 4)
    assert np.all(np.abs(X) <= 1.0 + 1e-12)


def test_spiral_is_seeded():
    a, b, c = (datasets.make_spiral(seed=s) for s in (0, 0, 1))
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


def test_spiral_without_noise_lies_on_the_arms():
    X, y = datasets.make_spiral(20, 3, noise=0.0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[:20], np.linspace(0, 1, 20), atol=1e-12)


@pytest.mark.parametrize("kwargs, phrase", [({"n_per_class": 1}, "n_per_class"), ({"n_classes": 1}, "n_classes"),
                                            ({"noise": -0.1}, "noise"), ({"n_per_class": 2.5}, "n_per_class")])
def test_spiral_bad_input_has_a_clear_message(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        datasets.make_spiral(**kwargs)


def test_train_test_split_partitions_the_rows():
    X, y = datasets.make_spiral(10, 3)
    X_tr, y_tr, X_te, y_te = datasets.train_test_split(X, y, 0.3, seed=1)
    assert len(X_te) == 9 and len(X_tr) == 21 and len(y_tr) == 21
    both = np.vstack([X_tr, X_te])
    assert sorted(map(tuple, both)) == sorted(map(tuple, X))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.train_test_split(X, y, 1.5)
    with pytest.raises(ValueError, match="rows"):
        datasets.train_test_split(X, y[:-1])


# --- a tiny classifier for the training helpers -------------------------------------------------------

class LinearSoftmax:
    """Multinomial logistic regression with the predict / loss / gradient interface of TwoLayerNet."""
    made = 0

    def __init__(self, n_in=2, n_classes=3):
        LinearSoftmax.made += 1
        self.params = {"W": np.zeros((n_in, n_classes)), "b": np.zeros(n_classes)}

    def predict(self, x):
        return x @ self.params["W"] + self.params["b"]

    def _probs(self, x):
        s = self.predict(x)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, x, t):
        return float(-np.mean(np.log(self._probs(x)[np.arange(len(t)), t])))

    def gradient(self, x, t):
        g = self._probs(x)
        g[np.arange(len(t)), t] -= 1
        g /= len(t)
        return {"W": x.T @ g, "b": g.sum(axis=0)}


def sgd(params, grads, lr=0.5):
    for k in params:
        params[k] -= lr * grads[k]


def test_train_classifier_records_and_lowers_the_loss():
    X, y = datasets.make_spiral(30, 3, seed=2)
    history = training_demos.train_classifier(LinearSoftmax(), X, y, sgd, iterations=100, batch_size=16,
                                              X_test=X[:10], y_test=y[:10], record_every=25)
    assert history["iteration"] == [0, 25, 50, 75, 100]
    assert len(history["loss"]) == len(history["train_accuracy"]) == len(history["test_accuracy"]) == 5
    assert history["loss"][-1] < history["loss"][0] and history["stopped"] is None


def test_train_classifier_stops_when_the_loss_blows_up():
    X, y = datasets.make_spiral(30, 3, seed=2)
    history = training_demos.train_classifier(LinearSoftmax(), X, y, lambda p, g: sgd(p, g, lr=1e308),
                                              iterations=200, record_every=1)
    assert history["stopped"] and len(history["iteration"]) < 201


def test_predicted_labels_accepts_scores_or_labels_and_refuses_other_shapes():
    X = np.zeros((4, 2))
    assert training_demos.predicted_labels(lambda x: np.tile([0.1, 0.9], (len(x), 1)), X).tolist() == [1] * 4
    assert training_demos.predicted_labels(lambda x: np.full(len(x), 2), X).tolist() == [2] * 4
    with pytest.raises(ValueError, match="expected scores"):
        training_demos.predicted_labels(lambda x: np.zeros((len(x), 2, 2)), X)


def test_plots_are_labelled():
    X, y = datasets.make_spiral(20, 3)
    net = LinearSoftmax()
    ax = training_demos.plot_decision_regions(net.predict, X, y)
    assert ax.get_xlabel() and ax.get_ylabel() and "accuracy" in ax.get_title()
    history = training_demos.train_classifier(net, X, y, sgd, iterations=20, record_every=10)
    left, right = training_demos.plot_training_curves(history)
    assert left.get_ylabel() and right.get_ylabel() == "accuracy"
    ax = training_demos.plot_activation_histograms([np.random.default_rng(0).normal(size=50)] * 3, title="t")
    assert ax.get_ylabel() == "density" and len(ax.get_legend().get_texts()) == 3
    plt.close("all")


# --- optimiser paths ------------------------------------------------------------------------------------

class PlainStep:
    def __init__(self, lr):
        self.lr = lr

    def update(self, params, grads):
        for k in params:
            params[k] -= self.lr * grads[k]


def test_optimizer_path_follows_update_in_place_and_stops_on_divergence():
    path = training_demos.optimizer_path(PlainStep(0.1), training_demos.valley_gradient, (-7.0, 2.0), 5)
    assert path.shape == (6, 2) and np.array_equal(path[0], [-7.0, 2.0])
    np.testing.assert_allclose(path[1], [-7.0 + 0.07, 2.0 - 0.4])
    exploding = training_demos.optimizer_path(PlainStep(50.0), training_demos.valley_gradient, (-7.0, 2.0), 500)
    assert len(exploding) < 501
    axes = training_demos.plot_optimizer_paths({"plain": path, "exploding": exploding})
    assert "plain" in axes[0].get_title()
    plt.close("all")


# --- widgets respond to their controls -------------------------------------------------------------

def _controls(widget):
    found, stack = [], [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, (W.FloatSlider, W.IntSlider, W.FloatLogSlider, W.Dropdown)):
            found.append(w)
        stack.extend(getattr(w, "children", ()))
    return found


def test_decision_region_explorer_retrains_when_a_slider_moves():
    X, y = datasets.make_spiral(20, 3)
    made = []
    widget = training_demos.decision_region_explorer(lambda h: made.append(h) or LinearSoftmax(), sgd, X, y,
                                                     hidden=4, iterations=5)
    controls = _controls(widget)
    assert len(controls) == 2 and made == [4]
    hidden = next(c for c in controls if c.description == "hidden size")
    hidden.value = 7
    lr = next(c for c in controls if c.description == "learning rate")
    lr.value = 0.1
    assert made == [4, 7, 7]
    plt.close("all")


def test_optimizer_explorer_redraws_for_dropdown_and_slider():
    made = []

    def factory(name):
        return lambda lr: made.append((name, round(lr, 3))) or PlainStep(lr)

    widget = training_demos.optimizer_explorer({"a": factory("a"), "b": factory("b")}, lr=0.1, steps=5)
    dropdown = next(c for c in _controls(widget) if isinstance(c, W.Dropdown))
    dropdown.value = "b"
    slider = next(c for c in _controls(widget) if c.description == "learning rate")
    slider.value = 0.5
    assert made == [("a", 0.1), ("b", 0.1), ("b", 0.5)]
    plt.close("all")
