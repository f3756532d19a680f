"""Tier 2: a hot block as one Python function with its instructions' code inlined.

Tier 1 runs a block by calling one closure per instruction, and each closure
calls its operand closures (`rm_get`, `address`...) and the `alu.py` functions:
on CPython most of the time goes into those calls.  Tier 2 takes the same
closures and writes their bodies into one function per block, and the bodies
of the functions they call into those, recursively (free variables and globals
become constants of the generated code): the semantics stay written once, in
tier 1's closures, and a translated block does exactly what its closures do.

What is inlined: a function whose source can be read, without nested
definitions, `global`/`nonlocal`, generators or comprehensions, and whose
`return`s stand in its top-level statements or in `if` branches (a `return`
inside a loop or `try` keeps the function a call).  Early returns are lowered
by moving the statements that follow an `if` into both of its branches.  A
call is inlined only where moving it before the rest of its statement keeps
the order of evaluation: the parts of the expression evaluated before it are
first saved in temporaries; `x = a or f()` and `if a and f():` become `if`s
first, and calls in other `and`/`or`s, conditional expressions and chained
comparisons stay calls.  `if` tests that became constants are folded, so the
specialisation the decoder made at run time (operand size, register numbers,
the ALU kind) becomes straight code.  Then the registers and the segment
caches' entries with a constant index, the lazy-flag record and the stack size
become locals of the block function (`_Promoter`), constants propagate from
one instruction to the next (`_propagate`), a value computed again reads the
local that holds it (`_forward`: copies, common subexpressions, the low half of
a register that a 16-bit write just wrote), values nothing reads are dropped
(`_eliminate_dead`) and stores that only slow paths read move into them
(`_Sinker`).  On CPython, which runs every statement, each of these passes
saves interpreter instructions on the fast paths; PyPy's JIT does most of it
itself, so under PyPy only the blocks that loop get the passes after constant
propagation (`OPTIMISE_EVERY_BLOCK`): for the others they cost more
translation time than they save.

The block function keeps the runner's contracts (`blockrun.py`): `clock.icount`
counts the instruction being run wherever something can observe it (it is
stored at the sync points, the only places that can, and at the end), `cpu.eip` is the
faulting instruction's EIP when a `CPUFault` propagates (EIP is assigned only
when an instruction completes), and followed jumps check the block's `alive`
flag.  Blocks are translated after `threshold` runs (`CPU._decode` gives them a
counting runner first); the translated function replaces the runner in the
cache entry, so every invalidation that drops a block drops its translation.
"""

import ast
import inspect
import itertools
import operator
import platform
import re
import struct
import textwrap
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from .blockrun import FOLLOWED, block_pattern
from .state import KEEPS_CPU_STATE, CPUFault, LoopExit

#: Runs of a block before it is translated.  A translation costs 15-25 ms on
#: CPython, what tier 2 saves in some 10,000-30,000 runs of a block, so only
#: blocks that run often repay it (FreeDOS to its prompt: 89 blocks translated at
#: 2,000 made the boot slower, 13 at 20,000 leave it as fast as tier 1).  Under
#: PyPy each translation is also a code object for the JIT to trace: only the
#: blocks of tight loops repay it (docs/performance.md).
DEFAULT_THRESHOLD = 20000 if platform.python_implementation() == "CPython" else 100000
#: How deep calls inside inlined code are inlined in turn.
MAX_DEPTH = 5
#: Functions called from inlined code with more statements than this stay
#: calls (slow paths, helpers), by the depth of the call: the instruction's own
#: operand and ALU functions may be longer (their `if`s on constants fold away).
MAX_STATEMENTS = (200, 80, 16, 16, 16, 16, 16)
RESULT = "__result__"
_OPAQUE = (ast.BoolOp, ast.IfExp, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
           ast.GeneratorExp, ast.Starred, ast.JoinedStr, ast.NamedExpr)
_REJECT = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Global,
           ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Await, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp, ast.NamedExpr)


class _Definition:
    """A function's parsed body with its returns lowered to `__result__ = value`."""

    def __init__(self, body: List[ast.stmt], params: List[str], assigned: Set[str],
                 single: Set[str], always_returns: bool, size: int) -> None:
        self.body = body
        self.params = params
        self.assigned = assigned
        #: locals assigned by exactly one statement (constants when its value is)
        self.single = single
        self.always_returns = always_returns
        self.size = size
        #: every name the body uses
        self.names = {node.id for stmt in body for node in _walk(stmt) if isinstance(node, ast.Name)}


_DEFINITIONS: Dict[CodeType, Optional[_Definition]] = {}


def _walk(node: ast.AST) -> List[ast.AST]:
    """`node` and every node under it, in `ast.walk`'s order: a list built in one
    loop, without `ast.walk`'s three generator layers (a translation walks its
    statements thousands of times: this halves its cost)."""
    nodes = [node]
    for current in nodes:
        for field in current._fields:
            value = getattr(current, field, None)
            if type(value) is list:
                nodes.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST) and field != "ctx":
                nodes.append(value)
    return nodes


def _contains_return(node: ast.AST) -> bool:
    return any(isinstance(child, ast.Return) for child in _walk(node))


