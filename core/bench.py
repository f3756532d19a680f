"""`machine bench`: CPU speed on bundled CPU-bound guest loops, and a full machine
booted to a marker.

Loops: each is a flat binary built from `tests/guests/bench/*.asm` (shipped as
`plugins/data/bench_*.bin`), loaded at 0000:7C00 of a machine holding only RAM
and the CPU.  One long run is sampled in windows of `--instructions` each: the
first window is reported as the warm-up (PyPy's JIT compiles then), the median
of the `--repeat` windows after it as the steady rate.  When the loop reaches its
final HLT it is started again at its restart address without a reset, so the
decoded blocks stay cached across windows.

Guest (`--guest "ARGS"`): ARGS are `machine run` arguments; the machine is built
and run by the runner's own code (core/runner.py, steps from core/steps.py) to
the end of its steps, the marker.

Each measurement also prints the decoded-block statistics of its CPUs
(`BlockCounter`), from a second, untimed run of the same instructions with
counting wrappers on that run's CPU objects: counting every block run costs
time (three times as much on PyPy), so the timed run has no counter at all, and
the two runs must agree on the instruction count (they are deterministic).
Host time is read here only, to measure the emulator itself; it is the process
CPU time, so other load on the host does not distort the figure.
"""

import argparse
import dataclasses
import datetime
import multiprocessing
import os
import shlex
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .errors import GuestError, UserError
from .progress import StatusLine

LOAD_ADDRESS = 0x7C00
#: (name, data file, CPU model, restart offset, description).  The restart offset
#: is where the loop is entered again after its HLT: the start for the real-mode
#: loop; the `restart` label (after the switch to paged protected mode) for the
#: protected one.
LOOPS = (
    ("realmode", "bench_realmode_loop.bin", "80486", 0x00,
     "16-bit real-mode integer loop (ALU, memory operands, call/ret, Jcc)"),
    ("protected", "bench_protected_loop.bin", "80486", 0x5A,
     "the same loop in 32-bit flat protected mode with paging on"),
)
DEFAULT_WINDOW = 2_000_000
DEFAULT_REPEAT = 5
#: The last line the bundled demo disk prints before it halts.
DEMO_MARKER = "Halting with interrupts disabled."
#: `machine run` options a bench refuses: they need a person or a host
#: connection, or act on the run's end, which a bench does not report.
REFUSED = {"monitor": "needs a person", "gdb": "needs a debugger", "vnc": "needs a viewer",
           "display": "needs a person", "screen_dump": "acts on the run's end",
           "screenshot": "acts on the run's end"}


def data_path(filename: str) -> str:
    import pcmachine.plugins
    return os.path.join(os.path.dirname(pcmachine.plugins.__file__), "data", filename)


def mips(instructions: int, seconds: float) -> float:
    return instructions / seconds / 1e6 if seconds > 0 else 0.0


# ---------------------------------------------------------------------- block counts
class BlockCounter:
    """Counts one CPU's decoded-block cache work: blocks decoded (and how many of
    them could not be cached), blocks run (a cache look-up that ran a block, whole
    or in part: hits are the runs that needed no decode), code writes reaching the
    CPU's invalidation path, blocks those dropped, and whole-cache flushes.

    Installed on one CPU object by wrapping its slow paths (decode, invalidation,
    flush) in instance attributes, and each runner it decodes in a counting
    closure; a CPU without a counter runs as it always does.  `instructions` adds
    up the instructions of the blocks run: equal to the instructions executed
    when no block faulted part-way."""

    def __init__(self, cpu: Any) -> None:
        self.cpu = cpu
        self.decoded = 0
        self.uncached = 0
        self.runs = [0]              # list cells: the runner closures add to them
        self.run_instructions = [0]
        self.code_writes = 0
        self.dropped = 0
        self.flushes = 0
        self._install()

    @property
    def blocks_run(self) -> int:
        return self.runs[0]

    def cached(self) -> int:
        """Blocks in the decode caches now."""
        return sum(len(cache) for cache in self.cpu.decode_caches())

    def _install(self) -> None:
        cpu = self.cpu
        decode, run_partial = cpu._decode, cpu.run_partial
        drop_block, flush = cpu._drop_block, cpu.flush_code_cache
        code_written = cpu._code_written
        runs, run_instructions = self.runs, self.run_instructions
        clock = cpu.clock

        def counting(runner: Callable[[int, int], int], length: int) -> Callable[[int, int], int]:
            def counted_run(eip: int, icount: int) -> int:
                try:
                    eip = runner(eip, icount)
                except BaseException:
                    # A fault, or a JMP $ that counted the turns up to the next
                    # clock event at once (LoopExit): they did not run one by one.
                    runs[0] += 1
                    run_instructions[0] += length
                    raise
                # A block run to its end; a tier-2 loop's turns count as runs, as
                # tier 1 runs the block once per turn.
                ran = clock.icount - icount
                runs[0] += ran // length
                run_instructions[0] += ran
                return eip
            return counted_run

        def counted_decode(phys: int, eip: int) -> Tuple[Any, Any, int]:
            entry = decode(phys, eip)
            self.decoded += 1
            counted = (counting(entry[0], entry[2]), entry[1], entry[2])
            cache = cpu.code_cache
            if cache.get(phys) is entry:
                cache[phys] = counted
            else:
                self.uncached += 1
            return counted

        def counted_partial(block: Any, eip: int, icount: int) -> Tuple[int, int]:
            runs[0] += 1
            run_instructions[0] += len(block)
            return run_partial(block, eip, icount)

        def counted_code_written(page: int, start: int, end: int) -> None:
            self.code_writes += 1
            code_written(page, start, end)

        def counted_drop(address: int) -> None:
            if any(address in cache for cache in cpu.decode_caches()):
                self.dropped += 1
            drop_block(address)

        def counted_flush() -> None:
            self.flushes += 1
            flush()

        cpu._decode = counted_decode
        cpu.run_partial = counted_partial
        cpu._drop_block = counted_drop
        cpu.flush_code_cache = counted_flush
        listeners = cpu.bus.code_write_listeners
        listeners[listeners.index(code_written)] = counted_code_written


