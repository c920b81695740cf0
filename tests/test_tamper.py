"""Tamper checks (autograder/safety/tamper.py): what they catch, and no false flags on honest work.

No false flags is parametrised over every source notebook and every mutation catalog in
autograder/authoring/mutants/, so a new notebook or catalog is covered as soon as it exists.
"""
import copy
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import classroom

from autograder.safety import flags

from autograder.authoring import mutation

from autograder.safety import tamper
from autograder.notebooks import grade_id, read, source_notebook_path
from conftest import ASSIGNMENTS, ROOT

CATALOGS = sorted(p.stem for p in mutation.CATALOGS.glob("*.toml"))


def release_of(assignment):
    return read(ROOT / "release" / assignment / f"{assignment}.ipynb")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_and_the_blank_release_are_not_flagged(assignment):
    release, source = release_of(assignment), read(source_notebook_path(assignment))
    solved = classroom.solve_cells(copy.deepcopy(release), source)
    assert tamper.check_submission(release, solved, source) == []
    assert tamper.check_submission(release, copy.deepcopy(release), source) == []


@pytest.mark.parametrize("assignment", CATALOGS)
def test_no_mutant_of_the_catalogs_is_flagged(assignment):
    """Correct variants must never be flagged; wrong ones are honest mistakes, not tampering."""
    release, source = release_of(assignment), read(source_notebook_path(assignment))
    flagged = {}
    for mutant in mutation.load_catalog(assignment):
        nb = classroom.solve_cells(copy.deepcopy(release), source,
                                   replacements={mutant.cell: mutant.source})
        found = tamper.check_submission(release, nb, source)
        if found:
            flagged[mutant.id] = [str(f) for f in found]
    assert not flagged, flagged


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("persona", [p for p in classroom.PERSONAS
                                     if p.name not in ("farah",)],  # farah's file is not JSON
                         ids=lambda p: p.name)
def test_no_demo_persona_is_flagged(tmp_path, assignment, persona):
    source_path = source_notebook_path(assignment)
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(release_of(assignment), str(path))
    persona.work(path, read(source_path), assignment)
    submitted = next(tmp_path.glob("*.ipynb"))
    found = tamper.check_submission(release_of(assignment), read(submitted), read(source_path))
    assert found == [], [str(f) for f in found]


SETUP = "import numpy as np\nfrom course.checks import check_array, check_scalar\n"
TEST = "check_array(grad(np.ones(2)), np.ones(2))\nassert isinstance(grad(1.0), float)"


def scan(code: str) -> list[str]:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SETUP, metadata={"nbgrader": {
            "grade_id": "setup", "locked": True, "grade": False, "solution": False}}),
        nbformat.v4.new_code_cell("def grad(x):\n    raise NotImplementedError", metadata={
            "nbgrader": {"grade_id": "grad", "solution": True, "grade": False, "locked": False}}),
        nbformat.v4.new_code_cell(TEST, metadata={"nbgrader": {
            "grade_id": "test_grad", "grade": True, "points": 1, "locked": True,
            "solution": False}}),
        nbformat.v4.new_code_cell("def other(x):\n    raise NotImplementedError", metadata={
            "nbgrader": {"grade_id": "other", "solution": True, "grade": False, "locked": False}}),
    ])
    protected, modules = tamper.names_tests_rely_on(nb)
    return tamper.scan_source(code, protected, modules, {"other"})


