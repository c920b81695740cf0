"""What the instructor reads after grading: CSV files, one HTML page, the terminal table.

    reports/scores.csv   a row per student and notebook: raw score, late penalty, score, max,
                         status, problems, flags
    reports/cells.csv    a row per student and graded cell: score, max, the diagnostic message
    reports/lms.csv      student_id, a column per assignment, total
    reports/canvas-missing-zero.csv, moodle-missing-zero.csv
                         the grades as Canvas's and Moodle's gradebook imports read them (a student
                         without a submission: 0, or with --missing empty an empty cell, which
                         both LMSs skip; the names say which)
    reports/report.html  one self-contained page (images inside): every student's scores, score
                         distribution per notebook, pass rate per graded cell, the class's most
                         frequent diagnostic messages per function, flagged and unreadable
                         submissions, the files handed in beside the notebooks, missing students

The gradebook is the one truth. Every score is read from nbgrader's gradebook through nbgrader's
API (autograder/grading/gradebook.py `class_grades`), whoever graded: this course's grader, plain
`nbgrader autograde`, formgrader or a manual grade; a late penalty and a manual grade count exactly
as in nbgrader's own `grades.csv` (score = max(0, raw score - late penalty)). The reports always
cover every assignment and student of the gradebook, so a report written after grading one
assignment keeps the others' columns. The grading ledger only adds what the gradebook cannot
know: that a submission could not be graded, and why. Messages come from the autograded notebooks
(the first line of each failing test's error, which course.checks writes to name the mistake),
flags from flags.csv.
"""
import base64
import csv
import html
import io
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading import gradebook, submissions
from autograder.grading.gradebook import NotebookGrades
from autograder.grading.ledger import Ledger
from autograder.notebooks import grade_id, is_solution, is_test
from autograder.safety import links

REPORTS_DIR = "reports"
# report.html runs no script at all: students' messages and file names are escaped, and should one
# slip through, the browser refuses to run it or to fetch anything (its images are inside it).
NO_SCRIPT = ("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
             "img-src data:; style-src 'unsafe-inline'\">")

# Statuses of a submission in the reports.
GRADED, FAILED, NOT_GRADED = "graded", "failed", "not graded"


@dataclass
class CellRow:
    student: str
    assignment: str
    notebook: str
    cell: str
    function: str
    score: float
    max_score: float
    message: str = ""


@dataclass
class SubmissionRow:
    """One submission as the reports show it: the gradebook's numbers, and what the instructor
    must know about it (problems, notes, flags). `score` is after the late penalty."""
    assignment: str
    student: str
    status: str                     # GRADED, FAILED (the grader could not grade it all), NOT_GRADED
    score: float = 0.0
    raw_score: float = 0.0
    late_penalty: float = 0.0
    max_score: float = 0.0
    needs_manual_grade: bool = False
    notebooks: list[NotebookGrades] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    sandboxed: bool = True
    handed_in: list[str] = field(default_factory=list)  # files beside the notebooks, as lstat sees them

    @property
    def key(self) -> tuple[str, str]:
        return self.assignment, self.student


@dataclass
class ClassResults:
    """Everything the reports show, gathered once from the gradebook."""
    assignments: list[str]
    outcomes: dict[tuple[str, str], SubmissionRow]     # (assignment, student) -> submission
    cells: list[CellRow] = field(default_factory=list)
    max_scores: dict[str, float] = field(default_factory=dict)
    roster: list[str] = field(default_factory=list)
    gradebook: str = ""
    names: dict[str, str] = field(default_factory=dict)   # student id -> "Last, First" if known

    def missing(self, assignment: str) -> list[str]:
        """Students the gradebook knows with no submission of `assignment`."""
        return [s for s in self.roster if (assignment, s) not in self.outcomes]


