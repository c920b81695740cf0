"""The hub's grader service (autograder/hub/grader.py): its setting, and what root may touch in an
instructor's course folder (it runs as root). The service itself runs in tests/test_hub.py."""
import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder.hub import grader as hub_grader

ROOT = Path(__file__).resolve().parent.parent


def test_the_courses_setting_maps_instructors_to_folders():
    courses = hub_grader.parse_courses(" ana=/home/ana/gradients, bo=/srv/bo/course ,")
    assert {k: str(v) for k, v in courses.items()} == {"ana": "/home/ana/gradients",
                                                      "bo": "/srv/bo/course"}
    assert hub_grader.parse_courses("") == {}


@pytest.mark.parametrize("setting", ["ana", "=/home/ana", "ana=", "ana=/x,bo"])
def test_a_malformed_courses_setting_is_refused(setting):
    with pytest.raises(ValueError, match=hub_grader.COURSES_ENV):
        hub_grader.parse_courses(setting)


# ---- what root may touch: a copy of the course, the trusted configuration, results given back
# as the instructor. The course folders below belong to an instructor uid without an account.

TEACHER = (4242, 4343)
EMPTY_NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the service runs as root")


@pytest.fixture
def place(monkeypatch):
    """A folder the instructor can reach (pytest's own is root's only), holding the instructor's
    `course` folder and the service's trusted configuration (a root-owned copy of the course's)."""
    base = Path(tempfile.mkdtemp(prefix="hub-grader-test-"))
    base.chmod(0o711)
    course = base / "course"
    for folder in ("source", "release", "submitted/alice"):  # an assignment with a submission
        (course / folder / "01_x").mkdir(parents=True)
        (course / folder / "01_x" / "01_x.ipynb").write_text(EMPTY_NOTEBOOK)
    trusted = base / "trusted_config.py"
    shutil.copy(ROOT / "nbgrader_config.py", trusted)
    trusted.chmod(0o644)
    monkeypatch.setenv(hub_grader.CONFIG_ENV, str(trusted))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _owned_by_teacher(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, *TEACHER, follow_symlinks=False)


def _grade(course: Path, assignment: str = "01_x") -> tuple[int, str]:
    _owned_by_teacher(course)
    return asyncio.run(hub_grader.autograde(course, assignment))


def _assert_graded(course: Path, returncode: int, output: str) -> None:
    """The grading ran to its end in the copy, and its results are the instructor's."""
    assert returncode == 0, output
    assert str(course / "grades.csv") in output and "course-grader-" not in output
    for name in ("gradebook.db", "autograded/alice/01_x/01_x.ipynb", "grades.csv",
                 ".autograder/ledger/01_x/alice.json"):
        assert (course / name).stat().st_uid == TEACHER[0], name


@needs_root
def test_a_package_planted_in_the_course_folder_is_not_run(place):
    """`python -m` would put the course folder first on sys.path."""
    marker = place / "planted-ran"
    for module in ("autograder/__init__.py", "nbgrader.py", "tqdm.py"):
        (place / "course" / module).parent.mkdir(exist_ok=True)
        (place / "course" / module).write_text(f"open({str(marker)!r}, 'a').write('{module}')\n")
    returncode, output = _grade(place / "course")
    assert not marker.exists(), f"root ran {marker.read_text()} of the instructor's folder"
    _assert_graded(place / "course", returncode, output)


@needs_root
def test_the_instructors_nbgrader_config_is_not_executed(place):
    marker = place / "config-ran"
    (place / "course" / "nbgrader_config.py").write_text(
        f"open({str(marker)!r}, 'w').write('as uid %d' % __import__('os').getuid())\n")
    returncode, output = _grade(place / "course")
    assert not marker.exists(), f"the instructor's nbgrader_config.py ran {marker.read_text()}"
    _assert_graded(place / "course", returncode, output)


@needs_root
@pytest.mark.parametrize("where", ["submitted/alice/01_x", "source/01_x", "release/01_x",
                                   "autograded/alice/01_x"])
