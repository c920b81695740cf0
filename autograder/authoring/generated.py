"""Generated mutants: small, systematic changes derived from the syntax tree of every solution cell.

The catalogs (autograder/authoring/mutants/*.toml) list the mistakes someone thought of; the tests
written for them can be blind beside them (issue 19). This module derives mutants mechanically from
the code between `### BEGIN SOLUTION` and `### END SOLUTION` of each answer cell, so a test that
only checks the listed mistakes shows up as a surviving mutant.

Operators (each names what it changes; the ids below use these names):

    arith        an arithmetic operator swapped: + -, * /, // /, ** *, @ * (also in `x op= e`),
                 and a unary minus dropped
    boundary     a comparison's boundary moved: > >=, < <=
    constant     a number changed (n -> n + 1, as mutmut does), True <-> False (an axis literal
                 is left to `axis`; strings are not changed)
    copy         a copy dropped or an output aliased to an input: `e.copy()` -> `e`,
                 `np.copy(e)` -> `e`, `np.array(e, ...)` -> `np.asarray(e, ...)`
    inplace      an augmented assignment to an input: `a = a op e` -> `a op= e`, and
                 `v = p op e` (p a parameter) -> `p op= e; v = p`
    axis         an axis swapped: axis=0 -> 1, any other axis -> 0 (keyword or positional)
    sum_mean     np.sum / .sum <-> np.mean / .mean
    transpose    a transpose dropped (`e.T`, `np.transpose(e)`, `e.transpose()` -> `e`) or added
                 (each operand of `@` / `np.dot` gains `.T`)
    swap_args    two adjacent positional arguments of a call swapped, or the operands of a
                 non-commutative `-`, `/`, `@` swapped (max, min, np.maximum, ... are skipped)
    max_shift    a max-shift removed: `e - max(...)` -> `e`, or the shift by the minimum instead
    add_at       `np.add.at(a, i, v)` replaced by the fancy-index `a[i] += v` (which drops repeats)
    intermediate a function returns one of its intermediates instead of its result

Why our own operators rather than mutmut or cosmic-ray: both were looked at (PyPI, their docs and
code). Their operators are the generic ones (arithmetic, comparison, number, boolean, keyword
replacement; mutmut on libcst, cosmic-ray on parso), none knows numpy (axis, sum/mean, transpose,
copies and views, np.add.at, the softmax shift), and both are built around their own runner: a
module file rewritten on disk and a pytest run per mutant (mutmut 3 adds trampolines to a copied
source tree, cosmic-ray a session database and workers). Here a mutant must be one notebook cell run
in the harness's shared kernels (autograder/authoring/mutation.py), so all either library would
give us is the few generic operators, at the price of a pinned dependency and a second parse tree.
The operators are written with the standard library's `ast` (this module, no new dependency).

How a mutant's source is made: the cell is parsed whole (the SOLUTION markers are comments), each
expression or statement inside a solution region is changed on a copy, and only the source text
of that node is replaced by `ast.unparse` of the changed node (in parentheses where precedence could
need them), so the rest of the cell, comments included, stays as written and the diff shows one
change. Each mutant makes one change (first order). A mutant that does not compile, or whose tree
is the original's (or another mutant's), is dropped and counted.

Ids: `<cell>:<operator>:<8 hex digits>`, the hash of the cell, the operator, the unparsed statement,
the unparsed node before and after, and which occurrence of that same change in the cell it is. It
does not depend on line numbers, comments or the code elsewhere in the cell, so an id written in a
catalog survives edits around it; when the statement itself changes the id goes, and the catalog
entry is reported stale.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import re
from dataclasses import dataclass, field

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
OPERATORS = ("arith", "boundary", "constant", "copy", "inplace", "axis", "sum_mean", "transpose",
             "swap_args", "max_shift", "add_at", "intermediate")

ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.MatMult: ast.Mult}
BOUNDARY = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt}
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.MatMult)
# Calls whose two arguments may be swapped without changing the result.
SYMMETRIC_CALLS = {"max", "min", "maximum", "minimum", "add", "multiply", "logaddexp", "isclose",
                   "allclose", "array_equal"}
# numpy functions whose second positional argument is an axis.
AXIS_FUNCTIONS = {"sum", "mean", "max", "min", "argmax", "argmin", "amax", "amin", "concatenate",
                  "stack", "cumsum", "prod", "std", "var", "expand_dims", "squeeze", "flip"}
MAX_NAMES = {"max", "amax", "nanmax"}
ATOMS = (ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Call, ast.List, ast.Tuple,
         ast.Dict, ast.Set)


@dataclass(frozen=True)
class GeneratedMutant:
    """One generated mutant: `source` replaces the whole solution cell `cell`.

    line, col: where the change starts (1-based line of the cell, 0-based column);
    before, after: the changed code, unparsed; description: one line a person can read.
    """
    id: str
    cell: str
    operator: str
    line: int
    col: int
    before: str
    after: str
    source: str

    @property
    def description(self) -> str:
        before, after = (_short(t.replace("\n", "; ")) for t in (self.before, self.after))
        return f"{self.operator} at line {self.line}: `{before}` -> `{after}`"


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


# --- where the solution is -----------------------------------------------------------------------

def solution_regions(source: str) -> list[tuple[int, int]]:
    """(begin line, end line) of each `### BEGIN SOLUTION` ... `### END SOLUTION` pair (1-based,
    the marker lines themselves). A BEGIN without its END runs to the end of the cell."""
    regions, begin = [], None
    lines = source.splitlines()
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(BEGIN):
            begin = number
        elif line.strip().startswith(END) and begin is not None:
            regions.append((begin, number))
            begin = None
    if begin is not None:
        regions.append((begin, len(lines) + 1))
    return regions


def _inside(node: ast.AST, regions) -> bool:
    return any(b < node.lineno and node.end_lineno < e for b, e in regions)


def _own_expressions(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement holds itself, not those of the statements nested in it."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.iter]
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in stmt.items]
    if isinstance(stmt, ast.Try):
        return []
    return [child for child in ast.iter_child_nodes(stmt) if isinstance(child, ast.expr)]


def _walk_expression(node: ast.AST):
    """Every node of an expression, not entering lambdas (their bodies run elsewhere) nor f-strings
    (Python 3.11 gives no reliable source positions inside them)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.Lambda, ast.JoinedStr)):
            yield from _walk_expression(child)


