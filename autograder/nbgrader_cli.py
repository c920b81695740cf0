"""Run nbgrader's own commands, exactly as an instructor types them, in a course directory."""
import os
import subprocess
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent


def nbgrader_env(extra: dict | None = None) -> dict:
    """The environment nbgrader needs: this venv's bin/ first on PATH (nbgrader runs `alembic`)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.update(extra or {})
    return env


def nbgrader(*args: str, course: Path = COURSE_ROOT, env: dict | None = None,
             timeout: float = 1800) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` run in the course directory; output captured, exit status not checked."""
    exe = Path(sys.executable).parent / "nbgrader"
    return subprocess.run([str(exe), *args], cwd=course, env=nbgrader_env(env), text=True,
                          capture_output=True, timeout=timeout)


def nbgrader_checked(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Like `nbgrader`, but raise with nbgrader's own log when the command fails."""
    result = nbgrader(*args, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout}{result.stderr}")
    return result
