"""Feedback that tells a student what failed without revealing the hidden tests.

nbgrader's stock feedback copies the autograded notebook, hidden tests and tracebacks included
(jupyter/nbgrader#917). `HideHiddenTests` is added to `GenerateFeedback.preprocessors` in
nbgrader_config.py. Per graded test cell the student sees the points (nbgrader's header), pass or
fail, and the diagnostic message course.checks writes to name the likely mistake:
  * the hidden test region is removed from the source;
  * every error's traceback (which quotes the failing line of the test) becomes its last line,
    the exception and its message;
  * a test cell with hidden tests keeps only its error outputs: what else it printed or displayed
    may show expected values;
  * any output line anywhere in the notebook that repeats a line of a hidden test is replaced:
    code in a submission could print the hidden source from inside the kernel (and is flagged
    by autograder/safety/tamper.py for a person anyway).
`autograded/` keeps the hidden tests; only feedback/ goes back to students.
"""
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution

HIDDEN_NOTE = "# (hidden tests ran here; their source is not shown)"
REDACTED = "[a line of a hidden test was here]"
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MIN_SECRET_LENGTH = 12  # shorter lines ("assert x", "else:") say nothing about a test


def hidden_lines(nb) -> set[str]:
    """The stripped, long enough lines inside hidden test regions of `nb`."""
    lines = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or BEGIN not in cell.source:
            continue
        for region in cell.source.split(BEGIN)[1:]:
            for line in region.split(END)[0].splitlines():
                if len(line.strip()) >= MIN_SECRET_LENGTH and not line.strip().startswith("#"):
                    lines.add(line.strip())
    return lines


def _redact(text: str, secrets: set[str]) -> str:
    if not secrets or not isinstance(text, str):
        return text
    return "\n".join(REDACTED if any(s in line for s in secrets) else line
                     for line in text.split("\n"))


class HideHiddenTests(ClearHiddenTests):
    """Strip hidden test source, test tracebacks and leaking outputs from the student's copy."""

    def preprocess(self, nb, resources):
        self._secrets = hidden_lines(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        if is_grade(cell) and not is_solution(cell):
            had_hidden = self._remove_hidden_test_region(cell)
            if had_hidden:
                cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN_NOTE
                cell.outputs = [o for o in cell.get("outputs", [])
                                if o.get("output_type") == "error"]
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [
                        f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        for output in cell.get("outputs", []):
            self._scrub(output)
        return cell, resources

    def _scrub(self, output) -> None:
        secrets = getattr(self, "_secrets", set())
        if "text" in output:
            output["text"] = _redact(output["text"], secrets)
        if output.get("output_type") == "error":
            output["evalue"] = _redact(output.get("evalue", ""), secrets)
            output["traceback"] = [_redact(t, secrets) for t in output.get("traceback", [])]
        for mime, value in (output.get("data") or {}).items():
            if mime.startswith("text/"):
                output["data"][mime] = _redact(value if isinstance(value, str) else "".join(value),
                                               secrets)


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
