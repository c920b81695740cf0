"""The grading command line: `python -m autograder COMMAND` (`make autograde`, `make feedback`).

    autograde [ASSIGNMENT ...]  grade every collected submission (all assignments by default) with
                                N workers; resumes where a killed run stopped; writes reports/
    feedback  [ASSIGNMENT ...]  feedback HTML without hidden tests into feedback/
    report    [ASSIGNMENT ...]  rewrite reports/ and grades.csv from the gradebook (every
                                assignment in it; the table shows ASSIGNMENT ..., default all)
    instant   NOTEBOOK          grade one notebook now, nothing stored (a student's "grade me")
    links     --hub URL --repo URL [--branch B]
                                an nbgitpuller link per release notebook (JupyterHub)
"""
import argparse
import json
import os
import sys
from pathlib import Path

from autograder.nbgrader_cli import COURSE_ROOT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The gradebook is nbgrader_config.py's (COURSE_DB_URL, else gradebook.db). "
               "`python -m autograder COMMAND --help` for each command's options.")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT,
                        help="the nbgrader course directory (default: this repository)")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("autograde", help="grade every collected submission",
                                description="Grade submitted/ with nbgrader's autograde in "
                                "parallel workers. Run it again after a crash or kill: it grades "
                                "only what is not recorded as done.")
    grade.add_argument("assignments", nargs="*", help="default: every assignment in submitted/")
    grade.add_argument("-j", "--workers", type=int, default=None,
                       help="worker processes (default: the number of cores)")
    grade.add_argument("--shard", default=None, metavar="i/N",
                       help="grade only share i of N (0 <= i < N), the same share on every "
                       "machine; 'index/N' reads i from JOB_COMPLETION_INDEX (Kubernetes "
                       "Indexed Job). Reports are then left to a final `report` run.")
    grade.add_argument("--db", default=None, metavar="URL",
                       help="SQLAlchemy URL of the gradebook (sets COURSE_DB_URL), e.g. "
                       "postgresql://grader@db/gradebook")
    grade.add_argument("--regrade", action="store_true",
                       help="grade everything again, even what a previous run finished")
    grade.add_argument("--retry-failed", action="store_true",
                       help="grade again the submissions a previous run could not grade")
    grade.add_argument("--task-timeout", type=float, default=None, metavar="SECONDS",
                       help="stop a submission after this long (default 1800)")
    grade.add_argument("--no-reports", action="store_true", help="do not write reports/")
    _student_option(grade, "grade only this student's submissions (regraded even if recorded)")
    grade.add_argument("--unsandboxed", action="store_true",
                       help="grade even where no sandbox can start (students' code then runs "
                       "with your rights; the reports say so)")

    for name, text in (("feedback", "write feedback HTML for the graded submissions"),
                       ("report", "write reports/ and grades.csv from the gradebook")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("assignments", nargs="*", help="default: every assignment in submitted/")
        sub.add_argument("--db", default=None, metavar="URL", help="as for autograde")
        _student_option(sub, "only this student's feedback" if name == "feedback" else
                        "show only this student in the table (reports/ always cover the class)")
        if name == "report":
            _missing_option(sub)
    _missing_option(grade)

    instant = commands.add_parser("instant", help="grade one notebook now, nothing stored",
                                  description="Run one notebook through the hidden tests the "
                                  "way autograde does and print its score per graded cell.")
    instant.add_argument("notebook", type=Path)
    instant.add_argument("--assignment", default=None,
                         help="default: the notebook's name without .ipynb")
    instant.add_argument("--json", action="store_true", help="print the result as JSON")

    pull = commands.add_parser("links", help="an nbgitpuller link per release notebook",
                               description="Print, per release notebook, the nbgitpuller link "
                               "that opens it in JupyterLab on a JupyterHub, cloned from the "
                               "students' repository (`make student-repo`, published at --repo).")
    pull.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example.edu")
    pull.add_argument("--repo", required=True, help="the students' repository, as git clones it")
    pull.add_argument("--branch", default=None, help="default: the repository's default branch")
    return parser


def _missing_option(parser) -> None:
    parser.add_argument("--missing", choices=["zero", "empty"], default="zero",
                        help="what a student on the roster without a submission gets in the "
                             "LMS files: 0 (as nbgrader's grades.csv; default) or an empty cell "
                             "(the LMS leaves the grade alone); the files' names say which")


def _student_option(parser, text: str) -> None:
    parser.add_argument("--student", action="append", default=None, metavar="ID",
                        help=f"{text} (repeat for several students)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    course = args.course.resolve()
    if getattr(args, "db", None):
        os.environ["COURSE_DB_URL"] = args.db
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.command == "instant":
        return _instant(course, args)
    if args.command == "links":
        return _links(course, args)

    from autograder.grading import submissions
    if args.command == "report":
        return _report(course, args.assignments, args.student, args.missing)
    chosen = args.assignments or submissions.assignments_with_submissions(course)
    if not chosen:
        print("nothing in submitted/: collect submissions first (nbgrader collect ASSIGNMENT)")
        return 1
    if args.command == "autograde":
        return _autograde(course, chosen, args)
    return _feedback(course, chosen, args.student)


def _feedback(course: Path, chosen: list[str], students: list[str] | None) -> int:
    """Feedback for every submission of `chosen` the gradebook holds (of `students` only, if
    given), and a feedback page for each one that could not be read (autograder/reports/feedback.py)."""
    from autograder.reports import feedback
    written = problems = 0
    for assignment in chosen:
        result = feedback.generate(course, assignment, students=students)
        written += len(result.written)
        for problem in result.problems:
            problems += 1
            print(f"{assignment}: {problem}")
    print(f"feedback for {written} submissions written to {course / 'feedback'}"
          + (f"; {problems} problems above" if problems else ""))
    return 0


def _autograde(course: Path, chosen: list[str], args) -> int:
    from autograder.grading import batch as grading
    from autograder.safety import sandbox
    if args.unsandboxed:
        os.environ[sandbox.UNSANDBOXED_ENV] = "1"  # the workers' kernels inherit it
    elif not sandbox.available():
        print(f"refusing to grade: {sandbox.refusal_message()}", file=sys.stderr)
        return 3
    try:
        shard = grading.parse_shard(args.shard or os.environ.get("AUTOGRADER_SHARD", "0/1"))
        outcomes = grading.grade_class(
            course, chosen, workers=args.workers, shard=shard,
            regrade=args.regrade or bool(args.student),  # as `nbgrader autograde --student`
            retry_failed=args.retry_failed, students=args.student,
            task_timeout=args.task_timeout or grading.DEFAULT_TASK_TIMEOUT, log=_log)
    except ValueError as error:  # a wrong argument
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # no sandbox, a gradebook nbgrader could not prepare
        print(f"error: {error}", file=sys.stderr)
        return 1
    if sandbox.unsandboxed_allowed():
        _log(f"! graded WITHOUT a sandbox ({sandbox.UNSANDBOXED_ENV}=1 / --unsandboxed): "
             "students' code ran with your rights")
    _log(f"done: {outcomes.summary()}")
    if shard[1] > 1:
        _log(f"shard {shard[0]}/{shard[1]} finished; once every shard has, "
             f"`python -m autograder report` writes the class's reports")
    elif not args.no_reports:
        return _report(course, chosen, args.student, args.missing)
    return 0


def _report(course: Path, chosen: list[str], students: list[str] | None = None,
            missing: str = "zero") -> int:
    """Write reports/ and grades.csv for the whole gradebook; print the table of `chosen`
    assignments (default: all) and `students` (default: all)."""
    from autograder.reports import class_report as reports
    results = reports.gather(course)
    unknown = sorted(set(chosen) - set(results.assignments))
    if unknown:
        print(f"error: {unknown[0]!r} is neither in the gradebook nor in submitted/",
              file=sys.stderr)
        return 2
    if not results.assignments:
        print("nothing to report: the gradebook holds no assignment and submitted/ is empty")
        return 1
    shown = [r for r in results.outcomes.values() if (not chosen or r.assignment in chosen)
             and (not students or r.student in students)]
    print(reports.format_table(shown))
    folder = course / reports.REPORTS_DIR
    paths = reports.write_csvs(results, folder, missing)
    paths["html"] = reports.write_html(results, folder / "report.html")
    paths["nbgrader"] = reports.export_nbgrader_csv(course)
    print(f"\nreports cover every assignment of the gradebook "
          f"({', '.join(results.assignments)}), scores as in nbgrader's grades.csv")
    width = max(len(name) for name in paths)
    for name, path in paths.items():
        print(f"{name:{width}s}  {path}")
    return 0


def _instant(course: Path, args) -> int:
    from autograder.grading import instant
    if not args.notebook.is_file():
        print(f"error: no notebook at {args.notebook}", file=sys.stderr)
        return 2
    try:
        result = instant.grade_notebook(args.notebook, args.assignment, course=course)
    except (ValueError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=1))
    else:
        print(result.format())
    return 0


def _links(course: Path, args) -> int:
    from autograder.hub import links as hub_links
    try:
        found = hub_links.links(args.hub, args.repo, args.branch, root=course)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not found:
        print(f"error: no release notebooks in {course / 'release'}: run `make release`",
              file=sys.stderr)
        return 1
    for link in found:
        print(f"{link.notebook}\t{link.url}")
    return 0


def _log(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
