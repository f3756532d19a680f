"""`machine bench`: CPU speed on bundled CPU-bound guest loops.

Each loop is a flat binary built from `tests/guests/bench/*.asm` (shipped as
`plugins/data/bench_*.bin`), loaded at 0000:7C00 of a machine holding only RAM
and the CPU, and run until its final HLT.  Prints instructions, host seconds and
MIPS per loop.  Host time is read here only, to measure the emulator itself; it is
the process CPU time, so other load on the host does not distort the figure.
"""

import argparse
import os
import sys
import time
from typing import List, Optional, Tuple

LOAD_ADDRESS = 0x7C00
#: (name, data file, CPU model, description)
LOOPS = (
    ("realmode", "bench_realmode_loop.bin", "80486",
     "16-bit real-mode integer loop (ALU, memory operands, call/ret, Jcc)"),
)


def data_path(filename: str) -> str:
    import pcmachine.plugins
    return os.path.join(os.path.dirname(pcmachine.plugins.__file__), "data", filename)


def run_loop(filename: str, model: str, repeat: int = 1) -> Tuple[int, float]:
    """(instructions, host seconds) of running the loop to its HLT `repeat` times."""
    from pcmachine.clock import FAR_FUTURE
    from pcmachine.machine import Machine
    from pcmachine.plugins.cpu import CPU
    from pcmachine.plugins.ram import RAM
    with open(data_path(filename), "rb") as handle:
        image = handle.read()
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": 16 << 20})
    cpu = machine.add_component(CPU, "cpu", {"model": model})
    clock = machine.clock
    total = 0
    elapsed = 0.0
    for _ in range(repeat):
        cpu.reset()
        machine.bus.memory[LOAD_ADDRESS:LOAD_ADDRESS + len(image)] = image
        cpu.set_reg("cs", 0)
        cpu.set_reg("eip", LOAD_ADDRESS)
        start_icount = clock.icount
        start = time.process_time()
        while not cpu.halted:
            clock.stop_icount = FAR_FUTURE
            cpu.run()
        elapsed += time.process_time() - start
        total += clock.icount - start_icount
    return total, elapsed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="machine bench",
                                     description="Measure CPU speed (MIPS) on guest loops.")
    parser.add_argument("--repeat", type=int, default=1, help="run each loop N times")
    parser.add_argument("loops", nargs="*", help="loop names (default: all)")
    args = parser.parse_args(argv)
    names = [loop[0] for loop in LOOPS]
    unknown = [name for name in args.loops if name not in names]
    if unknown:
        print(f"unknown loop {unknown[0]!r}; choose from {', '.join(names)}", file=sys.stderr)
        return 2
    implementation = f"{sys.implementation.name} {sys.version.split()[0]}"
    print(f"runtime: {implementation}")
    print(f"{'loop':<10} {'instructions':>13} {'seconds':>9} {'MIPS':>7}")
    for name, filename, model, _ in LOOPS:
        if args.loops and name not in args.loops:
            continue
        instructions, seconds = run_loop(filename, model, args.repeat)
        mips = instructions / seconds / 1e6 if seconds > 0 else 0.0
        print(f"{name:<10} {instructions:>13,} {seconds:>9.2f} {mips:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
