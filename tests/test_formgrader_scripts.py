"""A student's script achieves nothing in the instructor's browser: formgrader in Chromium.

Two students hand in the same correct notebook with four cells aimed at the instructor
(tests/adversarial/cases.py `browser_attack_cells`): an HTML output with <script>, an
application/javascript output, an <img onerror=...> and a markdown cell with raw <script>. Each
script, if it runs in a page of the instructor's Jupyter server, deletes a sentinel file through
the server's contents API (with the page's XSRF cookie) and marks the page's title.

Each also hands in, beside the notebook, a page.html and a picture.svg whose scripts do the same
if the instructor opens them: formgrader serves a submission's autograded folder on the server's
origin (/formgrader/submissions/<id>/page.html).

`sanitized` is graded by plain `nbgrader autograde` with the course's nbgrader_config.py; `control`
by the same command without the one sanitizing step (SanitizeStudentHTML), to show that each of
the four scripts does run in formgrader when nothing stops it: the test can fail. Both submission
views are opened in formgrader, as an instructor grading by hand would.
"""
import time

import nbformat
import pytest

from adversarial.cases import BROWSER_WAYS, browser_script, with_browser_attack
from autograder.grading.gradebook import gradebook_url
from autograder.nbgrader_cli import nbgrader_checked
from autograder.notebooks import read
from browser.lab import CHROMIUM, JupyterLab, ensure_chromium
from conftest import copy_course

ASSIGNMENT = "01_gradients"
SANITIZER = "autograder.safety.sanitize.SanitizeStudentHTML"
STUDENTS = ("sanitized", "control")
HANDED_IN = {  # file handed in beside the notebook -> its text, given the student
    "page.html": lambda who: f"<html><body><script>{browser_script(who, 'page')}</script></body></html>",
    "picture.svg": lambda who: ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                f"<script>{browser_script(who, 'svg')}</script></svg>"),
}
PAGE_WAYS = {"page.html": "page", "picture.svg": "svg"}


def _autograde_preprocessors(course) -> list[str]:
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    return list(config.Autograde.autograde_preprocessors)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("formgrader-scripts"))
    nbgrader_checked("generate_assignment", ASSIGNMENT, "--force", course=course)
    release = read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    source = read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (course / "sentinels").mkdir()
    for student in STUDENTS:
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(with_browser_attack(student)(release, source),
                       str(folder / f"{ASSIGNMENT}.ipynb"))
        for name, text in HANDED_IN.items():
            (folder / name).write_text(text(student))
        for way in (*BROWSER_WAYS, *PAGE_WAYS.values()):
            (course / "sentinels" / f"{student}-{way}.txt").write_text("still here")
    nbgrader_checked("autograde", ASSIGNMENT, "--student=sanitized", course=course)
    steps = _autograde_preprocessors(course)
    assert SANITIZER in steps
    nbgrader_checked("autograde", ASSIGNMENT, "--student=control", course=course,
                     *[f"--Autograde.autograde_preprocessors={s}" for s in steps if s != SANITIZER])
    return course


def _submission_ids(course) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(gradebook_url(course)) as gb:
        return {s: gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, s).id for s in STUDENTS}


@pytest.fixture(scope="module")
def views(course, tmp_path_factory):
    """Each student's submission view in formgrader, opened in Chromium: its title, the requests
    its page made to the contents API, and how many plots it shows."""
    from playwright.sync_api import sync_playwright
    ensure_chromium()
    ids = _submission_ids(course)
    seen = {}
    with JupyterLab(course, tmp_path_factory.mktemp("formgrader-server")) as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_context().new_page()
            base = f"http://127.0.0.1:{server.port}"
            page.goto(f"{base}/formgrader?token={server.token}")  # logs in: a session cookie
            page.wait_for_selector("text=Manage Assignments", timeout=60_000)
            for student in STUDENTS:
                requests = []
                listener = lambda request: requests.append(f"{request.method} {request.url}")
                page.on("request", listener)
                page.goto(f"{base}/formgrader/submissions/{ids[student]}/")
                page.wait_for_load_state("networkidle", timeout=60_000)
                time.sleep(2)  # any script's fetch has long been sent and answered
                seen[student] = {
                    "title": page.title(),
                    "api": [r for r in requests if "/api/contents/sentinels" in r],
                    "plots": page.locator("img[src^='data:image/png']").count(),
                    "text": page.inner_text("body"),
                }
                page.remove_listener("request", listener)
                for name in HANDED_IN:  # opened by hand, from the URL formgrader serves it at
                    requests = []
                    page.on("request", listener)
                    response = page.goto(f"{base}/formgrader/submissions/{ids[student]}/{name}")
                    page.wait_for_load_state("networkidle", timeout=60_000)
                    time.sleep(2)
                    seen[student][name] = {
                        "status": response.status if response else None,
                        "api": [r for r in requests if "/api/contents/sentinels" in r]}
                    page.remove_listener("request", listener)
        finally:
            browser.close()
    return seen


def test_without_the_sanitizer_every_script_runs_in_formgrader(course, views):
    """The control: what the attack achieves on stock nbgrader's autograded notebook."""
    control = views["control"]
    for way in BROWSER_WAYS:
        assert f"control-{way}-RAN" in control["title"], (way, control["title"])
        assert not (course / "sentinels" / f"control-{way}.txt").exists(), way
    assert len(control["api"]) == len(BROWSER_WAYS)


def test_with_the_courses_config_no_script_achieves_anything(course, views):
    sanitized = views["sanitized"]
    assert "RAN" not in sanitized["title"], sanitized["title"]
    assert sanitized["api"] == []
    for way in BROWSER_WAYS:
        assert (course / "sentinels" / f"sanitized-{way}.txt").read_text() == "still here"


def test_the_instructor_still_sees_the_plots_and_what_was_attempted(views):
    sanitized, control = views["sanitized"], views["control"]
    assert sanitized["plots"] == control["plots"] > 0
    # the escaped HTML and the markdown shown as text: the attempt is visible, not run
    assert "<script>" in sanitized["text"] and "sanitized-html-RAN" in sanitized["text"]
    assert "could run code in the instructor's browser" in sanitized["text"]


def test_a_page_handed_in_beside_the_notebook_runs_nothing_from_formgrader(course, views):
    """Stock nbgrader serves it on the instructor's origin and its script runs; with the course's
    config it is not in autograded/ (it stays in submitted/ for a person), so formgrader has
    nothing to serve."""
    for name, way in PAGE_WAYS.items():
        control, sanitized = views["control"][name], views["sanitized"][name]
        assert control["status"] == 200 and len(control["api"]) == 1, (name, control)
        assert not (course / "sentinels" / f"control-{way}.txt").exists(), name
        assert sanitized["status"] == 404 and sanitized["api"] == [], (name, sanitized)
        assert (course / "sentinels" / f"sanitized-{way}.txt").read_text() == "still here"
        assert (course / "submitted" / "sanitized" / ASSIGNMENT / name).is_file()
