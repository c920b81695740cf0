"""Generated mutants (autograder/authoring/generated.py and `--generated` of the mutation harness).

First the operators on small functions, the ids, the dropping of uncompilable and identical mutants
and the scoring / equivalent / stale logic, without a kernel. Then, per notebook, every generated
mutant is judged (verdicts from the committed cache in autograder/authoring/mutants/generated/, the
rest run now) and must be killed or listed in the catalog's `# --- generated mutants ---` section:
an unlisted survivor fails, and so does a listed one that is now killed or no longer generated, so
the list of known survivors can only shrink.
"""
import ast

import pytest

from autograder import notebooks
from autograder.authoring import generated as gen
from autograder.authoring import mutation


def cell(body: str, head: str = "def f(x, y):\n") -> str:
    """A solution cell: head, then body (indented 4) between the SOLUTION markers."""
    indent = "    " if head else ""
    lines = "".join(f"{indent}{line}\n" for line in body.splitlines())
    return f"{head}{indent}### BEGIN SOLUTION\n{lines}{indent}### END SOLUTION"


def changes(source: str, operator: str) -> set[tuple[str, str]]:
    """{(before, after)} of the mutants one operator makes of a cell."""
    return {(m.before, m.after) for m in gen.generate("f", source, (operator,)).mutants}


def solution_lines(m: gen.GeneratedMutant) -> list[str]:
    return [line.strip() for line in m.source.splitlines()]


# --- each operator produces what it says ---------------------------------------------------------

def test_arith_swaps_each_operator_and_drops_a_unary_minus():
    assert changes(cell("return x @ y - x ** 2 / -y"), "arith") == {
        ("x @ y - x ** 2 / -y", "x @ y + x ** 2 / -y"),
        ("x @ y", "x * y"),
        ("x ** 2 / -y", "x ** 2 * -y"),
        ("x ** 2", "x * 2"),
        ("-y", "y"),
    }
    assert changes(cell("x += y"), "arith") == {("x += y", "x -= y")}


def test_arith_parenthesises_a_replacement_that_binds_less_tightly():
    (m,) = [m for m in gen.generate("f", cell("return y / x ** 2"), ("arith",)).mutants
            if m.before == "x ** 2"]
    assert "return y / (x * 2)" in solution_lines(m)


def test_a_replacement_already_in_parentheses_gets_no_second_pair():
    (m,) = gen.generate("f", cell("return (x > 0).astype(int)"), ("boundary",)).mutants
    assert "return (x >= 0).astype(int)" in solution_lines(m)


def test_boundary_moves_a_comparison_boundary():
    assert changes(cell("return x > 0 or y <= 1"), "boundary") == {
        ("x > 0", "x >= 0"), ("y <= 1", "y < 1")}


def test_constant_changes_numbers_and_booleans_but_not_strings():
    assert changes(cell('return np.sum(x, keepdims=True) * 0.5 + 2, "c"'), "constant") == {
        ("True", "False"), ("0.5", "1.5"), ("2", "3")}


def test_copy_drops_a_copy_or_aliases_the_output_to_the_input():
    source = cell("a = x.copy()\nb = np.copy(y)\nc = np.array(x, dtype=np.float64, copy=True)\nreturn a, b, c")
    assert changes(source, "copy") == {
        ("x.copy()", "x"), ("np.copy(y)", "y"),
        ("np.array(x, dtype=np.float64, copy=True)", "np.asarray(x, dtype=np.float64)")}


def test_inplace_writes_into_an_input_instead_of_a_new_array():
    assert changes(cell("z = x - y\nx = x * 2\nreturn z"), "inplace") == {
        ("z = x - y", "x -= y\nz = x"), ("x = x * 2", "x *= 2")}
    assert changes(cell("z = w - y\nreturn z"), "inplace") == set()  # w is not an input