# --- expression operators: node -> [(operator, new node)] -----------------------------------------

def _func_name(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _is_numpy(call: ast.Call) -> bool:
    """np.f(...) (not a method of an array)."""
    return isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) \
        and call.func.value.id in ("np", "numpy")


def _with(node, **fields):
    new = copy.copy(node)
    for key, value in fields.items():
        setattr(new, key, value)
    return new


def _arith(node, parent):
    if isinstance(node, ast.BinOp) and type(node.op) in ARITH:
        yield _with(node, op=ARITH[type(node.op)]())
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node.operand


def _boundary(node, parent):
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in BOUNDARY:
                ops = list(node.ops)
                ops[i] = BOUNDARY[type(op)]()
                yield _with(node, ops=ops)


def _constant(node, parent):
    if not isinstance(node, ast.Constant):
        return
    value = node.value
    if isinstance(value, bool):
        yield ast.Constant(not value)
    elif isinstance(value, (int, float)) and not isinstance(value, complex):
        yield ast.Constant(value + 1)


def _copy(node, parent):
    if not isinstance(node, ast.Call):
        return
    name = _func_name(node)
    if name == "copy" and not node.args and not node.keywords and isinstance(node.func, ast.Attribute) \
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "copy"):
        yield node.func.value                          # e.copy() -> e
    elif name in ("copy", "deepcopy") and len(node.args) == 1 and not node.keywords:
        yield node.args[0]                             # np.copy(e), copy.deepcopy(e) -> e
    elif name == "array" and _is_numpy(node) and node.args:
        keywords = [k for k in node.keywords if k.arg != "copy"]
        yield _with(node, func=_with(node.func, attr="asarray"), keywords=keywords)


