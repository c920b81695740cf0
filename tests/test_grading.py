"""The class grader (python -m autograder): parallel, never losing a grade, resumable after
kill -9, SQLite under concurrent writers, PostgreSQL shards, instant grading, reports.

Robustness is exercised on the first notebook of source/ (every notebook's grades are compared
with stock nbgrader in test_end_to_end.py); the class is the demo's personas plus a student whose
code kills its kernel.
"""
import csv
import html
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import classroom

from autograder.grading import gradebook

from autograder.grading import batch as grading

from autograder.reports import class_report as reports
from autograder.authoring.demo import collect_class
from autograder.grading.instant import InstantGrader
from autograder.grading.ledger import Ledger
from autograder.kernels.prestart import PRESTARTER
from autograder.grading.workers import Crashed, run_tasks
from conftest import ASSIGNMENTS, copy_course
from pg_server import postgresql_server  # noqa: F401  (fixture)

FIRST = ASSIGNMENTS[0]
CHILD_ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1",
             "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}


def _kills_its_kernel(path, source_nb, assignment):
    def change(nb):
        classroom.solve_cells(nb, source_nb)
        cell = next(c for c in nb.cells if classroom.is_solution(c))
        cell.source = "import os\nos.kill(os.getpid(), 9)\n" + cell.source
        return nb
    classroom._rewrite(path, change)


KILLER = classroom.Persona("ivan", "an answer cell that kills its kernel", _kills_its_kernel)
CLASS = classroom.PERSONAS + [KILLER]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """A course whose submitted/ holds the class's submissions of FIRST, not graded yet."""
    course = copy_course(tmp_path_factory.mktemp("collected"))
    collect_class(course, [FIRST], CLASS, step=lambda m: None)
    return course


def fresh_copy(collected, target: Path) -> Path:
    shutil.copytree(collected, target, ignore=shutil.ignore_patterns(".demo", "exchange"))
    return target


@pytest.fixture(scope="module")
def graded(collected, tmp_path_factory):
    """The class graded with 2 workers into SQLite, and the log it printed."""
    course = fresh_copy(collected, tmp_path_factory.mktemp("graded") / "course")
    lines = []
    outcomes = grading.grade_class(course, [FIRST], workers=2, log=lines.append, bar=False)
    gradebook_rows = gradebook.all_grades(gradebook.gradebook_url(course), "gradients", [FIRST])
    return course, {o.student: o for o in outcomes}, gradebook_rows, "\n".join(lines)


def cell_grades(rows) -> dict:
    return {(a, s, c.notebook, c.cell): (c.score, c.max_score)
            for (a, s), (_, _, cells) in rows.items() for c in cells}


def test_every_submission_is_recorded_and_a_broken_one_never_stops_the_class(graded):
    course, outcomes, rows, log = graded
    assert set(outcomes) == {p.name for p in CLASS}
    full = outcomes["alice"].max_score
    assert outcomes["alice"].score == full > 0 and outcomes["alice"].status == "graded"
    assert outcomes["bob"].score == 0 and outcomes["bob"].status == "graded"
    assert 0 < outcomes["chen"].score < full
    killed = outcomes["ivan"]  # the sandbox grades the cells before the death; without it, 0
    assert "kernel died" in (killed.problems + killed.notes)[0] and killed.score < full / 2
    assert "not valid JSON" in outcomes["farah"].problems[0]
    assert "renamed" in outcomes["gus"].problems[0]
    for outcome in outcomes.values():  # the ledger holds the gradebook's score
        assert outcome.score == rows[(FIRST, outcome.student)][0]
    assert re.search(r"^\[9/9\] ", log, re.M), "no plain progress lines without a terminal"


def test_instant_grading_gives_the_batch_grade_cell_by_cell(graded):
    course, outcomes, rows, _ = graded
    grader = InstantGrader(course)
    adopted = PRESTARTER.adopted
    for student in ("dana", "hana"):
        path = course / "submitted" / student / FIRST / f"{FIRST}.ipynb"
        result = grader.grade(path, FIRST)
        assert result.score == outcomes[student].score
        assert {(c.cell): (c.score, c.max_score) for c in result.cells} == {
            c.cell: (c.score, c.max_score) for c in rows[(FIRST, student)][2]}
        failing = [c for c in result.cells if c.score == 0 and c.message]
        assert failing, "an instant result without the diagnostic message of a failing test"
    grader.close()
    assert PRESTARTER.adopted == adopted + 1, "the second notebook did not get the kernel started ahead"


