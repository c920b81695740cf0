"""Split execution: the student's cells in the sandboxed student kernel, the tests in a trusted one.

In stock nbgrader the hidden tests run in the student's kernel, after the student's code: whatever
that code did (rebound a check helper, wrapped every later cell, wrote a module and imported it,
read a test's source from IPython's history) decides what the tests see. `SplitExecute`, configured
in nbgrader_config.py in place of nbgrader's Execute, runs each cell of the notebook being graded in
one of two kernels:

  * the student's cells (answer cells and every cell the student may edit) in the sandboxed student
    kernel (autograder/safety/sandbox.py), as before;
  * the test cells (nbgrader's autograder tests, by the gradebook's record of them) in a trusted
    kernel that never runs a line of the student's: it runs the instructor's setup cells (their
    source from the gradebook) and then each test cell. The names a test needs from the student
    come through autograder/safety/trusted.py: data as data, functions and objects as proxies that
    call into the student kernel (autograder/safety/bridge.py). No test's source or expected value
    enters the student's process; what the student's code prints while a test calls it is dropped.

The trusted kernel runs in a fresh folder holding the assignment's source files (never the
student's: a `course.py` handed in cannot shadow an import). Grades still land through nbgrader's
own preprocessors: the test cells' outputs are recorded in the notebook as before.

Where the notebook is not one the gradebook knows (nbgrader validate, a notebook outside any
assignment), every cell runs in the student kernel as in SandboxedExecute.
"""
from __future__ import annotations

import ast
import atexit
import functools
import json
import os
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic

import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from nbclient.util import ensure_async, run_sync

from autograder.kernels.wakeful import wake_on_every_message
from autograder.safety import bridge
from autograder.safety.sandbox import SandboxedExecute, _error

STOPPED = ("CellTimeoutError", "KernelDied", "DeadKernelError")  # how a stopped cell's error is named
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
                    re.MULTILINE | re.DOTALL)


def python_of(source: str) -> str:
    """A cell's source as Python (IPython's magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager().transform_cell(source)


def _tree(source: str) -> ast.Module:
    try:
        return ast.parse(python_of(source))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


# Both are asked of every cell of every submission; the instructor's cells and the cells a
# student left as released are the same text each time: parsed once per grading process.
@functools.lru_cache(maxsize=4096)
def names_read(source: str) -> frozenset[str]:
    """Every name a cell reads, in its own body or in the functions it defines."""
    return frozenset(node.id for node in ast.walk(_tree(source))
                     if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))


@functools.lru_cache(maxsize=4096)
def names_defined(source: str) -> frozenset[str]:
    """The names a cell binds at its top level (def, class, assignment; not imports)."""
    out = set()
    for statement in _tree(source).body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(statement.name)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    out.add(node.id)
    return frozenset(out)


@dataclass
class Plan:
    """Which cell runs where, from the gradebook's record of the assignment (never from the
    submission's metadata alone)."""
    tests: dict[str, str] = field(default_factory=dict)  # grade_id -> the instructor's source
    setup: dict[str, str] = field(default_factory=dict)  # locked code cells that are not tests
    answer_names: set[str] = field(default_factory=set)  # names the answer cells define
    test_names: set[str] = field(default_factory=set)  # names the test cells read
    later_reads: dict[str, set[str]] = field(default_factory=dict)  # grade_id -> names read by
    # the student's cells after that test (a visible test's variables a later answer uses)
    source_dir: Path | None = None

    def role(self, cell) -> str:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code":
            return "other"
        if grade_id in self.tests:
            return "test"
        if grade_id in self.setup:
            return "setup"
        return "student"


def plan_from_gradebook(db_url: str, assignment: str, notebook: str, source_dir: Path | None,
                        cells) -> Plan | None:
    from nbgrader.api import Gradebook, MissingEntry
    try:
        with Gradebook(db_url) as gradebook:
            record = gradebook.find_notebook(notebook, assignment)
            solutions = {c.name for c in record.solution_cells}
            graded = {c.name for c in record.grade_cells if c.cell_type == "code"}
            sources = {c.name: c for c in record.source_cells}
    except MissingEntry:
        return None
    plan = Plan(source_dir=source_dir)
    for name, cell in sources.items():
        if cell.cell_type != "code":
            continue
        if name in graded and name not in solutions:
            plan.tests[name] = cell.source
        elif name in solutions:
            plan.answer_names |= names_defined(cell.source)
        elif cell.locked:
            plan.setup[name] = cell.source
    for source in plan.tests.values():
        plan.test_names |= names_read(source)
    read_later: set[str] = set()
    for cell in reversed(list(cells)):
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in plan.tests:
            plan.later_reads[grade_id] = set(read_later)
        elif grade_id not in plan.setup:
            read_later |= names_read(cell.source)
    return plan


