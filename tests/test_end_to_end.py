"""Layer 4: the instructor's whole loop through the real nbgrader, with the scores asserted exactly.

One scratch course (a copy of source/, release/ and nbgrader_config.py, with its own exchange and
SQLite gradebook) runs the same demo as `make demo` once (graded by the parallel grader); the tests
read what it left behind, and grade the same submissions again with stock serial
`nbgrader autograde` (one run per assignment) to check that the grades agree cell by cell.
"""
import csv
import html
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from autograder.authoring import classroom

from autograder.grading import gradebook
from autograder.nbgrader_cli import nbgrader
from autograder.authoring.demo import run_demo
from autograder.notebooks import grade_id, is_test, points, read, grading_cells
from conftest import ASSIGNMENTS, copy_course


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    lines = []
    grades = run_demo(course, log=lines.append, workers=2)
    return course, {(g.student, g.assignment): g for g in grades}, "\n".join(lines)


def source(course, assignment):
    return read(course / "source" / assignment / f"{assignment}.ipynb")


def max_points(nb):
    return sum(points(c) for c in nb.cells if is_test(c))


def autograded_failures(course, student, assignment) -> dict:
    nb = nbformat.read(str(course / "autograded" / student / assignment / f"{assignment}.ipynb"),
                       as_version=4)
    return {grade_id(c): o["evalue"] for c in nb.cells if is_test(c)
            for o in c.get("outputs", []) if o.get("output_type") == "error"}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_full_marks_and_blank_gets_zero(graded, assignment):
    course, grades, _ = graded
    full = max_points(source(course, assignment))
    assert grades[("alice", assignment)].score == full == grades[("alice", assignment)].max_score
    assert grades[("bob", assignment)].score == 0
    assert not grades[("alice", assignment)].problems and not grades[("bob", assignment)].problems


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_partial_submission_gets_exactly_the_points_of_what_it_solved(graded, assignment):
    course, grades, _ = graded
    nb = source(course, assignment)
    solved = classroom.partial_cells(nb)
    expected = sum(points(t) for cell in solved for t in grading_cells(nb, cell))
    assert 0 < expected < max_points(nb)
    assert grades[("chen", assignment)].score == expected


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("student, index", [("dana", 0), ("emeka", 1)])
def test_a_known_mistake_loses_that_cells_points_with_a_diagnostic_in_the_feedback(
        graded, assignment, student, index):
    course, grades, _ = graded
    mistakes = classroom.demo_mistakes(assignment)
    if len(mistakes) <= index:
        pytest.fail(f"{assignment} has no mutation catalog with two wrong entries")
    mistake, nb = mistakes[index], source(course, assignment)
    failures = autograded_failures(course, student, assignment)
    own = {grade_id(t) for t in grading_cells(nb, mistake.cell)}
    assert failures and set(failures) <= own, (mistake.name, failures)
    lost = sum(points(c) for c in nb.cells if grade_id(c) in failures)
    assert grades[(student, assignment)].score == max_points(nb) - lost

    page = (course / "feedback" / student / assignment / f"{assignment}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for message in failures.values():
        assert message.splitlines()[0] in text, "the diagnostic message is not in the feedback"
    assert "HIDDEN TESTS" not in text
    released = "\n".join(c.source for c in read(course / "release" / assignment /
                                                f"{assignment}.ipynb").cells)
    secret_lines = 0
    for test_cell in (c for c in nb.cells if grade_id(c) in failures):
        if "### BEGIN HIDDEN TESTS" not in test_cell.source:
            continue
        hidden = test_cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN")[0]
        for line in filter(None, (l.strip() for l in hidden.splitlines())):
            if len(line) > 25 and not line.startswith("#") and line not in released:
                assert line not in text, f"hidden test source leaked into feedback: {line}"
                secret_lines += 1
    assert secret_lines, "the mistake failed no hidden test, so nothing showed the source stays secret"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_cell_that_raises_at_import_loses_only_its_own_points(graded, assignment):
    course, grades, _ = graded
    nb = source(course, assignment)
    broken = classroom.crashing_cell(nb)
    failures = autograded_failures(course, "hana", assignment)
    assert set(failures) == {grade_id(t) for t in grading_cells(nb, broken)}
    assert grades[("hana", assignment)].score == \
        max_points(nb) - sum(points(t) for t in grading_cells(nb, broken))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("student, phrase", [("farah", "not valid JSON"), ("gus", "renamed")])
def test_broken_submissions_score_zero_and_are_reported_with_the_reason(
        graded, assignment, student, phrase):
    _, grades, table = graded
    grade = grades[(student, assignment)]
    assert grade.score == 0
    assert any(phrase in p for p in grade.problems), grade.problems
    assert f"{student} / {assignment}: " in table


def test_grades_csv_and_table_cover_every_student(graded):
    course, grades, table = graded
    with open(course / "grades.csv", newline="") as f:
        rows = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    assert rows == {key: g.score for key, g in grades.items()}
    for persona in classroom.PERSONAS:
        assert re.search(rf"^{persona.name}\s", table, re.M)
    assert "feedback HTML" in table and "grades CSV" in table


def test_parallel_grades_equal_stock_serial_nbgrader_autograde_cell_by_cell(graded, tmp_path):
    course, grades, _ = graded

    def stock_autograde(assignment):
        """Stock, serial `nbgrader autograde` of one assignment, in its own copy of the course
        (its own gradebook); it exits 1 because some students are broken."""
        stock = tmp_path / f"stock-{assignment}"
        shutil.copytree(course, stock, ignore=shutil.ignore_patterns(
            "autograded", "feedback", "reports", ".autograder", ".demo", "exchange"))
        nbgrader("autograde", assignment, "--force", course=stock)
        return stock

    # nbgrader grades one notebook after the other and waits on each kernel: two assignments at
    # a time keep both cores busy. Each run is still nbgrader's own, unchanged.
    with ThreadPoolExecutor(max_workers=2) as pool:
        stocks = dict(zip(ASSIGNMENTS, pool.map(stock_autograde, ASSIGNMENTS)))

    def cells(where, assignments):
        rows = gradebook.all_grades(f"sqlite:///{where / 'gradebook.db'}", "gradients",
                                    assignments)
        return {(a, s, c.notebook, c.cell): (c.score, c.max_score, c.needs_manual_grade)
                for (a, s), (_, _, found) in rows.items() for c in found}

    ours = cells(course, ASSIGNMENTS)
    theirs = {}
    for assignment, stock in stocks.items():
        theirs.update(cells(stock, [assignment]))
    assert ours and ours == theirs
    assert {(a, s) for s, a in grades} == {(a, s) for a, s, _, _ in theirs}
    for (student, assignment) in grades:  # the same notebooks could and could not be graded
        assert (course / "autograded" / student / assignment).exists() == \
            (stocks[assignment] / "autograded" / student / assignment).exists(), (student, assignment)