def test_reports_cover_every_student_cell_and_problem(graded):
    course, outcomes, rows, _ = graded
    url = gradebook.gradebook_url(course)
    with gradebook.open_gradebook(url, "gradients") as gb:
        gb.add_student("zoe")  # on the roster, submitted nothing
    paths = reports.write_all(course)
    with open(paths["scores"]) as f:
        scores = list(csv.DictReader(f))
    assert sorted((r["student_id"], r["notebook"]) for r in scores) == sorted(
        (s, FIRST) for s in outcomes)
    with open(paths["cells"]) as f:
        cells = {(FIRST, r["student_id"], r["notebook"], r["cell"]):
                 (float(r["score"]), float(r["max_score"])) for r in csv.DictReader(f)}
    assert cells == {k: (v[0] or 0.0, v[1]) for k, v in cell_grades(rows).items()}
    with open(paths["lms"]) as f:
        lms = {r["student_id"]: r for r in csv.DictReader(f)}
    assert list(next(iter(lms.values()))) == ["student_id", FIRST, "total"]
    assert float(lms["alice"]["total"]) == outcomes["alice"].score and lms["zoe"]["total"] == "0"
    page = paths["html"].read_text()
    assert page.count('src="data:image/png;base64,') >= 2
    assert "kernel died" in page and "not valid JSON" in page and "zoe" in page
    mistakes = _messages(course, "dana").values()  # a typical mistake's diagnostics
    assert mistakes and any(message in html.unescape(page) for message in mistakes)


def _messages(course, student):
    return reports.failure_messages(course / "autograded" / student / FIRST / f"{FIRST}.ipynb")


def test_kill_9_in_the_middle_then_the_same_command_finishes_without_regrading(
        collected, graded, tmp_path):
    course = fresh_copy(collected, tmp_path / "course")
    command = [sys.executable, "-m", "autograder", "--course", str(course), "autograde",
               "--workers", "2"]
    run = subprocess.Popen(command, env=CHILD_ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    ledger = Ledger(course)
    deadline = time.monotonic() + 300
    while len(ledger.all()) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # the whole run: the command and its workers
    run.wait()
    before = {o.student: o for o in ledger.all()}
    assert 3 <= len(before) < len(CLASS), "kill -9 did not land in the middle of the batch"
    time.sleep(2)  # kernels of the killed run notice their parent is gone

    second = subprocess.run(command, env=CHILD_ENV, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(before)} of {len(CLASS)} submissions already graded" in second.stdout
    after = {o.student: o for o in ledger.all()}
    for student, outcome in before.items():  # not regraded
        assert after[student].graded_at == outcome.graded_at
    _, reference, reference_rows, _ = graded
    assert {s: o.score for s, o in after.items()} == {s: o.score for s, o in reference.items()}
    rows = gradebook.all_grades(gradebook.gradebook_url(course), "gradients", [FIRST])
    assert cell_grades(rows) == cell_grades(reference_rows)
    with open(course / "reports" / "scores.csv") as f:
        keys = [(r["student_id"], r["notebook"]) for r in csv.DictReader(f)]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == len(CLASS)  # none lost or twice


def _hammer_gradebook(url: str, worker: int, rounds: int) -> None:
    """What autograde does to the gradebook, as fast as possible, from one process."""
    gradebook.share_sqlite_safely()
    for i in range(rounds):
        with gradebook.open_gradebook(url, "gradients") as gb:
            student = f"s{worker}_{i % 5}"
            gb.update_or_create_student(student)
        with gradebook.open_gradebook(url, "gradients") as gb:
            submission = gb.update_or_create_submission(FIRST, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = (worker + i) % 2
            gb.db.commit()


def test_sqlite_gradebook_survives_many_concurrent_writers(graded, tmp_path):
    course, _, _, _ = graded
    for name in ("gradebook.db", "gradebook.db-wal", "gradebook.db-shm"):  # WAL mode
        if (course / name).exists():
            shutil.copy(course / name, tmp_path / name)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_hammer_gradebook, args=(url, w, 20)) for w in range(6)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=300)
    assert [w.exitcode for w in writers] == [0] * 6, "a writer failed (database is locked?)"
    with gradebook.open_gradebook(url, "gradients") as gb:
        made = {s.student.id for s in gb.find_assignment(FIRST).submissions}
    assert {f"s{w}_{i}" for w in range(6) for i in range(5)} <= made


