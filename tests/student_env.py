"""A Python environment built the way Binder builds the students' one, for the tests.

Binder (repo2docker) creates the environment from the students' environment.yml, copies the
repository and runs its postBuild. Here: a venv in .venv/student/ with the pip packages that
environment.yml lists (held to the students' set, requirements/student.txt), made once and reused
while environment.yml stays the same; the test then runs the students' postBuild in it.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

STUDENT_VENV = ROOT / ".venv" / "student"


def pip_requirements(environment_yml: Path) -> list[str]:
    """The `- pip:` entries of an environment.yml (name==version lines)."""
    return re.findall(r"^\s+-\s+([A-Za-z0-9_.\-\[\]]+==\S+)\s*$", environment_yml.read_text(), re.M)


def student_environment(environment_yml: Path, log: Path) -> Path:
    """The venv for this environment.yml (built now if missing or made for another one);
    returns its bin/ directory."""
    packages = pip_requirements(environment_yml)
    assert packages, f"{environment_yml} lists no pip packages"
    key = hashlib.sha256("\n".join(packages).encode()).hexdigest()[:16]
    stamp = STUDENT_VENV / f".built-{key}"
    if not stamp.exists():
        shutil.rmtree(STUDENT_VENV, ignore_errors=True)
        with open(log, "w") as out:
            subprocess.run([sys.executable, "-m", "venv", str(STUDENT_VENV)], check=True,
                           stdout=out, stderr=subprocess.STDOUT)
            subprocess.run([str(STUDENT_VENV / "bin" / "python"), "-m", "pip", "install",
                            "--quiet", "--disable-pip-version-check",
                            "-c", str(ROOT / "requirements" / "student.txt"), *packages],
                           check=True, stdout=out, stderr=subprocess.STDOUT, timeout=1200)
        stamp.touch()
    return STUDENT_VENV / "bin"


def environment_with(bin_dir: Path) -> dict:
    """os.environ with `bin_dir` first on PATH, as in an activated environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MPLBACKEND")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env
