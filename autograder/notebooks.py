"""Small helpers to read notebooks and find their nbgrader cells by grade id."""
from pathlib import Path

import nbformat

SOURCE = Path(__file__).resolve().parent.parent / "source"


def source_notebook_path(assignment: str) -> Path:
    """source/NN_name/NN_name.ipynb for an assignment id such as '01_gradients'."""
    return SOURCE / assignment / f"{assignment}.ipynb"


def assignments() -> list[str]:
    """The assignment ids that have a source notebook, in course order."""
    return sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").is_file())


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def cell_by_grade_id(nb, gid: str):
    """The cell whose nbgrader grade_id is gid (KeyError if there is none)."""
    for cell in nb.cells:
        if grade_id(cell) == gid:
            return cell
    raise KeyError(f"no cell with grade_id {gid!r}")


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_test(cell) -> bool:
    """An autograder test cell: graded, and not an answer cell."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def grading_cells(nb, cell_id: str) -> list:
    """The test cells that grade one answer cell: grade ids test_<cell_id> or test_<cell_id>_*."""
    return [c for c in nb.cells if is_test(c)
            and (grade_id(c) == f"test_{cell_id}" or grade_id(c).startswith(f"test_{cell_id}_"))]
