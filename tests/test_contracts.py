"""course.contracts: each kind of contract breach is caught on a small deliberately wrong function,
with the smallest breaking input in the message; a correct function passes every property."""
import ast
import subprocess
import sys

import numpy as np
import pytest

from course.contracts import Contract, Protocol, arrays, call, choices, instance, keyed, labels


def ref_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


SOFTMAX = Contract("softmax", ref_softmax,
                   args={"x": arrays(("N", "C"), low=-3, high=3, stable=(-1e3, 1e3))},
                   dims={"N": (1, 4), "C": (1, 6)}, edges=[{"N": 1}, {"N": 0}, {"C": 1}])
PROPERTIES = ["check_values", "check_unchanged", "check_new_output", "check_edges", "check_stable",
              "check_dtypes"]


def softmax(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def failure(check, f):
    """The AssertionError message of check(f); fails the test if check(f) passes."""
    with pytest.raises(AssertionError) as caught:
        check(f)
    return str(caught.value)


@pytest.mark.parametrize("prop", PROPERTIES)
def test_a_correct_softmax_passes_every_property(prop):
    getattr(SOFTMAX, prop)(softmax)


def test_a_correct_but_different_softmax_passes_every_property():
    def loop_softmax(x):
        out = np.zeros(x.shape)
        for i in range(x.shape[0]):
            row = np.exp(x[i] - max(x[i]))
            out[i] = row / row.sum()
        return out

    for prop in PROPERTIES:
        getattr(SOFTMAX, prop)(loop_softmax)


# --- (1) an input changed in place -------------------------------------------------------------------

def test_an_array_changed_in_place_is_caught_with_the_smallest_input():
    def shifts_in_place(x):
        x -= x.max(axis=1, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)

    SOFTMAX.check_values(shifts_in_place)  # the values are right: only the unchanged property fails
    msg = failure(SOFTMAX.check_unchanged, shifts_in_place)
    assert msg.startswith("softmax(x): leaves its inputs unchanged: the input x was modified in place")
    # x -= max changes nothing where x is 0 and its row's maximum: the smallest breaking input is 1
    assert "Smallest input found that breaks it: x = array([[1.0]])  (dims N=1, C=1)" in msg


def ref_affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout


AFFINE_BACKWARD = Contract(
    "affine_backward", ref_affine_backward,
    args={"dout": arrays(("N", "M")), "cache": (arrays(("N", "D")), arrays(("D", "M")))},
    dims={"N": (1, 3), "D": (1, 3), "M": (1, 3)}, edges=[{"N": 0}])


def test_an_array_inside_a_cache_tuple_changed_in_place_is_caught():
    def scales_the_cache(dout, cache):
        x, w = cache
        w *= 1.0 + 0.0 * w  # a no-op in value, so the deep comparison must look at every entry
        x[...] = x + 1.0
        return dout @ w.T, x.T @ dout

    msg = failure(AFFINE_BACKWARD.check_unchanged, scales_the_cache)
    assert "the input cache[0] was modified in place (1 of 1 values changed)" in msg
    assert "cache = (array([[0.0]]), array([[0.0]]))" in msg


def test_a_dict_of_arrays_and_an_objects_attributes_are_compared_deeply():
    class Layer:
        def __init__(self, W):
            self.W = W

    def ref_forward(layer, x):
        return x @ layer.W

    def forward_that_decays(layer, x):
        layer.W = layer.W * 0.5  # rebinding the attribute changes the caller's object too
        return x @ (2 * layer.W)

    contract = Contract("Layer.forward", ref_forward,
                        args={"layer": instance(Layer, W=arrays(("D", "H"))), "x": arrays(("N", "D"))},
                        dims={"N": (1, 3), "D": (1, 3), "H": (1, 3)})
    contract.check_values(forward_that_decays)
    msg = failure(contract.check_unchanged, forward_that_decays)
    assert "the input layer.W was modified in place (1 of 1 values changed)" in msg
    assert "layer = Layer(W=array([[" in msg

    def forward_that_caches(layer, x):  # a new attribute is no change of the caller's parameters
        layer.x = x
        return x @ layer.W

    contract.check_unchanged(forward_that_caches)

    def norms(grads):
        return {k: float(np.sqrt(np.sum(g * g))) for k, g in grads.items()}

    def norms_that_clip(grads):
        for g in grads.values():
            np.clip(g, -0.5, 0.5, out=g)
        return norms(grads)

    grads = Contract("grad_norms", norms, args={"grads": keyed({"W": arrays((2, 2)), "b": arrays((2,))})})
    grads.check_unchanged(norms)
    msg = failure(grads.check_unchanged, norms_that_clip)
    assert "was modified in place (1 of" in msg and "Smallest input found that breaks it: grads = {" in msg


# --- (2) an output that is an input or a view of one --------------------------------------------------

def test_an_output_that_is_the_input_or_a_view_of_it_is_caught():
    def relu_in_place(x):
        x[x < 0] = 0
        return x

    def ref_relu(x):
        return np.maximum(x, 0)

    relu = Contract("relu", ref_relu, args={"x": arrays(("N", "D"))}, dims={"N": (1, 3), "D": (1, 3)})
    relu.check_values(relu_in_place)
    msg = failure(relu.check_new_output, relu_in_place)
    assert "returns a new array: the output is the input x itself" in msg
    assert "x = array([[0.0]])" in msg

    def flatten(x):
        return x.reshape(-1)

    flat = Contract("flatten", lambda x: x.reshape(-1).copy(), args={"x": arrays(("N", "D"))},
                    dims={"N": (1, 3), "D": (1, 3)})
    msg = failure(flat.check_new_output, flatten)
    assert "the output shares memory with the input x (a view of it" in msg
    assert "x = array([[0.0]])" in msg


def test_an_output_tuple_holding_a_cache_view_is_caught():
    def forward(x, w):
        return x @ w, (x, w)  # the cache keeps the caller's arrays: allowed by this contract

    def forward_returning_a_view(x, w):
        return x @ w, (x[:], w)

    contract = Contract("affine_forward", lambda x, w: (x @ w, None),
                        args={"x": arrays(("N", "D")), "w": arrays(("D", "M"))},
                        dims={"N": (1, 2), "D": (1, 2), "M": (1, 2)})
    contract.check_values(forward_returning_a_view)
    msg = failure(contract.check_new_output, forward_returning_a_view)
    assert "the output[1][0] shares memory with the input x" in msg


# --- (3) edge shapes ------------------------------------------------------------------------------------

def test_edge_shapes_an_empty_batch_and_a_dimension_of_one_are_caught():
    def global_max(x):
        e = np.exp(x - x.max())
        return e / e.sum(axis=1, keepdims=True)

    msg = failure(SOFTMAX.check_edges, global_max)
    assert "edge shape N=0 (an empty batch): raised ValueError" in msg
    assert "Smallest input found that breaks it: x = an empty array of shape (0, 1)  (dims N=0, C=1)" in msg

    def squeezed(x):
        return np.squeeze(softmax(x))

    msg = failure(SOFTMAX.check_edges, squeezed)
    assert "edge shape N=1 (a dimension of 1): the output has shape (" in msg


def test_a_single_element_returned_as_an_array_where_a_number_is_asked_is_caught():
    def ref_loss(scores, y):
        p = ref_softmax(scores)
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))

    def loss_as_array(scores, y):
        p = softmax(scores)
        return -np.log(p[np.arange(len(y)), y]).mean(keepdims=True)

    loss = Contract("softmax_loss", ref_loss, args={"scores": arrays(("N", "C"), -3, 3),
                                                     "y": labels(("N",), classes="C")},
                    dims={"N": (1, 3), "C": (1, 4)}, edges=[{"N": 1}])
    msg = failure(loss.check_edges, loss_as_array)
    assert "the output is a numpy array; return a Python float" in msg
    assert "y = array([0], dtype=int64)" in msg


