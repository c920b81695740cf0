"""`make demo`: the instructor's whole loop on a simulated class, with the real nbgrader.

generate the release of every notebook -> release it through the exchange -> eight students fetch
it and submit (each with its own id and home under .demo/homes/) -> collect -> autograde the whole
class in parallel workers (autograder/grading/batch.py) -> feedback -> reports/ and grades.csv ->
print student x notebook: score / max.

It never touches the instructor's course: `make demo` runs it in a course directory of its own,
demo/ (git-ignored): a copy of source/ and nbgrader_config.py, with its own gradebook.db, exchange,
submitted/, autograded/, feedback/ and reports/. COURSE_DB_URL and COURSE_EXCHANGE, which point
nbgrader_config.py at the real course's gradebook and exchange, are ignored for the demo. A second
run starts demo/ afresh; `make clean` removes it. `cd demo` and nbgrader's own commands (formgrader
included) show the demo's results.

    python -m autograder.authoring.demo [ASSIGNMENT ...] [--course DIR] [--workers N]
"""
import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from autograder.authoring import classroom

from autograder.reports import feedback

from autograder.grading import batch as grading

from autograder.reports import class_report as reports
from autograder.grading.gradebook import gradebook_url, printable_url
from autograder.grading.ledger import Outcome
from autograder.nbgrader_cli import COURSE_ROOT, nbgrader_checked
from autograder.authoring.release import generate_release

COURSE_ID = "gradients"
DEMO_DIR = "demo"
MARKER = ".demo-course"   # written into every demo course: only such a folder is ever replaced
REAL_COURSE_ENV = ("COURSE_DB_URL", "COURSE_EXCHANGE")


def assignment_ids(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "source").iterdir()
                  if (p / f"{p.name}.ipynb").is_file())


def collect_class(course: Path, ids: list[str], personas=classroom.PERSONAS,
                  exchange: Path | None = None, step=print) -> None:
    """Release `ids` through the exchange, let every persona fetch, work and submit, collect:
    afterwards submitted/ holds the class, ready to grade."""
    # the exchange nbgrader_config.py uses: COURSE_EXCHANGE, else exchange/ in the course
    exchange = exchange or Path(os.environ.get("COURSE_EXCHANGE", course / "exchange"))
    homes = course / ".demo" / "homes"
    step(f"generating release/ for {', '.join(ids)}")
    generate_release(ids, course=course)
    exchange.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(homes, ignore_errors=True)
    for assignment in ids:
        step(f"{assignment}: releasing to the exchange {exchange}")
        nbgrader_checked("release_assignment", assignment, "--force", course=course)
        step(f"{assignment}: {len(personas)} students fetch, work and submit")
        sources = {p.name: p for p in (course / "source" / assignment).glob("*.ipynb")}
        classroom.simulate(COURSE_ID, exchange, homes, assignment, sources, personas)
        step(f"{assignment}: collecting")
        nbgrader_checked("collect", assignment, "--update", course=course)


def run_demo(course: Path, exchange: Path | None = None, personas=classroom.PERSONAS, log=print,
             workers: int | None = None, ids: list[str] | None = None) -> list[Outcome]:
    """Run the whole loop in `course` (a scratch course: demo_course()) for `ids` (default: every
    notebook of its source/); return the grades (also printed through `log`)."""
    ids = ids or assignment_ids(course)
    started = time.perf_counter()

    def step(message):
        log(f"[{time.perf_counter() - started:6.1f}s] {message}")

    collect_class(course, ids, personas, exchange, step)
    step("autograding the class")
    grades = grading.grade_class(course, ids, workers=workers, regrade=True, bar=False,
                                 log=lambda m: step("  " + m))
    for assignment in ids:
        step(f"{assignment}: generating feedback")
        for problem in feedback.generate(course, assignment).problems:
            step(f"{assignment}: {problem}")
    step("writing reports")
    paths = reports.write_all(course)
    csv = reports.export_nbgrader_csv(course)
    step("done")
    notes = {p.name: p.describe for p in personas}
    log("")
    log(reports.format_table(grades, notes))
    log("")
    log(f"feedback HTML: {course / 'feedback'}/<student>/<notebook>/")
    log(f"grades CSV:    {csv}")
    log(f"reports:       {paths['html']} (open in a browser), {', '.join(p.name for k, p in paths.items() if k != 'html')}")
    log(f"gradebook:     {printable_url(gradebook_url(course))}  "
        f"(formgrader: `cd {course} && jupyter lab`, then Nbgrader > Formgrader)")
    return grades


def demo_course(course: Path, target: Path) -> Path:
    """A fresh course directory for the demo at `target`: `course`'s source/ and
    nbgrader_config.py (which roots the gradebook and exchange at its own folder). An earlier
    demo there is replaced; any other folder is refused, never deleted."""
    course, target = Path(course).resolve(), Path(target).resolve()
    if target == course or target in course.parents:
        raise ValueError(f"the demo course cannot be the course itself or above it: {target}")
    if target.exists():
        if not (target / MARKER).is_file():
            raise ValueError(f"{target} exists and is not a demo course (no {MARKER} in it): "
                             "move it away or choose another --demo-dir")
        shutil.rmtree(target)
    shutil.copytree(course / "source", target / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(course / "nbgrader_config.py", target / "nbgrader_config.py")
    (target / MARKER).write_text("made by `make demo`; `make clean` removes this folder\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.authoring.demo",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every notebook in source/")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT,
                        help="the instructor's course (its source/ is copied; default: this "
                             "repository)")
    parser.add_argument("--demo-dir", type=Path, default=None,
                        help=f"where the demo's course goes (default: COURSE/{DEMO_DIR})")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    for name in REAL_COURSE_ENV:  # they point at the real course's gradebook and exchange
        if os.environ.pop(name, None) is not None:
            print(f"(ignoring {name} for the demo: it grades into its own gradebook)")
    unknown = sorted(set(args.assignments) - set(assignment_ids(args.course)))
    if unknown:
        print(f"error: no source/{unknown[0]}/{unknown[0]}.ipynb", file=sys.stderr)
        return 2
    try:
        course = demo_course(args.course, args.demo_dir or args.course / DEMO_DIR)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"demo course: {course} (the course's own gradebook is not touched)")
    run_demo(course, workers=args.workers,
             ids=args.assignments or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
