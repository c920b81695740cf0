"""An instructor's term: one class graded three ways (the course's grader, plain
`nbgrader autograde --student`, a manual grade in the gradebook), a late submission under
nbgrader's late-submission penalty, a student on the roster who submitted nothing, and a second
assignment graded by hand. Every report agrees with nbgrader's own `grades.csv` cell for cell.
"""
import csv
import html
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from autograder.authoring import classroom
from autograder.authoring.demo import collect_class
from autograder.grading import batch as grading
from autograder.grading import gradebook
from autograder.grading.ledger import Ledger
from autograder.nbgrader_cli import nbgrader_checked, nbgrader_env
from conftest import ASSIGNMENTS, copy_course

FIRST = ASSIGNMENTS[0]
BY_HAND = "99_by_hand"           # an assignment graded by hand only (formgrader's manual grades)
CLASS = [p for p in classroom.PERSONAS if p.name in ("alice", "bob", "dana", "farah")]
LATE = "alice"                   # submits after the due date: nbgrader's "zero" penalty
PLAIN = "zoe"                    # graded with plain `nbgrader autograde --student`
ABSENT = "yara"                  # on the roster, submitted nothing
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def _stamp(folder, when: datetime) -> None:
    (folder / "timestamp.txt").write_text(when.strftime(TIME_FORMAT))


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("term"))
    with open(course / "nbgrader_config.py", "a") as f:
        f.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    collect_class(course, [FIRST], CLASS, step=lambda m: None)
    url = gradebook.gradebook_url(course)
    due = datetime(2030, 1, 15, 12, 0, tzinfo=timezone.utc)
    with gradebook.open_gradebook(url, "gradients") as gb:
        gb.update_or_create_assignment(FIRST, duedate=due)
        gb.add_student(ABSENT)
    for persona in CLASS:
        late = persona.name == LATE
        _stamp(course / "submitted" / persona.name / FIRST, due + timedelta(hours=3 if late else -3))

    # 1. the course's grader, the whole class
    outcomes = grading.grade_class(course, [FIRST], workers=2, log=lambda m: None, bar=False)
    # 2. plain nbgrader, one student who handed in late through another channel
    shutil.copytree(course / "submitted" / "dana" / FIRST, course / "submitted" / PLAIN / FIRST)
    _stamp(course / "submitted" / PLAIN / FIRST, due - timedelta(hours=1))
    nbgrader_checked("autograde", FIRST, "--student", PLAIN, course=course)
    # 3. manual grades: bob's first test cell given full points, dana extra credit, and an
    #    assignment graded by hand only
    with gradebook.open_gradebook(url, "gradients") as gb:
        bob = gb.find_submission(FIRST, "bob").notebooks[0].grades
        first = sorted(bob, key=lambda g: g.name)[0]
        first.manual_score = first.max_score
        dana = sorted(gb.find_submission(FIRST, "dana").notebooks[0].grades, key=lambda g: g.name)
        dana[-1].extra_credit = 0.5
        gb.add_assignment(BY_HAND)
        gb.add_notebook(BY_HAND, BY_HAND)
        gb.add_grade_cell("essay", BY_HAND, BY_HAND, max_score=4, cell_type="markdown")
        gb.add_submission(BY_HAND, "bob")
        gb.find_grade("essay", BY_HAND, BY_HAND, "bob").manual_score = 3
        gb.db.commit()

    # the report of FIRST alone, from the command line
    run = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course), "report",
                          FIRST], env=nbgrader_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return course, {o.student: o for o in outcomes}, run.stdout


def _csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def nbgrader_grades(course) -> dict:
    """(student, assignment) -> (raw_score, penalty, score, max_score) from nbgrader's grades.csv."""
    return {(r["student_id"], r["assignment"]):
            tuple(float(r[k]) for k in ("raw_score", "late_submission_penalty", "score",
                                        "max_score"))
            for r in _csv(course / "grades.csv")}


def test_the_class_was_graded_three_ways_with_a_late_penalty(term):
    course, outcomes, _ = term
    grades = nbgrader_grades(course)
    assert PLAIN not in outcomes and Ledger(course).read(FIRST, PLAIN) is None
    raw, penalty, score, _ = grades[(LATE, FIRST)]
    assert raw > 0 and penalty == raw and score == 0, "the late penalty did not apply"
    assert grades[(PLAIN, FIRST)][2] > 0
    assert grades[("bob", FIRST)][0] > 0, "bob's manual grade is not in nbgrader's export"
    assert grades[("bob", BY_HAND)][2] == 3
    assert grades[(ABSENT, FIRST)] == (0, 0, 0, grades[(ABSENT, FIRST)][3])


def test_lms_csv_agrees_with_grades_csv_cell_for_cell(term):
    course, _, _ = term
    grades = nbgrader_grades(course)
    rows = _csv(course / "reports" / "lms.csv")
    assert list(rows[0]) == ["student_id", FIRST, BY_HAND, "total"], \
        "the report of one assignment dropped the other's column"
    lms = {(r["student_id"], a): float(r[a]) for r in rows for a in (FIRST, BY_HAND)}
    assert lms == {key: value[2] for key, value in grades.items()}
    for r in rows:
        assert float(r["total"]) == sum(grades[(r["student_id"], a)][2] for a in (FIRST, BY_HAND))