@pytest.mark.parametrize("code, phrase", [
    ("np.allclose = lambda *a, **k: True", "assigns np.allclose"),
    ("def f():\n    np.testing.assert_allclose = print", "assigns np.testing.assert_allclose"),
    ("check_array = lambda *a, **k: None", "rebinds check_array"),
    ("isinstance = lambda *a: True", "rebinds isinstance"),
    ("def f():\n    global np\n    np = None", "global np"),
    ("from numpy import testing as np", "rebinds np to numpy.testing"),
    ("import os", "imports os"),
    ("from subprocess import run", "imports from subprocess"),
    ("import builtins", "imports builtins"),
    ("x = open('answers.txt').read()", "calls open()"),
    ("exec('1')", "calls exec()"),
    ("list(map(setattr, [np], ['allclose'], [print]))", "uses setattr"),
    ("m = np\nm.allclose = print", "assigns m.allclose"),
    ("t = np.testing\ndef f():\n    t.assert_allclose = print", "assigns t.assert_allclose"),
    ("f = __import__('os')", "calls __import__()"),
    ("ip = get_ipython()", "calls get_ipython()"),
    ("!ls", "shell command"),
    ("%run other.py", "'run'"),
    ("print(_ih)", "reads _ih"),
    ("__builtins__.abs = None", "reads __builtins__"),
    ("f = (lambda: 0).__globals__", "reaches .__globals__"),
    ("s = ().__class__.__base__.__subclasses__()", "reaches .__subclasses__"),
    ("n = np.ctypeslib", "reaches .ctypeslib"),
    ("class A(np.ndarray):\n    pass", "subclasses np.ndarray"),
    ("class B(float):\n    pass", "subclasses float"),
    ("class C:\n    def __eq__(self, other):\n        return True", "defines __eq__"),
    ("class D:\n    __array_priority__ = 1000", "defines __array_priority__"),
    ("getattr(np, 'all' + 'close')", "getattr()"),
    ("def other(x):\n    return x", "another exercise's graded answer"),
])
def test_tampering_is_found(code, phrase):
    reasons = scan(code)
    assert any(phrase in r for r in reasons), reasons


@pytest.mark.parametrize("code", [
    "def grad(x):\n    x = np.array(x, dtype=float)\n    out = np.zeros_like(x)\n"
    "    out[0] = 1\n    return out",
    "import numpy as np\nimport math\nfrom functools import reduce",
    "%timeit grad(1.0)",
    "%matplotlib inline",
    "def grad(x):\n    check = x.copy()\n    check[...] = 0\n    return check",
    "class Layer:\n    def __init__(self, W):\n        self.W = W\n    def forward(self, x):\n"
    "        self.x = x\n        return x @ self.W\n    def __repr__(self):\n        return 'L'",
    "import a_module_that_is_not_installed",
    "x = np.ones(3)\nprint(grad(x))",
    "def grad(x):\n    for i in range(3):\n        pass\n    return getattr(x, 'shape')",
    "this is not python(",
    "vars = [1, 2]\nfor v in vars:\n    print(v)",
    "def grad(x, open=1):\n    y = x\n    y.shape = (2,)\n    return y",
])
def test_honest_code_is_not_flagged(code):
    assert scan(code) == []


def structure(change) -> list[str]:
    release = release_of(ASSIGNMENTS[0])
    submitted = copy.deepcopy(release)
    change(submitted)
    return [str(f) for f in tamper.compare_structure(release, submitted)]


def test_structure_changes_are_found():
    tests = [i for i, c in enumerate(release_of(ASSIGNMENTS[0]).cells)
             if (c.metadata.get("nbgrader") or {}).get("grade")]
    first, second = tests[0], tests[1]

    def swap(nb):
        nb.cells[first], nb.cells[second] = nb.cells[second], nb.cells[first]

    def points(nb):
        nb.cells[first].metadata.nbgrader["points"] = 99

    def edit(nb):
        nb.cells[first].source = "pass"

    def duplicate(nb):
        nb.cells.insert(first, copy.deepcopy(nb.cells[first]))

    def strip(nb):
        del nb.cells[first].metadata["nbgrader"]

    assert any("reordered" in f for f in structure(swap))
    assert any("points 1 -> 99" in f or "-> 99" in f for f in structure(points))
    assert any("test cell edited" in f for f in structure(edit))
    assert any("duplicated" in f for f in structure(duplicate))
    assert any("deleted" in f for f in structure(strip))
    # adding a markdown note or an honest scratch cell is what students do
    assert structure(lambda nb: nb.cells.insert(3, nbformat.v4.new_markdown_cell("note"))) == []
    assert structure(lambda nb: nb.cells.insert(3, nbformat.v4.new_code_cell("print(2 + 2)"))) == []


def test_flags_csv_keeps_one_set_of_rows_per_notebook(tmp_path):
    found = [tamper.Finding("cell", "imports os")]
    flags.record(tmp_path, "ann", "01_x", "01_x", found)
    flags.record(tmp_path, "bob", "01_x", "01_x", found * 2)
    flags.record(tmp_path, "ann", "01_x", "01_x", [])  # a clean regrade removes ann's rows
    rows = flags.read_flags(tmp_path)
    assert [(r["student_id"], r["reason"]) for r in rows] == [("bob", "cell: imports os")] * 2
    assert "bob / 01_x: cell: imports os" in flags.format_report(tmp_path, ["01_x"])
