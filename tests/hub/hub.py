"""A real local JupyterHub for tests/test_hub.py: real Unix users, the local process spawner,
configurable-http-proxy from npm (install-hub.sh), the course's grader as a managed service.

Everything lives in one temporary folder (homes, exchange, hub state), world-traversable so the
users' servers can reach their homes; `LocalHub.stop()` ends the hub, its proxy, the service and
every single-user server, and `LocalUsers.remove()` deletes the accounts.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
ROOT = HUB_DIR.parent.parent
CHP = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
USER_PREFIX = "ghub"                       # ghub<6 hex>-<role>: unique per run
USER_PATTERN = re.compile(r"^ghub[0-9a-f]{6}-[a-z]+$")


def install_proxy() -> Path:
    result = subprocess.run(["bash", str(HUB_DIR / "install-hub.sh")], capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, f"could not install configurable-http-proxy:\n{result.stderr}"
    return CHP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _traversable_by_others(path: Path) -> bool:
    """Every folder above `path` can be entered, and `path` read, by any user."""
    path = path.resolve()
    for folder in [*reversed(path.parents)]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def _link_tree(source: Path, target: Path, exclude: tuple = ()) -> None:
    """`target` as a copy of `source`: hard links where one filesystem allows it (instant, and
    the files stay root's, read-only to the users), a real copy otherwise."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in exclude:
            continue
        if subprocess.run(["cp", "-al", str(item), str(target)], capture_output=True).returncode:
            subprocess.run(["cp", "-a", str(item), str(target)], check=True)


def _replace(path: Path, data: bytes) -> None:
    """Write `path` as a new file: never through a hard link into the original tree."""
    path.unlink()
    path.write_bytes(data)


def users_python(scratch: Path) -> tuple[Path, dict]:
    """The interpreter the hub's users run (the course's .venv) and the environment it needs.
    Where the users cannot reach it (a clone under /root, or a Python installed there, as pyenv
    does), the interpreter, .venv and the course's packages are copied into `scratch` instead
    (hard links when possible): nothing of the machine's own folders is opened up."""
    venv = Path(sys.prefix)
    python = Path(os.path.realpath(venv / "bin" / "python"))
    if all(_traversable_by_others(p) for p in (python, venv / "bin" / "python",
                                                ROOT / "course", ROOT / "autograder")):
        return venv / "bin" / "python", {}
    base = Path(sys.base_prefix).resolve()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    copy_base, copy_venv = scratch / "python", scratch / "venv"
    (copy_base / "bin").mkdir(parents=True)
    subprocess.run(["cp", "-al" if python.stat().st_dev == scratch.stat().st_dev else "-a",
                    str(python), str(copy_base / "bin" / version)], check=True)
    _link_tree(base / "lib", copy_base / "lib", exclude=("pkgconfig", version))
    _link_tree(base / "lib" / version, copy_base / "lib" / version, exclude=("site-packages",))
    (copy_base / "lib" / version / "site-packages").mkdir()
    _link_tree(venv, copy_venv)
    for link in (copy_venv / "bin").glob("python*"):
        if link.is_symlink():
            link.unlink()
            link.symlink_to(copy_base / "bin" / version)
    config = (copy_venv / "pyvenv.cfg").read_text().splitlines()
    config = [f"home = {copy_base / 'bin'}" if line.startswith("home") else line
              for line in config]
    _replace(copy_venv / "pyvenv.cfg", ("\n".join(config) + "\n").encode())
    for script in (copy_venv / "bin").iterdir():  # console scripts name the original interpreter
        if script.is_file() and not script.is_symlink():
            first, _, rest = script.read_bytes().partition(b"\n")
            if first.startswith(b"#!") and b"python" in first:
                _replace(script, f"#!{copy_venv}/bin/python".encode() + b"\n" + rest)
                script.chmod(0o755)
    packages = scratch / "packages"
    for name in ("course", "autograder"):
        shutil.copytree(ROOT / name, packages / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    # folders are new (never shared with the original): open them; files keep their modes
    for tree in (copy_base, copy_venv, packages):
        subprocess.run(["find", str(tree), "-type", "d", "-exec", "chmod", "a+rx", "{}", "+"],
                       check=True)
    subprocess.run(["chmod", "-R", "a+r", str(packages)], check=True)
    # the interpreter finds libpython through its RUNPATH, the original folder: point it here
    return copy_venv / "bin" / "python", {"PYTHONPATH": str(packages),
                                          "LD_LIBRARY_PATH": str(copy_base / "lib")}


class LocalUsers:
    """Real Unix accounts, each with a private home (0700) inside `homes`."""

    def __init__(self, homes: Path, roles: list[str]):
        self.homes = homes
        tag = secrets.token_hex(3)
        self.names = {role: f"{USER_PREFIX}{tag}-{role}" for role in roles}

    @staticmethod
    def remove_stale() -> None:
        """Accounts left by a crashed run whose temporary home is gone."""
        for entry in pwd.getpwall():
            if USER_PATTERN.match(entry.pw_name) and not Path(entry.pw_dir).exists():
                subprocess.run(["userdel", entry.pw_name], capture_output=True)

    def create(self) -> "LocalUsers":
        self.homes.mkdir(parents=True, exist_ok=True)
        for name in self.names.values():
            home = self.homes / name
            subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--user-group",
                            "--shell", "/bin/bash", name], check=True, capture_output=True)
            home.chmod(0o700)
        return self

    def remove(self) -> None:
        for name in self.names.values():
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", name], capture_output=True)

    def home(self, role: str) -> Path:
        return self.homes / self.names[role]

    def run_as(self, role: str, *command: str) -> subprocess.CompletedProcess:
        """`command` run with the user's uid, gid and groups only (an attempt by that user)."""
        entry = pwd.getpwnam(self.names[role])
        return subprocess.run(list(command), user=entry.pw_uid, group=entry.pw_gid,
                              extra_groups=[], capture_output=True, text=True, timeout=60,
                              cwd="/", env={"HOME": entry.pw_dir, "PATH": "/usr/bin:/bin"})

    def chown(self, role: str, path: Path) -> None:
        entry = pwd.getpwnam(self.names[role])
        for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chown(item, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


class HubError(RuntimeError):
    pass


class LocalHub:
    """`LocalHub(scratch, config_text).start()`; `api()` as the admin service, `user_api()`."""

    def __init__(self, scratch: Path, port: int, config: str):
        self.scratch, self.port, self.config = scratch, port, config
        self.admin_token = secrets.token_hex(24)
        self.process = None
        self.log_path = scratch / "jupyterhub.log"
        self.base = f"http://127.0.0.1:{port}"

    def start(self, python: Path, env: dict, timeout: float = 90) -> "LocalHub":
        state = self.scratch / "hub-state"
        state.mkdir(mode=0o700, exist_ok=True)
        (state / "jupyterhub_config.py").write_text(self.config)
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(python), "-m", "jupyterhub", "-f", str(state / "jupyterhub_config.py")],
            cwd=state, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **env, "TEST_HUB_ADMIN_TOKEN": self.admin_token})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubError(f"jupyterhub exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("GET", "/hub/api/")
                return self
            except (urllib.error.URLError, OSError, HubError):
                time.sleep(0.3)
        raise HubError(f"the hub did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-6000:] if self.log_path.exists() else ""

    def request(self, method: str, path: str, token: str, body=None, form: dict | None = None,
                timeout: float = 300, raw: bool = False):
        headers = {"Authorization": f"token {token}"}
        data = None
        if form is not None:
            data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                payload = response.read()
                if raw:
                    return response.status, response.headers, payload  # case-insensitive
        except urllib.error.HTTPError as error:
            if raw:
                return error.code, error.headers, error.read()
            raise HubError(f"{method} {path}: {error.code} {error.read()[:2000]!r}") from None
        return json.loads(payload) if payload.strip() else None

    def api(self, method: str, path: str, body=None, **kw):
        return self.request(method, path, self.admin_token, body, **kw)

    def user_token(self, name: str) -> str:
        return self.api("POST", f"/hub/api/users/{name}/tokens",
                        {"note": "test", "expires_in": 3600})["token"]

    def start_server(self, name: str, timeout: float = 120) -> None:
        self.api("POST", f"/hub/api/users/{name}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/hub/api/users/{name}")["servers"].get("")
            if server and server.get("ready"):
                return
            time.sleep(0.3)
        raise HubError(f"{name}'s server did not start within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM to the hub (it stops its servers, service and proxy), then whatever is left of
        its process group is killed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
