"""The sandbox around graded kernels: every property is a real attempt from inside a notebook
executed by `SandboxedExecute`, the preprocessor nbgrader_config.py gives `nbgrader autograde`.

The notebook sits in a course-like folder (gradebook.db, source/, exchange/, another student's
submission) and a server listens on the host's 127.0.0.1: each attempt must fail, and the cells
after it must still run.
"""
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import cli

from autograder.safety import sandbox
from conftest import loopback_listener

SECRET = "the-instructors-secret-4242"


def run(cells: list[str], cwd: Path, timeout: int = 30, **traits):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executor = sandbox.SandboxedExecute(timeout=timeout, **traits)
    executor.preprocess(nb, {"metadata": {"path": str(cwd)}})
    return nb.cells


def text(cell) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", "") or json.dumps(out.get("data", {})))
        if out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (root / "gradebook.db").write_text(SECRET)
    for folder in ("source/01_x", "exchange/gradients/inbound", "submitted/other/01_x",
                   "autograded/other/01_x", "feedback/other/01_x", "release/01_x",
                   "autograded/me/01_x"):
        (root / folder).mkdir(parents=True)
        (root / folder / "secret.txt").write_text(SECRET)
    (root / "autograded/me/01_x/old.ipynb").write_text(SECRET)  # an earlier autograded copy
    (root / "autograded/me/01_x/data.csv").write_text("1,2,3\n")
    return root


@pytest.fixture(scope="module")
def server():
    listener, accepted = loopback_listener(SECRET.encode())
    yield listener.getsockname()[1], accepted
    listener.close()


def test_sandbox_works_on_this_machine():
    assert sandbox.available(), sandbox.unavailable_reason()


@pytest.fixture(scope="module")
def attempts(course, server):
    port, accepted = server
    os.environ["COURSE_DB_URL"] = f"sqlite:///{course}/gradebook.db?password={SECRET}"
    try:
        cells = run([
            "import os, socket, numpy as np",
            f"print(open({str(course / 'gradebook.db')!r}).read())",
            f"print(os.listdir({str(course / 'source')!r}))",
            f"print(os.listdir({str(course / 'submitted')!r}))",
            f"print(os.listdir({str(course)!r}))",
            f"s = socket.create_connection(('127.0.0.1', {port}), timeout=3); print(s.recv(100))",
            "print(os.listdir(os.path.expanduser('~')), os.listdir('/root'))",
            "print({k: v for k, v in os.environ.items() if 'COURSE' in k or 'secret' in v})",
            "a = np.ones(10 * 2**30, dtype=np.uint8); print('allocated', a.nbytes)",
            "import time\nkids = []\ntry:\n    for i in range(1000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(20); os._exit(0)\n        kids.append(pid)\n"
            "finally:\n    print('forked', len(kids))\n"
            "    for k in kids: os.kill(k, 9)\n    for k in kids: os.waitpid(k, 0)",
            "for _ in range(100): print('x' * 2**20)",
            f"open({str(course / 'pwned.txt')!r}, 'w').write('x')",
            "open('scratch.txt', 'w').write('x')\nprint(sorted(os.listdir('.')))",
            "print('still alive', 6 * 7)",
            "import course, pathlib\nprint(sorted(p.name for p in "
            "pathlib.Path(course.__file__).parent.glob('*.py')))",
            "import time\nt = time.time()\nW = np.random.default_rng(0).normal(size=(300, 300))\n"
            "while time.time() - t < 3:\n    W = np.tanh(W @ W.T / 300)\nprint('trained', W.shape)",
        ], course / "autograded/me/01_x", timeout=60)
    finally:
        del os.environ["COURSE_DB_URL"]
    return cells, accepted


def test_cannot_read_the_gradebook_the_source_or_other_students(attempts, course):
    cells, _ = attempts
    for index in (1, 2, 3):
        assert "FileNotFoundError" in text(cells[index]) and SECRET not in text(cells[index])
    assert "gradebook.db" not in text(cells[4]) and "source" not in text(cells[4])
    assert "autograded" in text(cells[4])  # only the path to its own folder exists