def answer_cell_of(test_id: str, answer_ids: list[str]) -> str:
    """The answer cell a test cell grades, by the course's naming (test_<answer>[_<property>])."""
    matches = [a for a in answer_ids if test_id == f"test_{a}" or test_id.startswith(f"test_{a}_")]
    return max(matches, key=len) if matches else test_id


def failure_messages(path: Path) -> dict[str, str]:
    """{test cell grade id: first line of its error} from an autograded notebook."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return {}
    messages = {}
    for cell in nb.cells:
        if not is_test(cell):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = (str(output.get("evalue", "")).strip().splitlines() or [""])[0]
                name = output.get("ename", "Error")
                messages[grade_id(cell)] = (f"{name}: {text}" if text else name)[:300]
                break
    return messages


def _submitted(course: Path) -> set[tuple[str, str]]:
    return {(a, s) for a in submissions.assignments_with_submissions(course)
            for s in submissions.submitted_students(course, a)}


def _what_to_know(course: Path, key: tuple[str, str], in_gradebook: bool,
                  ledger: Ledger, where: str) -> tuple[str, list[str], list[str], bool]:
    """(status, problems, notes, sandboxed) of one submission. The ledger's record counts only
    if it is about this very submission (same files, same gradebook); otherwise what is wrong
    with it is worked out again from the files."""
    from autograder.grading.batch import kernel_deaths
    assignment, student = key
    folder = submissions.submission_folder(course, assignment, student)
    record = ledger.read(assignment, student)
    if (record is not None and record.gradebook == where and folder.is_dir()
            and record.fingerprint == submissions.fingerprint(course, assignment, student)):
        status = record.status if in_gradebook or record.status != GRADED else NOT_GRADED
        return status, list(record.problems), list(record.notes), record.sandboxed
    problems = submissions.check_submission(course, assignment, student) if folder.is_dir() else []
    return (GRADED if in_gradebook else NOT_GRADED, problems,
            kernel_deaths(course, assignment, student), True)


def handed_in(course: Path, assignment: str, student: str) -> list[str]:
    """Every file of a submission folder but its released notebooks and timestamp.txt, with its
    size, or what it is if it is a link or a special file (never read, not given to the kernel)."""
    folder = submissions.submission_folder(course, assignment, student)
    if not os.path.lexists(folder):
        return []
    skip = {*submissions.released_notebooks(course, assignment), "timestamp.txt"}
    return [str(entry) for entry in links.handed_in(folder, skip=skip)]


def _answer_cells(course: Path, assignment: str) -> dict[str, list[str]]:
    """{notebook: grade ids of its answer cells} from the release."""
    answers = {}
    for name in submissions.released_notebooks(course, assignment):
        nb = nbformat.read(str(course / "release" / assignment / name), as_version=4)
        answers[Path(name).stem] = [grade_id(c) for c in nb.cells if is_solution(c)]
    return answers


def gather(course: Path, students: list[str] | None = None) -> ClassResults:
    """The class as the gradebook holds it (every assignment, student and submission), with what
    the instructor must know about each submission; `students`: only these students' rows."""
    course = Path(course).resolve()
    from autograder.grading.batch import course_id, tamper_flags
    url, cid = gradebook.gradebook_url(course), course_id(course)
    where = gradebook.printable_url(url)
    grades = gradebook.class_grades(url, cid)
    submitted = _submitted(course)
    assignments = sorted(set(grades.assignments) | {a for a, _ in submitted})
    wanted = (lambda s: True) if students is None else set(students).__contains__
    ledger = Ledger(course)
    results = ClassResults(assignments, {}, max_scores=dict(grades.assignments),
                           roster=sorted(s for s in set(grades.students) | {s for _, s in submitted}
                                         if wanted(s)),
                           gradebook=where, names=grades.names)
    answers = {a: _answer_cells(course, a) for a in assignments}
    for key in sorted((set(grades.submissions) | submitted), key=lambda k: (k[1], k[0])):
        if not wanted(key[1]):
            continue
        sub = grades.submissions.get(key)
        status, problems, notes, sandboxed = _what_to_know(course, key, sub is not None,
                                                           ledger, where)
        row = SubmissionRow(*key, status, problems=problems, notes=notes,
                            flags=tamper_flags(course, *key), sandboxed=sandboxed,
                            max_score=grades.assignments.get(key[0], 0.0),
                            handed_in=handed_in(course, *key))
        if sub is not None:
            row.score, row.raw_score, row.late_penalty = sub.score, sub.raw_score, sub.late_penalty
            row.max_score, row.needs_manual_grade = sub.max_score, sub.needs_manual_grade
            row.notebooks = sub.notebooks
            results.cells += _cell_rows(course, row, answers[key[0]])
        results.outcomes[key] = row
    return results


