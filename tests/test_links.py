"""Links and special files in a submission are never followed (autograder/safety/links.py).

The units first (what `lstat` says of each kind of entry, the copy filter, the notebook reader);
then plain `nbgrader autograde` with the course's nbgrader_config.py, on a scratch course where
students hand in, beside an honest notebook, a symbolic link to the source notebook, a hard link
to gradebook.db and a FIFO, and one hands in a notebook that is itself a link to the source
notebook. The course's own grader meets the same cases in tests/adversarial/cases.py.
"""
import os
import socket
import threading

import nbformat
import pytest

from autograder.authoring import classroom
from autograder.grading.gradebook import gradebook_url
from autograder.nbgrader_cli import nbgrader, nbgrader_checked
from autograder.notebooks import read
from autograder.safety import flags, links
from conftest import copy_course

ASSIGNMENT = "01_gradients"
SOURCE = f"../../../source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"  # from submitted/<student>/<assignment>/


@pytest.fixture
def kinds(tmp_path):
    """A folder with one entry of every kind."""
    (tmp_path / "plain.txt").write_text("plain")
    (tmp_path / "target.txt").write_text("target")
    os.symlink("target.txt", tmp_path / "symlink.txt")
    os.link(tmp_path / "target.txt", tmp_path / "hardlink.txt")
    os.mkfifo(tmp_path / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "socket"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.txt").write_text("inner")
    os.symlink("sub", tmp_path / "linked_dir")
    yield tmp_path
    server.close()


def test_refusal_names_every_kind_and_follows_nothing(kinds):
    assert links.refusal(kinds / "plain.txt") == ""
    assert links.refusal(kinds / "sub") == ""
    assert links.refusal(kinds / "missing") == ""
    assert links.refusal(kinds / "symlink.txt") == "a symbolic link to target.txt"
    assert links.refusal(kinds / "hardlink.txt") == "a hard link (one of 2 names of the same file)"
    assert links.refusal(kinds / "target.txt").startswith("a hard link")  # both names are
    assert links.refusal(kinds / "fifo") == "a FIFO (named pipe)"
    assert links.refusal(kinds / "socket") == "a socket"
    assert links.refusal("/dev/null") == "a character device"
    assert links.refusal(kinds / "linked_dir") == "a symbolic link to sub"
    assert links.refusal_below(kinds / "linked_dir" / "inner.txt", kinds) == (
        "inside linked_dir/, which is a symbolic link to sub")
    assert links.refusal_below(kinds / "sub" / "inner.txt", kinds) == ""


def test_handed_in_lists_every_file_and_why_a_link_is_refused(kinds):
    (kinds / ".ipynb_checkpoints").mkdir()
    (kinds / ".ipynb_checkpoints" / "plain-checkpoint.txt").write_text("an editor's copy")
    found = {e.path: e for e in links.handed_in(kinds, skip={"plain.txt"})}
    assert set(found) == {"target.txt", "symlink.txt", "hardlink.txt", "fifo", "socket",
                          "sub/inner.txt", "linked_dir"}
    assert found["sub/inner.txt"].refused == "" and found["sub/inner.txt"].size == 5
    assert str(found["sub/inner.txt"]) == "sub/inner.txt (5 bytes)"
    assert "never read, not given to the kernel" in str(found["fifo"])
    assert {e.path for e in links.refused_entries(kinds)} == {
        "target.txt", "symlink.txt", "hardlink.txt", "fifo", "socket", "linked_dir"}
    os.symlink(kinds, kinds.parent / f"{kinds.name}-link")
    assert [e.path for e in links.handed_in(kinds.parent / f"{kinds.name}-link")] == ["."]


def test_nbgraders_copy_list_keeps_only_plain_files(kinds):
    from nbgrader.utils import find_all_files
    plain = links.plain_files_only(find_all_files)
    assert find_all_files(str(kinds)) != plain(str(kinds))  # stock nbgrader lists the links
    assert sorted(os.path.relpath(f, kinds) for f in plain(str(kinds))) == [
        "plain.txt", "sub/inner.txt"]
    os.symlink(kinds, kinds.parent / f"{kinds.name}-link")
    assert plain(str(kinds.parent / f"{kinds.name}-link")) == []


def test_install_wraps_nbgrader_once():
    from nbgrader.converters import base
    from nbgrader.coursedir import CourseDirectory
    links.install()
    first = base.find_all_files, CourseDirectory.get_existing_timestamp
    links.install()
    assert (base.find_all_files, CourseDirectory.get_existing_timestamp) == first
    assert base.find_all_files.plain_files_only
    assert base.find_all_files.__wrapped__.__module__ == "nbgrader.utils"


def test_a_timestamp_that_is_a_link_is_not_read(tmp_path):
    from nbgrader.coursedir import CourseDirectory
    links.install()
    os.mkfifo(tmp_path / "timestamp.txt")  # a read would block forever
    assert CourseDirectory().get_existing_timestamp(str(tmp_path)) is None
    os.remove(tmp_path / "timestamp.txt")
    (tmp_path / "timestamp.txt").write_text("2026-11-23 12:00:00.000000 UTC")
    assert CourseDirectory().get_existing_timestamp(str(tmp_path)).year == 2026


def test_the_notebook_reader_refuses_links_and_fifos_without_blocking(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, str(tmp_path / "real.ipynb"))
    exporter = links.PlainNotebookExporter()
    read_back, resources = exporter.from_filename(str(tmp_path / "real.ipynb"))
    assert "1 + 1" in read_back and resources["metadata"]["name"] == "real"
    os.symlink("real.ipynb", tmp_path / "link.ipynb")
    os.mkfifo(tmp_path / "fifo.ipynb")
    for name, kind in [("link.ipynb", "symbolic link"), ("fifo.ipynb", "FIFO")]:
        done = []
        worker = threading.Thread(target=lambda: done.append(_refusal_of(exporter, tmp_path / name)),
                                  daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert done and kind in done[0], f"{name}: {done or 'still blocked after 10 s'}"


def _refusal_of(exporter, path) -> str:
    try:
        exporter.from_filename(str(path))
    except links.UnreadableNotebook as error:
        return str(error)
    return "read"


def test_a_submissions_fingerprint_never_reads_through_a_link(tmp_path):
    """The ledger's fingerprint of a submission with a hard link to gradebook.db stays the same
    while the gradebook changes (it would be graded again at every run), and a FIFO is no hang."""
    from autograder.grading import submissions
    folder = tmp_path / "submitted" / "eve" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text("{}")
    (tmp_path / "gradebook.db").write_text("before")
    os.link(tmp_path / "gradebook.db", folder / "grades.db")
    os.mkfifo(folder / "pipe")
    before = submissions.fingerprint(tmp_path, ASSIGNMENT, "eve")
    (tmp_path / "gradebook.db").write_text("after grading")
    assert submissions.fingerprint(tmp_path, ASSIGNMENT, "eve") == before
    (folder / f"{ASSIGNMENT}.ipynb").write_text('{"cells": []}')
    assert submissions.fingerprint(tmp_path, ASSIGNMENT, "eve") != before


# --- plain nbgrader autograde with the course's configuration ----------------------------------

PROBE = ("import os\nfor _name in sorted(os.listdir('.')):\n    print('present:', _name)\n"
         "for _name in ('notes.txt', 'grades.db', 'pipe', 'data.txt'):\n    try:\n"
         "        with open(_name, 'rb') as _f:\n"
         "            print('read', _name, len(_f.read()))\n"
         "    except OSError as _error:\n        print('no', _name, type(_error).__name__)\n")


def _honest(course, probe=True):
    """The solution, plus (`probe`) a last cell that lists its folder and tries to read the
    handed-in files (which the tamper checks flag: it opens files)."""
    release = read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    source = read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    nb = classroom.solve_cells(release, source)
    if probe:
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    return nb


def _submit(course, student, beside=None, notebook=True, probe=True):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text("2026-11-23 12:00:00.000000 UTC")
    (folder / "data.txt").write_text("the student's own data")
    if notebook:
        nbformat.write(_honest(course, probe), str(folder / f"{ASSIGNMENT}.ipynb"))
    if beside:
        beside(folder, course)
    return folder


@pytest.fixture(scope="module")
def plain_nbgrader(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("links"))
    nbgrader_checked("generate_assignment", ASSIGNMENT, "--force", course=course)
    _submit(course, "honest")
    _submit(course, "honest_quiet", probe=False)
    _submit(course, "symlink_quiet", lambda f, c: os.symlink(SOURCE, f / "notes.txt"), probe=False)
    _submit(course, "symlink", lambda f, c: os.symlink(SOURCE, f / "notes.txt"))
    _submit(course, "hardlink", lambda f, c: os.link(c / "gradebook.db", f / "grades.db"))
    _submit(course, "fifo", lambda f, c: os.mkfifo(f / "pipe"))
    _submit(course, "notebook_link", lambda f, c: os.symlink(SOURCE, f / f"{ASSIGNMENT}.ipynb"),
            notebook=False)
    result = nbgrader("autograde", ASSIGNMENT, course=course, timeout=1200)
    return course, result.stdout + result.stderr


def _scores(course) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(gradebook_url(course)) as gb:
        return {s.student.id: (s.score, s.max_score, gb.find_submission_notebook(
            ASSIGNMENT, ASSIGNMENT, s.student.id).flagged)
            for s in gb.assignment_submissions(ASSIGNMENT)}


def _printed(course, student) -> str:
    nb = read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))