def test_a_symbolic_link_anywhere_the_grader_reads_is_refused(place, where):
    secret = place / "root-only.txt"
    secret.write_text("root's secret")
    secret.chmod(0o600)
    course = place / "course"
    (course / where).mkdir(parents=True, exist_ok=True)
    (course / where / "data.txt").symlink_to(secret)
    returncode, output = _grade(course)
    assert returncode != 0
    assert f"{course / where / 'data.txt'} is a symbolic link" in output
    assert "nothing was graded" in output
    assert not (course / "gradebook.db").exists()
    assert all("root's secret" not in p.read_text(errors="replace")
               for p in course.rglob("*") if p.is_file() and not p.is_symlink())


@needs_root
def test_a_special_file_is_refused_without_blocking(place):
    course = place / "course"
    os.mkfifo(course / "submitted" / "alice" / "01_x" / "data.txt")
    returncode, output = _grade(course)
    assert returncode == 2 and "is a special file" in output


@needs_root
def test_an_untrusted_service_configuration_is_refused(place, monkeypatch):
    writable = place / "group-writable.py"
    writable.write_text("c = get_config()\n")
    writable.chmod(0o664)
    monkeypatch.setenv(hub_grader.CONFIG_ENV, str(writable))
    returncode, output = _grade(place / "course")
    assert returncode == 2 and "is not trusted" in output


def _graded_copy(base: Path) -> Path:
    copy = base / "scratch" / "course"  # as autograde leaves it: root's, in a root-only folder
    (copy / "autograded" / "alice" / "01_x").mkdir(parents=True)
    (copy / "autograded" / "alice" / "01_x" / "01_x.ipynb").write_text('{"graded": 1}')
    (copy / "feedback" / "alice" / "01_x").mkdir(parents=True)
    (copy / "feedback" / "alice" / "01_x" / "01_x.html").write_text("<p>feedback</p>")
    (copy / "gradebook.db").write_text("new gradebook")
    (copy / "grades.csv").write_text("student,score\n")
    (base / "scratch").chmod(0o700)
    return copy


@needs_root
def test_outputs_come_back_owned_by_the_folders_owner(place):
    course = place / "course"
    (course / "gradebook.db").write_text("old gradebook")
    (course / "gradebook.db-wal").write_text("old write-ahead log")  # stale after grading
    (course / "notes.txt").write_text("the instructor's")
    (course / "autograded" / "alice" / "01_x").mkdir(parents=True)  # an earlier grading
    (course / "autograded" / "alice" / "01_x" / "01_x.ipynb").write_text("{}")
    (course / "autograded" / "alice" / "01_x" / "01_x.ipynb").chmod(0o444)  # as nbgrader does
    _owned_by_teacher(course)
    inode = (course / "gradebook.db").stat().st_ino
    returncode, error = hub_grader.hand_back(_graded_copy(place), course, course.stat())
    assert returncode == 0, error
    assert (course / "gradebook.db").read_text() == "new gradebook"
    assert (course / "gradebook.db").stat().st_ino == inode  # rewritten in place
    assert not (course / "gradebook.db-wal").exists()
    assert (course / "notes.txt").read_text() == "the instructor's"
    assert (course / "source" / "01_x" / "01_x.ipynb").exists()
    made = ["autograded", "autograded/alice/01_x/01_x.ipynb", "feedback/alice/01_x/01_x.html",
            "grades.csv", "gradebook.db"]
    for name in made:
        assert (course / name).stat().st_uid == TEACHER[0], name
    assert (course / "autograded" / "alice" / "01_x" / "01_x.ipynb").read_text() == '{"graded": 1}'


@needs_root
def test_outputs_are_written_with_the_owners_rights_only(place):
    """The child that gives the outputs back is not root: a folder of root's in the course stays
    closed to it (a link would be refused too: no output is written outside the folder)."""
    course = place / "course"
    _owned_by_teacher(course)
    (course / "feedback").mkdir(mode=0o700)  # root's
    returncode, error = hub_grader.hand_back(_graded_copy(place), course, course.stat())
    assert returncode != 0 and "Permission denied" in error
    assert list((course / "feedback").iterdir()) == []
    (course / "feedback").rmdir()
    (course / "feedback").symlink_to(place)
    copy = place / "scratch" / "course"
    returncode, error = hub_grader.hand_back(copy, course, course.stat())
    assert returncode != 0 and "outside the destination" in error
    assert not (place / "alice").exists()