def _terminates(stmts: List[ast.stmt]) -> bool:
    """Every path through `stmts` ends in a return or raise."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return _terminates(last.body) and _terminates(last.orelse)
    return False


def _lower(stmts: List[ast.stmt]) -> List[ast.stmt]:
    """`stmts` with each `return X` as `__result__ = X` and nothing after it: the
    statements after an `if` that returns are copied into both branches."""
    out: List[ast.stmt] = []
    for index, stmt in enumerate(stmts):
        if isinstance(stmt, ast.Return):
            value = stmt.value if stmt.value is not None else ast.Constant(value=None)
            out.append(ast.Assign(targets=[ast.Name(id=RESULT, ctx=ast.Store())], value=value))
            return out
        if isinstance(stmt, ast.Raise):
            out.append(stmt)
            return out
        if isinstance(stmt, ast.If) and _contains_return(stmt):
            rest = stmts[index + 1:]
            if _terminates(stmt.body):
                body = _lower(stmt.body)
                orelse = _lower(stmt.orelse + rest)
            else:
                # The rest runs on paths of both branches: a fallback after a fast
                # path that returns early.  Its calls stay calls (no code doubling).
                body = _lower(stmt.body + _cold(_clone(rest)))
                orelse = _lower(stmt.orelse + _cold(_clone(rest)))
            out.append(ast.If(test=stmt.test, body=body or [ast.Pass()], orelse=orelse))
            return out
        out.append(stmt)
    return out


def _cold(stmts: List[ast.stmt]) -> List[ast.stmt]:
    """Mark the calls in `stmts` as not to be inlined."""
    for stmt in stmts:
        for node in _walk(stmt):
            if isinstance(node, ast.Call):
                node.cold = True
    return stmts


def _returns_only_in_ifs(stmts: List[ast.stmt]) -> bool:
    for stmt in stmts:
        if isinstance(stmt, ast.If):
            if not (_returns_only_in_ifs(stmt.body) and _returns_only_in_ifs(stmt.orelse)):
                return False
        elif not isinstance(stmt, ast.Return) and _contains_return(stmt):
            return False
    return True


def _parse_function(code: CodeType) -> Optional[ast.FunctionDef]:
    """The `def` of a code object; a lambda as a `def` returning its expression
    (when it is the only lambda with these parameters on its line)."""
    try:
        lines, start = inspect.findsource(code)
    except (OSError, TypeError):
        return None
    if code.co_name != "<lambda>":
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(code)))
        except (OSError, TypeError, SyntaxError):
            return None
        return tree.body[0] if tree.body and isinstance(tree.body[0], ast.FunctionDef) else None
    line = lines[code.co_firstlineno - 1].strip()
    for prefix in ("return ", ""):
        if line.startswith(prefix):
            try:
                tree = ast.parse(line[len(prefix):])
                break
            except SyntaxError:
                continue
    else:
        return None
    params = list(code.co_varnames[:code.co_argcount])
    found = [node for node in _walk(tree) if isinstance(node, ast.Lambda) and
             [arg.arg for arg in node.args.args] == params]
    if len(found) != 1 or found[0].args.defaults:
        return None
    function = ast.parse("def f(%s): pass" % ", ".join(params)).body[0]
    function.name = code.co_name
    function.body = [ast.Return(value=found[0].body)]
    return function


def definition(code: CodeType) -> Optional[_Definition]:
    """The inlinable definition of a code object, or None (kept as a call)."""
    if code in _DEFINITIONS:
        return _DEFINITIONS[code]
    result = None
    fdef = _parse_function(code)
    if isinstance(fdef, ast.FunctionDef) and fdef.name == code.co_name and \
            not fdef.decorator_list and not fdef.args.vararg and not fdef.args.kwarg and \
            not fdef.args.kwonlyargs and not fdef.args.posonlyargs and \
            not any(isinstance(node, _REJECT) for stmt in fdef.body for node in _walk(stmt)) \
            and _returns_only_in_ifs(fdef.body):
        size = sum(1 for stmt in fdef.body for node in _walk(stmt) if isinstance(node, ast.stmt))
        params = [arg.arg for arg in fdef.args.args]
        stores = [node.id for stmt in fdef.body for node in _walk(stmt)
                  if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)]
        single = {name for name in stores if stores.count(name) == 1 and name not in params}
        body = [stmt for stmt in fdef.body         # without the docstring
                if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]
        result = _Definition(_lower(body), params, set(stores), single,
                             _terminates(fdef.body), size)
    _DEFINITIONS[code] = result
    return result


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
           ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
           ast.BitXor: operator.xor, ast.BitAnd: operator.and_}
_UNARY = {ast.Invert: operator.invert, ast.Not: operator.not_, ast.USub: operator.neg,
          ast.UAdd: operator.pos}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_,
            ast.IsNot: operator.is_not}


class _NotConstant(Exception):
    """The expression depends on something only known when it runs."""


def _evaluate(node: ast.expr) -> Any:
    """The value of an expression made of int/bool/None constants, operators,
    `bool()` and conditional expressions; raises _NotConstant otherwise."""
    kind = type(node)
    if kind is ast.Constant:
        if node.value is None or type(node.value) in (int, bool):
            return node.value
    elif kind is ast.BinOp and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if type(node.op) is ast.LShift and right > 64 or type(node.op) is ast.Pow:
            raise _NotConstant()        # keep huge numbers out of the code
        try:
            return _BINARY[type(node.op)](left, right)
        except (ArithmeticError, TypeError, ValueError):
            raise _NotConstant()
    elif kind is ast.UnaryOp:
        try:
            return _UNARY[type(node.op)](_evaluate(node.operand))
        except TypeError:
            raise _NotConstant()
    elif kind is ast.Compare and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        try:
            return _COMPARE[type(node.ops[0])](_evaluate(node.left), _evaluate(node.comparators[0]))
        except TypeError:
            raise _NotConstant()
    elif kind is ast.BoolOp:
        is_and = type(node.op) is ast.And
        for value in node.values:      # short-circuits as Python does
            result = _evaluate(value)
            if bool(result) != is_and:
                return result
        return result
    elif kind is ast.Call and isinstance(node.func, ast.Name) and node.func.id == "bool" and \
            len(node.args) == 1 and not node.keywords:
        return bool(_evaluate(node.args[0]))
    elif kind is ast.IfExp:
        return _evaluate(node.body) if _evaluate(node.test) else _evaluate(node.orelse)
    raise _NotConstant()


def _constant(node: ast.expr) -> Tuple[bool, Any]:
    """(True, value) when `node` is a constant expression (`_evaluate`)."""
    try:
        return True, _evaluate(node)
    except _NotConstant:
        return False, None


_LEAVES = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def _clone(node: Any, mapping: Optional[Dict[str, ast.expr]] = None) -> Any:
    """A deep copy of an AST (several times faster than `copy.deepcopy`), with the
    names in `mapping` replaced: by a copy of the expression, or (a Name) renamed
    wherever it stands."""
    if isinstance(node, list):
        return [_clone(item, mapping) for item in node]
    if not isinstance(node, ast.AST) or isinstance(node, _LEAVES):
        return node         # plain values and the operator singletons, never changed
    if mapping and type(node) is ast.Name:
        new_value = mapping.get(node.id)
        if new_value is not None:
            if type(new_value) is ast.Name:
                return ast.Name(id=new_value.id, ctx=node.ctx)
            return _clone(new_value)
    # every field passed to the constructor (Python 3.13 warns about missing ones)
    new = node.__class__(**{field: _clone(getattr(node, field, None), mapping)
                            for field in node._fields})
    if getattr(node, "cold", False):
        new.cold = True
    return new


#: Attributes of the CPU that hold the same list for as long as decoded code
#: lives (a snapshot restore replaces them and flushes the code cache): the
#: block function's namespace has them under these names.
CPU_LISTS = ("regs", "seg_base", "seg_limit", "seg_wlimit", "seg_rlimit", "seg_flags")
#: The descriptor-cache lists among them: an element with a constant index is a
#: promoted location of a block function (`_Promoter`), like a register.
SEGMENT_LISTS = CPU_LISTS[1:]
#: The CPU's memory accessors: instance attributes, but replaced only by
#: `CPU.rebuild`, which flushes the decode cache (and with it every translation).
CPU_ACCESSORS = ("rd8", "rd16", "rd32", "wr8", "wr16", "wr32")


def _instantiate(stmts: List[ast.stmt], mapping: Dict[str, ast.expr]) -> List[ast.stmt]:
    """`_clone` of a function body, leaving out the branches of `if`s whose test
    is constant once the names are replaced (most of a general function's body:
    the ALU kind, the condition code, the operand size are constants here)."""
    out: List[ast.stmt] = []
    for stmt in stmts:
        if type(stmt) is ast.If:
            test = _fold(_clone(stmt.test, mapping))
            known, value = _constant(test)
            if known:
                out.extend(_instantiate(stmt.body if value else stmt.orelse, mapping))
            else:
                out.append(ast.If(test=test, body=_instantiate(stmt.body, mapping),
                                  orelse=_instantiate(stmt.orelse, mapping)))
        else:
            out.append(_clone(stmt, mapping))
    return out


_MODULAR = (ast.Add, ast.Sub, ast.Mult, ast.BitAnd, ast.BitOr, ast.BitXor)
#: Simplify masks' operands (`_modulo`) on CPython only: PyPy's JIT learns from an
#: inner mask that a sum fits a machine word and drops its overflow check (the
#: protected bench loop ran some 15 % slower without them).
SIMPLIFY_MASKS = platform.python_implementation() == "CPython"


def _low_mask(node: ast.expr) -> int:
    """n when `node` is the constant n = 2**k - 1 (k >= 1), else 0."""
    if type(node) is ast.Constant and type(node.value) is int and node.value > 0 and \
            not node.value & (node.value + 1):
        return node.value
    return 0


def _is_int(node: ast.expr, value: Optional[int] = None) -> bool:
    return type(node) is ast.Constant and type(node.value) is int and (value is None or node.value == value)


def _modulo(node: ast.expr, mask: int) -> ast.expr:
    """`node` as the operand of `& mask` (mask + 1 a power of two): only its low
    bits matter, and those of sums, differences, products and bitwise
    combinations depend only on the operands' low bits.  So an inner mask at
    least as wide goes (`(x & 0xFFFFFFFF) + 1 & 0xFFFFFFFF`), `1 * x`, `x + 0`,
    `x - 0` are x, and `x + c1 + c2` adds the constants once.  Ints and bools
    alone can stand under `&` (a float would have raised), and the mask makes
    the result an int whatever the operands were."""
    while type(node) is ast.BinOp:
        kind = type(node.op)
        if kind is ast.BitAnd and _low_mask(node.right) & mask == mask:
            node = node.left
        elif kind is ast.Mult and (_is_int(node.left, 1) or _is_int(node.right, 1)):
            node = node.right if _is_int(node.left, 1) else node.left
        elif kind is ast.Add and (_is_int(node.left, 0) or _is_int(node.right, 0)):
            node = node.right if _is_int(node.left, 0) else node.left
        elif kind is ast.Sub and _is_int(node.right, 0):
            node = node.left
        else:
            break
    if type(node) is not ast.BinOp or type(node.op) not in _MODULAR:
        return node
    left, right = _modulo(node.left, mask), _modulo(node.right, mask)
    if type(node.op) is ast.Add and _is_int(right) and type(left) is ast.BinOp and \
            type(left.op) is ast.Add and _is_int(left.right):
        left, right = left.left, ast.Constant(value=left.right.value + right.value)
    if left is node.left and right is node.right:
        return node
    return ast.BinOp(left=left, op=node.op, right=right)


def _simplify_mask(node: ast.expr) -> ast.expr:
    """`operand & (2**k - 1)` with its operand simplified (`_modulo`); any other
    expression as it is."""
    if type(node) is ast.BinOp and type(node.op) is ast.BitAnd:
        mask = _low_mask(node.right)
        operand = _modulo(node.left, mask) if mask else node.left
        if operand is not node.left:
            return ast.BinOp(left=operand, op=node.op, right=node.right)
    return node


def _fold(node: ast.expr) -> ast.expr:
    """`node` with its constant subexpressions replaced by their values (and
    `cpu.regs` by the name of the list); on CPython the operand of a mask is
    simplified (`_simplify_mask`)."""
    kind = type(node)
    if kind is ast.Constant or kind is ast.Name:
        return node
    if kind is ast.Attribute and type(node.value) is ast.Name and node.value.id == "cpu" and \
            node.attr in CPU_LISTS and type(node.ctx) is ast.Load:
        return ast.Name(id=node.attr, ctx=ast.Load())
    if kind in (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
        return node
    _expressions(node, _fold)
    if kind in (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Call):
        known, value = _constant(node)
        if known and (value is None or type(value) in (int, bool)):
            return ast.Constant(value=value)
        if SIMPLIFY_MASKS and kind is ast.BinOp:
            return _simplify_mask(node)
    elif kind is ast.IfExp:
        known, value = _constant(node.test)
        if known:
            return node.body if value else node.orelse
    return node


def _locate(module: Any, done: Optional[Set[int]] = None) -> Any:
    """Give every node the line attributes `compile` needs (all on line 1: the
    code has no source file); statements whose id is in `done` already have them."""
    stack: List[Any] = [module]
    while stack:
        node = stack.pop()
        if done and id(node) in done:
            continue
        if "lineno" in node._attributes:
            node.lineno = node.end_lineno = 1
            node.col_offset = node.end_col_offset = 0
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                stack.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST) and not isinstance(value, _LEAVES):
                stack.append(value)
    return module


def _expressions(node: ast.AST, transform: Callable[[ast.expr], ast.expr]) -> None:
    """Apply `transform` to the expressions directly under `node`, not to the
    statements nested in it (they are transformed when their turn comes)."""
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.expr):
            setattr(node, field, transform(value))
        elif isinstance(value, list) and value and isinstance(value[0], ast.expr):
            setattr(node, field, [transform(item) for item in value])


class Translator:
    """Writes one block function: the inlined statements and the namespace of the
    objects they refer to."""

    def __init__(self, namespace: Dict[str, Any]) -> None:
        self.namespace = namespace
        self.names: Dict[int, str] = {}
        self.counter = itertools.count()
        #: renamed locals assigned once, and those whose value is a known constant
        self.single: Set[str] = set()
        self.known: Dict[str, ast.expr] = {}

    # -------------------------------------------------------------- names
    def constant(self, value: Any, hint: str) -> ast.expr:
        """An expression for an object: ints, bools and None as literals, anything
        else a name in the function's namespace (one name per object)."""
        if value is None or type(value) in (int, bool):
            return ast.Constant(value=value)
        name = self.names.get(id(value))
        if name is None:
            name = "k%d_%s" % (len(self.names), hint)
            self.names[id(value)] = name
            self.namespace[name] = value
        return ast.Name(id=name, ctx=ast.Load())

    def fresh(self, hint: str) -> str:
        name = "t%d_%s" % (next(self.counter), hint)
        return name

    # -------------------------------------------------------------- functions
    def target(self, call: ast.Call, depth: int) -> Any:
        """The Python function (or bound method) a call in generated code calls,
        when it is a constant of the namespace and can be inlined."""
        if call.keywords or getattr(call, "cold", False) or \
                any(isinstance(arg, ast.Starred) for arg in call.args):
            return None
        func = call.func
        if type(func) is ast.Name:
            fn = self.namespace.get(func.id)
        elif type(func) is ast.Attribute and type(func.value) is ast.Name and \
                func.value.id in self.namespace:
            owner = self.namespace[func.value.id]
            if type(owner) is ModuleType:
                fn = getattr(owner, func.attr, None)        # alu.get_zf(...)
            elif func.attr not in getattr(owner, "__dict__", {}) or \
                    func.value.id == "cpu" and func.attr in CPU_ACCESSORS:
                fn = getattr(owner, func.attr, None)        # cpu.push32(...): a class's method
            else:
                return None         # an instance attribute may be replaced at run time
        else:
            return None
        callee = fn
        bound = 0
        if type(fn) is MethodType:
            bound = 1
            fn = fn.__func__
        if type(fn) is not FunctionType:
            return None
        found = definition(fn.__code__)
        if found is None or found.size > MAX_STATEMENTS[depth]:
            return None
        defaults = fn.__defaults__ or ()
        if not len(found.params) - len(defaults) <= len(call.args) + bound <= len(found.params):
            return None
        return callee

    def body_of(self, fn: FunctionType, args: List[ast.expr], result: Optional[str],
                depth: int) -> List[ast.stmt]:
        """The statements of `fn(*args)` with its result assigned to `result`."""
        found = definition(fn.__code__)
        assert found is not None
        code = fn.__code__
        prefix = "i%d" % next(self.counter)
        mapping: Dict[str, ast.expr] = {}
        cells = fn.__closure__ or ()
        for name, cell in zip(code.co_freevars, cells):
            mapping[name] = self.constant(cell.cell_contents, name)
        prologue: List[ast.stmt] = []
        defaults = list(fn.__defaults__ or ())
        values = list(args) + [self.constant(value, "default")
                               for value in defaults[len(defaults) - (len(found.params) - len(args)):]]
        for name, value in zip(found.params, values):
            if name not in found.assigned and isinstance(value, (ast.Constant, ast.Name)):
                mapping[name] = value
            else:
                local = "%s_%s" % (prefix, name)
                prologue.append(ast.Assign(targets=[ast.Name(id=local, ctx=ast.Store())], value=value))
                mapping[name] = ast.Name(id=local, ctx=ast.Load())
        for name in found.assigned:
            if name not in mapping:
                local = "%s_%s" % (prefix, name)
                mapping[name] = ast.Name(id=local, ctx=ast.Load())
                if name in found.single:
                    self.single.add(local)
        if result is None:
            result = "%s_%s" % (prefix, RESULT)
        # Assigned on each return path, possibly with different constants.
        self.single.discard(result)
        mapping[RESULT] = ast.Name(id=result, ctx=ast.Load())
        fn_globals = fn.__globals__
        builtins = fn_globals.get("__builtins__")
        for name in found.names:
            if name not in mapping:
                if name in fn_globals:
                    mapping[name] = self.constant(fn_globals[name], name)
                elif not (isinstance(builtins, dict) and name in builtins
                          or hasattr(builtins, name)):
                    raise _NotInlinable(name)
        body = _instantiate(found.body, mapping)
        return self.statements(prologue + body, depth + 1)

    def inline_call(self, call: ast.Call, fn: Any, pre: List[ast.stmt],
                    result: Optional[str], depth: int) -> Optional[ast.Call]:
        """Append the inlined body of `call` (its arguments evaluated first) to
        `pre`; None, or the call itself when its body cannot be inlined."""
        args = self.sequence(call.args, pre, depth)
        try:
            if type(fn) is MethodType:
                pre.extend(self.body_of(fn.__func__, [self.constant(fn.__self__, "self")] + args,
                                        result, depth))
            else:
                pre.extend(self.body_of(fn, args, result, depth))
        except _NotInlinable:
            call.args = args
            return call
        return None

    # -------------------------------------------------------------- statements
    def statements(self, stmts: List[ast.stmt], depth: int) -> List[ast.stmt]:
        """`stmts` with the calls that can be inlined inlined and constant `if`s folded."""
        out: List[ast.stmt] = []
        for stmt in stmts:
            out.extend(self.statement(stmt, depth))
        return out

    def statement(self, stmt: ast.stmt, depth: int) -> List[ast.stmt]:
        if self.known:
            known = self.known
            _expressions(stmt, lambda node: _replace_names(node, known))
        _expressions(stmt, _fold)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id in self.single:
            if type(stmt.value) is ast.Name and stmt.value.id in self.namespace:
                self.known[stmt.targets[0].id] = stmt.value      # regs = self.regs
                return []
            known, value = _constant(stmt.value)
            if known and (value is None or type(value) in (int, bool)):
                self.known[stmt.targets[0].id] = ast.Constant(value=value)
                return []
        if isinstance(stmt, ast.If):
            known, value = _constant(stmt.test)
            if known:
                return self.statements(stmt.body if value else stmt.orelse, depth)
            if isinstance(stmt.test, ast.BoolOp) and \
                    any(isinstance(node, ast.Call) for node in _walk(stmt.test)):
                # if a and f(x): ...  ->  t = a and f(x) (lowered below); if t: ...
                name = self.fresh("test")
                stmt.test, test = ast.Name(id=name, ctx=ast.Load()), stmt.test
                return self.statements([_assign(name, test), stmt], depth)
            pre: List[ast.stmt] = []
            test = self.expression(stmt.test, pre, depth)
            return pre + [ast.If(test=test, body=self.statements(stmt.body, depth) or [ast.Pass()],
                                 orelse=self.statements(stmt.orelse, depth))]
        if depth > MAX_DEPTH:
            return [stmt]
        pre: List[ast.stmt] = []
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            fn = self.target(stmt.value, depth)
            if fn is not None:
                value = self.inline_call(stmt.value, fn, pre, None, depth)
                return pre if value is None else pre + [ast.Expr(value=value)]
            stmt.value = self.expression(stmt.value, pre, depth)
            return pre + [stmt]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.BoolOp):
            # x = a or b  ->  t = a; if not t: t = b  (and: if t); x = t, so calls
            # inline (through a temporary: b may read x)
            name = self.fresh("bool")
            values = stmt.value.values
            rest = values[1] if len(values) == 2 else ast.BoolOp(op=stmt.value.op, values=values[1:])
            test: ast.expr = ast.Name(id=name, ctx=ast.Load())
            if isinstance(stmt.value.op, ast.Or):
                test = ast.UnaryOp(op=ast.Not(), operand=test)
            return self.statements([_assign(name, values[0]),
                                    ast.If(test=test, body=[_assign(name, rest)], orelse=[]),
                                    ast.Assign(targets=stmt.targets,
                                               value=ast.Name(id=name, ctx=ast.Load()))], depth)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                not self.hoists(stmt.targets[0], depth):
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and isinstance(stmt.value, ast.Call):
                fn = self.target(stmt.value, depth)
                if fn is not None:
                    value = self.inline_call(stmt.value, fn, pre, target.id, depth)
                    if value is None:
                        return pre
                    stmt.value = value
                    return pre + [stmt]
            stmt.value = self.expression(stmt.value, pre, depth)
            return pre + [stmt]
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            stmt.value = self.expression(stmt.value, pre, depth)
            return pre + [stmt]
        if isinstance(stmt, (ast.For, ast.While)):
            stmt.body = self.statements(stmt.body, depth) or [ast.Pass()]
            stmt.orelse = self.statements(stmt.orelse, depth)
        return [stmt]

    # -------------------------------------------------------------- expressions
    def hoists(self, node: ast.AST, depth: int) -> bool:
        """`node` holds a call that `expression` would inline."""
        if isinstance(node, _OPAQUE):
            return False
        if isinstance(node, ast.Compare) and len(node.comparators) > 1:
            return False
        if isinstance(node, ast.Call) and self.target(node, depth) is not None:
            return True
        return any(self.hoists(child, depth) for child in self.children(node))

    @staticmethod
    def children(node: ast.AST) -> List[ast.expr]:
        """The subexpressions of `node` in Python's order of evaluation."""
        if isinstance(node, ast.BinOp):
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp):
            return [node.operand]
        if isinstance(node, ast.Compare):
            return [node.left] + list(node.comparators)
        if isinstance(node, ast.Call):
            return [node.func] + list(node.args) + [kw.value for kw in node.keywords]
        if isinstance(node, ast.Attribute):
            return [node.value]
        if isinstance(node, ast.Subscript):
            return [node.value, node.slice]
        if isinstance(node, (ast.Tuple, ast.List)):
            return list(node.elts)
        return []

    def sequence(self, nodes: List[ast.expr], pre: List[ast.stmt], depth: int) -> List[ast.expr]:
        """Expressions evaluated left to right: one evaluated before a later one
        that inlines a call is saved in a temporary first (unless it is a name or
        a constant, which the inlined code cannot change)."""
        out = []
        for index, node in enumerate(nodes):
            node = self.expression(node, pre, depth)
            if not isinstance(node, (ast.Constant, ast.Name)) and \
                    any(self.hoists(later, depth) for later in nodes[index + 1:]):
                name = self.fresh("v")
                pre.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=node))
                node = ast.Name(id=name, ctx=ast.Load())
            out.append(node)
        return out

    def expression(self, node: ast.expr, pre: List[ast.stmt], depth: int) -> ast.expr:
        if depth > MAX_DEPTH or not self.hoists(node, depth):
            return node
        if isinstance(node, ast.Call):
            fn = self.target(node, depth)
            if fn is not None:
                name = self.fresh("r")
                value = self.inline_call(node, fn, pre, name, depth)
                return ast.Name(id=name, ctx=ast.Load()) if value is None else value
            parts = self.sequence([node.func] + list(node.args), pre, depth)
            node.func, node.args = parts[0], parts[1:]
            return node
        if isinstance(node, ast.BinOp):
            node.left, node.right = self.sequence([node.left, node.right], pre, depth)
        elif isinstance(node, ast.UnaryOp):
            node.operand = self.expression(node.operand, pre, depth)
        elif isinstance(node, ast.Compare):
            node.left, node.comparators[0] = self.sequence([node.left, node.comparators[0]], pre, depth)
        elif isinstance(node, ast.Attribute):
            node.value = self.expression(node.value, pre, depth)
        elif isinstance(node, ast.Subscript):
            node.value, node.slice = self.sequence([node.value, node.slice], pre, depth)
        elif isinstance(node, (ast.Tuple, ast.List)):
            node.elts = self.sequence(list(node.elts), pre, depth)
        return node

    # -------------------------------------------------------------- instructions
    def instruction(self, fn: Callable[[int], int]) -> Optional[List[ast.stmt]]:
        """An instruction closure as statements that end with `eip = next EIP`,
        or None when it must stay a call."""
        if type(fn) is not FunctionType:
            return None
        found = definition(fn.__code__)
        if found is None or len(found.params) != 1 or not found.always_returns:
            return None
        try:
            return self.body_of(fn, [ast.Name(id="eip", ctx=ast.Load())], "eip", 0)
        except _NotInlinable:
            return None