def test_plain_nbgrader_grades_the_honest_work_beside_links_and_fifos(plain_nbgrader):
    course, log = plain_nbgrader
    scores = _scores(course)
    full = scores["honest"][1]
    for student in ("honest", "symlink", "hardlink", "fifo", "symlink_quiet"):
        assert scores[student][:2] == (full, full), (student, log[-3000:])
    # flagged in the gradebook for the link alone (the others' probe cell is flagged too)
    assert scores["symlink_quiet"][2] and not scores["honest_quiet"][2]


def test_the_kernel_never_sees_what_a_link_or_fifo_points_to(plain_nbgrader):
    course, _ = plain_nbgrader
    assert "read data.txt 22" in _printed(course, "honest")
    for student, name in [("symlink", "notes.txt"), ("hardlink", "grades.db"), ("fifo", "pipe")]:
        printed = _printed(course, student)
        assert f"present: {name}" not in printed and f"no {name} FileNotFoundError" in printed
        assert "read data.txt 22" in printed  # the student's plain file is there
        assert not os.path.lexists(course / "autograded" / student / ASSIGNMENT / name)


def test_each_link_is_flagged_by_student_and_path(plain_nbgrader):
    course, _ = plain_nbgrader
    reasons = {(r["student_id"], r["reason"].split(" (")[0]) for r in flags.read_flags(course)}
    assert {("symlink", "handed in notes.txt"), ("hardlink", "handed in grades.db"),
            ("fifo", "handed in pipe")} <= reasons
    assert not [r for r in flags.read_flags(course) if r["student_id"] == "honest_quiet"]
    assert not [r for r in flags.read_flags(course)
                if r["student_id"] == "honest" and "handed in" in r["reason"]]
    rows = [r["reason"] for r in flags.read_flags(course) if r["student_id"] == "symlink"]
    assert any(f"a symbolic link to {SOURCE}" in r for r in rows), rows


