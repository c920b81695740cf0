"""Links and special files in a submission are never followed, by plain nbgrader or this grader.

A submission folder, submitted/<student>/<assignment>/, is the student's: any entry in it may be a
symbolic link (to ../../../source/NN/NN.ipynb, gradebook.db, /proc/self/environ, /dev/zero), a
hard link (a second name of a file elsewhere on the same file system, gradebook.db say), or a
special file (a FIFO whose read blocks forever, a socket, a device). Stock nbgrader follows all of
them: it copies the submission's files into autograded/ with `shutil.copy` (the graded kernel then
reads the copy of the link's target), reads the notebook by name, and reads timestamp.txt.

Here only a *plain* file is ever read or copied: a regular file with one name, reached without
a link (`refusal` says why anything else is not). nbgrader_config.py sets four hooks, so plain
`nbgrader autograde` and `python -m autograder autograde` behave alike:

* `install()`: nbgrader's converters copy only plain files from a step's folder to the next
  (`nbgrader.converters.base.find_all_files`, the one list of files `init_assignment` copies, is
  wrapped), and read timestamp.txt only if it is plain (otherwise the time is unknown).
* `PlainNotebookExporter` (`c.Autograde.exporter_class`): opens a notebook without following a
  link and reads it only if it is plain; a notebook that is a link is not read, its submission
  fails with the reason and scores 0.
* `RefuseLinks` (a sanitize preprocessor, so it runs before any kernel starts): compares the
  autograded copy with submitted/ by `lstat`, removes anything copied from a link or a special
  file (should a copy get past the first hook), and flags each such entry for a person, by
  student and path (nbgrader's `flagged` mark and flags.csv, as the tamper checks do). The
  student's honest work is graded as usual.

* `PlainCollect` (`c.ExchangeFactory.collect`): `nbgrader collect` copies only plain files out of
  the exchange's inbound folder, so no link a student left there reaches submitted/.

`handed_in(folder)` lists everything a submission holds beside its notebooks, for the reports.
"""
from __future__ import annotations

import datetime
import functools
import io
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.exchange import Exchange
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.safety import flags

TIMESTAMP = "timestamp.txt"
NOT_LISTED = ("__pycache__", ".ipynb_checkpoints")  # folders nbgrader does not copy either
_KINDS = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]


class UnreadableNotebook(Exception):
    """A submitted notebook that is a link or a special file: it is not read."""


def describe(mode: int, nlink: int, link_target: str | None = None) -> str:
    """Why an entry with this `lstat` mode and link count is not a plain file ('' if it is)."""
    if stat.S_ISLNK(mode):
        return f"a symbolic link to {link_target}" if link_target else "a symbolic link"
    for test, kind in _KINDS:
        if test(mode):
            return kind
    if stat.S_ISREG(mode) and nlink > 1:
        return f"a hard link (one of {nlink} names of the same file)"
    return ""