def _cell_rows(course: Path, row: SubmissionRow, answers: dict[str, list[str]]) -> list[CellRow]:
    found = []
    for notebook in row.notebooks:
        messages = failure_messages(course / "autograded" / row.student / row.assignment
                                    / f"{notebook.name}.ipynb")
        for c in notebook.cells:
            found.append(CellRow(row.student, row.assignment, notebook.name, c.cell,
                                 answer_cell_of(c.cell, answers.get(notebook.name, [])),
                                 c.score, c.max_score, messages.get(c.cell, "")))
    return found


# --- CSV ---------------------------------------------------------------------------------

def _number(value: float) -> str:
    return f"{value:g}"


def notebook_scores(results: ClassResults) -> list[dict]:
    """A row per student and notebook, nbgrader's numbers (a submission the gradebook does not
    hold keeps one row per released notebook, or one for the assignment, scored 0)."""
    rows = []
    for (assignment, student), sub in sorted(results.outcomes.items(),
                                             key=lambda kv: (kv[0][1], kv[0][0])):
        common = {"student_id": student, "assignment": assignment, "status": sub.status,
                  "needs_manual_grade": "yes" if sub.needs_manual_grade else "",
                  "problems": " | ".join(sub.problems + sub.notes),
                  "flags": " | ".join(sub.flags)}
        for nb in sub.notebooks:
            rows.append({**common, "notebook": nb.name, "raw_score": _number(nb.raw_score),
                         "late_penalty": _number(nb.late_penalty), "score": _number(nb.score),
                         "max_score": _number(nb.max_score)})
        if not sub.notebooks:
            rows.append({**common, "notebook": assignment, "raw_score": "0", "late_penalty": "0",
                         "score": "0", "max_score": _number(sub.max_score)})
    return rows


SCORE_COLUMNS = ["student_id", "assignment", "notebook", "raw_score", "late_penalty", "score",
                 "max_score", "needs_manual_grade", "status", "problems", "flags"]
CELL_COLUMNS = ["student_id", "assignment", "notebook", "cell", "function", "score", "max_score",
                "message"]


def lms_rows(results: ClassResults, missing: str = "0") -> list[dict]:
    """student_id, a column per assignment (nbgrader's score, after the late penalty), total.
    A student on the roster without a submission gets `missing` ("0" as in nbgrader's
    grades.csv, or "" for an empty cell)."""
    rows = []
    for student in results.roster:
        row, total = {"student_id": student}, 0.0
        for assignment in results.assignments:
            sub = results.outcomes.get((assignment, student))
            if sub is None:
                row[assignment] = missing
                continue
            row[assignment] = _number(sub.score)
            total += sub.score
        row["total"] = _number(total)
        rows.append(row)
    return rows


# --- LMS imports ------------------------------------------------------------------------------
# Canvas: Grades > Import takes the layout of its own export: Student, ID, SIS User ID, SIS Login ID,
# Section, then a column per assignment (a name Canvas does not know makes a new assignment), and a
# second row "Points Possible". It matches a row to a student by ID, SIS User ID or SIS Login ID;
# a blank grade changes nothing. The roster's ids go into SIS Login ID (the login a JupyterHub
# and nbgrader know a student by).
# Moodle: Grades > Import > CSV file: one column is mapped to a user identifier (here "username")
# and each other column to a grade item; an empty cell is skipped.