@dataclasses.dataclass
class BlockStats:
    """The counts of one measurement (summed over the machine's CPUs)."""
    decoded: int = 0
    uncached: int = 0
    blocks_run: int = 0
    instructions: int = 0
    code_writes: int = 0
    dropped: int = 0
    flushes: int = 0
    cached: int = 0
    translated: int = 0
    shared: int = 0

    @property
    def hits(self) -> int:
        return self.blocks_run - self.decoded

    @property
    def hit_rate(self) -> float:
        return 100.0 * self.hits / self.blocks_run if self.blocks_run else 0.0

    @classmethod
    def of(cls, counters: Sequence[BlockCounter]) -> "BlockStats":
        return cls(decoded=sum(c.decoded for c in counters), uncached=sum(c.uncached for c in counters),
                   blocks_run=sum(c.blocks_run for c in counters),
                   instructions=sum(c.run_instructions[0] for c in counters),
                   code_writes=sum(c.code_writes for c in counters),
                   dropped=sum(c.dropped for c in counters), flushes=sum(c.flushes for c in counters),
                   cached=sum(c.cached() for c in counters),
                   translated=sum(c.cpu.tier2_translated for c in counters),
                   shared=sum(c.cpu.translations.shared for c in counters))


STATS_HEADER = (f"{'':<12} {'decoded':>9} {'uncached':>8} {'blocks run':>12} {'hit rate':>9} "
                f"{'per block':>9} {'code writes':>11} {'dropped':>8} {'flushes':>7} {'cached':>7} "
                f"{'tier 2':>7} {'shared':>7}")


def stats_line(name: str, stats: BlockStats) -> str:
    per_block = stats.instructions / stats.blocks_run if stats.blocks_run else 0.0
    return (f"{name:<12} {stats.decoded:>9,} {stats.uncached:>8,} {stats.blocks_run:>12,} "
            f"{stats.hit_rate:>8.2f}% {per_block:>9.2f} {stats.code_writes:>11,} {stats.dropped:>8,} "
            f"{stats.flushes:>7,} {stats.cached:>7,} {stats.translated:>7,} {stats.shared:>7,}")


def check_counted(what: str, timed: int, counted: int) -> None:
    """The counting run must repeat the timed one (both are deterministic)."""
    if timed != counted:
        raise UserError(f"{what}: the counting run executed {counted:,} instructions, the timed "
                        f"run {timed:,}: the run is not deterministic (a host-time --timeout?)")


# ---------------------------------------------------------------------- loops
@dataclasses.dataclass
class LoopResult:
    """Per window: (instructions, host seconds); window 0 is the warm-up."""
    windows: List[Tuple[int, float]]
    stats: Optional[BlockStats]
    tier2: bool = False

    @property
    def instructions(self) -> int:
        return sum(count for count, _ in self.windows)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.windows)

    @property
    def warmup_mips(self) -> float:
        return mips(*self.windows[0])

    def steady(self) -> List[float]:
        """MIPS of the windows after the warm-up (the warm-up itself when alone)."""
        return [mips(*window) for window in (self.windows[1:] or self.windows)]

    @property
    def steady_mips(self) -> float:
        return statistics.median(self.steady())


