#!/usr/bin/env python3
"""pcmachine, QEMU and Bochs side by side on the loops of `machine bench`.

Each emulator boots the same floppy (compare_boot.asm: one of the two loops run
ROUNDS times, then an exit every emulator understands), a short and a long
variant, alternately, `--repeat` times.  A rate is

    (instructions of the long variant - instructions of the short one)
    / (host CPU time of the long run - host CPU time of the short one)

so start-up, BIOS and shut-down cancel out; the figure printed is the median of
the rates.  Host CPU time is the emulator process's user + system time
(os.wait4), so other jobs on the host do not count.  The instruction counts come
from the loop's structure (`marked_instructions`); before timing, pcmachine runs
a small variant with an I/O trace and the count between the loop's two marks
must equal the formula, or the script stops.

    tests/guests/bench/compare.py [--python PATH]... [--repeat N]
        [--rounds SHORT,LONG] [--sizes OUTER,INNER] [EMULATOR...]

EMULATOR is any of pcmachine, qemu, qemu-icount, bochs (default: all); one
pcmachine line per `--python` interpreter (default: the one running this
script), which must import pcmachine.  An emulator not on PATH is reported as
"not installed".  Needs nasm.
"""

import argparse
import functools
import json
import os
import pty
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "compare_boot.asm")
FLOPPY_BYTES = 1_474_560
MODES = ("realmode", "protected")
#: The loop sizes of `machine bench` (a round is one run of its loop).
OUTER, INNER = 500, 1000
#: compare_boot.asm's marks around the loop (port, start value, end value).
MARK_PORT, MARK_START, MARK_END = 0xEB, 0x51, 0x5E
#: isa-debug-exit status for the boot sector's write of 10h: (10h << 1) | 1.
QEMU_EXIT_STATUS = 0x21
EMULATORS = ("pcmachine", "qemu", "qemu-icount", "bochs")
#: Small sizes for checking the instruction formula in pcmachine.
CHECK_ROUNDS, CHECK_OUTER, CHECK_INNER = 2, 3, 10


class BenchError(Exception):
    """A run that did not end as the boot sector ends it, or a count that does
    not match the formula: the figures would be wrong, so the script stops."""


def loop_instructions(mode: str, outer: int = OUTER, inner: int = INNER) -> int:
    """Instructions of one run of a loop of loops.inc (its set-up included)."""
    setup = 6 if mode == "realmode" else 5
    return setup + outer * (5 + inner * 14)


def marked_instructions(mode: str, rounds: int, outer: int = OUTER, inner: int = INNER) -> int:
    """Instructions from the start mark's OUT to the end mark's OUT: the MOV AL
    and OUT of the end mark, and per round the loop, DEC [count] and JNZ."""
    return 2 + rounds * (loop_instructions(mode, outer, inner) + 2)


def assemble(folder: str, mode: str, rounds: int, outer: int = OUTER, inner: int = INNER) -> str:
    """A 1.44 MB floppy image booting compare_boot.asm with these sizes."""
    name = f"{mode}-{rounds}x{outer}x{inner}"
    binary = os.path.join(folder, name + ".bin")
    defines = [f"-DROUNDS={rounds}", f"-DOUTER={outer}", f"-DINNER={inner}"]
    if mode == "protected":
        defines.append("-DPROTECTED")
    subprocess.run(["nasm", "-f", "bin", "-i", HERE + os.sep, *defines, "-o", binary, SOURCE],
                   check=True)
    image = os.path.join(folder, name + ".img")
    with open(binary, "rb") as handle:
        boot = handle.read()
    with open(image, "wb") as handle:
        handle.write(boot.ljust(FLOPPY_BYTES, b"\0"))
    return image


class Run(NamedTuple):
    status: int
    seconds: float      # user + system CPU time of the process
    output: str


