"""The hub's grader service (autograder/hub_grader.py): its setting, and what root may touch in an
instructor's course folder. The service itself runs in tests/test_hub.py."""
import os

import pytest

from autograder import hub_grader


def test_the_courses_setting_maps_instructors_to_folders():
    courses = hub_grader.parse_courses(" ana=/home/ana/gradients, bo=/srv/bo/course ,")
    assert {k: str(v) for k, v in courses.items()} == {"ana": "/home/ana/gradients",
                                                      "bo": "/srv/bo/course"}
    assert hub_grader.parse_courses("") == {}


@pytest.mark.parametrize("setting", ["ana", "=/home/ana", "ana=", "ana=/x,bo"])
def test_a_malformed_courses_setting_is_refused(setting):
    with pytest.raises(ValueError, match=hub_grader.COURSES_ENV):
        hub_grader.parse_courses(setting)


def test_links_among_the_outputs_are_found(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "link").symlink_to("/etc")      # not an output: root never writes it
    assert hub_grader.linked_outputs(tmp_path) == []
    (tmp_path / "autograded" / "ana").mkdir(parents=True)
    (tmp_path / "autograded" / "ana" / "01").symlink_to("/etc")
    (tmp_path / "reports").symlink_to("/root")
    assert sorted(hub_grader.linked_outputs(tmp_path)) == sorted(
        [tmp_path / "autograded" / "ana" / "01", tmp_path / "reports"])


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root, as the service has")
def test_outputs_go_back_to_the_folders_owner_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("root's")
    course = tmp_path / "course"
    (course / "autograded" / "ana").mkdir(parents=True)
    (course / "autograded" / "ana" / "nb.ipynb").write_text("{}")
    (course / "gradebook.db").write_text("")
    (course / "autograded" / "escape").symlink_to(outside)
    os.chown(course, 4242, 4343)
    hub_grader.give_back(course)
    for path in (course / "autograded", course / "autograded" / "ana" / "nb.ipynb",
                 course / "gradebook.db"):
        assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4343)
    assert os.lstat(course / "autograded" / "escape").st_uid == 4242
    assert (outside.stat().st_uid, outside.stat().st_gid) == (0, 0)
