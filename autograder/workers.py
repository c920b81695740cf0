"""Long-lived worker processes that run one task at a time, with a watchdog.

Each worker is forked once, sets itself up once (`setup()`: for grading, nbgrader imported and
its configuration loaded), then runs tasks sent through its pipe. The pool hands out the next
task as soon as a worker is free. A worker that dies (a student's code killed it) or runs past the
deadline (a kernel that ignores interrupts) is killed with everything it started, its task is
reported as failed with the reason, and a fresh worker takes its place: one task never stops the
others. Workers die with the pool's process (PR_SET_PDEATHSIG), so a killed run leaves no orphan
worker behind (kernels notice their parent is gone and exit on their own).
"""
import ctypes
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator

import psutil

PR_SET_PDEATHSIG = 1


@dataclass
class Crashed:
    """Stands for the result of a task whose worker died or was killed."""
    reason: str


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: workers then outlive a killed run until their pipe closes


def _worker_main(conn, setup: Callable[[], Any], run: Callable[[Any, Any], Any]) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pool's to handle
    state = setup()
    conn.send(("ready", None))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(("done", run(state, task)))


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every process it started (kernels included)."""
    try:
        parent = psutil.Process(pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=5)


class _Worker:
    def __init__(self, ctx, setup, run):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, setup, run), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.task = None
        self.deadline = None

    def give(self, task, timeout: float) -> None:
        self.task, self.deadline = task, time.monotonic() + timeout
        self.conn.send(task)

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            kill_tree(self.process.pid)

    def kill(self) -> None:
        kill_tree(self.process.pid)
        self.process.join(timeout=5)
        self.conn.close()


def run_tasks(tasks: Iterable, setup: Callable[[], Any], run: Callable[[Any, Any], Any],
              workers: int, task_timeout: float) -> Iterator[tuple[Any, Any]]:
    """Yield (task, run(state, task)) as each finishes, in any order; (task, Crashed) for a task
    whose worker died or passed `task_timeout` seconds. `setup` and `run` run in the workers."""
    ctx = multiprocessing.get_context("fork")
    queue = list(tasks)[::-1]
    pool = [_Worker(ctx, setup, run) for _ in range(min(workers, len(queue)))]
    failed_starts = 0
    try:
        while queue or any(w.task is not None for w in pool):
            for w in pool:
                if w.ready and w.task is None and queue:
                    w.give(queue.pop(), task_timeout)
            waiting = {w.conn: w for w in pool} | {w.process.sentinel: w for w in pool}
            deadlines = [w.deadline for w in pool if w.task is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for ready in wait(list(waiting), timeout=timeout):
                w = waiting[ready]
                if ready is w.conn and w in pool:
                    try:
                        kind, result = w.conn.recv()
                    except (EOFError, OSError):
                        continue  # the sentinel reports the death
                    if kind == "ready":
                        w.ready = True
                    else:
                        task, w.task, w.deadline = w.task, None, None
                        yield task, result
            for w in [w for w in pool if not w.process.is_alive()
                      or (w.task is not None and time.monotonic() > w.deadline)]:
                task, died, code = w.task, not w.process.is_alive(), w.process.exitcode
                w.kill()
                pool.remove(w)
                if task is None and not w.ready:
                    failed_starts += 1
                    if failed_starts >= 3:
                        raise RuntimeError(f"grading workers die while starting (exit code {code})")
                if task is not None:
                    yield task, Crashed(
                        f"still running after {task_timeout:g} s: stopped" if not died
                        else f"the grading process died (exit code {code}) while running it")
                if queue:
                    pool.append(_Worker(ctx, setup, run))
    finally:
        for w in pool:
            w.stop()
