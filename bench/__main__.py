"""Measure what the course promises about speed and record it in bench/results.md.

    python -m bench            # what `make bench` runs

- every solution notebook executed top to bottom in a fresh kernel (the syllabus promises < 15 s;
  autograde pays this once per student), median of 3 runs;
- the whole mutation catalog of each notebook through the harness (`python -m autograder.mutation`);
- nbgrader's own start-up (`nbgrader --version`), the fixed cost of every nbgrader command;
- one training epoch of the window NER tagger against its matrix-multiply floor (bench/ner.py);
- the CPU the contract checks add to a graded kernel (bench/contracts.py);
- a simulated class graded three ways (bench/grading.py: stock serial, this grader, the floor).
Times are wall-clock seconds on this machine; compare rows of one run, not runs of different days.
"""
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from autograder.notebooks import assignments, source_notebook_path
from autograder.kernels.wakeful import WakefulNotebookClient
from bench import contracts, grading, ner

RESULTS = Path(__file__).resolve().parent / "results.md"
ROOT = RESULTS.parent.parent


def timed(action, repeat: int = 3) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def execute_source(assignment: str) -> None:
    path = source_notebook_path(assignment)
    nb = nbformat.read(str(path), as_version=4)
    WakefulNotebookClient(nb, timeout=120, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent)}}).execute()


def run_module(*args: str) -> None:
    subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=True, capture_output=True)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    rows = []
    for assignment in assignments():
        t = timed(lambda: execute_source(assignment))
        rows.append((f"execute source/{assignment} (kernel start included)", t))
        if (ROOT / "autograder" / "authoring" / "mutants" / f"{assignment}.toml").exists():
            t = timed(lambda: run_module("autograder.authoring.mutation", assignment), repeat=1)
            rows.append((f"mutation catalog of {assignment}", t))
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    rows.append(("nbgrader start-up (`nbgrader --version`)",
                 timed(lambda: subprocess.run([nbgrader, "--version"], check=True,
                                              capture_output=True))))
    lines = [
        "# Benchmark results",
        "",
        "Produced by `make bench` (`python -m bench`); the table is rewritten on every run.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores, {cpu_name()}, Python {platform.python_version()}",
        "",
        "| what | runs | median s | min s | max s |",
        "|---|---|---|---|---|",
    ]
    for what, times in rows:
        lines.append(f"| {what} | {len(times)} | {statistics.median(times):.2f} | "
                     f"{min(times):.2f} | {max(times):.2f} |")
    lines += ner.section(ner.measure())
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    kept = previous[previous.index(grading.SECTION):] if grading.SECTION in previous else ""
    RESULTS.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    print("\n".join(lines))
    contracts.main()  # rewrites its own section
    grading.main([])  # the class benchmark rewrites its own section


if __name__ == "__main__":
    main()
