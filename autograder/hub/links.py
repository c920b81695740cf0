"""nbgitpuller links: one per release notebook, opening it in JupyterLab on a JupyterHub.

    python -m autograder links --hub https://hub.example.edu --repo https://github.com/org/repo

A student who follows a link logs in to the hub; nbgitpuller (installed in the students'
environment) clones or updates the students' repository (`make student-repo`, published at
--repo) in their home folder, merging without losing their own changes, and JupyterLab opens the
notebook. The link is the one nbgitpuller's own link generator makes:

    <hub>/hub/user-redirect/git-pull?repo=<repo>&urlpath=lab%2Ftree%2F<folder>%2F<notebook>&branch=<b>

query values form-encoded as a browser's URLSearchParams writes them (space as '+', every byte
other than letters, digits and * - . _ as %XX of its UTF-8). <folder> is where nbgitpuller clones:
the last part of the repository URL as written (nbgitpuller's server keeps a trailing '.git' in
the folder name, so the URL is used as given, without a trailing slash).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from autograder.students.notebook_table import release_notebooks
from autograder.students.links import ROOT

_FORM_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-._")


def form_encode(value: str) -> str:
    """application/x-www-form-urlencoded, byte for byte as URLSearchParams serialises a value."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in _FORM_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def check_hub_url(hub: str) -> str:
    """The hub's base URL with one trailing slash; ValueError with the reason when it is not one."""
    parts = urlsplit(hub.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--hub must be the hub's address with http:// or https://, "
                         f"such as https://hub.example.edu, not {hub!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"--hub must be the hub's base address, without ?query or #fragment: "
                         f"{hub!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"


def check_repo_url(repo: str) -> str:
    """The repository URL without trailing slashes; ValueError when empty or nameless."""
    repo = repo.strip().rstrip("/")
    if not repo or not clone_folder(repo):
        raise ValueError("--repo must be the students' repository URL (what `git clone` takes), "
                         f"such as https://github.com/org/gradients-students, not {repo!r}")
    return repo


def clone_folder(repo: str) -> str:
    """The folder nbgitpuller clones `repo` into, relative to the student's notebook root."""
    return repo.rstrip("/").split("/")[-1]


@dataclass(frozen=True)
class PullLink:
    notebook: str   # path inside the students' repository, e.g. 01_gradients/01_gradients.ipynb
    url: str


def pull_link(hub: str, repo: str, notebook: str, branch: str | None = None) -> str:
    """The nbgitpuller link that opens `notebook` (a path inside the repository) in JupyterLab."""
    hub, repo = check_hub_url(hub), check_repo_url(repo)
    params = [("repo", repo), ("urlpath", f"lab/tree/{clone_folder(repo)}/{notebook}")]
    if branch:
        params.append(("branch", branch))
    query = "&".join(f"{key}={form_encode(value)}" for key, value in params)
    return f"{hub}hub/user-redirect/git-pull?{query}"


def links(hub: str, repo: str, branch: str | None = None, root: Path = ROOT) -> list[PullLink]:
    """One link per release notebook, in course order (the students' repository holds release/'s
    NN_name/NN_name.ipynb at its top level)."""
    found = []
    for notebook in release_notebooks(root):
        inside = f"{notebook.parent.name}/{notebook.name}"
        found.append(PullLink(inside, pull_link(hub, repo, inside, branch)))
    return found