class _NotInlinable(Exception):
    """A name in a function's body resolves to nothing the translator knows."""


#: `struct.Struct` methods a block function calls without a sync point.
STRUCT_METHODS = ("unpack_from", "pack_into", "unpack", "pack")
#: The lazy-flag record: kept in locals of a block function between syncs.
LAZY_FIELDS = ("lf_op", "lf_a", "lf_b", "lf_res", "lf_mask")
#: CPU attributes kept in locals of a block function between syncs: the lazy
#: flags, and the stack size that every PUSH, POP, CALL and RET tests.
PROMOTED_ATTRIBUTES = LAZY_FIELDS + ("stack32",)


class _Promoter:
    """Keeps the CPU's registers (`regs[n]` with a constant n) and lazy-flag record
    in locals of the block function: loaded at its start, stored at its end.

    A statement that calls anything but a few builtins (dict `get`, the RAM's
    struct accessors, `bool`...), or uses the register list in any other way,
    is a *sync point*: the locals the block changed are stored before it and
    all are loaded again after it, and it runs on the real state.  An exception
    stores the locals unless it came from a sync point (the state is then the
    real one, possibly changed by the call)."""

    def __init__(self, cpu, namespace: Dict[str, Any], cpu_name: str, regs_name: str) -> None:
        self.cpu_type = type(cpu)
        self.namespace = namespace
        self.cpu_name = cpu_name
        self.regs_name = regs_name
        self.used: Dict[str, ast.expr] = {}        # local -> the location it stands for
        self.assigned: Set[str] = set()

    # -------------------------------------------------------------- analysis
    def location(self, node: ast.AST) -> Optional[str]:
        """The local standing for `node`, when it is a promoted location."""
        if type(node) is ast.Subscript and type(node.value) is ast.Name and \
                type(node.slice) is ast.Constant and type(node.slice.value) is int:
            name, index = node.value.id, node.slice.value
            if name == self.regs_name and 0 <= index < 8:
                return "reg%d" % index
            if name in SEGMENT_LISTS and 0 <= index < 6:
                return "%s%d" % (name, index)
        if type(node) is ast.Attribute and type(node.value) is ast.Name and \
                node.value.id == self.cpu_name and node.attr in PROMOTED_ATTRIBUTES:
            return node.attr
        return None

    def safe_call(self, call: ast.Call) -> bool:
        func = call.func
        if type(func) is ast.Name:
            if func.id in ("bool", "int", "len", "min", "max", "abs") and func.id not in self.namespace:
                return True
            target = self.namespace.get(func.id)
            # A `struct.Struct` method (a builtin method on CPython, a plain
            # method object on PyPy): it touches only the buffer it is given.
            return isinstance(getattr(target, "__self__", None), struct.Struct) and \
                getattr(target, "__name__", "") in STRUCT_METHODS
        if type(func) is ast.Attribute and func.attr == "get" and type(func.value) is ast.Name:
            return type(self.namespace.get(func.value.id)) is dict
        return False

    def unsafe_statement(self, stmt: ast.stmt) -> bool:
        """`stmt` may reach state behind the locals' back (a sync point)."""
        for node in _walk(stmt):
            if self.location(node) is not None:
                continue
            kind = type(node)
            if kind is ast.Call and not self.safe_call(node):
                return True
            if kind is ast.Name and (node.id == self.regs_name or node.id in SEGMENT_LISTS) and \
                    not self.regs_subscripted(stmt, node):
                return True
            if kind in (ast.Subscript, ast.Attribute) and type(node.value) is ast.Name and \
                    node.value.id not in self.namespace:
                return True         # a local holding some object: it might be the state
            if kind is ast.Attribute and (node.attr in ("icount", "clock") or
                                          type(node.value) is ast.Name and node.value.id == "clock"):
                return True         # the clock: `clock.icount` is stored at sync points only
            if kind is ast.Attribute and type(node.value) is ast.Name and \
                    node.value.id == self.cpu_name and node.attr not in PROMOTED_ATTRIBUTES and \
                    (node.attr in CPU_LISTS or
                     isinstance(getattr(self.cpu_type, node.attr, None), property)):
                return True
        return False

    def regs_subscripted(self, stmt: ast.stmt, name: ast.Name) -> bool:
        """`name` (the register list or a segment list) stands in a promoted
        location (`regs[n]`, `seg_base[n]`...)."""
        for node in _walk(stmt):
            if type(node) is ast.Subscript and node.value is name:
                return self.location(node) is not None
        return False

    # -------------------------------------------------------------- rewriting
    def rewrite(self, node: Any) -> Any:
        """`node` with promoted locations as their locals."""
        if isinstance(node, list):
            return [self.rewrite(item) for item in node]
        if not isinstance(node, ast.AST) or isinstance(node, _LEAVES):
            return node
        local = self.location(node)
        if local is not None:
            self.used[local] = node
            if not isinstance(node.ctx, ast.Load):
                self.assigned.add(local)
            return ast.Name(id=local, ctx=node.ctx)
        if type(node) is ast.Call:
            node.safe = True            # not a sync point: cannot fault (`_facts`)
        for field in node._fields:
            setattr(node, field, self.rewrite(getattr(node, field, None)))
        return node

    def statements(self, stmts: List[ast.stmt]) -> List[ast.stmt]:
        out: List[ast.stmt] = []
        for stmt in stmts:
            if type(stmt) is ast.If:
                if self.unsafe_statement(ast.Expr(value=stmt.test)):
                    out.extend(self.sync_around(ast.Assign(
                        targets=[ast.Name(id="sync_test", ctx=ast.Store())], value=stmt.test)))
                    stmt.test = ast.Name(id="sync_test", ctx=ast.Load())
                else:
                    stmt.test = self.rewrite(stmt.test)
                stmt.body = self.statements(stmt.body) or [ast.Pass()]
                stmt.orelse = self.statements(stmt.orelse)
                out.append(stmt)
            elif type(stmt) in (ast.For, ast.While, ast.Try, ast.With, ast.Raise) or \
                    self.unsafe_statement(stmt):
                out.extend(self.sync_around(stmt))
            else:
                out.append(self.rewrite(stmt))
        return out

    def sync_around(self, stmt: ast.stmt) -> List[ast.stmt]:
        """`stmt` on the real state: markers the code generator fills in once the
        promoted locals are known (`finish`); nothing runs after a `raise`, and
        nothing needs loading again after calls that leave the CPU's state alone
        (`kept`: the memory accessors, `state.KEEPS_CPU_STATE`), so what the
        locals held stays known after them (constants, copies)."""
        if type(stmt) is ast.Raise:
            return [_Marker("store"), stmt]
        return [_Marker("store"), stmt, _Marker("kept" if self.keeps_state(stmt) else "load")]

    def keeps_state(self, stmt: ast.stmt) -> bool:
        """Every call in `stmt` is to a function that leaves the CPU's state alone,
        and the statement reaches the state no other way."""
        for node in _walk(stmt):
            if self.location(node) is not None:
                if type(node.ctx) is not ast.Load:
                    return False        # it assigns a promoted location on the real state
                continue
            kind = type(node)
            if kind is ast.Call and not self.safe_call(node):
                if not _call_keeps_state(node, self.namespace):
                    return False
            elif kind is ast.Name and (node.id == self.regs_name or node.id in SEGMENT_LISTS) and \
                    not self.regs_subscripted(stmt, node):
                return False
            elif kind in (ast.Subscript, ast.Attribute) and type(node.value) is ast.Name and \
                    node.value.id not in self.namespace:
                return False
        return True

    def finish(self, stmts: List[ast.stmt]) -> List[ast.stmt]:
        """Replace the markers by the stores and loads of the promoted locals: the
        same statement objects at every marker (`sync_stores`, `sync_loads`;
        nothing changes the tree after this, and `compile` does not mind shared
        nodes)."""
        self.sync_stores = self.stores() + [_assign("synced", ast.Constant(value=True))]
        self.sync_loads = self.loads() + [_assign("synced", ast.Constant(value=False))]
        self.sync_kept = self.sync_loads[-1:]
        self.count = 0
        return self._finish(stmts)

    def _finish(self, stmts: List[ast.stmt]) -> List[ast.stmt]:
        """(The count markers stand between instructions, so in the order of the
        walk each sync point follows its own instruction's.)"""
        out: List[ast.stmt] = []
        for stmt in stmts:
            if type(stmt) is _Marker:
                if stmt.kind == "count":
                    self.count = stmt.count
                elif stmt.kind == "store":
                    out.append(count_store(self.count))
                    out.extend(self.sync_stores)
                elif stmt.kind == "kept":
                    out.extend(self.sync_kept)
                else:
                    out.extend(self.sync_loads)
                continue
            if type(stmt) is ast.If:
                stmt.body = self._finish(stmt.body)
                stmt.orelse = self._finish(stmt.orelse)
            out.append(stmt)
        return out

    def loads(self) -> List[ast.stmt]:
        out = []
        for local, location in sorted(self.used.items()):
            value = _clone(location)
            value.ctx = ast.Load()
            out.append(_assign(local, value))
        return out

    def stores(self) -> List[ast.stmt]:
        out = []
        for local in sorted(self.assigned):
            target = _clone(self.used[local])
            target.ctx = ast.Store()
            out.append(ast.Assign(targets=[target], value=ast.Name(id=local, ctx=ast.Load())))
        return out


