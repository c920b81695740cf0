"""Reading CoNLL column files: the course's corpus and real CoNLL-2003 files, unchanged.

A CoNLL file has one token per line, columns separated by a tab or by spaces: the word first, the
named-entity tag last (2 columns ``word tag``, or the original 4 columns ``word POS chunk tag``).
Sentences are separated by blank lines; ``-DOCSTART-`` lines mark documents and are skipped.

Tags come in three schemes, all accepted and normalised by `read_conll` to BIO:

* BIO (IOB2): every entity starts with ``B-TYPE``, continues with ``I-TYPE``;
* IOB1 (the original CoNLL-2003 files): ``I-TYPE`` everywhere, ``B-TYPE`` only where an entity
  directly follows another entity of the same type;
* IO: ``I-TYPE`` only, or the bare type ``PER`` (two adjacent entities of one type cannot be told apart).

Under CoNLL's rule an ``I-TYPE`` that does not continue an entity of the same type starts a new one;
`to_bio` writes that start as ``B-TYPE``. ``O`` is outside any entity.
"""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
# The names a split's file may have, first match wins (course corpus, CS224N, original CoNLL-2003).
SPLIT_FILES = {
    "train": ("train.conll", "ner_train.conll", "eng.train", "train.txt", "train"),
    "dev": ("dev.conll", "ner_dev.conll", "eng.testa", "valid.txt", "dev.txt", "dev"),
    "test": ("test.conll", "ner_test.conll", "eng.testb", "test.txt", "test"),
}


class ConllFormatError(ValueError):
    """A line that is not a CoNLL token line; the message names the file and the line number."""


def _split_tag(tag: str):
    """('B', 'PER') for 'B-PER', ('I', 'PER') for 'I-PER' or a bare 'PER', ('O', None) for 'O'."""
    if tag == "O":
        return "O", None
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIES":
        return tag[0], tag[2:]
    if "-" in tag or not tag:
        raise ValueError(f"not a named-entity tag: {tag!r} (expected O, B-TYPE, I-TYPE or TYPE)")
    return "I", tag


def to_bio(tags: list[str]) -> list[str]:
    """BIO tags for one sentence given in BIO, IOB1 or IO (bare types allowed): an entity starts at
    ``B-`` or at an ``I-`` whose previous tag is not of the same type. S-/E- (IOBES) are mapped too."""
    out, previous = [], None
    for tag in tags:
        prefix, kind = _split_tag(tag)
        if kind is None:
            out.append("O")
        elif prefix in "BS" or kind != previous:
            out.append("B-" + kind)
        else:
            out.append("I-" + kind)
        previous = None if prefix in "SE" else kind  # S-/E- close their entity
    return out


def to_io(tags: list[str]) -> list[str]:
    """IO tags: every entity tag written ``I-TYPE`` (adjacent same-type entities merge)."""
    return ["O" if t == "O" else "I-" + _split_tag(t)[1] for t in tags]


def parse_conll(lines, source: str = "<text>"):
    """Sentences from an iterable of CoNLL lines: a list of (words, tags), tags as given in the file."""
    sentences, words, tags = [], [], []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        columns = [c.strip() for c in columns if c.strip()]
        if columns[0] == "-DOCSTART-":
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        if len(columns) < 2:
            raise ConllFormatError(f"{source}, line {number}: expected a word and a tag separated by a "
                                   f"tab or spaces, got {line!r}")
        try:
            _split_tag(columns[-1])
        except ValueError as exc:
            raise ConllFormatError(f"{source}, line {number}: {exc}") from None
        words.append(columns[0])
        tags.append(columns[-1])
    if words:
        sentences.append((words, tags))
    return sentences


def read_conll(path, scheme: str = "bio"):
    """Read a CoNLL file: a list of sentences, each a pair (words, tags) of equal-length str lists.

    scheme: "bio" (default) converts the tags to BIO, "io" to IO, "raw" keeps them as written.
    Raises FileNotFoundError for a missing file and ConllFormatError (with the line number) for a line
    that is not ``word ... tag``.
    """
    path = Path(path)
    if scheme not in ("bio", "io", "raw"):
        raise ValueError(f"scheme must be 'bio', 'io' or 'raw', not {scheme!r}")
    with open(path, encoding="utf-8") as f:
        sentences = parse_conll(f, source=str(path))
    if scheme == "raw":
        return sentences
    convert = to_bio if scheme == "bio" else to_io
    return [(words, convert(tags)) for words, tags in sentences]


def find_split(folder, split: str) -> Path:
    """The file of `split` ("train", "dev" or "test") in `folder`, under any of its usual names."""
    folder = Path(folder)
    for name in SPLIT_FILES[split]:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"no {split} file in {folder}: expected one of {', '.join(SPLIT_FILES[split])}")


def load_course_corpus(split: str, scheme: str = "bio"):
    """The corpus the course ships (course/data/ner_<split>.conll), as `read_conll` returns it."""
    return read_conll(DATA / f"ner_{split}.conll", scheme)
