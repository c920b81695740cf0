"""Shared fixtures: the course's notebooks, a scratch copy of the course, notebook execution."""
import os
import shutil
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from autograder.notebooks import assignments, source_notebook_path
from autograder.kernels.wakeful import WakefulNotebookClient

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = assignments()

os.environ.setdefault("MPLBACKEND", "Agg")


def execute(nb, cwd: Path, timeout: int = 120):
    """Run every cell of `nb` in a fresh python3 kernel, errors recorded in the outputs."""
    client = WakefulNotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                   resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def copy_course(target: Path) -> Path:
    """A scratch nbgrader course: source/, release/ and nbgrader_config.py copied to `target`
    (its gradebook and exchange live there too, since the config roots them at its own folder)."""
    for name in ("source", "release"):
        shutil.copytree(ROOT / name, target / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", target / "nbgrader_config.py")
    return target


# --- running on several cores (pytest-xdist, `--dist loadfile` in pyproject.toml) ----------------

SHARED_SCOPES = ("session", "package", "module", "class")


def xdist_group(item) -> str | None:
    """The group a test runs in, so that what its tests share is computed once: the module, for a
    test that uses a fixture wider than one test (the module's whole class graded once, ...);
    None (any worker, test by test) for a test that shares nothing. A test module can name finer
    groups itself with `pytest.mark.xdist_group` (e.g. one per assignment). The groups order the
    work (GROUP_SECONDS); the worker is chosen per module (`--dist loadfile`), because xdist 3.8's
    `--dist loadgroup` cannot rename test ids under pytest 9 and would split a group."""
    for name in item.fixturenames:
        definitions = item._fixtureinfo.name2fixturedefs.get(name)
        # pytest's and plugins' own fixtures (tmp_path_factory, ...) have no baseid: each
        # worker has its own, nothing to share.
        if definitions and definitions[-1].scope in SHARED_SCOPES and definitions[-1].baseid:
            return item.module.__name__
    return None


# About how many seconds each group takes in a serial run on the shared 2-core machine (set-up
# included; rounded, "~" where estimated). pytest-xdist hands groups out in collection order
# (--no-loadscope-reorder), each to the worker that is nearly done: the longest go first, the
# short ones and the ungrouped tests fill in after, so the two workers end close together. Only
# the order depends on these numbers, never what runs; a group not listed comes after them.
GROUP_SECONDS = {
    "test_end_to_end": 660,      # the demo (4 min), stock nbgrader autograde of every assignment
    "test_adversarial": 480,
    "test_browser": 450,
    "test_student_repo": 300,    # ~ builds the students' environment first
    "test_hub": 200,             # a local JupyterHub, its users and a browser, once
    "test_make_clean": 200,      # ~ `make demo` of one assignment on a course with real grades
    "test_term": 150,            # ~ one class graded three ways
    "test_grading": 140,
    "test_one_student": 100,     # ~
    "test_contracts": 60,        # ~
    "test_links": 60,            # ~
    "test_formgrader_scripts": 50,  # ~ grades twice, then formgrader in Chromium
    "mutation-04_window_ner": 80,
    "mutation-07_softmax_with_loss": 70,  # ~
    "mutation-08_training_tips": 70,      # ~
    "mutation-06_perceptron_xor": 60,     # ~
    "test_sandbox": 60,                   # ~
    "mutation-05_backprop_graphs": 50,    # ~
    "mutation-02_jacobians": 50,
    "mutation-01_gradients": 40,
    "mutation-03_chain_rule": 30,
}


def _group_name(item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return mark.args[0] if mark else None


def pytest_itemcollected(item):
    # marked as each test is collected: xdist reads the marks in its own collection_modifyitems
    if _group_name(item) is None and (group := xdist_group(item)):
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_modifyitems(config, items):
    # longest group first; the tests of a group stay together and in their order
    items.sort(key=lambda item: -GROUP_SECONDS.get(_group_name(item), 0))


@pytest.fixture(params=ASSIGNMENTS)
def assignment(request) -> str:
    return request.param


@pytest.fixture
def source_nb(assignment):
    return nbformat.read(str(source_notebook_path(assignment)), as_version=4)


def loopback_listener(reply: bytes = b""):
    """A TCP server on the host's 127.0.0.1 (a free port) that records every connection it accepts
    and sends each one `reply`; for proving a graded notebook cannot reach the host's network.
    Returns (listening socket, list of accepted connections); close the socket to stop it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return listener, accepted
