"""The gradebook nbgrader writes: where it is, how several workers share it, what it holds.

SQLite (the default file gradebook.db) lets one writer at a time in. nbgrader opens plain
"deferred" transactions: one that reads first and writes later can fail at once with "database is
locked" when another process wrote in between, whatever the busy timeout (SQLite refuses to wait
when waiting could deadlock). `share_sqlite_safely()` makes every SQLite transaction of this
process start with BEGIN IMMEDIATE (take the write lock first, waiting up to two minutes for it),
so concurrent workers queue for the lock instead of failing. PostgreSQL needs nothing of this.
"""
import fcntl
import os
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from autograder.notebooks import grade_id

SQLITE_BUSY_TIMEOUT_MS = 120_000
_SHARED = False


def gradebook_url(course: Path) -> str:
    """The gradebook nbgrader_config.py points at (COURSE_DB_URL, else gradebook.db there)."""
    return os.environ.get("COURSE_DB_URL", f"sqlite:///{course / 'gradebook.db'}")


def printable_url(url: str) -> str:
    """The URL without its password, for logs and reports."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def share_sqlite_safely() -> None:
    """Make every SQLite connection of this process wait for the lock and take it up front, in
    write-ahead-log mode."""
    global _SHARED
    if _SHARED:
        return
    _SHARED = True

    @event.listens_for(Engine, "connect")
    def _connect(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            # nbgrader commits dozens of times per submission: in rollback-journal mode each
            # commit waits for the disk (fsync). A write-ahead log with synchronous=NORMAL
            # syncs only at checkpoints, survives a killed process (kill -9) intact, and lets
            # readers (reports, formgrader) read while a worker writes.
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(Engine, "begin")
    def _begin(connection):
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def retry_on_conflict(action, attempts: int = 5):
    """Run `action()`; retry when another process created the same row or table at the same
    moment (two shards preparing one PostgreSQL gradebook)."""
    for attempt in range(attempts):
        try:
            return action()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError,
                sqlalchemy.exc.OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def open_gradebook(url: str, course_id: str):
    from nbgrader.api import Gradebook  # nbgrader is slow to import; only where needed
    return retry_on_conflict(lambda: Gradebook(url, course_id))


def missing_assignments(url: str, course_id: str, assignments: list[str],
                        cells: dict[str, dict[str, set[str]]]) -> list[str]:
    """The assignments not wholly in the gradebook. `cells[assignment][notebook]` names the
    notebook's nbgrader cells (graded, solution, locked, task). nbgrader's generate_assignment
    commits a notebook before its cells, one by one, source cells last: a notebook whose source
    cells are not all there is still being added (or its adding was cut short)."""
    from nbgrader.api import MissingEntry
    missing = []
    with open_gradebook(url, course_id) as gb:
        for assignment in assignments:
            try:
                known = {n.name: {c.name for c in n.source_cells}
                         for n in gb.find_assignment(assignment).notebooks}
            except MissingEntry:
                known = {}
            if any(notebook not in known or not names <= known[notebook]
                   for notebook, names in cells[assignment].items()):
                missing.append(assignment)
    return missing


def nbgrader_cells(notebook) -> set[str]:
    """The grade ids of the cells of `notebook` (a NotebookNode) that nbgrader's
    generate_assignment records as source cells (its SaveCells' own test)."""
    from nbgrader.utils import is_grade, is_locked, is_solution, is_task
    return {grade_id(cell) for cell in notebook.cells
            if is_grade(cell) or is_solution(cell) or is_locked(cell) or is_task(cell)}


@contextmanager
def preparing(url: str, course_id: str):
    """Hold the course's preparation lock: one process at a time adds assignments to this
    gradebook, and the others wait and then find them complete (two shards starting on a fresh
    PostgreSQL gradebook would otherwise see a half-added notebook, or remove it under the
    other). PostgreSQL: an advisory lock, which holds across machines; SQLite: a lock on a
    file beside the database."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        key = zlib.crc32(f"autograder-prepare:{course_id}".encode())
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                                       {"key": key})
        finally:
            engine.dispose()
    elif parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        with open(f"{parsed.database}.prepare-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:
        yield


def add_students(url: str, course_id: str, students: list[str]) -> list[tuple[str, str]]:
    """Create the students before workers start, so no two workers race to create one. Returns
    (student, reason) for each student the gradebook refused (an id too long for a PostgreSQL
    gradebook's column, ...): their grading then fails with nbgrader's reason, the others go on."""
    refused = []

    def add(chosen):
        with open_gradebook(url, course_id) as gb:
            known = {s.id for s in gb.students}
            for student in chosen:
                if student not in known:
                    gb.update_or_create_student(student)
    try:
        retry_on_conflict(lambda: add(students))  # all at once: one gradebook session
        return []
    except Exception:
        pass  # one of them was refused: find which, one by one
    for student in students:
        try:
            retry_on_conflict(lambda: add([student]))
        except Exception as error:  # nbgrader's InvalidEntry, a database error
            refused.append((student, (str(error).strip().splitlines() or [type(error).__name__])[0]))
    return refused


@dataclass
class CellGrade:
    notebook: str
    cell: str
    score: float | None
    max_score: float
    needs_manual_grade: bool


def read_grades(url: str, course_id: str, assignment: str, student: str
                ) -> tuple[float, float, list[CellGrade]] | None:
    """(score, max_score, grade of every graded cell) of one submission; None if there is none."""
    from nbgrader.api import MissingEntry
    with open_gradebook(url, course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        cells = [CellGrade(nb.name, g.name, g.auto_score if g.manual_score is None
                           else g.manual_score, g.max_score, bool(g.needs_manual_grade))
                 for nb in submission.notebooks for g in nb.grades]
        return submission.score, submission.max_score, sorted(
            cells, key=lambda c: (c.notebook, c.cell))


def graded_submissions(url: str, course_id: str) -> set[tuple[str, str]]:
    """{(assignment, student)} of every submission the gradebook holds."""
    with open_gradebook(url, course_id) as gb:
        return {(s.assignment.name, s.student.id) for a in gb.assignments
                for s in a.submissions}


def roster(url: str, course_id: str) -> list[str]:
    """Every student the gradebook knows (nbgrader db student add, or an earlier submission)."""
    with open_gradebook(url, course_id) as gb:
        return sorted(s.id for s in gb.students)


def all_grades(url: str, course_id: str, assignments: list[str]
               ) -> dict[tuple[str, str], tuple[float, float, list[CellGrade]]]:
    """read_grades for every submission of `assignments`, in one gradebook session."""
    from nbgrader.api import MissingEntry
    found = {}
    with open_gradebook(url, course_id) as gb:
        for assignment in assignments:
            try:
                subs = gb.find_assignment(assignment).submissions
            except MissingEntry:
                continue
            for submission in subs:
                cells = [CellGrade(nb.name, g.name, g.auto_score if g.manual_score is None
                                   else g.manual_score, g.max_score, bool(g.needs_manual_grade))
                         for nb in submission.notebooks for g in nb.grades]
                found[(assignment, submission.student.id)] = (
                    submission.score, submission.max_score,
                    sorted(cells, key=lambda c: (c.notebook, c.cell)))
    return found


def max_scores(url: str, course_id: str, assignments: list[str]) -> dict[str, float]:
    from nbgrader.api import MissingEntry
    found = {}
    with open_gradebook(url, course_id) as gb:
        for assignment in assignments:
            try:
                found[assignment] = gb.find_assignment(assignment).max_score
            except MissingEntry:
                pass
    return found


# --- the whole class, as nbgrader's own export reads it ---------------------------------------

class _LateScore:
    """`score` as nbgrader's export computes it: max(0, raw_score - late_penalty)."""

    @property
    def score(self) -> float:
        return max(0.0, self.raw_score - self.late_penalty)


@dataclass
class NotebookGrades(_LateScore):
    """One submitted notebook: nbgrader's raw score, its late penalty, and every graded cell."""
    name: str
    raw_score: float
    late_penalty: float
    max_score: float
    cells: list[CellGrade]


@dataclass
class SubmissionGrades(_LateScore):
    """One submission as `nbgrader export` (CsvExportPlugin) computes it: score is
    max(0, raw_score - late_penalty), raw_score sums every cell's grade (a manual grade in place of
    the autograder's, extra credit added)."""
    assignment: str
    student: str
    timestamp: str
    raw_score: float
    late_penalty: float
    max_score: float
    needs_manual_grade: bool
    notebooks: list[NotebookGrades]


@dataclass
class ClassGrades:
    """What the gradebook holds: assignments (name -> max score, in nbgrader's order), students
    (the roster: `nbgrader db student add/import`, or anyone who submitted), submissions."""
    assignments: dict[str, float]
    students: list[str]
    submissions: dict[tuple[str, str], SubmissionGrades]
    names: dict[str, str]                 # student id -> "Last, First", where the roster has it


def class_grades(url: str, course_id: str) -> ClassGrades:
    """Every assignment, student and submission of the gradebook, read through nbgrader's API in
    one session: the numbers nbgrader's `grades.csv` has, whoever graded (this course's grader,
    `nbgrader autograde`, formgrader, a manual grade)."""
    with open_gradebook(url, course_id) as gb:
        assignments = {a.name: float(a.max_score or 0.0) for a in gb.assignments}
        found = {}
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                notebooks = [NotebookGrades(
                    nb.name, float(nb.score or 0.0), float(nb.late_submission_penalty or 0.0),
                    float(nb.max_score or 0.0),
                    sorted((CellGrade(nb.name, g.name, float(g.score or 0.0), float(g.max_score),
                                      bool(g.needs_manual_grade)) for g in nb.grades),
                           key=lambda c: c.cell))
                    for nb in sub.notebooks]
                found[(assignment.name, sub.student.id)] = SubmissionGrades(
                    assignment.name, sub.student.id,
                    "" if sub.timestamp is None else str(sub.timestamp),
                    float(sub.score or 0.0), float(sub.late_submission_penalty or 0.0),
                    float(sub.max_score or 0.0), bool(sub.needs_manual_grade),
                    sorted(notebooks, key=lambda n: n.name))
        names = {s.id: ", ".join(n for n in (s.last_name, s.first_name) if n)
                 for s in gb.students if s.last_name or s.first_name}
        return ClassGrades(assignments, sorted(s.id for s in gb.students), found, names)
