"""Layer 3: release/ is exactly what nbgrader generates from source/ now, and is safe to hand out."""
import json

import nbformat
import pytest

from autograder.nbgrader_cli import nbgrader_checked
from autograder.notebooks import grade_id, is_solution, is_test
from conftest import ROOT, copy_course, errors, execute

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def release_nb(assignment):
    return nbformat.read(str(ROOT / "release" / assignment / f"{assignment}.ipynb"), as_version=4)


def comparable(nb):
    return [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]


def test_release_is_what_nbgrader_generates_from_source_now(assignment, tmp_path):
    course = copy_course(tmp_path)
    nbgrader_checked("generate_assignment", assignment, "--force", course=course)
    fresh = nbformat.read(str(course / "release" / assignment / f"{assignment}.ipynb"),
                          as_version=4)
    committed = release_nb(assignment)
    assert comparable(committed) == comparable(fresh), \
        "release/ is out of date: run `make release` and commit the result"
    assert sorted(p.name for p in (ROOT / "release" / assignment).iterdir()) == \
        sorted(p.name for p in (course / "release" / assignment).iterdir())


def test_no_solution_or_hidden_test_in_release(assignment):
    for path in (ROOT / "release" / assignment).rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            leaked = [m for m in MARKERS if m in text]
            assert not leaked, f"{path.relative_to(ROOT)} contains {leaked}"


def test_release_stored_without_outputs(assignment):
    stored = [i for i, c in enumerate(release_nb(assignment).cells)
              if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, stored


def test_release_runs_and_only_exercises_raise(assignment):
    """Setup, demo and plot cells run for a student who has written nothing yet; answer cells
    raise NotImplementedError; their tests fail on the missing answer, never crash elsewhere."""
    nb = execute(release_nb(assignment), ROOT / "release" / assignment)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not errors(cell):
            continue
        error = errors(cell)[0]
        where = grade_id(cell) or f"cell {index}"
        if is_solution(cell):
            assert error["ename"] == "NotImplementedError", (where, error["ename"])
        else:
            assert is_test(cell), f"{where} is not an exercise but raised {error['ename']}: " \
                                  f"{error['evalue'][:200]}"
            assert error["ename"] in ("NotImplementedError", "AssertionError"), \
                (where, error["ename"], error["evalue"][:200])