def test_axis_is_swapped_in_keywords_and_in_positional_axes():
    assert changes(cell("return np.sum(x, axis=0) + x.max(axis=-1) + np.mean(y, 1) + y.sum(0)"),
                   "axis") == {
        ("np.sum(x, axis=0)", "np.sum(x, axis=1)"), ("x.max(axis=-1)", "x.max(axis=0)"),
        ("np.mean(y, 1)", "np.mean(y, 0)"), ("y.sum(0)", "y.sum(1)")}


def test_an_axis_literal_is_not_also_changed_as_a_number():
    assert changes(cell("return x.max(axis=-1)"), "arith") == set()
    assert changes(cell("return x.max(axis=-1)"), "constant") == set()


def test_sum_and_mean_are_swapped():
    assert changes(cell("return np.sum(x) + y.mean()"), "sum_mean") == {
        ("np.sum(x)", "np.mean(x)"), ("y.mean()", "y.sum()")}


def test_transpose_is_dropped_or_added():
    assert changes(cell("return x.T @ y + np.transpose(y) + np.dot(x, y)"), "transpose") == {
        ("x.T", "x"), ("np.transpose(y)", "y"), ("x.T @ y", "x.T @ y.T"),
        ("np.dot(x, y)", "np.dot(x.T, y)"), ("np.dot(x, y)", "np.dot(x, y.T)")}


def test_swap_args_swaps_arguments_and_non_commutative_operands_only():
    assert changes(cell("return g(x, y, 1) + max(x, y) + x * y - y"), "swap_args") == {
        ("g(x, y, 1)", "g(y, x, 1)"), ("g(x, y, 1)", "g(x, 1, y)"),
        ("g(x, y, 1) + max(x, y) + x * y - y", "y - (g(x, y, 1) + max(x, y) + x * y)")}


def test_max_shift_is_removed_or_made_a_minimum_shift():
    assert changes(cell("return np.exp(x - np.max(x, axis=1, keepdims=True))"), "max_shift") == {
        ("x - np.max(x, axis=1, keepdims=True)", "x"),
        ("x - np.max(x, axis=1, keepdims=True)", "x - np.min(x, axis=1, keepdims=True)")}


def test_add_at_becomes_a_fancy_index_increment():
    (m,) = gen.generate("f", cell("np.add.at(x, y, 1.0)\nreturn x"), ("add_at",)).mutants
    assert (m.before, m.after) == ("np.add.at(x, y, 1.0)", "x[y] += 1.0")
    assert "x[y] += 1.0" in solution_lines(m)


def test_intermediate_returns_each_earlier_local_instead_of_the_result():
    assert changes(cell("a = x + 1\nb = a * y\nreturn b - a"), "intermediate") == {
        ("return b - a", "return a"), ("return b - a", "return b")}


def test_only_the_code_between_the_solution_markers_is_changed():
    source = "def f(x):\n    x = x + 1\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n"
    mutants = gen.generate("f", source).mutants
    assert {m.before for m in mutants} <= {"x * 2", "2", "return x * 2"}
    assert all("x = x + 1" in m.source for m in mutants)


def test_a_mutant_keeps_the_rest_of_the_cell_comments_included():
    source = cell("z = x * y  # the product\nreturn z  # done")
    (m,) = [m for m in gen.generate("f", source, ("arith",)).mutants]
    assert m.source == source.replace("z = x * y", "z = x / y")


def test_every_mutant_compiles_and_differs_from_the_solution():
    source = cell("s = x - x.max(axis=1, keepdims=True)\ne = np.exp(s)\nreturn e / e.sum(axis=1, keepdims=True)")
    mutants = gen.generate("softmax", source).mutants
    dumps = {ast.dump(ast.parse(m.source)) for m in mutants}
    assert len(dumps) == len(mutants) and ast.dump(ast.parse(source)) not in dumps
    assert {m.operator for m in mutants} >= {"arith", "axis", "sum_mean", "max_shift", "intermediate"}


# --- ids -----------------------------------------------------------------------------------------

