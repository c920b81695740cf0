"""04_window_ner outside the notebook: the generated corpus, the CoNLL reader, entity F1 against seqeval,
the instructor's window tagger and its real-data trainer (on generated data), and the demo widgets."""
import json
import random
import re

import numpy as np
import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from autograder.ner import real as ner_real
from autograder.ner.metrics import entity_scores, entity_spans
from autograder.notebooks import cell_by_grade_id, read, source_notebook_path
from autograder.ner.window_tagger import Config, Vocab, WindowTagger, windows
from course import conll, ner_corpus, ner_demos
from course.gradcheck import numerical_gradient

TYPES = ("PER", "ORG", "LOC", "MISC")


# --- the corpus the course ships ---------------------------------------------------------------------

def test_regenerating_the_corpus_gives_the_same_bytes():
    for split, text in ner_corpus.corpus_texts().items():
        assert (ner_corpus.DATA / f"ner_{split}.conll").read_bytes() == text.encode("utf-8"), \
            f"course/data/ner_{split}.conll differs: run `python -m course.ner_corpus` and commit"


@pytest.fixture(scope="module")
def corpus():
    return {split: conll.load_course_corpus(split) for split in ("train", "dev", "test")}


def entities(sentences):
    return [(kind, " ".join(words[a:b])) for words, tags in sentences
            for kind, a, b in sorted(entity_spans(tags), key=lambda s: s[1])]


def test_corpus_size_types_and_multiword_entities(corpus):
    assert [len(corpus[s]) for s in ("train", "dev", "test")] >= [3000, 500, 500]
    assert all(len(corpus[s]) >= n for s, n in (("train", 3000), ("dev", 500), ("test", 500)))
    for split, sentences in corpus.items():
        found = entities(sentences)
        assert {k for k, _ in found} == set(TYPES), split
        multi = [name for _, name in found if " " in name]
        assert len(multi) > 0.1 * len(found), f"{split}: too few multi-word entities"
        assert any(not any(t != "O" for t in tags) for _, tags in sentences), f"{split}: no sentence without names"
        for _, tags in sentences:  # valid BIO: an I- continues an entity of its own type
            for prev, tag in zip(["O"] + tags, tags):
                assert not tag.startswith("I-") or prev[2:] == tag[2:], (split, tags)


def test_corpus_sentences_are_varied(corpus):
    shapes = {tuple("X" if t != "O" else w for w, t in zip(words, tags)) for words, tags in corpus["train"]}
    assert len(shapes) > 1000
    per_type_templates = {k: {s for s in shapes if s.count("X")} for k in TYPES}
    assert all(len(v) > 30 for v in per_type_templates.values())


def test_dev_and_test_names_never_occur_in_train_except_the_ambiguous_ones(corpus):
    train_words = {w for words, _ in corpus["train"] for w in words}
    for split in ("dev", "test"):
        names = {name for _, name in entities(corpus[split])}
        seen = {n for n in names if n in {name for _, name in entities(corpus["train"])}}
        assert seen <= set(ner_corpus.AMBIGUOUS), f"{split} names also in train: {sorted(seen - set(ner_corpus.AMBIGUOUS))[:10]}"
        capitalised = {w for n in names for w in n.split() if w[:1].isupper()}
        overlap = capitalised & train_words - set(ner_corpus.AMBIGUOUS) - set(ner_corpus.ORG_HEADS)
        assert len(overlap) < 0.02 * len(capitalised), sorted(overlap)[:20]  # ("Bank", "Air" are not names)


def test_ambiguous_names_occur_with_several_types_in_train(corpus):
    kinds = {}
    for kind, name in entities(corpus["train"]):
        kinds.setdefault(name, set()).add(kind)
    for name, wanted in ner_corpus.AMBIGUOUS.items():
        assert kinds.get(name, set()) >= set(wanted), (name, kinds.get(name))


# --- the reader --------------------------------------------------------------------------------------

def test_reader_takes_original_conll2003_columns_iob1_and_docstart(tmp_path):
    text = ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\n\n"
            "Peter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\nand CC O O\nMary NNP B-NP B-PER\n\n")
    (tmp_path / "eng.train").write_text(text)
    path = conll.find_split(tmp_path, "train")
    assert path.name == "eng.train"
    sentences = conll.read_conll(path)
    assert sentences == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]),
                         (["Peter", "Blackburn", "and", "Mary"], ["B-PER", "I-PER", "O", "B-PER"])]
    assert conll.read_conll(path, "io")[1][1] == ["I-PER", "I-PER", "O", "I-PER"]


