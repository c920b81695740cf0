"""Mutation harness: proves that a notebook's tests catch real student mistakes.

A catalog `autograder/authoring/mutants/<assignment>.toml` lists mutants: each replaces the whole source of one
solution cell (named by its grade_id) with a wrong or a different-but-correct implementation. For each
mutant the harness executes the source notebook as `nbgrader autograde` does (cells in order, errors
allowed, a per-cell timeout; see `run` for the fast and the faithful mode) and scores every test cell
with nbgrader's own rule (`nbgrader.utils.determine_grade`: an error or any stderr output scores 0).

    python -m autograder.authoring.mutation 01_gradients [--faithful] [--workers 2] [--only TEXT] [-v]
    python -m autograder.authoring.mutation 01_gradients --generated [--no-cache] [--no-catalog] [--toml]
    python -m autograder.authoring.mutation all --generated --no-catalog   # every notebook

prints one row per mutant: kind, verdict, failing test cells, score.

Catalog entry keys: cell, name, kind ("wrong" | "correct"), mistake, source, and optionally
expect (a phrase a failing test of that cell must show) and also_fails (other solution cells whose
tests this mutant is allowed to fail as well).

--generated adds the mutants autograder/authoring/generated.py derives from every solution cell's
syntax tree (its docstring lists the operators). A generated mutant is killed when a test cell of
its own answer cell loses points. The catalog's `[[generated]]` entries (in the section
`# --- generated mutants ---` at the end of the file) name generated ids:
    kind = "equivalent": the mutant computes what the solution computes (reason: why, checkably);
    kind = "survives":   a known survivor, what the tests miss (reason), for the notebook's
                         rewrite to kill; the list may only shrink.
The harness prints the mutation score, killed / (generated - equivalent), lists every survivor with
its diff, reports entries whose mutant no longer exists (stale) or is now killed, and exits 1
when a mutant survives that is not listed as equivalent (known survivors included).

Verdict cache: the generated mutants' verdicts are stored in mutants/generated/<assignment>.json,
keyed by the hash of everything that decides a verdict: the graded cells the harness runs (setup,
solution and test cells, with their points), the mutant's cell and source, the `course` package's
files the tests call, and this harness's verdict rule (CACHE_VERSION). The files are committed, so a
clean clone reruns only the mutants of changed notebooks (every mutant after a change to `course/`).
No sampling: every generated mutant is judged.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode
from nbgrader.utils import determine_grade

from autograder import notebooks
from autograder.authoring import generated as gen
from autograder.kernels.wakeful import wake_on_every_message

CATALOGS = Path(__file__).resolve().parent / "mutants"
TIMEOUT = 60  # seconds per cell, as COURSE_TIMEOUT's default in nbgrader_config.py
WORKERS = 2
KERNEL_ENV = {**os.environ, "MPLBACKEND": "Agg"}
KERNEL_ARGS = ["--HistoryManager.hist_file=:memory:"]  # what nbclient adds for IPython kernels
KINDS = ("wrong", "correct")
GENERATED_KINDS = ("equivalent", "survives")
GENERATED = "generated"  # the kind of a Mutant made from a generated one
CACHE_DIR = CATALOGS / "generated"
CACHE_VERSION = 1  # bump when the verdict rule or the way mutants run changes
# What nbgrader's Execute preprocessor records when a cell times out.
ERROR_ON_TIMEOUT = {
    "ename": "CellTimeoutError",
    "evalue": "",
    "traceback": ["CellTimeoutError: No reply from kernel before timeout"],
}


@dataclass(frozen=True)
class Mutant:
    """One catalog entry: `source` replaces the whole solution cell whose grade_id is `cell`."""
    cell: str
    name: str
    kind: str
    mistake: str
    source: str
    expect: str | None = None
    also_fails: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.name if self.kind == GENERATED else f"{self.cell}::{self.name}"


@dataclass(frozen=True)
class TestOutcome:
    """How one test cell fared: score points of max_score, and the error if it failed."""
    grade_id: str
    score: float
    max_score: float
    error: str | None = None  # "AssertionError: message" (all lines) when it failed

    @property
    def passed(self) -> bool:
        return self.score == self.max_score


@dataclass
class Result:
    """The test outcomes of one executed notebook (mutant None = the unmodified source)."""
    mutant: Mutant | None
    tests: list[TestOutcome] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    @property
    def failing(self) -> list[TestOutcome]:
        return [t for t in self.tests if not t.passed]


# --- catalog ---------------------------------------------------------------------------------------

def catalog_path(assignment: str) -> Path:
    return CATALOGS / f"{assignment}.toml"


def catalog_assignments() -> list[str]:
    """The assignment ids that have a mutation catalog, in course order."""
    return sorted(p.stem for p in CATALOGS.glob("*.toml"))


def load_catalog(assignment: str) -> list[Mutant]:
    """The mutants of an assignment's catalog, in file order (ValueError on a malformed entry)."""
    with open(catalog_path(assignment), "rb") as f:
        entries = tomllib.load(f).get("mutant", [])
    mutants = []
    for i, entry in enumerate(entries):
        try:
            mutant = Mutant(**{**entry, "also_fails": tuple(entry.get("also_fails", ()))})
        except TypeError as e:
            raise ValueError(f"{assignment} mutant #{i + 1}: {e}") from None
        if mutant.kind not in KINDS:
            raise ValueError(f"{mutant.id}: kind must be one of {KINDS}, not {mutant.kind!r}")
        mutants.append(mutant)
    return mutants


def catalog_problems(nb: NotebookNode, mutants: list[Mutant]) -> list[str]:
    """What is wrong with a catalog for this notebook: unknown cells, duplicate names (empty = fine)."""
    solutions = solution_ids(nb)
    problems = []
    seen = set()
    for m in mutants:
        if m.name in seen:
            problems.append(f"{m.id}: name {m.name!r} is used twice")
        seen.add(m.name)
        for gid in (m.cell, *m.also_fails):
            if gid not in solutions:
                problems.append(f"{m.id}: {gid!r} is not a solution cell of the notebook")
    return problems


# --- notebooks -------------------------------------------------------------------------------------

def solution_ids(nb: NotebookNode) -> set[str]:
    return {notebooks.grade_id(c) for c in nb.cells if notebooks.is_solution(c)}


def owner(test_id: str, solutions: set[str]) -> str | None:
    """The solution cell a test cell grades: the longest s with test_id == test_<s> or test_<s>_*."""
    owners = [s for s in solutions if test_id == f"test_{s}" or test_id.startswith(f"test_{s}_")]
    return max(owners, key=len, default=None)


def mutate(nb: NotebookNode, mutant: Mutant) -> NotebookNode:
    """A copy of nb whose solution cell `mutant.cell` has the mutant's source."""
    nb = copy.deepcopy(nb)
    notebooks.cell_by_grade_id(nb, mutant.cell).source = mutant.source.strip("\n")
    return nb


def graded_cells_only(nb: NotebookNode) -> NotebookNode:
    """A copy of nb that keeps the first code cell (setup), solution cells and graded cells.

    Skipping the other code cells (demos, plots, widgets) cannot change a test's outcome: by the
    course's convention every test cell builds its own inputs and depends only on the setup cell and
    the solution cells, never on a cell the student may skip; and a demo's error or timeout stays in
    its own cell (errors are allowed, each cell has its own timeout). tests/test_mutation.py checks it
    by running a mutant both ways.
    """
    nb = copy.deepcopy(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0] if code else None
    nb.cells = [c for c in nb.cells
                if c.cell_type != "code" or c is setup
                or notebooks.is_solution(c) or notebooks.nbgrader_meta(c).get("grade")]
    return nb


def _record_unreported_error(cell, cell_index, execute_reply):
    """nbgrader's Execute.on_cell_executed: an error reply without an error output (a timeout)
    becomes an error output, so the cell scores 0."""
    content = execute_reply["content"]
    if content["status"] != "error":
        return
    if any(o.output_type == "error" and o.ename == content["ename"] for o in cell.outputs):
        return
    cell.outputs.append(NotebookNode(
        output_type="error", ename=content["ename"], evalue=content["evalue"],
        traceback=content["traceback"] or ["ERROR: An error occurred while showtraceback was disabled"]))


async def execute(nb: NotebookNode, km: AsyncKernelManager, kc, timeout: int = TIMEOUT) -> str | None:
    """Run nb in place on a started kernel (manager km, client kc): all cells in order, errors
    allowed, `timeout` seconds per cell, as nbgrader's Execute preprocessor does. Returns None, or
    what stopped the run early (e.g. the kernel died)."""
    client = NotebookClient(
        nb, km=km, timeout=timeout, allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout=ERROR_ON_TIMEOUT,
        on_cell_executed=_record_unreported_error)
    client.kc = kc  # reuse the connected client: a new one costs a wait for the kernel to be ready
    try:
        await client.async_execute()
    except Exception as e:  # noqa: BLE001  (a crashed run is a result, not a harness failure)
        return f"{type(e).__name__}: {e}"
    return None


async def start_kernel(cwd: Path):
    """A python3 kernel started in cwd with MPLBACKEND=Agg, and a client connected to it.
    The kernel's own log (not the cells' output, which comes over the wire) is discarded."""
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(cwd=str(cwd), env=KERNEL_ENV, extra_arguments=KERNEL_ARGS,
                          stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    wake_on_every_message(kc)
    await kc.wait_for_ready(timeout=60)
    kc.allow_stdin = False
    return km, kc


async def stop_kernel(km: AsyncKernelManager, kc) -> None:
    kc.stop_channels()
    await km.shutdown_kernel(now=True)


def outcomes(nb: NotebookNode, stopped: str | None = None) -> list[TestOutcome]:
    """Score every test cell of an executed nb as nbgrader does. A test cell that never ran
    (the run stopped before it) scores 0 with `stopped` as its error."""
    results = []
    for cell in nb.cells:
        if not notebooks.is_test(cell):
            continue
        gid = notebooks.grade_id(cell)
        if stopped and cell.get("execution_count") is None:
            results.append(TestOutcome(gid, 0.0, notebooks.points(cell), f"not run: {stopped}"))
            continue
        score, max_score = determine_grade(cell)
        error = None if score == max_score else _error_text(cell)
        results.append(TestOutcome(gid, float(score), float(max_score), error))
    return results


def _error_text(cell) -> str:
    """The first error output as 'Name: message', else the stderr text nbgrader failed it for."""
    for out in cell.outputs:
        if out.output_type == "error":
            return f"{out.ename}: {out.evalue}"
    stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    return f"stderr: {stderr.strip()}" if stderr else "partial credit"


def prepare(nb: NotebookNode, mutant: Mutant | None, faithful: bool) -> NotebookNode:
    """The copy of nb to execute for one mutant (None = unmodified).

    faithful: every cell, as nbgrader runs it (each in a fresh kernel, see `run`).
    Otherwise: graded cells only, after a `%reset -f` cell that empties the namespace the previous
    mutant left in the shared kernel.
    """
    nb = mutate(nb, mutant) if mutant else copy.deepcopy(nb)
    if not faithful:
        nb = graded_cells_only(nb)
        nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
    return nb


async def _worker(jobs, results, cwd: Path, faithful: bool, timeout: int):
    """Execute (index, notebook) jobs one after another until none are left, storing
    results[index] = (notebook, stopped). One kernel serves every job unless `faithful`;
    a kernel that stopped a run early is replaced."""
    kernel = None
    try:
        for index, nb in jobs:
            kernel = kernel or await start_kernel(cwd)
            stopped = await execute(nb, *kernel, timeout)
            results[index] = nb, stopped
            if faithful or stopped:
                await stop_kernel(*kernel)
                kernel = None
    finally:
        if kernel:
            await stop_kernel(*kernel)


def run(path: Path, mutants: list[Mutant | None], faithful: bool = False,
        workers: int = WORKERS, timeout: int = TIMEOUT) -> list[Result]:
    """Execute the notebook at path once per mutant (None = unmodified), in its folder, on
    `workers` kernels in parallel; results in the order of `mutants`.

    faithful=True runs every cell in a fresh kernel per mutant, exactly as nbgrader autograde.
    faithful=False (about 6 times faster; 01's catalog: 16 s against 95 s) skips the demo cells
    (see graded_cells_only) and reuses one kernel per worker, emptying its namespace (`%reset -f`)
    between mutants. Kernel start-up and the setup cell's imports dominate a run, and a reused
    kernel has them done; what a mutant changes outside its namespace (imported modules, numpy's
    error settings) would leak into the next run, which is why catalog entries are plain student
    code. tests/test_mutation.py checks that a mutant that runs late in a shared kernel scores the
    same in both modes.
    """
    path = Path(path)
    nb = notebooks.read(path)
    jobs = iter([(i, prepare(nb, m, faithful)) for i, m in enumerate(mutants)])
    results = {}

    async def main():
        await asyncio.gather(*(_worker(jobs, results, path.parent, faithful, timeout)
                               for _ in range(min(workers, len(mutants)))))

    asyncio.run(main())
    return [Result(m, outcomes(*results[i])) for i, m in enumerate(mutants)]


# --- verdicts --------------------------------------------------------------------------------------

def problems(result: Result, solutions: set[str]) -> list[str]:
    """Why a mutant's result does not show the tests working (empty = they work).

    wrong: a test of its cell fails, the score is below full marks, `expect` appears in one of that
    cell's failing messages, and no other cell's tests fail unless listed in also_fails.
    correct: every test passes.
    """
    m = result.mutant
    if m.kind == "correct":
        return [f"{t.grade_id} failed: {first_line(t.error)}" for t in result.failing]
    own = [t for t in result.failing if owner(t.grade_id, solutions) == m.cell]
    found = []
    if not own:
        found.append(f"no test of {m.cell} failed (the tests miss: {m.mistake})")
    if result.score >= result.max_score:
        found.append("full marks")
    if own and m.expect and not any(m.expect in t.error for t in own):
        found.append(f"no failing test of {m.cell} says {m.expect!r}")
    allowed = {m.cell, *m.also_fails}
    found += [f"{t.grade_id} failed too (not in also_fails): {first_line(t.error)}"
              for t in result.failing if owner(t.grade_id, solutions) not in allowed]
    return found


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


# --- generated mutants ----------------------------------------------------------------------------

@dataclass(frozen=True)
class GeneratedEntry:
    """A catalog `[[generated]]` entry: a generated id judged equivalent, or a known survivor."""
    id: str
    kind: str
    reason: str


def load_generated_entries(assignment: str) -> dict[str, GeneratedEntry]:
    """The `[[generated]]` entries of an assignment's catalog by id (ValueError on a malformed one)."""
    with open(catalog_path(assignment), "rb") as f:
        entries = tomllib.load(f).get("generated", [])
    found = {}
    for i, entry in enumerate(entries):
        try:
            e = GeneratedEntry(**entry)
        except TypeError as err:
            raise ValueError(f"{assignment} generated entry #{i + 1}: {err}") from None
        if e.kind not in GENERATED_KINDS:
            raise ValueError(f"{e.id}: kind must be one of {GENERATED_KINDS}, not {e.kind!r}")
        if not gen.is_generated_id(e.id):
            raise ValueError(f"{e.id!r} is not a generated id (cell:operator:8 hex digits)")
        if not e.reason.strip():
            raise ValueError(f"{e.id}: give the reason a person can check")
        if e.id in found:
            raise ValueError(f"{e.id} is listed twice")
        found[e.id] = e
    return found


def generated_mutants(nb: NotebookNode) -> gen.Generated:
    """The generated mutants of every solution cell of nb."""
    return gen.generate_notebook(nb, notebooks.is_solution, notebooks.grade_id)


def as_mutant(g: gen.GeneratedMutant) -> Mutant:
    """A generated mutant in the harness's form (kind "generated"; its name is its id)."""
    return Mutant(g.cell, g.id, GENERATED, g.description, g.source)


def killed(result: Result, solutions: set[str]) -> bool:
    """A generated mutant is killed when a test cell of its own answer cell loses points."""
    return any(owner(t.grade_id, solutions) == result.mutant.cell for t in result.failing)


def course_files_hash() -> str:
    """The hash of every file of the `course` package (the checks the tests call, their data),
    leaving out caches and hidden files (__pycache__, .ipynb_checkpoints, ...)."""
    import course
    root = Path(course.__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        parts = p.relative_to(root).parts
        if p.is_file() and not any(part == "__pycache__" or part.startswith(".") for part in parts):
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def verdict_context(nb: NotebookNode, course_hash: str | None = None) -> str:
    """The hash of what decides every mutant's verdict besides the mutant itself: the cells the
    harness runs (graded_cells_only: setup, solution and test cells, with their nbgrader metadata),
    the `course` package and CACHE_VERSION."""
    h = hashlib.sha256(f"v{CACHE_VERSION}\0{course_hash or course_files_hash()}\0".encode())
    for cell in graded_cells_only(nb).cells:
        if cell.cell_type == "code":
            meta = json.dumps(notebooks.nbgrader_meta(cell), sort_keys=True)
            h.update(f"{meta}\0{cell.source}\0".encode())
    return h.hexdigest()


def cache_key(context: str, mutant: Mutant | None) -> str:
    text = "unmodified" if mutant is None else f"{mutant.cell}\0{mutant.source}"
    return hashlib.sha256(f"{context}\0{text}".encode()).hexdigest()[:32]


def cache_path(assignment: str) -> Path:
    return CACHE_DIR / f"{assignment}.json"


def load_cache(assignment: str) -> dict[str, dict]:
    try:
        return json.loads(cache_path(assignment).read_text())["verdicts"]
    except FileNotFoundError:
        return {}


def save_cache(assignment: str, verdicts: dict[str, dict]) -> None:
    """Write the verdicts (sorted, one per line, so a change shows as a small diff)."""
    CACHE_DIR.mkdir(exist_ok=True)
    lines = [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(verdicts.items())]
    text = '{"verdicts": {\n' + ",\n".join(lines) + "\n}}\n"
    tmp = cache_path(assignment).with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(cache_path(assignment))


@dataclass
class GeneratedReport:
    """The generated mutants of one notebook and how each fared."""
    assignment: str
    mutants: list[gen.GeneratedMutant]
    verdicts: dict[str, dict]          # mutant id -> {"killed": bool, "failing": [test ids]}
    entries: dict[str, GeneratedEntry]
    uncompilable: int = 0
    identical: int = 0
    ran: int = 0                       # executed now (the rest came from the cache)
    seconds: float = 0.0
    source_problem: str | None = None  # the unmodified notebook does not get full marks
    unparsable: list[str] = field(default_factory=list)  # solution cells that do not parse

    def _ids(self, survived: bool) -> list[str]:
        return [m.id for m in self.mutants if self.verdicts[m.id]["killed"] != survived]

    @property
    def killed(self) -> list[str]:
        return self._ids(survived=False)

    @property
    def equivalent(self) -> list[str]:
        return [i for i in self._ids(survived=True) if self._kind(i) == "equivalent"]

    @property
    def survivors(self) -> list[str]:
        """Survivors not listed as equivalent (known survivors included)."""
        return [i for i in self._ids(survived=True) if self._kind(i) != "equivalent"]

    @property
    def unlisted_survivors(self) -> list[str]:
        return [i for i in self.survivors if self._kind(i) is None]

    @property
    def listed_but_killed(self) -> list[str]:
        """Entries whose mutant a test now catches: a known survivor killed, or an 'equivalent'
        one that loses points (not equivalent, or a test fails a correct implementation)."""
        return [i for i in self.killed if i in self.entries]

    @property
    def stale(self) -> list[str]:
        """Entries whose mutant is no longer generated (the code it changed is gone)."""
        ids = {m.id for m in self.mutants}
        return [i for i in self.entries if i not in ids]

    def _kind(self, mutant_id: str) -> str | None:
        entry = self.entries.get(mutant_id)
        return entry.kind if entry else None

    @property
    def score(self) -> float:
        judged = len(self.mutants) - len(self.equivalent)
        return len(self.killed) / judged if judged else 1.0

    @property
    def problems(self) -> list[str]:
        """What makes the suite's test fail: anything not exactly as the catalog lists it."""
        found = [f"{self.assignment}: {self.source_problem}"] if self.source_problem else []
        found += [f"{cell}: the solution cell does not parse as Python, so no mutant is generated "
                  "from it" for cell in self.unparsable]
        found += [f"{i}: survives and is not listed in the catalog" for i in self.unlisted_survivors]
        found += [f"{i}: listed as {self.entries[i].kind} but a test of its cell now fails "
                  f"({', '.join(self.verdicts[i]['failing'])}): remove the entry" for i in self.listed_but_killed]
        found += [f"{i}: listed as {self.entries[i].kind} but no longer generated (stale): remove the entry"
                  for i in self.stale]
        return found

    def summary(self) -> str:
        return (f"{self.assignment}: score {len(self.killed)}/{len(self.mutants) - len(self.equivalent)}"
                f" = {100 * self.score:.1f}% (generated {len(self.mutants)}, killed {len(self.killed)}, "
                f"equivalent {len(self.equivalent)}, survivors {len(self.survivors)} of which "
                f"{len(self.survivors) - len(self.unlisted_survivors)} listed; dropped "
                f"{self.uncompilable} uncompilable, {self.identical} identical; ran {self.ran} in "
                f"{self.seconds:.1f}s, {len(self.mutants) - self.ran} from the cache)")

    def details(self, nb: NotebookNode | None = None) -> str:
        """Every survivor with its description (and its diff when nb, the source notebook, is given)."""
        by_id = {m.id: m for m in self.mutants}
        lines = []
        for i in self.survivors:
            m = by_id[i]
            known = self.entries.get(i)
            lines.append(f"SURVIVES {i}  {m.description}" + (f"  [listed: {known.reason}]" if known else ""))
            if nb is not None:
                original = notebooks.cell_by_grade_id(nb, m.cell).source
                lines += ["    " + line for line in gen.diff(original, m.source).splitlines()]
        lines += [f"PROBLEM {p}" for p in self.problems]
        return "\n".join(lines)


def survivor_entries(report: GeneratedReport) -> str:
    """TOML `[[generated]]` entries (kind "survives") for the survivors the catalog does not list,
    to paste into its `# --- generated mutants ---` section after reading each diff: change an
    entry to kind "equivalent" with the reason when the mutant computes what the solution does."""
    by_id = {m.id: m for m in report.mutants}
    blocks = []
    for i in report.unlisted_survivors:
        m = by_id[i]
        reason = f"no test of {m.cell} catches {m.description}"
        blocks.append(f"[[generated]]\nid = {json.dumps(i)}\nkind = \"survives\"\n"
                      f"reason = {json.dumps(reason)}\n")
    return "\n".join(blocks)


def run_generated(assignment: str, workers: int = WORKERS, use_cache: bool = True,
                  write_cache: bool = True, only: str | None = None) -> GeneratedReport:
    """Generate the mutants of an assignment's source notebook, judge those the cache does not
    know (and the unmodified notebook, which must get full marks), and report.

    use_cache=False judges every mutant again. write_cache stores the verdicts, pruned to today's
    mutants (merged, not pruned, when `only` selects some)."""
    path = notebooks.source_notebook_path(assignment)
    nb = notebooks.read(path)
    solutions = solution_ids(nb)
    made = generated_mutants(nb)
    mutants = [m for m in made.mutants if not only or only in m.id]
    context = verdict_context(nb)
    cache = load_cache(assignment) if use_cache else {}
    keys = {m.id: cache_key(context, as_mutant(m)) for m in mutants}
    source_key = cache_key(context, None)
    todo = [m for m in mutants if keys[m.id] not in cache]
    runs = ([None] if source_key not in cache else []) + [as_mutant(m) for m in todo]
    start = time.perf_counter()
    results = run(path, runs, workers=workers) if runs else []
    seconds = time.perf_counter() - start
    for r in results:
        key = source_key if r.mutant is None else keys[r.mutant.name]
        cache[key] = {"killed": killed(r, solutions) if r.mutant else not r.failing,
                      "failing": [t.grade_id for t in r.failing]}
    source_problem = None
    if cache[source_key]["failing"]:
        source_problem = ("the unmodified notebook loses points on "
                          f"{', '.join(cache[source_key]['failing'])}: no verdict can be trusted")
    elif write_cache:
        kept = {k: cache[k] for k in [source_key, *keys.values()]}
        save_cache(assignment, {**load_cache(assignment), **kept} if only else kept)
    if source_problem:  # a run whose source fails is not cached (see above); report nothing killed
        for k in keys.values():
            cache[k] = {"killed": False, "failing": cache[k]["failing"]}
    return GeneratedReport(assignment, mutants, {m.id: cache[keys[m.id]] for m in mutants},
                           load_generated_entries(assignment), made.uncompilable, made.identical,
                           ran=len(todo), seconds=seconds, source_problem=source_problem,
                           unparsable=made.unparsable)


# --- command line ----------------------------------------------------------------------------------

def table(results: list[Result], solutions: set[str], verbose: bool = False) -> str:
    """A plain-text table: mutant, kind, verdict, failing test cells, score/max."""
    rows = [("mutant", "kind", "verdict", "score", "failing test cells")]
    details = []
    for r in results:
        issues = problems(r, solutions)
        failing = ", ".join(t.grade_id for t in r.failing) or "-"
        rows.append((r.mutant.id, r.mutant.kind, "ok" if not issues else "PROBLEM",
                     f"{r.score:g}/{r.max_score:g}", failing))
        details += [f"  {r.mutant.id}: {issue}" for issue in issues]
        if verbose:
            details += [f"  {r.mutant.id}: {t.grade_id}: {first_line(t.error)}" for t in r.failing]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4] for row in rows]
    return "\n".join(lines + details)


