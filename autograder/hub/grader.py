"""The course's sandboxed grader as a JupyterHub service: instructors autograde from their server.

Why a service: every graded kernel runs in the bubblewrap sandbox under a throwaway uid
(autograder/safety/sandbox.py), and switching to that uid needs root. An instructor's single-user server
runs as the instructor, so it cannot start the sandbox (and must never grade unsandboxed). The hub
runs this small service as root (a "managed service": the hub starts and stops it); it grades only
the course folder configured for the calling instructor.

    # jupyterhub_config.py
    c.JupyterHub.services = [{"name": "course-grader", "url": "http://127.0.0.1:10101",
        "command": [python, "-m", "autograder.hub.grader"],
        "environment": {"COURSE_GRADER_COURSES": "teacher=/home/teacher/gradients"}}]
    c.JupyterHub.load_roles = [{"name": "grader-users", "groups": ["instructors"],
        "scopes": ["access:services!service=course-grader"]}]

    POST <hub>/services/course-grader/autograde/<assignment>   (the instructor's token)
    -> {"returncode": 0, "output": "..."}; 403 for anyone not in COURSE_GRADER_COURSES

Root trusts nothing in the instructor's folder. It copies the parts the grader reads (`READ`) into
a fresh root-only folder without following links, refusing the whole grading if any of them holds a
symbolic link, a special file or a hard link to another user's file; it grades that copy with the
TRUSTED nbgrader_config.py (the one of this service's own install, or COURSE_GRADER_CONFIG: a
root-owned file only root can write), never the instructor's, in `python -I` (no folder of the
instructor on sys.path); and a child process with the instructor's uid, gid and groups copies the
outputs back, so root never writes into a folder the instructor controls.
"""
from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import stat
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubAuthenticated
from tornado import ioloop, web

COURSES_ENV = "COURSE_GRADER_COURSES"  # "user=/path/to/course,user2=/other/course"
CONFIG_ENV = "COURSE_GRADER_CONFIG"    # the trusted nbgrader_config.py (default: the package's)
GRADEBOOK_FILES = ("gradebook.db", "gradebook.db-wal", "gradebook.db-shm", "gradebook.db-journal")
OUTPUTS = (*GRADEBOOK_FILES, "autograded", "feedback", ".autograder", "reports", "grades.csv",
           "flags.csv")
# what the grader reads: copied, checked (extensions.csv: the late plugin's per-student deadlines)
READ = ("source", "release", "submitted", "extensions.csv", *OUTPUTS)
GRADE_TIMEOUT = 3600.0


class Refused(Exception):
    """The course folder (or the service's setting) is not safe to grade as root."""


def parse_courses(setting: str) -> dict[str, Path]:
    courses = {}
    for item in filter(None, (part.strip() for part in setting.split(","))):
        user, sep, path = item.partition("=")
        if not sep or not user.strip() or not path.strip():
            raise ValueError(f"{COURSES_ENV} wants user=/course/folder items, not {item!r}")
        courses[user.strip()] = Path(path.strip())
    return courses


def trusted_config() -> Path:
    """The nbgrader_config.py root grades with: root-owned, writable by root only."""
    default = Path(__file__).resolve().parents[2] / "nbgrader_config.py"
    path = Path(os.environ.get(CONFIG_ENV) or default)
    try:
        info = os.lstat(path)
    except OSError:
        raise Refused(f"no trusted nbgrader_config.py at {path}: set {CONFIG_ENV}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise Refused(f"{path} is not trusted: it must be a regular file owned by root that "
                      "group and others cannot write")
    return path


def copy_course(course: Path, copy: Path) -> os.stat_result:
    """Copy the `READ` parts of `course` into the new folder `copy`, never following a link;
    returns the course folder's stat. Every file is opened relative to its opened parent with
    O_NOFOLLOW, so renaming things during the copy cannot lead root outside the folder."""
    try:
        top = os.open(course, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise Refused(f"{course} is not a folder ({error.strerror})") from None
    problems: list[str] = []
    try:
        owner = os.fstat(top)
        copy.mkdir(mode=0o700)
        present = set(os.listdir(top))
        for name in (name for name in READ if name in present):
            _copy_entry(top, name, copy / name, course / name, owner.st_uid, problems)
    except RecursionError:
        problems.append(f"{course}: folders nested too deep")
    except OSError as error:
        problems.append(f"{course} could not be copied: {error}")
    finally:
        os.close(top)
    problems += [f"{path} (in the copy)" for path in unsafe_paths(copy)]  # can no longer change
    if problems:
        raise Refused("refusing to grade: " + "; ".join(problems[:20]) +
                      (f" and {len(problems) - 20} more" if len(problems) > 20 else ""))
    return owner


def _copy_entry(dir_fd: int, name: str, dst: Path, shown: Path, owner: int, problems: list):
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return problems.append(f"{shown} changed while being copied")
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFLNK:
        return problems.append(f"{shown} is a symbolic link")
    if kind not in (stat.S_IFDIR, stat.S_IFREG):
        return problems.append(f"{shown} is a special file")
    if kind == stat.S_IFREG and info.st_nlink > 1 and info.st_uid != owner:
        return problems.append(f"{shown} is a hard link to a file of uid {info.st_uid}")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags | (os.O_DIRECTORY if kind == stat.S_IFDIR else 0), dir_fd=dir_fd)
    except OSError:
        return problems.append(f"{shown} changed while being copied")
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino, stat.S_IFMT(opened.st_mode)) != \
                (info.st_dev, info.st_ino, kind):
            return problems.append(f"{shown} changed while being copied")
        if kind == stat.S_IFDIR:
            dst.mkdir(mode=0o700)
            for entry in sorted(os.listdir(fd)):
                _copy_entry(fd, entry, dst / entry, shown / entry, owner, problems)
        else:
            with open(fd, "rb", closefd=False) as source, open(dst, "xb") as target:
                shutil.copyfileobj(source, target)
        os.chmod(dst, stat.S_IMODE(opened.st_mode) & 0o777)  # given back as they were
        os.utime(dst, ns=(opened.st_atime_ns, opened.st_mtime_ns))
    finally:
        os.close(fd)