class _Marker(ast.stmt):
    """Where `_Promoter.finish` puts the stores or loads around a sync point
    ("store", "load"), or where an instruction begins ("count": the count of
    instructions begun so far, which the stores of its sync points include)."""
    _fields = ()

    def __init__(self, kind: str, count: int = 0) -> None:
        super().__init__()
        self.kind = kind
        self.count = count


def count_store(count: int) -> ast.stmt:
    """`clock.icount = icount + count`: the clock counting the instruction being
    run, for whatever can observe it."""
    return ast.Assign(
        targets=[ast.Attribute(value=ast.Name(id="clock", ctx=ast.Load()), attr="icount", ctx=ast.Store())],
        value=ast.BinOp(left=ast.Name(id="icount", ctx=ast.Load()), op=ast.Add(), right=ast.Constant(value=count)))


def _assign(name: str, value: ast.expr) -> ast.stmt:
    return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)


class _OneOf(frozenset):
    """The values a local may hold when it is not one constant (ADC's `lf_op = 2
    if carry else 1`): a test on it folds when it comes out the same for each,
    and `x == c` narrows it in both branches (the next instruction's lazy-flag
    chain of `if lf_op == ...` shrinks to the cases that can happen)."""


def _choices(value: Any) -> Optional[FrozenSet[int]]:
    """The integers a known value stands for, or None."""
    if type(value) is _OneOf:
        return value
    return frozenset([value]) if type(value) is int else None


def _one_of(values: FrozenSet[int]) -> Any:
    return next(iter(values)) if len(values) == 1 else _OneOf(values)


def _test_over_choices(test: ast.expr, env: Dict[str, Any]) -> Tuple[bool, Any]:
    """(True, value) when `test` has the same value for every value its one local
    with several possible values (`_OneOf`) may hold."""
    names = {node.id for node in _walk(test) if type(node) is ast.Name and
             type(env.get(node.id)) is _OneOf}
    if len(names) != 1:
        return False, None
    name = names.pop()
    results = set()
    for value in env[name]:
        known, result = _constant(_replace_names(_clone(test), {name: ast.Constant(value=value)}))
        if not known:
            return False, None
        results.add((type(result), result))
    if len(results) != 1:
        return False, None
    return True, results.pop()[1]


def _narrowed(test: ast.expr, env: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The environments of an `if`'s two branches: `x == c` (or `!=`) on a local
    with several possible values makes it `c` in one branch and the rest in the
    other."""
    body_env, else_env = dict(env), dict(env)
    if type(test) is ast.Compare and len(test.ops) == 1 and type(test.ops[0]) in (ast.Eq, ast.NotEq) \
            and type(test.left) is ast.Name and type(env.get(test.left.id)) is _OneOf and \
            type(test.comparators[0]) is ast.Constant and type(test.comparators[0].value) is int:
        name, value = test.left.id, test.comparators[0].value
        equal, unequal = (body_env, else_env) if type(test.ops[0]) is ast.Eq else (else_env, body_env)
        if value in env[name]:
            equal[name] = value
        unequal[name] = _one_of(env[name] - {value})
    return body_env, else_env


def _merged(body_env: Dict[str, Any], else_env: Dict[str, Any]) -> Dict[str, Any]:
    """What is known after an `if`: the values both branches agree on, and the
    integers either may have left."""
    env = {}
    for name, value in body_env.items():
        if name not in else_env:
            continue
        other = else_env[name]
        if other == value and type(other) is type(value):
            env[name] = value
        else:
            mine, theirs = _choices(value), _choices(other)
            if mine is not None and theirs is not None:
                env[name] = _one_of(mine | theirs)
    return env


def _propagate(stmts: List[ast.stmt], env: Dict[str, Any],
               promoted: Set[str]) -> Tuple[List[ast.stmt], Dict[str, Any]]:
    """Constant propagation through the block function's body: a local assigned a
    constant (`lf_op = 6` by one instruction) is that constant where the next
    instruction reads it, so its tests (which lazy record is this?) fold away.
    `env` maps locals to their known values (or `_OneOf` the values they may
    have); after an `if` only what both branches agree on is kept; loops and
    `try` forget what they assign."""
    out: List[ast.stmt] = []
    for stmt in stmts:
        kind = type(stmt)
        if kind is _Marker:
            if stmt.kind == "load":         # the promoted locals are reloaded: unknown
                for name in promoted:
                    env.pop(name, None)
            out.append(stmt)
            continue
        if kind is ast.If:
            stmt.test = _fold(_with_values(stmt.test, env))
            known, value = _constant(stmt.test)
            if not known:
                known, value = _test_over_choices(stmt.test, env)
            if known:
                taken, env = _propagate(stmt.body if value else stmt.orelse, env, promoted)
                out.extend(taken)
                continue
            body_env, else_env = _narrowed(stmt.test, env)
            stmt.body, body_env = _propagate(stmt.body, body_env, promoted)
            stmt.orelse, else_env = _propagate(stmt.orelse, else_env, promoted)
            stmt.body = stmt.body or [ast.Pass()]
            if _terminates(stmt.body):
                env = else_env
            elif _terminates(stmt.orelse):
                env = body_env
            else:
                env = _merged(body_env, else_env)
            out.append(stmt)
            continue
        if kind in (ast.For, ast.While, ast.Try, ast.With):
            for node in _walk(stmt):
                if type(node) is ast.Name and not isinstance(node.ctx, ast.Load):
                    env.pop(node.id, None)
            out.append(stmt)
            continue
        _expressions(stmt, lambda node: _fold(_with_values(node, env)))
        if kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
            name = stmt.targets[0].id
            value = stmt.value
            known, constant = _constant(value)
            if known and (constant is None or type(constant) in (int, bool)):
                env[name] = constant
            elif type(value) is ast.IfExp and type(value.body) is ast.Constant and \
                    type(value.orelse) is ast.Constant and type(value.body.value) is int and \
                    type(value.orelse.value) is int:
                env[name] = _one_of(frozenset([value.body.value, value.orelse.value]))
            elif type(value) is ast.Name and type(env.get(value.id)) is _OneOf:
                env[name] = env[value.id]
            else:
                env.pop(name, None)
        else:
            for node in _walk(stmt):
                if type(node) is ast.Name and not isinstance(node.ctx, ast.Load):
                    env.pop(node.id, None)
        out.append(stmt)
    return out, env


def _with_values(node: ast.expr, env: Dict[str, Any]) -> ast.expr:
    """`node` with the locals of known value replaced by their values (in place:
    every node of the generated body is its own)."""
    if not env:
        return node
    return _replace_names(node, {name: ast.Constant(value=value) for name, value in env.items()
                                 if type(value) is not _OneOf})


def _replace_names(node: Any, mapping: Dict[str, ast.expr]) -> Any:
    """`node` with the names loaded from `mapping` replaced, changed in place."""
    kind = type(node)
    if kind is ast.Name:
        new = mapping.get(node.id)
        if new is None or type(node.ctx) is not ast.Load:
            return node
        return ast.Name(id=new.id, ctx=node.ctx) if type(new) is ast.Name else ast.Constant(value=new.value)
    if kind is ast.Constant or isinstance(node, _LEAVES):
        return node
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            setattr(node, field, _replace_names(value, mapping))
        elif type(value) is list:
            value[:] = [_replace_names(item, mapping) if isinstance(item, ast.AST) else item
                        for item in value]
    return node


_DIVISIONS = (ast.Div, ast.FloorDiv, ast.Mod)
#: What `_facts` found about a node: (may raise, names it loads, names it stores).
_Facts = Tuple[bool, Set[str], Set[str]]
#: `_facts`'s memo: id of a node -> (the node, its facts).  Holding the node
#: keeps its id from being reused by a node made later in the same translation.
_FactsMemo = Dict[int, Tuple[ast.AST, _Facts]]


def _facts(node: ast.AST, memo: _FactsMemo) -> _Facts:
    """Whether `node` may raise (a call but those `_Promoter` found safe: a
    fault, a device; a division: an exception handler then reads the state),
    the locals it reads and those it
    assigns; `memo` keeps them by node for the passes that ask again.  An `if`'s
    are its parts' (the test's and its statements'), put together each time: the
    passes change branches in place, and walking a whole `if` again for each
    enclosing one made nested slow paths cost the square of their size."""
    if type(node) is ast.If:
        raises, loaded, stored = _facts(node.test, memo)
        loaded, stored = set(loaded), set(stored)
        for branch in (node.body, node.orelse):
            for stmt in branch:
                inner_raises, inner_loaded, inner_stored = _facts(stmt, memo)
                raises = raises or inner_raises
                loaded |= inner_loaded
                stored |= inner_stored
        return raises, loaded, stored
    entry = memo.get(id(node))
    if entry is None:
        raises = False
        loaded: Set[str] = set()
        stored: Set[str] = set()
        for child in _walk(node):
            kind = type(child)
            if kind is ast.Name:
                context = type(child.ctx)
                if context is ast.Load:
                    loaded.add(child.id)
                elif context is ast.Store:
                    stored.add(child.id)
            elif kind is ast.Call and not getattr(child, "safe", False) or \
                    kind is ast.BinOp and type(child.op) in _DIVISIONS:
                raises = True
            elif kind is ast.AugAssign and type(child.target) is ast.Name:
                loaded.add(child.target.id)         # `x |= y` reads x
        memo[id(node)] = (node, (raises, loaded, stored))
        return raises, loaded, stored
    return entry[1]


def _eliminate_dead(stmts: List[ast.stmt], live: Set[str], observed: Set[str],
                    memo: _FactsMemo) -> Tuple[List[ast.stmt], Set[str]]:
    """`stmts` without the assignments to locals that nothing reads before they
    are assigned again or the function returns (a lazy-flag field the next
    instruction overwrites, an operand copy), found by liveness backwards from
    `live`, the locals read after `stmts`.  Where a statement may raise, the
    handlers' reads (`observed`) are live.  Pays on CPython, which runs every
    statement; PyPy's JIT drops dead computations itself."""
    out: List[ast.stmt] = []
    for stmt in reversed(stmts):
        kind = type(stmt)
        if kind is ast.If:
            body, body_live = _eliminate_dead(stmt.body, set(live), observed, memo)
            orelse, else_live = _eliminate_dead(stmt.orelse, set(live), observed, memo)
            stmt.body, stmt.orelse = body or [ast.Pass()], orelse
            raises, loaded, _ = _facts(stmt.test, memo)
            live = body_live | else_live | loaded
            if raises:
                live |= observed
            out.append(stmt)
            continue
        raises, loaded, stored = _facts(stmt, memo)
        if kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
            name = stmt.targets[0].id
            if name not in live and not raises:
                continue                            # nothing reads this value
            live.discard(name)
        elif kind is ast.Return:
            live = set()
        elif kind is ast.Assign:
            live -= stored          # a loop or `with` may not assign what it names
        live |= loaded
        if raises or kind is ast.Raise:
            live |= observed
        out.append(stmt)
    out.reverse()
    return out, live


_PURE_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift,
                   ast.RShift)


def _key(node: ast.expr) -> Optional[tuple]:
    """A hashable form of an expression of locals, constants and operators that
    cannot raise (None for anything else): equal keys, equal values."""
    kind = type(node)
    if kind is ast.Name:
        return ("n", node.id)
    if kind is ast.Constant:
        return ("c", type(node.value), node.value)
    if kind is ast.BinOp and type(node.op) in _PURE_OPERATORS:
        left, right = _key(node.left), _key(node.right)
        if left is not None and right is not None:
            return ("b", type(node.op), left, right)
    elif kind is ast.UnaryOp and type(node.operand) is not ast.Not:
        operand = _key(node.operand)
        if operand is not None:
            return ("u", type(node.op), operand)
    elif kind is ast.Compare and len(node.ops) == 1:
        left, right = _key(node.left), _key(node.comparators[0])
        if left is not None and right is not None:
            return ("k", type(node.ops[0]), left, right)
    return None


def _names_of(key: tuple) -> Set[str]:
    if key[0] == "n":
        return {key[1]}
    if key[0] == "c":
        return set()
    names: Set[str] = set()
    for part in key[2:]:
        names |= _names_of(part)
    return names


def _bound(node: ast.expr, bounds: Dict[str, int]) -> Optional[int]:
    """The largest value `node` can have, when it is known not to be negative."""
    kind = type(node)
    if kind is ast.Constant:
        return node.value if type(node.value) is int and node.value >= 0 else None
    if kind is ast.Name:
        return bounds.get(node.id)
    if kind is ast.BinOp:
        op = type(node.op)
        left, right = _bound(node.left, bounds), _bound(node.right, bounds)
        if op is ast.BitAnd:
            known = [bound for bound in (left, right) if bound is not None]
            return min(known) if known else None
        if left is None or right is None:
            return None
        if op in (ast.BitOr, ast.BitXor):
            return (1 << max(left, right).bit_length()) - 1
        if op is ast.Add:
            return left + right
        if op is ast.RShift:
            return left
        if op is ast.LShift and type(node.right) is ast.Constant:
            return left << node.right.value
    return None