def run_loop(filename: str, model: str, restart: int, window: int = DEFAULT_WINDOW,
             repeat: int = DEFAULT_REPEAT, record_to: Optional[str] = None,
             status: Optional[StatusLine] = None, count: bool = False,
             tier2: Optional[bool] = None) -> LoopResult:
    """Run the loop through the machine's run loop for 1 + `repeat` windows of
    `window` instructions, one long run: at the loop's HLT it goes on at `restart`
    (an offset in the image) with the CPU and its decoded blocks as they are.  With
    `record_to`, while recording (inputs, checkpoint digests every
    DEFAULT_CHECKPOINT_INTERVAL instructions) to that file; with `count`, with a
    BlockCounter on the CPU.  `tier2`: the CPU's tier2 option (None: its default)."""
    from pcmachine.machine import Machine
    from pcmachine.plugins.cpu import CPU
    from pcmachine.plugins.ram import RAM
    from pcmachine.record import Recorder
    with open(data_path(filename), "rb") as handle:
        image = handle.read()
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": 16 << 20})
    options: Dict[str, Any] = {"model": model}
    if tier2 is not None:
        options["tier2"] = tier2
    cpu = machine.add_component(CPU, "cpu", options)
    recorder = None
    if record_to is not None:
        recorder = machine.add_plugin(Recorder(machine, record_to), name="recorder")
    counter = BlockCounter(cpu) if count else None
    cpu.reset()
    machine.bus.memory[LOAD_ADDRESS:LOAD_ADDRESS + len(image)] = image
    cpu.set_reg("cs", 0)
    cpu.set_reg("eip", LOAD_ADDRESS)
    clock = machine.clock
    first = clock.icount
    windows = []
    for _ in range(1 + repeat):
        start_icount, end_icount = clock.icount, clock.icount + window
        start = time.process_time()
        while clock.icount < end_icount:
            reason = machine.run_slice(end_icount)
            if reason == "halted":
                cpu.halted = False
                cpu.set_reg("eip", LOAD_ADDRESS + restart)
            elif reason is not None:
                raise GuestError(f"{filename}: the loop stopped: {reason}")
            if status is not None:
                status.tick(lambda: f"{filename}: {clock.icount - first:,} instructions")
        windows.append((clock.icount - start_icount, time.process_time() - start))
    if recorder is not None:
        recorder.machine_stop(machine, "halted")
    return LoopResult(windows, BlockStats.of([counter]) if counter is not None else None,
                      cpu.tier2_threshold is not None)