def test_ids_are_stable_across_runs_and_edits_elsewhere_in_the_cell():
    source = cell("z = x * y\nreturn z + 1")
    first = [m.id for m in gen.generate("f", source).mutants]
    assert first == [m.id for m in gen.generate("f", source).mutants]
    assert len(set(first)) == len(first) and all(gen.is_generated_id(i) for i in first)
    moved = cell("# a comment that moves every line\n\nz = x * y  # and one here\nreturn z + 1")
    assert [m.id for m in gen.generate("f", moved).mutants] == first


def test_the_same_change_twice_in_a_cell_gets_two_ids():
    mutants = gen.generate("f", cell("a = x + y\na = x + y\nreturn a"), ("arith",)).mutants
    assert len(mutants) == 2 and mutants[0].id != mutants[1].id


# --- uncompilable and identical mutants are dropped ----------------------------------------------

def test_uncompilable_and_identical_mutants_are_dropped(monkeypatch):
    def broken(node, parent):
        if isinstance(node, ast.Name) and node.id == "x":
            yield ast.Name("1x", ast.Load())  # unparses to code that does not compile

    def same(node, parent):
        if isinstance(node, ast.Name) and node.id == "y":
            yield ast.Name("y", ast.Load())           # the solution itself

    monkeypatch.setitem(gen.EXPRESSION_OPERATORS, "arith", broken)
    monkeypatch.setitem(gen.EXPRESSION_OPERATORS, "boundary", same)
    made = gen.generate("f", cell("return x + y"), ("arith", "boundary"))
    assert (made.mutants, made.uncompilable, made.identical) == ([], 1, 1)