def test_reader_takes_two_tab_columns_with_bare_io_types_and_crlf(tmp_path):
    (tmp_path / "dev.conll").write_bytes(b"-DOCSTART-\tO\r\n\r\nNew\tLOC\r\nYork\tLOC\r\nis\tO\r\nbig\tO\r\n")
    (tmp_path / "train.conll").write_text("a\tO\n")
    assert conll.find_split(tmp_path, "dev").name == "dev.conll"
    assert conll.read_conll(tmp_path / "dev.conll") == [(["New", "York", "is", "big"], ["B-LOC", "I-LOC", "O", "O"])]
    assert conll.read_conll(tmp_path / "dev.conll", "raw")[0][1] == ["LOC", "LOC", "O", "O"]


def test_to_bio_follows_conll_semantics():
    assert conll.to_bio(["I-PER", "I-PER", "I-LOC", "B-LOC", "O", "I-MISC"]) == \
        ["B-PER", "I-PER", "B-LOC", "B-LOC", "O", "B-MISC"]


def test_reader_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "train.conll"
    bad.write_text("Paris\tB-LOC\nlonely\n")
    with pytest.raises(conll.ConllFormatError, match=r"line 2"):
        conll.read_conll(bad)
    bad.write_text("Paris\tB-\n")
    with pytest.raises(conll.ConllFormatError, match=r"line 1.*not a named-entity tag"):
        conll.read_conll(bad)
    with pytest.raises(FileNotFoundError, match="eng.testa"):
        conll.find_split(tmp_path, "dev")


# --- entity F1 agrees with seqeval ------------------------------------------------------------------

def notebook_entity_f1():
    """The solution's entity_f1, taken from the source notebook (the cell holds only that function)."""
    source = cell_by_grade_id(read(source_notebook_path("04_window_ner")), "entity_f1").source
    source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", source, flags=re.M)
    namespace = {}
    exec(compile(source, "entity_f1", "exec"), namespace)  # noqa: S102  (our own solution cell)
    return namespace["entity_f1"]


def random_tags(rng, scheme, n_sentences=30):
    kinds = ["PER", "LOC", "ORG"]
    def tag():
        if rng.random() < 0.4:
            return "O"
        prefix = "I" if scheme == "io" else rng.choice("BI")
        return f"{prefix}-{rng.choice(kinds)}"
    gold = [[tag() for _ in range(rng.randint(1, 10))] for _ in range(n_sentences)]
    pred = [[t if rng.random() < 0.6 else tag() for t in s] for s in gold]
    return gold, pred


@pytest.mark.parametrize("scheme", ["bio", "io"])
@pytest.mark.parametrize("seed", range(25))
def test_entity_f1_agrees_with_seqeval(scheme, seed):
    rng = random.Random(seed)
    gold, pred = random_tags(rng, scheme)
    want = (precision_score(gold, pred), recall_score(gold, pred), f1_score(gold, pred))
    ours = entity_scores(gold, pred)
    assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx(want, abs=1e-12)
    assert notebook_entity_f1()(gold, pred) == pytest.approx(want, abs=1e-12)


def test_entity_f1_edge_cases_agree_with_seqeval():
    f = notebook_entity_f1()
    for gold, pred in [([["O", "O"]], [["O", "O"]]), ([["B-PER"]], [["O"]]), ([["O"]], [["I-LOC"]]),
                       ([["B-PER", "I-PER"], ["I-PER"]], [["B-PER", "I-PER"], ["I-PER"]])]:
        want = (precision_score(gold, pred, zero_division=0), recall_score(gold, pred, zero_division=0),
                f1_score(gold, pred, zero_division=0))
        assert f(gold, pred) == pytest.approx(want)
        s = entity_scores(gold, pred)
        assert (s["precision"], s["recall"], s["f1"]) == pytest.approx(want)


# --- the instructor's window tagger -----------------------------------------------------------------

def test_windows_match_a_loop_and_never_cross_sentences():
    rng = np.random.default_rng(0)
    lengths = np.array([1, 4, 0, 3, 6])
    ids = rng.integers(2, 50, size=lengths.sum())
    got = windows(ids, lengths, 2, pad=0)
    want, start = [], 0
    for n in lengths:
        sent = ids[start:start + n]
        want += [[sent[t + j] if 0 <= t + j < n else 0 for j in range(-2, 3)] for t in range(n)]
        start += n
    assert np.array_equal(got, np.array(want))


