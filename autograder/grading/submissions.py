"""What students handed in: who submitted which assignment, and what is wrong with a submission
before nbgrader sees it (a notebook that is not valid JSON, a renamed notebook)."""
import hashlib
from pathlib import Path

import nbformat

from autograder.safety import links


def released_notebooks(course: Path, assignment: str) -> list[str]:
    """The notebook file names students were given for an assignment."""
    return sorted(p.name for p in (course / "release" / assignment).glob("*.ipynb"))


def submitted_students(course: Path, assignment: str) -> list[str]:
    """Students with a folder submitted/<student>/<assignment>/, sorted."""
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}")
                  if p.is_dir())


def assignments_with_submissions(course: Path) -> list[str]:
    return sorted({p.name for p in (course / "submitted").glob("*/*") if p.is_dir()})


def submission_folder(course: Path, assignment: str, student: str) -> Path:
    return course / "submitted" / student / assignment


def check_submission(course: Path, assignment: str, student: str) -> list[str]:
    """What is wrong with a submission folder before grading: unreadable or renamed notebooks."""
    folder = submission_folder(course, assignment, student)
    expected = set(released_notebooks(course, assignment))
    found = {p.name for p in folder.glob("*.ipynb")}
    problems = []
    for name in sorted(found & expected):
        refused = links.refusal_below(folder / name, course / "submitted")
        if refused:  # never read: a link to the source notebook, a FIFO that blocks forever
            problems.append(f"{name} is {refused}, not a notebook: not read, scored 0")
            continue
        try:
            nbformat.validate(nbformat.read(str(folder / name), as_version=4))
        except nbformat.reader.NotJSONError:
            problems.append(f"{name} is not valid JSON (cut off or edited by hand?): scored 0")
        except Exception as error:  # any unreadable notebook is reported, never raised
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            problems.append(f"{name} is not a valid notebook ({reason}): scored 0")
    for name in sorted(expected - found):
        others = sorted(found - expected)
        hint = f"; found {', '.join(others)} (renamed?)" if others else ""
        problems.append(f"{name} was not submitted{hint}: scored 0")
    return problems


def fingerprint(course: Path, assignment: str, student: str) -> str:
    """sha256 of every file of a submission (names and bytes, timestamp.txt included; a link or a
    special file by what it is): a resubmission changes it, so a grade recorded for the old one is
    not reused."""
    folder = submission_folder(course, assignment, student)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        refused = links.refusal(path)  # a link is what it is, never what it points to
        if refused or path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(refused.encode() if refused else hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
