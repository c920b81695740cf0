"""One student never stops the class: a 251-character id, a markdown bomb, an id shaped like a
spreadsheet formula, a broken and a renamed notebook are graded, fed back and reported with the
rest; `--student` grades one student again and the summary counts that run only."""
import csv
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder.authoring import classroom
from autograder.authoring.demo import collect_class
from autograder.grading.ledger import Ledger, file_stem
from autograder.nbgrader_cli import nbgrader_env
from autograder.reports import feedback
from autograder.reports.class_report import FORMULA_STARTS, spreadsheet_safe
from conftest import ASSIGNMENTS, copy_course

FIRST = ASSIGNMENTS[0]
CLASS = [p for p in classroom.PERSONAS if p.name in ("alice", "bob", "farah", "gus")]
LONG = "s" * 251                 # a file name of 256 bytes with ".json": more than ext4 holds
FORMULA = '=HYPERLINK("x")'      # a spreadsheet runs it unless it is quoted
BOMB = "bomb"                    # a 120 KB markdown cell: about 15 s of nbconvert, quadratic
BOMB_TEXT = "[" * 120_000
TOC_EXAMPLE = {"01_gradients": "numerical_gradient: one entry at a time"}  # a test named in the contents


def autograder(course, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "autograder", "--course", str(course), *args],
                          env=nbgrader_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("one-student"))
    collect_class(course, [FIRST], CLASS, step=lambda m: None)
    submitted = course / "submitted"
    shutil.copytree(submitted / "alice" / FIRST, submitted / LONG / FIRST)
    shutil.copytree(submitted / "bob" / FIRST, submitted / FORMULA / FIRST)
    shutil.copytree(submitted / "alice" / FIRST, submitted / BOMB / FIRST)
    path = submitted / BOMB / FIRST / f"{FIRST}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(BOMB_TEXT))
    nbformat.write(nb, str(path))
    run = autograder(course, "autograde", FIRST, "--workers", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    return course, run.stdout


def test_every_student_is_graded_whatever_their_id(graded):
    course, printed = graded
    outcomes = {o.student: o for o in Ledger(course).all()}
    everyone = {p.name for p in CLASS} | {LONG, FORMULA, BOMB}
    assert set(outcomes) == everyone
    assert outcomes[LONG].score == outcomes["alice"].score == outcomes[BOMB].score > 0
    assert outcomes[LONG].status == "graded" and not outcomes[LONG].problems
    assert Ledger(course).path(FIRST, LONG).name == f"{file_stem(LONG)}.json" != f"{LONG}.json"
    failed = sum(o.status != "graded" for o in outcomes.values())
    assert f"this run: {len(everyone) - failed} graded, {failed} could not be graded" in printed


def test_no_csv_cell_is_a_formula(graded):
    course, _ = graded
    seen = []
    for name in ("scores", "cells", "lms"):
        with open(course / "reports" / f"{name}.csv", newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                seen += row
                for cell in row:
                    assert spreadsheet_safe(cell) == cell, (name, cell)
    assert "'" + FORMULA in seen and LONG in seen
    assert spreadsheet_safe("-1.5") == "-1.5" and spreadsheet_safe("@x") == "'@x"
    assert all(spreadsheet_safe(c + "x").startswith("'") for c in FORMULA_STARTS)


def test_feedback_for_everyone_with_the_bomb_cut_and_unreadable_notebooks_explained(graded):
    course, _ = graded
    run = autograder(course, "feedback", FIRST)
    assert run.returncode == 0, run.stdout + run.stderr
    for student in {p.name for p in CLASS} | {LONG, FORMULA, BOMB}:
        page = course / "feedback" / student / FIRST / f"{FIRST}.html"
        assert page.is_file(), (student, run.stdout)
    page = (course / "feedback" / "alice" / FIRST / f"{FIRST}.html").read_text()
    toc = page.split('<div id="toc">')[1].split("</div>")[0]
    assert "Test cell" not in toc and f'">{TOC_EXAMPLE[FIRST]}</a>' in toc, toc[:2000]
    bomb = (course / "feedback" / BOMB / FIRST / f"{FIRST}.html").read_text()
    assert "cut for the feedback page: this cell had 120000 characters" in bomb
    broken = (course / "feedback" / "farah" / FIRST / f"{FIRST}.html").read_text()
    assert "not valid JSON" in broken and "scored 0" in broken and f"{FIRST}.ipynb" in broken
    renamed = (course / "feedback" / "gus" / FIRST / f"{FIRST}.html").read_text()
    assert f"{FIRST} (copy).ipynb" in renamed and "was not submitted" in renamed


def test_a_student_whose_feedback_takes_too_long_is_skipped_and_the_others_get_theirs(
        graded, tmp_path):
    course, _ = graded
    slow = tmp_path / "course"
    shutil.copytree(course, slow, ignore=shutil.ignore_patterns("feedback", "exchange", ".demo"))
    with open(slow / "nbgrader_config.py", "a") as f:
        f.write("\nc.LimitCellSize.limit = 10**9  # no size limit: the time limit must act\n")
    path = slow / "autograded" / BOMB / FIRST / f"{FIRST}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[-1].source = BOMB_TEXT * 2  # quadratic: a minute of nbconvert or more
    nbformat.write(nb, str(path))
    result = feedback.generate(slow, FIRST, limit=30)
    assert [p for p in result.problems if BOMB in p and "longer than 30 s" in p], result.problems
    assert BOMB not in result.written
    assert {"alice", "bob", LONG, FORMULA} <= set(result.written)


def test_student_option_regrades_one_student_and_the_summary_counts_this_run(graded):
    course, _ = graded
    before = {o.student: o.graded_at for o in Ledger(course).all()}
    run = autograder(course, "autograde", FIRST, "--student", "bob", "--no-reports")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "this run: 1 graded, 0 could not be graded" in run.stdout, run.stdout
    after = {o.student: o.graded_at for o in Ledger(course).all()}
    assert {s for s in after if after[s] != before[s]} <= {"bob"}