SUBMISSIONS = {(p.name, FIRST) for p in CLASS} | {(PLAIN, FIRST), ("bob", BY_HAND)}


def test_scores_and_cells_csv_agree_with_grades_csv(term):
    course, _, _ = term
    grades = nbgrader_grades(course)
    totals = {}
    for r in _csv(course / "reports" / "scores.csv"):
        t = totals.setdefault((r["student_id"], r["assignment"]), [0.0, 0.0, 0.0, 0.0])
        for i, k in enumerate(("raw_score", "late_penalty", "score", "max_score")):
            t[i] += float(r[k])
    assert set(totals) == SUBMISSIONS
    assert {k: tuple(v) for k, v in totals.items()} == {k: grades[k] for k in SUBMISSIONS}
    per_cell = {}
    for r in _csv(course / "reports" / "cells.csv"):
        key = (r["student_id"], r["assignment"])
        per_cell[key] = per_cell.get(key, 0.0) + float(r["score"])
    assert set(per_cell) <= SUBMISSIONS
    assert {k: per_cell.get(k, 0.0) for k in SUBMISSIONS} == {k: grades[k][0] for k in SUBMISSIONS}


def test_the_html_report_shows_grades_csv_scores(term):
    course, _, _ = term
    page = html.unescape((course / "reports" / "report.html").read_text())
    table = page.split("<h2>Scores</h2>")[1].split("</table>")[0]
    header = re.findall(r"<th>(.*?)</th>", table)
    assert header == ["student", FIRST, BY_HAND]
    shown = {}
    for row in re.findall(r"<tr>(<td>.*?)</tr>", table):
        student, *cells = re.findall(r"<td>(.*?)</td>", row)
        shown.update({(student, a): text for a, text in zip(header[1:], cells)})
    grades = nbgrader_grades(course)
    assert set(shown) == set(grades)
    for key, (raw, penalty, score, top) in grades.items():
        assert shown[key] == "-" if key not in SUBMISSIONS else \
            shown[key].startswith(f"{score:g} / {top:g}"), (key, shown[key])
    assert shown[(LATE, FIRST)].startswith(f"0 / ") and "late" in shown[(LATE, FIRST)]


def test_the_terminal_table_shows_first_only_and_is_aligned(term):
    _, _, printed = term
    table = printed.split("\n\n")[0].splitlines()
    assert BY_HAND not in table[0] and FIRST in table[0]
    column = table[0].index(FIRST)
    for line in table[2:]:
        assert line[column - 2:column] == "  " and line[column] != " ", table


def canvas_import(path) -> dict:
    """What Canvas's gradebook import reads from a CSV: the columns of its own export (Student,
    ID, SIS User ID, SIS Login ID, Section, then assignments), a "Points Possible" row, each
    other row matched to a student by ID, SIS User ID or SIS Login ID; a blank grade is no change.
    Returns {"points": {assignment: points}, "grades": {(login, assignment): float or None}}."""
    rows = list(csv.reader(open(path, newline="", encoding="utf-8")))
    header = rows[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"], header
    assignments = header[5:]
    assert rows[1][0].strip() == "Points Possible"
    points = {a: float(v) for a, v in zip(assignments, rows[1][5:])}
    grades = {}
    for row in rows[2:]:
        login = row[1] or row[2] or row[3]
        assert login, f"Canvas cannot match a row without ID, SIS User ID or SIS Login ID: {row}"
        for a, value in zip(assignments, row[5:]):
            grades[(login, a)] = float(value) if value.strip() else None
    return {"points": points, "grades": grades}


def moodle_import(path, identifier="username") -> dict:
    """What Moodle's "Import grades from CSV file" reads: a header row, one column mapped to a
    user identifier, every other column mapped to a grade item; an empty cell is skipped."""
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    grades = {}
    for row in rows:
        user = row.pop(identifier)
        assert user
        for item, value in row.items():
            if value.strip():
                grades[(user, item)] = float(value)
    return grades


def test_canvas_and_moodle_files_import_grades_csv_as_it_is(term):
    course, _, _ = term
    grades = nbgrader_grades(course)
    canvas = canvas_import(course / "reports" / "canvas-missing-zero.csv")
    assert canvas["points"] == {FIRST: grades[(LATE, FIRST)][3], BY_HAND: 4.0}
    assert canvas["grades"] == {key: value[2] for key, value in grades.items()}
    moodle = moodle_import(course / "reports" / "moodle-missing-zero.csv")
    assert moodle == {key: value[2] for key, value in grades.items()}


def test_missing_submissions_left_empty_when_the_instructor_chooses(term):
    course, _, _ = term
    run = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course), "report",
                          "--missing", "empty"], env=nbgrader_env(), capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    folder = course / "reports"
    assert not (folder / "canvas-missing-zero.csv").exists(), "two files disagreeing"
    grades = nbgrader_grades(course)
    expected = {k: v[2] for k, v in grades.items() if k[0] != ABSENT and k in SUBMISSIONS}
    canvas = canvas_import(folder / "canvas-missing-empty.csv")["grades"]
    assert {k: v for k, v in canvas.items() if v is not None} == expected
    assert canvas[(ABSENT, FIRST)] is None and canvas[("alice", BY_HAND)] is None
    assert moodle_import(folder / "moodle-missing-empty.csv") == expected
