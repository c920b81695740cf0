"""Grade every collected submission with nbgrader's own autograde, in parallel, resumably.

Each worker process imports nbgrader and loads the course's configuration once (nbgrader_config.py,
so its timeouts, preprocessors and sandbox apply exactly as for `nbgrader autograde`), then grades
one submission after another by running nbgrader's Autograde converter for that student: the same
code path, one nbgrader start per worker instead of one per student. Outcomes are read from the
converter (the exception it met, if any) and from the gradebook (the scores), never from log text.

A submission that fails, hangs or kills its kernel or its worker is recorded with the reason and
the rest go on. Every finished submission is written to the ledger (autograder/grading/ledger.py), so the
same command after a kill -9 grades only what is left. `shard=(i, n)` grades a deterministic share
of the class, for n machines grading into one PostgreSQL gradebook over a shared filesystem.
"""
import hashlib
import logging
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from autograder.grading import gradebook

from autograder.safety import sandbox

from autograder import notebooks
from autograder.grading import submissions
from autograder.grading.checksums import ExpectedChecksums
from autograder.grading.ledger import Ledger, Outcome, file_stem
from autograder.kernels.prestart import PRESTARTER, predicted_files
from autograder.grading.workers import Crashed, run_tasks

DEFAULT_TASK_TIMEOUT = 1800.0   # seconds for one submission, all its notebooks, before it is stopped
LOCKED_RETRIES = 3              # a submission that met a locked or unreachable gradebook is retried