def run_loop_alone(*args: Any, **kwargs: Any) -> LoopResult:
    """`run_loop` in a fresh interpreter.  Under PyPy a second machine in one
    process runs 10-20 % slower than the first (the JIT's code for the loop was
    made for the first machine's objects), which made every second figure too low:
    the recording's, tier 2's after tier 1's, the protected loop's after the
    real-mode one's."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(run_loop, args, kwargs)


def bench_loops(names: List[str], window: int, repeat: int, record: bool, status: StatusLine,
                tiers: Sequence[Optional[bool]] = (None,)) -> None:
    """Each loop once per entry of `tiers` (the CPU's tier2 option: None is its
    default), then the block statistics of a counted run of each."""
    print(f"window: {window:,} instructions; warm-up is the first window, steady the median "
          f"of the {repeat} after it" if repeat else f"window: {window:,} instructions, one window")
    print(f"{'loop':<10} {'tier':>4} {'instructions':>13} {'seconds':>8} {'warm-up':>8} {'steady':>8} "
          f"{'range':>13}" + (f" {'recording':>10} {'overhead':>9}" if record else ""))
    results = []
    for name, filename, model, restart, _ in LOOPS:
        if names and name not in names:
            continue
        for tier2 in tiers:
            status.show(f"{name}: timed run (own process)")
            result = run_loop_alone(filename, model, restart, window, repeat, tier2=tier2)
            steady = result.steady()
            spread = f"{min(steady):.2f}-{max(steady):.2f}"
            tier = 2 if result.tier2 else 1
            line = (f"{name:<10} {tier:>4} {result.instructions:>13,} {result.seconds:>8.2f} "
                    f"{result.warmup_mips:>8.2f} {result.steady_mips:>8.2f} {spread:>13}")
            if record:
                status.show(f"{name}: recording (own process)")
                with tempfile.TemporaryDirectory() as folder:
                    recorded = run_loop_alone(filename, model, restart, window, repeat,
                                              os.path.join(folder, "bench.rec"), tier2=tier2)
                base = result.steady_mips
                overhead = (base / recorded.steady_mips - 1) * 100 if recorded.steady_mips > 0 else 0.0
                line += f" {recorded.steady_mips:>10.2f} {overhead:>8.1f}%"
            status.clear()
            print(line)
            counted = run_loop(filename, model, restart, window, repeat, status=status, count=True,
                               tier2=tier2)
            status.clear()
            check_counted(name, result.instructions, counted.instructions)
            results.append((f"{name} {tier}" if len(tiers) > 1 else name, counted.stats))
    print("decoded blocks (counted in a second run of the same windows; tier 2: blocks translated;\n"
          "shared: of those, the blocks given the translation of a block that does the same elsewhere):")
    print(STATS_HEADER)
    for name, stats in results:
        print(stats_line(name, stats))


# ---------------------------------------------------------------------- guests
@dataclasses.dataclass
class GuestResult:
    instructions: int
    virtual_seconds: float
    host_seconds: float
    stats: Optional[BlockStats]


def guest_options(text: str) -> Any:
    """`--guest` text -> the runner's RunOptions: `machine run` arguments, pc.yaml
    when no profile is named, and the demo disk's marker when neither a medium
    nor a step is given."""
    from .cli import run_argument_parser, run_options
    # Quotes group words as in a shell, but a backslash stands for itself: the
    # text was already through the user's shell once, and `--wait A:\>` (a
    # DOS prompt) must not lose it.
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    try:
        words = list(lexer)
    except ValueError as error:
        raise UserError(f"--guest {text!r}: {error}") from None
    args = run_argument_parser("machine bench --guest").parse_args(words)
    for name, why in REFUSED.items():
        if getattr(args, name):
            raise UserError(f"--guest: --{name.replace('_', '-')} {why}; a bench runs alone to its marker")
    if "stdio" in (args.serial, args.debugcon, args.parallel):
        raise UserError("--guest: stdio output would mix with the figures; use file:PATH")
    if args.profile is None and args.restore is None:
        args.profile = "pc.yaml"
    options = run_options(args)
    options.headless = True
    options.quiet = True
    if not options.steps and not options.media and options.restore is None and args.kernel is None:
        options.steps = [("wait", DEMO_MARKER)]
    return options


def run_guest(options: Any, count: bool = False) -> GuestResult:
    """Boot the machine `options` describe and run it to the end of its steps (the
    marker); a run that ends first is an error (exit 1) naming the step.  With
    `count`, with a BlockCounter on each CPU."""
    import trio

    from .display import find_screen
    from .runner import StepRunner, build_machine
    machine = build_machine(options)
    try:
        cpus = machine.processors.cpus or [machine.cpu]
        counters = [BlockCounter(cpu) for cpu in cpus] if count else []
        steps = StepRunner(machine, find_screen(machine), options.steps, options.timeout, None)
        first = machine.clock.icount
        start = time.process_time()
        reason = trio.run(machine.run, options.max_instructions, steps)
        seconds = time.process_time() - start
        steps.final_check()
        if options.steps and not steps.all_done:
            kind, value = steps.steps[steps.completed]
            raise BenchIncomplete(f"the run ended ({reason}) before --{kind} {value!r}")
        return GuestResult(machine.clock.icount - first, machine.clock.now() / 1e9, seconds,
                           BlockStats.of(counters) if count else None)
    finally:
        machine.close()


class BenchIncomplete(UserError):
    """The guest did not reach its marker: the figures would mean nothing (exit 1)."""

    exit_status = 1


def one_rtc_start(options: Any) -> Any:
    """`options` with every RTC that would read the host's clock started at one
    time, now: each boot of the bench (the timed ones and the counting one) then
    has the same inputs, so it runs the same instructions (the BIOS starts its
    tick count from the RTC, and a guest may wait for a tick count it computes)."""
    from .profile import Profile
    if options.restore or not options.profile:
        return options
    now = datetime.datetime.now().replace(microsecond=0).isoformat()
    data = Profile.load(options.profile, options.overrides, options.media, options.components).data
    pinned = [f"{name}.start={now}" for name, entry in data.items()
              if isinstance(entry, dict) and entry.get("plugin") == "cmos" and entry.get("start", "host") == "host"]
    return dataclasses.replace(options, overrides=list(options.overrides) + pinned)


def bench_guest(text: str, options: Any, repeat: int) -> None:
    options = one_rtc_start(options)
    marker = (f"--{options.steps[-1][0]} {options.steps[-1][1]!r}" if options.steps
              else "the end of the run")
    print(f"guest: {text or '(the demo disk)'}; to {marker}")
    print(f"{'boot':<10} {'instructions':>13} {'virtual s':>10} {'host s':>8} {'MIPS':>8}")
    results = []
    for index in range(1 + repeat):
        result = run_guest(options)
        results.append(result)
        print(f"{index + 1:<10} {result.instructions:>13,} {result.virtual_seconds:>10.6f} "
              f"{result.host_seconds:>8.2f} {mips(result.instructions, result.host_seconds):>8.2f}")
    if repeat:
        steady = statistics.median(mips(r.instructions, r.host_seconds) for r in results[1:])
        print(f"warm-up (boot 1) {mips(results[0].instructions, results[0].host_seconds):.2f} MIPS; "
              f"steady (median of boots 2-{repeat + 1}) {steady:.2f} MIPS")
    counted = run_guest(options, count=True)
    check_counted("--guest", results[0].instructions, counted.instructions)
    assert counted.stats is not None
    print("decoded blocks (counted in one more boot):")
    print(STATS_HEADER)
    print(stats_line("counted", counted.stats))
    peak = peak_rss_mb()
    if peak is not None:
        print(f"peak RSS of this process (all the boots above): {peak:,.0f} MB")


def peak_rss_mb() -> Optional[float]:
    """The process's largest resident set so far (`getrusage`: KiB on Linux, bytes
    on macOS), or None where the platform has no `resource` module."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


