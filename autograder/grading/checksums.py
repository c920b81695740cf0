"""nbgrader's "Attribute 'checksum' for cell X has changed!" warning, kept where it means something.

nbgrader compares each graded cell of a submission with the gradebook's checksum of the source
cell. A test cell with hidden tests always differs: the student got the release version, without
the hidden tests, so every grading run warned once per such cell (27 times for this course) and a
real change drowned in the noise. `ExpectedChecksums` lets such a warning through only when the
submitted cell is not the release's cell (the student edited a test cell); for the expected ones it
says once what they are and drops the rest. nbgrader_config.py installs it on nbgrader's console
log; the batch grader on each submission's log file.
"""
import logging
import re
from pathlib import Path

import nbformat

WARNING = re.compile(r"Attribute 'checksum' for cell (\S+) has changed! "
                     r"\(should be: \w+, got: (\w+)\)")
EXPLANATION = ("nbgrader's checksum warnings for unchanged test cells with hidden tests are "
               "expected (the student's copy has no hidden tests) and not shown; a test cell a "
               "student changed is still reported")


def release_checksums(course: Path) -> set[tuple[str, str]]:
    """{(grade id, nbgrader checksum)} of every graded cell in release/*/*.ipynb."""
    from nbgrader.utils import compute_checksum
    found = set()
    for path in sorted(Path(course).glob("release/*/*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # an unreadable release hides nothing
            continue
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                found.add((meta.get("grade_id", ""), compute_checksum(cell)))
    return found


class ExpectedChecksums(logging.Filter):
    """Drops nbgrader's checksum warning for a cell identical to the release's, after one line
    that explains them; every other record passes."""

    def __init__(self, course: str | Path = ".", name: str = ""):
        super().__init__(name)
        self.course = Path(course)
        self._expected = None
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or "has changed" not in str(record.msg):
            return True
        found = WARNING.match(record.getMessage())
        if found is None:
            return True
        if self._expected is None:
            self._expected = release_checksums(self.course)
        if (found.group(1), found.group(2)) not in self._expected:
            return True  # the student's cell is not the release's: worth a look
        self.dropped += 1
        if self.dropped > 1:
            return False
        record.msg, record.args, record.levelno, record.levelname = (
            EXPLANATION, (), logging.INFO, "INFO")
        return True