class SandboxUnavailable(RuntimeError):
    """No sandbox can start here and the instructor did not allow grading without one."""


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def course_id(course: Path) -> str:
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    return config.CourseDirectory.get("course_id", "default_course")


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' (0 <= i < N) -> (i, N); 'i' may be the word 'index', read from JOB_COMPLETION_INDEX
    (the index Kubernetes gives each pod of an Indexed Job)."""
    try:
        index, count = text.split("/")
        if index in ("index", "auto"):
            index = os.environ["JOB_COMPLETION_INDEX"]
        index, count = int(index), int(count)
    except KeyError:
        raise ValueError("--shard index/N needs JOB_COMPLETION_INDEX in the environment") from None
    except ValueError:
        raise ValueError(f"--shard wants i/N with 0 <= i < N, got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"--shard wants i/N with 0 <= i < N, got {text!r}")
    return index, count


def shard_of(assignment: str, student: str, count: int) -> int:
    """Which of `count` shards grades this submission: a hash of its ids, the same on every
    machine and in every run, whatever else was submitted."""
    digest = hashlib.sha256(f"{assignment}/{student}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def plan(course: Path, assignments: list[str], shard: tuple[int, int] = (0, 1),
         students: list[str] | None = None) -> list[tuple[str, str]]:
    """(assignment, student) of every submission this shard grades (of `students` only, if
    given), in a stable order."""
    index, count = shard
    return [(a, s) for a in assignments for s in submissions.submitted_students(course, a)
            if shard_of(a, s, count) == index and (students is None or s in students)]


class GradedClass(list):
    """The outcome of every submission of a grading run's share, those a previous run finished
    included; `this_run` holds the keys of the ones this run graded."""

    def __init__(self, outcomes=(), this_run=()):
        super().__init__(outcomes)
        self.this_run = set(this_run)

    def summary(self) -> str:
        """One line about this run only (and how many earlier runs had already finished)."""
        now = [o for o in self if o.key in self.this_run]
        failed = sum(o.status != "graded" for o in now)
        line = (f"this run: {len(now) - failed} graded, {failed} could not be graded"
                + (" (reasons in the report)" if failed else ""))
        if len(self) > len(now):
            line += f"; {len(self) - len(now)} graded by earlier runs and left as they were"
        return line


def _fingerprint(course: Path, task: tuple[str, str]) -> str:
    """The submission's fingerprint, or "" when its files cannot be read (then it is graded,
    and nbgrader reports what it cannot read)."""
    try:
        return submissions.fingerprint(course, *task)
    except OSError:
        return ""


def ensure_in_gradebook(course: Path, url: str, cid: str, assignments: list[str], log) -> None:
    """Every assignment's notebooks and graded cells must be in the gradebook before autograding
    (nbgrader puts them there in generate_assignment). A fresh gradebook, such as a new PostgreSQL
    database, gets them from source/ here, without touching release/. One process at a time does
    this (another shard waits, then finds them there)."""
    cells = {a: {Path(n).stem: gradebook.nbgrader_cells(notebooks.read(course / "release" / a / n))
                 for n in submissions.released_notebooks(course, a)}
             for a in assignments}
    if not gradebook.missing_assignments(url, cid, assignments, cells):
        return
    from autograder.nbgrader_cli import nbgrader
    with gradebook.preparing(url, cid):
        for assignment in gradebook.missing_assignments(url, cid, assignments, cells):
            log(f"{assignment}: not in the gradebook yet; adding it from source/")
            scratch = f".autograder/release-{os.getpid()}"
            result = nbgrader("generate_assignment", assignment, "--force",
                              f"--CourseDirectory.release_directory={scratch}", course=course,
                              env={"COURSE_DB_URL": url})
            shutil.rmtree(course / scratch, ignore_errors=True)
            if gradebook.missing_assignments(url, cid, [assignment], cells):
                raise RuntimeError(f"nbgrader generate_assignment {assignment} could not add it "
                                   f"to the gradebook:\n{result.stdout}{result.stderr}")


def tamper_flags(course: Path, assignment: str, student: str) -> list[str]:
    """What the tamper checks (autograder/safety/flags.py, run inside nbgrader's autograde through
    nbgrader_config.py) flagged in this submission: 'notebook: reason' each."""
    try:
        from autograder.safety import flags
    except ImportError:  # a course without tamper checks
        return []
    return [f"{row['notebook']}: {row['reason']}" for row in flags.read_flags(course)
            if (row["assignment"], row["student_id"]) == (assignment, student)]


# --- in the worker processes -------------------------------------------------------------

def _explain(error: BaseException) -> str:
    """A sentence for the instructor about why nbgrader could not grade a submission."""
    name = type(error).__name__
    text = (str(error).strip().splitlines() or [""])[0]
    if name == "DeadKernelError":
        return "the kernel died while running the notebook (the code exited, crashed or ran out of memory)"
    if name == "UnresponsiveKernelError":
        return "the kernel stopped responding and could not be interrupted (an endless loop?)"
    if name == "CellTimeoutError":
        return f"a cell ran past the time limit and could not be interrupted ({text})"
    if name == "NbGraderException":
        return text or "nbgrader could not grade it"
    return f"{name}: {text}" if text else name


class _Worker:
    """What a worker process keeps between submissions: the loaded nbgrader app."""

    def __init__(self, course: Path):
        os.chdir(course)
        _send_output_to(course / ".autograder" / "logs" / f"worker-{os.getpid()}.log")
        os.environ.setdefault("MPLBACKEND", "Agg")
        gradebook.share_sqlite_safely()
        _check_nbgrader_schema_once()
        from nbgrader.apps.autogradeapp import AutogradeApp
        from nbgrader.converters import Autograde
        self.course = course
        self.app = AutogradeApp()
        self.app.initialize([])
        self.app.log.handlers.clear()
        self.app.log.propagate = False
        self.converter_class = _recording(Autograde)
        self.url = gradebook.gradebook_url(course)

    def grade(self, task: tuple[str, str], upcoming: tuple[str, str] | None = None) -> Outcome:
        assignment, student = task
        started, adopted = time.perf_counter(), PRESTARTER.adopted
        self._expect(upcoming)
        for attempt in range(LOCKED_RETRIES):
            converter = self._run(assignment, student)
            failure = converter.failure
            if not _is_database_error(failure):
                break
            time.sleep(1 + attempt)
        outcome = Outcome(assignment, student, "failed" if failure else "graded",
                          problems=submissions.check_submission(self.course, assignment, student))
        if failure is not None and not outcome.problems:
            outcome.problems.append(f"autograde failed: {_explain(failure)}")
        if failure is None:
            outcome.notes += kernel_deaths(self.course, assignment, student)
        outcome.timings = {k: round(v, 3) for k, v in converter.timings.items()}
        outcome.timings["kernels started ahead"] = PRESTARTER.adopted - adopted
        outcome.seconds = round(time.perf_counter() - started, 3)
        return outcome

    def _expect(self, upcoming: tuple[str, str] | None) -> None:
        """Tell the prestarter where the next submission's kernel will run (its folder in
        autograded/ and the files nbgrader will copy there), so it boots during this one."""
        if upcoming is None:
            PRESTARTER.expect(None)
            return
        assignment, student = upcoming
        folder = self.app.coursedir.format_path
        PRESTARTER.expect(
            Path(folder(self.app.coursedir.autograded_directory, student, assignment)),
            predicted_files(Path(folder(self.app.coursedir.submitted_directory, student, assignment)),
                            Path(folder(self.app.coursedir.source_directory, ".", assignment))))

    def close(self) -> None:
        PRESTARTER.discard()

    def _run(self, assignment: str, student: str):
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(parent=self.app)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        converter = self.converter_class(coursedir=coursedir, parent=self.app)
        converter.force = True
        log_path = self.course / ".autograder" / "logs" / assignment / f"{file_stem(student)}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler.addFilter(ExpectedChecksums(self.course))  # hidden tests' checksums: expected
        self.app.log.addHandler(handler)
        try:
            converter.start()
        except Exception as error:  # NbGraderException; the cause is in converter.failure
            converter.failure = converter.failure or error
        finally:
            self.app.log.removeHandler(handler)
            handler.close()
        return converter


def _check_nbgrader_schema_once() -> None:
    """nbgrader validates every graded cell's metadata with `jsonschema.validate`, which checks
    its own (constant) schema again on every call: a third of a second per submission. In this
    worker, each schema is checked once and its validator kept; the verdict on a cell, and the
    error raised, are those of jsonschema.validate."""
    import json

    import jsonschema
    from nbgrader.nbgraderformat import common
    validators = {}

    def validate(instance, schema, cls=None, *args, **kwargs):
        if cls is not None or args or kwargs:
            return jsonschema.validate(instance, schema, cls, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)  # nbgrader loads it afresh for each notebook
        if key not in validators:
            kind = jsonschema.validators.validator_for(schema)
            kind.check_schema(schema)
            validators[key] = kind(schema)
        error = jsonschema.exceptions.best_match(validators[key].iter_errors(instance))
        if error is not None:
            raise error

    common.jsonschema = _Namespace(jsonschema, validate=validate)


class _Namespace:
    """A module seen through a few replaced attributes."""

    def __init__(self, module, **replaced):
        self._module, self._replaced = module, replaced

    def __getattr__(self, name):
        return self._replaced[name] if name in self._replaced else getattr(self._module, name)


def _send_output_to(path: Path) -> None:
    """The worker's own stdout and stderr (kernel warnings, SQLAlchemy warnings) go to a log
    file, so the terminal shows only the progress."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def kernel_deaths(course: Path, assignment: str, student: str) -> list[str]:
    """A problem for each autograded notebook whose kernel died part way (the sandbox then
    records the death in that cell and scores the cells after it 0)."""
    import nbformat
    found = []
    for path in sorted((course / "autograded" / student / assignment).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for index, cell in enumerate(nb.cells):
            if any(o.get("output_type") == "error" and o.get("ename") in KERNEL_DEATHS
                   for o in cell.get("outputs", [])):
                found.append(f"{path.name}: the kernel died in cell {index} (the code exited, "
                             f"crashed or hit a resource limit); the cells after it scored 0")
                break
    return found


KERNEL_DEATHS = ("KernelDied", "DeadKernelError")


def _is_database_error(error) -> bool:
    import sqlalchemy
    return isinstance(error, sqlalchemy.exc.OperationalError)


def _recording(autograde_class):
    """nbgrader's Autograde, unchanged, except that it keeps the exception that stopped a
    submission (stock nbgrader only logs it) and how long each step took."""

    class RecordingAutograde(autograde_class):
        failure = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.timings = {"prepare": 0.0, "notebooks": 0.0}

        def init_assignment(self, assignment_id, student_id):
            started = time.perf_counter()
            try:
                super().init_assignment(assignment_id, student_id)
            except BaseException as error:
                self.failure = error
                raise
            finally:
                self.timings["prepare"] += time.perf_counter() - started

        def convert_single_notebook(self, notebook_filename):
            started = time.perf_counter()
            try:
                super().convert_single_notebook(notebook_filename)  # sanitize, execute, save
            except BaseException as error:
                self.failure = error
                raise
            finally:
                self.timings["notebooks"] += time.perf_counter() - started


    return RecordingAutograde


def _setup_worker(course: Path):
    return _Worker(course)


def _grade_in_worker(worker: _Worker, task, upcoming):
    return worker.grade(task, upcoming)


# --- in the parent process ----------------------------------------------------------------

class Progress:
    """A tqdm bar with ETA on a terminal; plain log lines (count, ETA) otherwise."""

    def __init__(self, total: int, log, bar: bool | None = None):
        self.total, self.done, self.log = total, 0, log
        self.started = time.perf_counter()
        use_bar = sys.stderr.isatty() if bar is None else bar
        self.bar = None
        if use_bar and total:
            from tqdm import tqdm
            tqdm.monitor_interval = 0  # no monitor thread: workers are forked later
            self.bar = tqdm(total=total, unit="submission", dynamic_ncols=True)

    def step(self, outcome: Outcome) -> None:
        self.done += 1
        result = f"{outcome.score:g}/{outcome.max_score:g}" + (
            f" {outcome.status}" if outcome.status != "graded" else "")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{outcome.assignment}/{outcome.student} {result}")
            self.bar.update(1)
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        self.log(f"[{self.done}/{self.total}] {outcome.assignment}/{outcome.student}: {result} "
                 f"({outcome.seconds:.1f} s; elapsed {elapsed:.0f} s, ETA {eta:.0f} s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def grade_class(course: Path, assignments: list[str] | None = None, workers: int | None = None,
                shard: tuple[int, int] = (0, 1), regrade: bool = False,
                retry_failed: bool = False, task_timeout: float = DEFAULT_TASK_TIMEOUT,
                log=print, bar: bool | None = None, students: list[str] | None = None
                ) -> GradedClass:
    """Grade this shard's submissions of `assignments` (default: all with submissions; of
    `students` only, if given) and return the outcome of every one of them, those a previous run
    finished included. One submission's trouble (an id no file can be named after, files that
    cannot be read) is recorded for it and the others go on."""
    course = Path(course).resolve()
    if not (sandbox.available() or sandbox.unsandboxed_allowed()):
        raise SandboxUnavailable(sandbox.refusal_message())
    gradebook.share_sqlite_safely()
    assignments = assignments or submissions.assignments_with_submissions(course)
    unknown = [a for a in assignments if not submissions.released_notebooks(course, a)]
    if unknown:
        raise ValueError(f"no release/{unknown[0]}/*.ipynb: is {unknown[0]!r} an assignment "
                         f"of this course? (make release generates it)")
    url, cid = gradebook.gradebook_url(course), course_id(course)
    tasks = plan(course, assignments, shard, students)
    if students is not None:
        for student in sorted(set(students) - {s for _, s in plan(course, assignments, shard)}):
            log(f"! {student}: no submission of {', '.join(assignments)} in submitted/")
    if not tasks:
        return GradedClass()
    ensure_in_gradebook(course, url, cid, assignments, log)
    for student, reason in gradebook.add_students(url, cid, sorted({s for _, s in tasks})):
        log(f"! {student}: the gradebook cannot hold this student ({reason})")

    ledger = Ledger(course)
    in_gradebook = gradebook.graded_submissions(url, cid)
    where = gradebook.printable_url(url)
    done, todo = {}, []
    for assignment, student in tasks:
        record = None if regrade else ledger.read(assignment, student)
        if (record is not None and record.gradebook == where
                and (assignment, student) in in_gradebook
                and record.fingerprint == _fingerprint(course, (assignment, student))
                and not (retry_failed and record.status != "graded")):
            done[(assignment, student)] = record
        else:
            todo.append((assignment, student))
    if done:
        log(f"{len(done)} of {len(tasks)} submissions already graded (ledger in "
            f"{ledger.root.relative_to(course)}); grading the other {len(todo)}")
    workers = max(1, min(workers or default_workers(), len(todo) or 1))
    log(f"grading {len(todo)} submissions of {', '.join(assignments)} with {workers} workers"
        + (f" (shard {shard[0]}/{shard[1]})" if shard[1] > 1 else "") + f" into {where}")

    fingerprints = {t: _fingerprint(course, t) for t in todo}
    maxima = gradebook.max_scores(url, cid, assignments)
    progress = Progress(len(todo), log, bar)
    try:
        for task, result in run_tasks(todo, lambda: _setup_worker(course), _grade_in_worker,
                                      workers, task_timeout, lookahead=True):
            if isinstance(result, Crashed):
                shutil.rmtree(course / "autograded" / task[1] / task[0], ignore_errors=True)
                result = Outcome(task[0], task[1], "failed",
                                 problems=[f"autograde failed: {result.reason}"])
            scores = gradebook.read_grades(url, cid, *task)
            result.score, result.max_score = scores[:2] if scores else (0.0, maxima[task[0]])
            result.flags = tamper_flags(course, *task)
            result.sandboxed = not sandbox.unsandboxed_allowed()
            result.fingerprint, result.gradebook = fingerprints[task], where
            result.graded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            try:
                ledger.write(result)
            except OSError as error:  # the grade is in the gradebook; only the record is lost
                result.notes.append(f"the ledger could not record it ({error.strerror}): "
                                    "the next run grades it again")
            done[task] = result
            progress.step(result)
    finally:
        progress.close()
    return GradedClass([done[t] for t in tasks if t in done], [t for t in todo if t in done])