def refusal(path) -> str:
    """Why `path` itself is not a plain file or folder ('' if it is, or does not exist). Never
    follows a link: a symbolic link, a hard link and a special file each say what they are."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ""
    target = None
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(path)
        except OSError:
            pass
    return describe(info.st_mode, info.st_nlink, target)


def refusal_below(path, top) -> str:
    """Why `path` cannot be read without following a link ('' if it can): `path` itself, or a
    folder between `top` (not included: the course may keep submitted/ on another disk through a
    link) and it, is not plain."""
    path, top = Path(os.path.abspath(path)), Path(os.path.abspath(top))
    try:
        parts = path.relative_to(top).parts
    except ValueError:
        return refusal(path)
    current = top
    for index, part in enumerate(parts):
        current = current / part
        why = refusal(current)
        if why:
            return why if index == len(parts) - 1 else f"inside {part}/, which is {why}"
    return ""


@dataclass(frozen=True)
class HandedIn:
    """One entry of a submission folder, as `lstat` sees it."""
    path: str          # relative to the submission folder, '/'-separated
    size: int          # bytes (0 for anything but a regular file)
    refused: str = ""  # why it is never followed ('' for a plain file)

    def __str__(self) -> str:
        if self.refused:
            return f"{self.path} ({self.refused}: never read, not given to the kernel)"
        return f"{self.path} ({_size(self.size)})"


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def handed_in(folder, skip=()) -> list[HandedIn]:
    """Every file a submission folder holds (walked without following links), except the names
    in `skip` at its top (its notebooks, timestamp.txt). A folder that is itself a link is one
    refused entry, '.'."""
    folder = Path(folder)
    why = refusal(folder)
    if why:
        return [HandedIn(".", 0, why)]
    found: list[HandedIn] = []

    def walk(current: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            rel = prefix + entry.name
            if not prefix and entry.name in skip:
                continue
            info = entry.stat(follow_symlinks=False)
            target = os.readlink(entry.path) if entry.is_symlink() else None
            refused = describe(info.st_mode, info.st_nlink, target)
            if not refused and stat.S_ISDIR(info.st_mode):
                if entry.name not in NOT_LISTED:
                    walk(Path(entry.path), rel + "/")
            else:
                found.append(HandedIn(rel, info.st_size if not refused else 0, refused))

    walk(folder, "")
    return found


def refused_entries(folder) -> list[HandedIn]:
    """The links and special files of a submission folder, notebooks and timestamp.txt included."""
    return [entry for entry in handed_in(folder) if entry.refused]


# --- hook 1: nbgrader copies and reads only plain files -------------------------------------------

def plain_files_only(find_all_files):
    """`find_all_files` (nbgrader.utils) keeping only plain files: no symbolic link, hard link or
    special file, nothing under a folder reached through a link."""
    @functools.wraps(find_all_files)
    def find_plain_files(path, exclude=None):
        if refusal(path):  # the folder itself is a link: os.walk would follow it
            return []
        return [f for f in find_all_files(path, exclude) if not refusal_below(f, path)]
    find_plain_files.plain_files_only = True
    return find_plain_files


def plain_timestamp_only(get_existing_timestamp):
    """CourseDirectory.get_existing_timestamp reading timestamp.txt only if it is a plain file;
    otherwise the submission's time is unknown (a person sees the flag)."""
    @functools.wraps(get_existing_timestamp)
    def get_plain_timestamp(self, dest_path):
        why = refusal(os.path.join(dest_path, TIMESTAMP))
        if why:
            self.log.warning("%s is %s: not read, the submission's time is unknown",
                             os.path.join(dest_path, TIMESTAMP), why)
            return None
        return get_existing_timestamp(self, dest_path)
    get_plain_timestamp.plain_files_only = True
    return get_plain_timestamp


def install() -> None:
    """Make nbgrader's converters copy and read only plain files (idempotent; called by
    nbgrader_config.py every time nbgrader loads it)."""
    from nbgrader.converters import base
    if not callable(getattr(base, "find_all_files", None)) or not callable(
            getattr(CourseDirectory, "get_existing_timestamp", None)):
        raise RuntimeError("this nbgrader no longer copies a submission through "
                           "nbgrader.converters.base.find_all_files or reads its timestamp through "
                           "CourseDirectory.get_existing_timestamp: update autograder/safety/links.py")
    if not getattr(base.find_all_files, "plain_files_only", False):
        base.find_all_files = plain_files_only(base.find_all_files)
    if not getattr(CourseDirectory.get_existing_timestamp, "plain_files_only", False):
        CourseDirectory.get_existing_timestamp = plain_timestamp_only(
            CourseDirectory.get_existing_timestamp)


# --- hook 2: a notebook is read only if it is a plain file -----------------------------------------

def open_plain(path) -> io.TextIOWrapper:
    """Open `path` for reading text without following a link and without blocking on a FIFO;
    UnreadableNotebook unless it is a regular file with one name."""
    why = refusal(path)
    if why:
        raise UnreadableNotebook(f"{os.path.basename(path)} is {why}: not read "
                                 "(a link or a special file is never followed); scored 0")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    info = os.fstat(fd)
    why = describe(info.st_mode, info.st_nlink)
    if why:  # it changed since the check above
        os.close(fd)
        raise UnreadableNotebook(f"{os.path.basename(path)} is {why}: not read; scored 0")
    return io.open(fd, encoding="utf-8")


