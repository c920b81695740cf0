"""Tampering made visible: what a submitted notebook changed that an honest answer never needs.

Code in a student's kernel can always subvert checks that run beside it, so the grade does not
rest on the kernel alone. `check_submission(release_nb, submitted_nb)` returns findings of two kinds:

* structure, compared with the release: nbgrader cells deleted, duplicated or reordered; their
  metadata changed (grade id, points, locked, solution, cell type, checksum); test and locked
  cells edited. Plain cells (text, demos) may be edited, deleted or added freely: their code is
  scanned like an answer's.
* code, from the syntax tree of every cell the student wrote (answer cells, added or edited code
  cells): imports of installed modules no answer of this course needs (files, processes,
  sockets, the interpreter: everything outside ALLOWED_IMPORTS),
  dynamic code (`exec`, `eval`, `compile`, `__import__`), reaching into IPython or the interpreter
  (`get_ipython`, `globals()`, `__builtins__`, `__globals__`, `__subclasses__`, frames),
  assigning attributes on modules (`np.allclose = ...`), rebinding names the tests use (the check
  helpers, `np`, builtins) or another exercise's graded names, and classes that could lie to a
  test (an ndarray or float subclass; `__eq__`, `__array__`, `__array_ufunc__`, ...).

A finding does not change the score nbgrader gives: it flags the submission for a person
(autograder/safety/flags.py). The lists below are the course's policy; widen ALLOWED_IMPORTS when a
notebook's honest answers need another module (tests/test_tamper.py grades every solution and
every correct mutant of autograder/authoring/mutants/ and fails on a false flag).
"""
from __future__ import annotations

import ast
import functools
import importlib.util
from dataclasses import dataclass

from autograder.notebooks import grade_id, is_solution, nbgrader_meta

ALLOWED_IMPORTS = {
    "numpy", "math", "cmath", "random", "time", "functools", "itertools", "collections",
    "typing", "dataclasses", "numbers", "copy", "operator", "abc", "enum", "string", "re",
    "heapq", "bisect", "statistics", "fractions", "decimal", "warnings", "matplotlib",
    "course", "textwrap", "pprint", "json", "__future__", "ipywidgets", "scipy",
}
FORBIDDEN_CALLS = {
    "exec": "runs dynamic code", "eval": "runs dynamic code", "compile": "compiles dynamic code",
    "__import__": "imports dynamically", "open": "opens a file", "globals": "reaches globals()",
    "locals": "reaches locals()", "vars": "reaches an object's namespace",
    "setattr": "sets attributes dynamically", "delattr": "deletes attributes dynamically",
    "get_ipython": "reaches into IPython", "breakpoint": "starts a debugger",
    "exit": "exits the kernel", "quit": "exits the kernel", "memoryview": "reaches raw memory",
}
FORBIDDEN_NAMES = {
    "__builtins__", "__loader__", "__spec__", "_ih", "_oh", "_dh", "In", "Out", "_ii", "_iii",
    "__IPYTHON__",
}
FORBIDDEN_ATTRIBUTES = {
    "__globals__", "__builtins__", "__dict__", "__class__", "__subclasses__", "__bases__",
    "__base__", "__mro__", "__code__", "__closure__", "__defaults__", "__kwdefaults__",
    "__getattribute__", "__setattr__", "__delattr__", "__import__", "__loader__", "__spec__",
    "__self__", "__func__", "__wrapped__", "__reduce__", "__reduce_ex__", "__array_interface__",
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "tb_frame", "gi_frame", "cr_frame",
    "co_code", "os", "sys", "subprocess", "ctypes", "ctypeslib", "builtins", "gc", "inspect",
    "importlib", "socket", "modules", "shell", "user_ns", "system", "run_cell", "ex", "ev",
}
LYING_DUNDERS = {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__",
    "__int__", "__index__", "__complex__", "__abs__", "__round__", "__array__", "__array_ufunc__",
    "__array_function__", "__array_finalize__", "__array_wrap__", "__array_priority__",
    "__array_interface__", "__array_struct__", "__getattr__", "__getattribute__",
    "__instancecheck__", "__subclasscheck__", "__hash__", "__del__", "__init_subclass__",
    "__class_getitem__", "__set_name__",
}
SUSPECT_BASES = {"ndarray", "float", "int", "complex", "bool", "float64", "generic", "number",
                 "Number", "Real", "matrix", "MaskedArray", "type"}
ALLOWED_MAGICS = {"timeit", "time", "matplotlib"}


@dataclass(frozen=True)
class Finding:
    """One reason to look at a submission: where (a grade id or 'cell N') and what."""
    cell: str
    reason: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.reason}"


