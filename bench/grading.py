"""Benchmark: grading a simulated class three ways, in one run, on the same submissions.

    python -m bench.grading [--students 30] [--workers 2]     (also part of `make bench`)

A class of N students x every notebook in source/ (solution, blank, partial, two typical mistakes
and an answer cell that fails at import, in turn) is released, fetched, submitted and collected
through nbgrader's exchange, then graded
  1. stock:  `nbgrader autograde ASSIGNMENT --force`, one assignment after another (serial);
  2. ours:   `python -m autograder autograde --workers 2` (this course's grader);
  3. floor:  nbclient executing the same notebooks nbgrader executes (the autograded notebooks,
             hidden tests included, outputs cleared), no grading, 2 at a time;
and instant grading of one solution notebook is compared with one bare execution of it. Each
runs in its own copy of the course. The section "Grading a whole class" of bench/results.md is
rewritten with the wall times and ratios.
"""
import argparse
import datetime
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder import classroom
from autograder.demo import assignment_ids, collect_class
from autograder.ledger import Ledger
from autograder.nbgrader_cli import nbgrader, nbgrader_env

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
SECTION = "## Grading a whole class"
MIX = [("solution", classroom._solution), ("blank", classroom._blank),
       ("partial", classroom._partial), ("mistake", classroom._mistake(0)),
       ("other mistake", classroom._mistake(1)), ("fails at import", classroom._crashes_on_import)]


def sandbox_status() -> str:
    """How the graded kernels ran (the floor never uses a sandbox)."""
    try:
        from autograder import sandbox
    except ImportError:
        return "not sandboxed (this tree has no autograder/sandbox.py)"
    if sandbox.unsandboxed_allowed():
        return "NOT sandboxed (COURSE_UNSANDBOXED=1)"
    if sandbox.available():
        return "stock and this grader in the bubblewrap sandbox (autograder/sandbox.py); the floor bare"
    return f"no sandbox could start: {sandbox.unavailable_reason()}"


def simulated_class(students: int) -> list[classroom.Persona]:
    return [classroom.Persona(f"s{i:03d}", MIX[i % len(MIX)][0], MIX[i % len(MIX)][1])
            for i in range(students)]


def copy_course(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        "exchange", ".demo", ".autograder", "autograded", "reports"))
    return target


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _execute(path: str) -> float:
    """Run one notebook top to bottom in a fresh kernel, errors allowed; its wall time."""
    started = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    return time.perf_counter() - started


def floor(notebooks: list[str], workers: int) -> float:
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_execute, notebooks, chunksize=1)
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["PATH"] = nbgrader_env()["PATH"]
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        base = work / "class"
        base.mkdir()
        for name in ("source", "release", "nbgrader_config.py"):
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, base / name)
        ids = assignment_ids(base)
        print(f"collecting {args.students} students x {', '.join(ids)} ...", flush=True)
        collect_class(base, ids, simulated_class(args.students), step=lambda m: None)
        submissions = args.students * len(ids)

        stock = copy_course(base, work / "stock")
        print("1. stock serial nbgrader autograde ...", flush=True)
        t_stock = timed(lambda: [nbgrader("autograde", a, "--force", course=stock, timeout=7200)
                                 for a in ids])

        ours = copy_course(base, work / "ours")
        print(f"2. python -m autograder autograde --workers {args.workers} ...", flush=True)
        command = [sys.executable, "-m", "autograder", "--course", str(ours), "autograde",
                   "--workers", str(args.workers), "--no-reports"]
        t_ours = timed(lambda: subprocess.run(command, check=True, capture_output=True,
                                              env=nbgrader_env()))

        print(f"3. bare nbclient execution, {args.workers} at a time ...", flush=True)
        executed = sorted(str(p) for p in (stock / "autograded").glob("*/*/*.ipynb"))
        t_floor = floor(executed, args.workers)

        print("4. instant grading vs one bare execution ...", flush=True)
        from autograder.instant import InstantGrader
        solution = next(p for p in executed if Path(p).parts[-3] == "s000")
        grader = InstantGrader(ours)
        t_instant = statistics.median(
            grader.grade(Path(solution), Path(solution).parts[-2]).seconds for _ in range(3))
        t_bare = statistics.median(_execute(solution) for _ in range(3))

        outcomes = Ledger(ours).all()
        mean = lambda xs: sum(xs) / max(1, len(xs))  # noqa: E731
        prepare = mean([o.timings.get("prepare", 0) for o in outcomes])
        convert = mean([o.timings.get("notebooks", 0) for o in outcomes])
        per_task = mean([o.seconds for o in outcomes])
        rows = [
            ("stock serial `nbgrader autograde` (one run per assignment)", t_stock),
            (f"this grader, {args.workers} workers (`python -m autograder autograde`)", t_ours),
            (f"floor: bare nbclient execution, {args.workers} at a time", t_floor),
        ]
        lines = [
            SECTION, "",
            f"Produced by `python -m bench.grading --students {args.students} --workers "
            f"{args.workers}` (also run by `make bench`); this section is rewritten each run.",
            "",
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; "
            f"load average at the end {os.getloadavg()[0]:.1f} (other jobs share the machine: "
            f"compare the ratios of one run, not runs)",
            f"- kernels: {sandbox_status()}",
            f"- class: {args.students} students x {len(ids)} notebook(s) ({', '.join(ids)}) = "
            f"{submissions} submissions; mix: {', '.join(m for m, _ in MIX)}; "
            f"{len(executed)} notebooks executed",
            "",
            "| how | wall s | s per submission |",
            "|---|---|---|",
        ]
        lines += [f"| {what} | {t:.1f} | {t / submissions:.2f} |" for what, t in rows]
        lines += [
            "",
            f"- speed-up over stock serial: **{t_stock / t_ours:.2f}x** (target >= 1.8x)",
            f"- this grader / floor: **{t_ours / t_floor:.2f}x** (target <= 1.25x)",
            f"- stock serial / floor: {t_stock / t_floor:.2f}x",
            f"- instant grading of one solution notebook (grader kept alive, median of 3): "
            f"{t_instant:.2f} s vs one bare execution {t_bare:.2f} s "
            f"({t_instant / t_bare:.2f}x)",
            f"- inside a worker, per submission: {per_task:.2f} s, of which nbgrader's "
            f"preparation (gradebook rows, file copies) {prepare:.2f} s and the notebooks "
            f"(sanitize, execute, save grades) {convert:.2f} s",
            "",
        ]
        write_section("\n".join(lines))
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_section(text: str) -> None:
    """Replace this benchmark's section of bench/results.md, keeping the rest."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head = current.split(SECTION)[0].rstrip("\n")
    RESULTS.write_text(head + "\n\n" + text)


if __name__ == "__main__":
    main()
