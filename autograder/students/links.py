"""Where the students' repository is published, and the links made from it.

One setting, in pyproject.toml:

    [tool.course]
    student-repository = "organisation/repository/branch"

names the GitHub repository that `make student-repo` output is pushed to. Every Binder link and
every link to the students' repository (the README's notebook table, the student README's badge)
is made from it here, so changing that one line and running `make readme` moves them all.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDER = "https://mybinder.org"
BINDER_BADGE = f"{BINDER}/badge_logo.svg"


@dataclass(frozen=True)
class StudentRepository:
    organisation: str
    repository: str
    branch: str

    @classmethod
    def parse(cls, setting: str) -> "StudentRepository":
        parts = setting.strip().strip("/").split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"student-repository must be 'organisation/repository/branch', "
                             f"not {setting!r}")
        return cls(*parts)

    @property
    def url(self) -> str:
        """The repository on GitHub (its default page)."""
        return f"https://github.com/{self.organisation}/{self.repository}"

    @property
    def clone_url(self) -> str:
        return f"{self.url}.git"

    def binder_url(self, notebook: str | None = None) -> str:
        """Binder for the branch, opening JupyterLab (on `notebook`, a path inside the
        students' repository such as '01_gradients/01_gradients.ipynb', when given)."""
        base = f"{BINDER}/v2/gh/{self.organisation}/{self.repository}/{self.branch}"
        return f"{base}?urlpath=lab/tree/{notebook}" if notebook else f"{base}?urlpath=lab"


def student_repository(pyproject: Path = ROOT / "pyproject.toml") -> StudentRepository:
    """The setting [tool.course] student-repository of pyproject.toml."""
    config = tomllib.loads(pyproject.read_text())
    try:
        setting = config["tool"]["course"]["student-repository"]
    except KeyError:
        raise KeyError(f"{pyproject} has no [tool.course] student-repository setting") from None
    return StudentRepository.parse(setting)
