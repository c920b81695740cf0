"""Run every graded kernel inside a bubblewrap sandbox.

nbgrader runs a submission and its hidden tests in one kernel with the instructor's rights
(jupyter/nbgrader#483, #1386). nbgrader_config.py replaces nbgrader's `Execute` preprocessor by
`SandboxedExecute`, so every kernel nbgrader starts in this course directory (`nbgrader autograde`,
`nbgrader validate`, `make autograde`, any worker that loads the config) is started by
`SandboxedKernelManager`, which wraps the kernel's command line in:

    bwrap   new mount, PID, network, IPC and UTS namespaces; the file system is empty except
            /usr (read-only), a few files of /etc, the Python interpreter and the course's .venv
            (read-only), the `course` package (read-only), a fresh /tmp, and the notebook's
            folder as a fresh tmpfs holding read-only copies of its files except notebooks. source/, gradebook.db, the exchange, autograded/,
            feedback/, other students' folders and the instructor's home are not there at all.
            The network namespace has only its own loopback: nothing on the host (127.0.0.1
            included) can be reached, so the kernel talks to nbgrader over ZMQ's IPC transport
            (Unix sockets in a private folder bound into the sandbox).
    setpriv a throwaway uid of its own (so no file of the host is writable and the process limit
            counts only this kernel), no capabilities, no_new_privs.
    prlimit address space, processes, CPU seconds, file size, open files (`LIMITS`).

`SandboxedExecute` also caps the output a cell may record (`OUTPUT_LIMIT`), and stops a kernel that
ignores the interrupt sent at a cell's timeout (`Execute.timeout`, COURSE_TIMEOUT).

Where no sandbox can start (no bubblewrap, not root) kernels refuse to start with the reason, unless
the instructor sets COURSE_UNSANDBOXED=1 (`python -m autograder autograde --unsandboxed`).

    python -m autograder.safety.sandbox        # says whether the sandbox works here, and why not
"""
from __future__ import annotations

import asyncio
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Integer

from autograder.kernels.prestart import PRESTARTER, workdir_files
from autograder.kernels.wakeful import wake_on_every_message

UNSANDBOXED_ENV = "COURSE_UNSANDBOXED"  # "1": run kernels without a sandbox (explicit opt-out)
BWRAP_MISSING = "bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (and everything it starts)."""
    address_space: int = 6 * 2**30   # bytes of virtual memory: numpy + matplotlib need < 1 GiB
    processes: int = 256             # processes and threads of the kernel's own uid
    cpu_seconds: int = 900           # CPU time of the whole notebook (SIGXCPU kills it)
    file_size: int = 256 * 2**20     # largest file the kernel may write
    open_files: int = 1024
    tmp_size: int = 512 * 2**20      # the private /tmp (a tmpfs)
    work_size: int = 256 * 2**20     # what the kernel may write in its working folder (a tmpfs)

    def prlimit_args(self) -> list[str]:
        return [f"--as={self.address_space}", f"--nproc={self.processes}",
                f"--cpu={self.cpu_seconds}", f"--fsize={self.file_size}",
                f"--nofile={self.open_files}", "--core=0"]


LIMITS = Limits()
OUTPUT_LIMIT = 2 * 2**20  # bytes of output one cell may record; the rest is dropped with a note
NOTEBOOK_OUTPUT_LIMIT = 16 * 2**20  # bytes of output the whole notebook may record
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf",
             "localtime", "fonts", "alternatives", "mime.types")
FIRST_SANDBOX_UID = 2_000_000  # throwaway uids, far above any real account
SANDBOX_UIDS = 1_000_000


def unsandboxed_allowed() -> bool:
    return os.environ.get(UNSANDBOXED_ENV, "") == "1"


@functools.cache
def unavailable_reason() -> str:
    """Why no sandbox can start here ('' when it can). Starts a real one once to find out."""
    bwrap, setpriv, prlimit = (shutil.which(t) for t in ("bwrap", "setpriv", "prlimit"))
    if not bwrap:
        return BWRAP_MISSING
    if not (setpriv and prlimit):
        return "setpriv and prlimit (Debian package util-linux) are needed"
    if os.geteuid() != 0:
        return "the sandbox gives each kernel a throwaway uid, which needs root"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as scratch:
        command = wrap_command([sys.executable, "-c", "import numpy, course"], Path(scratch),
                               workdir=None, uid=FIRST_SANDBOX_UID)
        try:
            probe = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not start: {error}"
    if probe.returncode != 0:
        return f"bubblewrap could not start a Python: {(probe.stderr or '').strip()[-400:]}"
    return ""