MISSING = {"zero": "0", "empty": ""}   # what a student without a submission gets
CANVAS_IDS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"


def lms_file_names(missing: str) -> dict[str, str]:
    """The LMS files' names say what a missing submission is: canvas-missing-zero.csv, ..."""
    return {"canvas": f"canvas-missing-{missing}.csv", "moodle": f"moodle-missing-{missing}.csv"}


def canvas_rows(results: ClassResults, missing: str = "zero") -> tuple[list[str], list[list]]:
    scores = lms_rows(results, MISSING[missing])
    header = CANVAS_IDS + results.assignments
    rows = [[POINTS_POSSIBLE, "", "", "", ""]
            + [_number(results.max_scores.get(a, 0.0)) for a in results.assignments]]
    for row in scores:
        student = row["student_id"]
        rows.append([results.names.get(student) or student, "", "", student, ""]
                    + [row[a] for a in results.assignments])
    return header, rows


def moodle_rows(results: ClassResults, missing: str = "zero") -> tuple[list[str], list[list]]:
    header = ["username", *results.assignments]
    return header, [[row["student_id"]] + [row[a] for a in results.assignments]
                    for row in lms_rows(results, MISSING[missing])]


def write_lms(results: ClassResults, folder: Path, missing: str = "zero") -> dict[str, Path]:
    """Canvas's and Moodle's import files, named after what a missing submission got; the other
    choice's files, if an earlier report wrote them, are removed so that one truth remains."""
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(MISSING)}, not {missing!r}")
    folder.mkdir(parents=True, exist_ok=True)
    for other in MISSING:
        if other != missing:
            for name in lms_file_names(other).values():
                (folder / name).unlink(missing_ok=True)
    paths = {}
    for lms, build in (("canvas", canvas_rows), ("moodle", moodle_rows)):
        header, rows = build(results, missing)
        paths[lms] = folder / lms_file_names(missing)[lms]
        _write(paths[lms], header, [dict(zip(header, row)) for row in rows])
    return paths


def write_csvs(results: ClassResults, folder: Path, missing: str = "zero") -> dict[str, Path]:
    """scores.csv, cells.csv, lms.csv and the Canvas and Moodle imports into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.csv" for name in ("scores", "cells", "lms")}
    _write(paths["scores"], SCORE_COLUMNS, notebook_scores(results))
    _write(paths["cells"], CELL_COLUMNS,
           [{"student_id": r.student, "assignment": r.assignment, "notebook": r.notebook,
             "cell": r.cell, "function": r.function, "score": _number(r.score),
             "max_score": _number(r.max_score), "message": r.message}
            for r in sorted(results.cells, key=lambda r: (r.student, r.assignment, r.notebook,
                                                           r.cell))])
    _write(paths["lms"], ["student_id", *results.assignments, "total"],
           lms_rows(results, MISSING[missing]))
    paths.update(write_lms(results, folder, missing))
    return paths


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # OWASP's CSV injection guidance


def spreadsheet_safe(value):
    """A text cell a spreadsheet will not run as a formula: text starting with = + - @ tab or CR
    (a student's message, id or file name) gets a leading apostrophe; numbers stay numbers."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    """A CSV file, replaced whole (never half written), every text cell spreadsheet_safe."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([spreadsheet_safe(c) for c in columns])
        writer.writerows([[spreadsheet_safe(row.get(c, "")) for c in columns] for row in rows])
    tmp.replace(path)


# --- HTML --------------------------------------------------------------------------------

def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _score_histogram(results: ClassResults, assignment: str) -> str:
    import matplotlib.pyplot as plt
    scores = [o.score for (a, _), o in results.outcomes.items() if a == assignment]
    top = results.max_scores.get(assignment) or max(scores + [1])
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, top), color="#4c72b0",
            edgecolor="white")
    ax.set_xlabel(f"score (out of {top:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"{assignment}: score distribution ({len(scores)} submissions)")
    return _png(fig)


def pass_rates(results: ClassResults, assignment: str) -> list[tuple[str, float, int]]:
    """(cell, share of submissions with full points, submissions) per graded cell, in order."""
    full, seen = Counter(), Counter()
    for row in results.cells:
        if row.assignment == assignment and row.max_score > 0:
            seen[row.cell] += 1
            full[row.cell] += row.score >= row.max_score
    return [(cell, full[cell] / seen[cell], seen[cell]) for cell in seen]


def _pass_rate_chart(results: ClassResults, assignment: str) -> str:
    import matplotlib.pyplot as plt
    rates = pass_rates(results, assignment)
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(rates) + 1.0))
    names = [cell for cell, _, _ in rates][::-1]
    values = [100 * rate for _, rate, _ in rates][::-1]
    ax.barh(names, values, color=["#55a868" if v >= 70 else "#dd8452" if v >= 40 else "#c44e52"
                                  for v in values])
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions with full points (%)")
    ax.set_title(f"{assignment}: pass rate per graded cell")
    ax.tick_params(axis="y", labelsize=7)
    return _png(fig)


