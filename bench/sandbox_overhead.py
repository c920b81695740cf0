"""What the sandbox costs per submission: the solution notebook of each assignment executed the way
`nbgrader autograde` executes it (autograder.safety.sandbox.SandboxedExecute), sandboxed and not, rounds
interleaved so that both modes see the same machine load.

    python -m bench.sandbox_overhead [ROUNDS]      # default 5

Prints, per assignment, the median wall time of each mode and their difference and ratio, plus the
kernel's start alone (a one-cell notebook). CPU times of this process are not what matters: the
kernel runs in another process, so wall time is measured; on a shared machine compare the ratio.
"""
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.authoring import classroom

from autograder.safety import sandbox
from autograder.notebooks import assignments, read, source_notebook_path

ROOT = Path(__file__).resolve().parent.parent


def run_once(nb, sandboxed: bool) -> float:
    if sandboxed:
        os.environ.pop(sandbox.UNSANDBOXED_ENV, None)
    else:
        os.environ[sandbox.UNSANDBOXED_ENV] = "1"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sandbox.SandboxedExecute(timeout=120).preprocess(copy.deepcopy(nb),
                                                         {"metadata": {"path": folder}})
        return time.perf_counter() - started


def notebooks() -> dict:
    found = {"kernel start (one cell)": nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("1 + 1")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})}
    for assignment in assignments():
        release = read(ROOT / "release" / assignment / f"{assignment}.ipynb")
        found[assignment] = classroom.solve_cells(release, read(source_notebook_path(assignment)))
    return found


def main(rounds: int = 5) -> None:
    if not sandbox.available():
        sys.exit(sandbox.refusal_message())
    previous = os.environ.get(sandbox.UNSANDBOXED_ENV)
    print(f"{'notebook':28} {'sandboxed':>10} {'plain':>8} {'overhead':>9} {'ratio':>6}")
    try:
        for name, nb in notebooks().items():
            times = {True: [], False: []}
            for _ in range(rounds):
                for mode in (True, False):
                    times[mode].append(run_once(nb, mode))
            boxed, plain = statistics.median(times[True]), statistics.median(times[False])
            print(f"{name:28} {boxed:9.2f}s {plain:7.2f}s {boxed - plain:+8.2f}s "
                  f"{boxed / plain:6.2f}")
    finally:
        if previous is None:
            os.environ.pop(sandbox.UNSANDBOXED_ENV, None)
        else:
            os.environ[sandbox.UNSANDBOXED_ENV] = previous


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