def _axis(node, parent):
    if not isinstance(node, ast.Call):
        return
    swap = lambda axis: ast.Constant(1 if axis == 0 else 0)  # noqa: E731
    for i, k in enumerate(node.keywords):
        if k.arg == "axis" and _int_literal(k.value) is not None:
            keywords = list(node.keywords)
            keywords[i] = ast.keyword("axis", swap(_int_literal(k.value)))
            yield _with(node, keywords=keywords)
    name = _func_name(node)
    position = 1 if _is_numpy(node) else 0
    if name in AXIS_FUNCTIONS and len(node.args) > position and _int_literal(node.args[position]) is not None:
        args = list(node.args)
        args[position] = swap(_int_literal(node.args[position]))
        yield _with(node, args=args)


def _int_literal(node) -> int | None:
    """The value of an int literal such as 1 or -1, else None."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if type(value) is int else None


def _sum_mean(node, parent):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in ("sum", "mean"):
        other = "mean" if node.func.attr == "sum" else "sum"
        yield _with(node, func=_with(node.func, attr=other))


def _transposed(e):
    return ast.Attribute(e, "T", ast.Load())


def _transpose(node, parent):
    if isinstance(node, ast.Attribute) and node.attr == "T":
        yield node.value
    if isinstance(node, ast.Call) and _func_name(node) == "transpose":
        if _is_numpy(node) and len(node.args) == 1 and not node.keywords:
            yield node.args[0]
        elif not _is_numpy(node) and not node.args and isinstance(node.func, ast.Attribute):
            yield node.func.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        for side in ("left", "right"):
            operand = getattr(node, side)
            if not (isinstance(operand, ast.Attribute) and operand.attr == "T"):
                yield _with(node, **{side: _transposed(operand)})
    if isinstance(node, ast.Call) and _func_name(node) == "dot" and len(node.args) == 2:
        for i, operand in enumerate(node.args):
            if not (isinstance(operand, ast.Attribute) and operand.attr == "T"):
                args = list(node.args)
                args[i] = _transposed(operand)
                yield _with(node, args=args)


def _swap_args(node, parent):
    if isinstance(node, ast.Call) and _func_name(node) not in SYMMETRIC_CALLS \
            and not any(isinstance(a, ast.Starred) for a in node.args):
        for i in range(len(node.args) - 1):
            args = list(node.args)
            args[i], args[i + 1] = args[i + 1], args[i]
            yield _with(node, args=args)
    if isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE):
        yield _with(node, left=node.right, right=node.left)


def _max_shift(node, parent):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) \
            and isinstance(node.right, ast.Call) and _func_name(node.right) in MAX_NAMES:
        yield node.left
        yield _with(node, right=_with(node.right, func=_with(node.right.func, **(
            {"attr": "min"} if isinstance(node.right.func, ast.Attribute) else {"id": "min"}))))


EXPRESSION_OPERATORS = {"arith": _arith, "boundary": _boundary, "constant": _constant,
                        "copy": _copy, "axis": _axis, "sum_mean": _sum_mean,
                        "transpose": _transpose, "swap_args": _swap_args, "max_shift": _max_shift}


# --- statement operators: stmt -> [(operator, [new statements])] ---------------------------------

def _parameters(function) -> set[str]:
    if function is None:
        return set()
    a = function.args
    names = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    return names - {"self", "cls"}


def _assigned_names(function, before_line: int) -> list[str]:
    """Local names a function assigns before a line, in order of first assignment."""
    names = []
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) \
                and node.lineno < before_line and node.id not in names:
            names.append(node.id)
    return names


def _statement_mutants(stmt, function):
    """(operator, [statements]) replacing stmt."""
    if isinstance(stmt, ast.AugAssign) and type(stmt.op) in ARITH:
        yield "arith", [_with(stmt, op=ARITH[type(stmt.op)]())]
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
            and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.left, ast.Name):
        target, left = stmt.targets[0].id, stmt.value.left.id
        augmented = ast.AugAssign(ast.Name(left, ast.Store()), stmt.value.op, stmt.value.right)
        if target == left:
            yield "inplace", [augmented]
        elif left in _parameters(function):
            yield "inplace", [augmented, _with(stmt, value=ast.Name(left, ast.Load()))]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr == "at" and isinstance(f.value, ast.Attribute) \
                and f.value.attr == "add" and len(call.args) == 3:
            a, index, value = call.args
            yield "add_at", [ast.AugAssign(ast.Subscript(a, index, ast.Store()), ast.Add(), value)]
    if isinstance(stmt, ast.Return) and stmt.value is not None and function is not None \
            and not isinstance(stmt.value, ast.Tuple):
        returned = ast.unparse(stmt.value)
        for name in _assigned_names(function, stmt.lineno):
            if name != returned:
                yield "intermediate", [ast.Return(ast.Name(name, ast.Load()))]


# --- text surgery ----------------------------------------------------------------------------------

class _Source:
    """The cell's text, addressable by the (line, byte column) positions of ast nodes."""

    def __init__(self, source: str):
        self.lines = source.split("\n")

    def _char(self, line: int, col: int) -> int:
        return len(self.lines[line - 1].encode()[:col].decode(errors="ignore"))

    def in_parentheses(self, node: ast.AST) -> bool:
        """Whether node's text is directly enclosed in parentheses: `(` right before, `)` right after."""
        before = self.lines[node.lineno - 1][:self._char(node.lineno, node.col_offset)].rstrip()
        after = self.lines[node.end_lineno - 1][self._char(node.end_lineno, node.end_col_offset):].lstrip()
        return before.endswith("(") and after.startswith(")")

    def replace(self, node: ast.AST, text: str) -> str:
        """The source with node's text replaced; continuation lines of text get node's indent."""
        first, last = node.lineno, node.end_lineno
        start = self._char(first, node.col_offset)
        end = self._char(last, node.end_col_offset)
        prefix, suffix = self.lines[first - 1][:start], self.lines[last - 1][end:]
        indent = " " * start if not prefix.strip() else ""
        text = text.replace("\n", "\n" + indent)
        return "\n".join(self.lines[:first - 1] + [prefix + text + suffix] + self.lines[last:])


