"""`python -m autograder links`: nbgitpuller links encoded as nbgitpuller's link generator does
(a browser's URLSearchParams: space as '+', UTF-8 bytes as %XX, only letters, digits and *-._ kept)."""
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest

from autograder.hub import links as hub_links
from autograder.students.notebook_table import release_notebooks
from conftest import ROOT


def test_a_plain_link_has_the_generators_order_and_encoding():
    url = hub_links.pull_link("https://hub.example.edu", "https://github.com/org/grad-students",
                              "01_gradients/01_gradients.ipynb", branch="main")
    assert url == ("https://hub.example.edu/hub/user-redirect/git-pull"
                   "?repo=https%3A%2F%2Fgithub.com%2Forg%2Fgrad-students"
                   "&urlpath=lab%2Ftree%2Fgrad-students%2F01_gradients%2F01_gradients.ipynb"
                   "&branch=main")


def test_spaces_korean_and_a_branch_with_a_slash():
    url = hub_links.pull_link("https://hub.example.edu/jhub/", "https://git.example.edu/k/기울기 실습",
                              "01 grad/노트.ipynb", branch="spring/2026")
    assert url == ("https://hub.example.edu/jhub/hub/user-redirect/git-pull"
                   "?repo=https%3A%2F%2Fgit.example.edu%2Fk%2F%EA%B8%B0%EC%9A%B8%EA%B8%B0+%EC%8B%A4%EC%8A%B5"
                   "&urlpath=lab%2Ftree%2F%EA%B8%B0%EC%9A%B8%EA%B8%B0+%EC%8B%A4%EC%8A%B5%2F01+grad%2F"
                   "%EB%85%B8%ED%8A%B8.ipynb"
                   "&branch=spring%2F2026")
    query = dict(parse_qsl(urlsplit(url).query))  # and it decodes back to what was given
    assert query == {"repo": "https://git.example.edu/k/기울기 실습", "branch": "spring/2026",
                     "urlpath": "lab/tree/기울기 실습/01 grad/노트.ipynb"}


@pytest.mark.parametrize("value, encoded", [
    ("a~b", "a%7Eb"), ("a*b-c.d_e", "a*b-c.d_e"), ("a+b", "a%2Bb"), ("a&b=c", "a%26b%3Dc"),
    ("100%", "100%25"), ("é", "%C3%A9")])
def test_form_encoding_keeps_only_what_urlsearchparams_keeps(value, encoded):
    assert hub_links.form_encode(value) == encoded


@pytest.mark.parametrize("repo, folder", [
    ("https://github.com/org/students", "students"),
    ("https://github.com/org/students/", "students"),
    ("https://github.com/org/students.git", "students.git"),  # nbgitpuller's server keeps .git
    ("/srv/git/students", "students"),
    ("file:///srv/git/students", "students")])
def test_the_folder_is_the_one_nbgitpuller_clones_into(repo, folder):
    url = hub_links.pull_link("http://127.0.0.1:8000", repo, "01_gradients/01_gradients.ipynb")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["urlpath"] == f"lab/tree/{folder}/01_gradients/01_gradients.ipynb"
    assert query["repo"] == repo.rstrip("/")
    assert "branch" not in query


def test_no_branch_means_no_branch_parameter():
    url = hub_links.pull_link("https://hub.example.edu", "https://github.com/org/s", "a/a.ipynb")
    assert "branch=" not in url


@pytest.mark.parametrize("hub", ["hub.example.edu", "ftp://hub.example.edu", "https://",
                                 "https://hub.example.edu/?next=x", ""])
def test_a_hub_without_scheme_or_host_is_refused(hub):
    with pytest.raises(ValueError, match="--hub"):
        hub_links.pull_link(hub, "https://github.com/org/s", "a/a.ipynb")


@pytest.mark.parametrize("repo", ["", "   ", "/"])
def test_an_empty_repository_is_refused(repo):
    with pytest.raises(ValueError, match="--repo"):
        hub_links.pull_link("https://hub.example.edu", repo, "a/a.ipynb")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", "links", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_command_prints_one_link_per_release_notebook():
    result = _cli("--hub", "https://hub.example.edu", "--repo", "https://github.com/org/s",
                  "--branch", "main")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    notebooks = [f"{p.parent.name}/{p.name}" for p in release_notebooks(ROOT)]
    assert [line.split("\t")[0] for line in lines] == notebooks
    for line, notebook in zip(lines, notebooks):
        query = dict(parse_qsl(urlsplit(line.split("\t")[1]).query))
        assert query == {"repo": "https://github.com/org/s", "branch": "main",
                         "urlpath": f"lab/tree/s/{notebook}"}


@pytest.mark.parametrize("args, message", [
    (("--hub", "hub.example.edu", "--repo", "https://github.com/org/s"), "--hub"),
    (("--hub", "https://hub.example.edu", "--repo", ""), "--repo")])
def test_the_command_explains_bad_input_and_exits_2(args, message):
    result = _cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
