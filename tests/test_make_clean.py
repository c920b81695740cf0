"""`make demo`, `make clean` and `make reset` on a course that holds real grades: the demo grades in
a course of its own (demo/), clean removes only what the demo and the builds made, and reset
deletes grades only when told CONFIRM=yes, after saying what it deletes."""
import hashlib
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone

from autograder.authoring import classroom
from autograder.grading import gradebook
from autograder.nbgrader_cli import nbgrader_env
from conftest import ASSIGNMENTS, ROOT, copy_course

FIRST = ASSIGNMENTS[0]
VENV = ROOT / ".venv"


def real_course(target):
    """A course after a term's work: a gradebook with a manually graded submission, the files
    nbgrader and the grader keep, and a student's submission."""
    course = copy_course(target)
    shutil.copy(ROOT / "Makefile", course / "Makefile")
    url = f"sqlite:///{course / 'gradebook.db'}"
    with gradebook.open_gradebook(url, "gradients") as gb:
        gb.add_assignment("a1", duedate=datetime(2030, 1, 1, tzinfo=timezone.utc))
        gb.add_notebook("a1", "a1")
        gb.add_grade_cell("q1", "a1", "a1", max_score=5, cell_type="markdown")
        gb.add_student("real_student")
        gb.add_submission("a1", "real_student")
        gb.find_grade("q1", "a1", "a1", "real_student").manual_score = 4
        gb.db.commit()
    files = {"submitted/real_student/a1/a1.ipynb": "{}", "autograded/real_student/a1/a1.ipynb": "{}",
             "feedback/real_student/a1/a1.html": "<p>4/5</p>", "exchange/gradients/inbound/x": "x",
             ".autograder/ledger/a1/real_student.json": "{}", "reports/lms.csv": "student_id\n",
             "grades.csv": "assignment\n", "flags.csv": "student_id\n"}
    for name, text in files.items():
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        (course / name).write_text(text)
    return course


def snapshot(course) -> dict:
    """{path: sha256} of every file of the course outside demo/ and caches."""
    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(course.rglob("*")) if p.is_file()
            and p.relative_to(course).parts[0] != "demo" and "__pycache__" not in p.parts}


def make(course, *args, env=None):
    # the tests' venv stands in for the course's own: never reinstalled (-o)
    return subprocess.run(["make", "-o", str(VENV / ".installed"), f"VENV={VENV}", *args],
                          cwd=course, env=env or nbgrader_env(), capture_output=True, text=True,
                          timeout=1200)


def manual_grade(course) -> float:
    with sqlite3.connect(course / "gradebook.db") as db:
        return db.execute("select manual_score from grade").fetchone()[0]


def test_make_demo_and_make_clean_keep_a_real_courses_grades(tmp_path):
    course = real_course(tmp_path / "course")
    before = snapshot(course)
    # even with the environment pointing nbgrader at the real course's gradebook and exchange
    env = nbgrader_env({"COURSE_DB_URL": f"sqlite:///{course / 'gradebook.db'}",
                        "COURSE_EXCHANGE": str(course / "exchange")})
    demo = make(course, "demo", f"ARGS={FIRST}", env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    with sqlite3.connect(course / "demo" / "gradebook.db") as db:
        graded = {row[0] for row in db.execute("select student_id from submitted_assignment")}
    assert graded == {p.name for p in classroom.PERSONAS}
    assert (course / "demo" / "reports" / "report.html").is_file()
    assert snapshot(course) == before, "make demo changed the real course"

    clean = make(course, "clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert not (course / "demo").exists()
    assert snapshot(course) == before, "make clean changed the real course"
    assert manual_grade(course) == 4


def test_make_reset_says_what_it_deletes_and_needs_confirm_yes(tmp_path):
    course = real_course(tmp_path / "course")
    before = snapshot(course)
    refused = make(course, "reset")
    assert refused.returncode != 0
    for name in ("gradebook.db", "submitted/", "autograded/", "feedback/", "exchange/",
                 "grades.csv"):
        assert f"  {name}" in refused.stdout, refused.stdout
    assert "CONFIRM=yes" in refused.stdout and snapshot(course) == before

    done = make(course, "reset", "CONFIRM=yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any((course / name).exists() for name in (
        "gradebook.db", "submitted", "autograded", "feedback", "exchange", ".autograder",
        "reports", "grades.csv", "flags.csv"))
    assert (course / "source" / FIRST / f"{FIRST}.ipynb").is_file()
