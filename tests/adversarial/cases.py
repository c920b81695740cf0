"""The adversarial corpus: hostile or broken submissions of 01_gradients, each with the outcome
grading must give it. tests/test_adversarial.py grades all of them in one batch mixed with normal
students, through the class grader (autograder/grading/batch.py) and the real nbgrader (sandboxed).

A case is built from the release and the instructor's solutions when the test runs, so it follows
the notebook as it changes. Expected outcome, one of:
  * unflagged, and the score is exactly full marks minus the points of the tests named in `loses`
    (an answer cell's id stands for all its tests): what its honest work deserves;
  * `flag`: flagged for a person with a reason containing that phrase (the score is the person's
    call and is printed in the table); with `loses`, the score is checked as well;
  * `problem`: reported by the batch with that phrase, scored `zero`.
Most code attacks sit in the grad_quadratic answer cell of a submission whose grad_quadratic is
wrong (the catalog's a_x_plus_b), so a successful attack would raise its score.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import nbformat

from autograder.authoring import classroom

from autograder.authoring import mutation
from autograder.notebooks import grade_id

ASSIGNMENT = "01_gradients"
WRONG_CELL = "grad_quadratic"
HONEST_WRONG = "normal_wrong"  # the normal student with the same wrong grad_quadratic


@dataclass
class Case:
    name: str
    attack: str
    build: Callable  # (release_nb, source_nb) -> notebook, or bytes for a raw file
    loses: tuple = ()
    flag: str = ""
    problem: str = ""
    filename: str = f"{ASSIGNMENT}.ipynb"
    zero: bool = False
    same_as: str = ""  # a normal student whose score it must get (its honest work)

    def outcome(self) -> str:
        if self.problem:
            return f"0, reported: {self.problem}" + (f"; flagged ({self.flag})" if self.flag else "")
        score = ("0" if self.zero else f"= {self.same_as}" if self.same_as
                 else f"loses {', '.join(self.loses)}" if self.loses else "")
        if self.flag:
            return f"flagged ({self.flag})" + (f"; {score}" if score else "")
        return score or "full marks"


def solution(release, source):
    return classroom.solve_cells(copy.deepcopy(release), source)


def wrong(release, source, extra: str = "", before: str = ""):
    """The solution with grad_quadratic wrong, plus `extra` code after it (`before` before it)."""
    mistake = next(m for m in mutation.load_catalog(ASSIGNMENT) if m.id == "grad_quadratic::a_x_plus_b")
    return classroom.solve_cells(copy.deepcopy(release), source,
                                 replacements={WRONG_CELL: before + mistake.source + "\n" + extra})


def with_answer(cell_id: str, extra: str, before: bool = True):
    """The solution with `extra` code put before (or after) the answer of `cell_id`."""
    def build(release, source):
        nb = solution(release, source)
        cell = next(c for c in nb.cells if grade_id(c) == cell_id)
        cell.source = extra + "\n" + cell.source if before else cell.source + "\n" + extra
        return nb
    return build


def tampered(extra: str, before: str = ""):
    return lambda release, source: wrong(release, source, extra, before)


def structure(change, base=wrong):
    def build(release, source):
        nb = base(release, source)
        change(nb)
        return nb
    return build


def _index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)


def _delete(gid):
    return lambda nb: nb.cells.pop(_index(nb, gid))


def _set_source(gid, text):
    def change(nb):
        nb.cells[_index(nb, gid)].source = text
    return change


def _set_meta(gid, key, value):
    def change(nb):
        nb.cells[_index(nb, gid)].metadata.nbgrader[key] = value
    return change


def _to_markdown(gid):
    def change(nb):
        cell = nb.cells[_index(nb, gid)]
        nb.cells[_index(nb, gid)] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    return change


def _duplicate(gid):
    def change(nb):
        i = _index(nb, gid)
        twin = copy.deepcopy(nb.cells[i])
        twin["id"] = "duplicated-cell"
        nb.cells.insert(i + 1, twin)
    return change


def _swap(first, second):
    def change(nb):
        i, j = _index(nb, first), _index(nb, second)
        nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]
    return change


def raw(data: bytes):
    return lambda release, source: data


def other_assignment(release, source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 02 · Softmax"),
        nbformat.v4.new_code_cell("def softmax(z):\n    return z", metadata={"nbgrader": {
            "grade": False, "grade_id": "softmax", "locked": False, "solution": True,
            "schema_version": 3, "cell_type": "code"}}),
        nbformat.v4.new_code_cell("assert softmax(1) == 1", metadata={"nbgrader": {
            "grade": True, "grade_id": "test_softmax", "locked": True, "points": 5,
            "solution": False, "schema_version": 3, "cell_type": "code"}}),
    ]
    nb.metadata = copy.deepcopy(release.metadata)
    return nb


def renamed(release, source):
    return solution(release, source)


NORMAL = {  # students graded in the same batch, and again in a batch of their own
    "normal_solution": solution,
    HONEST_WRONG: lambda release, source: wrong(release, source),
    "normal_partial": lambda release, source: classroom.solve_cells(
        copy.deepcopy(release), source, cell_ids=set(classroom.partial_cells(source))),
}


SWALLOW = r'''open('_swallow.py', 'w').write(
    'from IPython import get_ipython\n'
    'def wrap(lines):\n'
    '    return ["try:\\n"] + ["    " + l for l in lines] + ["\\nexcept BaseException:\\n    pass\\n"]\n'
    'get_ipython().input_transformers_post.append(wrap)\n')
import _swallow
'''

# what an answer that is not an array loses (it leaves its inputs unchanged: that test passes)
GRAD_QUADRATIC_VALUES = ("test_grad_quadratic_visible", "test_grad_quadratic_values",
                         "test_grad_quadratic_shape")
HEAVY = "grad_quadratic"  # where resource attacks sit (their cell loses its tests)

CASES = [
    # --- the notebook's structure --------------------------------------------------------------
    Case("deleted_test_cell", "a hidden test cell of the wrong answer deleted",
         structure(_delete("test_grad_quadratic_values")), flag="cell deleted"),
    Case("emptied_test_cell", "a test cell emptied", structure(_set_source(
        "test_grad_quadratic_values", "")), flag="test cell edited", same_as=HONEST_WRONG),
    Case("edited_test_cell", "a test cell replaced by `pass`", structure(_set_source(
        "test_grad_quadratic_visible", "pass")), flag="test cell edited", same_as=HONEST_WRONG),
    Case("points_changed", "a test cell's points raised from 1 to 30",
         structure(_set_meta("test_grad_quadratic_shape", "points", 30), base=solution),
         flag="points 1 -> 30"),
    Case("locked_unlocked", "a test cell made an answer cell (solution: true, locked: false)",
         structure(lambda nb: (_set_meta("test_grad_quadratic_visible", "solution", True)(nb),
                               _set_meta("test_grad_quadratic_visible", "locked", False)(nb))),
         flag="nbgrader metadata changed", problem="autograde failed"),
    Case("cell_type_changed", "a test cell turned into markdown",
         structure(_to_markdown("test_grad_quadratic_values")), flag="type code -> markdown"),
    Case("duplicated_cell", "a correct notebook with one answer cell duplicated",
         structure(_duplicate("numerical_derivative"), base=solution), flag="cell duplicated"),
    Case("reordered_cells", "two test cells swapped",
         structure(_swap("test_rates_of_change_at_1", "test_rates_of_change_at_4"), base=solution),
         flag="reordered"),
    # --- code that tampers with what the tests use ------------------------------------------------
    Case("numpy_monkeypatched", "np.allclose and np.testing patched to always agree",
         tampered("np.allclose = lambda *a, **k: True\n"
                  "np.testing.assert_allclose = lambda *a, **k: None"), flag="assigns np.allclose", same_as=HONEST_WRONG),
    Case("checks_module_patched", "course.checks' functions replaced on the module",
         tampered("import course.checks as _c\n_c.check_array = lambda *a, **k: None"),
         flag="assigns _c.check_array", same_as=HONEST_WRONG),
    Case("helpers_rebound", "the check helpers rebound in the notebook's namespace",
         tampered("check_array = check_scalar = check_true = check_unchanged = "
                  "lambda *a, **k: None"), flag="rebinds check_array", same_as=HONEST_WRONG),
    Case("builtins_patched", "isinstance and abs patched through builtins",
         tampered("import builtins\nbuiltins.isinstance = lambda *a: True"),
         flag="imports builtins",
         # its kernel stops answering once isinstance lies (ipykernel needs it): from that cell on
         # it scores 0, as after any crash; the tests of the cells before it are graded
         loses=(HEAVY, "relative_error", "grad_softplus", "gradient_descent", "loss_not_accuracy")),
    Case("ipython_hooked", "an IPython hook that swallows every test's exception",
         tampered("ip = get_ipython()\nip.set_custom_exc((Exception,), lambda *a, **k: None)"),
         flag="reaches into IPython", same_as=HONEST_WRONG),
    Case("sys_modules", "a fake course.checks put into sys.modules, then re-imported",
         tampered("import sys, types\nfake = types.ModuleType('course.checks')\n"
                  "sys.modules['course.checks'] = fake"), flag="imports sys", same_as=HONEST_WRONG),
    Case("lying_eq", "grad_quadratic returns an object whose __eq__ always agrees",
         tampered("class Anything:\n    def __eq__(self, other):\n        return True\n"
                  "grad_quadratic = lambda A, b, x: Anything()"), flag="defines __eq__",
         loses=GRAD_QUADRATIC_VALUES),
    Case("lying_ndarray", "an ndarray subclass whose ufuncs and comparisons lie",
         tampered("class Liar(np.ndarray):\n    def __array_ufunc__(self, *a, **k):\n"
                  "        return np.zeros(1)\n"), flag="subclasses np.ndarray", same_as=HONEST_WRONG),
    Case("lying_array_protocol", "an object whose __array__ fakes the values",
         tampered("class Fake:\n    def __array__(self, dtype=None, copy=None):\n"
                  "        return np.zeros(2)\n"), flag="defines __array__", same_as=HONEST_WRONG),
    Case("dynamic_code", "the same patch hidden in exec of a hex string",
         tampered("exec(bytes.fromhex('" + "np.allclose = lambda *a, **k: True".encode().hex()
                  + "').decode())"), flag="calls exec()", same_as=HONEST_WRONG),
    Case("hidden_source_printed", "a hook that prints every cell's source (hidden tests) to "
         "the output", tampered("get_ipython().events.register('pre_run_cell', "
                                "lambda info: print(info.raw_cell))"), flag="reaches into IPython",
         same_as=HONEST_WRONG),
    # --- tricks that worked while the tests ran in the student's kernel (split execution now) ------
    Case("module_written_at_run_time", "writes a module that wraps every later cell in try/except "
         "and imports it", tampered(SWALLOW), flag="calls open()", same_as=HONEST_WRONG),
    Case("history_read", "prints every cell it can find in IPython's history, reversed",
         with_answer("loss_not_accuracy", "print([_s[::-1] for _s in In])\n"
                     "print([str(v)[::-1] for k, v in globals().items() if k.startswith('_i')])",
                     before=False), flag="reads In"),
    Case("match_rebinding", "rebinds the check helpers with a `match` statement",
         tampered("match (lambda *a, **k: None):\n    case check_array:\n        pass\n"
                  "match (lambda *a, **k: None):\n    case check_true:\n        pass"),
         same_as=HONEST_WRONG),
    Case("leftover_global", "grad_quadratic returns a hidden test's leftover global array",
         tampered("def grad_quadratic(A, b, x):\n"
                  "    for _k, _v in list(globals().items()):\n"
                  "        if _k.startswith('_') and type(_v) is np.ndarray and _v.shape == np.shape(x):\n"
                  "            return _v\n"
                  "    return None"), flag="calls globals()", loses=GRAD_QUADRATIC_VALUES),
    # --- answers that are honest about nothing but harm nobody -----------------------------------
    Case("hardcoded_visible_answers", "numerical_derivative hard-codes the visible test's answers",
         with_answer("numerical_derivative",
                     "def numerical_derivative(f, x, h=1e-4):\n    return {3.0: 6.0, 0.0: 1.0}"
                     ".get(float(x), 0.0)", before=False),
         loses=("test_numerical_derivative_values", "test_numerical_derivative_central",
                "test_numerical_derivative_uses_h")),
    # --- reading what it must not -----------------------------------------------------------------
    Case("reads_source_notebook", "reads the instructor's source notebook for the expected values",
         tampered("try:\n    _s = open('../../../source/01_gradients/01_gradients.ipynb').read()\n"
                  "except OSError as error:\n    print('no source:', error)"),
         flag="calls open()", same_as=HONEST_WRONG),
    Case("reads_gradebook", "opens gradebook.db with sqlite3",
         with_answer("relative_error", "import sqlite3\ntry:\n    sqlite3.connect("
                     "'file:../../../gradebook.db?mode=ro', uri=True).execute("
                     "'select * from grade').fetchall()\nexcept Exception as error:\n"
                     "    print('no gradebook:', error)"), flag="imports sqlite3"),
    Case("network", "connects to a server on 127.0.0.1 to send its answers out",
         with_answer("relative_error", "import socket\ntry:\n    socket.create_connection("
                     "('127.0.0.1', PORT), timeout=2).sendall(b'answers')\n"
                     "except OSError as error:\n    print('no network:', error)"),
         flag="imports socket"),
    # --- resources ----------------------------------------------------------------------------------
    Case("infinite_loop", "an infinite loop before the answer",
         with_answer("relative_error", "while True:\n    pass"), loses=("relative_error",)),
    Case("memory_bomb", "allocates 10 GiB",
         with_answer(HEAVY, "_big = np.ones(10 * 2**30, dtype=np.uint8)"), loses=(HEAVY,)),
    Case("fork_bomb", "forks 1,000 processes",
         with_answer(HEAVY, "import os, time\nfor _ in range(1000):\n    if os.fork() == 0:\n"
                     "        time.sleep(30)\n        os._exit(0)"),
         flag="imports os"),  # its own kernel runs out of processes: the person decides
    Case("huge_output", "prints 100 MB",
         with_answer("relative_error", "for _ in range(100):\n    print('x' * 2**20)")),
    Case("sys_exit", "sys.exit() in an answer cell",
         with_answer("loss_not_accuracy", "import sys\nsys.exit(0)"), flag="imports sys",
         loses=("loss_not_accuracy",)),
    Case("os_exit", "os._exit() in the last answer cell: the kernel ends",
         with_answer("loss_not_accuracy", "import os\nos._exit(0)"), flag="imports os",
         loses=("loss_not_accuracy",)),
    Case("segfault", "a kernel crash through ctypes", with_answer(
        "loss_not_accuracy", "import ctypes\nctypes.string_at(0)"), flag="imports ctypes",
        loses=("loss_not_accuracy",)),
    # --- files that are not the notebook ------------------------------------------------------------
    Case("invalid_json", "a notebook cut off half way", raw(b'{"cells": [{"cell_type": "co'),
         problem="not valid JSON"),
    Case("empty_file", "an empty file", raw(b""), problem="not valid JSON"),
    Case("non_utf8", "bytes that are not UTF-8", raw(b"\xff\xfe\x00{\x00\x93cells\x94: []}"),
         problem="not a valid notebook"),
    Case("renamed", "the solution saved under another name", renamed,
         filename=f"{ASSIGNMENT} (copy).ipynb", problem="renamed"),
    Case("other_assignment", "a notebook of another assignment under this one's name",
         other_assignment, flag="a graded cell that is not in the release",
         problem="autograde failed"),
]
