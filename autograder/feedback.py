"""Feedback that tells a student what failed without revealing the hidden tests.

nbgrader's stock feedback copies the autograded notebook, hidden tests and tracebacks included
(jupyter/nbgrader#917). `HideHiddenTests` is added to `GenerateFeedback.preprocessors` in
nbgrader_config.py: in every autograder test cell it removes the hidden test region from the source
and replaces each error's traceback (which quotes the failing line of the test) by its last line,
the exception and its message, which course.checks writes to name the likely mistake.
"""
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution

HIDDEN_NOTE = "# (hidden tests ran here; their source is not shown)"


class HideHiddenTests(ClearHiddenTests):
    """Strip hidden test source and test tracebacks from the notebook a student gets back."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            return cell, resources
        if self._remove_hidden_test_region(cell):
            cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN_NOTE
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


def generate(course, assignment: str, graded_students: list[str]) -> list[str]:
    """`nbgrader generate_feedback` for one assignment (this preprocessor applied through
    nbgrader_config.py); return a problem for every graded student left without feedback."""
    from pathlib import Path
    from autograder.nbgrader_cli import nbgrader
    course = Path(course)
    result = nbgrader("generate_feedback", assignment, "--force", course=course)
    problems = []
    for student in graded_students:
        folder = course / "feedback" / student / assignment
        if not any(folder.glob("*.html")):
            problems.append(f"no feedback for {student}: nbgrader generate_feedback wrote none")
    if result.returncode != 0 and not problems:
        problems.append(f"nbgrader generate_feedback {assignment} exited with {result.returncode}")
    return problems