def run_timed(command: Sequence[str], terminal: bool = False, timeout: float = 600) -> Run:
    """Run `command` and return its exit status, host CPU time and output.  With
    `terminal` it gets a pseudo-terminal (Bochs's text display needs one), whose
    output is read by a thread so the emulator never blocks on it.  A run past
    `timeout` seconds is killed (and then fails its emulator's check)."""
    if terminal:
        master, slave = pty.openpty()
        process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                                   start_new_session=True, env=dict(os.environ, TERM="vt100"))
        os.close(slave)
        chunks: List[bytes] = []

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                chunks.append(data)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
    else:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        if terminal:
            _, status, usage = os.wait4(process.pid, 0)
            reader.join(5)
            os.close(master)
            output = b"".join(chunks)
        else:
            output = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            process.stdout.close()
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
    return Run(process.returncode, usage.ru_utime + usage.ru_stime, output.decode("latin-1"))


class Emulator(NamedTuple):
    key: str                                   # the name on the command line
    label: str
    program: str                               # looked up on PATH (or a path)
    rounds: Tuple[int, int]                    # short and long variant
    command: Callable[[str, str], List[str]]   # (image, work folder) -> argv
    check: Callable[[Run, str], None]          # raises BenchError if the run did not end right
    terminal: bool = False


def pcmachine_command(python: str) -> Callable[[str, str], List[str]]:
    def command(image: str, folder: str) -> List[str]:
        return [python, "-c", "import sys; from pcmachine.cli import main; sys.exit(main())",
                "run", "pc.yaml", "--quiet", "--headless", "--fda", image]
    return command


def pcmachine_check(run: Run, folder: str) -> None:
    if run.status != 0 or "halted with interrupts disabled" not in run.output:
        raise BenchError(f"pcmachine did not reach the boot sector's HLT:\n{run.output[-2000:]}")


def qemu_command(extra: Sequence[str]) -> Callable[[str, str], List[str]]:
    def command(image: str, folder: str) -> List[str]:
        return ["qemu-system-i386", "-nodefaults", "-display", "none", "-machine", "pc",
                "-m", "16", "-drive", f"file={image},if=floppy,format=raw", "-boot", "a",
                "-device", "isa-debug-exit,iobase=0x501,iosize=1", "-no-reboot", *extra]
    return command


def qemu_check(run: Run, folder: str) -> None:
    if run.status != QEMU_EXIT_STATUS:
        raise BenchError(f"QEMU exited with {run.status}, not through isa-debug-exit "
                         f"({QEMU_EXIT_STATUS}):\n{run.output[-2000:]}")


BOCHSRC = """\
megs: 16
romimage: file=$BXSHARE/BIOS-bochs-latest
vgaromimage: file=$BXSHARE/VGABIOS-lgpl-latest
floppya: 1_44={image}, status=inserted
boot: floppy
display_library: term
clock: sync=none
log: {log}
"""


def bochs_command(image: str, folder: str) -> List[str]:
    """Bochs with a generated bochsrc.  The text display (Debian's Bochs has no
    `nogui`); a build with the internal debugger stops at its prompt before the
    first instruction, so it gets a `c` command file."""
    config = os.path.join(folder, "bochsrc")
    with open(config, "w") as handle:
        handle.write(BOCHSRC.format(image=image, log=os.path.join(folder, "bochs.log")))
    command = ["bochs", "-q", "-f", config]
    if bochs_has_debugger():
        commands = os.path.join(folder, "bochs-continue")
        with open(commands, "w") as handle:
            handle.write("c\n")
        command += ["-rc", commands]
    return command


