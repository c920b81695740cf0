"""README.md says what is true: its notebook table is what `make readme` makes now, and every
command and link in it exists."""
import re

from autograder.students.notebook_table import current_table, notebook_facts, readme_with_table, release_notebooks
from conftest import ASSIGNMENTS, ROOT

README = (ROOT / "README.md").read_text()


def test_notebook_table_is_up_to_date():
    assert readme_with_table(README, current_table()) == README, \
        "README.md's notebook table is out of date: run `make readme` and commit README.md"


def test_every_notebook_has_a_row_with_its_points_and_binder_link():
    table = current_table()
    for path in release_notebooks():
        facts = notebook_facts(path)
        row = next(line for line in table.splitlines() if f"](release/{facts.path})" in line)
        assert f"| {facts.points:g} |" in row and "?urlpath=lab/tree/" + facts.path in row
        assert facts.goals and facts.title
    assert len(release_notebooks()) == len(ASSIGNMENTS)


def test_make_verbs_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    verbs = set(re.findall(r"`make ([a-z-]+)", README)) | set(re.findall(r"^make ([a-z-]+)", README, re.M))
    assert verbs and verbs <= targets, verbs - targets


def test_nbgrader_commands_in_the_readme_exist_and_the_readme_says_how_to_reach_them():
    from nbgrader.apps.nbgraderapp import NbGraderApp
    named = set(re.findall(r"`nbgrader ([a-z_]+)", README))
    assert named and named <= set(NbGraderApp.subcommands), named - set(NbGraderApp.subcommands)
    assert "source .venv/bin/activate" in README


def test_relative_links_and_pictures_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not re.match(r"[a-z]+:", target):
            assert (ROOT / target).exists(), f"README links to a missing {target}"
