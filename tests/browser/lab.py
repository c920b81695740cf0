"""JupyterLab 4 on a free local port, for the real-browser tests.

The server runs with its own settings, workspace and runtime folders (nothing from the user's
~/.jupyter), the notebook's windowing off (every cell stays in the page, so a test can find it),
and no news or update pop-ups. It serves `root_dir` only.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BROWSER_DIR = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download is not used

SETTINGS = {
    # Every cell stays attached to the page (the default renders only the visible ones).
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none",
                                              "scrollPastEnd": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def ensure_chromium() -> str:
    """Debian's Chromium and a Hangul font, installed by install-browser.sh when missing (it needs
    root the first time, as in CI); fails with the reason otherwise, never skips."""
    result = subprocess.run(["bash", str(BROWSER_DIR / "install-browser.sh")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"could not install the browser:\n{result.stderr}"
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing after install-browser.sh"
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    """The server could not bind its port: another process took it first."""


class JupyterLab:
    """`with JupyterLab(root, scratch) as lab:` starts the server; `lab.url(path)` opens a file.

    python: the interpreter whose JupyterLab, nbgrader and kernel are used (default: this one).
    """

    def __init__(self, root_dir: Path, scratch: Path, python: str = sys.executable,
                 startup_timeout: float = 60):
        self.root_dir, self.scratch, self.python = Path(root_dir), Path(scratch), python
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(16)
        self.port = None
        self.process = None
        self.log_path = self.scratch / "jupyterlab.log"

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{path}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every notebook session (and its kernel), so the next notebook has the CPU."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def _environment(self) -> dict:
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # a student's kernel draws inline, as JupyterLab sets it up
        settings = self.scratch / "lab-settings"
        for plugin, values in SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            target = settings / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env.update(JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.scratch / "lab-workspaces"),
                   JUPYTER_CONFIG_DIR=str(self.scratch / "jupyter-config"),
                   JUPYTER_RUNTIME_DIR=str(self.scratch / "jupyter-runtime"))
        bin_dir = str(Path(self.python).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        return env

    def start(self) -> "JupyterLab":
        """Start the server on a free port. A port is free when chosen but another process (a
        parallel test worker) can take it before the server binds it: then a new port is chosen."""
        for _ in range(3):
            try:
                return self._start_on(free_port())
            except PortTaken:
                continue
        raise RuntimeError("JupyterLab found its port taken three times:\n" + self.log()[-3000:])

    def _start_on(self, port: int) -> "JupyterLab":
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.port = port
        command = [self.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root_dir}"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root_dir, env=self._environment(),
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "already in use" in self.log():
                    raise PortTaken(port)
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                self.api("status")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"JupyterLab did not answer within {self.startup_timeout} s:\n"
                           + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
