"""The `machine` command.

    machine run PROFILE [options] [--wait TEXT] [--type KEYS] ...
    machine profiles
    machine plugins
    machine cputest PATH...
    machine bench
    machine fuzz [--seed S] [--count N] [--mode real|pm16|pm32|paged]

Bad input (profile, options, images, plugins) ends with a one-line error and exit
status 2; a guest that cannot go on is reported readably with status 3; Ctrl+C ends
a run cleanly with status 130.  Tracebacks are for our own bugs only.
"""

import argparse
import gc
import os
import platform
import sys
from typing import Any, Dict, List, Optional

from .errors import GuestError, UserError

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors in one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class _StepAction(argparse.Action):
    """--wait and --type are kept in command-line order in `args.steps`."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Optional[str] = None) -> None:
        steps = getattr(namespace, "steps", None) or []
        steps.append((self.const, "" if self.nargs == 0 else values))
        namespace.steps = steps


def add_trace_arguments(parser: argparse.ArgumentParser) -> None:
    """The --trace* flags, shared by `run` and `replay` (see docs/tracing.md)."""
    parser.add_argument("--trace", metavar="FILE", help="write a trace of machine events to FILE (- for stderr)")
    parser.add_argument("--trace-events", metavar="KINDS",
                        help="comma-separated: io,irq,int,exc,mode,bios,disk,key,serial,insn,mmio,debugcon,parallel,input")
    parser.add_argument("--trace-range", metavar="START-END", help="linear address range for insn events")
    parser.add_argument("--trace-ports", metavar="LO-HI", help="port range for io events")
    parser.add_argument("--trace-from", type=int, metavar="N", help="first instruction count traced")
    parser.add_argument("--trace-to", type=int, metavar="N", help="instruction count where tracing ends (not traced)")
    parser.add_argument("--trace-format", choices=("text", "jsonl"), help="line format (default text)")
    parser.add_argument("--trace-max-size", metavar="SIZE",
                        help="stop tracing before the file passes SIZE bytes (such as 500M or 2G); "
                             "the run goes on")


def kernel_components(args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    """The BIOS options --kernel, --initrd and --append set (QEMU's flags)."""
    if args.kernel is None:
        if args.initrd is not None or args.append is not None:
            raise UserError("--initrd and --append need --kernel")
        return {}
    options: Dict[str, Any] = {"kernel": os.path.abspath(args.kernel)}
    if args.initrd is not None:
        options["initrd"] = os.path.abspath(args.initrd)
        options["initrd_name"] = args.initrd      # the module's string, as QEMU passes it
    if args.append is not None:
        options["append"] = args.append
    return {"bios": options}


def trace_components(args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    """The trace component entry the --trace* flags ask for (none without --trace)."""
    traced = [flag for flag in ("trace_events", "trace_range", "trace_ports", "trace_from",
                                "trace_to", "trace_format", "trace_max_size") if getattr(args, flag) is not None]
    if args.trace is None:
        if traced:
            raise UserError(f"--{traced[0].replace('_', '-')} needs --trace FILE")
        return {}
    from pcmachine.plugins.debug.trace import tracer_options_from_cli
    return {"trace": tracer_options_from_cli(args)}


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", nargs="?", help="profile path or bundled name (pc.yaml)")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE:CLASS",
                        help="add a plugin: module:Class, ./file.py:Class or an entry-point name")
    for drive in ("fda", "fdb", "hda", "hdb", "hdc", "hdd", "cdrom"):
        parser.add_argument(f"--{drive}", metavar="IMG", help=f"raw image for drive {drive}")
    parser.add_argument("--kernel", metavar="FILE",
                        help="boot a Linux bzImage or a multiboot kernel instead of a disk (bios.kernel)")
    parser.add_argument("--initrd", metavar="FILE", help="the kernel's initrd / first module (bios.initrd)")
    parser.add_argument("--append", metavar="CMDLINE", help="the kernel command line (bios.append)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile key, e.g. --set cpu.model=80386")
    parser.add_argument("--quiet", action="store_true",
                        help="no status line (instructions, virtual time, MIPS, step) on the terminal")
    parser.add_argument("--headless", action="store_true",
                        help="no live screen; print the final screen text on exit")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stop after this many host seconds")
    parser.add_argument("--max-instructions", type=int, metavar="N",
                        help="stop after N instructions")
    parser.add_argument("--screen-dump", metavar="FILE",
                        help="write the final screen to FILE (text; attributes in FILE.attr)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="write a PNG of the final screen (any video mode)")
    parser.add_argument("--display", metavar="KIND",
                        help="window (or window,scale=N): a graphical window (pip install 'pcmachine[window]'); "
                             "none: no live screen")
    parser.add_argument("--gdb", metavar="tcp:HOST:PORT",
                        help="gdb remote stub (tcp:127.0.0.1:1234; loopback unless a host is given)")
    parser.add_argument("--gdb-wait", action="store_true",
                        help="with --gdb: hold the machine before its first instruction until gdb continues")
    parser.add_argument("--monitor", metavar="stdio",
                        help="the built-in monitor on the terminal: Ctrl+C or a breakpoint stops into it")
    parser.add_argument("--magic-break", action="store_true",
                        help="stop into the monitor or gdb after each `xchg bx, bx` (Bochs' magic breakpoint)")
    parser.add_argument("--vnc", metavar="HOST:PORT",
                        help="serve the screen to VNC viewers (127.0.0.1 unless a host is given; :1 is 5901)")
    parser.add_argument("--serial", metavar="SINK", help="COM1 output: stdio or file:PATH")
    parser.add_argument("--debugcon", metavar="SINK", help="port 0xE9 output: stdio or file:PATH")
    parser.add_argument("--parallel", metavar="SINK", help="LPT1 printer output: stdio or file:PATH")
    parser.add_argument("--record", metavar="FILE.rec",
                        help="record inputs and state hashes for `machine replay`")
    parser.add_argument("--checkpoint-interval", type=int, metavar="N",
                        help="instructions between state hashes in a recording (default 50000000)")
    parser.add_argument("--snapshot-at", type=int, metavar="N",
                        help="save a snapshot when the instruction count reaches N")
    parser.add_argument("--snapshot", metavar="FILE", help="snapshot file for --snapshot-at")
    parser.add_argument("--restore", metavar="FILE",
                        help="continue from a snapshot (the profile comes from the snapshot)")
    add_trace_arguments(parser)
    parser.add_argument("--wait", action=_StepAction, const="wait", dest="steps", metavar="TEXT",
                        help="step: wait until TEXT is on the screen (after a --type: text that appeared after the keys)")
    parser.add_argument("--type", action=_StepAction, const="type", dest="steps", metavar="KEYS",
                        help=r"step: type KEYS (\n is Enter; {enter} {f1} {ctrl+c} ...)")
    parser.add_argument("--wait-anywhere", action=_StepAction, const="wait-anywhere", dest="steps",
                        metavar="TEXT", help="step: wait until TEXT is anywhere on the screen (even before typed keys)")
    parser.add_argument("--wait-serial", action=_StepAction, const="wait-serial", dest="steps", metavar="TEXT",
                        help="step: wait until COM1 has sent TEXT (after the last --type-serial, if any)")
    parser.add_argument("--type-serial", action=_StepAction, const="type-serial", dest="steps", metavar="KEYS",
                        help=r"step: send KEYS to COM1 (\n is Enter, sent as CR; {ctrl+c}, {up} ...)")
    parser.add_argument("--mouse", action=_StepAction, const="mouse", dest="steps", metavar="DX,DY[,BUTTONS]",
                        help="step: move the PS/2 mouse DX right and DY down, then hold BUTTONS "
                             "(1 left, 2 right, 4 middle; default none), as QEMU's mouse_move and mouse_button")
    parser.add_argument("--change-floppy", action=_StepAction, const="change-floppy", dest="steps",
                        metavar="A:FILE", help="step: put FILE in floppy drive A (or B), raising its disk-change line")
    parser.add_argument("--eject-floppy", action=_StepAction, const="eject-floppy", dest="steps",
                        metavar="A", help="step: take the floppy out of drive A (or B)")
    parser.add_argument("--powerdown", action=_StepAction, const="powerdown", dest="steps", nargs=0,
                        help="step: press the ACPI power button (QEMU's system_powerdown); "
                             "done when the guest has powered the machine off")
    parser.add_argument("--screenshot-step", action=_StepAction, const="screenshot", dest="steps",
                        metavar="FILE.png", help="step: write a PNG of the screen at this point of the steps")


def command_parser(prog: str, description: str = "") -> argparse.ArgumentParser:
    """A parser for a command that owns its arguments: one-line errors, exit 2."""
    return _ArgumentParser(prog=prog, description=description)


def run_argument_parser(prog: str) -> argparse.ArgumentParser:
    """The `machine run` arguments on their own (`machine bench --guest`)."""
    parser = command_parser(prog)
    _add_run_arguments(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="machine", description="pcmachine: a PC emulator framework")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    run = commands.add_parser("run", help="boot a machine profile")
    _add_run_arguments(run)
    debug = commands.add_parser("debug", help="boot a profile stopped in the monitor (machine run --monitor stdio)")
    _add_run_arguments(debug)
    debug.set_defaults(start_stopped=True, monitor="stdio")
    commands.add_parser("profiles", help="list the bundled machine profiles")
    plugins = commands.add_parser("plugins", help="list the plugins found, with their source")
    plugins.add_argument("name", nargs="?", help="show this plugin's profile options")
    commands.add_parser("cputest", help="run SingleStepTests CPU test vectors", add_help=False)
    commands.add_parser("bench", help="measure CPU speed (MIPS): bundled guest loops, or a boot to a marker",
                        add_help=False)
    commands.add_parser("replay", help="replay a recording and verify it", add_help=False)
    commands.add_parser("compat", help="boot the public guest corpus; write docs/compatibility.md", add_help=False)
    commands.add_parser("trace", help="trace tools: machine trace diff A B", add_help=False)
    commands.add_parser("fuzz", help="differential CPU fuzzing against Unicorn", add_help=False)
    return parser


def _cmd_profiles() -> int:
    import yaml

    from .profile import bundled_profiles, bundled_profiles_dir
    for name in bundled_profiles():
        with open(os.path.join(bundled_profiles_dir(), name), encoding="utf-8") as handle:
            description = (yaml.safe_load(handle) or {}).get("description", "")
        print(f"{name:16} {description}")
    return EXIT_OK


def _cmd_plugins(name: Optional[str]) -> int:
    from .pluginmanager import available_plugins, resolve_plugin
    if name is None:
        for plugin, source in available_plugins():
            print(f"{plugin:12} {source}")
        return EXIT_OK
    cls = resolve_plugin(name)
    print(f"{name}: {(cls.__doc__ or '').strip().splitlines()[0] if cls.__doc__ else ''}")
    options = getattr(cls, "OPTIONS", {})
    if not options:
        print("  no options")
    for key, option in options.items():
        kind = option.kind + (" (" + ", ".join(map(str, option.choices)) + ")" if option.choices else "")
        print(f"  {key:16} {kind:24} default {option.default!r}: {option.doc}")
    return EXIT_OK


def run_options(args: argparse.Namespace) -> Any:
    """The runner's RunOptions for parsed `machine run` arguments (also `machine
    bench --guest`)."""
    from .runner import RunOptions
    return RunOptions(
        profile=args.profile,
        plugins=args.plugin,
        media={drive: getattr(args, drive) for drive in ("fda", "fdb", "hda", "hdb", "hdc", "hdd", "cdrom")
               if getattr(args, drive)},
        overrides=list(args.set),
        headless=args.headless,
        timeout=args.timeout,
        max_instructions=args.max_instructions,
        screen_dump=args.screen_dump,
        screenshot=args.screenshot,
        vnc=args.vnc,
        display=args.display,
        quiet=args.quiet,
        monitor=args.monitor,
        gdb=args.gdb,
        gdb_wait=args.gdb_wait,
        magic_break=args.magic_break,
        start_stopped=getattr(args, "start_stopped", False),
        steps=list(getattr(args, "steps", None) or []),
        serial=args.serial,
        debugcon=args.debugcon,
        parallel=args.parallel,
        record=args.record,
        checkpoint_interval=args.checkpoint_interval,
        snapshot_at=args.snapshot_at,
        snapshot=args.snapshot,
        restore=args.restore,
        components={**trace_components(args), **kernel_components(args)},
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_machine
    return run_machine(run_options(args))


def _cmd_replay(argv: List[str]) -> int:
    """`machine replay FILE.rec [--plugin REF]... [--trace FILE ...]`"""
    from .record import replay
    parser = _ArgumentParser(prog="machine replay",
                             description="re-run a recording and verify every state hash")
    parser.add_argument("recording", help="a file written by machine run --record")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE:CLASS",
                        help="attach an analysis plugin (module:Class or ./file.py:Class)")
    parser.add_argument("--quiet", action="store_true", help="no status line while it runs")
    add_trace_arguments(parser)
    args = parser.parse_args(argv)
    return replay(args.recording, args.plugin, trace_components(args), quiet=args.quiet)


#: PyPy's nursery (the arena of young objects) for the `machine` command.  PyPy
#: sizes it once at start-up from the CPU's cache, half of the L3 it reports, and a
#: VM may report hundreds of MiB: 240 MB on our machines, which cost the Debian
#: boot 2.1 GB of peak memory against 1.27 GB with 64 MB, at the same speed
#: (docs/performance.md, Memory).
PYPY_NURSERY = "64MB"


def _restart_with_sized_nursery() -> None:
    """On PyPy, run the command again in this process with PYPY_GC_NURSERY set,
    unless the user chose a nursery (or the command was not started as a script)."""
    if platform.python_implementation() != "PyPy" or "PYPY_GC_NURSERY" in os.environ:
        return
    script = sys.argv[0]
    if not os.path.isfile(script):
        return
    os.environ["PYPY_GC_NURSERY"] = PYPY_NURSERY
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, script] + sys.argv[1:])