def unsafe_paths(folder: Path) -> list[Path]:
    """Everything under `folder` that is neither a folder nor a regular file (links included)."""
    found = []
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            mode = os.lstat(Path(parent, name)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                found.append(Path(parent, name))
    return found


def hand_back(copy: Path, course: Path, owner: os.stat_result) -> tuple[int, str]:
    """Copy the graded outputs of `copy` over `course` AS THE FOLDER'S OWNER: root packs them in
    an archive in its own folder, and a forked child with the owner's uid, gid and groups unpacks
    it (files are rewritten in place, so an open gradebook sees the new grades). A gradebook
    journal the copy no longer has is removed (an old WAL would corrupt the new gradebook).
    (exit status, error)."""
    try:
        account = pwd.getpwuid(owner.st_uid)
        gid, groups = account.pw_gid, os.getgrouplist(account.pw_name, account.pw_gid)
    except KeyError:
        gid, groups = owner.st_gid, [owner.st_gid]
    archive = copy.parent / "outputs.tar"
    with tarfile.open(archive, "w") as tar:
        for name in OUTPUTS:
            if os.path.lexists(copy / name):
                tar.add(copy / name, arcname=name)
    stream = open(archive, "rb")
    errors_in, errors_out = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no way back to root after this
        status = 1
        try:
            os.close(errors_in)
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(owner.st_uid, owner.st_uid, owner.st_uid)
            _unpack(stream, course)
            status = 0
        except BaseException as error:  # noqa: BLE001  (reported by the parent)
            os.write(errors_out, f"{type(error).__name__}: {error}".encode(errors="replace"))
        finally:
            os._exit(status)
    stream.close()
    os.close(errors_out)
    with os.fdopen(errors_in, "rb") as errors:
        message = errors.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), message


def _unpack(stream, course: Path) -> None:
    unpacked = set()
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            unpacked.add(member.name.split("/")[0])
            target = course / member.name
            if member.isfile() and target.is_file() and not os.access(target, os.W_OK):
                target.unlink()  # nbgrader leaves autograded notebooks read-only
            tar.extract(member, course, filter="tar")
    for name in GRADEBOOK_FILES[1:]:
        if name not in unpacked and os.path.lexists(course / name):
            os.unlink(course / name)


async def autograde(course: Path, assignment: str) -> tuple[int, str]:
    """Grade a root-owned copy of `course` with the trusted configuration, then give the
    outputs back as the folder's owner; (exit status, output)."""
    scratch = Path(tempfile.mkdtemp(prefix="course-grader-"))  # 0700, root's
    try:
        copy = scratch / "course"
        try:
            owner = copy_course(course, copy)
            shutil.copy(trusted_config(), copy / "nbgrader_config.py")
        except Refused as refusal:
            return 2, f"{refusal}\nnothing was graded"
        path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        process = await asyncio.create_subprocess_exec(  # -I: no cwd, no PYTHON* on sys.path
            sys.executable, "-I", "-m", "autograder", "--course", str(copy), "autograde",
            assignment, cwd=copy, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PATH": path})
        try:
            output, _ = await asyncio.wait_for(process.communicate(), GRADE_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            output, _ = await process.communicate()
        output = output.decode(errors="replace").replace(str(copy), str(course))
        returned, error = hand_back(copy, course, owner)
        if returned:
            return returned, f"{output}\ncould not give the results back to {course}: {error}"
        return process.returncode, output
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class AutogradeHandler(HubAuthenticated, web.RequestHandler):
    """POST .../autograde/<assignment>: grade the caller's course. One grading at a time."""
    lock = asyncio.Lock()

    def initialize(self, courses: dict[str, Path]):
        self.courses = courses

    def check_xsrf_cookie(self):  # token-authenticated API calls only (no cookie sessions)
        if not self.request.headers.get("Authorization"):
            raise web.HTTPError(403, "send the hub token in the Authorization header")

    @web.authenticated
    async def post(self, assignment: str):
        user = self.get_current_user()["name"]
        course = self.courses.get(user)
        if course is None:
            raise web.HTTPError(403, f"{user} has no course to grade here")
        if not assignment.replace("_", "").isalnum():
            raise web.HTTPError(400, f"not an assignment name: {assignment!r}")
        async with self.lock:
            returncode, output = await autograde(course, assignment)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"returncode": returncode, "output": output}))


def make_app() -> web.Application:
    courses = parse_courses(os.environ.get(COURSES_ENV, ""))
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    return web.Application([(rf"{prefix}autograde/([^/]+)", AutogradeHandler,
                             {"courses": courses})], cookie_secret=os.urandom(32))


def main() -> None:
    url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    make_app().listen(url.port, address=url.hostname)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