# --- (4) magnitudes far from 1 ----------------------------------------------------------------------

def test_a_shift_by_the_minimum_is_exposed_by_a_wide_spread_row():
    def min_shift(x):
        e = np.exp(x - x.min(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    SOFTMAX.check_values(min_shift)  # right on inputs near 1
    msg = failure(SOFTMAX.check_stable, min_shift)
    assert "stable for inputs in the promised range: the output contains NaN" in msg
    shown = msg.split("Smallest input found that breaks it: x = array(")[1].split(")")[0]
    (low, high), = [sorted(row) for row in ast.literal_eval(shown)]  # one row, two entries
    assert 709 < high - low <= 711  # shrunk to a spread just past exp's overflow (e^709.8 is the max)


def test_rows_of_large_negative_entries_and_a_shift_by_the_mean_are_caught():
    def shift_if_positive(x):  # exp underflows to 0 in every entry of a row near -1e3: 0/0
        e = np.exp(x - np.maximum(x.max(axis=1, keepdims=True), 0))
        return e / e.sum(axis=1, keepdims=True)

    def mean_shift(x):  # overflows once a row spreads over about 1400
        e = np.exp(x - x.mean(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    for wrong in (shift_if_positive, mean_shift):
        SOFTMAX.check_values(wrong)
        assert "stable for inputs in the promised range: the output contains NaN" in failure(
            SOFTMAX.check_stable, wrong)


def test_a_warning_is_a_failure_where_the_contract_promises_none():
    def ref_sigmoid_prime(z):
        s = np.exp(-np.logaddexp(0.0, -z))
        return s * (1 - s)

    def warns(z):  # right values (exp(1000) = inf gives 0), with an overflow warning
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)

    args = {"z": arrays(("N",), -5, 5, stable=(-1e3, 1e3))}
    quiet = Contract("sigmoid_prime", ref_sigmoid_prime, args=args, dims={"N": (1, 3)}, no_warnings=True)
    quiet.check_stable(ref_sigmoid_prime)
    quiet.check_values(warns)
    msg = failure(quiet.check_stable, warns)
    assert "raised FloatingPointError: overflow encountered in exp (a numpy warning" in msg
    assert "Smallest input found that breaks it: z = array([-710.0])  (dims N=1)" in msg
    Contract("sigmoid_prime", ref_sigmoid_prime, args=args, dims={"N": (1, 3)}).check_stable(warns)


def test_an_unstable_backward_pass_is_caught():
    def ref_sigmoid_backward(dout, z):
        s = np.exp(-np.logaddexp(0.0, -z))
        return dout * s * (1 - s)

    def naive_backward(dout, z):
        e = np.exp(-z)
        return dout * e / (1 + e) ** 2  # inf / inf = NaN for z below about -355

    backward = Contract("sigmoid_backward", ref_sigmoid_backward,
                        args={"dout": arrays(("N",)), "z": arrays(("N",), -5, 5, stable=(-1e3, 1e3))},
                        dims={"N": (1, 4)})
    backward.check_values(naive_backward)
    msg = failure(backward.check_stable, naive_backward)
    assert "sigmoid_backward(dout, z): stable for inputs in the promised range: the output contains NaN" in msg


def test_a_division_by_an_input_that_can_be_zero_is_caught():
    def ref_log_backward(dout, x):
        return dout / x

    def ref_normalize(x):
        n = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
        return x / np.where(n == 0, 1.0, n)

    def normalize(x):
        return x / np.sqrt(np.sum(x * x, axis=1, keepdims=True))

    contract = Contract("normalize", ref_normalize, args={"x": arrays(("N", "D"))},
                        dims={"N": (1, 3), "D": (1, 3)})
    msg = failure(contract.check_values, normalize)
    assert "contains NaN" in msg and "x = array([[0.0]])" in msg


# --- (6) dtype and generality -------------------------------------------------------------------------

def test_integer_inputs_truncated_by_zeros_like_are_caught():
    def zeros_like_softmax(x):
        out = np.zeros_like(x)
        out[...] = softmax(x.astype(float))
        return out

    SOFTMAX.check_values(zeros_like_softmax)
    msg = failure(SOFTMAX.check_dtypes, zeros_like_softmax)
    assert "accepts integer (int64) inputs: the output has integer dtype int64" in msg
    assert "x = array([[0]], dtype=int64)" in msg


def test_sizes_beyond_the_examples_are_drawn():
    def hard_coded(x):
        if x.shape[1] != 3:
            return np.full(x.shape, 1 / 3)
        return softmax(x)

    msg = failure(SOFTMAX.check_values, hard_coded)
    assert "(dims N=1, C=1)" in msg


def test_dict_keys_beyond_the_examples_are_drawn():
    def ref_step(params, grads):
        return {k: params[k] - 0.1 * grads[k] for k in params}

    def only_w_and_b(params, grads):
        return {k: params[k] - 0.1 * grads[k] for k in ("W", "b")}

    shapes = {"W": arrays((2, 2)), "b": arrays((2,)), "gamma": arrays((2,))}
    step = Contract("sgd_step", ref_step, args={"params": keyed(shapes, group="p"),
                                                "grads": keyed(shapes, group="p")})
    step.check_values(ref_step)
    msg = failure(step.check_values, only_w_and_b)
    assert "raised KeyError" in msg


# --- (5) state across calls -------------------------------------------------------------------------

class RefMomentum:
    def __init__(self, lr=0.1, beta=0.9):
        self.lr, self.beta, self.v = lr, beta, {}

    def update(self, params, grads):
        for k in params:
            self.v[k] = self.beta * self.v.get(k, 0.0) - self.lr * grads[k]
            params[k] += self.v[k]


PARAMS = {"W": arrays(("D", "H")), "b": arrays(("H",)), "gamma": arrays(("H",))}
MOMENTUM = Protocol("Momentum", RefMomentum,
                    [call("update", {"params": keyed(PARAMS, group="p"), "grads": keyed(PARAMS, group="p")},
                          updated=["params"])],
                    dims={"D": (1, 3), "H": (1, 3)})


class Momentum:  # correct, written differently: state made lazily per key, updates not in place
    def __init__(self, lr=0.1, beta=0.9):
        self.lr, self.beta, self.velocity = lr, beta, None

    def update(self, params, grads):
        if self.velocity is None:
            self.velocity = {}
        for name in sorted(params):
            v = self.velocity.setdefault(name, np.zeros(params[name].shape))
            v[...] = self.beta * v - self.lr * grads[name]
            params[name][...] = params[name] + v


def test_a_correct_optimiser_passes_both_state_properties():
    MOMENTUM.check_sequence(Momentum)
    MOMENTUM.check_fresh_object(Momentum)


def test_state_made_for_the_first_calls_keys_only_is_caught():
    class FirstKeysOnly(Momentum):
        def update(self, params, grads):
            if self.velocity is None:
                self.velocity = {k: np.zeros(p.shape) for k, p in params.items()}
            for name in params:
                self.velocity[name] = self.beta * self.velocity[name] - self.lr * grads[name]
                params[name] += self.velocity[name]

    msg = failure(MOMENTUM.check_sequence, FirstKeysOnly)
    assert "keeps the right state across a sequence of calls: call 2 (update) raised KeyError" in msg
    assert "call 1: obj.update(params={'W': array([[0.0]])}, grads={'W': array([[0.0]])})" in msg
    MOMENTUM.check_fresh_object(FirstKeysOnly)  # one mistake, one property


def test_dicts_read_in_another_key_order_are_caught():
    class ByPosition(Momentum):
        def update(self, params, grads):
            if self.velocity is None:
                self.velocity = []
            for i, name in enumerate(params):
                if i == len(self.velocity):
                    self.velocity.append(np.zeros(params[name].shape))
                self.velocity[i] = self.beta * self.velocity[i] - self.lr * grads[name]
                params[name] += self.velocity[i]

    msg = failure(MOMENTUM.check_sequence, ByPosition)
    assert "call 2 (update)" in msg and "call 3" not in msg


def test_a_method_that_breaks_the_next_call_is_caught():
    class DecaysTheRate(Momentum):
        def update(self, params, grads):
            super().update(params, grads)
            self.lr = self.lr / 2

    msg = failure(MOMENTUM.check_sequence, DecaysTheRate)
    assert "after call 2 (update), params['W']" in msg


def test_state_shared_between_objects_is_caught():
    class SharedVelocity(RefMomentum):
        v = {}

        def __init__(self, lr=0.1, beta=0.9):
            self.lr, self.beta = lr, beta

    msg = failure(MOMENTUM.check_fresh_object, SharedVelocity)
    assert "a second object starts fresh" in msg and "class attribute" in msg


def test_a_round_of_several_calls_with_an_input_changed_in_place():
    class RefLayer:
        def forward(self, x):
            self.x = x.copy()
            return np.tanh(x)

        def backward(self, dout):
            return dout * (1 - np.tanh(self.x) ** 2)

    class CachesTheCallersArray(RefLayer):
        def forward(self, x):
            self.x = x
            return np.tanh(x)

        def backward(self, dout):
            out = dout * (1 - np.tanh(self.x) ** 2)
            self.x *= 0  # frees the cache by zeroing it: the caller's x
            return out

    layer = Protocol("Tanh", RefLayer, [call("forward", {"x": arrays(("N", "D"))}),
                                        call("backward", {"dout": arrays(("N", "D"))})],
                     dims={"N": (1, 2), "D": (1, 2)})
    layer.check_sequence(RefLayer)
    msg = failure(layer.check_sequence, CachesTheCallersArray)
    assert "(forward): the input x was modified in place (1 of 1 values changed) during call" in msg
    assert "(backward): work on a copy" in msg


def test_names_beyond_the_examples_are_drawn_from_choices():
    def ref_activate(z, name):
        return {"relu": np.maximum(z, 0), "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z))}[name]

    def knows_two(z, name):
        return np.maximum(z, 0) if name == "relu" else np.tanh(z)

    activate = Contract("activate", ref_activate,
                        args={"z": arrays(("N",)), "name": choices(["relu", "tanh", "sigmoid"])},
                        dims={"N": (1, 3)})
    activate.check_values(ref_activate)
    msg = failure(activate.check_values, knows_two)
    assert "name = 'sigmoid'" in msg


def test_outputs_of_labels_masks_and_tags_are_judged_exactly():
    def ref_predict(scores):
        return np.argmax(scores, axis=1), scores > 0, ["B-PER" if s > 0 else "O" for s in scores[:, 0]]

    def predict_off_by_one_mask(scores):
        return np.argmax(scores, axis=1), scores >= 0, ["B-PER" if s > 0 else "O" for s in scores[:, 0]]

    def predict_float_labels(scores):
        return np.argmax(scores, axis=1).astype(float), scores > 0, ["B-PER" if s > 0 else "O" for s in scores[:, 0]]

    def predict_wrong_tag(scores):
        return np.argmax(scores, axis=1), scores > 0, ["PER" if s > 0 else "O" for s in scores[:, 0]]

    predict = Contract("predict", ref_predict, args={"scores": arrays(("N", "C"))},
                       dims={"N": (1, 3), "C": (1, 3)})
    predict.check_values(ref_predict)
    msg = failure(predict.check_values, predict_off_by_one_mask)
    assert "generated inputs: the output[1] has 1 of 1 entries wrong" in msg
    assert "has float dtype float64: expected integers" in failure(predict.check_values, predict_float_labels)
    assert "is wrong (yours: 'PER')" in failure(predict.check_values, predict_wrong_tag)


# --- messages, determinism, tampering ------------------------------------------------------------------

def test_messages_never_show_the_reference_values():
    def doubled(x):
        return 2 * softmax(x)

    msg = failure(SOFTMAX.check_values, doubled)
    assert "looks scaled by a factor 2" in msg
    assert "0.5" not in msg  # the reference value of the smallest 2-column input


def test_two_runs_give_identical_messages():
    def min_shift(x):
        e = np.exp(x - x.min(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    first, second = failure(SOFTMAX.check_stable, min_shift), failure(SOFTMAX.check_stable, min_shift)
    assert first == second


PROBE = """
import numpy as np
from course.contracts import Contract, arrays
def ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
def min_shift(x):
    e = np.exp(x - x.min(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
c = Contract("softmax", ref, args={"x": arrays(("N", "C"), -3, 3, stable=(-1e3, 1e3))},
             dims={"N": (1, 4), "C": (1, 6)})
for check in (c.check_stable, c.check_unchanged):
    try:
        check(min_shift)
        print("passed")
    except AssertionError as e:
        print(e)
"""


def test_the_same_messages_in_fresh_interpreters_with_other_hash_seeds():
    outputs = [subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout
               for seed in ("1", "2")]
    assert outputs[0] == outputs[1]
    assert "Smallest input found that breaks it: x = array([[0.0, 710.0]])  (dims N=1, C=2)" in outputs[0]
    assert outputs[0].endswith("passed\n")


def test_a_student_patch_of_numpy_after_import_changes_no_verdict(monkeypatch):
    def in_place(x):
        x -= x.max(axis=1, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)

    def min_shift(x):
        e = np.exp(x - x.min(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def aliased(x):
        x[...] = softmax(x)
        return x

    expected = [failure(SOFTMAX.check_unchanged, in_place), failure(SOFTMAX.check_stable, min_shift),
                failure(SOFTMAX.check_new_output, aliased)]
    always = lambda *a, **k: True  # noqa: E731
    never = lambda *a, **k: False  # noqa: E731
    for name, fake in [("array_equal", always), ("allclose", always), ("isclose", always),
                       ("shares_memory", never), ("may_share_memory", never), ("isfinite", always),
                       ("isnan", never), ("abs", lambda a: a * 0), ("all", always), ("any", never),
                       ("array", lambda *a, **k: numpy_array(0.0)), ("asarray", lambda *a, **k: 0.0),
                       ("errstate", None), ("copy", lambda a, *r, **k: a)]:
        monkeypatch.setattr(np, name, fake)
    assert [failure(SOFTMAX.check_unchanged, in_place), failure(SOFTMAX.check_stable, min_shift),
            failure(SOFTMAX.check_new_output, aliased)] == expected
    monkeypatch.undo()
    for prop in PROPERTIES:
        getattr(SOFTMAX, prop)(softmax)


numpy_array = np.array


def test_a_student_patch_of_numpy_does_not_reach_the_reference(monkeypatch):
    genuine_exp = np.exp

    def softmax_with_the_patch(x):  # uniform rows once np.exp is patched: wrong
        e = np.exp(x - np.max(x, axis=1, keepdims=True))
        return e / np.sum(e, axis=1, keepdims=True)

    monkeypatch.setattr(np, "exp", lambda x: genuine_exp(x) * 0 + 1)  # the reference calls np.exp too
    msg = failure(SOFTMAX.check_values, softmax_with_the_patch)
    assert "matches the reference on generated inputs: the output" in msg
    assert np.exp(np.array([5.0]))[0] == 1  # the student's patch is still in place after the check


def test_examples_do_not_depend_on_local_modules_and_nothing_is_written(tmp_path):
    """Hypothesis can draw numbers found in the source of local modules and cache them in
    ./.hypothesis: the contract checks turn that off, so every kernel draws the same examples."""
    (tmp_path / "student_helpers.py").write_text(
        "CONSTANTS = [" + ", ".join(f"{v}.5, -{v}.25" for v in range(700, 760)) + "]\n")
    probe = "import student_helpers\n" + PROBE
    env = {"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path),
           "PYTHONDONTWRITEBYTECODE": "1"}
    with_module = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                 check=True, cwd=tmp_path, env=env).stdout
    plain = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                           cwd=tmp_path, env=env).stdout
    assert with_module == plain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student_helpers.py"]


def test_a_student_patch_of_hypothesis_after_import_changes_no_verdict(monkeypatch):
    import hypothesis
    import hypothesis.strategies as st

    def min_shift(x):
        e = np.exp(x - x.min(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    expected = failure(SOFTMAX.check_stable, min_shift)
    monkeypatch.setattr(hypothesis, "given", lambda *a, **k: (lambda f: (lambda *a, **k: None)))
    monkeypatch.setattr(hypothesis, "settings", lambda *a, **k: (lambda f: f))
    monkeypatch.setattr(st, "floats", lambda *a, **k: st.just(0.0))
    monkeypatch.setattr(st, "lists", lambda *a, **k: st.just([]))
    assert failure(SOFTMAX.check_stable, min_shift) == expected


def test_a_check_that_ran_no_example_fails(monkeypatch):
    import course.contracts as contracts

    monkeypatch.setattr(contracts._h, "given", lambda *a, **k: (lambda f: (lambda: None)))
    assert "ran no example" in failure(SOFTMAX.check_values, softmax)


def test_the_students_printing_and_numpy_warnings_stay_out_of_the_output(capsys):
    def chatty(x):
        print("debugging", x)
        return softmax(x) + np.log(0.0) * 0  # a divide-by-zero warning, and NaN
    with _no_warning():
        msg = failure(SOFTMAX.check_values, chatty)
    assert "contains NaN" in msg
    assert capsys.readouterr() == ("", "")


def _no_warning():
    import warnings
    catcher = warnings.catch_warnings(record=True)

    class Guard:
        def __enter__(self):
            self.seen = catcher.__enter__()
            warnings.simplefilter("always")

        def __exit__(self, *exc):
            catcher.__exit__(*exc)
            assert not self.seen, [str(w.message) for w in self.seen]

    return Guard()


def test_a_wrong_statement_of_the_contract_is_an_error_for_the_author_not_the_student():
    with pytest.raises(ValueError, match="'y' is not an argument of softmax"):
        Contract("softmax", ref_softmax, args={"x": arrays((2, 2))}, unchanged=["y"])
    with pytest.raises(ValueError, match=r"dimension\(s\) \['C'\] used in a shape but not given in dims"):
        Contract("softmax", ref_softmax, args={"x": arrays(("N", "C"))}, dims={"N": 2})
    with pytest.raises(ValueError, match="gives no argument a stable"):
        Contract("softmax", ref_softmax, args={"x": arrays((2, 2))}).check_stable(softmax)
    with pytest.raises(ValueError, match="generated arrays hold at most 1000"):
        Contract("big", ref_softmax, args={"x": arrays((100, 100))}).check_values(softmax)
    broken = Contract("softmax", lambda x: 1 / 0, args={"x": arrays((2, 2))})
    with pytest.raises(ZeroDivisionError) as caught:
        broken.check_values(softmax)
    assert "the contract or its reference is wrong" in caught.value.__notes__[0]


def test_the_usage_guide_runs_as_written():
    import textwrap

    import course.contracts

    guide = course.contracts.__doc__
    example = textwrap.dedent(guide.split("rows summing to 1::\n")[1].split("\nA failure reads")[0])
    namespace = {"np": np, "softmax": softmax}
    exec(compile(example, "usage guide", "exec"), namespace)  # every property passes a correct softmax

    def min_shift(x):
        e = np.exp(x - x.min(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    documented = textwrap.dedent(guide.split("maximum::\n")[1].split("\nWhat can be stated")[0]).strip()
    msg = failure(namespace["_softmax_contract"].check_stable, min_shift)
    first, second = documented.split("\n")
    assert msg.startswith(first.rstrip(". ")) and msg.endswith(second)