def common_mistakes(results: ClassResults, assignment: str, top: int = 5
                    ) -> dict[str, list[tuple[str, int]]]:
    """{function: [(diagnostic message, how many submissions got it)]}, most frequent first."""
    seen = {(r.function, r.message, r.student) for r in results.cells
            if r.assignment == assignment and r.message}
    per_function = defaultdict(Counter)
    for function, message, _ in seen:
        per_function[function][message] += 1
    return {f: c.most_common(top) for f, c in sorted(per_function.items())}


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html(results: ClassResults, path: Path) -> Path:
    parts = [f"<h1>Grading report</h1><p>{len(results.roster)} students, "
             f"{len(results.outcomes)} submissions of {', '.join(results.assignments)}; "
             f"gradebook {html.escape(results.gradebook)}</p>"]
    bare = [o for o in results.outcomes.values() if not o.sandboxed]
    if bare:
        parts.append(f"<p><b>{len(bare)} submissions were graded WITHOUT a sandbox</b> "
                     "(COURSE_UNSANDBOXED=1): their code ran with the grader's rights.</p>")
    flagged = [[o.student, o.assignment, f] for o in results.outcomes.values() for f in o.flags]
    parts.append("<h2>Flagged submissions</h2>" + (
        _table(["student", "assignment", "reason"], sorted(flagged)) if flagged
        else "<p>No submission was flagged by the tamper checks.</p>"))
    parts.append("<h2>Scores</h2><p>nbgrader's score after any late penalty, as in its "
                 "grades.csv; - : no submission.</p>" + _table(
                     ["student", *results.assignments],
                     [[student] + [_score_text(results.outcomes.get((a, student)))
                                   for a in results.assignments] for student in results.roster]))
    problems = [[o.student, o.assignment, o.status, p] for o in results.outcomes.values()
                for p in o.problems + o.notes]
    parts.append("<h2>Submissions with problems</h2>" + (
        _table(["student", "assignment", "status", "problem"], sorted(problems)) if problems
        else "<p>Every submission was graded without a problem.</p>"))
    beside = [[o.student, o.assignment, f] for o in results.outcomes.values() for f in o.handed_in]
    parts.append("<h2>Files handed in beside the notebooks</h2><p>The student's kernel gets the "
                 "plain files at the top of the folder; a link or a special file is never read. "
                 "The hidden tests' trusted side never imports any of them.</p>" + (
                     _table(["student", "assignment", "file"], sorted(beside)) if beside
                     else "<p>No submission holds anything but its notebooks.</p>"))
    for assignment in results.assignments:
        graded = [o for (a, _), o in results.outcomes.items() if a == assignment]
        if not graded:
            continue
        mean = sum(o.score for o in graded) / len(graded)
        parts.append(f"<h2>{html.escape(assignment)}</h2><p>{len(graded)} submissions, mean "
                     f"{mean:.1f} / {results.max_scores.get(assignment, 0):g}</p>")
        parts.append(f'<img alt="score distribution of {assignment}" '
                     f'src="{_score_histogram(results, assignment)}">')
        parts.append(f'<img alt="pass rate per graded cell of {assignment}" '
                     f'src="{_pass_rate_chart(results, assignment)}">')
        mistakes = common_mistakes(results, assignment)
        rows = [[function, count, message] for function, found in mistakes.items()
                for message, count in found]
        parts.append("<h3>Most frequent diagnostic messages per function</h3>" + (
            _table(["function", "submissions", "message"], rows) if rows
            else "<p>No test failed.</p>"))
        missing = results.missing(assignment)
        parts.append("<h3>Missing students</h3><p>" + (
            html.escape(", ".join(missing)) if missing
            else "Every student on the roster submitted.") + "</p>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
             "padding:.2em .5em;font-size:90%;text-align:left;vertical-align:top}"
             "img{display:block;margin:.5em 0;max-width:100%}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'>{NO_SCRIPT}<title>Grading report"
                    f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>",
                    encoding="utf-8")
    return path


