"""Train the course's window model on a real CoNLL-2003-format directory and report dev scores.

    python -m autograder.ner.real --data DIR --report FILE.json [--epochs 10] [--minutes 10]

DIR holds a train and a dev file under any usual name (train.conll / dev.conll, eng.train /
eng.testa, ...; see course.conll.SPLIT_FILES), 2 or 4 columns, IOB1, BIO or IO tags. Training runs
for `--epochs` epochs or until `--minutes` have passed, keeps the parameters of the epoch with the
best dev entity F1, and writes a JSON report with dev_entity_f1, dev_token_accuracy, epochs,
train_seconds, tokens_per_second and the per-epoch history. On a terminal it shows a progress bar.
The model is autograder.ner.window_tagger (numpy only).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

from autograder.ner.metrics import entity_scores, token_accuracy
from autograder.ner.window_tagger import Config, Vocab, WindowTagger
from course.conll import find_split, read_conll


class Progress:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, total: int, label: str, stream=sys.stderr):
        self.total, self.label, self.stream, self.done = total, label, stream, 0
        self.active = stream.isatty()
        self.start = time.perf_counter()

    def __call__(self, n: int):
        self.done += n
        if self.active:
            frac = min(self.done / max(self.total, 1), 1.0)
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            bar = "#" * int(30 * frac)
            self.stream.write(f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% {rate:,.0f} tokens/s")
            self.stream.flush()

    def close(self, message: str = ""):
        if self.active:
            self.stream.write("\r" + " " * 90 + "\r")
        if message:
            self.stream.write(message + "\n")
            self.stream.flush()


def train(train_sents, dev_sents, config: Config, epochs: int, minutes: float, log=None) -> dict:
    """Train and evaluate; returns the report dict (and the best model under "model")."""
    vocab = Vocab.build(train_sents, config.min_count)
    model = WindowTagger(vocab, config)
    train_data = model.encode(train_sents)
    n_tokens = int((train_data[2] >= 0).sum())
    gold = [tags for _, tags in dev_sents]
    history, best, best_params, seconds = [], None, None, 0.0
    for epoch in range(1, epochs + 1):
        bar = Progress(n_tokens, f"epoch {epoch}/{epochs}")
        start = time.perf_counter()
        loss = model.train_epoch(train_data, on_batch=bar)
        seconds += time.perf_counter() - start
        pred = model.predict(dev_sents)
        scores = entity_scores(gold, pred)
        row = {"epoch": epoch, "train_loss": round(loss, 5), "dev_entity_f1": round(scores["f1"], 5),
               "dev_precision": round(scores["precision"], 5), "dev_recall": round(scores["recall"], 5),
               "dev_token_accuracy": round(token_accuracy(gold, pred), 5),
               "seconds": round(time.perf_counter() - start, 2)}
        history.append(row)
        bar.close(f"epoch {epoch}: loss {loss:.4f}, dev entity F1 {scores['f1']:.4f}, "
                  f"token accuracy {row['dev_token_accuracy']:.4f} ({row['seconds']:.1f} s)")
        if best is None or row["dev_entity_f1"] > best["dev_entity_f1"]:
            best, best_params = row, copy.deepcopy(model.params)
        if seconds > minutes * 60:
            break
    model.params = best_params
    return {
        "dev_entity_f1": best["dev_entity_f1"],
        "dev_precision": best["dev_precision"],
        "dev_recall": best["dev_recall"],
        "dev_token_accuracy": best["dev_token_accuracy"],
        "best_epoch": best["epoch"],
        "epochs": len(history),
        "train_seconds": round(seconds, 2),
        "tokens_per_second": round(n_tokens * len(history) / max(seconds, 1e-9), 1),
        "train_sentences": len(train_sents),
        "train_tokens": n_tokens,
        "dev_sentences": len(dev_sents),
        "vocabulary": len(vocab.words),
        "tags": vocab.tags,
        "config": vars(config),
        "history": history,
        "model": model,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with the train and dev files")
    parser.add_argument("--report", required=True, help="JSON file to write")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=10.0, help="stop after the epoch that passes it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=Config.hidden)
    parser.add_argument("--min-count", type=int, default=Config.min_count)
    args = parser.parse_args(argv)
    try:
        folder = Path(args.data)
        if not folder.is_dir():
            raise FileNotFoundError(f"--data {folder}: not a folder")
        train_path, dev_path = find_split(folder, "train"), find_split(folder, "dev")
        train_sents, dev_sents = read_conll(train_path), read_conll(dev_path)
    except (OSError, ValueError) as exc:
        print(f"ner_real: {exc}", file=sys.stderr)
        return 2
    if not train_sents or not dev_sents:
        print(f"ner_real: no sentences in {train_path if not train_sents else dev_path}", file=sys.stderr)
        return 2
    print(f"train {train_path} ({len(train_sents)} sentences), dev {dev_path} ({len(dev_sents)})",
          file=sys.stderr)
    config = Config(seed=args.seed, hidden=args.hidden, min_count=args.min_count)
    report = train(train_sents, dev_sents, config, args.epochs, args.minutes)
    report.pop("model")
    report.update(train_file=str(train_path), dev_file=str(dev_path))
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(f"dev entity F1 {report['dev_entity_f1']:.4f} (epoch {report['best_epoch']}), "
          f"token accuracy {report['dev_token_accuracy']:.4f}; report in {args.report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