def _expression_text(new: ast.AST, old: ast.AST, parent: ast.AST | None, enclosed: bool) -> str:
    """The text that replaces `old`: new unparsed, in parentheses unless it is an atom or it
    stands where any expression may (a statement's value, a call's argument, inside parentheses
    of the source: `enclosed`)."""
    text = ast.unparse(new)
    free = enclosed or isinstance(parent, (ast.stmt, ast.keyword)) or isinstance(parent, ast.Call) \
        and any(a is old for a in parent.args)
    if isinstance(new, ATOMS) or free and not isinstance(new, (ast.Tuple, ast.NamedExpr)):
        return text
    return text if text.startswith("(") and text.endswith(")") and isinstance(new, ast.Tuple) \
        else f"({text})"


def _statements_text(stmts, inline: bool) -> str:
    return ("; " if inline else "\n").join(ast.unparse(s) for s in stmts)


def _statement_text(stmt: ast.stmt) -> str:
    """A statement's own text: the whole of a simple one, the header of a compound one."""
    if not hasattr(stmt, "body"):
        return ast.unparse(stmt)
    return " ".join([type(stmt).__name__, *(ast.unparse(e) for e in _own_expressions(stmt))])


def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _enclosing_function(node, parents):
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def _replace_child(parent, old, new) -> None:
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return
    raise ValueError("node not found in its parent")


def _stable_id(cell: str, operator: str, statement: str, before: str, after: str, n: int) -> str:
    text = "\0".join((cell, operator, statement, before, after, str(n)))
    return f"{cell}:{operator}:{hashlib.sha1(text.encode()).hexdigest()[:8]}"


