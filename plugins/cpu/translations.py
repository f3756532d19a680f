"""Tier-2 translations shared between blocks that do the same thing.

A teaching OS's `fork` copies every page, code included: ucore's `matrix`
test runs fourteen processes, each with its own physical copy of one loop, and
xv6 copies a process's pages the same way.  The copies are decoded into equal
closures (same code objects, equal captured values), so tier 2 would write the
same Python source for each and pay a translation (70-190 ms on PyPy) per copy.
`Translations` keys a block by what its closures are, recursively: the code
object, the captured ints, strings and constants by value, nested functions by
their own keys, and every other object (the CPU, its register lists, the bus, a
bound method's owner) by identity.  A block with a known key gets the compiled
code of the first translation, run in a namespace of its own whose per-block
names (the block's `alive` flag and the closures tier 2 left as calls) are this
block's.  Equal keys mean equal behaviour: a closure's cells are never
reassigned (tier 2 refuses `nonlocal` code), so calling one block's closure is
calling the other's.

The memory accessors of the processor's regime (`rd8`...`wr32`, which tier 2
inlines) are part of the key, and the whole store is dropped with the decode
caches (`CPU.flush_code_cache`).
"""

from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any, Callable, Dict, List, Sequence, Tuple

from . import tier2

#: How many distinct translations are kept (the oldest go first): some 7 KB of
#: bytecode each, with their namespaces some tens of kilobytes.
MAX_ENTRIES = 1024
#: How deep closures captured by closures are keyed by content; deeper ones by identity.
MAX_KEY_DEPTH = 8
#: The block's own `alive` flag wherever it appears in a key.
_ALIVE = ("alive",)
_VALUES = (int, bool, str, bytes, float)

Runner = Callable[[int, int], int]


class _Keys:
    """Builds a block's key; keeps the objects keyed by identity (`pinned`) so
    that their ids are not reused while an entry holds the key."""

    def __init__(self, alive: List[bool]) -> None:
        self.alive = alive
        self.pinned: List[Any] = []

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if value is None or kind in _VALUES:
            return (kind, value)
        if value is self.alive:
            return _ALIVE
        if kind is tuple:
            return ("tuple",) + tuple(self.value(item, depth) for item in value)
        if kind is FunctionType and depth < MAX_KEY_DEPTH:
            return self.function(value, depth + 1)
        if kind is MethodType:
            return ("method", self.value(value.__self__, depth), self.value(value.__func__, depth))
        self.pinned.append(value)
        return ("object", id(value))

    def function(self, function: FunctionType, depth: int) -> tuple:
        self.pinned.append(function.__globals__)
        cells = []
        for cell in function.__closure__ or ():
            try:
                cells.append(self.value(cell.cell_contents, depth))
            except ValueError:      # a cell not yet assigned
                cells.append(("empty",))
        return ("function", function.__code__, id(function.__globals__),
                self.value(function.__defaults__, depth),
                self.value(function.__kwdefaults__, depth), tuple(cells))


def _refers_to(value: Any, target: Any, depth: int = 0) -> bool:
    """Whether a function (through its cells, recursively), a method or a tuple
    holds `target`."""
    if value is target:
        return True
    if depth >= MAX_KEY_DEPTH:
        return False
    if type(value) is tuple:
        return any(_refers_to(item, target, depth + 1) for item in value)
    if type(value) is MethodType:
        return _refers_to(value.__self__, target, depth + 1) or \
            _refers_to(value.__func__, target, depth + 1)
    if type(value) is FunctionType:
        for cell in value.__closure__ or ():
            try:
                if _refers_to(cell.cell_contents, target, depth + 1):
                    return True
            except ValueError:
                pass
    return False


class _Entry:
    """One compiled translation: its module code, the namespace objects every
    block with its key shares, and the names each block binds to its own
    objects (`alive`, or the index of the block's closure)."""

    __slots__ = ("code", "shared", "own", "pinned")

    def __init__(self, code: CodeType, shared: Dict[str, Any], own: List[Tuple[str, int]],
                 pinned: List[Any]) -> None:
        self.code = code
        self.shared = shared
        self.own = own
        self.pinned = pinned

    def function(self, block: Sequence[Callable[[int], int]], alive: List[bool]) -> Runner:
        # The function's globals are a module's dictionary: PyPy's JIT reads a
        # module global as a constant, a plain dictionary's as a hash lookup
        # per access (tier 2 ran the bench loops 6 times slower than tier 1 so).
        globals_ = ModuleType("tier2_block").__dict__
        globals_.update(self.shared)
        for name, index in self.own:
            globals_[name] = alive if index < 0 else block[index]
        exec(self.code, globals_)
        # Taken out of its globals: a function in its own globals is a reference
        # cycle, which would leave a dropped block to the cycle collector.
        return globals_.pop("run")


class Translations:
    """The tier-2 functions of a processor's blocks, shared by key (module
    docstring).  `share=False` translates every block anew (for comparison)."""

    def __init__(self, share: bool = True) -> None:
        self.share = share
        self.entries: Dict[tuple, _Entry] = {}
        #: blocks that got another block's translation (for `machine bench`)
        self.shared = 0

    def clear(self) -> None:
        self.entries.clear()

    def translate(self, cpu: Any, block: Sequence[Callable[[int], int]], followed: Sequence[bool],
                  alive: List[bool], loops: bool) -> Runner:
        """The tier-2 function `run(eip, icount) -> eip` of a decoded block."""
        keys = _Keys(alive)
        key = None
        if self.share:
            key = (loops, tuple(followed),
                   tuple(keys.value(getattr(cpu, name), 0) for name in tier2.CPU_ACCESSORS)) + \
                tuple(keys.value(fn, 0) for fn in block)
            entry = self.entries.get(key)
            if entry is not None:
                self.shared += 1
                return entry.function(block, alive)
        module, namespace = tier2.build(cpu, block, followed, alive, loops)
        own: List[Tuple[str, int]] = []
        shared: Dict[str, Any] = {}
        for name, value in namespace.items():
            if value is alive:
                own.append((name, -1))
            elif name[0] == "f" and name[1:].isdigit() and value is block[int(name[1:])]:
                own.append((name, int(name[1:])))
            else:
                shared[name] = value
        entry = _Entry(compile(module, "<tier 2 block>", "exec"), shared, own, keys.pinned)
        if key is not None and not any(_refers_to(value, alive) for value in shared.values()):
            if len(self.entries) >= MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]
            self.entries[key] = entry
        return entry.function(block, alive)
