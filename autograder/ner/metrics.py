"""Entity-level precision, recall and F1 with CoNLL semantics (instructor side: a reference for the
real-data trainer and the tests; the students write their own `entity_f1` in 04_window_ner).

An entity is a maximal run of tags of one type that starts at ``B-TYPE``, or at an ``I-TYPE`` whose
previous tag is not of the same type (CoNLL's rule, as seqeval's default mode and conlleval apply it).
A predicted entity counts only if its type, start and end all equal a gold entity's.
"""
from __future__ import annotations


def entity_spans(tags) -> set[tuple[str, int, int]]:
    """{(type, start, end)} of one sentence's tags, `end` exclusive. Accepts BIO, IOB1 and IO tags."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, tag_kind = ("O", None) if tag == "O" else (tag[0], tag[2:]) if tag[1:2] == "-" else ("I", tag)
        if kind is not None and (prefix != "I" or tag_kind != kind):
            spans.add((kind, start, i))
            kind = None
        if tag_kind is not None and kind is None:
            start, kind = i, tag_kind
    return spans


def entity_scores(gold_sentences, pred_sentences) -> dict:
    """{"precision", "recall", "f1", "n_gold", "n_pred", "n_correct"} over lists of tag lists.
    Spans never cross sentences; with no predicted (gold) entity precision (recall) is 0."""
    if len(gold_sentences) != len(pred_sentences):
        raise ValueError(f"{len(gold_sentences)} gold sentences but {len(pred_sentences)} predicted")
    n_gold = n_pred = n_correct = 0
    for gold, pred in zip(gold_sentences, pred_sentences):
        if len(gold) != len(pred):
            raise ValueError("a predicted sentence's length differs from its gold sentence's")
        g, p = entity_spans(gold), entity_spans(pred)
        n_gold, n_pred, n_correct = n_gold + len(g), n_pred + len(p), n_correct + len(g & p)
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "n_gold": n_gold, "n_pred": n_pred, "n_correct": n_correct}


def token_accuracy(gold_sentences, pred_sentences) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag."""
    pairs = [(g, p) for gs, ps in zip(gold_sentences, pred_sentences) for g, p in zip(gs, ps)]
    return sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0