#: CPython's oldest generation is collected after this many collections of the
#: middle one (its default is 10).
CPYTHON_FULL_COLLECTION_EVERY = 100


def _space_full_collections() -> None:
    """On CPython, collect the oldest generation ten times less often.  A full
    collection walks every live object, and a machine keeps hundreds of
    thousands of them (its decoded code), growing as it decodes: at the default,
    eleven full passes cost the FreeDOS boot 0.6 s of its 7.5.  The machine
    makes almost no cyclic garbage (a dropped block is freed by reference
    counting), so waiting longer keeps no more memory."""
    if platform.python_implementation() == "CPython":
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, CPYTHON_FULL_COLLECTION_EVERY)


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None:
        _restart_with_sized_nursery()
    _space_full_collections()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    own_parsers = {"cputest": "cputest", "bench": "bench", "compat": "compat", "fuzz": "fuzz"}
    if argv[:2] == ["trace", "diff"]:
        from .tracediff import main as trace_diff
        return _guarded(lambda: trace_diff(argv[2:]))
    if argv and argv[0] == "trace":
        print("machine trace: the trace tool is `machine trace diff A B`", file=sys.stderr)
        return EXIT_USAGE
    if argv and argv[0] == "replay":
        return _guarded(lambda: _cmd_replay(argv[1:]))
    if argv and argv[0] in own_parsers:
        # These commands own their argument parsing.
        from importlib import import_module
        command = import_module(f"pcmachine.{own_parsers[argv[0]]}")
        return _guarded(lambda: command.main(argv[1:]))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "profiles":
        return _guarded(_cmd_profiles)
    if args.command == "plugins":
        return _guarded(lambda: _cmd_plugins(args.name))
    if args.command == "debug" and args.monitor is None:
        args.monitor = "stdio"
    return _guarded(lambda: _cmd_run(args))


def _guarded(action: Any) -> int:
    try:
        return action()
    except UserError as error:
        print(f"machine: error: {error}", file=sys.stderr)
        return error.exit_status
    except GuestError as error:
        print(error.report or error.summary, file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("machine: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK

