"""Unit tests of the autograder's own pieces (the end-to-end test runs them through nbgrader)."""
import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.grading.ledger import Outcome
from autograder.reports.class_report import format_table
from autograder.grading.submissions import check_submission
from autograder.authoring.classroom import solve_cells, student_answer
from autograder.reports.feedback import HIDDEN_NOTE, HideHiddenTests


def nbgrader_cell(source, gid, **flags):
    meta = {"schema_version": 3, "grade_id": gid, "grade": False, "solution": False,
            "locked": False, **flags}
    return new_code_cell(source, metadata={"nbgrader": meta})


def course_with_submission(tmp_path, files: dict):
    (tmp_path / "release" / "a1").mkdir(parents=True)
    nbformat.write(new_notebook(), str(tmp_path / "release" / "a1" / "a1.ipynb"))
    folder = tmp_path / "submitted" / "s1" / "a1"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return tmp_path


def test_a_good_submission_has_no_problem(tmp_path):
    course = course_with_submission(tmp_path, {"a1.ipynb": nbformat.writes(new_notebook())})
    assert check_submission(course, "a1", "s1") == []


def test_broken_json_and_renamed_notebooks_are_named(tmp_path):
    broken = course_with_submission(tmp_path / "b", {"a1.ipynb": '{"cells": [ '})
    assert "not valid JSON" in check_submission(broken, "a1", "s1")[0]
    renamed = course_with_submission(tmp_path / "r", {"a1 (copy).ipynb": "{}"})
    problem = check_submission(renamed, "a1", "s1")[0]
    assert "a1.ipynb was not submitted" in problem and "a1 (copy).ipynb (renamed?)" in problem


def test_feedback_hides_hidden_tests_and_their_tracebacks_only_in_test_cells():
    test = nbgrader_cell("check(f(1))\n### BEGIN HIDDEN TESTS\ncheck(f(2), secret=42)\n"
                         "### END HIDDEN TESTS", "test_f", grade=True, points=1)
    test.outputs = [new_output("error", ename="AssertionError", evalue="f(2): sign flipped",
                               traceback=["----> 3 check(f(2), secret=42)", "AssertionError: ..."])]
    answer = nbgrader_cell("def f(x):\n    return -x", "f", solution=True)
    answer.outputs = [new_output("error", ename="ValueError", evalue="v", traceback=["line 2"])]
    nb, _ = HideHiddenTests().preprocess(new_notebook(cells=[answer, test]), {})
    assert "secret" not in nb.cells[1].source and HIDDEN_NOTE in nb.cells[1].source
    assert nb.cells[1].outputs[0]["traceback"] == ["AssertionError: f(2): sign flipped"]
    assert nb.cells[0].outputs[0]["traceback"] == ["line 2"]  # the student's own traceback stays


def test_solving_fills_answer_cells_without_solution_markers():
    source = new_notebook(cells=[nbgrader_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "f",
        solution=True)])
    release = new_notebook(cells=[nbgrader_cell("def f(x):\n    raise NotImplementedError()",
                                                "f", solution=True)])
    assert student_answer(source.cells[0]) == "def f(x):\n    return 2 * x"
    solved = solve_cells(release, source, replacements={"f": "def f(x):\n    return x"})
    assert solved.cells[0].source == "def f(x):\n    return x"


def test_table_marks_and_lists_every_reported_problem():
    table = format_table([Outcome("a1", "ann", "graded", 3, 5),
                          Outcome("a1", "bo", "failed", 0, 5, ["broken"])])
    assert "ann" in table and "3 / 5" in table and "0 / 5 !" in table
    assert "bo / a1: broken" in table


def test_table_columns_are_as_wide_as_their_widest_entry():
    table = format_table([Outcome("01_long_assignment_name", "a", "graded", 12.5, 35),
                          Outcome("02_b", "a_much_longer_student_id", "graded", 3, 4)])
    lines = table.splitlines()
    for name in ("01_long_assignment_name", "02_b"):
        column = lines[0].index(name)
        for line in lines[2:]:
            assert line[column - 2:column] == "  " and line[column] != " ", table


def test_tests_are_named_by_exercise_and_property():
    from autograder.reports.feedback import test_label
    answers = ["numerical_derivative", "numerical_gradient", "grad"]
    assert test_label("test_numerical_gradient_shape_2d", answers) == "numerical_gradient: shape 2d"
    assert test_label("test_grad", answers) == "grad"
    assert test_label("test_unknown_x", answers) == "test_unknown_x"


def test_any_student_id_gets_a_file_name_every_file_system_holds():
    from autograder.grading.ledger import file_stem
    assert file_stem("alice") == "alice"
    for student in ("s" * 251, ".hidden", "a/b", "é" * 150):
        stem = file_stem(student)
        assert len((stem + ".json").encode()) <= 255 and "/" not in stem
        assert not stem.startswith(".")
    assert file_stem("s" * 251) != file_stem("s" * 252)


def test_a_long_id_is_recorded_and_read_back(tmp_path):
    from autograder.grading.ledger import Ledger
    ledger = Ledger(tmp_path)
    long_id = "x" * 251
    ledger.write(Outcome("a1", long_id, "graded", 3, 5))
    assert ledger.read("a1", long_id).score == 3
    assert [o.student for o in ledger.all()] == [long_id]


def test_checksum_warnings_are_dropped_only_for_cells_identical_to_the_release(tmp_path):
    import logging
    from nbgrader.utils import compute_checksum
    from autograder.grading.checksums import EXPLANATION, ExpectedChecksums
    test = nbgrader_cell("check(f(1))", "test_f", grade=True, points=1, locked=True)
    (tmp_path / "release" / "a1").mkdir(parents=True)
    nbformat.write(new_notebook(cells=[test]), str(tmp_path / "release" / "a1" / "a1.ipynb"))
    same = compute_checksum(test)
    edited = compute_checksum(nbgrader_cell("pass", "test_f", grade=True, points=1, locked=True))

    def warning(got):
        return logging.LogRecord("AutogradeApp", logging.WARNING, "x", 1,
                                 "Attribute '%s' for cell %s has changed! (should be: %s, got: %s)",
                                 ("checksum", "test_f", "0" * 32, got), None)
    keep = ExpectedChecksums(tmp_path)
    first = warning(same)
    assert keep.filter(first) and first.getMessage() == EXPLANATION  # said once
    assert not keep.filter(warning(same))                          # then dropped
    changed = warning(edited)
    assert keep.filter(changed) and "test_f has changed" in changed.getMessage()  # kept as is
