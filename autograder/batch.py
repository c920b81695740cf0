"""Grade a whole class with nbgrader without letting one broken submission stop the batch.

    python -m autograder.batch autograde [ASSIGNMENT ...]   # what `make autograde` runs
    python -m autograder.batch feedback  [ASSIGNMENT ...]   # what `make feedback` runs
    python -m autograder.batch report    [ASSIGNMENT ...]   # export grades.csv and print the table

Every kernel runs in the bubblewrap sandbox nbgrader_config.py sets up (autograder/sandbox.py);
where none can start, `autograde` refuses unless given --unsandboxed, and the report says so.

`nbgrader autograde` already goes on past a student whose notebook fails to convert, but it says
why only in its log, and a few errors (a database error, a notebook with an unknown metadata schema)
end the whole run. So: every submission is first checked for what nbgrader explains badly (a
notebook that is not valid JSON, a renamed notebook); then the class is graded in one nbgrader run;
every student that run did not grade is graded again alone; whatever still fails is reported by
student id with the reason, and the student keeps the score nbgrader recorded (0 for a notebook it
could not read).
"""
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder import flags, sandbox
from autograder.nbgrader_cli import COURSE_ROOT, nbgrader

ERROR_FOR_STUDENT = re.compile(r"There was an error processing assignment '(?P<a>[^']*)' for "
                               r"student '(?P<s>[^']*)'")


@dataclass
class Grade:
    """One student's result on one assignment."""
    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    problems: list[str] = field(default_factory=list)


def released_notebooks(course: Path, assignment: str) -> list[str]:
    """The notebook file names students were given for an assignment."""
    return sorted(p.name for p in (course / "release" / assignment).glob("*.ipynb"))


def submitted_students(course: Path, assignment: str) -> list[str]:
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}")
                  if p.is_dir())


def check_submission(course: Path, assignment: str, student: str) -> list[str]:
    """What is wrong with a submission folder before grading: unreadable or renamed notebooks."""
    folder = course / "submitted" / student / assignment
    expected = set(released_notebooks(course, assignment))
    found = {p.name for p in folder.glob("*.ipynb")}
    problems = []
    for name in sorted(found & expected):
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


def _graded(course: Path, assignment: str, student: str) -> bool:
    out = course / "autograded" / student / assignment
    return all((out / name).exists() for name in released_notebooks(course, assignment)
               if (course / "submitted" / student / assignment / name).exists())


def _last_error_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b", line)]
    return (errors or [line for line in lines if "ERROR" in line] or ["unknown error"])[-1]


def autograde(assignment: str, course: Path = COURSE_ROOT) -> dict[str, list[str]]:
    """Autograde every submission of `assignment`; return {student: problems} (empty if fine)."""
    students = submitted_students(course, assignment)
    problems = {s: check_submission(course, assignment, s) for s in students}
    if not students:
        return problems
    batch = nbgrader("autograde", assignment, "--force", course=course)
    log = batch.stdout + batch.stderr
    failed = {m["s"] for m in ERROR_FOR_STUDENT.finditer(log) if m["a"] == assignment}
    for student in students:
        if student in failed or _graded(course, assignment, student):
            continue
        alone = nbgrader("autograde", assignment, f"--student={student}", "--force", course=course)
        if alone.returncode != 0 or not _graded(course, assignment, student):
            failed.add(student)
            log += alone.stdout + alone.stderr
    for student in sorted(failed):
        if not problems[student]:  # nbgrader failed for a reason the pre-check did not see
            problems[student].append(f"autograde failed: {_last_error_line(log)}")
    return problems


def feedback(assignment: str, course: Path = COURSE_ROOT) -> list[str]:
    """Write feedback/<student>/<assignment>/*.html; return problems (empty if fine)."""
    result = nbgrader("generate_feedback", assignment, "--force", course=course)
    if result.returncode == 0:
        return []
    failed = {m["s"] for m in ERROR_FOR_STUDENT.finditer(result.stdout + result.stderr)}
    return [f"no feedback for {s}: its autograde failed" for s in sorted(failed)] or [
        f"generate_feedback failed: {_last_error_line(result.stdout + result.stderr)}"]


