"""autograder/ is one package per job, and a lower job never imports a higher one.

Ranks, lowest first, as autograder/__init__.py states them: a module may import its own package,
the top-level helpers and any package of a lower rank. `ner` stands alone. The top-level entry
points (cli, __main__, the kept command modules) may import anything.
"""
import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import autograder

ROOT = Path(autograder.__file__).resolve().parent
HELPERS = {"notebooks", "nbgrader_cli"}
ENTRY_POINTS = {"cli", "__main__", "mutation", "ner_real", "__init__"}
RANKS = {"kernels": 1, "safety": 2, "grading": 3, "reports": 4, "students": 5, "hub": 6,
         "authoring": 7}
ALONE = {"ner"}


def _modules():
    names = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix="autograder."):
        if not info.name.endswith("__main__"):  # runs the command line when imported
            names.append(info.name)
    return sorted(names)


def _job(module: str) -> str:
    """'autograder.grading.batch' -> 'grading'; 'autograder.notebooks' -> 'notebooks'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of autograder.* in a file, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("autograder")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.startswith("autograder"):
            if node.module == "autograder":
                found += [(node.lineno, f"autograder.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def allowed(importer: str, imported: str) -> bool:
    """May module `importer` (a dotted name) import `imported`?"""
    src, dst = _job(importer), _job(imported)
    if src in ENTRY_POINTS or src == dst:
        return True
    if dst in HELPERS:
        return True
    if src in HELPERS:
        return False
    if src in ALONE or dst in ALONE:
        return False
    if dst in ENTRY_POINTS:
        return False
    return RANKS[dst] < RANKS[src]


@pytest.mark.parametrize("name", _modules())
def test_every_module_imports(name):
    importlib.import_module(name)


def test_every_package_is_ranked_and_documented():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(RANKS) | ALONE
    for package in packages:
        doc = importlib.import_module(f"autograder.{package}").__doc__
        assert doc and "import" in doc.lower(), f"autograder/{package}/__init__.py: say what it may import"
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert modules == HELPERS | ENTRY_POINTS, "a new top-level module: put it in its job's package"


def test_no_import_runs_from_a_lower_job_to_a_higher_one():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        importer = ".".join(rel.parts)
        for line, imported in _imports(path):
            if not allowed(importer, imported):
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} imports {imported}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("importer, imported, ok", [
    ("autograder.grading.batch", "autograder.safety.sandbox", True),
    ("autograder.grading.batch", "autograder.authoring.mutation", False),
    ("autograder.safety.flags", "autograder.reports.class_report", False),
    ("autograder.notebooks", "autograder.grading.batch", False),
    ("autograder.ner.real", "autograder.grading.batch", False),
    ("autograder.cli", "autograder.hub.links", True),
])
def test_the_rule_itself(importer, imported, ok):
    assert allowed(importer, imported) is ok
