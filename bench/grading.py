"""Benchmark: grading a simulated class three ways, in one run, on the same submissions.

    python -m bench.grading [--students 30] [--workers 2] [--without-prestart]   (`make bench`)

A class of N students x every notebook in source/ (solution, blank, partial, two typical mistakes
and an answer cell that fails at import, in turn) is released, fetched, submitted and collected
through nbgrader's exchange, then graded
  1. stock:  `nbgrader autograde ASSIGNMENT --force` (serial);
  2. ours:   `python -m autograder autograde ASSIGNMENT --workers 2` (this course's grader);
  3. floor:  nbclient executing the same notebooks nbgrader executes (the autograded notebooks,
             hidden tests included, outputs cleared), no grading, 2 at a time, no sandbox;
  (4. with --without-prestart: ours with every kernel started on demand;)
assignment by assignment, every way in turn, each in its own copy of the course. Wall time and
the CPU time of every process a way starts (a cgroup, where one can be made) are recorded, and
instant grading of one solution notebook is compared with one bare execution of it. The section
"Grading a whole class" of bench/results.md is rewritten with the times and ratios.
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

from autograder.authoring import classroom
from autograder.authoring.demo import assignment_ids, collect_class
from autograder.grading.ledger import Ledger
from autograder.nbgrader_cli import nbgrader_env
from autograder.kernels.wakeful import WakefulNotebookClient

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
SECTION = "## Grading a whole class"
MIX = [("solution", classroom._solution), ("blank", classroom._blank),
       ("partial", classroom._partial), ("mistake", classroom._mistake(0)),
       ("other mistake", classroom._mistake(1)), ("fails at import", classroom._crashes_on_import)]


def sandbox_status() -> str:
    """How the graded kernels ran (the floor never uses a sandbox)."""
    try:
        from autograder.safety import sandbox
    except ImportError:
        return "not sandboxed (this tree has no autograder/safety/sandbox.py)"
    if sandbox.unsandboxed_allowed():
        return "NOT sandboxed (COURSE_UNSANDBOXED=1)"
    if sandbox.available():
        return "stock and this grader in the bubblewrap sandbox (autograder/safety/sandbox.py); the floor bare"
    return f"no sandbox could start: {sandbox.unavailable_reason()}"


def simulated_class(students: int) -> list[classroom.Persona]:
    return [classroom.Persona(f"s{i:03d}", MIX[i % len(MIX)][0], MIX[i % len(MIX)][1])
            for i in range(students)]


def collected_class(work: Path, students: int, assignments: list[str] | None
                    ) -> tuple[Path, list[str]]:
    """A course in work/class (this repository's source/, release/ and config) whose submitted/
    holds `students` simulated students' submissions of `assignments` (default: all); with ids."""
    base = work / "class"
    base.mkdir()
    for name in ("source", "release", "nbgrader_config.py"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, base / name)
    ids = assignments or assignment_ids(base)
    print(f"collecting {students} students x {', '.join(ids)} ...", flush=True)
    collect_class(base, ids, simulated_class(students), step=lambda m: None)
    return base, ids


def copy_course(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        "exchange", ".demo", ".autograder", "autograded", "reports"))
    return target


class CpuMeter:
    """CPU seconds used by a command and every process it starts (kernels and sandboxes
    included), from a cgroup's cpuacct counter: unlike wall time, it does not grow when other
    jobs share the machine. None where no cgroup can be made (not root, no cgroup v1 cpuacct)."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, name: str):
        self.path = self.ROOT / f"bench-grading-{os.getpid()}-{name}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def preexec(self):
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float | None:
        if self.path is None:
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.path is not None:
            try:
                self.path.rmdir()
            except OSError:
                pass


def run_measured(command: list[str], meter: CpuMeter, env: dict, cwd: Path) -> tuple[float, str]:
    """Run `command` in `cwd`, in `meter`'s cgroup; its wall seconds and its output."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd,
                            preexec_fn=meter.preexec, timeout=7200)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):  # stock nbgrader exits 1 when a submission is broken
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}"
                           f"{result.stderr[-3000:]}")
    return elapsed, result.stdout