# --- the generator ---------------------------------------------------------------------------------

@dataclass
class Generated:
    """The mutants of one cell and how many candidates were dropped (and why)."""
    mutants: list[GeneratedMutant]
    uncompilable: int = 0
    identical: int = 0
    unparsable: list[str] = field(default_factory=list)  # cells that do not parse: no mutants


def generate(cell: str, source: str, operators=OPERATORS) -> Generated:
    """The mutants of one solution cell (grade id `cell`, its whole source), in source order.

    Only code between the SOLUTION markers is changed. A cell that does not parse has none (and
    is named in `unparsable`, which the harness reports as a problem).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return Generated([], unparsable=[cell])
    regions = solution_regions(source)
    text = _Source(source)
    parents = _parents(tree)
    original = ast.dump(tree)
    seen = {original}
    out = Generated([])
    occurrences: dict[tuple, int] = {}

    def add(operator, node, statement, before, after, new_source):
        key = (operator, statement, before, after)
        occurrences[key] = occurrences.get(key, 0) + 1
        try:
            dump = ast.dump(ast.parse(new_source))
            compile(new_source, f"<{cell}>", "exec")
        except SyntaxError:
            out.uncompilable += 1
            return
        if dump in seen:
            out.identical += 1
            return
        seen.add(dump)
        out.mutants.append(GeneratedMutant(
            _stable_id(cell, operator, statement, before, after, occurrences[key]),
            cell, operator, node.lineno, node.col_offset, before, after, new_source))

    statements = [s for s in ast.walk(tree) if isinstance(s, ast.stmt) and _inside(s, regions)]
    statements.sort(key=lambda s: (s.lineno, s.col_offset))
    for stmt in statements:
        statement_text = _statement_text(stmt)
        function = _enclosing_function(stmt, parents)
        inline = bool(text.lines[stmt.lineno - 1][:text._char(stmt.lineno, stmt.col_offset)].strip())
        for operator, replacement in _statement_mutants(stmt, function):
            if operator in operators:
                after = _statements_text(replacement, inline)
                add(operator, stmt, statement_text, ast.unparse(stmt), after,
                    text.replace(stmt, after))
        nodes = [n for e in _own_expressions(stmt) for n in _walk_expression(e) if isinstance(n, ast.expr)]
        # An axis literal is changed by the axis operator only (not also as a number or a sign).
        axis_literals = {id(n) for e in _own_expressions(stmt) for k in ast.walk(e)
                         if isinstance(k, ast.keyword) and k.arg == "axis" for n in ast.walk(k.value)}
        for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset, -n.end_col_offset)):
            parent = parents.get(node)
            for operator, make in EXPRESSION_OPERATORS.items():
                if operator not in operators or operator in ("arith", "constant") and id(node) in axis_literals:
                    continue
                for new in make(node, parent):
                    after = _expression_text(new, node, parent, text.in_parentheses(node))
                    add(operator, node, statement_text, ast.unparse(node), ast.unparse(new),
                        text.replace(node, after))
    return out


def generate_notebook(nb, is_solution, grade_id, operators=OPERATORS) -> Generated:
    """The mutants of every solution cell of a notebook (cells chosen by is_solution(cell))."""
    total = Generated([])
    for cell in nb.cells:
        if cell.cell_type == "code" and is_solution(cell):
            g = generate(grade_id(cell), cell.source, operators)
            total.mutants += g.mutants
            total.uncompilable += g.uncompilable
            total.identical += g.identical
            total.unparsable += g.unparsable
    return total


def diff(before: str, after: str, context: int = 1) -> str:
    """A unified diff of a cell's source, for a survivor's report."""
    import difflib
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "solution", "mutant",
                                 n=context, lineterm="")
    return "\n".join(list(lines)[2:])


_ID = re.compile(r"^[A-Za-z_][\w]*:[a-z_]+:[0-9a-f]{8}$")


def is_generated_id(text: str) -> bool:
    return bool(_ID.match(text))
