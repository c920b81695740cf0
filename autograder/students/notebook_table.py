"""The table of notebooks in README.md (and in the students' README), made from the notebooks.

Each row comes from a release notebook itself: its title (the first heading, `# NN · Title`), what
you learn (its numbered **Learning goals** list), its points (the sum of its graded cells) and, from
the [tool.course] student-repository setting, its Binder link.

    python -m autograder.students.notebook_table      # rewrite the table in README.md (make readme)
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.students.links import ROOT, StudentRepository, student_repository

START = "<!-- notebook-table start: made by `make readme` from the notebooks; edit them, not this -->"
END = "<!-- notebook-table end -->"


@dataclass
class NotebookFacts:
    assignment: str   # "01_gradients"
    number: str       # "01"
    title: str        # "Gradients: derivatives, ... (미분과 기울기)"
    goals: list[str]  # the learning goals, one sentence each
    points: float

    @property
    def path(self) -> str:
        """The notebook's path inside its assignment folder: NN_name/NN_name.ipynb."""
        return f"{self.assignment}/{self.assignment}.ipynb"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def notebook_facts(path: Path) -> NotebookFacts:
    """Title, learning goals and points of a release (or source) notebook."""
    nb = nbformat.read(str(path), as_version=4)
    assignment = path.stem
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    heading = re.search(r"^#\s+(.+)$", markdown, re.M)
    if not heading:
        raise ValueError(f"{path.name}: no '# NN · Title' heading")
    title = re.sub(r"^\d+\s*[·.:\-–]\s*", "", heading[1].strip())
    goals_block = re.search(r"\*\*Learning goals\.?\*\*.*?\n((?:\s*\d+\.\s.*\n?(?:[ \t]+\S.*\n?)*)+)",
                            markdown)
    if not goals_block:
        raise ValueError(f"{path.name}: no **Learning goals.** list (a numbered list after it)")
    goals = [_one_line(g).rstrip(";.") for g in
             re.split(r"^\s*\d+\.\s", goals_block[1], flags=re.M) if g.strip()]
    points = sum(float(c.metadata.get("nbgrader", {}).get("points", 0) or 0) for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade"))
    return NotebookFacts(assignment, assignment.split("_")[0], title, goals, points)


def release_notebooks(root: Path = ROOT) -> list[Path]:
    """release/NN_name/NN_name.ipynb of every assignment, in course order."""
    return sorted(p / f"{p.name}.ipynb" for p in (root / "release").iterdir()
                  if (p / f"{p.name}.ipynb").is_file())


def _points(points: float) -> str:
    return f"{points:g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(facts: list[NotebookFacts], links: StudentRepository, *,
                   notebook_prefix: str = "") -> str:
    """The table: one row per notebook; `notebook_prefix` is where the notebooks are relative
    to the README ("release/" in this repository, "" in the students' repository)."""
    rows = ["| # | notebook | what you learn | points | open on Binder |",
            "|---|---|---|---|---|"]
    for f in facts:
        learn = "; ".join(f.goals)
        rows.append(f"| {f.number} | [{_cell(f.title)}]({notebook_prefix}{f.path}) | {_cell(learn)} "
                    f"| {_points(f.points)} | [launch]({links.binder_url(f.path)}) |")
    return "\n".join(rows)


def readme_with_table(readme: str, table: str) -> str:
    """README text with the part between the START and END markers replaced by `table`."""
    if START not in readme or END not in readme:
        raise ValueError(f"README.md has no notebook table markers:\n{START}\n...\n{END}")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def current_table(root: Path = ROOT) -> str:
    facts = [notebook_facts(p) for p in release_notebooks(root)]
    return markdown_table(facts, student_repository(root / "pyproject.toml"),
                          notebook_prefix="release/")


def update_readme(root: Path = ROOT) -> bool:
    """Rewrite the README's notebook table; True when it changed."""
    readme = root / "README.md"
    old = readme.read_text()
    new = readme_with_table(old, current_table(root))
    if new != old:
        readme.write_text(new)
    return new != old


if __name__ == "__main__":
    changed = update_readme()
    print("README.md notebook table", "updated" if changed else "already up to date")
    sys.exit(0)