def test_a_notebook_that_is_a_link_is_not_read_and_scores_zero(plain_nbgrader):
    course, log = plain_nbgrader
    score, full, _ = _scores(course)["notebook_link"]
    assert score == 0 and full > 0
    assert f"{ASSIGNMENT}.ipynb is a symbolic link to {SOURCE}: not read" in log
    assert not (course / "autograded" / "notebook_link" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


def test_the_class_report_lists_the_files_handed_in_and_runs_no_script(plain_nbgrader):
    from autograder.reports import class_report
    course, _ = plain_nbgrader
    results = class_report.gather(course)
    listed = {(a, s): o.handed_in for (a, s), o in results.outcomes.items()}
    assert listed[(ASSIGNMENT, "honest")] == ["data.txt (22 bytes)"]
    assert listed[(ASSIGNMENT, "symlink")] == [
        "data.txt (22 bytes)", f"notes.txt (a symbolic link to {SOURCE}: never read, not given "
        "to the kernel)"]
    assert any(f.startswith("pipe (a FIFO") for f in listed[(ASSIGNMENT, "fifo")])
    assert any(f.startswith("grades.db (a hard link") for f in listed[(ASSIGNMENT, "hardlink")])
    page = class_report.write_html(results, course / "reports" / "report.html").read_text()
    section = page.split("Files handed in beside the notebooks")[1].split("<h2>")[0]
    assert "notes.txt (a symbolic link to" in section and "pipe (a FIFO" in section
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page
    notebook_link = results.outcomes[(ASSIGNMENT, "notebook_link")]
    assert any("is a symbolic link" in p and "scored 0" in p for p in notebook_link.problems)


def test_nbgrader_collect_copies_no_link_out_of_the_exchange(tmp_path):
    """On a shared hub the exchange's inbound folder is the students': a link left there must not
    arrive in submitted/ as a copy of what it points to (stock collect's copytree follows it)."""
    course = copy_course(tmp_path / "course")
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's secret")
    inbound = course / "exchange" / "gradients" / "inbound"
    inbound.mkdir(parents=True)
    stamp = "2026-11-23 12:00:00.000000 UTC"
    mallory = inbound / f"mallory+{ASSIGNMENT}+{stamp}+a1"
    (mallory / "sub").mkdir(parents=True)
    (mallory / "timestamp.txt").write_text(stamp)
    (mallory / "data.txt").write_text("the student's own data")
    (mallory / "sub" / "more.txt").write_text("more of her own")
    os.symlink(secret, mallory / "notes.txt")
    os.symlink(tmp_path, mallory / "linked_folder")
    os.link(secret, mallory / "grades.txt")
    os.mkfifo(mallory / "pipe")
    os.symlink(mallory, inbound / f"trudy+{ASSIGNMENT}+{stamp}+b2")  # the whole submission

    result = nbgrader("collect", ASSIGNMENT, course=course, timeout=120)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log

    collected = course / "submitted" / "mallory" / ASSIGNMENT
    found = sorted(str(p.relative_to(collected)) for p in collected.rglob("*"))
    assert found == ["data.txt", "sub", "sub/more.txt", "timestamp.txt"]
    assert not (course / "submitted" / "trudy" / ASSIGNMENT).exists()
    for path in (course / "submitted").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"the instructor's secret" not in path.read_bytes(), path
    for name in ("notes.txt", "linked_folder", "grades.txt", "pipe"):
        assert f"{name} is a" in log and "not collected" in log, (name, log)
    assert "trudy" in log and "a symbolic link" in log