class _Available:
    """What `_forward` knows at a point: the local holding each computed
    expression (by `_key`), the key of each local's value, copies, and bounds
    of locals.  `uses` finds what an assignment invalidates: each local's list
    of entries that read or name it; the lists are shared between the copies
    made at an `if` (an entry from the other path forgets more, never less)."""

    def __init__(self) -> None:
        self.holders: Dict[tuple, str] = {}
        self.bounds: Dict[str, int] = {}
        self.defined: Dict[str, tuple] = {}     # local -> the key of its value
        self.copies: Dict[str, str] = {}        # local -> the local it was assigned
        self.uses: Dict[str, List[Tuple[str, Any]]] = {}

    def copy(self) -> "_Available":
        other = _Available()
        other.holders, other.bounds = dict(self.holders), dict(self.bounds)
        other.defined, other.copies, other.uses = dict(self.defined), dict(self.copies), dict(self.uses)
        return other

    def take(self, other: "_Available") -> None:
        self.holders, self.bounds, self.defined = other.holders, other.bounds, other.defined
        self.copies, self.uses = other.copies, other.uses

    def meet(self, other: "_Available") -> None:
        """Keep what holds on both paths."""
        self.holders = {key: name for key, name in self.holders.items() if other.holders.get(key) == name}
        self.bounds = {name: max(bound, other.bounds[name]) for name, bound in self.bounds.items()
                       if name in other.bounds}
        self.defined = {name: key for name, key in self.defined.items() if other.defined.get(name) == key}
        self.copies = {name: source for name, source in self.copies.items()
                       if other.copies.get(name) == source}

    def hold(self, key: tuple, holder: str) -> None:
        self.holders[key] = holder
        for name in _names_of(key) | {holder}:
            self.uses.setdefault(name, []).append(("h", key))

    def define(self, name: str, key: tuple) -> None:
        self.defined[name] = key
        for used in _names_of(key):
            self.uses.setdefault(used, []).append(("d", name))

    def copied(self, name: str, source: str) -> None:
        self.copies[name] = source
        self.uses.setdefault(source, []).append(("c", name))

    def assigned(self, name: str) -> None:
        """`name` gets a new value: forget what depended on the old one."""
        self.bounds.pop(name, None)
        self.defined.pop(name, None)
        self.copies.pop(name, None)
        for kind, item in self.uses.pop(name, ()):
            if kind == "h":
                self.holders.pop(item, None)
            elif kind == "d":
                self.defined.pop(item, None)
            else:
                self.copies.pop(item, None)


def _low_part(name: str, value: ast.expr, known: _Available) -> Optional[Tuple[int, ast.expr]]:
    """(mask, part) when `name = value` replaces the low bits of `name` (`reg0 =
    reg0 & 0xFFFF0000 | part`, a 16-bit register write) by a part known to fit
    in them: afterwards `name & mask` is `part`."""
    if type(value) is not ast.BinOp or type(value.op) is not ast.BitOr:
        return None
    high = value.left
    if type(high) is ast.Name:
        key = known.defined.get(high.id)
    else:
        key = _key(high)
    if key is None or key[0] != "b" or key[1] is not ast.BitAnd or key[2] != ("n", name) or \
            key[3][0] != "c" or key[3][1] is not int:
        return None
    mask = 0xFFFFFFFF ^ key[3][2]
    bound = _bound(value.right, known.bounds)
    if mask & (mask + 1) or bound is None or bound > mask or _key(value.right) is None:
        return None
    return mask, value.right


def _expression(key: tuple) -> ast.expr:
    """The expression of a `_key`."""
    kind = key[0]
    if kind == "n":
        return ast.Name(id=key[1], ctx=ast.Load())
    if kind == "c":
        return ast.Constant(value=key[2])
    if kind == "b":
        return ast.BinOp(left=_expression(key[2]), op=key[1](), right=_expression(key[3]))
    if kind == "u":
        return ast.UnaryOp(op=key[1](), operand=_expression(key[2]))
    return ast.Compare(left=_expression(key[2]), ops=[key[1]()], comparators=[_expression(key[3])])


_TEMPORARY = re.compile(r"[it]\d+_")


class _Forwarding:
    """What `_forward` needs to know about the whole body: the sync statements,
    and where each local is last read (in the order of a walk of the tree),
    which tells whether a slow path may compute a temporary again."""

    def __init__(self, body: List[ast.stmt], frozen: Set[int], memo: _FactsMemo) -> None:
        self.frozen = frozen
        #: the facts of the statements `_forward` has rewritten (it is their last
        #: rewrite: the later passes ask for them again)
        self.memo = memo
        self.last_read: Dict[str, int] = {}
        self.end: Dict[int, int] = {}           # id of an `if` -> index of its last statement
        self.synced: Dict[int, bool] = {}       # id of a branch's first statement -> has a sync
        self.index = 0
        self._number(body)

    def _number(self, stmts: List[ast.stmt]) -> bool:
        has_sync = False
        for stmt in stmts:
            self.index += 1
            has_sync = has_sync or id(stmt) in self.frozen
            if type(stmt) is ast.If:
                for node in _walk(stmt.test):
                    if type(node) is ast.Name and type(node.ctx) is ast.Load:
                        self.last_read[node.id] = self.index
                for branch in (stmt.body, stmt.orelse):
                    if branch:
                        self.synced[id(branch[0])] = self._number(branch)
                        has_sync = has_sync or self.synced[id(branch[0])]
                self.end[id(stmt)] = self.index
                continue
            for node in _walk(stmt):
                if type(node) is ast.Name and type(node.ctx) is ast.Load:
                    self.last_read[node.id] = self.index
        return has_sync

    def rejoin(self, branch: List[ast.stmt], known: _Available, other: _Available,
               join: ast.If) -> None:
        """Make what `other` knows true at the end of `branch` too (which `known`
        describes), where the branch has a sync point (the slow path of a memory
        access reloads the registers) and a temporary that nothing reads after
        the `if` holds it: the slow path computes it again."""
        if not branch or not self.synced.get(id(branch[0])) or _terminates(branch):
            return
        end = self.end[id(join)]
        done: Set[tuple] = set()
        computed: Set[str] = set()
        while True:
            # (Computing a value again forgets what was computed from it: those
            # come again in the next round.)
            wanted = {key: holder for key, holder in other.holders.items()
                      if known.holders.get(key) != holder and key not in done and
                      _TEMPORARY.match(holder) and self.last_read.get(holder, 0) <= end and
                      holder not in _names_of(key)}
            if not wanted:
                return
            # A value before the values computed from it (a cycle: one is left out).
            ready = [key for key in wanted if not _names_of(key) & set(wanted.values())]
            if not ready:
                done.add(next(iter(wanted)))
            # A local holding two values (a result, then also a register's low
            # part) holds the later one.
            for key in reversed(ready):
                holder = wanted[key]
                done.add(key)
                if holder in computed:
                    continue
                computed.add(holder)
                branch.append(_assign(holder, _expression(key)))
                known.assigned(holder)
                known.hold(key, holder)


class _Substitution:
    """`_forward`'s rewrite of an expression by what `known` holds, operands
    first (keys hold those forms).  An object, not a closure: a closure that
    passes itself to `_expressions` is a reference cycle, and each translation
    left hundreds of them to the cycle collector."""

    def __init__(self, known: _Available) -> None:
        self.known = known

    def __call__(self, node: ast.expr) -> ast.expr:
        known = self.known
        if type(node) is ast.Name:
            source = known.copies.get(node.id)
            return node if source is None or type(node.ctx) is not ast.Load else \
                ast.Name(id=source, ctx=ast.Load())
        if type(node) is not ast.Constant:
            _expressions(node, self)
        key = _key(node)
        if key is not None and key[0] != "c":
            holder = known.holders.get(key)
            if holder is not None:
                return ast.Name(id=holder, ctx=ast.Load())
        return node


def _forward(stmts: List[ast.stmt], known: _Available, context: _Forwarding) -> None:
    """Common subexpressions: an expression of locals computed again while its
    locals keep their values reads the local that holds it, and after a write
    of a register's low part (`_low_part`) reading that part reads what was
    written.  (Real mode mostly writes and reads 16-bit registers: `reg0 & 65535`
    after `reg0 = reg0 & 4294901760 | r` is `r`.)  Where a slow path reloaded
    the registers it computes such values again (`_Forwarding.rejoin`), so that
    the fast path keeps them.  Copies are read as their sources: `value =
    reg0` (an inlined closure's operand, once the register is promoted) is
    then read by nothing and `_eliminate_dead` drops it.  On CPython each
    costs two instructions of the interpreter; PyPy's JIT has none to drop.
    Changes `stmts` in place."""
    frozen = context.frozen
    substitute = _Substitution(known)
    for stmt in stmts:
        if id(stmt) in frozen:
            for name in _facts(stmt, context.memo)[2]:
                known.assigned(name)
            continue
        kind = type(stmt)
        if kind is ast.If:
            stmt.test = substitute(stmt.test)
            other = known.copy()
            _forward(stmt.body, known, context)
            _forward(stmt.orelse, other, context)
            if _terminates(stmt.orelse):
                continue                    # only the body goes on
            if _terminates(stmt.body):
                known.take(other)
                continue
            context.rejoin(stmt.orelse, other, known, stmt)
            context.rejoin(stmt.body, known, other, stmt)
            known.meet(other)
            continue
        if kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
            stmt.value = substitute(stmt.value)
            name = stmt.targets[0].id
            low = _low_part(name, stmt.value, known)
            key = _key(stmt.value)
            bound = _bound(stmt.value, known.bounds)
            known.assigned(name)
            if type(stmt.value) is ast.Name and name != "eip" and stmt.value.id != name:
                known.copied(name, stmt.value.id)
            if key is not None and name not in _names_of(key):
                known.define(name, key)
                if key[0] not in ("n", "c") and key not in known.holders:
                    known.hold(key, name)
            if bound is not None:
                known.bounds[name] = bound
            if low is not None and type(low[1]) is ast.Name and low[1].id != name:
                known.hold(("b", ast.BitAnd, ("n", name), ("c", int, low[0])), low[1].id)
            continue
        if kind in (ast.For, ast.While, ast.Try, ast.With):
            for name in _facts(stmt, context.memo)[2]:
                known.assigned(name)
            continue
        _expressions(stmt, substitute)
        for name in _facts(stmt, context.memo)[2]:
            known.assigned(name)


def _live_before(stmts: List[ast.stmt], live: Set[str], observed: Set[str],
                 memo: _FactsMemo) -> Set[str]:
    """The locals read before they are assigned when `stmts` run and then
    whatever reads `live` (`_eliminate_dead`'s liveness, without removing)."""
    live = set(live)
    for stmt in reversed(stmts):
        kind = type(stmt)
        if kind is ast.If:
            raises, loaded, _ = _facts(stmt.test, memo)
            live = _live_before(stmt.body, live, observed, memo) | \
                _live_before(stmt.orelse, live, observed, memo) | loaded
        else:
            raises, loaded, stored = _facts(stmt, memo)
            if kind is ast.Return or kind is ast.Raise:
                live = set()        # what follows does not run
            elif kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
                live.discard(stmt.targets[0].id)
            elif kind is ast.Assign:
                live -= stored
            live |= loaded
            if kind is ast.Raise:
                raises = True
        if raises:
            live |= observed
    return live


