"""Block runners: one Python function per decoded block that calls its closures
in sequence.

The run loop used to call a block's closures in a `for` loop, counting
`clock.icount` up before each one.  A runner does the same with the loop
unrolled: the closures are free variables and each instruction's icount is a
constant offset, which saves the loop bookkeeping per instruction (the largest
single cost on CPython after the closures themselves).  The runner's code depends
only on the block length, so one factory per length (1..MAX_BLOCK) is compiled
once per process and a block's runner is a cheap closure made at decode time.

A runner keeps the loop's contracts: `clock.icount` counts the instruction
being executed whenever something can observe it (a bus access, a fault, a
hook), and when an instruction raises `CPUFault` the EIP of that instruction is
stored in `cpu.eip` before the fault propagates.  Closures marked `pure` (register
and flag computations that cannot fault or reach the bus) observe nothing, so the
runner leaves the count to the next instruction that can, or to the block's end.
After a direct JMP/CALL that the block follows (`CPU._decode`) the runner checks
the block's `alive` flag and leaves with LoopExit when a code write has dropped
the block, so the target is decoded afresh.  The runner's code thus depends on
the block's pattern of pure instructions and followed jumps; one factory per
pattern is compiled and kept.

Under PyPy each pattern's runner is another code object for the JIT to trace,
and wide cold code (a kernel's initialisation: over a thousand patterns in 40 M
instructions) spends its time tracing them.  There a block first runs through
the loop runner, one code object for all blocks, and gets its unrolled runner
once it has run `DEFAULT_WARMUP` times (docs/performance.md); the JIT compiles
the loop runner as a function of its own, not inlined into its callers, and
traces are kept shorter than PyPy's default (`_tune_pypy_jit`).
"""

import platform
from types import CodeType, ModuleType, SimpleNamespace
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from .state import CPUFault, LoopExit

Closure = Callable[[int], int]
Runner = Callable[[int, int], int]
#: Instruction kinds in a runner pattern.
IMPURE, PURE, FOLLOWED = "i", "p", "j"
_FACTORIES: Dict[Tuple[str, ...], Callable[..., Runner]] = {}
#: Code objects of the closures that touch only registers and flags.
PURE_CODES: Set[CodeType] = set()
#: Runs of a block by the loop runner before its unrolled runner replaces it.
DEFAULT_WARMUP = 0 if platform.python_implementation() == "CPython" else 100000


def pure(fn: Closure) -> Closure:
    """Mark an instruction closure as unable to fault or reach the bus: it only
    reads and writes registers and flags, so `clock.icount` may lag while it runs.
    The mark is on the code object: it covers every closure of that `def`."""
    PURE_CODES.add(fn.__code__)
    return fn


def _factory(pattern: Tuple[str, ...]) -> Callable[..., Runner]:
    """`make(clock, cpu, fault_type, leave, alive, f0, .., fN-1)` ->
    `run(eip, icount) -> eip` for a block whose instruction i is of kind pattern[i]."""
    factory = _FACTORIES.get(pattern)
    if factory is not None:
        return factory
    names = ["f%d" % i for i in range(len(pattern))]
    lines = ["def make(clock, cpu, fault_type, leave, alive, %s):" % ", ".join(names),
             "    def run(eip, icount):",
             "        try:"]
    for index, name in enumerate(names):
        count = index + 1
        if pattern[index] != PURE:
            lines.append("            clock.icount = icount + %d" % count)
        lines.append("            eip = %s(eip)" % name)
        if pattern[index] == FOLLOWED:
            lines += ["            if not alive[0]:",
                      "                cpu.eip = eip",
                      "                raise leave()"]
    lines += ["        except fault_type:",
              "            cpu.eip = eip",
              "            raise"]
    if pattern[-1] == PURE:
        lines.append("        clock.icount = icount + %d" % len(pattern))
    lines += ["        return eip",
              "    return run"]
    namespace: Dict[str, Callable[..., Runner]] = {}
    exec(compile("\n".join(lines), "<block runner %s>" % "".join(pattern), "exec"), namespace)
    factory = namespace["make"]
    _FACTORIES[pattern] = factory
    return factory


def block_pattern(block: Sequence[Closure], followed: Sequence[bool]) -> Tuple[str, ...]:
    """The kind of each instruction of a block: FOLLOWED, PURE or IMPURE."""
    return tuple(FOLLOWED if jump else PURE if getattr(fn, "__code__", None) in PURE_CODES
                 else IMPURE for fn, jump in zip(block, followed))


def make_runner(cpu, block: Sequence[Closure], followed: Sequence[bool],
                alive: List[bool]) -> Runner:
    """The runner of `block` (the instruction closures) on this CPU; `followed[i]`
    says the block continues at the target of jump i, valid while `alive[0]`."""
    return _factory(block_pattern(block, followed))(cpu.clock, cpu, CPUFault, LoopExit, alive, *block)


