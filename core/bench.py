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
import tempfile
import time
from typing import List, Optional, Tuple

from .progress import StatusLine

LOAD_ADDRESS = 0x7C00
#: (name, data file, CPU model, description)
LOOPS = (
    ("realmode", "bench_realmode_loop.bin", "80486",
     "16-bit real-mode integer loop (ALU, memory operands, call/ret, Jcc)"),
    ("protected", "bench_protected_loop.bin", "80486",
     "the same loop in 32-bit flat protected mode with paging on"),
)


def data_path(filename: str) -> str:
    import pcmachine.plugins
    return os.path.join(os.path.dirname(pcmachine.plugins.__file__), "data", filename)


def run_loop(filename: str, model: str, repeat: int = 1,
             record_to: Optional[str] = None, status: Optional[StatusLine] = None) -> Tuple[int, float]:
    """(instructions, host seconds) of running the loop to its HLT `repeat` times
    through the machine's run loop; with `record_to`, while recording (inputs,
    checkpoint digests every DEFAULT_CHECKPOINT_INTERVAL instructions) to that file."""
    from pcmachine.machine import Machine
    from pcmachine.plugins.cpu import CPU
    from pcmachine.plugins.ram import RAM
    from pcmachine.record import Recorder
    with open(data_path(filename), "rb") as handle:
        image = handle.read()
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": 16 << 20})
    cpu = machine.add_component(CPU, "cpu", {"model": model})
    recorder = None
    if record_to is not None:
        recorder = machine.add_plugin(Recorder(machine, record_to), name="recorder")
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
        while machine.run_slice() is None:
            if status is not None:
                status.tick(lambda: f"{filename}: {clock.icount - start_icount:,} instructions")
        elapsed += time.process_time() - start
        total += clock.icount - start_icount
    if recorder is not None:
        recorder.machine_stop(machine, "halted")
    return total, elapsed


def mips(instructions: int, seconds: float) -> float:
    return instructions / seconds / 1e6 if seconds > 0 else 0.0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="machine bench",
                                     description="Measure CPU speed (MIPS) on guest loops.")
    parser.add_argument("--repeat", type=int, default=1, help="run each loop N times")
    parser.add_argument("--record", action="store_true",
                        help="also run each loop while recording, and print the overhead")
    parser.add_argument("--quiet", "-q", action="store_true", help="no status line")
    parser.add_argument("loops", nargs="*", help="loop names (default: all)")
    args = parser.parse_args(argv)
    names = [loop[0] for loop in LOOPS]
    unknown = [name for name in args.loops if name not in names]
    if unknown:
        print(f"unknown loop {unknown[0]!r}; choose from {', '.join(names)}", file=sys.stderr)
        return 2
    implementation = f"{sys.implementation.name} {sys.version.split()[0]}"
    print(f"runtime: {implementation}")
    status = StatusLine(quiet=args.quiet)
    print(f"{'loop':<10} {'instructions':>13} {'seconds':>9} {'MIPS':>7}"
          + (f" {'recording':>10} {'overhead':>9}" if args.record else ""))
    for name, filename, model, _ in LOOPS:
        if args.loops and name not in args.loops:
            continue
        instructions, seconds = run_loop(filename, model, args.repeat, status=status)
        line = f"{name:<10} {instructions:>13,} {seconds:>9.2f} {mips(instructions, seconds):>7.2f}"
        if args.record:
            with tempfile.TemporaryDirectory() as folder:
                recorded, recorded_seconds = run_loop(filename, model, args.repeat,
                                                      os.path.join(folder, "bench.rec"), status)
            overhead = (recorded_seconds / seconds - 1) * 100 if seconds > 0 else 0.0
            line += f" {mips(recorded, recorded_seconds):>10.2f} {overhead:>8.1f}%"
        status.clear()
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
