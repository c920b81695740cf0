"""The adversarial batch: every case of tests/adversarial/cases.py graded in ONE batch mixed with
normal students, through the same functions as `make autograde` and the real nbgrader (every
kernel sandboxed by nbgrader_config.py). Each case gets its expected outcome; the normal students
get exactly what a batch without the hostile ones gives them; nothing reaches a server on the
host's loopback; no feedback file shows a hidden test's line or number.

The table (case, expected, score, flags) is printed and written to adversarial-table.md in the
scratch course (`pytest -s tests/test_adversarial.py` shows it).
"""
import html
import os
import re
import time

import nbformat
import pytest

from adversarial.cases import ASSIGNMENT, CASES, NORMAL
from autograder.reports import feedback
from autograder.safety import flags
from autograder.grading import batch as grading
from autograder.grading.gradebook import gradebook_url
from autograder.nbgrader_cli import nbgrader, nbgrader_checked
from autograder.notebooks import grade_id, grading_cells, is_solution, is_test, points, read
from conftest import copy_course, loopback_listener

CELL_TIMEOUT = "10"  # seconds: the infinite loop costs this, not the default 60


def _grade(course, students: dict):
    """Write each student's submission, autograde the class in one batch, return what it left."""
    release = read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    source = read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    for student, (filename, build, port, *beside) in students.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        made = build(release, source)
        if isinstance(made, bytes):
            (folder / filename).write_bytes(made)
        elif made is not None:
            text = nbformat.writes(made)
            (folder / filename).write_text(text.replace("PORT", str(port)), encoding="utf-8")
        (folder / "timestamp.txt").write_text("2026-11-23 12:00:00.000000 UTC")
        if beside and beside[0] is not None:
            beside[0](folder, course)  # links, a FIFO: files handed in beside the notebook
    started = time.monotonic()
    outcomes = grading.grade_class(course, [ASSIGNMENT], bar=False, log=lambda m: None)
    elapsed = time.monotonic() - started
    return {o.student: o for o in outcomes}, elapsed


def _new_course(tmp_path_factory, name):
    course = copy_course(tmp_path_factory.mktemp(name))
    nbgrader_checked("generate_assignment", ASSIGNMENT, "--force", course=course)
    return course


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    old = os.environ.get("COURSE_TIMEOUT")
    os.environ["COURSE_TIMEOUT"] = CELL_TIMEOUT
    listener, accepted = loopback_listener()
    port = listener.getsockname()[1]
    try:
        course = _new_course(tmp_path_factory, "adversarial")
        clean_course = _new_course(tmp_path_factory, "clean")
        students = {c.name: (c.filename, c.build, port, c.beside) for c in CASES}
        students.update({name: (f"{ASSIGNMENT}.ipynb", build, port) for name, build in NORMAL.items()})
        grades, elapsed = _grade(course, students)
        feedback.generate(course, ASSIGNMENT, sorted(grades))
        # after the hostile batch, not beside it: the grader forks its workers (2 already)
        clean, _ = _grade(clean_course, {n: (f"{ASSIGNMENT}.ipynb", b, port)
                                        for n, b in NORMAL.items()})
    finally:
        listener.close()
        if old is None:
            os.environ.pop("COURSE_TIMEOUT", None)
        else:
            os.environ["COURSE_TIMEOUT"] = old
    found = {}
    for row in flags.read_flags(course):
        found.setdefault(row["student_id"], []).append(row["reason"])
    table = _table(course, grades, found, elapsed)
    (course / "adversarial-table.md").write_text(table)
    print("\n" + table)
    return course, grades, clean, found, accepted


def _table(course, grades, found, elapsed) -> str:
    lines = [f"adversarial batch: {len(CASES)} cases + {len(NORMAL)} normal students graded in "
             f"{elapsed:.0f} s", "", "| case | expected | score | flags / problems |", "|---|---|---|---|"]
    for case in CASES:
        g = grades[case.name]
        notes = "; ".join(found.get(case.name, []) + g.problems) or "-"
        lines.append(f"| {case.name} | {case.outcome()} | {g.score:g} / {g.max_score:g} | "
                     f"{notes[:160]} |")
    for name in NORMAL:
        lines.append(f"| {name} (normal) | as alone | {grades[name].score:g} | "
                     f"{'; '.join(found.get(name, [])) or '-'} |")
    return "\n".join(lines)


def _expected_score(course, case, grades):
    nb = read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    full = sum(points(c) for c in nb.cells if is_test(c))
    if case.zero:
        return 0
    if case.same_as:
        return grades[case.same_as].score
    lost = set()
    for name in case.loses:
        tests = grading_cells(nb, name)
        lost |= {grade_id(t) for t in tests} if tests else {name}
    return full - sum(points(c) for c in nb.cells if grade_id(c) in lost)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_case_gets_its_expected_outcome(graded, case):
    course, grades, _, found, _ = graded
    grade = grades[case.name]
    reasons = found.get(case.name, [])
    if case.problem:
        assert grade.score == 0
        assert any(case.problem in p for p in grade.problems), grade.problems
        if not case.flag:
            return
    else:
        assert not grade.problems, grade.problems
    if case.flag:
        assert any(case.flag in r for r in reasons), reasons
        from nbgrader.api import Gradebook
        with Gradebook(gradebook_url(course)) as gb:
            assert gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, case.name).flagged
    else:
        assert not reasons, f"false flag: {reasons}"
    if not case.problem and (case.loses or case.same_as or case.zero or not case.flag):
        assert grade.score == _expected_score(course, case, grades)


