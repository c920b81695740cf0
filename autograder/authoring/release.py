"""Regenerate release/ from source/ with `nbgrader generate_assignment` (what `make release` runs).

    python -m autograder.authoring.release [ASSIGNMENT ...]     # default: every notebook in source/
"""
import sys
from pathlib import Path

from autograder.nbgrader_cli import COURSE_ROOT, nbgrader_checked
from autograder.notebooks import assignments


def generate_release(assignment_ids, course: Path = COURSE_ROOT) -> None:
    """Write release/<id>/ for each assignment (and register it in the gradebook)."""
    for assignment in assignment_ids:
        nbgrader_checked("generate_assignment", assignment, "--force", course=course)


if __name__ == "__main__":
    chosen = sys.argv[1:] or assignments()
    generate_release(chosen)
    print("release/ regenerated for:", ", ".join(chosen))