def available() -> bool:
    """True when a sandboxed kernel can start on this machine."""
    return not unavailable_reason()


def refusal_message() -> str:
    return (f"no sandbox can start here ({unavailable_reason()}); grading refuses to run students' "
            f"code with your rights. Set {UNSANDBOXED_ENV}=1 (or pass --unsandboxed to "
            "`python -m autograder autograde`) to grade without a sandbox anyway.")


# --- the command line ---------------------------------------------------------------------------

def python_roots(executable: str) -> list[Path]:
    """Folders the kernel's interpreter needs: its venv (if any) and the real installation."""
    roots = [Path(sys.prefix), Path(sys.base_prefix)]
    exe = Path(executable)
    if exe.is_absolute():
        for candidate in (exe.parent.parent, Path(os.path.realpath(exe)).parent.parent):
            if candidate not in roots and (candidate / "lib").is_dir():
                roots.append(candidate)
    return [Path(os.path.realpath(r)) for r in roots]


def course_package() -> Path | None:
    """The `course` package students import (an editable install at the repository root)."""
    spec = find_spec("course")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(os.path.realpath(list(spec.submodule_search_locations)[0]))


def _dirs_to(path: Path, made: set) -> list[str]:
    """bwrap arguments creating every missing parent of `path` world-readable (bwrap's own
    intermediate folders would be 0700, closed to the sandbox's uid)."""
    args = []
    for parent in reversed(path.parents):
        if str(parent) in ("/", "/tmp") or parent in made:
            continue
        made.add(parent)
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def wrap_command(kernel_cmd: list[str], scratch: Path, workdir: Path | None, uid: int,
                 env: dict | None = None, limits: Limits = LIMITS) -> list[str]:
    """The bwrap command line that runs `kernel_cmd` sandboxed.

    scratch: a private host folder bound read-write at the same path (connection file and IPC
    sockets); workdir: the folder the kernel starts in (bound at the same path; the sandbox sees a
    copy, `scratch`/work), or None; env: the kernel's whole environment (`kernel_env`).
    """
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--clearenv"]
    for key, value in (env if env is not None else kernel_env(kernel_cmd[0], {})).items():
        args += ["--setenv", key, value]
    args += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
             "--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    made: set = set()
    if Path.home() != Path("/tmp"):
        args += ["--perms", "0755", "--tmpfs", str(Path.home())]  # hides the instructor's home
        made.add(Path.home())
    binds = [(root, "--ro-bind") for root in python_roots(kernel_cmd[0])]
    package = course_package()
    if package:
        binds.append((package, "--ro-bind"))
    binds.append((scratch, "--bind"))
    for path, how in binds:
        args += _dirs_to(path, made)
        made.add(path)
        args += [how, str(path), str(path)]
    if workdir:  # a private tmpfs holding read-only copies of the folder's files: what the
        args += _dirs_to(workdir, made)  # kernel writes there stays in memory, within a size
        args += ["--perms", "1777", "--size", str(limits.work_size), "--tmpfs", str(workdir)]
        for item in sorted((scratch / "work").iterdir()) if (scratch / "work").is_dir() else []:
            args += ["--ro-bind", str(item), str(workdir / item.name)]
    args += ["--chdir", str(workdir or scratch)]
    args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
             "--inh-caps=-all", "--bounding-set=-all", "--",
             "prlimit", *limits.prlimit_args(), "--", *kernel_cmd]
    return args


