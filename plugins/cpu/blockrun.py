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
being executed (devices read it exactly), and when an instruction raises
`CPUFault` the EIP of that instruction is stored in `cpu.eip` before the fault
propagates.
"""

from typing import Callable, Dict, Sequence

from .state import CPUFault

Runner = Callable[[int, int], int]
_FACTORIES: Dict[int, Callable[..., Runner]] = {}


def _factory(length: int) -> Callable[..., Runner]:
    """`make(clock, cpu, fault_type, f0, .., fN-1) -> run(eip, icount) -> eip`."""
    factory = _FACTORIES.get(length)
    if factory is not None:
        return factory
    names = ["f%d" % i for i in range(length)]
    lines = ["def make(clock, cpu, fault_type, %s):" % ", ".join(names),
             "    def run(eip, icount):",
             "        try:"]
    for index, name in enumerate(names):
        lines.append("            clock.icount = icount + %d" % (index + 1))
        lines.append("            eip = %s(eip)" % name)
    lines += ["        except fault_type:",
              "            cpu.eip = eip",
              "            raise",
              "        return eip",
              "    return run"]
    namespace: Dict[str, Callable[..., Runner]] = {}
    exec(compile("\n".join(lines), "<block runner %d>" % length, "exec"), namespace)
    factory = namespace["make"]
    _FACTORIES[length] = factory
    return factory


def make_runner(cpu, block: Sequence[Callable[[int], int]]) -> Runner:
    """The runner of `block` (a tuple of instruction closures) on this CPU."""
    return _factory(len(block))(cpu.clock, cpu, CPUFault, *block)