class PlainNotebookExporter(NotebookExporter):
    """nbconvert's NotebookExporter that reads a notebook only if it is a plain file, reached
    through no link below the course's step folders (configured as `c.Autograde.exporter_class`)."""

    def from_filename(self, filename, resources=None, **kw):
        why = self._folder_refusal(filename)
        if why:
            raise UnreadableNotebook(f"{os.path.basename(filename)} is {why}: not read "
                                     "(a link or a special file is never followed); scored 0")
        with open_plain(filename) as f:
            modified = datetime.datetime.fromtimestamp(os.fstat(f.fileno()).st_mtime,
                                                       tz=datetime.timezone.utc)
            resources = resources if resources is not None else {}
            if not resources.get("metadata"):
                resources["metadata"] = {}
            path, basename = os.path.split(filename)
            resources["metadata"].update(name=os.path.splitext(basename)[0], path=path,
                                         modified_date=modified.strftime("%B %-d, %Y"))
            nb = nbformat.read(f, as_version=4)
        return self.from_notebook_node(nb, resources=resources, **kw)

    def _folder_refusal(self, filename) -> str:
        """Why the notebook, or a folder on its way below submitted/ or autograded/, is not plain."""
        coursedir = CourseDirectory(config=self.config)
        for step in (coursedir.submitted_directory, coursedir.autograded_directory):
            top = os.path.join(coursedir.root, step)
            if os.path.abspath(filename).startswith(os.path.abspath(top) + os.sep):
                return refusal_below(filename, top)
        return ""


# --- hook 3: before any kernel starts, nothing copied from a link is left -----------------------

class RefuseLinks(NbGraderPreprocessor):
    """Sanitize step: remove from autograded/ whatever was copied from a link or a special file of
    submitted/ (and is not the instructor's file of source/ copied over it), and flag each one."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        coursedir = CourseDirectory(config=self.config)
        folder = lambda step: Path(coursedir.format_path(step, student, assignment))
        submitted, autograded = folder(coursedir.submitted_directory), folder(
            coursedir.autograded_directory)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        refused = refused_entries(submitted)
        for entry in refused:
            self.log.warning("%s / %s: %s", student, assignment, entry)
            if entry.path != "." and not (source / entry.path).exists():
                _remove(autograded / entry.path)
        if refused:
            findings = [f"handed in {e.path} ({e.refused}): never read, not given to the kernel"
                        + ("; the submission's time is unknown" if e.path == TIMESTAMP else "")
                        for e in refused]
            earlier = [row["reason"] for row in flags.read_flags(coursedir.root)
                       if (row["student_id"], row["assignment"], row["notebook"])
                       == (student, assignment, notebook)]  # the tamper checks' rows
            flags.record(Path(coursedir.root), student, assignment, notebook,
                         earlier + [f for f in findings if f not in earlier], info.get("db_url"))
        return nb, resources


def _remove(path: Path) -> None:
    """Remove a file, link or folder without following any link."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


# --- hook 4: nbgrader collect copies only plain files out of the exchange -------------------------

class PlainCollect(ExchangeCollect):
    """`nbgrader collect` that copies only plain files from the exchange's inbound folder to
    submitted/ (configured as `c.ExchangeFactory.collect`). Stock collect copies a submission with
    `shutil.copytree`, which follows links: on a shared hub a student's submission holding a link
    to a file the instructor can read (the source notebook, say) would arrive in submitted/ as a
    copy of that file. Here each link or special file is left behind with a warning naming the
    student and the path, and a submission that is itself a link is not collected."""

    def do_copy(self, src, dest, log=None):
        why = refusal(src)
        if why:
            self.log.warning("%s is %s: not collected (a link is never followed)", src, why)
            return
        for entry in refused_entries(src):
            self.log.warning("%s: %s is %s: not collected (a link or a special file is never "
                             "followed)", os.path.basename(src), entry.path, entry.refused)
        module = sys.modules[Exchange.do_copy.__module__]
        stock = module.ignore_patterns

        def plain_ignore_patterns(*args, **kwargs):
            ignore = stock(*args, **kwargs)

            def ignore_links(folder, names):
                plain = [n for n in names if not refusal(os.path.join(folder, n))]
                return (set(names) - set(plain)) | set(ignore(folder, plain))
            return ignore_links

        module.ignore_patterns = plain_ignore_patterns  # for this copy only
        try:
            super().do_copy(src, dest, log)
        finally:
            module.ignore_patterns = stock