def test_tagger_backward_matches_numerical_gradients():
    sentences = [(["Peter", "lives", "in", "Paris", "."], ["B-PER", "O", "O", "B-LOC", "O"]),
                 (["ACME", "sold", "42", "cars", "to", "Peter"], ["B-ORG", "O", "O", "O", "O", "B-PER"])]
    model = WindowTagger(Vocab.build(sentences, 1), Config(word_dim=3, case_dim=2, hidden=4, dropout=0.0))
    word_win, case_win, tags, _ = model.encode(sentences)

    def loss():
        probs, _ = model.forward(word_win, case_win)
        return -np.mean(np.log(probs[np.arange(len(tags)), tags]))

    probs, cache = model.forward(word_win, case_win)
    _, grads = model.backward(probs, tags, cache)
    rows, d_rows = grads.pop("L")
    for name, g in grads.items():
        num = numerical_gradient(lambda p, name=name: (model.params.__setitem__(name, p), loss())[1],
                                 model.params[name].copy())
        assert np.allclose(g, num, rtol=1e-4, atol=1e-6), name  # (a ReLU kink within h of a unit moves a few entries slightly)
    dense = np.zeros_like(model.params["L"])
    dense[rows] = d_rows
    num = numerical_gradient(lambda p: (model.params.__setitem__("L", p), loss())[1], model.params["L"].copy())
    assert np.allclose(dense, num, rtol=1e-4, atol=1e-6)


def write_split(folder, name, sentences, columns=2):
    lines = ["-DOCSTART- -X- -X- O" if columns == 4 else "-DOCSTART-\tO", ""]
    for words, tags in sentences:
        for w, t in zip(words, conll.to_io(tags) if columns == 4 else tags):
            lines.append(f"{w} NN B-NP {t}" if columns == 4 else f"{w}\t{t}")
        lines.append("")
    (folder / name).write_text("\n".join(lines))


def test_ner_real_trains_on_a_conll_folder_and_writes_the_report(tmp_path, capsys):
    train = conll.load_course_corpus("train")[:800]
    dev = conll.load_course_corpus("dev")[:150]
    write_split(tmp_path, "eng.train", train, columns=4)
    write_split(tmp_path, "eng.testa", dev, columns=4)
    report = tmp_path / "report.json"
    assert ner_real.main(["--data", str(tmp_path), "--report", str(report), "--epochs", "3"]) == 0
    result = json.loads(report.read_text())
    for key in ("dev_entity_f1", "dev_token_accuracy", "epochs", "train_seconds", "tokens_per_second"):
        assert key in result
    assert result["epochs"] == 3 and len(result["history"]) == 3
    assert 0.5 < result["dev_entity_f1"] <= 1 and result["dev_token_accuracy"] > 0.85
    assert "dev entity F1" in capsys.readouterr().err


def test_ner_real_explains_a_missing_folder_or_file(tmp_path, capsys):
    assert ner_real.main(["--data", str(tmp_path / "nowhere"), "--report", str(tmp_path / "r.json")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "train.conll").write_text("a\tO\n")
    assert ner_real.main(["--data", str(tmp_path), "--report", str(tmp_path / "r.json")]) == 2
    assert "no dev file" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


# --- demos --------------------------------------------------------------------------------------------

def output_text(widget):
    return widget.children[-1].value


@pytest.mark.parametrize("works", [True, False])
def test_tag_explorer_output_follows_the_text(works):
    def tagger(words):
        if not works:
            raise NotImplementedError("not yet")
        return ["B-PER" if w[0].isupper() else "O" for w in words], [0.9] * len(words)

    widget = ner_demos.tag_explorer(tagger, value="Anna sings")
    box = widget.children[1]
    first = output_text(widget)
    box.value = "Bruno met Clara in Oslo"
    second = output_text(widget)
    assert first != second and "Clara" in second
    if works:
        assert "B-PER" in second
    else:
        assert "not yet" in second


def test_baseline_and_unseen_selection():
    train = [(["Paris", "is", "big"], ["B-LOC", "O", "O"]), (["Paris", "said"], ["B-PER", "O"]),
             (["Paris", "is", "here"], ["B-LOC", "O", "O"])]
    dev = [(["Paris", "is", "nice"], ["B-LOC", "O", "O"]), (["Zorg", "is", "nice"], ["B-LOC", "O", "O"]),
           (["nothing", "here"], ["O", "O"])]
    tag = ner_demos.most_frequent_tag_baseline(train)
    assert tag(["Paris", "Zorg", "is"]) == ["B-LOC", "O", "O"]
    assert ner_demos.unseen_name_sentences(train, dev) == [1]


def test_batch_notation_picture_shows_both_forms_with_their_shapes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = ner_demos.plot_batch_notation(n=5, d=4, m=2)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "W\n(2, 4)" in texts and "x\n(4,)" in texts                       # one example: W (m, d)
    assert "X\n(5, 4)" in texts and "W\n(4, 2)" in texts and "Z\n(5, 2)" in texts  # a batch: W (d, m)
    # one cell per entry: z, W, x on the left; Z, X, W on the right
    cells = sum(len(ax.patches) for ax in fig.axes)
    assert cells == (2 + 2 * 4 + 4) + (5 * 2 + 5 * 4 + 4 * 2)
    plt.close(fig)
    with pytest.raises(ValueError):
        ner_demos.plot_batch_notation(n=0)
