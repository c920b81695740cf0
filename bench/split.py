"""Benchmark: what split execution costs, and that it changes no honest grade.

    python -m bench.split [--students 6] [--assignments 01_gradients ...]

A class of N students x the chosen notebooks (solution, blank, partial, two typical mistakes and
an answer cell that fails at import, in turn; as bench.grading) is collected once and graded twice
by this course's grader, 2 workers, each way in its own copy of the course:
  1. one kernel:  nbgrader_config.py with the sandboxed Execute (autograder/safety/sandbox.py):
                  the hidden tests in the student's kernel, as before split execution;
  2. split:       the course's nbgrader_config.py (autograder/safety/split.py): the student's
                  cells in the sandboxed kernel, the tests in a trusted one.
The ways alternate per assignment. CPU seconds of every process of each way (a cgroup), wall
time, and every graded cell's score of both ways compared: the section "Split execution" of
bench/results.md is rewritten.
"""
import argparse
import datetime
import os
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.grading import gradebook
from autograder.nbgrader_cli import nbgrader_env
from bench.grading import CpuMeter, collected_class, copy_course, run_measured

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
SECTION = "## Split execution: what it costs"
SPLIT = "autograder.safety.split.SplitExecute"
ONE_KERNEL = "autograder.safety.sandbox.SandboxedExecute"


def one_kernel_config(course: Path) -> None:
    """Make `course` grade as before split execution: every cell in the student's kernel."""
    config = course / "nbgrader_config.py"
    text = config.read_text()
    if SPLIT not in text:
        raise SystemExit(f"{config} does not configure {SPLIT}")
    config.write_text(text.replace(SPLIT, ONE_KERNEL))


def cell_scores(course: Path, ids: list[str]) -> dict:
    rows = gradebook.all_grades(gradebook.gradebook_url(course), "gradients", ids)
    return {(a, s, c.notebook, c.cell): c.score
            for (a, s), (_, _, cells) in rows.items() for c in cells}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.split", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--assignments", nargs="+", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    env = nbgrader_env()
    ways = ["one kernel", "split"]
    meters = {w: CpuMeter(f"split-{i}") for i, w in enumerate(ways)}
    wall = {w: 0.0 for w in ways}
    work = Path(tempfile.mkdtemp(prefix="bench-split-"))
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        base, ids = collected_class(work, args.students, args.assignments)
        courses = {w: copy_course(base, work / f"way{i}") for i, w in enumerate(ways)}
        one_kernel_config(courses["one kernel"])
        for turn, assignment in enumerate(ids):
            for way in (ways if turn % 2 == 0 else ways[::-1]):
                command = [sys.executable, "-m", "autograder", "--course", str(courses[way]),
                           "autograde", "--workers", str(args.workers), "--no-reports",
                           assignment]
                seconds, _ = run_measured(command, meters[way], env, ROOT)
                wall[way] += seconds
                print(f"  {assignment}: {way} {seconds:.1f} s (load {os.getloadavg()[0]:.1f})",
                      flush=True)
        cpu = {w: meters[w].seconds() for w in ways}
        before, after = (cell_scores(courses[w], ids) for w in ways)
        differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        text = _section(args, ids, started, wall, cpu, before, differ)
        write_section(text)
        print(text)
    finally:
        for meter in meters.values():
            meter.close()
        shutil.rmtree(work, ignore_errors=True)


def _section(args, ids, started, wall, cpu, cells, differ) -> str:
    n = args.students * len(ids)
    rows = ["| way | wall s | CPU s | CPU s per submission |", "|---|---|---|---|"]
    for way in wall:
        c = cpu[way]
        rows.append(f"| {way} | {wall[way]:.1f} | {'-' if c is None else f'{c:.1f}'} | "
                    f"{'-' if c is None else f'{c / n:.2f}'} |")
    ratio = (f"{cpu['split'] / cpu['one kernel']:.2f}" if cpu["split"] and cpu["one kernel"]
             else "not measured (no cgroup)")
    lines = [SECTION, "",
             f"`python -m bench.split --students {args.students} --assignments {' '.join(ids)}`, "
             f"{started:%Y-%m-%d %H:%M} UTC, load average at the end "
             f"{os.getloadavg()[0]:.1f}: {n} submissions (solution, blank, partial, two typical "
             "mistakes, fails at import, in turn), each way with this grader and 2 workers.", "",
             *rows, "",
             f"CPU split / one kernel: {ratio}.",
             f"Graded cells compared: {len(cells)}; different: {len(differ)}"
             + (": " + ", ".join(f"{a}/{s}/{c}" for a, s, _, c in differ[:20]) if differ else "."),
             ""]
    return "\n".join(lines)


def write_section(text: str, section: str = SECTION) -> None:
    """Put `text` (which starts with the heading `section`) in place of that section of
    bench/results.md, or at its end."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if section in current:
        head, rest = current.split(section, 1)
        tail = rest.split("\n## ", 1)
        current = head + text + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(current)


if __name__ == "__main__":
    main()
