"""The set-up files agree with each other: one pinned list, the same versions for conda/Binder."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if m:
            found[m[1].lower().replace("_", "-")] = m[2]
    return found


def test_every_requirement_is_pinned_exactly():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [l for l in lines if l and not l.startswith("#")]
    floating = [l for l in packages if "==" not in l]
    assert not floating, f"requirements.txt has unpinned lines: {floating}"
    assert {"nbgrader", "jupyterlab", "ipywidgets", "numpy", "matplotlib", "nbclient", "nbformat",
            "pytest"} <= set(pins(packages))


def test_nbgrader_and_jupyterlab_are_the_versions_the_course_is_built_for():
    required = pins((ROOT / "requirements.txt").read_text().splitlines())
    assert required["nbgrader"].startswith("0.9.")
    assert required["jupyterlab"].startswith("4.")
    assert required["ipywidgets"].startswith("8.")


def test_environment_yml_lists_the_same_versions():
    required = pins((ROOT / "requirements.txt").read_text().splitlines())
    conda = pins((ROOT / "environment.yml").read_text().splitlines())
    assert conda, "environment.yml pins nothing"
    differ = {name: (version, required.get(name)) for name, version in conda.items()
              if required.get(name) != version}
    assert not differ, f"environment.yml vs requirements.txt: {differ}"


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