_PLAIN_VALUES = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp,
                 ast.BoolOp, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


class _Sinker:
    """Moves an assignment that only a branch of a later `if` reads into that
    branch: a lazy-flag field that the next instruction overwrites, read on a
    memory access's slow paths only (their sync stores), is then assigned on
    those paths and not on the fast path.  On CPython each such store saves two
    interpreter instructions per run of the fast path.

    Moved: `x = value` for a promoted local x and a value of locals and
    operators, past statements that neither raise nor touch x or the value's
    locals, into the branches of an `if` whose test is as harmless and that
    read x.  When x is read after the `if` too, the move goes on past it (a
    copy in each branch that reads x, one after the `if`) only if those
    branches are slow paths and every call in the `if` leaves the CPU's state
    alone (`state.KEEPS_CPU_STATE`: the memory accessors), so that what its
    sync points load again is what the locals held; a copy that reaches an
    assignment of x is dropped.  So the lazy-flag record of an instruction
    before a CALL or RET is assigned only where a slow path or the next
    instruction that writes the flags needs it."""

    def __init__(self, names: Set[str], observed: Set[str], memo: _FactsMemo,
                 namespace: Dict[str, Any], reloads: Set[int]) -> None:
        self.names = names
        self.observed = observed
        self.memo = memo
        self.namespace = namespace
        self.reloads = reloads          # ids of the sync points' load statements
        #: Memos by id: of an `if`, whether its calls all keep the CPU's state
        #: (copies add no call); of a statement list, the locals it assigns and
        #: those it reads first (emptied whenever a copy is inserted).
        self.kept: Dict[int, bool] = {}
        self.assigns: Dict[int, Set[str]] = {}
        self.reads: Dict[int, Set[str]] = {}
        #: id of an `if` -> the locals read after it (computed before any move:
        #: moves before an `if` do not change what is read after it, and moves
        #: after it can only make a local dead where this says live; a copy
        #: moved past an `if` adds its operands to every entry).
        self.live_after: Dict[int, Set[str]] = {}

    def sink(self, stmts: List[ast.stmt], live: Set[str]) -> None:
        """Move what can be moved in `stmts` (in place), `live` read after them."""
        live = set(live)
        candidates: List[int] = []
        for index in range(len(stmts) - 1, -1, -1):
            stmt = stmts[index]
            kind = type(stmt)
            if kind is ast.If:
                self.live_after[id(stmt)] = set(live)
                self.sink(stmt.body, live)
                self.sink(stmt.orelse, live)
                live = _live_before([stmt], live, self.observed, self.memo)
                continue
            if kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name \
                    and stmt.targets[0].id in self.names and \
                    all(isinstance(node, _PLAIN_VALUES) for node in _walk(stmt.value)):
                candidates.append(index)
            live = _live_before([stmt], live, self.observed, self.memo)
        for index in candidates:                 # from the last: indices stay valid
            self.move(stmts, index)

    def move(self, stmts: List[ast.stmt], index: int) -> None:
        stmt = stmts[index]
        name = stmt.targets[0].id
        operands = _facts(stmt.value, self.memo)[1]
        after = index + 1
        while after < len(stmts) and type(stmts[after]) is not ast.If:
            raises, loaded, stored = _facts(stmts[after], self.memo)
            if not raises and name in stored and name not in loaded and \
                    type(stmts[after]) is ast.Assign and len(stmts[after].targets) == 1:
                del stmts[index]                 # overwritten before anything read it
                return
            if self.stops(stmts[after], name, operands):
                return
            after += 1
        if after == len(stmts):
            return
        branch = stmts[after]
        raises, loaded, _ = _facts(branch.test, self.memo)
        live_after = self.live_after[id(branch)]
        if raises or name in loaded:
            return
        if name in live_after:
            # Read after the `if` as well: the move goes on past it if only its
            # slow paths read the value on the way (they get a copy each).
            if not self.keeps_state(branch) or not self.passable([branch], name, operands):
                return
            self.copy_into_slow_paths([branch], stmt)
            del stmts[index]
            moved = operands & self.names
            for live in self.live_after.values():
                live |= moved
            self.insert(stmts, after, stmt)
            self.move(stmts, after)
            return
        del stmts[index]
        for inner in (branch.body, branch.orelse):
            if name in _live_before(inner, live_after, self.observed, self.memo):
                self.insert(inner, 0, _clone(stmt))
                self.move(inner, 0)

    def stops(self, stmt: ast.stmt, name: str, operands: Set[str]) -> bool:
        """`name = value` (of `operands`) cannot move past `stmt` (not an `if`)."""
        raises, loaded, stored = _facts(stmt, self.memo)
        return raises or type(stmt) in (ast.Raise, ast.Return) or name in loaded or \
            name in stored or bool(stored & operands)

    def insert(self, stmts: List[ast.stmt], index: int, stmt: ast.stmt) -> None:
        stmts.insert(index, stmt)
        self.assigns.clear()
        self.reads.clear()

    def passable(self, stmts: List[ast.stmt], name: str, operands: Set[str]) -> bool:
        """`name = value` (of `operands`) may move from before `stmts` to after them,
        with copies at the start of the slow paths that read it on the way."""
        for stmt in stmts:
            if id(stmt) in self.reloads:
                continue
            if type(stmt) is not ast.If:
                if self.stops(stmt, name, operands):
                    return False
                continue
            raises, loaded, _ = _facts(stmt.test, self.memo)
            if raises or name in loaded:
                return False
            for inner in (stmt.body, stmt.orelse):
                assigned = self.assigned(inner)
                if name in assigned or assigned & operands:
                    return False
                if name in self.read_first(inner) and not _slow_path(inner) and \
                        not self.passable(inner, name, operands):
                    return False
        return True

    def read_first(self, stmts: List[ast.stmt]) -> Set[str]:
        """The locals `stmts` read before assigning them (a raise reads the observed ones)."""
        key = id(stmts)
        if key not in self.reads:
            self.reads[key] = _live_before(stmts, set(), self.observed, self.memo)
        return self.reads[key]

    def copy_into_slow_paths(self, stmts: List[ast.stmt], stmt: ast.Assign) -> None:
        """The copies `passable` promised."""
        name = stmt.targets[0].id
        for inner in (branch for node in stmts if type(node) is ast.If
                      for branch in (node.body, node.orelse)):
            if name in self.read_first(inner):
                if _slow_path(inner):
                    self.insert(inner, 0, _clone(stmt))
                else:
                    self.copy_into_slow_paths(inner, stmt)

    def assigned(self, stmts: List[ast.stmt]) -> Set[str]:
        """The locals `stmts` assign, but for the loads after sync points."""
        key = id(stmts)
        if key in self.assigns:
            return self.assigns[key]
        out: Set[str] = set()
        for stmt in stmts:
            if id(stmt) in self.reloads:
                continue
            if type(stmt) is ast.If:
                out |= self.assigned(stmt.body) | self.assigned(stmt.orelse)
            else:
                out |= _facts(stmt, self.memo)[2]
        self.assigns[key] = out
        return out

    def keeps_state(self, branch: ast.If) -> bool:
        """Every call in `branch` (but those making an exception to raise) is one
        that leaves the CPU's state alone, or needs no sync point."""
        kept = self.kept.get(id(branch))
        if kept is None:
            kept = self.kept[id(branch)] = self._keeps_state(branch)
        return kept

    def _keeps_state(self, branch: ast.If) -> bool:
        nodes = _walk(branch)
        raised = {id(node) for stmt in nodes if type(stmt) is ast.Raise for node in _walk(stmt)}
        for node in nodes:
            if type(node) is ast.Call and not getattr(node, "safe", False) and id(node) not in raised \
                    and not _call_keeps_state(node, self.namespace):
                return False
        return True


def _call_keeps_state(call: ast.Call, namespace: Dict[str, Any]) -> bool:
    """The generated code's call `call` is to a function that leaves the CPU's
    state alone (`state.KEEPS_CPU_STATE`: the memory accessors), or to a method
    of a set or dict."""
    function = _resolved(call.func, namespace)
    if function is None:
        return False
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    return code in KEEPS_CPU_STATE or isinstance(getattr(function, "__self__", None), (set, dict))


def _resolved(node: ast.expr, namespace: Dict[str, Any]) -> Any:
    """The object a name or attribute chain of the generated code stands for
    (None when unknown, or a property that would have to run)."""
    if type(node) is ast.Name:
        return namespace.get(node.id)
    if type(node) is ast.Attribute:
        owner = _resolved(node.value, namespace)
        if owner is None or isinstance(getattr(type(owner), node.attr, None), property):
            return None
        return getattr(owner, node.attr, None)
    return None


def _slow_path(stmts: List[ast.stmt]) -> bool:
    """`stmts` raise or call out (a sync point assigns `synced`) whenever they
    run: a slow path, where a copy of a store costs nothing that matters."""
    return any(type(stmt) is ast.Raise or type(stmt) is ast.Assign and
               type(stmt.targets[0]) is ast.Name and stmt.targets[0].id == "synced"
               for stmt in stmts)


def _eip_step(stmt: ast.stmt) -> Optional[Tuple[int, int]]:
    """(step, mask) when `stmt` is `eip = eip + step & mask` (an instruction's
    fall-through)."""
    if type(stmt) is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name \
            and stmt.targets[0].id == "eip":
        value = stmt.value
        if type(value) is ast.BinOp and type(value.op) is ast.BitAnd and \
                type(value.right) is ast.Constant and type(value.left) is ast.BinOp and \
                type(value.left.op) is ast.Add and type(value.left.left) is ast.Name and \
                value.left.left.id == "eip" and type(value.left.right) is ast.Constant and \
                type(value.left.right.value) is int and type(value.right.value) is int:
            return value.left.right.value, value.right.value
    return None