def _score_text(sub: SubmissionRow | None) -> str:
    if sub is None:
        return "-"
    text = f"{sub.score:g} / {sub.max_score:g}"
    if sub.late_penalty:
        text += f" (late: {sub.raw_score:g} - {sub.late_penalty:g})"
    if sub.needs_manual_grade:
        text += " (needs manual grading)"
    return text


def write_all(course: Path, *, students: list[str] | None = None, missing: str = "zero"
              ) -> dict[str, Path]:
    """Every report into <course>/reports/, for the whole gradebook; returns {name: path}."""
    results = gather(course, students)
    folder = Path(course) / REPORTS_DIR
    paths = write_csvs(results, folder, missing)
    paths["html"] = write_html(results, folder / "report.html")
    return paths


# --- the terminal ------------------------------------------------------------------------

def format_table(outcomes: list, notes: dict | None = None) -> str:
    """Student x assignment: score / max, and beneath it every problem and flag by student id.
    `outcomes`: anything with assignment, student, score, max_score, problems, notes, flags
    (SubmissionRow from the gradebook, or the grader's Outcome). Columns are as wide as their
    widest entry."""
    assignments = sorted({o.assignment for o in outcomes})
    students = sorted({o.student for o in outcomes})
    cell = {(o.student, o.assignment): o for o in outcomes}
    texts = {key: f"{o.score:g} / {o.max_score:g}" + (
        " !" if o.problems or o.flags or o.notes else "") for key, o in cell.items()}
    columns = [("student", students)] + [
        (a, [texts.get((s, a), "-") for s in students]) for a in assignments]
    widths = [max(len(name), *(len(v) for v in values)) if values else len(name)
              for name, values in columns]
    if notes:
        columns.append(("submission", [notes.get(s, "") for s in students]))
        widths.append(0)

    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    header = line([name for name, _ in columns])
    lines = [header, "-" * len(header)]
    lines += [line([values[i] for _, values in columns]) for i in range(len(students))]
    reported = [o for o in outcomes if o.problems or o.flags or o.notes]
    if reported:
        lines += ["", "! reported:"]
        lines += [f"  {o.student} / {o.assignment}: {p}" for o in reported
                  for p in o.problems + o.notes + [f"flagged: {f}" for f in o.flags]]
    return "\n".join(lines)


def export_nbgrader_csv(course: Path) -> Path:
    """`nbgrader export` to grades.csv in the course directory (nbgrader's own format)."""
    from autograder.nbgrader_cli import nbgrader
    target = Path(course) / "grades.csv"
    result = nbgrader("export", f"--to={target}", course=Path(course))
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{result.stdout}{result.stderr}")
    return target
