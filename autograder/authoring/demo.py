"""`make demo`: the instructor's whole loop on a simulated class, with the real nbgrader.

generate the release of every notebook -> release it through the exchange (exchange/, git-ignored)
-> eight students fetch it and submit (each with its own id and home under .demo/homes/) ->
collect -> autograde the whole class in parallel workers (autograder/grading/batch.py) -> feedback ->
reports/ and grades.csv -> print student x notebook: score / max.

It works in this repository's course directory (gradebook.db, submitted/, autograded/,
feedback/), so formgrader shows the same results afterwards; a second run regrades from scratch.
`make clean` removes all of it.
"""
import os
import shutil
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


def run_demo(course: Path = COURSE_ROOT, exchange: Path | None = None,
             personas=classroom.PERSONAS, log=print, workers: int | None = None) -> list[Outcome]:
    """Run the whole loop in `course`; return the grades (also printed through `log`)."""
    ids = assignment_ids(course)
    started = time.perf_counter()

    def step(message):
        log(f"[{time.perf_counter() - started:6.1f}s] {message}")

    collect_class(course, ids, personas, exchange, step)
    step("autograding the class")
    grades = grading.grade_class(course, ids, workers=workers, regrade=True, bar=False,
                                 log=lambda m: step("  " + m))
    for assignment in ids:
        step(f"{assignment}: generating feedback")
        graded = [g.student for g in grades if g.assignment == assignment and g.status == "graded"]
        for problem in feedback.generate(course, assignment, graded):
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
    log(f"gradebook:     {printable_url(gradebook_url(course))}  (formgrader: make lab, then Nbgrader > Formgrader)")
    return grades


if __name__ == "__main__":
    run_demo()