def _execute(path: str) -> float:
    """Run one notebook top to bottom in a fresh kernel, errors allowed; its wall time."""
    started = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    WakefulNotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                          resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    return time.perf_counter() - started


def floor(notebooks: list[str], workers: int) -> None:
    """Execute `notebooks`, `workers` at a time (the parent measures the wall and CPU time);
    print the slowest notebook and the median, so that a stalled one shows."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        seconds = pool.map(_execute, notebooks, chunksize=1)
    slowest = max(range(len(notebooks)), key=seconds.__getitem__)
    print(f"slowest notebook {seconds[slowest]:.1f} s ({notebooks[slowest]}), median "
          f"{statistics.median(seconds):.1f} s", flush=True)


# Each assignment is graded by every way in turn, in a rotating order (stock always before the
# floor, which executes the notebooks stock autograded): a change of load on the machine during
# the run then falls on all ways alike instead of on whichever ran at that moment.
ORDERS = (("stock", "ours", "floor"), ("ours", "stock", "floor"), ("stock", "floor", "ours"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--without-prestart", action="store_true",
                        help="also grade with kernels started on demand (COURSE_PRESTART=0), to "
                        "measure what starting them ahead gives")
    parser.add_argument("--assignments", nargs="+", default=None,
                        help="grade only these (default: every notebook in source/)")
    parser.add_argument("--floor-of", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.floor_of:  # the floor, run as a child so that its CPU time is measured alike
        floor(args.floor_of, args.workers)
        return
    os.environ["PATH"] = nbgrader_env()["PATH"]
    env = nbgrader_env()
    ways = ["stock", "ours", "floor"] + (["ours, kernels on demand"] if args.without_prestart
                                         else [])
    wall = {w: 0.0 for w in ways}
    meters = {w: CpuMeter(str(i)) for i, w in enumerate(ways)}
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        base, ids = collected_class(work, args.students, args.assignments)
        submissions = args.students * len(ids)
        courses = {w: copy_course(base, work / f"way{i}") for i, w in enumerate(ways)}
        ours_command = [sys.executable, "-m", "autograder", "autograde",
                        "--workers", str(args.workers), "--no-reports"]
        executed = []
        for turn, assignment in enumerate(ids):
            order = list(ORDERS[turn % len(ORDERS)]) + ways[3:]
            for way in order:
                course = courses[way]
                if way == "stock":
                    command = [sys.executable, "-m", "nbgrader", "autograde", assignment,
                               "--force"]
                elif way == "floor":
                    notebooks = sorted(str(p) for p in (courses["stock"] / "autograded")
                                       .glob(f"*/{assignment}/*.ipynb"))
                    executed += notebooks
                    command = [sys.executable, "-m", "bench.grading", "--workers",
                               str(args.workers), "--floor-of", *notebooks]
                else:
                    command = ours_command[:3] + ["--course", str(course)] + ours_command[3:] \
                        + [assignment]
                way_env = {**env, "COURSE_PRESTART": "0" if "on demand" in way else "1"}
                # stock nbgrader reads nbgrader_config.py from its working directory
                seconds, output = run_measured(command, meters[way], way_env,
                                               course if way == "stock" else ROOT)
                wall[way] += seconds
                lines = output.strip().splitlines()
                detail = lines[-1] if way == "floor" and lines else ""
                print(f"  {assignment}: {way} {seconds:.1f} s (load {os.getloadavg()[0]:.1f}) "
                      f"{detail}", flush=True)
        cpu = {w: meters[w].seconds() for w in ways}

        print("instant grading vs one bare execution ...", flush=True)
        from autograder.grading.instant import InstantGrader
        solution = next(p for p in executed if Path(p).parts[-3] == "s000")
        grader = InstantGrader(courses["ours"])
        t_instant = statistics.median(
            grader.grade(Path(solution), Path(solution).parts[-2]).seconds for _ in range(3))
        grader.close()
        t_bare = statistics.median(_execute(solution) for _ in range(3))

        outcomes = Ledger(courses["ours"]).all()
        mean = lambda xs: sum(xs) / max(1, len(xs))  # noqa: E731
        prepare = mean([o.timings.get("prepare", 0) for o in outcomes])
        convert = mean([o.timings.get("notebooks", 0) for o in outcomes])
        per_task = mean([o.seconds for o in outcomes])
        ahead = sum(o.timings.get("kernels started ahead", 0) for o in outcomes)
        write_section(_section(args, ids, submissions, len(executed), wall, cpu, t_instant,
                               t_bare, per_task, prepare, convert, ahead, len(outcomes)))
        print(RESULTS.read_text().split(SECTION)[1])
    finally:
        for meter in meters.values():
            meter.close()
        shutil.rmtree(work, ignore_errors=True)


def _section(args, ids, submissions, executed, wall, cpu, t_instant, t_bare, per_task, prepare,
             convert, ahead, graded) -> str:
    names = {
        "stock": "stock serial `nbgrader autograde` (one run per assignment)",
        "ours": f"this grader, {args.workers} workers (`python -m autograder autograde`)",
        "ours, kernels on demand": f"this grader, {args.workers} workers, no kernel started "
                                   "ahead (COURSE_PRESTART=0)",
        "floor": f"floor: bare nbclient execution, {args.workers} at a time",
    }
    flags = " --without-prestart" if args.without_prestart else ""
    lines = [
        SECTION, "",
        f"Produced by `python -m bench.grading --students {args.students} --workers "
        f"{args.workers}{flags}" + (f" --assignments {' '.join(ids)}" if args.assignments else "")
        + "` (`make bench` runs it with 30 students); this section is "
        "rewritten each run.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}",
        f"- kernels: {sandbox_status()}",
        f"- class: {args.students} students x {len(ids)} notebook(s) ({', '.join(ids)}) = "
        f"{submissions} submissions; mix: {', '.join(m for m, _ in MIX)}; {executed} notebooks "
        "executed",
        "- each assignment is graded by every way in turn (rotating order), each way in its own "
        "copy of the course; this grader is started once per assignment here (once in all in "
        "real use), so it pays its start-up 8 times",
        "- CPU s: every process of the way, kernels included (a cgroup's cpuacct); it does not "
        "grow when other jobs share the machine, wall time does",
        "",
        "| how | wall s | CPU s | wall s per submission |",
        "|---|---|---|---|",
    ]
    for way, seconds in wall.items():
        used = f"{cpu[way]:.1f}" if cpu[way] is not None else "n/a"
        lines.append(f"| {names[way]} | {seconds:.1f} | {used} | {seconds / submissions:.2f} |")
    lines += [
        "",
        f"- speed-up over stock serial: **{wall['stock'] / wall['ours']:.2f}x** (target >= 1.8x)",
        f"- this grader / floor: **{wall['ours'] / wall['floor']:.2f}x** (target <= 1.25x)",
        f"- stock serial / floor: {wall['stock'] / wall['floor']:.2f}x",
    ]
    if "ours, kernels on demand" in wall:
        lines.append(f"- kernels started ahead: this grader with them / without them "
                     f"{wall['ours'] / wall['ours, kernels on demand']:.2f}x wall")
    if all(cpu[w] for w in ("stock", "ours")):
        lines.append(f"- CPU: this grader / stock {cpu['ours'] / cpu['stock']:.2f}x, "
                     f"this grader / floor {cpu['ours'] / cpu['floor']:.2f}x")
    lines += [
        f"- kernels started ahead and used: {ahead} of {graded} submissions",
        f"- instant grading of one solution notebook (grader kept alive, median of 3): "
        f"{t_instant:.2f} s vs one bare execution {t_bare:.2f} s ({t_instant / t_bare:.2f}x)",
        f"- inside a worker, per submission: {per_task:.2f} s, of which nbgrader's preparation "
        f"(gradebook rows, file copies) {prepare:.2f} s and the notebooks (sanitize, execute, save "
        f"grades) {convert:.2f} s",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this benchmark's section of bench/results.md, keeping the rest."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head = current.split(SECTION)[0].rstrip("\n")
    RESULTS.write_text(head + "\n\n" + text)


if __name__ == "__main__":
    main()
