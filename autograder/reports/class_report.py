"""What the instructor reads after grading: CSV files, one HTML page, the terminal table.

    reports/scores.csv   a row per student and notebook: score, max, status, problems, flags
    reports/cells.csv    a row per student and graded cell: score, max, the diagnostic message
    reports/lms.csv      student_id, a column per assignment, total (for an LMS gradebook import)
    reports/report.html  one self-contained page (images inside): score distribution per notebook,
                         pass rate per graded cell, the class's most frequent diagnostic messages
                         per function, flagged and unreadable submissions, missing students

Scores come from the gradebook, messages from the autograded notebooks (the first line of each
failing test's error, which course.checks writes to name the mistake), problems and flags from
the grading ledger.
"""
import base64
import csv
import html
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading import gradebook

from autograder.grading import submissions
from autograder.grading.ledger import Ledger, Outcome
from autograder.notebooks import grade_id, is_solution, is_test

REPORTS_DIR = "reports"


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
class ClassResults:
    """Everything the reports show, gathered once."""
    assignments: list[str]
    outcomes: dict[tuple[str, str], Outcome]          # (assignment, student) -> outcome
    cells: list[CellRow] = field(default_factory=list)
    max_scores: dict[str, float] = field(default_factory=dict)
    roster: list[str] = field(default_factory=list)
    gradebook: str = ""

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


def gather(course: Path, assignments: list[str] | None = None) -> ClassResults:
    course = Path(course).resolve()
    from autograder.grading.batch import course_id
    url, cid = gradebook.gradebook_url(course), course_id(course)
    outcomes = {o.key: o for o in Ledger(course).all()}
    assignments = assignments or sorted({a for a, _ in outcomes}
                                        | set(submissions.assignments_with_submissions(course)))
    outcomes = {k: o for k, o in outcomes.items() if k[0] in assignments
                and (course / "submitted" / k[1] / k[0]).is_dir()}
    from autograder.grading.batch import tamper_flags
    for (assignment, student), outcome in outcomes.items():  # as they stand now
        outcome.flags = tamper_flags(course, assignment, student)
    grades = gradebook.all_grades(url, cid, assignments)
    results = ClassResults(assignments, outcomes,
                           max_scores=gradebook.max_scores(url, cid, assignments),
                           roster=sorted(set(gradebook.roster(url, cid))
                                         | {s for _, s in outcomes}),
                           gradebook=gradebook.printable_url(url))
    for assignment in assignments:
        answers = {}
        for name in submissions.released_notebooks(course, assignment):
            nb = nbformat.read(str(course / "release" / assignment / name), as_version=4)
            answers[Path(name).stem] = [grade_id(c) for c in nb.cells if is_solution(c)]
        for (a, student), (score, max_score, cells) in grades.items():
            if a != assignment or (a, student) not in outcomes:
                continue
            messages = {}
            for notebook in {c.notebook for c in cells}:
                path = course / "autograded" / student / assignment / f"{notebook}.ipynb"
                messages[notebook] = failure_messages(path)
            for c in cells:
                results.cells.append(CellRow(
                    student, assignment, c.notebook, c.cell,
                    answer_cell_of(c.cell, answers.get(c.notebook, [])),
                    c.score or 0.0, c.max_score, messages[c.notebook].get(c.cell, "")))
    return results


# --- CSV ---------------------------------------------------------------------------------

def notebook_scores(results: ClassResults) -> list[dict]:
    """A row per student and notebook (a submission that could not be graded at all keeps one
    row per released notebook, scored 0)."""
    per_notebook = defaultdict(lambda: [0.0, 0.0])
    for row in results.cells:
        totals = per_notebook[(row.assignment, row.student, row.notebook)]
        totals[0] += row.score
        totals[1] += row.max_score
    rows = []
    for (assignment, student), outcome in sorted(results.outcomes.items()):
        notebooks = sorted(n for a, s, n in per_notebook if (a, s) == (assignment, student))
        for notebook in notebooks or [assignment]:
            score, max_score = per_notebook.get((assignment, student, notebook),
                                                (0.0, results.max_scores.get(assignment, 0.0)))
            rows.append({"student_id": student, "assignment": assignment, "notebook": notebook,
                         "score": f"{score:g}", "max_score": f"{max_score:g}",
                         "status": outcome.status,
                         "problems": " | ".join(outcome.problems + outcome.notes),
                         "flags": " | ".join(outcome.flags)})
    return rows


def write_csvs(results: ClassResults, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.csv" for name in ("scores", "cells", "lms")}
    _write(paths["scores"], ["student_id", "assignment", "notebook", "score", "max_score",
                             "status", "problems", "flags"], notebook_scores(results))
    _write(paths["cells"], ["student_id", "assignment", "notebook", "cell", "function", "score",
                            "max_score", "message"],
           [{"student_id": r.student, "assignment": r.assignment, "notebook": r.notebook,
             "cell": r.cell, "function": r.function, "score": f"{r.score:g}",
             "max_score": f"{r.max_score:g}", "message": r.message}
            for r in sorted(results.cells, key=lambda r: (r.student, r.assignment, r.notebook,
                                                           r.cell))])
    lms = []
    for student in results.roster:
        row, total = {"student_id": student}, 0.0
        for assignment in results.assignments:
            outcome = results.outcomes.get((assignment, student))
            score = outcome.score if outcome else 0.0
            row[assignment] = f"{score:g}"
            total += score
        row["total"] = f"{total:g}"
        lms.append(row)
    _write(paths["lms"], ["student_id", *results.assignments, "total"], lms)
    return paths


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


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
    problems = [[o.student, o.assignment, o.status, p] for o in results.outcomes.values()
                for p in o.problems + o.notes]
    parts.append("<h2>Submissions with problems</h2>" + (
        _table(["student", "assignment", "status", "problem"], sorted(problems)) if problems
        else "<p>Every submission was graded without a problem.</p>"))
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
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading report"
                    f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>",
                    encoding="utf-8")
    return path


def write_all(course: Path, assignments: list[str] | None = None) -> dict[str, Path]:
    """Every report into <course>/reports/; returns {name: path}."""
    results = gather(course, assignments)
    folder = Path(course) / REPORTS_DIR
    paths = write_csvs(results, folder)
    paths["html"] = write_html(results, folder / "report.html")
    return paths


# --- the terminal ------------------------------------------------------------------------

def format_table(outcomes: list[Outcome], notes: dict | None = None) -> str:
    """Student x assignment: score / max, and beneath it every problem and flag by student id."""
    assignments = sorted({o.assignment for o in outcomes})
    students = sorted({o.student for o in outcomes})
    cell = {(o.student, o.assignment): o for o in outcomes}
    width = max([len("student")] + [len(s) for s in students]) + 2
    header = "student".ljust(width) + "".join(a.ljust(18) for a in assignments)
    if notes:
        header += "submission"
    lines = [header, "-" * len(header)]
    for student in students:
        row = student.ljust(width)
        for a in assignments:
            o = cell.get((student, a))
            text = "-" if o is None else f"{o.score:g} / {o.max_score:g}" + (
                " !" if o.problems or o.flags or o.notes else "")
            row += text.ljust(18)
        if notes:
            row += notes.get(student, "")
        lines.append(row)
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