def check_submission(release_nb, submitted_nb, source_nb=None) -> list[Finding]:
    """Every finding for one submitted notebook, compared with the notebook students were given.
    `source_nb` (the instructor's version, optional) adds the names the hidden tests read."""
    return (compare_structure(release_nb, submitted_nb)
            + scan_student_code(release_nb, submitted_nb, source_nb))


# --- structure ----------------------------------------------------------------------------------

META_KEYS = ("grade", "solution", "locked", "points", "grade_id", "task", "checksum", "cell_type")


def compare_structure(release_nb, submitted_nb) -> list[Finding]:
    """Deleted, duplicated, reordered nbgrader cells; changed metadata; edited locked cells."""
    released = [c for c in release_nb.cells if grade_id(c)]
    submitted = [c for c in submitted_nb.cells if grade_id(c)]
    by_id = {grade_id(c): c for c in released}
    findings, seen = [], []
    for cell in submitted:
        gid = grade_id(cell)
        if gid in seen:
            findings.append(Finding(gid, "cell duplicated"))
            continue
        seen.append(gid)
        if gid not in by_id:
            findings.append(Finding(gid, "a graded cell that is not in the release"))
            continue
        original = by_id[gid]
        changed = [k for k in META_KEYS
                   if nbgrader_meta(cell).get(k) != nbgrader_meta(original).get(k)]
        if cell.cell_type != original.cell_type:
            changed.append(f"type {original.cell_type} -> {cell.cell_type}")
        if changed:
            details = ", ".join(_change(k, nbgrader_meta(original), nbgrader_meta(cell))
                                for k in changed)
            findings.append(Finding(gid, f"nbgrader metadata changed ({details})"))
        if not is_solution(original) and cell.source.strip() != original.source.strip():
            kind = "test cell" if nbgrader_meta(original).get("grade") else "read-only cell"
            findings.append(Finding(gid, f"{kind} edited"))
    missing = [gid for gid in by_id if gid not in seen]
    for gid in missing:
        findings.append(Finding(gid, "cell deleted (or its nbgrader metadata removed)"))
    order = [gid for gid in seen if gid in by_id]
    if order != [gid for gid in by_id if gid in order]:
        findings.append(Finding("notebook", "graded cells reordered"))
    return findings


def _change(key: str, old: dict, new: dict) -> str:
    if key.startswith("type "):
        return key
    if key == "checksum":
        return "checksum"
    return f"{key} {old.get(key)!r} -> {new.get(key)!r}"


# --- code ---------------------------------------------------------------------------------------

def student_code_cells(release_nb, submitted_nb) -> list[tuple[str, str]]:
    """(label, source) of every code cell the student wrote: answer cells, and plain code cells
    that are not, word for word, in the release. Release code (setup, tests, demos) is trusted."""
    released_code = {c.source.strip() for c in release_nb.cells
                     if c.cell_type == "code" and not is_solution(c)}
    cells, seen = [], set()
    for index, cell in enumerate(submitted_nb.cells):
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        copy = gid in seen  # a duplicated cell runs as an ordinary one (autograder/safety/duplicates.py)
        seen.add(gid)
        if is_solution(cell) and not copy:
            cells.append((gid or f"cell {index}", cell.source))
        elif copy and cell.source.strip() not in released_code:
            cells.append((f"{gid} (copy, cell {index})", cell.source))
        elif not gid and cell.source.strip() not in released_code:
            cells.append((f"cell {index} (not in the release)", cell.source))
    return cells


def scan_student_code(release_nb, submitted_nb, source_nb=None) -> list[Finding]:
    protected, modules = _instructor_names(release_nb, source_nb)
    owners = graded_names(release_nb)
    findings = []
    for label, source in student_code_cells(release_nb, submitted_nb):
        cell_id = label.split(" ")[0] if not label.startswith("cell") else None
        others = {name for name, owner in owners.items() if owner != cell_id}
        for reason in scan_source(source, protected, modules, others):
            findings.append(Finding(label, reason))
    return findings


def _code_key(nb) -> tuple:
    """What names_tests_rely_on reads of a notebook, hashable."""
    return tuple((c.cell_type, c.source, repr(sorted(nbgrader_meta(c).items())))
                 for c in nb.cells)


_NAMES: dict[tuple, tuple[frozenset, dict]] = {}


def _instructor_names(release_nb, source_nb) -> tuple[set[str], dict[str, str]]:
    """names_tests_rely_on(release) with the names the source's hidden tests read added; the
    same two notebooks, met again for every student of a class, are analysed once."""
    key = (_code_key(release_nb), None if source_nb is None else _code_key(source_nb))
    if key not in _NAMES:
        protected, modules = names_tests_rely_on(release_nb)
        if source_nb is not None:
            protected |= names_tests_rely_on(source_nb)[0]
        if len(_NAMES) >= 32:
            _NAMES.clear()
        _NAMES[key] = (frozenset(protected), modules)
    protected, modules = _NAMES[key]
    return set(protected), dict(modules)


