"""An instructor's term: one class graded three ways (the course's grader, plain
`nbgrader autograde --student`, a manual grade in the gradebook), a late submission under
nbgrader's late-submission penalty, two late submissions within a deadline extension
(extensions.csv), a student on the roster who submitted nothing, and a second assignment graded by
hand. Every report agrees with nbgrader's own `grades.csv` cell for cell.
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
from autograder.grading import extensions, gradebook
from autograder.grading.ledger import Ledger
from autograder.nbgrader_cli import nbgrader_checked, nbgrader_env
from conftest import ASSIGNMENTS, copy_course

FIRST = ASSIGNMENTS[0]
BY_HAND = "99_by_hand"           # an assignment graded by hand only (formgrader's manual grades)
CLASS = [p for p in classroom.PERSONAS if p.name in ("alice", "bob", "dana", "farah")]
LATE = "alice"                   # submits after the due date: nbgrader's "zero" penalty
EXTENDED = "dana"                # submits late, within 5 extra hours (extensions.csv)
PLAIN = "zoe"                    # graded with plain `nbgrader autograde --student`, late
                                 # but before her new due date (extensions.csv)
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
    late = (LATE, EXTENDED)
    for persona in CLASS:
        _stamp(course / "submitted" / persona.name / FIRST,
               due + timedelta(hours=3 if persona.name in late else -3))
    # alice's 2 extra hours are too few; zoe's new due date is 2 hours after the class's
    (course / extensions.FILE_NAME).write_text(
        "student_id,assignment,new_due_date,extra_hours\n"
        f"{LATE},{FIRST},,2\n"
        f"{EXTENDED},{FIRST},,5\n"
        f"{PLAIN},{FIRST},2030-01-15 23:00:00 +0900,\n"
        f"{PLAIN},{BY_HAND},,1\n")

    # 1. the course's grader, the whole class
    outcomes = grading.grade_class(course, [FIRST], workers=2, log=lambda m: None, bar=False)
    # 2. plain nbgrader, one student who handed in late through another channel
    shutil.copytree(course / "submitted" / "dana" / FIRST, course / "submitted" / PLAIN / FIRST)
    _stamp(course / "submitted" / PLAIN / FIRST, due + timedelta(hours=1))
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
    exported = {(r["student_id"], r["assignment"]): r for r in _csv(course / "grades.csv")}
    for student in (EXTENDED, PLAIN):  # late, within their extensions: no penalty
        row = exported[(student, FIRST)]
        assert datetime.fromisoformat(row["timestamp"]) > datetime.fromisoformat(row["duedate"])
        raw, penalty, score, _ = grades[(student, FIRST)]
        assert raw > 0 and penalty == 0 and score == raw, (student, grades[(student, FIRST)])
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
    assert "late" not in shown[(EXTENDED, FIRST)] and "late" not in shown[(PLAIN, FIRST)]


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


def _extensions_file(tmp_path, text):
    path = tmp_path / extensions.FILE_NAME
    path.write_text(text)
    return path


HEADER = "student_id,assignment,new_due_date,extra_hours\n"


@pytest.mark.parametrize("body, says", [
    ("alice,01_gradients,,\n", "exactly one of new_due_date or extra_hours (got neither)"),
    ("alice,01_gradients,2030-01-01,3\n", "(got both)"),
    ("alice,01_gradients,,-3\n", "extra_hours must be a positive number of hours, not '-3'"),
    ("alice,01_gradients,,3 days\n", "not '3 days'"),
    ("alice,01_gradients,,nan\n", "not 'nan'"),
    ("alice,01_gradients,next friday,\n", "cannot read the date 'next friday'"),
    ("alice,01_gradients,2030-01-15 23:00 KST,\n", "an offset such as +0900"),
    (",01_gradients,,3\n", "student_id and assignment are both needed"),
    ("alice,*,2030-01-01,\n", "a new due date is for one assignment"),
    ("alice,01_gradients,,3\nbob,01_gradients,,1\nalice,01_gradients,,4\n",
     "line 4: a second extension for alice on 01_gradients (the first is on line 2)"),
    ("alice,01_gradients,,3,oops\n", "line 2: 5 fields for 4 columns"),
])
def test_a_bad_extensions_row_is_named_with_its_line(tmp_path, body, says):
    path = _extensions_file(tmp_path, HEADER + body)
    with pytest.raises(extensions.ExtensionsError) as error:
        extensions.read_extensions(path)
    assert str(path) in str(error.value) and says in str(error.value)


def test_a_bad_extensions_header_says_which_columns(tmp_path):
    path = _extensions_file(tmp_path, "student,assignment,hours\nalice,01_gradients,3\n")
    with pytest.raises(extensions.ExtensionsError, match="line 1: the header must be "
                       "student_id,assignment,new_due_date,extra_hours"):
        extensions.read_extensions(path)


def test_extension_rows_and_deadlines(tmp_path):
    path = _extensions_file(tmp_path, "\ufeff" + HEADER.replace(",new_due_date", "") + "\n"
                            "alice,01_gradients,2\nalice,*,24\nbob,*,1.5\n")
    read = extensions.read_extensions(path)  # Excel's BOM, a blank line, no new_due_date column
    due = datetime(2030, 1, 15, 12, 0)
    found = extensions.find_extension
    assert found(read, "alice", "01_gradients").extra_hours == 2  # the named row wins over *
    assert found(read, "alice", "02_jacobians").extra_hours == 24
    assert found(read, "bob", "01_gradients").deadline(due) == due + timedelta(hours=1.5)
    assert found(read, "chen", "01_gradients") is None
    assert extensions.read_extensions(tmp_path / "nothing.csv") == {}
    zoned = extensions.read_extensions(_extensions_file(
        tmp_path, HEADER + "zoe,01_gradients,2030-01-15 23:00:00 +0900,\n"))
    assert found(zoned, "zoe", "01_gradients").deadline(due) == datetime(2030, 1, 15, 14, 0)
    for text in ("2030-01-15T23:00:00+09:00", "2030-01-15 23:00 Asia/Seoul", "2030-01-15 14:00Z",
                 "2030-01-15 14:00 UTC", "2030-01-15 14:00"):
        assert extensions.parse_date(text) == datetime(2030, 1, 15, 14, 0), text


def test_seconds_late_count_from_the_later_deadline():
    due = datetime(2030, 1, 15, 12, 0)
    three_hours = extensions.Extension("a", "x", 2, extra_hours=3)
    late = extensions.seconds_late
    assert late(due + timedelta(hours=2), due, three_hours, 7200) == 0
    assert late(due + timedelta(hours=4), due, three_hours, 14400) == 3600
    assert late(due + timedelta(hours=4), due, None, 14400) == 14400
    # an extension granted through nbgrader's API as well (nbgrader counted 600 s): the later wins
    assert late(due + timedelta(hours=4), due, three_hours, 600) == 600


def test_the_extensions_command_checks_the_file(tmp_path):
    def run():
        return subprocess.run([sys.executable, "-m", "autograder.grading.extensions", "--course",
                               str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert "no extensions" in run().stdout
    _extensions_file(tmp_path, HEADER + "alice,01_gradients,,48\n")
    done = run()
    assert done.returncode == 0 and "alice  01_gradients  48 extra hours" in done.stdout
    _extensions_file(tmp_path, HEADER + "alice,01_gradients,,forty\n")
    done = run()
    assert done.returncode == 1 and "line 2: extra_hours must be" in done.stderr


def test_a_bad_extensions_file_fails_the_late_only_and_retry_grades_them(tmp_path):
    """A row the plugin cannot read never grades a late student without their extension: that
    submission is recorded as failed with the file's line, the punctual one is graded; once the
    row is fixed, --retry-failed grades it within the extension."""
    course = copy_course(tmp_path)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    two = [p for p in classroom.PERSONAS if p.name in ("alice", "bob")]
    collect_class(course, [FIRST], two, step=lambda m: None)
    due = datetime(2030, 1, 15, 12, 0, tzinfo=timezone.utc)
    with gradebook.open_gradebook(gradebook.gradebook_url(course), "gradients") as gb:
        gb.update_or_create_assignment(FIRST, duedate=due)
    _stamp(course / "submitted" / "alice" / FIRST, due + timedelta(hours=3))
    _stamp(course / "submitted" / "bob" / FIRST, due - timedelta(hours=3))
    (course / extensions.FILE_NAME).write_text(HEADER + f"alice,{FIRST},,four\n")
    first = {o.student: o for o in grading.grade_class(course, [FIRST], workers=1,
                                                        log=lambda m: None, bar=False)}
    assert first["bob"].status == "graded"
    assert first["alice"].status == "failed"
    assert "extensions.csv line 2: extra_hours must be a positive number" in \
        " ".join(first["alice"].problems)
    (course / extensions.FILE_NAME).write_text(HEADER + f"alice,{FIRST},,4\n")
    again = {o.student: o for o in grading.grade_class(course, [FIRST], workers=1,
                                                        retry_failed=True, log=lambda m: None,
                                                        bar=False)}
    assert again["alice"].status == "graded"
    with gradebook.open_gradebook(gradebook.gradebook_url(course), "gradients") as gb:
        alice = gb.find_submission(FIRST, "alice")
        assert alice.total_seconds_late == 3 * 3600 and alice.score == alice.max_score > 0
        assert not alice.late_submission_penalty


def test_release_feedback_delivers_unreadable_and_renamed_submissions_pages(tmp_path):
    """nbgrader's release_feedback and the students' fetch_feedback carry the page of a broken
    (not JSON) and of a renamed notebook to those students, as they do a graded one's."""
    from autograder.authoring.classroom import _exchange, _exchange_config
    from autograder.reports import feedback
    course = copy_course(tmp_path)
    three = [p for p in classroom.PERSONAS if p.name in ("alice", "farah", "gus")]
    collect_class(course, [FIRST], three, step=lambda m: None)
    grading.grade_class(course, [FIRST], workers=1, log=lambda m: None, bar=False)
    assert sorted(feedback.generate(course, FIRST).written) == ["alice", "farah", "gus"]
    nbgrader_checked("release_feedback", FIRST, course=course)
    homes = course / ".demo" / "homes"
    for student in ("alice", "farah", "gus"):
        _exchange("FetchFeedback", _exchange_config("gradients", course / "exchange", FIRST,
                                                    homes / student, student)).start()
        pages = list((homes / student / FIRST / "feedback").glob("*/*.html"))
        assert len(pages) == 1, (student, pages)
        text = pages[0].read_text(encoding="utf-8")
        if student == "alice":
            assert "could not be graded" not in text and "Score" in text
        else:
            assert "could not be graded" in text and "scored 0" in text, student