def gradebook_url(course: Path) -> str:
    """The gradebook nbgrader_config.py points at (COURSE_DB_URL, else gradebook.db there)."""
    return os.environ.get("COURSE_DB_URL", f"sqlite:///{course / 'gradebook.db'}")


def export_csv(course: Path = COURSE_ROOT) -> Path:
    """`nbgrader export` to grades.csv in the course directory."""
    target = course / "grades.csv"
    result = nbgrader("export", f"--to={target}", course=course)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{result.stdout}{result.stderr}")
    return target


def collect_grades(assignments, problems: dict, course: Path = COURSE_ROOT) -> list[Grade]:
    """Scores from the gradebook for every student with a submission, with their problems."""
    grades = []
    with Gradebook(gradebook_url(course)) as gb:
        for assignment in assignments:
            max_score = gb.find_assignment(assignment).max_score
            for student in submitted_students(course, assignment):
                grade = Grade(student, assignment, 0.0, max_score,
                              list(problems.get((student, assignment), [])))
                try:
                    grade.score = gb.find_submission(assignment, student).score
                except MissingEntry:
                    grade.problems.append("no submission in the gradebook")
                grades.append(grade)
    return grades


def format_table(grades: list[Grade], notes: dict | None = None) -> str:
    """Student x notebook: score / max, and beneath it every problem by student id."""
    assignments = sorted({g.assignment for g in grades})
    students = sorted({g.student for g in grades})
    cell = {(g.student, g.assignment): g for g in grades}
    width = max([len("student")] + [len(s) for s in students]) + 2
    header = "student".ljust(width) + "".join(a.ljust(18) for a in assignments)
    if notes:
        header += "submission"
    lines = [header, "-" * len(header)]
    for student in students:
        row = student.ljust(width)
        for a in assignments:
            g = cell.get((student, a))
            text = "-" if g is None else f"{g.score:g} / {g.max_score:g}" + (" !" if g.problems else "")
            row += text.ljust(18)
        if notes:
            row += notes.get(student, "")
        lines.append(row)
    reported = [g for g in grades if g.problems]
    if reported:
        lines += ["", "! reported:"]
        lines += [f"  {g.student} / {g.assignment}: {p}" for g in reported for p in g.problems]
    return "\n".join(lines)


def _assignments_with_submissions(course: Path) -> list[str]:
    return sorted({p.name for p in (course / "submitted").glob("*/*") if p.is_dir()})


def main(argv: list[str]) -> int:
    unsandboxed = "--unsandboxed" in argv
    argv = [a for a in argv if a != "--unsandboxed"]
    if not argv or argv[0] not in ("autograde", "feedback", "report"):
        print(__doc__)
        return 2
    if argv[0] == "autograde":
        if unsandboxed:
            os.environ[sandbox.UNSANDBOXED_ENV] = "1"  # nbgrader's kernels inherit it
        elif not sandbox.available():
            print(f"refusing to grade: {sandbox.refusal_message()}", file=sys.stderr)
            return 3
    verb, chosen = argv[0], argv[1:] or _assignments_with_submissions(COURSE_ROOT)
    if not chosen:
        print("nothing in submitted/: collect submissions first (nbgrader collect ASSIGNMENT)")
        return 1
    problems = {}
    for assignment in chosen:
        found = autograde(assignment) if verb == "autograde" else {
            s: check_submission(COURSE_ROOT, assignment, s)
            for s in submitted_students(COURSE_ROOT, assignment)}
        problems.update({(student, assignment): p for student, p in found.items()})
    if verb == "feedback":
        for assignment in chosen:
            for problem in feedback(assignment):
                print(f"{assignment}: {problem}")
        print(f"feedback written to {COURSE_ROOT / 'feedback'}")
        return 0
    csv = export_csv()
    print(format_table(collect_grades(chosen, problems)))
    if flags.format_report(COURSE_ROOT, chosen):
        print("\n" + flags.format_report(COURSE_ROOT, chosen))
    if sandbox.unsandboxed_allowed():
        print(f"\n! graded WITHOUT a sandbox ({sandbox.UNSANDBOXED_ENV}=1 / --unsandboxed): "
              "students' code ran with your rights")
    print(f"\ngrades exported to {csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