class TrustedKernel:
    """The kernel that runs the instructor's setup and the test cells of a submission. One is kept
    per grading process (`KEPT`) and cleaned between submissions of an assignment: its namespace
    reset and the process state tests may change put back (trusted.reset), then the setup run
    again, so starting it (an interpreter, numpy, matplotlib, course) is paid once per worker."""

    def __init__(self, km, kc, workdir: str, key: tuple):
        self.km, self.kc, self.workdir, self.key = km, kc, workdir, key

    async def stop(self):
        try:
            self.kc.stop_channels()
            await ensure_async(self.km.shutdown_kernel(now=True))
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


KEPT: dict[tuple, TrustedKernel] = {}  # (kernel name, source folder) -> the kernel kept for reuse


def _stop_kept():
    for trusted in list(KEPT.values()):
        try:
            run_sync(trusted.stop)()
        except Exception:  # exiting anyway
            pass
    KEPT.clear()


atexit.register(_stop_kept)


class SplitExecute(SandboxedExecute):
    """SandboxedExecute whose test cells run in a trusted kernel (see the module's docstring)."""

    def preprocess(self, nb, resources=None, km=None):
        self._plan, self._trusted, self._student, self._deferred = None, None, None, []
        self._stopped_in: set[int] = set()  # cells stopped at their timeout or by a death
        self._plan = self._make_plan(nb, resources or {})
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._trusted is not None:
                run_sync(self._keep_or_stop_trusted)()
                self._trusted = None

    async def _keep_or_stop_trusted(self):
        """Keep the trusted kernel for the next submission when it is healthy, else stop it."""
        trusted = self._trusted
        try:
            content = await self._quiet(trusted.kc, "__course_split__.disconnect()", timeout=30,
                                        km=trusted.km)
            healthy = content.get("status") == "ok"
        except TimeoutError:
            healthy = False
        if not healthy:
            await trusted.stop()
            return
        for key, other in list(KEPT.items()):  # one kept per process: the latest assignment's
            if other is not trusted:
                await other.stop()
            del KEPT[key]
        KEPT[trusted.key] = trusted

    def _make_plan(self, nb, resources) -> Plan | None:
        info = resources.get("nbgrader", {})
        needed = ("db_url", "assignment", "notebook")
        if not all(info.get(k) for k in needed):
            return None
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(config=self.config)
        source_dir = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]))
        plan = plan_from_gradebook(info["db_url"], info["assignment"], info["notebook"],
                                   source_dir if source_dir.is_dir() else None, nb.cells)
        if plan is None:
            self.log.warning("split execution: %s/%s is not in the gradebook; its tests run in "
                             "the student's kernel", info["assignment"], info["notebook"])
        return plan

    # ---- routing ------------------------------------------------------------------------------
    # The student's cells run first, in order; the test cells after the last cell, in order. So
    # no student cell runs after a hidden test has called the student's code: nothing the code
    # saw or stored during a test (a hidden input) can reach a later cell's output.
    def preprocess_cell(self, cell, resources, index):
        if self._plan is None:
            return super().preprocess_cell(cell, resources, index)
        if index == 0:
            run_sync(self._install_bridge)()
        role = self._plan.role(cell)
        if role == "test":
            self._deferred.append(index)
            if self._died_at is None:
                run_sync(self._student_runs_visible_part)(cell, index)
        else:
            cell, resources = super().preprocess_cell(cell, resources, index)
            if any(o.get("output_type") == "error" and o.get("ename") in STOPPED
                   for o in cell.get("outputs", [])):
                self._stopped_in.add(index)  # never run again when the kernel is revived
        if index == len(self.nb.cells) - 1:
            self._run_tests(resources)
        return cell, resources

    def _run_tests(self, resources):
        died = self._died_at
        alive = died is None or run_sync(self._revive_student)(died)
        if died is not None and alive:
            self._died_at = None  # the tests of the cells before `died` run on the revived kernel
        for index in self._deferred:
            cell = self.nb.cells[index]
            if died is not None and index > died:
                cell.outputs = [_error("KernelDied", f"not run: the kernel died in cell {died}")]
            elif not alive or not run_sync(self._student_alive)():
                alive = False
                cell.outputs = [_error("KernelDied", "not run: the kernel died while a test "
                                       "called the student's code")]
            else:
                self._run_test(cell, resources, index)

    def _run_test(self, cell, resources, index):
        """The test cell in the trusted kernel: its hooks bind the student's names before it and
        end the student kernel's session after it (trusted.install_hooks)."""
        cell.source = self._plan.tests[cell.metadata["nbgrader"]["grade_id"]]
        trusted = run_sync(self._ensure_trusted)()
        self._student = (self.km, self.kc)
        self.km, self.kc = trusted.km, trusted.kc
        try:
            SandboxedExecute.preprocess_cell(self, cell, resources, index)
        finally:
            self.km, self.kc = self._student
            self._student = None

    async def _student_runs_visible_part(self, cell, index):
        """Run a test's visible part in the student kernel too (its output dropped) when a later
        student cell reads a name it defines: the student ran it there while working."""
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        visible = HIDDEN.sub("", self._plan.tests[grade_id])
        if not (names_defined(visible) & self._plan.later_reads.get(grade_id, set())):
            return
        try:
            await self._quiet(self.kc, visible, timeout=self.timeout, km=self.km)
        except TimeoutError:
            await self._stop_student("the visible test did not finish", index)

    async def _install_bridge(self):
        """The student kernel's side of the bridge, set up before the student's first cell."""
        content = await self._quiet(self.kc, bridge.install_code(), timeout=self.timeout)
        if content.get("status") != "ok":
            self.log.error("split execution: the bridge did not install in the student's kernel: "
                           "%s: %s", content.get("ename"), content.get("evalue"))

    async def _student_alive(self) -> bool:
        return bool(await ensure_async(self.km.is_alive()))

    async def _revive_student(self, died: int) -> bool:
        """After the student's kernel died in cell `died`: a fresh kernel with the student's cells
        before it run again (quietly), so the tests of those cells are graded as before."""
        if not any(index < died for index in self._deferred):
            return False
        try:
            if self.km.context.closed:  # a kernel stopped after a timeout takes its context along
                self.km.context = zmq.asyncio.Context()
            await ensure_async(self.km.restart_kernel(now=True))
            self.kc.stop_channels()  # the new kernel may have new sockets: a new client
            self.kc = self.km.client()
            await ensure_async(self.kc.start_channels())
            await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
            wake_on_every_message(self.kc)
            await self._install_bridge()
            for index, cell in enumerate(self.nb.cells[:died]):
                if index in self._stopped_in:
                    continue
                role = self._plan.role(cell)
                if role in ("student", "setup"):
                    await self._quiet(self.kc, cell.source, timeout=self.timeout, km=self.km)
                elif role == "test":
                    await self._student_runs_visible_part(cell, index)
        except Exception as error:  # a kernel that cannot restart: those tests score 0
            self.log.error("split execution: the student's kernel could not be revived: %s", error,
                           exc_info=True)
            return False
        if self._trusted is not None:  # the trusted side talks to the new kernel
            info = self._connection_info()
            await self._quiet(self._trusted.kc, f"__course_split__.connect(__course_json__.loads("
                                                f"{json.dumps(info)!r}), {self._student_pid()!r})")
        return await self._student_alive()

    async def _stop_student(self, why: str, index: int):
        self.log.error("split execution: stopping the student's kernel: %s", why)
        # killed, not shut down: its sandbox's folder stays, so it can be revived for the tests
        try:
            if await ensure_async(self.km.is_alive()):
                await ensure_async(self.km.signal_kernel(signal.SIGKILL))
        except RuntimeError:  # it died on its own meanwhile
            pass
        if self._died_at is None:
            self._died_at = index

    # ---- the trusted kernel -------------------------------------------------------------------
    async def _ensure_trusted(self) -> TrustedKernel:
        if self._trusted is not None:
            return self._trusted
        key = (self.km.kernel_name, str(self._plan.source_dir))
        kept = KEPT.pop(key, None)
        if kept is not None:
            try:
                content = await self._quiet(kept.kc, "__course_split__.reset(get_ipython())",
                                            timeout=30, km=kept.km)
                if content.get("status") == "ok":
                    return await self._connect_trusted(kept)
            except TimeoutError:
                pass
            await kept.stop()
        workdir = tempfile.mkdtemp(prefix="course-trusted-")
        if self._plan.source_dir is not None:
            shutil.copytree(self._plan.source_dir, workdir, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints",
                                                          "__pycache__"))
        # Unix sockets in its own folder: no TCP port on the host
        km = AsyncKernelManager(kernel_name=self.km.kernel_name, transport="ipc",
                                ip=os.path.join(workdir, ".kernel"))
        await ensure_async(km.start_kernel(cwd=workdir, extra_arguments=[
            "--HistoryManager.enabled=False"]))
        kc = km.client()
        kc.start_channels()
        await ensure_async(kc.wait_for_ready(timeout=self.startup_timeout))
        wake_on_every_message(kc)
        trusted = TrustedKernel(km, kc, workdir, key)
        content = await self._quiet(kc, "import autograder.safety.trusted as __course_split__\n"
                                        "__course_split__.keep_process_state()")
        if content.get("status") != "ok":
            await trusted.stop()
            raise RuntimeError(f"the trusted kernel did not start: {content.get('evalue')}")
        return await self._connect_trusted(trusted)

    async def _connect_trusted(self, trusted: TrustedKernel) -> TrustedKernel:
        """Point `trusted` at this submission's student kernel."""
        self._trusted = trusted
        info = self._connection_info()
        setup = (
            "import json as __course_json__\n"
            "import autograder.safety.trusted as __course_split__\n"
            f"__course_split__.connect(__course_json__.loads({json.dumps(info)!r}), "
            f"{self._student_pid()!r})\n"
            f"__course_split_names__ = {sorted(self._plan.test_names)!r}\n"
            f"__course_split_answers__ = {sorted(self._plan.answer_names)!r}\n"
            "__course_split__.install_hooks(get_ipython())\n")
        content = await self._quiet(trusted.kc, setup)
        if content.get("status") != "ok":
            raise RuntimeError(f"the trusted kernel did not start: {content.get('evalue')}")
        for source in self._plan.setup.values():  # the instructor's, whatever the submission has
            content = await self._quiet(trusted.kc, source)
            if content.get("status") != "ok":
                self.log.error("split execution: a setup cell failed in the trusted kernel: "
                               "%s: %s", content.get("ename"), content.get("evalue"))
        return trusted

    def _student_pid(self) -> int | None:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return getattr(process, "pid", None)

    def _connection_info(self) -> dict:
        """How a client reaches the student's kernel (its sockets and key), as JSON."""
        info = dict(self.km.get_connection_info())
        info["key"] = info["key"].decode() if isinstance(info["key"], bytes) else info["key"]
        return info

    async def _quiet(self, kc, code: str, timeout=None, km=None) -> dict:
        """Run `code` in a kernel without recording anything; its execute_reply's content.
        TimeoutError after `timeout` seconds, or as soon as `km`'s kernel is found dead."""
        msg_id = await ensure_async(kc.execute(code, silent=True, store_history=False,
                                               allow_stdin=False))
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            try:
                msg = await ensure_async(kc.shell_channel.get_msg(
                    timeout=remaining if km is None else min(remaining or 1.0, 1.0)))
            except Exception:  # queue.Empty
                if km is None or not await ensure_async(km.is_alive()):
                    raise TimeoutError from None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    async def _async_handle_timeout(self, timeout, cell=None):
        """A test cell that times out is usually waiting for the student's code: interrupt the
        student's kernel too, so the test ends with the student's KeyboardInterrupt."""
        if self._student is not None:
            student_km = self._student[0]
            try:
                await ensure_async(student_km.interrupt_kernel())
            except Exception as error:  # a dead kernel: the test is ending anyway
                self.log.warning("could not interrupt the student's kernel: %s", error)
        return await super()._async_handle_timeout(timeout, cell)
