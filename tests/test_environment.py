"""The set-up files agree with each other: three pinned sets (what a student needs, what grading
adds, what the tests and the hub add), each complete on its own, the same versions for Binder."""
import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT

REQUIREMENTS = ROOT / "requirements"
SETS = ("student", "grading", "dev")  # each file starts with -r of the one before


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if m:
            found[canonicalize_name(m[1])] = m[2]
    return found


def own_lines(name: str) -> list[str]:
    """The requirement lines of requirements/<name>.txt, comments and blank lines left out."""
    text = (REQUIREMENTS / f"{name}.txt").read_text()
    return [l.split("#")[0].strip() for l in text.splitlines() if l.split("#")[0].strip()]


def pinned_set(name: str) -> dict:
    """Every pin requirements/<name>.txt installs: its own and those of the sets it includes."""
    index = SETS.index(name)
    found = {}
    for earlier in SETS[:index + 1]:
        found.update(pins(own_lines(earlier)))
    return found


def test_every_requirement_is_pinned_exactly_and_the_sets_chain():
    seen = {}
    for index, name in enumerate(SETS):
        lines = own_lines(name)
        includes = [l for l in lines if l.startswith("-r")]
        assert includes == ([f"-r {SETS[index - 1]}.txt"] if index else []), (name, includes)
        packages = [l for l in lines if not l.startswith("-r")]
        floating = [l for l in packages if "==" not in l]
        assert not floating, f"requirements/{name}.txt has unpinned lines: {floating}"
        for package in pins(packages):
            assert package not in seen, f"{package} pinned in {seen[package]} and {name}"
            seen[package] = name
    full = [l.split("#")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    assert [l for l in full if l] == ["-r requirements/dev.txt"], \
        "requirements.txt is the full set, the one `make install` reads"


def test_each_set_holds_what_its_users_need_and_nothing_of_the_others():
    student, grading, dev = (set(pinned_set(name)) for name in SETS)
    assert {"jupyterlab", "nbgrader", "ipywidgets", "ipykernel", "numpy", "matplotlib",
            "hypothesis", "nbformat"} <= student
    assert {"nbclient", "nbconvert", "sqlalchemy", "tqdm", "psycopg",
            "jupyter-server-mathjax"} <= grading
    assert {"pytest", "pytest-xdist", "playwright", "jupyterhub", "jupyter-repo2docker",
            "nbgitpuller", "seqeval"} <= dev
    tools = {"pytest", "pytest-xdist", "playwright", "jupyterhub", "jupyter-repo2docker",
             "nbgitpuller", "scipy", "scikit-learn"}
    assert not student & (tools | {"tqdm", "psycopg", "jupyter-server-mathjax"})
    assert not grading & tools


def _installed_requirements(package: str, version: str) -> list[Requirement]:
    """What `package` requires, from the metadata of the installed distribution, which is the
    pinned version (checked): its dependencies for this Python and platform, extras left out."""
    try:
        dist = distribution(package)
    except PackageNotFoundError:
        pytest.fail(f"{package}=={version} is pinned but not installed: run `make install`")
    assert dist.version == version, f"{package} {dist.version} installed, {version} pinned"
    wanted = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            wanted.append(requirement)
    return wanted


@pytest.mark.parametrize("name", SETS)
def test_each_set_installs_alone(name):
    """A resolver's check without the network: every dependency of every package of the set is
    in the set, at a version its specifier accepts (pip would install exactly these pins)."""
    pinned = pinned_set(name)
    problems = []
    for package, version in sorted(pinned.items()):
        for requirement in _installed_requirements(package, version):
            wanted = canonicalize_name(requirement.name)
            if wanted not in pinned:
                problems.append(f"{package} needs {requirement}, not in the set")
            elif not requirement.specifier.contains(pinned[wanted], prereleases=True):
                problems.append(f"{package} needs {requirement}, the set pins {pinned[wanted]}")
    assert not problems, f"requirements/{name}.txt does not install alone:\n" + "\n".join(problems)


def test_nbgrader_and_jupyterlab_are_the_versions_the_course_is_built_for():
    required = pinned_set("student")
    assert required["nbgrader"].startswith("0.9.")
    assert required["jupyterlab"].startswith("4.")
    assert required["ipywidgets"].startswith("8.")


def test_environment_yml_installs_the_students_set():
    conda = pins((ROOT / "environment.yml").read_text().splitlines())
    assert conda == pinned_set("student"), \
        {k: (conda.get(k), v) for k, v in pinned_set("student").items() if conda.get(k) != v} | \
        {k: (v, None) for k, v in conda.items() if k not in pinned_set("student")}


def test_directory_targets_are_phony():
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M)[1].split())
    assert {"release", "test", "demo", "install", "autograde", "feedback", "lab", "clean",
            "help"} <= phony


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci


@pytest.mark.parametrize("variable, value, section, key", [
    ("COURSE_EXCHANGE", "/srv/exchange", "Exchange", "root"),
    ("COURSE_DB_URL", "postgresql://grader@db/gradebook", "CourseDirectory", "db_url"),
    ("COURSE_TIMEOUT", "17", "Execute", "timeout"),
])
def test_nbgrader_config_reads_overrides_from_the_environment(variable, value, section, key):
    code = ("from traitlets.config.loader import PyFileConfigLoader\n"
            f"c = PyFileConfigLoader('nbgrader_config.py', {str(ROOT)!r}).load_config()\n"
            f"print(c.{section}.{key})")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, variable: value},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == value
