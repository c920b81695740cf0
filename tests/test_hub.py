"""The course on a real JupyterHub, end to end (issue: a hub in a test, with nbgitpuller links).

A local JupyterHub (DummyAuthenticator with a password, the local process spawner,
configurable-http-proxy from npm) serves an instructor and two students who are real Unix users
created for this run. Through the hub's REST API and the single-user servers' nbgrader endpoints
(the ones JupyterLab's Assignments tab and formgrader call): the instructor generates and releases
01_gradients; both students fetch it, one writes the solution, the other submits it blank; the
instructor collects, autogrades through the course's sandboxed grader (a hub-managed service,
autograder/hub/grader.py: the sandbox needs root), generates and releases feedback; the students
fetch it. Then: the grades, who can read what (attempts made with each student's own uid),
formgrader in headless Chromium inside the instructor's JupyterLab, and an nbgitpuller link from
`python -m autograder links` followed by a student.

Needs root (Unix users, the sandbox) and installs configurable-http-proxy (tests/hub/install-hub.sh)
and Chromium (tests/browser/install-browser.sh) when missing. Screenshots, timings and the hub's
log go to tests/hub/screenshots/ (git-ignored).
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.hub import links as hub_links

from autograder.students import repo as student_repo
from autograder.authoring.classroom import solve_cells
from autograder.notebooks import read
from browser.lab import CHROMIUM, ensure_chromium
from conftest import ROOT
from hub.hub import LocalHub, LocalUsers, free_port, install_proxy, users_python

ASSIGNMENT = "01_gradients"
COURSE_ID = "gradients"
PASSWORD = "hub-test-password"
HUB_DIR = ROOT / "tests" / "hub"
# written at every run into screenshots/ (git-ignored); tests/hub/formgrader.png is one of them,
# looked at and kept in the repository
SCREENSHOT = HUB_DIR / "screenshots" / "formgrader.png"
TIMINGS = {}

HUB_CONFIG = """\
c = get_config()  # noqa
import os
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{state}/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = ["{chp}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allowed_users = {users!r}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = ["{python}", "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 90
c.Spawner.start_timeout = 120
c.Spawner.environment = {user_env!r}
c.JupyterHub.load_groups = {{"instructors": {{"users": ["{teacher}"]}}}}
c.JupyterHub.services = [
    {{"name": "test-driver", "api_token": os.environ["TEST_HUB_ADMIN_TOKEN"]}},
    {{"name": "course-grader", "url": "http://127.0.0.1:{grader_port}",
      "command": ["{root_python}", "-m", "autograder.hub.grader"],
      "environment": {grader_env!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "admin", "services": ["test-driver"]}},
    {{"name": "grader-users", "groups": ["instructors"],
      "scopes": ["access:services!service=course-grader"]}},
]
"""

STUDENT_SERVER_CONFIG = {  # students keep the Assignments list and Validate, nothing else
    "ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.course_list": False}}}
STUDENT_LAB_CONFIG = {"disabledExtensions": {
    "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True,
    "@jupyter/nbgrader:course-list": True}}
# formgrader is shown in an iframe of JupyterLab: JupyterHub >= 4.1 forbids any framing
# (frame-ancestors 'none'), so the instructor's server allows its own origin again.
INSTRUCTOR_SERVER_CONFIG = """\
c = get_config()  # noqa
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
"""


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def hub(request):
    """The hub with its three users' servers running; yields a namespace of handles."""
    if os.geteuid() != 0:
        pytest.fail("the hub test creates Unix users and grades in the sandbox: run it as root")
    (HUB_DIR / "screenshots").mkdir(exist_ok=True)
    chp = install_proxy()
    ensure_chromium()
    subprocess.run(["make", "-s", "sandbox"], cwd=ROOT, check=True, capture_output=True)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="gradients-hub-"))
    scratch.chmod(0o755)  # users must reach their homes and the exchange inside
    LocalUsers.remove_stale()
    users = LocalUsers(scratch / "home", ["teacher", "alice", "bob"])
    hub = None
    try:
        users.create()
        python, extra_env = users_python(scratch)
        exchange = scratch / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)  # nbgrader's documented set-up: world-writable, it manages the rest
        etc = scratch / "etc-jupyter"  # every user's nbgrader: the shared exchange
        etc.mkdir()
        (etc / "nbgrader_config.py").write_text(
            f"c = get_config()  # noqa\nc.Exchange.root = {str(exchange)!r}\n"
            'c.ExchangeFactory.submit = "autograder.hub.exchange.PrivateSubmit"\n')
        etc.chmod(0o755)

        teacher_home = users.home("teacher")
        course = teacher_home / COURSE_ID
        (course / "source").mkdir(parents=True)
        shutil.copytree(ROOT / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        (teacher_home / ".jupyter").mkdir()
        (teacher_home / ".jupyter" / "nbgrader_config.py").write_text(
            f"c = get_config()  # noqa\nc.CourseDirectory.root = {str(course)!r}\n")
        (teacher_home / ".jupyter" / "jupyter_server_config.py").write_text(
            INSTRUCTOR_SERVER_CONFIG)
        for role in users.names:  # no news pop-up over the screenshots
            _write_json(users.home(role) / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
                        / "apputils-extension" / "notification.jupyterlab-settings",
                        {"fetchNews": "false", "checkForUpdates": False})
        users.chown("teacher", teacher_home)
        for role in ("alice", "bob"):
            jupyter = users.home(role) / ".jupyter"
            _write_json(jupyter / "jupyter_server_config.json", STUDENT_SERVER_CONFIG)
            _write_json(jupyter / "labconfig" / "page_config.json", STUDENT_LAB_CONFIG)
            users.chown(role, jupyter)

        bin_dir = str(python.parent)
        # the students' repository of this test is a local folder owned by root: git refuses
        # another user's repository unless it is named safe, in protected (system or global)
        # configuration (a real hub clones over https)
        git_config = etc / "gitconfig"
        git_config.write_text(f"[safe]\n\tdirectory = {scratch / 'student-repo' / '.git'}\n")
        git_config.chmod(0o644)
        user_env = {"JUPYTER_CONFIG_PATH": str(etc), "PATH": f"{bin_dir}:/usr/bin:/bin",
                    "GIT_CONFIG_SYSTEM": str(git_config),
                    "COURSE_EXCHANGE": str(exchange), "MPLBACKEND": "Agg", **extra_env}
        # the grader service runs as root (the hub's user), so the course's own .venv
        grader_env = {"COURSE_GRADER_COURSES": f"{users.names['teacher']}={course}",
                      "PATH": f"{Path(sys.executable).parent}:/usr/bin:/usr/sbin:/bin:/sbin"}
        port = free_port()
        state = scratch / "hub-state"
        config = HUB_CONFIG.format(
            port=port, hub_port=free_port(), state=state, chp=chp,
            proxy_api_port=free_port(), proxy_token=os.urandom(16).hex(), password=PASSWORD,
            users=set(users.names.values()), python=python, user_env=user_env,
            root_python=sys.executable,
            teacher=users.names["teacher"], grader_port=free_port(), grader_env=grader_env)
        hub = LocalHub(scratch, port, config).start(Path(sys.executable), {})
        tokens = {role: hub.user_token(name) for role, name in users.names.items()}
        t0 = time.monotonic()
        for name in users.names.values():
            hub.start_server(name)
        TIMINGS["three servers started"] = time.monotonic() - t0
        yield type("Hub", (), dict(hub=hub, users=users, tokens=tokens, course=course,
                                   exchange=exchange, scratch=scratch, started=started))
    finally:
        if hub is not None:
            hub.stop()
            shutil.copy(hub.log_path, HUB_DIR / "screenshots" / "jupyterhub.log")
        users.remove()
        shutil.rmtree(scratch, ignore_errors=True)
        TIMINGS["whole module"] = time.monotonic() - started
        _write_timings()


def _write_timings():
    out = HUB_DIR / "screenshots"
    out.mkdir(exist_ok=True)
    (out / "timings.md").write_text("| step | seconds |\n|---|---|\n" + "".join(
        f"| {step} | {seconds:.1f} |\n" for step, seconds in TIMINGS.items()))


def _server(h, role: str, method: str, path: str, **kw):
    """A request to the user's own single-user server, with the user's own token."""
    return h.hub.request(method, f"/user/{h.users.names[role]}/{path}", h.tokens[role], **kw)


def _nbgrader_student(h, role: str, action: str):
    return _server(h, role, "POST", f"assignments/{action}",
                   form={"assignment_id": ASSIGNMENT, "course_id": COURSE_ID})


def _ok(result) -> None:
    """An nbgrader API answer that says success, else its whole log as the failure."""
    if not result.get("success"):
        raise AssertionError(f"nbgrader failed:\n{result.get('error') or result}")


def _formgrader(h, method: str, path: str, **kw):
    return _server(h, "teacher", method, f"formgrader/api/{path}", **kw)


@pytest.fixture(scope="module")
def round_trip(hub):
    """release -> fetch -> submit -> collect -> autograde -> feedback -> fetch feedback."""
    h, started = hub, time.monotonic()
    result = _formgrader(h, "POST", f"assignment/{ASSIGNMENT}/assign")
    _ok(result)
    result = _formgrader(h, "POST", f"assignment/{ASSIGNMENT}/release")
    _ok(result)

    source = read(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    for role in ("alice", "bob"):
        listed = _server(h, role, "GET", f"assignments?course_id={COURSE_ID}")
        assert any(a["assignment_id"] == ASSIGNMENT and a["status"] == "released"
                   for a in listed["value"]), listed
        _nbgrader_student(h, role, "fetch")
        path = f"api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        fetched = _server(h, role, "GET", f"{path}?content=1")
        nb = nbformat.from_dict(fetched["content"])
        if role == "alice":  # the solution, written through the contents API as JupyterLab saves
            nb = solve_cells(nb, source)
            _server(h, role, "PUT", path, body={"type": "notebook", "format": "json",
                                                "content": nb})
        result = _nbgrader_student(h, role, "submit")
        assert isinstance(result, dict) and result.get("success", True) is not False, result

    result = _formgrader(h, "POST", f"assignment/{ASSIGNMENT}/collect")
    _ok(result)
    t0 = time.monotonic()
    graded = h.hub.request("POST", f"/services/course-grader/autograde/{ASSIGNMENT}",
                           h.tokens["teacher"], body={})
    TIMINGS["autograde (2 submissions, sandboxed)"] = time.monotonic() - t0
    assert graded["returncode"] == 0, graded["output"]
    result = _formgrader(h, "POST", f"assignment/{ASSIGNMENT}/generate_feedback")
    _ok(result)
    result = _formgrader(h, "POST", f"assignment/{ASSIGNMENT}/release_feedback")
    _ok(result)
    for role in ("alice", "bob"):
        _nbgrader_student(h, role, "fetch_feedback")
    TIMINGS["round trip release -> feedback fetched"] = time.monotonic() - started
    submissions = {s["student"]: s for s in _formgrader(h, "GET", f"submissions/{ASSIGNMENT}")}
    return {"submissions": submissions, "grader_output": graded["output"]}


def test_grades_through_the_hub(hub, round_trip):
    alice, bob = (round_trip["submissions"][hub.users.names[r]] for r in ("alice", "bob"))
    assert alice["max_score"] > 0
    assert alice["score"] == alice["max_score"], round_trip["grader_output"]
    assert bob["score"] == 0, round_trip["grader_output"]
    assert alice["autograded"] and bob["autograded"]
    assert "graded WITHOUT a sandbox" not in round_trip["grader_output"]


def _feedback_files(hub, role):
    folder = hub.users.home(role) / ASSIGNMENT / "feedback"
    return sorted(folder.rglob(f"{ASSIGNMENT}.html"))


def test_each_student_gets_and_alone_can_read_their_feedback(hub, round_trip):
    max_score = round_trip["submissions"][hub.users.names["alice"]]["max_score"]
    scores = {"alice": max_score, "bob": 0}
    for role, other in (("alice", "bob"), ("bob", "alice")):
        files = _feedback_files(hub, role)
        assert len(files) == 1, files
        mine = hub.users.run_as(role, "cat", str(files[0]))
        assert mine.returncode == 0, mine.stderr
        # nbgrader's feedback heading, with the student's own score
        assert f"{ASSIGNMENT} (Score: {float(scores[role])} / {float(max_score)})" in mine.stdout
        theirs = hub.users.run_as(other, "cat", str(files[0]))
        assert theirs.returncode != 0 and "Permission denied" in theirs.stderr
    # the exchange's feedback folder cannot be listed: a student finds only their own file
    listing = hub.users.run_as("bob", "ls", str(hub.exchange / COURSE_ID / "feedback"))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


def test_students_cannot_read_each_other_or_the_instructor(hub, round_trip):
    inbound = hub.exchange / COURSE_ID / "inbound"
    alices = [p for p in inbound.iterdir() if p.name.startswith(hub.users.names["alice"] + "+")]
    assert alices, list(inbound.iterdir())
    submission = alices[0] / f"{ASSIGNMENT}.ipynb"
    attempts = {
        "list the inbound submissions": ("ls", str(inbound)),
        "read alice's submission": ("cat", str(submission)),
        "read the instructor's source notebook": (
            "cat", str(hub.course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")),
        "read the gradebook": ("cat", str(hub.course / "gradebook.db")),
        "list alice's home": ("ls", str(hub.users.home("alice"))),
    }
    for what, command in attempts.items():
        attempt = hub.users.run_as("bob", *command)
        assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, \
            f"bob could {what}: {attempt.stdout[:300]}"
    # ... while the author still reads it, and the folder belongs to the instructor's group
    assert hub.users.run_as("alice", "cat", str(submission)).returncode == 0
    assert submission.stat().st_mode & 0o777 == 0o640
    assert submission.stat().st_gid == pwd.getpwnam(hub.users.names["teacher"]).pw_gid
    # a student cannot use the grader service (it runs as root)
    status, _, _ = hub.hub.request("POST", f"/services/course-grader/autograde/{ASSIGNMENT}",
                                   hub.tokens["bob"], body={}, raw=True)
    assert status == 403
    # the students' servers have no formgrader (404), the instructor's has
    status, _, _ = _server(hub, "bob", "GET", "formgrader/api/status", raw=True)
    assert status == 404
    assert _formgrader(hub, "GET", "status")["status"] is True


def test_formgrader_shows_the_submissions_in_the_instructors_jupyterlab(hub, round_trip):
    from playwright.sync_api import sync_playwright
    teacher = hub.users.names["teacher"]
    status, headers, _ = _server(hub, "teacher", "GET", "formgrader", raw=True)
    assert status == 200 and headers.get("Content-Security-Policy") == "frame-ancestors 'self'"
    _, student_headers, _ = _server(hub, "bob", "GET", "lab", raw=True)
    assert "frame-ancestors 'none'" in student_headers.get("Content-Security-Policy", "")
    t0 = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = _login(browser, hub, "teacher")
            page.goto(f"{hub.hub.base}/user/{teacher}/lab?reset")
            page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
            page.get_by_text("Nbgrader", exact=True).click()
            page.get_by_text("Formgrader", exact=True).click()
            frame_element = page.wait_for_selector("iframe[src*='formgrader']", timeout=30_000)
            frame = frame_element.content_frame()
            frame.wait_for_selector("text=01_gradients", timeout=30_000)
            frame.goto(f"{hub.hub.base}/user/{teacher}/formgrader/manage_submissions/{ASSIGNMENT}")
            for role in ("alice", "bob"):
                frame.wait_for_selector(f"text={hub.users.names[role]}", timeout=30_000)
            text = frame.inner_text("body")
            frame.locator("table").first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    TIMINGS["formgrader in Chromium"] = time.monotonic() - t0
    # both submissions listed, graded, with the scores the gradebook holds
    max_score = round_trip["submissions"][hub.users.names["alice"]]["max_score"]
    assert text.lower().count("graded") >= 2, text[:2000]
    assert f"{max_score:g} / {max_score:g}" in text and f"0 / {max_score:g}" in text, text[:2000]


def _login(browser, hub, role: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(f"{hub.hub.base}/hub/login")
    page.fill("input[name=username]", hub.users.names[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/user/**", timeout=60_000)
    return page


def test_a_student_follows_an_nbgitpuller_link_and_the_notebook_opens(hub):
    from playwright.sync_api import sync_playwright
    repo = student_repo.build(hub.scratch / "student-repo")
    subprocess.run(["chmod", "-R", "a+rX", str(repo)], check=True)
    links = {l.notebook: l.url for l in hub_links.links(hub.hub.base, str(repo))}
    notebook = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    t0 = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = _login(browser, hub, "alice")
            page.goto(links[notebook])
            page.wait_for_url(f"**/lab/tree/{repo.name}/{notebook}*", timeout=90_000)
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            page.screenshot(path=str(HUB_DIR / "screenshots" / "nbgitpuller.png"))
            # the notebook is the open, current document in the main area
            page.wait_for_selector("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current"
                                   f":has-text('{ASSIGNMENT}.ipynb')", timeout=30_000)
            title = page.locator(".jp-NotebookPanel .jp-MarkdownOutput h1").first.inner_text()
            assert title.startswith("01 · Gradients"), title
        finally:
            browser.close()
    TIMINGS["nbgitpuller link to open notebook"] = time.monotonic() - t0
    cloned = hub.users.home("alice") / repo.name / notebook
    assert cloned.is_file()
    assert read(cloned).cells[0].source == read(repo / notebook).cells[0].source
