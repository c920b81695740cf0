"""A throwaway PostgreSQL server for the tests: Debian's package, installed if missing, run on a
Unix socket in a temporary directory (no TCP port), stopped and removed afterwards. As root the
server runs as the `postgres` user the package creates (PostgreSQL refuses to run as root)."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _install() -> Path:
    if _bin_dir() is None:
        if os.geteuid() != 0:
            pytest.fail("PostgreSQL is not installed and only root can install it: "
                        "apt-get install -y postgresql")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=600"]  # the browser test's install may hold apt's lock
        subprocess.run(["apt-get", "update", "-q", *wait], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *wait, "--no-install-recommends",
                        "postgresql"], check=True, env=env, capture_output=True)
    found = _bin_dir()
    if found is None:
        pytest.fail("apt-get install postgresql left no initdb in /usr/lib/postgresql/*/bin")
    return found


@pytest.fixture(scope="session")
def postgresql_server():
    """An SQLAlchemy URL of an empty database `gradebook` on a fresh local server."""
    bin_dir = _install()
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    home = Path(tempfile.mkdtemp(prefix="gradebook-pg-"))
    if as_root:
        account = pwd.getpwnam("postgres")
        os.chown(home, account.pw_uid, account.pw_gid)
    data, port = home / "data", 5432 + os.getpid() % 1000

    def run(*args):
        return subprocess.run([str(bin_dir / args[0]), *args[1:]], check=True,
                              capture_output=True, text=True, user=user if as_root else None,
                              cwd=home)

    try:
        run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run("pg_ctl", "-D", str(data), "-l", str(home / "server.log"), "-w", "-t", "60", "-o",
            f"-k {home} -c listen_addresses='' -p {port} -F", "start")
        run("createdb", "-h", str(home), "-p", str(port), "-U", "postgres", "gradebook")
        yield f"postgresql://postgres@/gradebook?host={home}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)