def make_loop_runner(cpu, block: Sequence[Closure], followed: Sequence[bool],
                     alive: List[bool]) -> Runner:
    """A runner with the same contracts as `make_runner`'s that steps through the
    closures in a loop, counting every instruction (no per-pattern code)."""
    clock = cpu.clock
    steps = tuple(zip(block, followed))

    def loop_runner(eip: int, icount: int) -> int:
        try:
            for fn, jump in steps:
                icount += 1
                clock.icount = icount
                eip = fn(eip)
                if jump and not alive[0]:
                    cpu.eip = eip
                    raise LoopExit()
        except CPUFault:
            cpu.eip = eip
            raise
        return eip
    return loop_runner


#: PyPy's longest trace, in operations (its default: 6,000).
PYPY_TRACE_LIMIT = 2000
#: Calls of a function before PyPy traces it from its start (its default: 1,619).
PYPY_FUNCTION_THRESHOLD = 4000


def _pypyjit() -> Optional[ModuleType]:
    """PyPy's JIT module, or None (CPython, or a PyPy built without its JIT)."""
    try:
        import pypyjit
    except ImportError:
        return None
    return pypyjit


def _tune_pypy_jit() -> None:
    """Under PyPy, let the JIT compile the loop runner as a function of its own
    instead of inlining it into the run loop's traces.  Inlined, every block's
    closures were traced again in each trace through the loop runner, and the guards
    on which closure comes next grew the loop's bridges without end (1,600 bridges,
    3.5 s of tracing and assembling in a FreeDOS boot); called, the runner's own
    loop is compiled once.  FreeDOS to `XCOPY` 8.2 -> 6.0 s, the middle of a
    Debian boot 23.9 -> 20.5 s.  Shorter traces (`PYPY_TRACE_LIMIT`) cost cold
    code less tracing: FreeDOS 6.5 -> 6.0 s, the bench loops and the Debian
    boot unchanged (docs/performance.md).  Functions are traced from their start
    after more calls (`PYPY_FUNCTION_THRESHOLD`): fewer cold closures and
    decoder paths get traces of their own, FreeDOS to `A:\\>` 4.3 -> 4.1 s, the
    Debian boot and the bench unchanged.  Both replace values given with `pypy
    --jit`.  The loop runner's loop is compiled without loop peeling when the
    first CPU is built (`compile_loop_runner_unpeeled`)."""
    pypyjit = _pypyjit()
    if pypyjit is None:
        return
    code = next(const for const in make_loop_runner.__code__.co_consts
                if isinstance(const, CodeType) and const.co_name == "loop_runner")
    pypyjit.dont_trace_here(0, False, code)
    pypyjit.set_param("trace_limit=%d" % PYPY_TRACE_LIMIT)
    pypyjit.set_param("function_threshold=%d" % PYPY_FUNCTION_THRESHOLD)


#: PyPy's optimisations without `unroll` (loop peeling).
PYPY_OPTS_UNPEELED = "intbounds:rewrite:virtualize:string:pure:earlyforce:heap"
#: Closure calls that make the loop runner's loop hot enough to compile (PyPy's
#: `threshold` is 1,039 iterations).
LOOP_RUNNER_WARMUP = 4000
#: Holds True once `compile_loop_runner_unpeeled` has run in this process (a
#: list filled in place: rebinding a module global would change the module's
#: version, which compiled code may depend on).
_LOOP_RUNNER_COMPILED: List[bool] = []


def compile_loop_runner_unpeeled() -> None:
    """Under PyPy, once per process (the CPU calls it when it is built), have
    the JIT compile the loop runner's loop with loop peeling off, then turn
    peeling back on for every later loop.  Peeling traces a loop twice (a first
    iteration, then the loop proper, each with its own guards); the loop
    runner's loop steps through another block's closures at every call, so each
    guard on which closure comes next needed a bridge twice.  FreeDOS to `A:\\>`
    5.1 -> 4.1 s, the Debian boot unchanged; peeling off for every loop would
    cost the Debian boot half again (tier 2's hot loops lose the reads and guards
    it hoists out of them): docs/performance.md.  Not done at import: importing
    some modules afterwards (PyPy's OpenSSL binding, which `hashlib` loads) made
    PyPy drop the compiled loop and compile it again, peeled.  Replaces an
    `enable_opts` given with `pypy --jit`."""
    if _LOOP_RUNNER_COMPILED:
        return
    _LOOP_RUNNER_COMPILED.append(True)
    pypyjit = _pypyjit()
    if pypyjit is None:
        return
    clock = SimpleNamespace(icount=0)
    cpu = SimpleNamespace(clock=clock, eip=0)
    steps = 8
    runner = make_loop_runner(cpu, [_warmup_step] * steps, [False] * steps, [True])
    pypyjit.set_param("enable_opts=" + PYPY_OPTS_UNPEELED)
    try:
        eip = 0
        for _ in range(LOOP_RUNNER_WARMUP // steps):
            eip = runner(eip, clock.icount)
    finally:
        pypyjit.set_param("enable_opts=" + pypyjit.defaults["enable_opts"])


def _warmup_step(eip: int) -> int:
    """The instruction of `compile_loop_runner_unpeeled`'s block."""
    return (eip + 1) & 0xFFFF


_tune_pypy_jit()