def test_a_cell_that_does_not_parse_is_named_not_skipped_silently():
    made = gen.generate("f", "%matplotlib inline\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    assert (made.mutants, made.unparsable) == ([], ["f"])
    r = fake_report({}, {})
    r.unparsable = made.unparsable
    assert r.problems == ["f: the solution cell does not parse as Python, so no mutant is generated from it"]


def test_a_mutant_with_the_solution_s_tree_is_dropped():
    made = gen.generate("f", cell("return g(x, x) + g(x, y)"), ("swap_args",))
    assert [m.after for m in made.mutants] == ["g(y, x)"] and made.identical == 1


# --- scoring, equivalents, known survivors, stale entries ----------------------------------------

def fake_report(killed: dict[str, bool], entries: dict[str, str]) -> mutation.GeneratedReport:
    mutants = [gen.GeneratedMutant(i, "f", "arith", 1, 0, "a", "b", "src") for i in killed]
    verdicts = {i: {"killed": k, "failing": ["test_f_x"] if k else []} for i, k in killed.items()}
    listed = {i: mutation.GeneratedEntry(i, kind, "because") for i, kind in entries.items()}
    return mutation.GeneratedReport("00_x", mutants, verdicts, listed)


def test_score_is_killed_over_generated_minus_equivalent():
    r = fake_report({"f:arith:00000001": True, "f:arith:00000002": True, "f:arith:00000003": False,
                     "f:arith:00000004": False},
                    {"f:arith:00000004": "equivalent", "f:arith:00000003": "survives"})
    assert r.score == pytest.approx(2 / 3)
    assert r.equivalent == ["f:arith:00000004"] and r.survivors == ["f:arith:00000003"]
    assert r.problems == [] and "score 2/3 = 66.7%" in r.summary()


def test_an_unlisted_survivor_is_a_problem():
    r = fake_report({"f:arith:00000001": False}, {})
    assert r.unlisted_survivors == ["f:arith:00000001"]
    assert r.problems == ["f:arith:00000001: survives and is not listed in the catalog"]


def test_a_listed_mutant_that_is_now_killed_is_a_problem():
    r = fake_report({"f:arith:00000001": True, "f:arith:00000002": True},
                    {"f:arith:00000001": "survives", "f:arith:00000002": "equivalent"})
    assert r.listed_but_killed == ["f:arith:00000001", "f:arith:00000002"]
    assert len(r.problems) == 2 and all("now fails" in p for p in r.problems)
    assert r.score == 1.0  # an "equivalent" that a test kills counts as killed, not equivalent


def test_an_entry_whose_mutant_is_gone_is_stale():
    r = fake_report({"f:arith:00000001": True}, {"f:arith:0000dead": "equivalent"})
    assert r.stale == ["f:arith:0000dead"]
    assert r.problems == ["f:arith:0000dead: listed as equivalent but no longer generated (stale): "
                          "remove the entry"]


def test_a_failing_unmodified_notebook_makes_no_verdict_trustworthy():
    r = fake_report({"f:arith:00000001": False}, {"f:arith:00000001": "survives"})
    r.source_problem = "the unmodified notebook loses points on test_f_x"
    assert r.problems == ["00_x: the unmodified notebook loses points on test_f_x"]


def test_catalog_entries_must_name_a_generated_id_and_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "CATALOGS", tmp_path)
    bad = {'id = "f::x"': "not a generated id", 'id = "f:arith:0000000a"\nkind = "odd"': "kind",
           'id = "f:arith:0000000a"\nreason = " "': "reason"}
    for body, message in bad.items():
        fields = {"id": '"f:arith:0000000a"', "kind": '"equivalent"', "reason": '"r"'}
        for line in body.splitlines():
            key, value = line.split(" = ")
            fields[key] = value
        (tmp_path / "00_x.toml").write_text(
            "[[generated]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items()))
        with pytest.raises(ValueError, match=message):
            mutation.load_generated_entries("00_x")


def test_the_cache_key_changes_with_the_mutant_and_with_the_graded_cells():
    nb = notebooks.read(notebooks.source_notebook_path("01_gradients"))
    context = mutation.verdict_context(nb, course_hash="c")
    m = mutation.as_mutant(mutation.generated_mutants(nb).mutants[0])
    assert mutation.cache_key(context, m) == mutation.cache_key(mutation.verdict_context(nb, "c"), m)
    assert mutation.cache_key(mutation.verdict_context(nb, "other course"), m) != mutation.cache_key(context, m)
    test_cell = next(c for c in nb.cells if notebooks.is_test(c))
    test_cell.source += "\nassert True"
    assert mutation.verdict_context(nb, "c") != context
    other = mutation.Mutant(m.cell, m.name, m.kind, m.mistake, m.source + "\n")
    assert mutation.cache_key(context, other) != mutation.cache_key(context, m)


# --- the notebooks -------------------------------------------------------------------------------

@pytest.mark.parametrize("assignment", notebooks.assignments())
def test_every_generated_mutant_is_killed_or_listed(assignment):
    """Survivors the catalog lists (kind "survives") are counted and shown, not failures; their
    list must match exactly. The score and the survivors are printed (pytest -rA shows them)."""
    report = mutation.run_generated(assignment)
    print(report.summary())
    print(report.details())
    assert report.mutants, f"no mutant generated from {assignment}'s solution cells"
    assert report.problems == [], "\n".join(report.problems)


def test_generated_mutants_run_as_notebook_cells_and_are_judged_on_their_own_cell(tmp_path):
    """The tiny notebook of test_mutation: double's solution `return 2 * x` gives `2 / x` and
    `3 * x`; both lose points on double's own tests, in one shared kernel."""
    from test_mutation import tiny_notebook
    import nbformat

    nb = tiny_notebook()
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, str(path))
    made = mutation.generated_mutants(nb)
    assert sorted(m.after for m in made.mutants) == ["2 / x", "3"]
    results = mutation.run(path, [mutation.as_mutant(m) for m in made.mutants], workers=1, timeout=5)
    solutions = mutation.solution_ids(nb)
    assert [mutation.killed(r, solutions) for r in results] == [True, True]
    assert all(t.grade_id.startswith("test_double") for r in results for t in r.failing)