SHARDED = {"alice", "bob", "chen", "emeka", "farah", "ivan"}


def test_two_shards_grade_one_class_into_postgresql(collected, graded, postgresql_server,
                                                    tmp_path):
    course = fresh_copy(collected, tmp_path / "course")
    (course / "gradebook.db").unlink()  # the class is graded into PostgreSQL only
    for other in set(p.name for p in CLASS) - SHARDED:  # a smaller class: test time
        shutil.rmtree(course / "submitted" / other)
    env = {**CHILD_ENV, "COURSE_DB_URL": postgresql_server}
    shards = [subprocess.Popen(
        [sys.executable, "-m", "autograder", "--course", str(course), "autograde",
         "--workers", "1", "--shard", f"{i}/2"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [s.communicate(timeout=600)[0] for s in shards]
    assert [s.returncode for s in shards] == [0, 0], "\n".join(logs)
    graded_by = [set(re.findall(rf"\] {FIRST}/(\w+):", log)) for log in logs]
    assert graded_by[0] and graded_by[1] and not graded_by[0] & graded_by[1]
    assert graded_by[0] | graded_by[1] == SHARDED
    _, _, reference_rows, _ = graded
    rows = gradebook.all_grades(postgresql_server, "gradients", [FIRST])
    assert cell_grades(rows) == {k: v for k, v in cell_grades(reference_rows).items()
                                 if k[1] in SHARDED}
    assert not (course / "gradebook.db").exists()


def _hold_and_enter(url: str, held: float) -> tuple[float, float]:
    """Two threads take the preparation lock one after the other: (first's exit, second's
    entry)."""
    import threading
    first_in, times = threading.Event(), {}

    def first():
        with gradebook.preparing(url, "gradients"):
            first_in.set()
            time.sleep(held)
            times["first out"] = time.monotonic()

    def second():
        first_in.wait(30)
        with gradebook.preparing(url, "gradients"):
            times["second in"] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return times["first out"], times["second in"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_one_process_at_a_time_adds_assignments_to_a_gradebook(database, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'gradebook.db'}" if database == "sqlite"
           else request.getfixturevalue("postgresql_server"))
    first_out, second_in = _hold_and_enter(url, held=0.5)
    assert second_in >= first_out


def test_a_half_added_assignment_is_added_again_before_grading(collected, tmp_path):
    """nbgrader commits a notebook before its cells: a shard that found only the notebook row
    (another shard still adding the cells) graded against half an assignment."""
    course = fresh_copy(collected, tmp_path / "course")
    url = gradebook.gradebook_url(course)
    with gradebook.open_gradebook(url, "gradients") as gb:
        for submission in list(gb.find_assignment(FIRST).submissions):
            gb.remove_submission(FIRST, submission.student.id)
        stem = gb.find_assignment(FIRST).notebooks[0].name
        gb.remove_notebook(stem, FIRST)
        gb.add_notebook(stem, FIRST)  # what another shard's generate_assignment committed first
    lines = []
    grading.ensure_in_gradebook(course, url, "gradients", [FIRST], lines.append)
    assert lines == [f"{FIRST}: not in the gradebook yet; adding it from source/"]
    released = nbformat.read(str(next((course / "release" / FIRST).glob("*.ipynb"))), as_version=4)
    with gradebook.open_gradebook(url, "gradients") as gb:
        cells = gb.find_notebook(stem, FIRST)
        assert {c.name for c in cells.source_cells} == gradebook.nbgrader_cells(released)
        assert len(cells.grade_cells) == sum(
            1 for c in released.cells if c.metadata.get("nbgrader", {}).get("grade"))


def test_shards_split_the_class_deterministically():
    keys = [(a, f"student{i}") for a in ("01_x", "02_y") for i in range(200)]
    for count in (1, 2, 5):
        parts = [{k for k in keys if grading.shard_of(*k, count) == i} for i in range(count)]
        assert sum(len(p) for p in parts) == len(keys) and set().union(*parts) == set(keys)
        assert all(len(p) > len(keys) / count / 2 for p in parts)
    assert grading.parse_shard("1/4") == (1, 4)
    os.environ["JOB_COMPLETION_INDEX"] = "3"
    try:
        assert grading.parse_shard("index/4") == (3, 4)
    finally:
        del os.environ["JOB_COMPLETION_INDEX"]
    for wrong in ("4/4", "-1/2", "a/b", "2"):
        with pytest.raises(ValueError, match="i/N"):
            grading.parse_shard(wrong)


def _setup():
    return "state"


def _run(state, task, upcoming):
    if task == "exit":
        os._exit(3)
    if task == "hang":
        time.sleep(600)
    return f"{state}:{task}"


def test_a_worker_that_dies_or_hangs_loses_only_its_own_task():
    started = time.monotonic()
    results = dict(run_tasks(["a", "exit", "b", "hang", "c", "d"], _setup, _run, workers=2,
                             task_timeout=5))
    assert time.monotonic() - started < 60
    assert {k: v for k, v in results.items() if isinstance(v, str)} == {
        "a": "state:a", "b": "state:b", "c": "state:c", "d": "state:d"}
    assert "died" in results["exit"].reason and isinstance(results["hang"], Crashed)
    assert "still running after 5 s" in results["hang"].reason


def _run_told(state, task, upcoming):
    time.sleep(0.05 if task % 3 else 0.2)  # uneven tasks: workers finish at different moments
    return os.getpid(), upcoming


def test_lookahead_tells_each_worker_the_task_it_runs_next_and_loses_none():
    results = list(run_tasks(range(20), _setup, _run_told, workers=2, task_timeout=30,
                             lookahead=True))
    assert sorted(task for task, _ in results) == list(range(20))
    by_worker = {}
    for task, (pid, upcoming) in results:
        by_worker.setdefault(pid, []).append((task, upcoming))
    told_right = 0
    for runs in by_worker.values():
        for (task, upcoming), (next_task, _) in zip(runs, runs[1:]):
            told_right += upcoming == next_task
        assert runs[-1][1] is None or runs[-1][1] not in [t for t, _ in runs]  # taken by the other
    assert told_right >= 20 - 2 * len(by_worker) - 2  # only the end of the batch may differ


def test_kernels_started_ahead_grade_exactly_like_kernels_started_on_demand(
        collected, graded, tmp_path):
    """The graded fixture used kernels started ahead (autograder/kernels/prestart.py); the same class
    graded with every kernel started on demand (COURSE_PRESTART=0) gets the same grades."""
    _, ahead_outcomes, ahead_rows, _ = graded
    assert sum(o.timings.get("kernels started ahead", 0) for o in ahead_outcomes.values()) >= 3
    course = fresh_copy(collected, tmp_path / "on-demand")
    os.environ["COURSE_PRESTART"] = "0"
    try:
        outcomes = grading.grade_class(course, [FIRST], workers=2, log=lambda m: None, bar=False)
    finally:
        del os.environ["COURSE_PRESTART"]
    assert sum(o.timings.get("kernels started ahead", 0) for o in outcomes) == 0
    rows = gradebook.all_grades(gradebook.gradebook_url(course), "gradients", [FIRST])
    assert rows and cell_grades(rows) == cell_grades(ahead_rows)


@pytest.mark.parametrize("argv", [["--help"], ["autograde", "--help"], ["instant", "--help"]])
def test_command_line_help(argv):
    out = subprocess.run([sys.executable, "-m", "autograder", *argv], env=CHILD_ENV,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage: python -m autograder" in out.stdout


def test_unknown_assignment_is_a_clear_error(graded):
    course = graded[0]
    out = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course),
                          "autograde", "99_nothing"], env=CHILD_ENV, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "99_nothing" in out.stderr