def main(argv: list[str] | None = None) -> int:
    """Run an assignment's catalog (and with --generated its generated mutants) and print the
    results; exit status 1 if any catalog mutant has a problem or a non-equivalent mutant survives."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="+", metavar="assignment",
                        help="e.g. 01_gradients; several, or `all` for every notebook with a catalog")
    parser.add_argument("--faithful", action="store_true",
                        help="every cell, a fresh kernel per mutant (exactly as nbgrader; slower)")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--only", help="run only mutants whose id contains this text")
    parser.add_argument("--verbose", "-v", action="store_true", help="show each failing message")
    parser.add_argument("--generated", action="store_true",
                        help="also the mutants generated from the solution cells' syntax trees")
    parser.add_argument("--no-catalog", action="store_true",
                        help="with --generated: skip the catalog's mutants")
    parser.add_argument("--no-cache", action="store_true",
                        help="with --generated: judge every generated mutant again (and store it)")
    parser.add_argument("--toml", action="store_true",
                        help="with --generated: print catalog entries for the unlisted survivors")
    args = parser.parse_args(argv)
    assignments = catalog_assignments() if args.assignments == ["all"] else args.assignments
    status = 0
    for assignment in assignments:
        status |= run_assignment(assignment, args)
    return status


def run_assignment(assignment: str, args: argparse.Namespace) -> int:
    """main's work for one assignment; returns its exit status."""
    path = notebooks.source_notebook_path(assignment)
    nb = notebooks.read(path)
    solutions = solution_ids(nb)
    status = 0
    if not (args.generated and args.no_catalog):
        mutants = [m for m in load_catalog(assignment) if not args.only or args.only in m.id]
        start = time.perf_counter()
        results = run(path, mutants, faithful=args.faithful, workers=args.workers)
        elapsed = time.perf_counter() - start
        print(table(results, solutions, args.verbose))
        bad = sum(1 for r in results if problems(r, solutions))
        print(f"\n{len(results)} mutants, {bad} with problems, {elapsed:.1f}s "
              f"({'faithful' if args.faithful else 'graded cells, shared kernels'}, {args.workers} workers)")
        status = 1 if bad else 0
    if args.generated:
        report = run_generated(assignment, args.workers, use_cache=not args.no_cache,
                               only=args.only)
        print(f"\n--- generated mutants of {assignment} ---")
        if args.verbose:
            for m in report.mutants:  # the survivors follow, with their diffs
                v = report.verdicts[m.id]
                if v["killed"]:
                    print(f"killed {m.id}  {m.description}  ({', '.join(v['failing'])})")
        details = report.details(nb)
        if details:
            print(details)
        print(report.summary())
        if args.toml and report.unlisted_survivors:
            print("\n# paste into the catalog's `# --- generated mutants ---` section:\n")
            print(survivor_entries(report))
        if report.survivors or report.problems:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
