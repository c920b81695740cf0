"""Speed of the window tagger (autograder.ner.window_tagger): one training epoch vs the matrix-multiply floor.

    python -m bench.ner [--tokens 200000]

Generates a corpus of at least `--tokens` tokens with course.ner_corpus, trains one epoch with the
model's defaults (window 2, 50-d word vectors, 5-d case vectors, 300 ReLU units, dropout 0.5, Adam,
batches of 128) and reports tokens per second. The floor is the time of the dense matrix products
alone that one epoch must do, with the same sizes and batches, on random matrices:
forward x @ W1 and h @ W2, backward dS @ W2^T, h^T @ dS, x^T @ dZ and dZ @ W1^T.
Wall and CPU times are both reported: on a loaded machine the wall-time ratio is noise.
The ratio epoch / floor says how much time goes elsewhere (embedding look-up and scatter-add,
dropout masks, softmax, Adam, Python per batch).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from autograder.ner.window_tagger import CASES, Config, Vocab, WindowTagger
from course.ner_corpus import generate


def corpus(min_tokens: int, seed: int = 7):
    """Generated sentences, as (words, tags), with at least `min_tokens` tokens."""
    sentences, n = [], 0
    while n < min_tokens:
        batch, _ = generate(2000, seed + len(sentences))
        batch = [([w for w, _ in s], [t for _, t in s]) for s in batch]
        sentences += batch
        n += sum(len(w) for w, _ in batch)
    return sentences


def matmul_floor(n_tokens: int, cfg: Config, n_tags: int, repeat: int = 3) -> tuple[float, float]:
    """(wall, CPU) seconds of the six matrix products of one epoch (the run with the best wall time of
    `repeat`), in batches of cfg.batch_size."""
    rng = np.random.default_rng(0)
    k = 2 * cfg.window + 1
    d_in, b = k * (cfg.word_dim + cfg.case_dim), cfg.batch_size
    x, W1 = rng.normal(size=(b, d_in)), rng.normal(size=(d_in, cfg.hidden))
    W2, h = rng.normal(size=(cfg.hidden, n_tags)), rng.normal(size=(b, cfg.hidden))
    dS, dZ = rng.normal(size=(b, n_tags)), rng.normal(size=(b, cfg.hidden))
    batches = -(-n_tokens // b)
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            x @ W1, h @ W2, dS @ W2.T, h.T @ dS, x.T @ dZ, dZ @ W1.T
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def breakdown(model: WindowTagger, data, n_batches: int = 300) -> dict:
    """Seconds per stage over `n_batches` training batches: where the time outside the floor goes."""
    word_win, case_win, tag_ids, _ = data
    rng = np.random.default_rng(1)
    size = model.cfg.batch_size
    stages = dict.fromkeys(["embedding look-up", "forward (all)", "backward (all)",
                            "scatter-add of word gradients", "Adam"], 0.0)
    for _ in range(n_batches):
        rows = rng.integers(0, tag_ids.shape[0], size=size)
        t0 = time.perf_counter()
        model._inputs(word_win[rows], case_win[rows])
        t1 = time.perf_counter()
        probs, cache = model.forward(word_win[rows], case_win[rows], train=True)
        t2 = time.perf_counter()
        _, grads = model.backward(probs, tag_ids[rows], cache)
        t3 = time.perf_counter()
        dx = rng.normal(size=(size, word_win.shape[1], model.cfg.word_dim))
        r, inverse = np.unique(word_win[rows], return_inverse=True)
        np.add.at(np.zeros((r.shape[0], model.cfg.word_dim)), inverse.reshape(-1), dx.reshape(-1, model.cfg.word_dim))
        t4 = time.perf_counter()
        model.adam_step(grads)
        t5 = time.perf_counter()
        for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            stages[key] += dt
    return stages


def measure(min_tokens: int = 200_000, cfg: Config = Config()) -> dict:
    sentences = corpus(min_tokens)
    vocab = Vocab.build(sentences, cfg.min_count)
    model = WindowTagger(vocab, cfg)
    data = model.encode(sentences)
    n_tokens = int((data[2] >= 0).sum())
    start, cpu = time.perf_counter(), time.process_time()
    model.train_epoch(data)
    epoch, epoch_cpu = time.perf_counter() - start, time.process_time() - cpu
    floor, floor_cpu = matmul_floor(n_tokens, cfg, len(vocab.tags))
    stages = breakdown(model, data)
    return {"stages": stages, "stage_batches": 300, "floor_per_batch": floor / -(-n_tokens // cfg.batch_size),
            "tokens": n_tokens, "epoch_seconds": epoch, "tokens_per_second": n_tokens / epoch,
            "floor_seconds": floor, "ratio": epoch / floor, "epoch_cpu": epoch_cpu, "floor_cpu": floor_cpu, "vocabulary": len(vocab.words),
            "cases": len(CASES), "config": cfg}


def section(result: dict) -> list[str]:
    """Markdown lines for bench/results.md."""
    c = result["config"]
    return [
        "",
        "## Window NER tagger (04_window_ner, autograder.ner.window_tagger)",
        "",
        f"One training epoch on a generated corpus of {result['tokens']:,} tokens (vocabulary "
        f"{result['vocabulary']:,}; window {c.window}, {c.word_dim}-d words + {c.case_dim}-d case, "
        f"{c.hidden} ReLU units, dropout {c.dropout}, Adam, batches of {c.batch_size}).",
        "",
        "| what | seconds | tokens/s |",
        "|---|---|---|",
        f"| one epoch | {result['epoch_seconds']:.2f} | {result['tokens_per_second']:,.0f} |",
        f"| matrix products only (the floor) | {result['floor_seconds']:.2f} | "
        f"{result['tokens'] / result['floor_seconds']:,.0f} |",
        f"| ratio epoch / floor | {result['ratio']:.2f} | |",
        "",
        f"CPU time (both threads; less sensitive to other load on the machine than wall time): epoch "
        f"{result['epoch_cpu']:.2f} s, floor {result['floor_cpu']:.2f} s, ratio "
        f"{result['epoch_cpu'] / result['floor_cpu']:.2f}.",
        "",
        f"Where a batch's time goes ({result['stage_batches']} batches timed stage by stage; forward and "
        "backward include their matrix products; the floor's share per batch for comparison):",
        "",
        "| stage | ms per batch |",
        "|---|---|",
        *[f"| {k} | {1000 * v / result['stage_batches']:.2f} |" for k, v in result["stages"].items()],
        f"| (floor: the six matrix products) | {1000 * result['floor_per_batch']:.2f} |",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="one epoch of the window tagger vs the matmul floor")
    parser.add_argument("--tokens", type=int, default=200_000)
    args = parser.parse_args(argv)
    print("\n".join(section(measure(args.tokens))))


if __name__ == "__main__":
    main()
