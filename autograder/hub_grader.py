"""The course's sandboxed grader as a JupyterHub service: instructors autograde from their server.

Why a service: every graded kernel runs in the bubblewrap sandbox under a throwaway uid
(autograder/sandbox.py), and switching to that uid needs root. An instructor's single-user server
runs as the instructor, so it cannot start the sandbox (and must never grade unsandboxed). The hub
runs this small service as root (a "managed service": the hub starts and stops it); it grades only
the course folder configured for the calling instructor, with `python -m autograder autograde`,
and gives the results back to the owner of that folder.

    # jupyterhub_config.py
    c.JupyterHub.services = [{"name": "course-grader", "url": "http://127.0.0.1:10101",
        "command": [python, "-m", "autograder.hub_grader"],
        "environment": {"COURSE_GRADER_COURSES": "teacher=/home/teacher/gradients"}}]
    c.JupyterHub.load_roles = [{"name": "grader-users", "groups": ["instructors"],
        "scopes": ["access:services!service=course-grader"]}]

    POST <hub>/services/course-grader/autograde/<assignment>   (the instructor's token)
    -> {"returncode": 0, "output": "..."}; 403 for anyone not in COURSE_GRADER_COURSES

Root touches only the instructor's course folder: it refuses a folder where nbgrader's outputs are
symbolic links (they could point root anywhere), and afterwards hands every file it made there back
to the folder's owner without following links.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubAuthenticated
from tornado import ioloop, web

COURSES_ENV = "COURSE_GRADER_COURSES"  # "user=/path/to/course,user2=/other/course"
OUTPUTS = ("gradebook.db", "gradebook.db-journal", "submitted", "autograded", "feedback",
           ".autograder", "reports", "grades.csv", "flags.csv")
GRADE_TIMEOUT = 3600.0


def parse_courses(setting: str) -> dict[str, Path]:
    courses = {}
    for item in filter(None, (part.strip() for part in setting.split(","))):
        user, sep, path = item.partition("=")
        if not sep or not user.strip() or not path.strip():
            raise ValueError(f"{COURSES_ENV} wants user=/course/folder items, not {item!r}")
        courses[user.strip()] = Path(path.strip())
    return courses


def linked_outputs(course: Path) -> list[Path]:
    """nbgrader outputs in `course` that are symbolic links, at any depth."""
    found = []
    for name in OUTPUTS:
        top = course / name
        if top.is_symlink():
            found.append(top)
        elif top.is_dir():
            for folder, dirs, files in os.walk(top):
                found += [Path(folder, n) for n in dirs + files if Path(folder, n).is_symlink()]
    return found


def give_back(course: Path) -> None:
    """Every nbgrader output in `course` owned by the course folder's owner (links not followed)."""
    owner = course.stat()
    for name in OUTPUTS:
        top = course / name
        if not os.path.lexists(top):
            continue
        paths = [top]
        if top.is_dir() and not top.is_symlink():
            for folder, dirs, files in os.walk(top):
                paths += [Path(folder, n) for n in dirs + files]
        for path in paths:
            os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)


async def autograde(course: Path, assignment: str) -> tuple[int, str]:
    """`python -m autograder autograde ASSIGNMENT` in `course`; (exit status, output)."""
    problems = linked_outputs(course)
    if problems:
        return 2, "refusing to grade: symbolic links among nbgrader's outputs: " + \
            ", ".join(str(p) for p in problems)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "autograder", "--course", str(course), "autograde", assignment,
        cwd=course, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"})
    try:
        output, _ = await asyncio.wait_for(process.communicate(), GRADE_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    give_back(course)
    return process.returncode, output.decode(errors="replace")


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
