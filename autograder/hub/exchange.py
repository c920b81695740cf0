"""nbgrader's submit on a shared JupyterHub exchange, readable by its author and the instructors only.

nbgrader's own submit leaves every submission world-readable (files 0644, its folder 0777) in the
inbound folder, hidden only by a name other students cannot list or guess. `PrivateSubmit` closes
it: nbgrader's release makes inbound/ setgid with the instructor's group, so each submission's
folder and files belong to that group; after nbgrader's copy, they become 0640 (folders 0770):
the student and the instructors' group read them, nobody else. (The copy keeps inbound/'s group
on every file: shutil.copytree would copy the student's folder mode over the new folder, dropping
the setgid bit before nbgrader writes timestamp.txt, and a student cannot chgrp to a group they are
not in.) Collect (as the instructor) is
unchanged. Set it in every student's nbgrader config (the image's /etc/jupyter/nbgrader_config.py):

    c.ExchangeFactory.submit = "autograder.hub.exchange.PrivateSubmit"

The instructor's group must hold the instructors only: the instructor's own user group, or a
group such as `graders` given to inbound/ once (`chgrp graders inbound && chmod 2733 inbound`).
"""
import os
import shutil

from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import ignore_patterns

FILE_MODE = 0o640
FOLDER_MODE = 0o770  # the instructors' group may delete a submission, as with nbgrader's 0777


def _copy_keeping_group(src: str, dest: str, ignore) -> None:
    """copytree without copying folder modes: new folders inherit the setgid parent's group."""
    os.mkdir(dest)
    names = os.listdir(src)
    skipped = ignore(src, names)
    for name in names:
        if name in skipped:
            continue
        source, target = os.path.join(src, name), os.path.join(dest, name)
        if os.path.isdir(source) and not os.path.islink(source):
            _copy_keeping_group(source, target, ignore)
        else:
            shutil.copyfile(source, target)


class PrivateSubmit(ExchangeSubmit):
    def do_copy(self, src, dest):
        if os.path.dirname(os.path.abspath(dest)) != os.path.abspath(self.inbound_path):
            return super().do_copy(src, dest)  # the cache copy in the student's own home
        size, limit = self.get_size(src), 1000 * self.coursedir.max_dir_size
        if size > limit:
            raise RuntimeError(f"Directory size is too big. Size is {size}, maximum size is {limit}")
        _copy_keeping_group(src, dest, ignore_patterns(
            exclude=self.coursedir.ignore, include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size, log=self.log))

    def copy_files(self):
        super().copy_files()
        submission = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, _, files in os.walk(submission):
            os.chmod(folder, FOLDER_MODE)
            for name in files:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    os.chmod(path, FILE_MODE)
