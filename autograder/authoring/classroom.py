"""A simulated class: students who fetch a released assignment, work on it, and submit it.

Each student has an id and a home directory of their own. Fetching and submitting use nbgrader's
exchange classes in-process, the way JupyterLab's Assignments tab does, so one demo does not pay
nbgrader's start-up time for every student and notebook.

A persona says what a student does to the notebook they fetched, given the instructor's source
notebook (for its solutions) and the mutation catalog (for typical mistakes).
"""
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from traitlets.config import Config
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory

from autograder.authoring import mutation
from autograder.notebooks import grade_id, is_solution, read

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _exchange_config(course_id: str, exchange_root: Path, assignment: str, home: Path,
                     student: str) -> Config:
    config = Config()
    config.CourseDirectory.course_id = course_id
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    config.Exchange.root = str(exchange_root)
    config.Exchange.assignment_dir = str(home)
    config.Exchange.cache = str(home / ".local/share/jupyter/nbgrader_cache")
    return config


def _exchange(action: str, config: Config):
    coursedir = CourseDirectory(config=config)
    factory = ExchangeFactory(config=config)
    return getattr(factory, action)(coursedir=coursedir, authenticator=Authenticator(config=config),
                                    config=config)


def fetch(course_id: str, exchange_root: Path, assignment: str, home: Path, student: str) -> Path:
    """Fetch a released assignment into home/<assignment>/ (replacing an earlier copy)."""
    shutil.rmtree(home / assignment, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    _exchange("FetchAssignment", _exchange_config(course_id, exchange_root, assignment, home,
                                                  student)).start()
    return home / assignment


def submit(course_id: str, exchange_root: Path, assignment: str, home: Path, student: str) -> None:
    """Submit home/<assignment>/ to the exchange as `student`."""
    _exchange("Submit", _exchange_config(course_id, exchange_root, assignment, home,
                                         student)).start()


# --- what students do to the notebook -------------------------------------------------------

def student_answer(source_cell) -> str:
    """The source cell as a student would have written it: the solution without its markers."""
    lines = [line for line in source_cell.source.splitlines()
             if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(lines)


def solve_cells(release_nb, source_nb, cell_ids=None, replacements=None):
    """Fill the release notebook's answer cells (all, or only `cell_ids`) with the solutions,
    then put `replacements` ({grade_id: source}) in place of those cells."""
    solutions = {grade_id(c): c for c in source_nb.cells if is_solution(c)}
    for cell in release_nb.cells:
        gid = grade_id(cell)
        if not is_solution(cell) or gid not in solutions:
            continue
        if cell_ids is None or gid in cell_ids:
            cell.source = student_answer(solutions[gid])
        if replacements and gid in replacements:
            cell.source = replacements[gid]
    return release_nb


@dataclass
class Persona:
    """What one simulated student does to every notebook of an assignment."""
    name: str
    describe: str
    work: Callable[[Path, object, str], None]  # (notebook path, source notebook, assignment)
    expected: str = ""  # what the instructor should see for them


def _rewrite(path: Path, change) -> None:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.write(change(nb), str(path))


def _solution(path, source_nb, assignment):
    _rewrite(path, lambda nb: solve_cells(nb, source_nb))


def _blank(path, source_nb, assignment):
    pass


def partial_cells(source_nb) -> list[str]:
    """The answer cells a 'partial' student solves: the first half, in notebook order."""
    ids = [grade_id(c) for c in source_nb.cells if is_solution(c)]
    return ids[: len(ids) // 2]


def _partial(path, source_nb, assignment):
    _rewrite(path, lambda nb: solve_cells(nb, source_nb, cell_ids=set(partial_cells(source_nb))))


def demo_mistakes(assignment: str) -> list[mutation.Mutant]:
    """Two typical mistakes: the first wrong entry of two different cells in the mutation catalog
    (autograder/authoring/mutants/<assignment>.toml); none when the notebook has no catalog."""
    if not mutation.catalog_path(assignment).exists():
        return []
    chosen, cells = [], set()
    for mutant in mutation.load_catalog(assignment):
        if mutant.kind == "wrong" and mutant.cell not in cells:
            chosen.append(mutant)
            cells.add(mutant.cell)
    return chosen[:2]


def _mistake(index):
    def work(path, source_nb, assignment):
        mistakes = demo_mistakes(assignment)
        if index < len(mistakes):
            m = mistakes[index]
            _rewrite(path, lambda nb: solve_cells(nb, source_nb, replacements={m.cell: m.source}))
        else:
            _solution(path, source_nb, assignment)
    return work


def _broken_json(path, source_nb, assignment):
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # a save cut off half way


def crashing_cell(source_nb) -> str:
    """The answer cell a 'crashes' student breaks: the first one."""
    return next(grade_id(c) for c in source_nb.cells if is_solution(c))


def _crashes_on_import(path, source_nb, assignment):
    def change(nb):
        solve_cells(nb, source_nb)
        cell = next(c for c in nb.cells if grade_id(c) == crashing_cell(source_nb))
        cell.source = "import a_module_that_is_not_installed\n" + cell.source
        return nb
    _rewrite(path, change)


def _renamed(path, source_nb, assignment):
    _solution(path, source_nb, assignment)
    path.rename(path.with_name(path.stem + " (copy).ipynb"))


PERSONAS = [
    Persona("alice", "the correct solution", _solution, "full marks"),
    Persona("bob", "the blank release", _blank, "0 from the graded cells"),
    Persona("chen", "the first half of the answers", _partial, "the points of the solved half"),
    Persona("dana", "one typical mistake", _mistake(0), "loses that function's points"),
    Persona("emeka", "another typical mistake", _mistake(1), "loses that function's points"),
    Persona("farah", "a notebook that is broken JSON", _broken_json, "0, reported"),
    Persona("gus", "the solution saved under another name", _renamed, "0, reported"),
    Persona("hana", "an answer cell that raises ImportError", _crashes_on_import,
            "loses that cell's points, the rest is graded"),
]


def simulate(course_id: str, exchange_root: Path, homes: Path, assignment: str,
             source_nb_paths: dict, personas=PERSONAS) -> None:
    """Every persona fetches `assignment`, works on each notebook, and submits."""
    for persona in personas:
        home = homes / persona.name
        folder = fetch(course_id, exchange_root, assignment, home, persona.name)
        for nb_path in sorted(folder.glob("*.ipynb")):
            source_nb = read(source_nb_paths[nb_path.name])
            persona.work(nb_path, source_nb, assignment)
        submit(course_id, exchange_root, assignment, home, persona.name)