def _merge_eip_steps(stmts: List[ast.stmt], memo: _FactsMemo) -> List[ast.stmt]:
    """Consecutive instructions' `eip = eip + n & mask` as one, where nothing
    between them reads or assigns EIP or may raise (a fault must see its
    instruction's EIP): `(eip + a & m) + b & m` is `eip + (a + b) & m`.  An `if`
    whose branches need EIP (a slow path that may fault, or calls out) but do
    not assign it does not stop the merge: such a branch steps EIP itself at its
    start and back at its end, so the fast path steps once for several
    instructions."""
    out: List[ast.stmt] = []
    pending: Optional[int] = None          # index in `out` of the last EIP step
    for stmt in stmts:
        if type(stmt) is ast.If:
            stmt.body = _merge_eip_steps(stmt.body, memo)
            stmt.orelse = _merge_eip_steps(stmt.orelse, memo)
        step = _eip_step(stmt)
        if step is not None and pending is not None:
            previous = _eip_step(out[pending])
            if previous is not None and previous[1] == step[1]:
                out[pending] = _step_eip(previous[0] + step[0], step[1])
                continue
        if step is not None:
            pending = len(out)
        elif type(stmt) in (ast.Return, ast.Raise):
            pending = None
        else:
            # Any other statement, an `if` too, is passed if it neither raises
            # nor uses EIP; an `if` also when only its branches do (`_carry`).
            raises, loaded, stored = _facts(stmt, memo)
            if pending is not None and _assigns_eip(stmt, memo):
                # EIP is assigned a value known without it (a predicted return
                # address, a branch target made constant): the step is dead.
                out.pop(pending)
                pending = None
            elif raises or "eip" in loaded or "eip" in stored:
                if pending is not None and type(stmt) is ast.If and _carry(stmt, out[pending], memo):
                    out.append(stmt)
                    out.append(out.pop(pending))
                    pending = len(out) - 1
                    continue
                pending = None
        out.append(stmt)
    return out


def _assigns_eip(stmt: ast.stmt, memo: _FactsMemo) -> bool:
    """`stmt` assigns EIP on every path without reading it or raising first."""
    if type(stmt) is ast.Assign:
        raises, loaded, stored = _facts(stmt, memo)
        return not raises and "eip" in stored and "eip" not in loaded
    if type(stmt) is not ast.If:
        return False
    raises, loaded, _ = _facts(stmt.test, memo)
    return not raises and "eip" not in loaded and \
        all(_assigns_eip_first(branch, memo) for branch in (stmt.body, stmt.orelse))


def _assigns_eip_first(stmts: List[ast.stmt], memo: _FactsMemo) -> bool:
    for stmt in stmts:
        if _assigns_eip(stmt, memo):
            return True
        raises, loaded, stored = _facts(stmt, memo)
        if raises or "eip" in loaded or "eip" in stored:
            return False
    return False


def _step_eip(step: int, mask: int) -> ast.stmt:
    """`eip = eip + step & mask`."""
    return _assign("eip", ast.BinOp(
        left=ast.BinOp(left=ast.Name(id="eip", ctx=ast.Load()), op=ast.Add(), right=ast.Constant(value=step)),
        op=ast.BitAnd(), right=ast.Constant(value=mask)))


def _carry(branch: ast.If, pending: ast.stmt, memo: _FactsMemo) -> bool:
    """Let an EIP step that stands before `branch` move after it: possible when
    the test neither raises nor reads EIP and nothing in the branches assigns
    EIP.  The paths that raise or read EIP get the step (`_sink_step`).  Returns
    whether it did."""
    raises, loaded, _ = _facts(branch.test, memo)
    if raises or "eip" in loaded or "eip" in _facts(branch, memo)[2]:
        return False
    step, mask = _eip_step(pending)
    for inner in (branch.body, branch.orelse):
        _sink_step(inner, step, mask, memo)
    return True


def _sink_step(stmts: List[ast.stmt], step: int, mask: int, memo: _FactsMemo) -> None:
    """Step EIP by `step` in `stmts` only where it is needed: before the first
    statement that raises or reads EIP (and back at the end, unless the path
    ends in a raise: EIP is masked, so stepping back gives the value before),
    or, for an `if` whose test does not need it, in its branches the same way.
    The fast path of a memory access (the `if` of its slow path) so steps
    nothing."""
    index = 0
    while index < len(stmts):
        stmt = stmts[index]
        raises, loaded, stored = _facts(stmt, memo)
        if not raises and "eip" in loaded and type(stmt) is ast.Assign and "eip" not in stored:
            # A value computed from EIP (the return address a CALL pushes)
            # reads the stepped EIP.
            stmt.value = _fold(_clone(stmt.value, {"eip": _step_eip(step, mask).value}))
        elif raises or "eip" in loaded:
            test_raises, test_loaded, _ = _facts(stmt.test, memo) if type(stmt) is ast.If else (True, set(), set())
            if test_raises or "eip" in test_loaded:
                stmts.insert(index, _step_eip(step, mask))
                if not _terminates(stmts):
                    stmts.append(_step_eip(-step, mask))
                return
            for inner in (stmt.body, stmt.orelse):
                _sink_step(inner, step, mask, memo)
        index += 1


def _looped(body: List[ast.stmt], length: int) -> List[ast.stmt]:
    """A block's body run as a `while` loop: one turn per run of the block, for as
    long as it branched back to its start and the run loop would run it next
    (the block still cached, no interrupt pending, the whole next run before the
    next clock event); `icount` counts the turns, and the count stored after the
    loop is what the run loop reads back.  The registers stay in locals from turn to turn: a
    Python loop on PyPy, and no call or loads and stores per run on CPython."""
    loop = ast.parse("head = eip\n"
                     "while True:\n"
                     "    pass\n"
                     "    if eip != head or not alive[0] or cpu.check_irq or "
                     "icount + %d > clock.stop_icount:\n"
                     "        break\n"
                     "    icount += %d" % (2 * length, length)).body
    loop[1].body[0:1] = body
    return loop


#: Whether every block gets the passes after constant propagation (`_forward`,
#: `_eliminate_dead`, `_Sinker`, `_merge_eip_steps`), or only the blocks that
#: loop.  Each saves CPython interpreter instructions; PyPy's JIT finds most of
#: that itself in a block run once per dispatch, and there the passes were 40 %
#: of a translation's cost (docs/performance.md).
OPTIMISE_EVERY_BLOCK = platform.python_implementation() == "CPython"
#: Whether a looping block function reads its globals from locals (`_hoist_globals`).
HOIST_GLOBALS = platform.python_implementation() == "CPython"


def _hoist_globals(function: ast.FunctionDef, namespace: Dict[str, Any]) -> None:
    """Read the namespace's objects from locals assigned at the function's start:
    CPython loads a local faster than a module global, which a looping block
    reads some thirty times a turn.  (The names are bound once, at translation.)
    Not under PyPy, whose JIT takes a module global for a constant."""
    loaded = sorted({node.id for node in _walk(function) if type(node) is ast.Name and
                     type(node.ctx) is ast.Load and node.id in namespace})
    mapping = {name: ast.Name(id="L_" + name, ctx=ast.Load()) for name in loaded}
    for stmt in function.body:
        _replace_names(stmt, mapping)
    function.body[0:0] = [_assign("L_" + name, ast.Name(id=name, ctx=ast.Load())) for name in loaded]


def build(cpu, block: Sequence[Callable[[int], int]], followed: Sequence[bool],
          alive: List[bool], loops: bool = False) -> Tuple[ast.Module, Dict[str, Any]]:
    """The tier-2 function of a decoded block as a module defining `run(eip,
    icount) -> eip`, and the namespace it runs in.  A block that `loops` (its
    last instruction may branch back to its first) runs again inside the function
    for as long as it branches back and the run loop would run it next (`_looped`)."""
    namespace: Dict[str, Any] = {"clock": cpu.clock, "cpu": cpu, "fault_type": CPUFault,
                                 "leave": LoopExit, "alive": alive}
    translator = Translator(namespace)
    translator.names[id(cpu)] = "cpu"
    for name in CPU_LISTS:
        namespace[name] = getattr(cpu, name)
        translator.names[id(namespace[name])] = name
    body: List[ast.stmt] = []
    for index, (fn, kind) in enumerate(zip(block, block_pattern(block, followed))):
        # The clock is stored where something can observe it: at the sync
        # points (`_Promoter.finish`) and the end.
        body.append(_Marker("count", index + 1))
        inlined = translator.instruction(fn)
        if inlined is None:
            namespace["f%d" % index] = fn
            body.extend(ast.parse("eip = f%d(eip)" % index).body)
        else:
            body.extend(inlined)
        if kind == FOLLOWED:
            body.extend(ast.parse("if not alive[0]:\n    cpu.eip = eip\n    raise leave()").body)
    promoter = _Promoter(cpu, namespace, "cpu", "regs")
    body = promoter.statements(body)
    body, _ = _propagate(body, {}, set(promoter.used))
    body = promoter.finish(body)
    frozen = {id(stmt) for stmt in promoter.sync_stores + promoter.sync_loads}
    reloads = {id(stmt) for stmt in promoter.sync_loads}
    memo: _FactsMemo = {}
    optimised = loops or OPTIMISE_EVERY_BLOCK
    if optimised:
        _forward(body, _Available(), _Forwarding(body, frozen, memo))
    function = ast.parse("def run(eip, icount):\n"
                         "    synced = False\n"
                         "    try:\n        pass\n"
                         "    except fault_type:\n"
                         "        if not synced:\n            pass\n"
                         "        cpu.eip = eip\n        raise\n"
                         "    except BaseException:\n"
                         "        if not synced:\n            pass\n"
                         "        raise\n"
                         "    return eip").body[0]
    stores = promoter.stores()
    try_statement = function.body[1]
    # What an exception handler reads: the promoted locals it stores, the EIP of
    # the faulting instruction and whether the state was synced.
    observed = {node.id for stmt in stores for node in _walk(stmt)
                if type(node) is ast.Name and type(node.ctx) is ast.Load} | {"eip", "synced"}
    if loops:
        # Each turn ends with the promoted locals live: the next turn or the
        # stores read them.
        body, _ = _eliminate_dead(body, set(observed), observed, memo)
        _Sinker(set(promoter.used), observed, memo, namespace, reloads).sink(body, observed)
        body = promoter.loads() + _looped(_merge_eip_steps(body, memo), len(block)) + \
            [count_store(len(block))] + stores
    elif optimised:
        body, _ = _eliminate_dead(promoter.loads() + body + [count_store(len(block))] + stores,
                                  {"eip"}, observed, memo)
        _Sinker(set(promoter.used), observed, memo, namespace, reloads).sink(body, {"eip"})
        body = _merge_eip_steps(body, memo)
    else:
        body = promoter.loads() + body + [count_store(len(block))] + stores
    try_statement.body = body or [ast.Pass()]
    for handler in try_statement.handlers:
        handler.body[0].body = stores or [ast.Pass()]
    if loops and HOIST_GLOBALS:
        _hoist_globals(function, namespace)
    # The sync stores and loads stand at every sync point: locate them once.
    shared = stores + promoter.sync_stores + promoter.sync_loads
    for stmt in shared:
        _locate(stmt)
    done = {id(stmt) for stmt in shared}
    return _locate(ast.Module(body=[function], type_ignores=[]), done), namespace


def source(cpu, block: Sequence[Callable[[int], int]], followed: Sequence[bool],
           alive: List[bool], loops: bool = False) -> str:
    """The Python source of a block's tier-2 function (for reading and tests)."""
    return ast.unparse(build(cpu, block, followed, alive, loops)[0])