def kernel_env(python: str, launch_env: dict) -> dict:
    """The kernel's whole environment. Nothing else of nbgrader's environment gets in (such as
    COURSE_DB_URL, which may hold a password)."""
    env = {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
           "MPLBACKEND": "Agg", "JPY_PARENT_PID": "1",  # bwrap's init: ipykernel polls no parent
           "PATH": f"{Path(python).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    for key in ("JPY_SESSION_NAME", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "PYTHONHASHSEED"):
        if key in launch_env:
            env[key] = launch_env[key]
    return env


@functools.cache
def matplotlib_font_cache() -> Path | None:
    """matplotlib's font list, built once in the venv: each fresh sandbox would otherwise
    rebuild it (a font scan and a `fc-list` per kernel)."""
    cache = Path(sys.prefix) / "share" / "gradients-sandbox-matplotlib"
    if not list(cache.glob("fontlist-*.json")):
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                       env={**os.environ, "MPLCONFIGDIR": str(cache)}, capture_output=True,
                       timeout=300)
    found = sorted(cache.glob("fontlist-*.json"))
    return found[-1] if found else None


def copy_files(files: list[Path], target: Path) -> None:
    """Copy `files` (chosen by `prestart.workdir_files`) into the folder `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for item in files:
        shutil.copy2(item, target / item.name)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc, children first listed last)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.append(child)
                    todo.append(child)
    return found


def _is_bwrap(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap"
    except OSError:
        return True


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the bubblewrap sandbox, over ZMQ's IPC transport."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandboxed = not unsandboxed_allowed()
        self._scratch: Path | None = None
        self.prestart_files: list[Path] | None = None  # set for a kernel started ahead of need
        if self.sandboxed:
            self.transport = "ipc"

    async def _async_pre_start_kernel(self, **kw):
        if self.sandboxed and not available():
            raise RuntimeError(refusal_message())
        if self.sandboxed and self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="gradients-kernel-"))
            self._uid = FIRST_SANDBOX_UID + secrets.randbelow(SANDBOX_UIDS)
            self.connection_file = str(self._scratch / "kernel.json")
            self.ip = str(self._scratch / "ipc")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if not self.sandboxed:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        scratch = self._scratch
        workdir = Path(kw.get("cwd") or os.getcwd()).resolve()
        shutil.rmtree(scratch / "work", ignore_errors=True)
        files, self.prestart_files = self.prestart_files, None
        copy_files(workdir_files(workdir) if files is None else files, scratch / "work")
        (scratch / "matplotlib").mkdir(exist_ok=True)
        fonts = matplotlib_font_cache()
        if fonts:
            shutil.copy(fonts, scratch / "matplotlib" / fonts.name)
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, self._uid, self._uid, follow_symlinks=False)
        os.chown(self.connection_file, self._uid, self._uid)
        os.chmod(scratch, 0o700)
        env = kernel_env(kernel_cmd[0], kw.get("env") or {})
        env["MPLCONFIGDIR"] = str(scratch / "matplotlib")
        command = wrap_command(kernel_cmd, scratch, workdir, self._uid, env)
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # bwrap's own
        kw["cwd"] = str(scratch)
        return await super()._async_launch_kernel(command, **kw)

    async def _async_signal_kernel(self, signum: int) -> None:
        """Interrupts go to the kernel inside, never to bwrap (which SIGINT would end)."""
        if not self.sandboxed or signum in (signal.SIGKILL, signal.SIGTERM) \
                or self.provisioner is None or not getattr(self.provisioner, "pid", None):
            return await super()._async_signal_kernel(signum)
        for pid in _descendants(self.provisioner.pid):
            if not _is_bwrap(pid):
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass

    async def _async_interrupt_kernel(self) -> None:
        if self.sandboxed:
            return await self._async_signal_kernel(signal.SIGINT)
        return await super()._async_interrupt_kernel()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._scratch and not restart:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


class SandboxedExecute(Execute):
    """nbgrader's Execute, with sandboxed kernels, capped outputs and a hard stop after a timeout.

    Configured in nbgrader_config.py in place of `nbgrader.preprocessors.Execute`."""

    output_limit = Integer(OUTPUT_LIMIT, help="bytes of output one cell may record").tag(config=True)
    notebook_output_limit = Integer(NOTEBOOK_OUTPUT_LIMIT, help="bytes of output the whole "
                                    "notebook may record").tag(config=True)
    # A cell that floods its output finishes long before nbgrader has read all of it: wait for
    # the rest, and never let a slow output end the student's whole grading.
    iopub_timeout = Integer(30, allow_none=True, help="seconds to wait for a cell's remaining "
                            "output after it finished").tag(config=True)
    raise_on_iopub_timeout = Bool(False, help="fail the notebook when output is late "
                                  "(no: the cell is graded on what arrived)").tag(config=True)
    # the kernel is thrown away after grading, with nothing in it to save: kill it at once
    # instead of asking it to shut down and waiting for it
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate",
                           help="how the kernel is stopped after the notebook ran").tag(config=True)
    grace_after_interrupt = Integer(
        10, help="seconds a timed-out cell has to stop after the interrupt before its kernel is "
                 "restarted").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(*args, **kwargs)
        self._output_bytes: dict[int, int] = {}  # per cell: everything the kernel sent
        self._recorded_bytes = 0  # in the whole notebook: what was kept
        self._died_at: int | None = None

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes, self._recorded_bytes, self._died_at = {}, 0, None
        return super().preprocess(nb, resources, km)

    def _kernel_arguments(self) -> list[str]:
        """The arguments nbclient starts an IPython kernel with (it adds the history file)."""
        arguments = list(self.extra_arguments)
        if getattr(self.km, "ipykernel", False) and self.ipython_hist_file and not any(
                a.startswith("--HistoryManager.hist_file") for a in arguments):
            arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")
        return arguments

    async def async_start_new_kernel(self, **kwargs):
        """Use the kernel started ahead for this folder (autograder/kernels/prestart.py) when it was
        started exactly as this one would be; otherwise start one as nbclient does."""
        cwd = kwargs.get("cwd") or self.resources.get("metadata", {}).get("path") or os.getcwd()
        ready = PRESTARTER.take(cwd, self.km.kernel_name, self._kernel_arguments())
        if ready is None:
            return await super().async_start_new_kernel(**kwargs)
        self.km = ready

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        wake_on_every_message(client)
        # this kernel is ready: the next one boots while this notebook runs
        await PRESTARTER.launch(self.kernel_manager_class, self.km.kernel_name,
                                self._kernel_arguments(), config=self.config)
        return client

    # nbclient's synchronous names are bound to its own coroutines: bind them to these
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        """After the kernel died (a crash, os._exit, out of CPU time, killed after ignoring an
        interrupt), the remaining code cells are not run: each records why, so its tests score 0
        and the cells before keep their grades."""
        if cell.cell_type == "code" and self._died_at is not None:
            cell.outputs = [_error("KernelDied", f"not run: the kernel died in cell {self._died_at}")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_at = index
            cell.outputs.append(_error("KernelDied", "the kernel died while running this cell "
                                       "(a crash, os._exit, or a resource limit)"))
            return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + len(repr(content.get("data", "")))
        used = self._output_bytes.get(cell_index, 0)
        total = self._recorded_bytes
        self._output_bytes[cell_index] = used + size
        if used + size <= self.output_limit and total + size <= self.notebook_output_limit:
            self._recorded_bytes += size
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.output_limit and total <= self.notebook_output_limit:
            note = NotebookNode(output_type="stream", name="stdout",
                                text=f"\n[output cut: more than {self.output_limit // 2**20} MiB "
                                     f"in this cell or {self.notebook_output_limit // 2**20} MiB "
                                     "in the notebook]\n")
            outs.append(note)
        return None

    async def _async_handle_timeout(self, timeout, cell=None):
        """Interrupt the timed-out cell; a kernel that still has not answered after
        `grace_after_interrupt` seconds (it catches KeyboardInterrupt, say) is killed, and the
        rest of the notebook is graded as after any kernel death."""
        reply = await super()._async_handle_timeout(timeout, cell)
        if self.interrupt_on_timeout and self.kc is not None:
            try:
                await self.kc.shell_channel.get_msg(timeout=self.grace_after_interrupt)
            except Exception:  # queue.Empty: no execute_reply, the interrupt was ignored
                self.log.error("the kernel ignored the interrupt: killing it")
                await _ensure(self.km.shutdown_kernel(now=True))
        return reply


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


async def _ensure(value):
    if asyncio.iscoroutine(value):
        return await value
    return value


if __name__ == "__main__":
    reason = unavailable_reason()
    print("the sandbox works here" if not reason else f"no sandbox: {reason}")
    sys.exit(1 if reason else 0)