@functools.lru_cache(maxsize=None)
def bochs_has_debugger() -> bool:
    help_text = subprocess.run(["bochs", "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, errors="replace")
    return "-rc filename" in help_text.stdout + help_text.stderr


def bochs_check(run: Run, folder: str) -> None:
    with open(os.path.join(folder, "bochs.log"), errors="replace") as handle:
        log = handle.read()
    if "Shutdown port: shutdown requested" not in log:
        raise BenchError(f"Bochs did not end through its shutdown port:\n{log[-2000:]}")


def emulators(pythons: Sequence[str]) -> List[Emulator]:
    """The emulators in table order.  Rounds give the long variant about 1-2 s
    more host time than the short one at the speeds measured on the reference
    machine (docs/performance.md)."""
    found = []
    for python in pythons:
        runtime = describe_python(python)
        rounds = (2, 14) if runtime.startswith("PyPy") else (1, 3)
        found.append(Emulator("pcmachine", f"pcmachine ({runtime})", python, rounds,
                              pcmachine_command(python), pcmachine_check))
    qemu = " ".join(filter(None, ["QEMU", program_version("qemu-system-i386"), "TCG"]))
    found += [
        Emulator("qemu", qemu, "qemu-system-i386", (10, 300), qemu_command([]), qemu_check),
        Emulator("qemu-icount", qemu + " -icount shift=0", "qemu-system-i386", (10, 300),
                 qemu_command(["-icount", "shift=0"]), qemu_check),
        Emulator("bochs", " ".join(filter(None, ["Bochs", program_version("bochs")])), "bochs",
                 (2, 32), bochs_command, bochs_check, terminal=True),
    ]
    return found


def describe_python(python: str) -> str:
    """'CPython 3.11.7' for an interpreter, or its path when it cannot run."""
    try:
        result = subprocess.run([python, "-c", "import platform; print(platform.python_implementation(),"
                                 " platform.python_version())"], capture_output=True, text=True)
    except OSError:
        return python
    return result.stdout.strip() or python


def program_version(program: str) -> str:
    """The version an emulator prints, or '' when it is not installed."""
    if shutil.which(program) is None:
        return ""
    if program == "bochs":
        # Bochs prints its banner and exits on --help.
        result = subprocess.run(["bochs", "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, errors="replace")
        match = re.search(r"Bochs x86 Emulator (\S+)", result.stdout + result.stderr)
    else:
        result = subprocess.run([program, "--version"], capture_output=True, text=True)
        match = re.search(r"version (\d[\w.]*)", result.stdout)
    return match.group(1) if match else ""


def installed(emulator: Emulator) -> bool:
    if emulator.key == "pcmachine":
        result = subprocess.run([emulator.program, "-c", "import pcmachine"], capture_output=True)
        return result.returncode == 0
    return shutil.which(emulator.program) is not None


def pcmachine_marked_count(python: str, image: str, folder: str) -> int:
    """Instructions between the loop's two marks in pcmachine, from an I/O trace
    of `machine run` (the difference of the OUTs' instruction counts)."""
    trace = os.path.join(folder, "marks.jsonl")
    command = pcmachine_command(python)(image, folder) + [
        "--trace", trace, "--trace-format", "jsonl", "--trace-events", "io",
        "--trace-ports", f"{MARK_PORT:#x}-{MARK_PORT:#x}"]
    run = run_timed(command)
    pcmachine_check(run, folder)
    marks: Dict[int, List[int]] = {MARK_START: [], MARK_END: []}
    with open(trace) as handle:
        for line in handle:
            event = json.loads(line)
            if event["kind"] == "io.write" and event["port"] == MARK_PORT and event["value"] in marks:
                marks[event["value"]].append(event["icount"])
    if any(len(counts) != 1 for counts in marks.values()):
        raise BenchError(f"pcmachine's trace does not hold each mark once: {marks}")
    return marks[MARK_END][0] - marks[MARK_START][0]


def check_formula(python: str, folder: str) -> None:
    """Stop unless pcmachine counts what marked_instructions() says, for both loops."""
    for mode in MODES:
        image = assemble(folder, mode, CHECK_ROUNDS, CHECK_OUTER, CHECK_INNER)
        counted = pcmachine_marked_count(python, image, folder)
        expected = marked_instructions(mode, CHECK_ROUNDS, CHECK_OUTER, CHECK_INNER)
        if counted != expected:
            raise BenchError(f"{mode}: pcmachine runs {counted} instructions between the marks, "
                             f"the formula says {expected}")


def measure(emulator: Emulator, mode: str, folder: str, repeat: int,
            rounds: Optional[Tuple[int, int]] = None, sizes: Tuple[int, int] = (OUTER, INNER)) -> float:
    """MIPS of `emulator` on one loop: the median over `repeat` alternating pairs
    of short and long runs (`rounds` instead of the emulator's own; `sizes`: the
    loop's outer and inner iteration counts)."""
    short, long = rounds or emulator.rounds
    images = [assemble(folder, mode, count, *sizes) for count in (short, long)]
    instructions = marked_instructions(mode, long, *sizes) - marked_instructions(mode, short, *sizes)
    rates = []
    for _ in range(repeat):
        seconds = []
        for image in images:
            run = run_timed(emulator.command(image, folder), terminal=emulator.terminal)
            emulator.check(run, folder)
            seconds.append(run.seconds)
        if seconds[1] <= seconds[0]:
            raise BenchError(f"{emulator.label}, {mode}: the long run took no longer than the "
                             f"short one ({seconds[1]:.3f} <= {seconds[0]:.3f} s)")
        rates.append(instructions / (seconds[1] - seconds[0]) / 1e6)
    return statistics.median(rates)


def two_numbers(text: str) -> Tuple[int, int]:
    try:
        first, second = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give two whole numbers, such as 2,14")
    return first, second


def rounds_pair(text: str) -> Tuple[int, int]:
    """'2,14' -> (2, 14): the short and the long variant's rounds."""
    short, long = two_numbers(text)
    if not 0 < short < long:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 < SHORT < LONG")
    return short, long


def sizes_pair(text: str) -> Tuple[int, int]:
    """'500,1000' -> (500, 1000): outer and inner counts, 16-bit in real mode."""
    outer, inner = two_numbers(text)
    if not (0 < outer <= 0xFFFF and 0 < inner <= 0xFFFF):
        raise argparse.ArgumentTypeError(f"{text!r}: give counts from 1 to 65535")
    return outer, inner


def format_rate(mips: float) -> str:
    return f"{mips:,.0f}" if mips >= 100 else f"{mips:.2f}"


class OneLineErrors(argparse.ArgumentParser):
    """Bad arguments: one line and exit status 2, as `machine` does."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="compare.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("emulators", nargs="*", metavar="EMULATOR",
                        help=f"{', '.join(EMULATORS)} (default: all)")
    parser.add_argument("--python", action="append", metavar="PATH",
                        help="interpreter that imports pcmachine (repeat for several; default: this one)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="alternating short/long pairs per figure (default 3)")
    parser.add_argument("--rounds", type=rounds_pair, metavar="SHORT,LONG",
                        help="loop runs in the short and the long variant (default: per emulator)")
    parser.add_argument("--sizes", type=sizes_pair, default=(OUTER, INNER), metavar="OUTER,INNER",
                        help=f"the loop's iteration counts (default {OUTER},{INNER}, as `machine bench`)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.emulators) - set(EMULATORS))
    if unknown:
        parser.error(f"unknown emulator {unknown[0]!r} (choose from {', '.join(EMULATORS)})")
    if args.repeat < 1:
        parser.error("--repeat: give 1 or more")
    if shutil.which("nasm") is None:
        print("compare.py: error: nasm is needed to assemble the boot sectors", file=sys.stderr)
        return 2
    wanted = set(args.emulators or EMULATORS)
    chosen = [e for e in emulators(args.python or [sys.executable]) if e.key in wanted]
    rows: Dict[str, List[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as folder:
        try:
            for emulator in chosen:
                if not installed(emulator):
                    rows[emulator.label] = ["not installed", ""]
                    continue
                if emulator.key == "pcmachine":
                    check_formula(emulator.program, folder)
                rows[emulator.label] = [
                    format_rate(measure(emulator, mode, folder, args.repeat, args.rounds, args.sizes))
                    for mode in MODES]
        except BenchError as error:
            print(f"compare.py: {error}", file=sys.stderr)
            return 1
    width = max(len(label) for label in rows)
    print(f"{'emulator':<{width}}  {'real-mode MIPS':>14}  {'protected MIPS':>14}")
    for label, cells in rows.items():
        if cells[1]:
            print(f"{label:<{width}}  {cells[0]:>14}  {cells[1]:>14}")
        else:
            print(f"{label:<{width}}  {cells[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
