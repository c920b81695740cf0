"""Kernels started ahead of need: the next submission's sandboxed kernel boots while this one runs.

A sandboxed kernel costs about a second before it can run a cell (bubblewrap, Python, ipykernel),
paid once per submission. A grading worker knows which submission it grades next (the pool reserves
it: `workers.run_tasks(lookahead=True)`), so as soon as the current kernel is ready the worker
launches the next one, for the next submission's folder, with the files nbgrader will put there.
The two boot and run side by side; when nbgrader asks for the next kernel it gets the one already
running.

Nothing is shared between students: a prestarted kernel is a kernel of its own (its own sandbox,
throwaway uid, scratch folder and connection key) that no code has run in yet, started exactly as
nbgrader would start it. It is used only if everything nbgrader would start it with is the same
now: the kernel name, the arguments, the folder, and the content of every file the sandbox copies
from that folder (a student's data file, the instructor's files copied over them). Otherwise it is
stopped and nbgrader starts a kernel the usual way, so a wrong guess costs time, never a grade.

COURSE_PRESTART=0 turns it off (for benchmarks comparing the two).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

PRESTART_ENV = "COURSE_PRESTART"


def enabled() -> bool:
    return os.environ.get(PRESTART_ENV, "1") != "0"


def workdir_files(workdir: Path, max_bytes: int = 64 * 2**20) -> list[Path]:
    """The files of a notebook's folder the sandbox copies in: regular files, not notebooks (an
    earlier autograded copy would hold the hidden tests), not symlinks, not hard links (a second
    name of gradebook.db, say), at most `max_bytes`."""
    chosen, total = [], 0
    for item in sorted(workdir.iterdir()) if workdir.is_dir() else []:
        if item.is_symlink() or not item.is_file() or item.suffix == ".ipynb" \
                or item.lstat().st_nlink > 1:
            continue
        total += item.stat().st_size
        if total > max_bytes:
            break
        chosen.append(item)
    return chosen


def fingerprint(files: list[Path]) -> tuple[tuple[str, str], ...]:
    """(name, sha256 of content) of each file, in order: what a kernel's folder holds."""
    return tuple((f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files)


def predicted_files(submitted: Path, source: Path) -> list[Path]:
    """The files nbgrader's autograde will leave in a submission's folder, as the sandbox would
    pick them: the student's submitted files, with the instructor's files of source/ over them."""
    by_name = {f.name: f for f in workdir_files(submitted) if f.suffix != ".pyc"}
    by_name.update({f.name: f for f in workdir_files(source) if f.suffix != ".pyc"})
    return [by_name[name] for name in sorted(by_name)]


@dataclass
class _Planned:
    workdir: Path
    files: list[Path]


@dataclass
class _Started:
    workdir: Path
    files: tuple
    kernel_name: str
    arguments: tuple
    manager: object  # a started SandboxedKernelManager


class Prestarter:
    """At most one kernel started ahead, for the folder the next submission will be graded in."""

    def __init__(self):
        self.planned: _Planned | None = None
        self.started: _Started | None = None
        self.adopted = 0
        self.discarded = 0

    def expect(self, workdir: Path | None, files: list[Path] | None = None) -> None:
        """The kernel after the current one will run in `workdir` with these files (None: no
        next kernel is known). It is started by `launch`, once the current kernel is ready."""
        self.planned = _Planned(Path(workdir).resolve(), list(files or [])) if workdir else None

    async def launch(self, manager_class, kernel_name: str, arguments: list[str], **config):
        """Start the planned kernel now (called when the current kernel is ready)."""
        planned, self.planned = self.planned, None
        if planned is None or not enabled():
            return
        self.discard()  # one started for a submission this worker did not get after all
        manager = manager_class(kernel_name=kernel_name, **config)
        if not getattr(manager, "sandboxed", False):
            return  # unsandboxed kernels start in the real folder, which may not exist yet
        manager.prestart_files = planned.files
        try:
            await manager.start_kernel(extra_arguments=list(arguments), cwd=str(planned.workdir))
        except Exception:
            _stop(manager)
            return
        self.started = _Started(planned.workdir, fingerprint(planned.files), kernel_name,
                                tuple(arguments), manager)

    def take(self, workdir: Path, kernel_name: str, arguments: list[str]):
        """The kernel started ahead if it was started exactly as nbgrader would start this one
        now, else None (and it is stopped)."""
        workdir = Path(workdir).resolve()
        if self.started is None or self.started.workdir != workdir:
            return None  # none, or one for a later folder (another notebook of this submission)
        started, self.started = self.started, None
        same = (started.kernel_name == kernel_name
                and started.arguments == tuple(arguments)
                and started.files == fingerprint(workdir_files(workdir))
                and _alive(started.manager))
        if not same:
            self.discarded += 1
            _stop(started.manager)
            return None
        self.adopted += 1
        return started.manager

    def discard(self) -> None:
        """Stop the kernel started ahead, if any (a worker leaving, a wrong guess)."""
        started, self.started = self.started, None
        if started is not None:
            self.discarded += 1
            _stop(started.manager)


def _process(manager):
    """The kernel's process (bwrap's, for a sandboxed kernel), or None."""
    return getattr(manager.provisioner, "process", None) if manager.provisioner else None


def _alive(manager) -> bool:
    process = _process(manager)
    return process is not None and process.poll() is None


def _stop(manager) -> None:
    """Kill a kernel nobody is connected to and remove its scratch folder, without an event loop
    (bwrap's PID namespace takes every process inside with it)."""
    process = _process(manager)
    if _alive(manager):
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
    scratch = getattr(manager, "_scratch", None)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


PRESTARTER = Prestarter()  # one per process: a grading worker grades one submission at a time
