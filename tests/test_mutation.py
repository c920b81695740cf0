"""The mutation suite: every catalog entry in autograder/authoring/mutants/ is caught (wrong) or earns full
marks (correct) when its notebook is executed as nbgrader autograde does.

Each notebook's whole catalog runs once, in parallel, the first time one of its tests asks for it.
The first tests check the harness itself on a tiny notebook built here.
"""
import functools

import nbformat
import pytest

from autograder import notebooks

from autograder.authoring import mutation
from autograder.authoring.mutation import Mutant


# --- the harness, on a tiny notebook ---------------------------------------------------------------

def _cell(source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata.nbgrader = {"schema_version": 3, "locked": False, "solution": False,
                                  "grade": False, **nbgrader}
    return cell


def tiny_notebook():
    """setup, a demo cell, two graded functions (double, square) each with a visible and a hidden
    test cell worth 1 + 2 points."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        _cell("import sys", grade_id="setup", locked=True),
        nbformat.v4.new_markdown_cell("Double a number."),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              grade_id="double", solution=True),
        _cell("print('demo', double(3))"),
        _cell("assert double(1) == 2, 'double(1) should be 2'",
              grade_id="test_double_visible", grade=True, points=1),
        _cell("### BEGIN HIDDEN TESTS\nassert double(-4) == -8, 'double(-4) is not -8'\n"
              "### END HIDDEN TESTS", grade_id="test_double_negative", grade=True, points=2),
        _cell("def square(x):\n    return x * x", grade_id="square", solution=True),
        _cell("assert square(3) == 9", grade_id="test_square_visible", grade=True, points=1),
        _cell("assert abs(square(-2) - 4) < 1e-12", grade_id="test_square_negative", grade=True,
              points=2),
    ]
    return nb


TINY = [
    Mutant("double", "abs", "wrong", "takes the absolute value", "def double(x):\n    return 2 * abs(x)",
           expect="not -8"),
    Mutant("double", "shifts", "correct", "shift instead of multiply",
           "def double(x):\n    return x << 1"),
    Mutant("double", "breaks_square", "wrong", "shadows the builtin abs that square's test uses",
           "def double(x):\n    return x\nabs = 0"),
    Mutant("double", "loops", "wrong", "never returns",
           "def double(x):\n    while True:\n        pass"),
    Mutant("double", "warns", "correct", "right value, but writes to stderr",
           "def double(x):\n    print('hm', file=sys.stderr)\n    return 2 * x"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(solution ids, {mutant name or 'source': Result}) for TINY then the unmodified notebook, all
    in one shared kernel (one worker), 2 s per cell."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.ipynb"
    nb = tiny_notebook()
    nbformat.write(nb, str(path))
    results = mutation.run(path, [*TINY, None], workers=1, timeout=2)
    by_name = {(r.mutant.name if r.mutant else "source"): r for r in results}
    return mutation.solution_ids(nb), by_name


def test_harness_unmodified_notebook_gets_full_marks_after_mutants_in_the_same_kernel(tiny):
    _, results = tiny  # it ran after breaks_square set abs = 0: the namespace was reset
    assert (results["source"].score, results["source"].max_score) == (6, 6)
    assert not results["source"].failing


def test_harness_catches_a_wrong_mutant_on_its_own_cell(tiny):
    solutions, results = tiny
    r = results["abs"]
    assert [t.grade_id for t in r.failing] == ["test_double_negative"]
    assert r.failing[0].error == "AssertionError: double(-4) is not -8"
    assert r.score == 4
    assert mutation.problems(r, solutions) == []
    assert mutation.problems(results["shifts"], solutions) == []


def test_harness_flags_failures_outside_the_mutated_cell(tiny):
    solutions, results = tiny
    issues = mutation.problems(results["breaks_square"], solutions)
    assert any("test_square_negative failed too" in i for i in issues)
    allowed = Mutant(**{**vars(TINY[2]), "also_fails": ("square",)})
    assert mutation.problems(mutation.Result(allowed, results["breaks_square"].tests), solutions) == []


def test_harness_times_out_a_cell_and_scores_it_zero(tiny):
    _, results = tiny
    r = results["loops"]
    assert {t.grade_id for t in r.failing} == {"test_double_visible", "test_double_negative"}
    assert all(t.error.startswith(("CellTimeoutError", "KeyboardInterrupt")) for t in r.failing)


def test_harness_scores_stderr_output_as_a_failure_like_nbgrader(tiny):
    solutions, results = tiny
    r = results["warns"]
    assert r.score == 3 and r.failing[0].error.startswith("stderr: hm")
    assert mutation.problems(r, solutions)  # a "correct" mutant that writes to stderr is flagged


def test_harness_skips_only_demo_cells():
    kept = mutation.graded_cells_only(tiny_notebook())
    sources = [c.source for c in kept.cells if c.cell_type == "code"]
    assert len(sources) == 7 and not any("demo" in s for s in sources)


def test_harness_owner_prefers_the_longest_matching_cell():
    solutions = {"relu", "relu_backward"}
    assert mutation.owner("test_relu_backward_shape", solutions) == "relu_backward"
    assert mutation.owner("test_relu_visible", solutions) == "relu"
    assert mutation.owner("test_relux", solutions) is None


# --- the catalogs ----------------------------------------------------------------------------------

CATALOG = [(a, m) for a in mutation.catalog_assignments() for m in mutation.load_catalog(a)]


def in_catalog_group(assignment, *values):
    """A parameter set whose test runs in the same pytest-xdist worker as every other test of
    `assignment`'s catalog, so that catalog_run computes it once."""
    return pytest.param(assignment, *values, marks=pytest.mark.xdist_group(f"mutation-{assignment}"))


CATALOG_ASSIGNMENTS = [in_catalog_group(a) for a in mutation.catalog_assignments()]


@functools.cache
def catalog_run(assignment):
    """Run an assignment's catalog once in the fast mode, and the unmodified notebook and the last
    wrong mutant (it runs late in a shared kernel) once in the faithful mode. Returns
    (solution ids, {name: Result}, faithful source Result, faithful probe Result or None)."""
    path = notebooks.source_notebook_path(assignment)
    mutants = mutation.load_catalog(assignment)
    probe = next((m for m in reversed(mutants) if m.kind == "wrong"), None)
    fast = mutation.run(path, mutants)
    full = mutation.run(path, [None, probe] if probe else [None], faithful=True)
    solutions = mutation.solution_ids(notebooks.read(path))
    return solutions, {r.mutant.name: r for r in fast}, full[0], (full[1] if probe else None)


@pytest.mark.parametrize("assignment", mutation.catalog_assignments())
def test_catalog_names_existing_solution_cells_and_unique_names(assignment):
    path = notebooks.source_notebook_path(assignment)
    assert path.is_file(), f"catalog {assignment}.toml has no notebook {path}"
    problems = mutation.catalog_problems(notebooks.read(path), mutation.load_catalog(assignment))
    assert problems == []


@pytest.mark.parametrize("assignment", CATALOG_ASSIGNMENTS)
def test_unmodified_source_notebook_gets_full_marks(assignment):
    _, _, source, _ = catalog_run(assignment)
    assert source.max_score > 0
    assert [(t.grade_id, t.error) for t in source.failing] == []


@pytest.mark.parametrize("assignment", CATALOG_ASSIGNMENTS)
def test_fast_mode_gives_the_same_outcome_as_the_faithful_mode(assignment):
    _, fast, _, probe = catalog_run(assignment)
    if probe is None:
        pytest.skip("no wrong mutant in the catalog")
    assert probe.tests == fast[probe.mutant.name].tests


@pytest.mark.parametrize("assignment, mutant", [in_catalog_group(a, m) for a, m in CATALOG],
                         ids=[f"{a}::{m.id}" for a, m in CATALOG])
def test_mutant(assignment, mutant):
    solutions, results, _, _ = catalog_run(assignment)
    result = results[mutant.name]
    assert mutation.problems(result, solutions) == [], mutation.table([result], solutions, True)
