"""Layer 2: every instructor notebook follows the course's conventions and passes its own tests."""
import re

import pytest

from autograder.notebooks import grade_id, is_solution, is_test, nbgrader_meta, points, \
    source_notebook_path, grading_cells
from conftest import errors, execute

HIDDEN = re.compile(r"### (BEGIN|END) HIDDEN TESTS")


def test_stored_without_outputs(source_nb):
    stored = [i for i, c in enumerate(source_nb.cells)
              if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"cells stored with outputs or execution counts: {stored}"


def test_first_code_cell_is_a_locked_setup_cell(source_nb):
    first = next(c for c in source_nb.cells if c.cell_type == "code")
    meta = nbgrader_meta(first)
    assert grade_id(first) == "setup" and meta.get("locked") and not meta.get("solution")


def test_nbgrader_metadata(source_nb):
    ids = [grade_id(c) for c in source_nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        if meta:
            assert meta.get("schema_version") == 3, grade_id(cell)
        if meta.get("grade"):
            assert points(cell) > 0, f"{grade_id(cell)} is graded but has no points"
        if HIDDEN.search(cell.source):
            assert is_test(cell), f"hidden tests outside a test cell: {grade_id(cell)}"


def test_every_test_cell_grades_one_answer_cell_and_every_answer_is_tested(source_nb):
    answers = [grade_id(c) for c in source_nb.cells if is_solution(c)]
    owners = {grade_id(t): [a for a in answers if t in grading_cells(source_nb, a)]
              for t in source_nb.cells if is_test(t)}
    orphans = {t: o for t, o in owners.items() if len(o) != 1}
    assert not orphans, f"test cells must be named test_<answer cell>_<property>: {orphans}"
    untested = [a for a in answers if not grading_cells(source_nb, a)]
    assert not untested, f"answer cells without a test: {untested}"


def test_every_graded_function_has_a_visible_test_and_hidden_tests(source_nb):
    for answer in [c for c in source_nb.cells if is_solution(c) and "def " in c.source]:
        cells = grading_cells(source_nb, grade_id(answer))
        visible = [c for c in cells if not HIDDEN.search(c.source)]
        hidden = [c for c in cells if HIDDEN.search(c.source)]
        assert visible and len(hidden) >= 2, (grade_id(answer), len(visible), len(hidden))


def test_points_in_the_course_range(source_nb):
    total = sum(points(c) for c in source_nb.cells if is_test(c))
    assert 20 <= total <= 35, total


def test_opens_with_goals_and_ends_with_summary_glossary_and_next(source_nb):
    text = "\n".join(c.source for c in source_nb.cells if c.cell_type == "markdown").lower()
    for part in ("learning goals", "summary", "glossary", "what's next"):
        assert part in text, f"missing section: {part}"
    assert re.search(r"[\uac00-\ud7a3]", text), "no Korean terms in the text"


def test_solution_notebook_runs_top_to_bottom_with_all_tests_passing(assignment, source_nb):
    execute(source_nb, source_notebook_path(assignment).parent)
    failed = {grade_id(c) or i: errors(c)[0]["evalue"][:200]
              for i, c in enumerate(source_nb.cells) if c.cell_type == "code" and errors(c)}
    assert not failed, failed
