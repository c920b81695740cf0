"""Per-student deadline extensions, read from `extensions.csv` in the course directory and honoured
by nbgrader's own late-submission machinery.

nbgrader's `AssignLatePenalties` preprocessor (run by every autograde: `make autograde`, plain
`nbgrader autograde`, the hub's grading service) asks a `LateSubmissionPlugin` for the penalty of
a late notebook with (student_id, score, total_seconds_late). `DeadlineExtensions` is that plugin:
it looks the student up in the file, counts the seconds late from the student's own deadline
instead, and hands what remains to nbgrader's `LateSubmissionPlugin` (`penalty_method` as
configured), or gives no penalty when the submission came in within the extension.

The file, one row per student and assignment (a spreadsheet's "Save as CSV" will do):

    student_id,assignment,new_due_date,extra_hours
    alice,01_gradients,2030-01-17 12:00:00 +0900,
    bob,01_gradients,,48
    chen,*,,24

Each row gives exactly one of `new_due_date` (with a zone: `+0900`, `+09:00`, `Z` or a name such as
`Asia/Seoul`; without one, UTC, as nbgrader stores dates) or `extra_hours` (hours after the
assignment's due date).
`*` as the assignment gives those hours on every assignment; a row naming the assignment wins
over it. A student with an extension granted through nbgrader's API as well
(`Gradebook.grant_extension`) keeps the later of the two deadlines.

`python -m autograder.grading.extensions` checks the file and lists each student's deadline.
"""
import argparse
import csv
import math
import os
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

import dateutil.parser
import dateutil.tz
from nbgrader.plugins import BasePlugin, LateSubmissionPlugin
from traitlets import Type, Unicode

FILE_NAME = "extensions.csv"
COLUMNS = ("student_id", "assignment", "new_due_date", "extra_hours")
EVERY_ASSIGNMENT = "*"


class ExtensionsError(ValueError):
    """extensions.csv cannot be read; the message names the file, the line and what to fix."""


@dataclass(frozen=True)
class Extension:
    """One row: a new due date (naive UTC, as nbgrader stores dates) or extra hours."""
    student_id: str
    assignment: str
    line: int
    new_due_date: Optional[datetime] = None
    extra_hours: Optional[float] = None

    def deadline(self, due: datetime) -> datetime:
        """The student's deadline for an assignment due at `due` (naive UTC)."""
        if self.new_due_date is not None:
            return self.new_due_date
        return due + timedelta(hours=self.extra_hours)

    def describe(self) -> str:
        if self.new_due_date is not None:
            return f"due {self.new_due_date:%Y-%m-%d %H:%M:%S} UTC"
        return f"{self.extra_hours:g} extra hours"


