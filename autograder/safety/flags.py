"""Flag a tampered submission for a person; its score stays what nbgrader gave it.

`FlagTampering` runs inside `nbgrader autograde` (nbgrader_config.py puts it first among the
sanitize preprocessors, before anything that could fail on a tampered notebook), so plain nbgrader,
`make autograde` and any worker that loads the config flag alike. For every graded notebook it
compares the submitted file with the release (autograder/safety/tamper.py) and, when anything is found:
  * sets nbgrader's own `flagged` mark on the submitted notebook in the gradebook (formgrader shows
    it; a later clean regrade does not clear it, a person does);
  * writes one row per finding to flags.csv at the course root: student_id, assignment, notebook,
    reason (a regrade replaces that notebook's rows; a clean one removes them).
The grader (autograder/grading/batch.py) reads them into each outcome and the reports.
"""
from __future__ import annotations

import csv
import fcntl
import io
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.safety import tamper

FLAGS_CSV = "flags.csv"
COLUMNS = ["student_id", "assignment", "notebook", "reason"]


def read_flags(course: Path) -> list[dict]:
    path = Path(course) / FLAGS_CSV
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def record(course: Path, student: str, assignment: str, notebook: str,
           findings: list[tamper.Finding], db_url: str | None = None) -> None:
    """Replace this notebook's rows of flags.csv by `findings`; flag it in the gradebook."""
    path = Path(course) / FLAGS_CSV
    key = (student, assignment, notebook)
    with open(path, "a+", newline="", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # parallel graders append to the same file
        f.seek(0)
        rows = [r for r in csv.DictReader(f) if (r["student_id"], r["assignment"],
                                                   r["notebook"]) != key]
        rows += [dict(zip(COLUMNS, (*key, str(finding)))) for finding in findings]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["assignment"], r["student_id"],
                                                     r["notebook"])))
        f.seek(0)
        f.truncate()
        f.write(out.getvalue())
    if findings and db_url:
        with Gradebook(db_url) as gb:
            try:
                submitted = gb.find_submission_notebook(notebook, assignment, student)
            except MissingEntry:
                return
            submitted.flagged = True
            gb.db.commit()


def format_report(course: Path, assignments) -> str:
    """The report's lines: every flag of these assignments, by student."""
    rows = [r for r in read_flags(course) if r["assignment"] in set(assignments)]
    if not rows:
        return ""
    lines = [f"! flagged for a person ({len({(r['student_id'], r['notebook']) for r in rows})} "
             f"notebooks; scores unchanged; see {FLAGS_CSV} and formgrader):"]
    lines += [f"  {r['student_id']} / {r['notebook']}: {r['reason']}" for r in rows]
    return "\n".join(lines)


def _read(path: Path):
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:
        return None


class FlagTampering(NbGraderPreprocessor):
    """Compare the submitted notebook with the release and flag what tamper.py finds."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        coursedir = CourseDirectory(config=self.config)
        root = Path(coursedir.root)

        def path(step, who):
            return Path(coursedir.format_path(step, who, assignment)) / f"{notebook}.ipynb"

        release = _read(path(coursedir.release_directory, "."))
        submitted = _read(path(coursedir.submitted_directory, student))
        if release is None or submitted is None:
            return nb, resources
        source = _read(path(coursedir.source_directory, "."))
        findings = tamper.check_submission(release, submitted, source)
        for finding in findings:
            self.log.warning("flagged %s / %s / %s: %s", student, assignment, notebook, finding)
        record(root, student, assignment, notebook, findings, info.get("db_url"))
        return nb, resources
