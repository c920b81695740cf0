"""The students' repository (`make student-repo`): what students and Binder get, and nothing more.

It is built into a scratch folder, then: its files are only the release notebooks, the public
`course` package with its data, and the Binder/laptop set-up; no line of a solution or hidden test
of source/ is anywhere in it; repo2docker's own detection plans a cache-friendly build (the
environment before the repository is copied, postBuild after); and in an environment built the way
Binder builds it (its environment.yml, then its postBuild), every notebook runs from the installed
package, with NotImplementedError only in the exercises.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.students.notebook_table import release_notebooks
from autograder.notebooks import grade_id, is_solution, is_test, source_notebook_path
from autograder.students.links import StudentRepository, student_repository
from autograder.students.repo import MARKER, build
from conftest import ASSIGNMENTS, ROOT, errors
from student_env import environment_with, student_environment

SET_UP_FILES = {".git", ".gitignore", MARKER, "README.md", "course", "environment.yml",
                "postBuild", "pyproject.toml"}
BEGIN = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")
END = ("### END SOLUTION", "### END HIDDEN TESTS")


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory):
    return build(tmp_path_factory.mktemp("students") / "repo")


def _files(repo):
    return [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts]


def secret_lines() -> dict[str, str]:
    """Every line inside a solution or hidden-test region of source/, mapped to where it is;
    lines a release notebook also shows (e.g. `return x`) and blank lines are public anyway."""
    public = {line.strip() for path in release_notebooks()
              for cell in nbformat.read(str(path), as_version=4).cells
              for line in cell.source.splitlines()}
    secrets = {}
    for assignment in ASSIGNMENTS:
        for cell in nbformat.read(str(source_notebook_path(assignment)), as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                text = line.strip()
                if text in BEGIN or text in END:
                    inside = text in BEGIN
                elif inside and text and text not in public:
                    secrets.setdefault(text, f"{assignment}:{grade_id(cell)}")
    return secrets


def test_it_holds_the_release_notebooks_course_and_set_up_files_only(student_repo):
    top = {p.name for p in student_repo.iterdir()}
    assert top == SET_UP_FILES | set(ASSIGNMENTS), top ^ (SET_UP_FILES | set(ASSIGNMENTS))
    for assignment in ASSIGNMENTS:
        ours = sorted(p.name for p in (student_repo / assignment).iterdir())
        assert ours == sorted(p.name for p in (ROOT / "release" / assignment).iterdir()
                              if p.name != ".ipynb_checkpoints")
        name = f"{assignment}.ipynb"
        assert (student_repo / assignment / name).read_bytes() == \
            (ROOT / "release" / assignment / name).read_bytes()
    course = sorted(str(p.relative_to(student_repo)) for p in (student_repo / "course").rglob("*")
                    if p.is_file())
    assert course == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "course").rglob("*")
                            if p.is_file() and "__pycache__" not in p.parts)


def test_no_line_of_a_solution_or_hidden_test_is_in_it(student_repo):
    """Greps every file for every solution and hidden-test line of source/. The public `course`
    package is shipped as it is: a line it shares with a solution (a numpy idiom, say) is listed
    apart, and must be a line of course/ in this repository, never new text."""
    secrets = secret_lines()
    assert len(secrets) > 50 * len(ASSIGNMENTS) // 2, "too few secret lines found: markers changed?"
    course_lines = {line.strip() for p in (ROOT / "course").rglob("*.py")
                    for line in p.read_text().splitlines()}
    leaks = []
    for path in _files(student_repo):
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in BEGIN + END:
            assert marker not in text, f"{path.relative_to(student_repo)} contains {marker}"
        for number, line in enumerate(text.splitlines(), 1):
            where = secrets.get(line.strip())
            if where and line.strip() not in course_lines:
                leaks.append(f"{path.relative_to(student_repo)}:{number} ({where}): {line.strip()}")
    assert not leaks, "solution or hidden-test lines in the students' repository:\n" + "\n".join(leaks)


def test_it_is_a_committed_git_repository_and_rebuilding_commits_only_the_difference(student_repo):
    git = lambda *a: subprocess.run(["git", *a], cwd=student_repo, check=True, capture_output=True,
                                    text=True).stdout
    assert git("status", "--porcelain") == ""
    links = student_repository()
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == links.branch
    commits = git("rev-list", "--count", "HEAD").strip()
    build(student_repo)  # nothing changed: no new commit
    assert git("rev-list", "--count", "HEAD").strip() == commits
    assert git("status", "--porcelain") == ""


def test_it_refuses_to_overwrite_a_folder_it_did_not_make(tmp_path):
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="refusing"):
        build(foreign)
    assert (foreign / "chapter1.tex").read_text() == "precious"
    with pytest.raises(ValueError, match="course repository itself"):
        build(ROOT)


def test_readme_has_a_binder_badge_and_a_link_per_notebook_from_the_setting(student_repo):
    readme = (student_repo / "README.md").read_text()
    links = student_repository()
    assert f"[![Binder](https://mybinder.org/badge_logo.svg)]({links.binder_url()})" in readme
    for assignment in ASSIGNMENTS:
        path = f"{assignment}/{assignment}.ipynb"
        assert f"]({path})" in readme
        assert f"[launch]({links.binder_url(path)})" in readme
        assert links.binder_url(path).endswith(f"?urlpath=lab/tree/{path}")
    for target in re.findall(r"\]\(([^)]+)\)", readme):
        if not target.startswith("http"):
            assert (student_repo / target).exists(), f"README links to a missing {target}"
    assert f"git clone {links.clone_url}" in readme


def test_the_setting_is_organisation_repository_branch():
    links = StudentRepository.parse("some-org/some-repo/dev")
    assert links.binder_url("01_x/01_x.ipynb") == \
        "https://mybinder.org/v2/gh/some-org/some-repo/dev?urlpath=lab/tree/01_x/01_x.ipynb"
    assert links.url == "https://github.com/some-org/some-repo"
    for bad in ("some-org/some-repo", "a/b/c/d", "a//c", ""):
        with pytest.raises(ValueError, match="organisation/repository/branch"):
            StudentRepository.parse(bad)


def test_environment_is_the_courses_without_a_local_install_and_postbuild_stops_on_error(student_repo):
    from test_environment import pinned_set, pins
    ours = (student_repo / "environment.yml").read_text()
    assert not re.search(r"^\s*-\s+(-e\s|\.|file:)", ours, re.M), "a local pip requirement is left"
    assert pins(ours.splitlines()) == pins((ROOT / "environment.yml").read_text().splitlines())
    # the students' set: no grader, test or hub package travels to Binder
    assert pins(ours.splitlines()) == pinned_set("student")
    tools = {"jupyterhub", "playwright", "pytest", "jupyter-repo2docker", "tqdm"}
    assert not tools & set(pins(ours.splitlines()))
    post_build = (student_repo / "postBuild").read_text()
    assert post_build.startswith("#!/bin/bash\n")
    assert re.search(r"^set -e", post_build, re.M)
    subprocess.run(["bash", "-n", str(student_repo / "postBuild")], check=True)


def test_repo2docker_plans_the_environment_before_the_repository_and_postbuild_after(student_repo):
    """jupyter-repo2docker's own detection (--no-build prints the Dockerfile it would use; no
    container engine is needed): the conda build pack, environment.yml copied and built *before*
    the whole repository is copied (so a notebook change reuses the cached environment), and
    postBuild run after the copy."""
    result = subprocess.run([sys.executable, "-m", "repo2docker", "--no-build", "--no-run",
                             str(student_repo)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dockerfile = result.stdout.splitlines()
    assert "Building conda environment" in result.stderr
    where = lambda pattern: next(i for i, line in enumerate(dockerfile) if re.search(pattern, line))
    copy_env = where(r"^COPY .*src/environment\.yml ")
    build_env = where(r"env update .*--file \"?environment\.yml")
    copy_repo = where(r"^COPY .*src/ \$\{REPO_DIR\}/$")
    post_build = where(r"^RUN \./postBuild$")
    assert copy_env < build_env < copy_repo < post_build, (copy_env, build_env, copy_repo, post_build)


@pytest.fixture(scope="module")
def student_env(student_repo, tmp_path_factory):
    """An environment built like Binder's: the students' environment.yml, then their postBuild."""
    bin_dir = student_environment(student_repo / "environment.yml",
                                  tmp_path_factory.mktemp("logs") / "student-env.log")
    env = environment_with(bin_dir)
    result = subprocess.run(["bash", "postBuild"], cwd=student_repo, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"postBuild failed:\n{result.stdout}\n{result.stderr}"
    return bin_dir, env


def test_postbuild_installs_course_with_its_data_and_turns_instructor_tools_off(student_env,
                                                                                 student_repo,
                                                                                 tmp_path):
    bin_dir, env = student_env
    where = subprocess.run([str(bin_dir / "python"), "-c", "import course; print(course.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    installed = where.stdout.strip()
    assert installed.startswith(str(bin_dir.parent)), f"course imported from {installed}"
    shipped = {p.relative_to(student_repo / "course") for p in (student_repo / "course").rglob("*")
               if p.is_file() and p.suffix != ".pyc"}
    installed_dir = Path(installed).parent
    got = {p.relative_to(installed_dir) for p in installed_dir.rglob("*")
           if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= got, f"not installed: {sorted(map(str, shipped - got))}"

    labext = subprocess.run([str(bin_dir / "jupyter"), "labextension", "list"], env=env,
                            capture_output=True, text=True, check=True)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", labext.stdout + labext.stderr)
    for plugin in ("formgrader", "create-assignment", "course-list"):
        assert re.search(rf"@jupyter/nbgrader:{plugin}\b", listing.split("Disabled extensions:")[-1]), \
            f"@jupyter/nbgrader:{plugin} is not disabled:\n{listing}"
    for plugin in ("assignment-list", "validate-assignment"):
        assert f"@jupyter/nbgrader:{plugin}" not in listing.split("Disabled extensions:")[-1]
    server = subprocess.run([str(bin_dir / "jupyter"), "server", "extension", "list"], env=env,
                            capture_output=True, text=True, check=True)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr).splitlines()
    state = {m[1]: m[2] for line in lines
             if (m := re.search(r"(nbgrader\.server_extensions\.\w+)\s+(enabled|disabled)", line))}
    assert state == {"nbgrader.server_extensions.formgrader": "disabled",
                     "nbgrader.server_extensions.course_list": "disabled",
                     "nbgrader.server_extensions.assignment_list": "enabled",
                     "nbgrader.server_extensions.validate_assignment": "enabled"}, state


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_runs_in_the_student_environment(student_env, student_repo, assignment, tmp_path):
    """Each notebook, run where students run it (its folder of the students' repository, the
    course package installed by postBuild): only the exercises raise."""
    bin_dir, env = student_env
    notebook = student_repo / assignment / f"{assignment}.ipynb"
    # nbclient as in autograder/kernels/wakeful.py (loaded from its file: the students' environment has
    # no autograder package), so a reply pyzmq fails to wake for costs 0.2 s, not the timeout
    runner = ("import importlib.util, sys, nbformat\n"
              "spec = importlib.util.spec_from_file_location('wakeful', sys.argv[4])\n"
              "wakeful = importlib.util.module_from_spec(spec)\n"
              "spec.loader.exec_module(wakeful)\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "wakeful.WakefulNotebookClient(nb, timeout=120, kernel_name='python3',\n"
              "    allow_errors=True, resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
              "nbformat.write(nb, sys.argv[3])\n")
    out = tmp_path / "executed.ipynb"
    subprocess.run([str(bin_dir / "python"), "-c", runner, str(notebook), str(notebook.parent),
                    str(out), str(ROOT / "autograder" / "kernels" / "wakeful.py")],
                   env=env, check=True, timeout=600, capture_output=True)
    nb = nbformat.read(str(out), as_version=4)
    for index, cell in enumerate(nb.cells):
        for error in errors(cell):
            where = grade_id(cell) or f"cell {index}"
            if is_solution(cell):
                assert error["ename"] == "NotImplementedError", (where, error["ename"])
            else:
                assert is_test(cell) and error["ename"] in ("NotImplementedError", "AssertionError"), \
                    f"{where} raised {error['ename']}: {error['evalue'][:300]}"


def test_students_jupyterlab_has_assignments_and_validate_but_no_instructor_tools(student_env,
                                                                                 student_repo,
                                                                                 tmp_path):
    """JupyterLab of the students' environment, in a real browser, on a copy of their repository:
    the Nbgrader menu offers the Assignment List only, the Create Assignment sidebar is gone, and
    Validate on a blank notebook lists the failing tests. The screenshot of the notebook as it
    opens is tests/browser/screenshots/student-lab.png (the README's picture, docs/student-lab.png,
    is a copy of it)."""
    from playwright.sync_api import sync_playwright

    from browser.lab import JupyterLab, ensure_chromium
    from browser.notebook import NotebookInLab

    chromium = ensure_chromium()
    bin_dir, _ = student_env
    root = tmp_path / "home"
    shutil.copytree(student_repo, root, ignore=shutil.ignore_patterns(".git"))
    first = ASSIGNMENTS[0]
    shots = ROOT / "tests" / "browser" / "screenshots"
    shots.mkdir(exist_ok=True)
    with JupyterLab(root, tmp_path / "lab", python=str(bin_dir / "python")) as lab, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        NotebookInLab(page, lab, f"{first}/{first}.ipynb").open()
        page.screenshot(path=str(shots / "student-lab.png"))
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        items = page.locator(".lm-Menu .lm-Menu-item:visible").all_inner_texts()
        page.keyboard.press("Escape")
        sidebars = page.evaluate("() => Array.from(document.querySelectorAll("
                                 "'.jp-SideBar .lm-TabBar-tab')).map(e => e.title)")
        assert [i.strip() for i in items if i.strip()] == ["Assignment List"], items
        assert not [t for t in sidebars if "Create Assignment" in t], sidebars
        page.locator(".validate-button").click()
        page.locator("#validation-message").wait_for(timeout=120_000)
        assert "validation-failed" in page.locator("#validation-message").get_attribute("class")
        browser.close()