def read_extensions(path: Path) -> dict[tuple[str, str], Extension]:
    """(student_id, assignment or "*") -> Extension, from the CSV at `path` ({} if it does not
    exist). Raises ExtensionsError for a file it cannot read exactly."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's byte order mark
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ExtensionsError(f"{path}: cannot read it as a UTF-8 CSV file: {e}") from None
    rows = [(number, row) for number, row in enumerate(rows, start=1)
            if any(cell.strip() for cell in row)]
    if not rows:
        return {}
    (_, header), body = rows[0], rows[1:]
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in COLUMNS[:2] if name not in header]
    if unknown or missing or not {"new_due_date", "extra_hours"} & set(header):
        raise ExtensionsError(
            f"{path} line 1: the header must be {','.join(COLUMNS)} (new_due_date or extra_hours "
            f"may be left out), not {','.join(header)}")
    extensions = {}
    for number, row in body:
        if len(row) > len(header):
            raise ExtensionsError(f"{path} line {number}: {len(row)} fields for {len(header)} "
                                  f"columns ({','.join(header)})")
        fields = dict(zip(header, (cell.strip() for cell in row)))
        extension = _parse_row(fields, f"{path} line {number}", number)
        key = (extension.student_id, extension.assignment)
        if key in extensions:
            raise ExtensionsError(
                f"{path} line {number}: a second extension for {key[0]} on {key[1]} (the first is "
                f"on line {extensions[key].line}); keep one row per student and assignment")
        extensions[key] = extension
    return extensions


def _parse_row(fields: dict, where: str, line: int) -> Extension:
    student, assignment = fields.get("student_id", ""), fields.get("assignment", "")
    due, hours = fields.get("new_due_date", ""), fields.get("extra_hours", "")
    if not student or not assignment:
        raise ExtensionsError(f"{where}: student_id and assignment are both needed")
    if bool(due) == bool(hours):
        raise ExtensionsError(f"{where}: give exactly one of new_due_date or extra_hours "
                              f"(got {'both' if due else 'neither'})")
    if hours:
        try:
            extra = float(hours)
        except ValueError:
            extra = math.nan
        if not math.isfinite(extra) or extra <= 0:
            raise ExtensionsError(f"{where}: extra_hours must be a positive number of hours, "
                                  f"not {hours!r}")
        return Extension(student, assignment, line, extra_hours=extra)
    if assignment == EVERY_ASSIGNMENT:
        raise ExtensionsError(f"{where}: a new due date is for one assignment; for every "
                              f"assignment ({EVERY_ASSIGNMENT}) give extra_hours")
    try:
        when = parse_date(due)
    except ValueError as e:
        raise ExtensionsError(f"{where}: cannot read the date {due!r} ({e}); write it as "
                              f"2030-01-17 12:00:00 +0900 (no zone: UTC)") from None
    return Extension(student, assignment, line, new_due_date=when)


def parse_date(text: str) -> datetime:
    """A date and time as naive UTC (nbgrader's way of storing them). The zone may be an offset
    (+0900, +09:00, Z) or a name (Asia/Seoul, UTC) at the end; none means UTC. An unknown zone
    name is an error, never silently UTC. (Not nbgrader's parse_utc: it reads "+0900" as 900
    seconds.)"""
    head, _, last = text.rpartition(" ")
    named = dateutil.tz.gettz(last) if head and last[:1].isalpha() and last != "Z" else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", dateutil.parser.UnknownTimezoneWarning)
        try:
            when = dateutil.parser.parse(head if named else text)
        except dateutil.parser.UnknownTimezoneWarning:
            raise ValueError("a time zone dateutil does not know: write an offset such as +0900 "
                             "or a name such as Asia/Seoul") from None
        except (OverflowError, TypeError, dateutil.parser.ParserError) as e:
            raise ValueError(str(e)) from None
    if named is not None:
        if when.tzinfo is not None:
            raise ValueError("two time zones")
        when = when.replace(tzinfo=named)
    if when.tzinfo is not None:
        when = when.astimezone(dateutil.tz.UTC).replace(tzinfo=None)
    return when


def find_extension(extensions: dict, student_id: str, assignment: str) -> Optional[Extension]:
    """The row for this student and assignment, else their row for every assignment, else None."""
    return (extensions.get((student_id, assignment))
            or extensions.get((student_id, EVERY_ASSIGNMENT)))


def seconds_late(timestamp: datetime, due: datetime, extension: Optional[Extension],
                 nbgrader_seconds_late: float) -> float:
    """Seconds after the student's deadline: nbgrader's count, or fewer if the extension's
    deadline is later. All dates naive UTC."""
    if extension is None or timestamp is None or due is None:
        return nbgrader_seconds_late
    own = (timestamp - extension.deadline(due)).total_seconds()
    return max(0.0, min(nbgrader_seconds_late, own))


class DeadlineExtensions(BasePlugin):
    """nbgrader's late-submission plugin with each student's extension from extensions.csv.

    Set `c.AssignLatePenalties.plugin_class` to this class; the penalty itself is
    `penalty_plugin`'s (nbgrader's LateSubmissionPlugin: `c.LateSubmissionPlugin.penalty_method`).
    """

    path = Unicode(
        "", help="The extensions file; default: extensions.csv in CourseDirectory.root "
                 "(else the current directory).").tag(config=True)
    penalty_plugin = Type(
        LateSubmissionPlugin, klass=BasePlugin,
        help="The plugin that turns the seconds late that remain into a penalty.").tag(config=True)

    def extensions_path(self) -> Path:
        if self.path:
            return Path(self.path)
        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        return Path(root) / FILE_NAME

    def late_submission_penalty(self, student_id: str, score: float,
                                total_seconds_late: float) -> Optional[float]:
        """nbgrader calls this for a notebook submitted after the assignment's due date (its
        parent, AssignLatePenalties, holds the assignment id and the open gradebook)."""
        preprocessor = self.parent
        if not hasattr(preprocessor, "assignment_id") or not hasattr(preprocessor, "gradebook"):
            raise TypeError("DeadlineExtensions is nbgrader's AssignLatePenalties.plugin_class; "
                            "it needs that preprocessor as its parent")
        assignment = preprocessor.assignment_id
        extension = find_extension(read_extensions(self.extensions_path()), student_id, assignment)
        if extension is not None:
            submission = preprocessor.gradebook.find_submission(assignment, student_id)
            late = seconds_late(submission.timestamp, submission.assignment.duedate, extension,
                                total_seconds_late)
            self.log.info("%s on %s: %s (line %d of %s), %.0f seconds late",
                          student_id, assignment, extension.describe(), extension.line,
                          FILE_NAME, late)
        else:
            late = total_seconds_late
        if late <= 0:
            return None
        return self.penalty_plugin(parent=self).late_submission_penalty(student_id, score, late)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.grading.extensions",
        description="Check extensions.csv and list each student's deadline.")
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="the course directory (default: here)")
    args = parser.parse_args(argv)
    path = args.course / FILE_NAME
    try:
        extensions = read_extensions(path)
    except ExtensionsError as e:
        print(e, file=sys.stderr)
        return 1
    if not extensions:
        print(f"no extensions ({path} {'is empty' if path.exists() else 'does not exist'})")
        return 0
    for (student, assignment), extension in sorted(extensions.items()):
        print(f"{student}  {assignment}  {extension.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