def names_tests_rely_on(release_nb) -> tuple[set[str], dict[str, str]]:
    """(protected names, {module alias: module}) from the release: what its locked cells bind,
    what its test cells read (builtins included), and every module alias it imports."""
    protected, modules = set(), {}
    answer_names = set(graded_names(release_nb))
    for cell in release_nb.cells:
        if cell.cell_type != "code" or is_solution(cell):
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        meta = nbgrader_meta(cell)
        if meta.get("locked") and not meta.get("grade"):
            protected |= _top_level_bindings(tree)  # the setup cell: np, the check helpers
        if meta.get("grade"):
            protected |= _free_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    modules[(alias.asname or alias.name).split(".")[0]] = \
                        alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    modules.setdefault(alias.asname or alias.name, f"{node.module}.{alias.name}")
    return protected - answer_names - {"_"}, modules


def graded_names(release_nb) -> dict[str, str]:
    """{name: grade id of the answer cell that defines it} from the release's answer cells."""
    owners = {}
    for cell in release_nb.cells:
        if cell.cell_type == "code" and is_solution(cell):
            tree = _parse(cell.source)
            for name in _top_level_bindings(tree) if tree else ():
                owners[name] = grade_id(cell)
    return owners


def scan_source(source: str, protected: set[str], modules: dict[str, str],
                other_answers: set[str] = frozenset()) -> list[str]:
    """Reasons to flag one cell's code (empty when nothing an honest answer never needs)."""
    tree = _parse(source)
    if tree is None:
        return []  # not Python: it fails when run and scores what it deserves
    reasons: list[str] = []
    local_modules = dict(modules)
    magic_calls = set()
    bound_here = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Store)} | {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        magic = _magic(node)
        if magic is not None:
            magic_calls.add(id(node.func.value))
            if magic not in ALLOWED_MAGICS:
                reasons.append(f"runs the IPython magic or shell command {magic!r}")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            reasons += _check_import(node, local_modules, modules)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "getattr" and not _plain_getattr(node):
            reasons.append("calls getattr() with a computed, private or module name")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in FORBIDDEN_CALLS and node.func.id not in bound_here:
            if not _is_magic_target(node, magic_calls):
                reasons.append(f"calls {node.func.id}(): {FORBIDDEN_CALLS[node.func.id]}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                and node.id in FORBIDDEN_CALLS and node.id not in bound_here \
                and id(node) not in called:
            reasons.append(f"uses {node.id}: {FORBIDDEN_CALLS[node.id]}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            reasons.append(f"reads {node.id}, IPython's or the interpreter's own state")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            reasons.append(f"reaches .{node.attr}, which no answer needs")
        elif isinstance(node, ast.ClassDef):
            reasons += _check_class(node)
        elif isinstance(node, ast.Global):
            for name in node.names:
                if name in protected or name in other_answers:
                    reasons.append(f"declares `global {name}`, a name the tests rely on")
    reasons += _attribute_writes(tree, _aliases(tree, set(local_modules) | protected))
    for name, how in _top_level_rebindings(tree):
        if how == "import" and name in modules:
            continue  # the same import as the setup cell's (checked in _check_import)
        if name in protected:
            reasons.append(f"rebinds {name}, which the tests use")
        elif name in other_answers:
            reasons.append(f"rebinds {name}, another exercise's graded answer")
    return list(dict.fromkeys(reasons))


def _free_names(tree) -> set[str]:
    """Names a test cell reads without binding them itself: what it takes from the notebook."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loads - bound


def _parse(source: str):
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _magic(node) -> str | None:
    """'timeit' for get_ipython().run_line_magic('timeit', ...), '!' for a shell command."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
            and owner.func.id == "get_ipython" and not owner.args):
        return None
    if node.func.attr in ("run_line_magic", "run_cell_magic") and node.args \
            and isinstance(node.args[0], ast.Constant):
        return str(node.args[0].value)
    return "!" + node.func.attr


def _is_magic_target(call: ast.Call, magic_calls: set) -> bool:
    return id(call) in magic_calls


def _plain_getattr(node: ast.Call) -> bool:
    if len(node.args) < 2 or not isinstance(node.args[1], ast.Constant):
        return False
    name = str(node.args[1].value)
    return not name.startswith("_") and name not in FORBIDDEN_ATTRIBUTES \
        and not (isinstance(node.args[0], ast.Name) and node.args[0].id in ("np", "numpy"))


def _check_import(node, local_modules: dict, release_modules: dict) -> list[str]:
    reasons = []
    if isinstance(node, ast.ImportFrom):
        root = (node.module or "").split(".")[0] if node.level == 0 else ""
        names = [(a.asname or a.name, f"{node.module}.{a.name}") for a in node.names]
    else:
        root = None
        names = []
        for alias in node.names:
            top = alias.name.split(".")[0]
            if _needs_a_look(top):
                reasons.append(f"imports {alias.name}, which no answer of this course needs")
            names.append((alias.asname or top, alias.name if alias.asname else top))
    if root is not None and _needs_a_look(root):
        reasons.append(f"imports from {node.module or '.'}, which no answer of this course needs")
    for bound, target in names:
        if bound in release_modules and release_modules[bound] != target:
            reasons.append(f"rebinds {bound} to {target}")
        local_modules[bound] = target
    return reasons


@functools.cache
def _needs_a_look(module: str) -> bool:
    """An import to flag: a module outside ALLOWED_IMPORTS that is installed here (one that is
    not fails with ImportError when graded, an honest mistake that scores what it deserves)."""
    if module in ALLOWED_IMPORTS:
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check_class(node: ast.ClassDef) -> list[str]:
    reasons = []
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if name in SUSPECT_BASES:
            reasons.append(f"class {node.name} subclasses {ast.unparse(base)}, "
                           "which can lie to a test")
    for keyword in node.keywords:
        if keyword.arg == "metaclass":
            reasons.append(f"class {node.name} has a metaclass")
    for item in node.body:
        names = []
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [item.name]
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        for name in names:
            if name in LYING_DUNDERS:
                reasons.append(f"class {node.name} defines {name}, which can lie to a test")
    return reasons


def _attribute_writes(tree, watched: set[str]) -> list[str]:
    """Attributes or items set or deleted on a watched name (a module, a name the tests read)
    wherever that name is not a local variable of the function doing it."""
    reasons = []

    def visit(statements, local: set[str]):
        for node in statements:
            for sub in _walk_same_scope(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    inner = {a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
                    body = sub.body if isinstance(sub.body, list) else [ast.Expr(sub.body)]
                    declared = {n for st in ast.walk(sub) if isinstance(st, ast.Global)
                                for n in st.names}
                    inner |= {n.id for st in body for n in ast.walk(st)
                              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                    visit(body, local | (inner - declared))
                    continue
                if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                    targets = sub.targets if isinstance(sub, (ast.Assign, ast.Delete)) \
                        else [sub.target]
                    for target in targets:
                        for part in _target_parts(target):
                            base = _attribute_base(part)
                            if base is not None and base in watched and base not in local:
                                what = "deletes" if isinstance(sub, ast.Delete) else "assigns"
                                reasons.append(f"{what} {ast.unparse(part)} on {base}, "
                                               "which the tests rely on")

    visit(tree.body, set())
    return reasons


def _aliases(tree, watched: set[str]) -> set[str]:
    """`watched` and every name given one of them or its attribute (`m = np`, `t = np.testing`)."""
    watched = set(watched)
    for _ in range(3):  # chains of aliases: a = np; b = a
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Name, ast.Attribute)):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in watched:
                    watched |= {t.id for target in node.targets for t in _target_parts(target)
                                if isinstance(t, ast.Name)}
    return watched


def _walk_same_scope(node):
    """ast.walk that yields a nested function or lambda but does not enter it."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        if current is not node and isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                        ast.Lambda)):
            continue
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue  # the caller handles a function given as `node` itself
        todo.extend(ast.iter_child_nodes(current))


def _target_parts(target):
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_parts(element)
    elif isinstance(target, ast.Starred):
        yield from _target_parts(target.value)
    else:
        yield target


def _attribute_base(node) -> str | None:
    """'np' for np.x, np.linalg.x or np.x[...] (an attribute or item set on a name)."""
    if not isinstance(node, (ast.Attribute, ast.Subscript)):
        return None
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _top_level_bindings(tree) -> set[str]:
    return {name for name, _ in _top_level_rebindings(tree)}


def _top_level_rebindings(tree) -> list[tuple[str, str]]:
    """(name, how) for every name a cell binds in the notebook's namespace (not in functions)."""
    found = []

    def visit(statements):
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append((node.name, "def"))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    if name != "*":
                        found.append((name, "import"))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete,
                                   ast.For, ast.AsyncFor)):
                targets = (node.targets if isinstance(node, (ast.Assign, ast.Delete))
                           else [node.target])
                for target in targets:
                    found.extend((n.id, "assign") for n in _target_parts(target)
                                 if isinstance(n, ast.Name))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        found.extend((n.id, "assign") for n in _target_parts(item.optional_vars)
                                     if isinstance(n, ast.Name))
            for field in ("body", "orelse", "finalbody"):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(getattr(node, field, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                if handler.name:
                    found.append((handler.name, "assign"))
                visit(handler.body)
        for node in statements:
            for sub in ast.walk(node) if not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) else ():
                if isinstance(sub, ast.NamedExpr):
                    found.append((sub.target.id, "assign"))

    visit(tree.body)
    return found
