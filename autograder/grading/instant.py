"""Grade one notebook now: a student's "grade me", or a hub service, with nothing stored.

The notebook goes through the preprocessors of nbgrader's Autograde as nbgrader_config.py sets them
(hidden tests restored from the gradebook, kernel spec reset, executed with the course's timeout
and sandbox), and each graded cell is scored by nbgrader's own rule (`nbgrader.utils
.determine_grade`, the one SaveAutoGrades uses), so the score equals what `make autograde` will
give the same notebook. Nothing is written to the gradebook. An `InstantGrader` kept alive (a hub
service) pays nbgrader's import and configuration once, and starts the kernel for the next
notebook while it grades one: each notebook then costs about one execution of it, or less.
"""
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.grading import gradebook

from autograder.grading import submissions
from autograder.nbgrader_cli import COURSE_ROOT
from autograder.kernels.prestart import PRESTARTER, workdir_files

# they write to the gradebook or flags.csv: instant grading stores nothing
NOT_RUN = ("SaveAutoGrades", "AssignLatePenalties", "FlagTampering")


@dataclass
class CellResult:
    cell: str
    score: float | None      # None: an answer cell left for manual grading
    max_score: float
    message: str = ""


@dataclass
class InstantResult:
    assignment: str
    notebook: str
    score: float
    max_score: float
    seconds: float
    cells: list[CellResult] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        lines = [f"{self.assignment}/{self.notebook}: {self.score:g} / {self.max_score:g} "
                 f"({self.seconds:.1f} s)"]
        for c in self.cells:
            score = "manual" if c.score is None else f"{c.score:g}"
            lines.append(f"  {c.cell:40s} {score:>6} / {c.max_score:g}"
                         + (f"   {c.message}" if c.message else ""))
        return "\n".join(lines)


def _class(preprocessor):
    """A preprocessor class from nbgrader's list, which the configuration may give as a name."""
    if isinstance(preprocessor, str):
        from traitlets.utils.importstring import import_item
        return import_item(preprocessor)
    return preprocessor


class InstantGrader:
    """nbgrader's autograde preprocessors, configured once for `course`."""

    def __init__(self, course: Path = COURSE_ROOT, prestart: bool = True):
        """prestart: start the next notebook's kernel ahead (for a grader that grades many)."""
        self.course = Path(course).resolve()
        self.prestart = prestart
        from nbgrader.apps.autogradeapp import AutogradeApp
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory
        cwd = os.getcwd()
        os.chdir(self.course)
        try:
            self.app = AutogradeApp()
            self.app.initialize([])
        finally:
            os.chdir(cwd)
        converter = Autograde(coursedir=CourseDirectory(parent=self.app), parent=self.app)
        self.sanitize = [p for p in map(_class, converter.sanitize_preprocessors)
                         if p.__name__ not in NOT_RUN]
        self.execute = [p for p in map(_class, converter.autograde_preprocessors)
                        if p.__name__ not in NOT_RUN]
        self.url = gradebook.gradebook_url(self.course)
        self._scratch = None

    def _fresh_workdir(self) -> Path:
        """The folder every notebook of this grader runs in (one path, emptied each time, so
        that a kernel started ahead for it can be used)."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="instant-")
        workdir = Path(self._scratch.name) / "notebook"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        return workdir

    def close(self) -> None:
        """Stop the kernel started ahead and remove the scratch folder."""
        PRESTARTER.discard()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def notebook_id(self, path: Path, assignment: str) -> str:
        released = [Path(n).stem for n in submissions.released_notebooks(self.course, assignment)]
        if not released:
            raise LookupError(f"{assignment!r} has no released notebook in {self.course}/release")
        if Path(path).stem in released:
            return Path(path).stem
        if len(released) == 1:
            return released[0]  # a renamed copy of the assignment's only notebook
        raise LookupError(f"{Path(path).name} is none of {', '.join(released)}")

    def grade(self, path: Path, assignment: str | None = None) -> InstantResult:
        from nbgrader.utils import determine_grade, is_grade, is_solution, setenv
        started = time.perf_counter()
        path = Path(path)
        assignment = assignment or path.stem
        notebook = self.notebook_id(path, assignment)
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception as error:
            raise ValueError(f"{path.name} is not a readable notebook: {error}") from None
        workdir = self._fresh_workdir()
        source = self.course / "source" / assignment
        for item in source.iterdir():  # data files next to the notebook, as autograde does
            if item.suffix != ".ipynb" and item.is_file():
                shutil.copy(item, workdir)
        # the next notebook is most likely of the same assignment: its kernel boots while this
        # one runs, and waits (autograder/kernels/prestart.py checks the folder's files before use)
        PRESTARTER.expect(workdir if self.prestart else None, workdir_files(workdir))
        resources = {"nbgrader": {"db_url": self.url, "assignment": assignment,
                                  "notebook": notebook, "student": "instant"},
                     "metadata": {"path": str(workdir), "name": notebook}}
        for step in self.sanitize:
            nb, resources = step(parent=self.app)(nb, resources)
        with setenv(NBGRADER_EXECUTION="autograde"):
            for step in self.execute:
                nb, resources = step(parent=self.app)(nb, resources)
        cells = []
        for cell in nb.cells:
            if not is_grade(cell):
                continue
            score, max_score = determine_grade(cell)
            message = ""
            if not is_solution(cell):
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        message = (f"{output.get('ename')}: "
                                   + (str(output.get("evalue", "")).splitlines() or [""])[0])
                        break
            cells.append(CellResult(cell.metadata.nbgrader["grade_id"], score, max_score,
                                    message))
        return InstantResult(assignment, notebook, sum(c.score or 0 for c in cells),
                             sum(c.max_score for c in cells), time.perf_counter() - started,
                             cells)


def grade_notebook(path: Path, assignment: str | None = None,
                   course: Path = COURSE_ROOT) -> InstantResult:
    """Grade one notebook once (a new InstantGrader each call; keep one to grade many)."""
    grader = InstantGrader(course, prestart=False)
    try:
        return grader.grade(path, assignment)
    finally:
        grader.close()