def test_normal_students_get_what_a_batch_without_the_hostile_ones_gives(graded):
    _, grades, clean, found, _ = graded
    for name in NORMAL:
        assert grades[name].score == clean[name].score
        assert not grades[name].problems and name not in found
    assert clean["normal_solution"].score == clean["normal_solution"].max_score


def test_nothing_reached_the_hosts_loopback(graded):
    *_, accepted = graded
    assert not accepted


def _secrets(course):
    """Hidden test lines (long enough to mean something) and distinctive numbers in them that
    neither the release nor a correct answer shows."""
    source = read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    released = "\n".join(c.source for c in read(course / "release" / ASSIGNMENT /
                                                 f"{ASSIGNMENT}.ipynb").cells)
    # a correct answer shows its own values: numbers of the solutions are not secrets
    released += "\n".join(c.source for c in source.cells if is_solution(c))
    lines, numbers = set(), set()
    for cell in source.cells:
        if "### BEGIN HIDDEN TESTS" not in cell.source:
            continue
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        for line in (l.strip() for l in hidden.splitlines()):
            if len(line) >= 25 and not line.startswith("#") and line not in released:
                lines.add(line)
            numbers |= {n for n in re.findall(r"(?<![\w.])\d+\.\d{2,}(?![\w.])", line)
                        if n not in released}
    return lines, numbers


def test_feedback_never_shows_a_hidden_test_line_or_number(graded):
    course, *_ = graded
    lines, numbers = _secrets(course)
    assert lines and numbers, "the notebook has no hidden tests to keep secret"
    pages = sorted((course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) >= len(NORMAL) + 10
    for page in pages:
        # MathJax, put inside every page (feedback.inline_mathjax), is the library's own code,
        # the same for everyone: its constants (0.75, 1.25, ...) are not the tests'
        text = page.read_text(encoding="utf-8").replace(feedback.inline_mathjax(), "")
        text = re.sub(r"<img[^>]*>", "", text)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        for line in lines:
            assert line not in text, f"{page}: hidden test line shown: {line}"
            assert line[::-1] not in text, f"{page}: hidden test line shown reversed: {line}"
        shown = set(re.findall(r"(?<![\w.])\d+\.\d{2,}(?![\w.])", text))
        assert not (shown & numbers), f"{page}: hidden test numbers shown: {shown & numbers}"


def _outputs(course, student) -> str:
    nb = read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return "\n".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells
                     for o in c.get("outputs", []))


def test_plain_nbgrader_ran_every_kernel_sandboxed(graded):
    """The grader runs nbgrader's own autograde in the course directory: the attempts
    to read the source notebook and to reach the host's loopback failed inside the kernel."""
    course, *_ = graded
    assert "no source: [Errno 2] No such file or directory" in _outputs(course, "reads_source_notebook")
    assert "no network:" in _outputs(course, "network")
    assert "no gradebook:" in _outputs(course, "reads_gradebook")


def test_plain_nbgrader_autograde_survives_a_duplicated_cell(graded):
    course, grades, *_ = graded
    result = nbgrader("autograde", ASSIGNMENT, "--student=du*", "--force", course=course)
    assert result.returncode == 0, result.stdout + result.stderr
    from nbgrader.api import Gradebook
    with Gradebook(gradebook_url(course)) as gb:
        assert gb.find_submission(ASSIGNMENT, "duplicated_cell").score == grades[
            "normal_solution"].max_score


def test_a_hook_in_the_students_kernel_sees_no_hidden_test(graded):
    """hidden_source_printed's hook printed every cell its kernel ran: the student's own cells,
    and not one hidden test line (the tests run in the trusted kernel, autograder/safety/split.py)."""
    course, *_ = graded
    lines, _ = _secrets(course)
    printed = _outputs(course, "hidden_source_printed")
    assert "def relative_error" in printed  # the hook ran
    assert not [line for line in lines if line in printed]
    history = _outputs(course, "history_read")
    assert "citardauq_darg fed" in history  # it read the history, reversed
    assert not [line for line in lines if line[::-1] in history]


def test_links_and_fifos_handed_in_never_reached_the_kernel(graded):
    """What the kernel printed when it tried to read each link or FIFO: there was no such file."""
    course, *_ = graded
    for student, label in [("symlink_to_source", "source"), ("hardlink_to_gradebook", "gradebook"),
                           ("fifo_handed_in", "fifo")]:
        assert f"no {label}: [Errno 2] No such file or directory" in _outputs(course, student)


def test_scripts_aimed_at_the_instructors_browser_are_inert(graded):
    """The autograded notebook (what formgrader renders) and the feedback page hold no script
    or event handler of the student's; tests/test_formgrader_scripts.py opens it in Chromium."""
    course, *_ = graded
    student = "script_for_formgrader"
    nb = read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if "application/javascript" in o.get("data", {})]
    html_outputs = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(html_outputs) >= 2  # kept, escaped
    for text in html_outputs:
        assert "<script" not in text and "onerror" not in text.replace("onerror=&quot;", "")
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown" and "adversarial-" in c.source]
    assert len(markdown) == 1 and markdown[0].count("```") == 2  # shown as text
    page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    assert not [s for s in scripts if "-RAN" in s], "a student's script is live in the feedback"
    assert not re.search(r"<img[^>]*onerror", page)
