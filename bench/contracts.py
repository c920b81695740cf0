"""CPU that the contract checks (course/contracts.py) add to every graded notebook.

    python -m bench.contracts      # rewrites its own section of bench/results.md

Hidden cells run inside every graded kernel, so what they cost is paid once per student and
notebook. Measured in fresh interpreters (CPU time of the process, not wall time, so the load of
other jobs matters less): `import course.checks` (which imports Hypothesis for the contracts) and
six passing properties of a softmax, the first set in a process and a second one after it.
"""
import datetime
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"
SECTION = "## Contract checks: CPU in every graded kernel"
RUNS = 5

PROBE = r'''
import time
t0 = time.process_time()
import numpy as np
t1 = time.process_time()
from course.contracts import Contract, arrays
t2 = time.process_time()

def ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def softmax(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)

c = Contract("softmax", ref, args={"x": arrays(("N", "C"), low=-3, high=3, stable=(-1e3, 1e3))},
             dims={"N": (1, 4), "C": (1, 6)}, edges=[{"N": 1}, {"N": 0}, {"C": 1}])
props = ["check_values", "check_unchanged", "check_new_output", "check_edges", "check_stable",
         "check_dtypes"]
for p in props:
    getattr(c, p)(softmax)
t3 = time.process_time()
for p in props:
    getattr(c, p)(softmax)
t4 = time.process_time()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
'''


def measure(runs: int = RUNS) -> dict[str, list[float]]:
    rows = {"import numpy": [], "import course.contracts (Hypothesis included)": [],
            "six passing properties, first set in the process": [],
            "the same six again": []}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             check=True, cwd=RESULTS.parent.parent).stdout.split()
        for key, value in zip(rows, out):
            rows[key].append(float(value))
    return rows


def section(rows: dict[str, list[float]]) -> list[str]:
    lines = [SECTION, "",
             f"`python -m bench.contracts`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC;"
             f" CPU seconds of a fresh interpreter, {RUNS} runs.", "",
             "| what | median CPU s | min | max |", "|---|---|---|---|"]
    for what, times in rows.items():
        lines.append(f"| {what} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |")
    return lines


def write(lines: list[str]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        after = rest.find("\n## ")
        tail = rest[after + 1:] if after >= 0 else ""
        text = head + "\n".join(lines) + "\n" + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    RESULTS.write_text(text)


def main() -> None:
    lines = section(measure())
    write(lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
