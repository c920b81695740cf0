"""The record of what a grading run has finished, so a run killed in the middle resumes.

One small JSON file per submission, .autograder/ledger/<assignment>/<student>.json in the course
directory (on the shared volume when several machines grade), written atomically (a temporary
file renamed over the old one), only after nbgrader has committed that submission's grades. A run
killed with kill -9 leaves every record whole or absent: a submission without a record is graded
again from scratch (nbgrader's --force), one with a record is not, unless the submission changed
since (its fingerprint) or the record was written for another gradebook.

A record's file is named after the student id where the filesystem can hold that name; an id it
cannot (longer than a file name may be, or starting with a dot) gets a shortened name and a hash,
and the record itself holds the id (`file_stem`).
"""
import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

LEDGER_DIR = Path(".autograder") / "ledger"
MAX_STEM_BYTES = 200   # file systems hold 255 bytes per name; room for ".json", ".log", ".tmp"


def file_stem(student: str) -> str:
    """A file name (without extension) for a student id: the id itself when every file system
    holds it, else its first readable characters and a hash of the whole id."""
    if (0 < len(student.encode("utf-8", "surrogateescape")) <= MAX_STEM_BYTES
            and "/" not in student and "\0" not in student and not student.startswith(".")):
        return student
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', student)[:40]}~{digest}"


@dataclass
class Outcome:
    """What grading one submission (one student, one assignment) gave."""
    assignment: str
    student: str
    status: str                       # "graded" or "failed" (nbgrader could not grade it all)
    score: float = 0.0
    max_score: float = 0.0
    problems: list[str] = field(default_factory=list)   # what the instructor must know
    flags: list[str] = field(default_factory=list)      # tamper checks' findings
    notes: list[str] = field(default_factory=list)      # graded, but worth a look (kernel died)
    fingerprint: str = ""
    gradebook: str = ""
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)         # where the seconds went
    sandboxed: bool = True                              # False: graded with COURSE_UNSANDBOXED=1
    graded_at: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.assignment, self.student


class Ledger:
    def __init__(self, course: Path):
        self.root = course / LEDGER_DIR

    def path(self, assignment: str, student: str) -> Path:
        return self.root / assignment / f"{file_stem(student)}.json"

    def read(self, assignment: str, student: str) -> Outcome | None:
        outcome = self._load(self.path(assignment, student))
        if outcome is None or outcome.key != (assignment, student):
            return None   # absent, unreadable or another id's: graded again
        return outcome

    @staticmethod
    def _load(path: Path) -> Outcome | None:
        try:
            return Outcome(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, outcome: Outcome) -> None:
        target = self.path(outcome.assignment, outcome.student)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(outcome), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def all(self) -> list[Outcome]:
        found = []
        for path in sorted(self.root.glob("*/*.json")):
            outcome = self._load(path)
            if outcome is not None and outcome.assignment == path.parent.name:
                found.append(outcome)
        return found