# ---------------------------------------------------------------------- command
def count(minimum: int) -> Callable[[str], int]:
    """argparse type: a whole number (1_000_000 or 1,000,000 too) of at least `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: give {minimum} or more")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    from .cli import command_parser
    parser = command_parser("machine bench",
                            "Measure CPU speed (MIPS) on guest loops, or a machine booted to a marker.")
    parser.add_argument("--instructions", type=count(1), metavar="N",
                        help=f"instructions per measured window of a loop (default {DEFAULT_WINDOW:,})")
    parser.add_argument("--repeat", type=count(0), metavar="N",
                        help=f"measured windows after the warm-up one (default {DEFAULT_REPEAT}); "
                             "with --guest, boots after the first (default 0)")
    parser.add_argument("--record", action="store_true",
                        help="also run each loop while recording, and print the overhead")
    parser.add_argument("--guest", metavar="ARGS", nargs="?", const="",
                        help="boot a machine with these `machine run` arguments (quoted as one) to its last "
                             f"step; alone: pc.yaml with the demo disk to {DEMO_MARKER!r}")
    parser.add_argument("--tier2", choices=("on", "off", "both"),
                        help="the loops with the CPU's tier 2 on, off, or both one after the other "
                             "(default: the CPU's default, on)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no status line")
    parser.add_argument("loops", nargs="*", help="loop names (default: all)")
    return parser


def runtime_name() -> str:
    """The interpreter and version, and on PyPy the GC nursery the figures depend on."""
    name = f"{sys.implementation.name} {sys.version.split()[0]}"
    if sys.implementation.name == "pypy":
        name += f", GC nursery {os.environ.get('PYPY_GC_NURSERY', 'sized by PyPy')}"
    return name


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [loop[0] for loop in LOOPS]
    unknown = [name for name in args.loops if name not in names]
    if unknown:
        parser.error(f"unknown loop {unknown[0]!r}; choose from {', '.join(names)}")
    if args.guest is not None:
        for flag, given in (("loops", args.loops), ("--instructions", args.instructions),
                            ("--record", args.record), ("--tier2", args.tier2)):
            if given:
                parser.error(f"{flag} and --guest: a guest is measured to its marker; "
                             "give the loops' options without --guest")
    try:
        options = guest_options(args.guest) if args.guest is not None else None
        print(f"runtime: {runtime_name()}")
        if options is not None:
            bench_guest(args.guest, options, args.repeat or 0)
        else:
            status = StatusLine(quiet=args.quiet)
            tiers = {None: (None,), "on": (True,), "off": (False,), "both": (False, True)}[args.tier2]
            bench_loops(args.loops, args.instructions or DEFAULT_WINDOW,
                        DEFAULT_REPEAT if args.repeat is None else args.repeat, args.record, status,
                        tiers)
    except UserError as error:
        print(f"machine bench: {error}", file=sys.stderr)
        return error.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