def test_cannot_reach_a_server_on_the_hosts_loopback(attempts):
    cells, accepted = attempts
    assert "Error" in text(cells[5]) and SECRET not in text(cells[5])
    assert not accepted


def test_sees_no_home_and_no_secret_in_the_environment(attempts):
    cells, _ = attempts
    assert text(cells[6]).startswith("[] ['.pyenv']") or "['.pyenv']" in text(cells[6])
    assert text(cells[7]).strip() == "{}"


def test_memory_and_processes_are_limited(attempts):
    cells, _ = attempts
    assert "MemoryError" in text(cells[8])
    forked = int(text(cells[9]).split("forked")[1].split()[0])
    assert forked < sandbox.LIMITS.processes
    assert "BlockingIOError" in text(cells[9]) or "Resource temporarily unavailable" in text(cells[9])


def test_output_is_capped_and_files_outside_cannot_be_written(attempts, course):
    cells, _ = attempts
    recorded = sum(len(o.get("text", "")) for o in cells[10].outputs)
    assert recorded <= sandbox.OUTPUT_LIMIT + 2**20 and "[output cut" in text(cells[10])
    assert "Error" in text(cells[11]) and not (course / "pwned.txt").exists()


def test_the_kernel_works_in_a_copy_of_its_folder_without_notebooks(attempts, course):
    cells, _ = attempts
    assert text(cells[12]).strip() == "['data.csv', 'scratch.txt', 'secret.txt']"
    assert not (course / "autograded/me/01_x/scratch.txt").exists()  # writes stay inside
    assert "still alive 42" in text(cells[13])


def test_an_honest_notebook_reads_the_course_package_and_trains(attempts):
    """course/ (and course/data/) is readable; a few seconds of numpy training run untouched."""
    cells, _ = attempts
    assert "'checks.py'" in text(cells[14]) and "'gradcheck.py'" in text(cells[14])
    assert "trained (300, 300)" in text(cells[15])


def test_a_cell_that_ignores_the_interrupt_is_stopped_and_the_rest_graded(tmp_path):
    started = time.monotonic()
    cells = run(["x = 1",
                 "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
                 "    except KeyboardInterrupt:\n        pass",
                 "print('after', x)"], tmp_path, timeout=3, grace_after_interrupt=3)
    assert "CellTimeoutError" in text(cells[1])
    assert "KernelDied" in text(cells[2]) and "after" not in text(cells[2])
    assert time.monotonic() - started < 45


def test_an_infinite_loop_is_interrupted_and_the_next_cell_runs(tmp_path):
    cells = run(["x = 1", "while True:\n    pass", "print('after', x)"], tmp_path, timeout=3)
    assert "CellTimeoutError" in text(cells[1]) or "KeyboardInterrupt" in text(cells[1])
    assert "after 1" in text(cells[2])


def test_batch_refuses_without_a_sandbox_unless_told(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: sandbox.BWRAP_MISSING)
    monkeypatch.delenv(sandbox.UNSANDBOXED_ENV, raising=False)
    assert cli.main(["autograde", "01_gradients"]) == 3
    message = capsys.readouterr().err
    assert "refusing to grade" in message and "--unsandboxed" in message and "bwrap" in message


def test_kernels_refuse_to_start_without_a_sandbox(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: sandbox.BWRAP_MISSING)
    monkeypatch.delenv(sandbox.UNSANDBOXED_ENV, raising=False)
    with pytest.raises(RuntimeError, match="no sandbox can start"):
        run(["1"], tmp_path)


def test_graded_kernels_are_polled_in_slices(tmp_path):
    """A widget cell's reply that pyzmq fails to wake for is seen within a slice, not at the
    cell's timeout (autograder/kernels/wakeful.py): the graded kernel's channels poll in slices."""
    polled_in_slices = []

    class Recording(sandbox.SandboxedExecute):
        def preprocess_cell(self, cell, resources, index):
            polled_in_slices.append(all(getattr(channel.get_msg, "polls_in_slices", False)
                                        for channel in (self.kc.shell_channel,
                                                        self.kc.iopub_channel)))
            return super().preprocess_cell(cell, resources, index)

    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("x + 1")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    Recording(timeout=30).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert polled_in_slices == [True, True]
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "2"
