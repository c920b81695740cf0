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
from collections import deque
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


def _worker_main(conn, setup: Callable[[], Any], run: Callable[[Any, Any, Any], Any]) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pool's to handle
    state = setup()
    conn.send(("ready", None))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return
            if message is None:
                return
            task, upcoming = message
            conn.send(("done", run(state, task, upcoming)))
    finally:
        close = getattr(state, "close", None)
        if close is not None:
            close()  # multiprocessing skips atexit: this is the worker's chance to clean up


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
        self.reserved = None  # the task this worker gets next (lookahead), told with its task
        self.deadline = None

    def give(self, task, upcoming, timeout: float) -> None:
        self.task, self.reserved = task, upcoming
        self.deadline = time.monotonic() + timeout
        self.conn.send((task, upcoming))

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


def _next_task(worker: _Worker, queue: deque, pool: list[_Worker]):
    """The task a free worker takes: its reserved one, else the queue's next, else one reserved by
    a busy worker (taking it away: at the end of a batch no worker idles while work waits)."""
    if worker.reserved is not None:
        task, worker.reserved = worker.reserved, None
        return task
    if queue:
        return queue.popleft()
    for other in pool:
        if other.reserved is not None:
            task, other.reserved = other.reserved, None
            return task
    return None


def run_tasks(tasks: Iterable, setup: Callable[[], Any], run: Callable[[Any, Any, Any], Any],
              workers: int, task_timeout: float, lookahead: bool = False
              ) -> Iterator[tuple[Any, Any]]:
    """Yield (task, run(state, task, upcoming)) as each finishes, in any order; (task, Crashed)
    for a task whose worker died or passed `task_timeout` seconds. `setup` and `run` run in the
    workers; `state.close()`, if it exists, when a worker stops.

    lookahead: each worker is told, with its task, the task it will most likely run next
    (`upcoming`, reserved for it; None when nothing is left), so it can prepare for it while it
    runs this one. A free worker may still take another's reserved task at the end of the batch.
    """
    ctx = multiprocessing.get_context("fork")
    queue = deque(tasks)
    pool = [_Worker(ctx, setup, run) for _ in range(min(workers, len(queue)))]
    failed_starts = 0
    try:
        while queue or any(w.task is not None or w.reserved is not None for w in pool):
            for w in pool:
                if w.ready and w.task is None:
                    task = _next_task(w, queue, pool)
                    if task is not None:
                        w.give(task, queue.popleft() if lookahead and queue else None,
                               task_timeout)
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
                if w.reserved is not None:
                    queue.appendleft(w.reserved)  # another worker takes it
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
