"""`machine run`: build a machine, run it with scripted steps, report how it ended.

Steps (`--wait TEXT`, `--type KEYS`, `--change-floppy A:FILE`, `--powerdown` ...)
run in command-line order at slice boundaries; `--powerdown` completes when the
guest powers the machine off.
Exit status: 0 when every step completed (or, with no steps, when the run ended by
itself); 1 when the timeout or the instruction limit came first, or the CPU halted
for good with steps left; the final screen is printed in headless mode and
whenever the run did not complete.
"""

import dataclasses
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import trio

from .debugger.gdbstub import GDBStub
from .debugger.terminal import MonitorTerminal
from .display import find_screen, screen_text
from .errors import UserError
from .machine import Machine
from .profile import Profile
from .progress import StatusLine, step_label, watch
from .removable import drive_and_path
from .screenshot import save_screenshot
from .steps import (ScreenWatcher, add_serial_capture, check_mouse, check_power_button, describe_step,
                    mouse_motion, post_serial, press_power_button, serial_bytes)
from .vnc import VNCServer
from .window import SDLWindow, open_window

if TYPE_CHECKING:
    # The consoles need prompt_toolkit, a fifth of PyPy's start-up: imported
    # when a run opens one (`_open_console`), not for headless runs.
    from .console import RawTerminal, TerminalConsole


def demo_image() -> str:
    """The bundled demo floppy booted when no medium is given."""
    import pcmachine.plugins as plugins
    return os.path.join(os.path.dirname(plugins.__file__), "data", "demo.img")


@dataclasses.dataclass
class RunOptions:
    profile: Optional[str]
    plugins: List[str] = dataclasses.field(default_factory=list)
    media: Dict[str, str] = dataclasses.field(default_factory=dict)
    overrides: List[str] = dataclasses.field(default_factory=list)
    headless: bool = True
    timeout: Optional[float] = None
    max_instructions: Optional[int] = None
    screen_dump: Optional[str] = None
    screenshot: Optional[str] = None
    vnc: Optional[str] = None
    display: Optional[str] = None
    quiet: bool = False
    monitor: Optional[str] = None
    gdb: Optional[str] = None
    gdb_wait: bool = False
    magic_break: bool = False
    start_stopped: bool = False
    steps: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
    serial: Optional[str] = None
    debugcon: Optional[str] = None
    parallel: Optional[str] = None
    record: Optional[str] = None
    checkpoint_interval: Optional[int] = None
    snapshot_at: Optional[int] = None
    snapshot: Optional[str] = None
    restore: Optional[str] = None
    components: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)


class StepRunner:
    """Advances the scripted steps (core/steps.py does the matching) and enforces
    the host-time timeout."""

    def __init__(self, machine: Machine, screen: Any, steps: List[Tuple[str, str]],
                 timeout: Optional[float], display: "Optional[RawTerminal]") -> None:
        self.machine = machine
        self.screen = screen
        self.steps = list(steps)
        self.deadline = time.monotonic() + timeout if timeout is not None else None
        self.display = display
        self.completed = 0
        self.typing = False
        self.pressed = False            # the current --powerdown step pressed the button
        self.watcher = ScreenWatcher(machine)
        self.serial = add_serial_capture(machine) if any(kind.endswith("-serial") for kind, _ in steps) else None
        self.typed_keys = self.typed_serial = False
        typed = [value for kind, value in self.steps if kind == "type"]
        if typed and machine.keyboard is None:
            raise UserError("--type needs a keyboard controller, and this profile has none")
        for value in typed:
            machine.keyboard.check(value.replace("\\n", "\n"))
        for kind, value in self.steps:
            if kind == "type-serial":
                serial_bytes(value)
            elif kind == "change-floppy":
                machine.drives.check(*drive_and_path(value))
            elif kind == "eject-floppy":
                machine.drives.check(value, None)
            elif kind == "powerdown":
                check_power_button(machine)
            elif kind == "mouse":
                mouse_motion(value)
                check_mouse(machine)

    @property
    def all_done(self) -> bool:
        return self.completed == len(self.steps)

    def _satisfied(self, kind: str, value: str, changed_only: bool) -> bool:
        if kind == "wait":
            return self.watcher.shows(value, after_input=self.typed_keys, changed_only=changed_only)
        if kind == "wait-anywhere":
            return self.watcher.shows(value, changed_only=changed_only)
        assert self.serial is not None
        return value.replace("\\n", "\n") in self.serial.text(after_input=self.typed_serial)

    def __call__(self) -> Optional[str]:
        if self.display is not None:
            self.display.refresh()
        while not self.all_done:
            kind, value = self.steps[self.completed]
            if kind in ("wait", "wait-anywhere", "wait-serial"):
                if not self._satisfied(kind, value, changed_only=True):
                    break
            elif kind == "screenshot":
                save_screenshot(self.machine, value)
            elif kind == "change-floppy":
                self.machine.drives.request(*drive_and_path(value))
            elif kind == "eject-floppy":
                self.machine.drives.request(value, None)
            elif kind == "powerdown":
                if not self.pressed:            # done when the machine powers off (final_check)
                    press_power_button(self.machine)
                    self.pressed = True
                break
            elif kind == "type-serial":
                assert self.serial is not None
                self.serial.mark = len(self.serial.data)
                post_serial(self.machine, value)
                self.typed_serial = True
            elif kind == "mouse":
                self.machine.post_input("mouse", mouse_motion(value))
            elif not self.typing:
                self.watcher.set_mark()
                self.machine.keyboard.type(value.replace("\\n", "\n"))
                self.typing = self.typed_keys = True
                continue
            elif self.machine.keyboard.idle():
                self.typing = False     # a --type step completes when the guest has read every key
            else:
                break
            self.completed += 1
        if self.all_done and self.steps:
            return "steps-done"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "timeout"
        return None

    def final_check(self) -> None:
        """The run has ended: the last slice may have completed pending steps.  A
        `--type` whose keys the keyboard has all taken counts as complete even if
        the guest stopped before reading the last bytes (it halted for good)."""
        while not self.all_done:
            kind, value = self.steps[self.completed]
            if kind == "screenshot":
                save_screenshot(self.machine, value)
                self.completed += 1
                continue
            if kind in ("wait", "wait-anywhere", "wait-serial"):
                done = self._satisfied(kind, value, changed_only=False)
            elif kind in ("change-floppy", "eject-floppy"):
                done = False               # the run ended before the change was made
            elif kind == "powerdown":
                done = self.pressed and self.machine.stop_reason == "poweroff"
            elif kind == "type-serial":
                done = not self.machine.inputs_pending_for("serial")
            elif kind == "mouse":
                done = not self.machine.inputs_pending_for("mouse")
            else:
                done = self.typing and not self.machine.inputs_pending_for("key")
            if not done:
                break
            self.typing = False
            self.completed += 1


def _overrides(options: RunOptions, profile_data: Dict[str, Any]) -> List[str]:
    overrides = list(options.overrides)
    for flag, component, value in (("--serial", "com1", options.serial),
                                   ("--debugcon", "debugcon", options.debugcon),
                                   ("--parallel", "lpt1", options.parallel)):
        if value is None:
            continue
        if not isinstance(profile_data.get(component), dict):
            raise UserError(f"{flag}: the profile has no {component} component")
        overrides.append(f"{component}.output={value}")
    return overrides


def build_machine(options: RunOptions) -> Machine:
    """Load the profile (with the bundled demo disk when no medium is given), or the
    machine a snapshot was taken of."""
    if options.restore:
        return _restored_machine(options)
    if not options.profile:
        raise UserError("run: give a PROFILE (e.g. pc.yaml) or --restore FILE")
    probe = Profile.load(options.profile, options.overrides, options.media, options.components)
    media = dict(options.media)
    overrides = _overrides(options, probe.data)
    if not media and not probe.media() and not probe.empty_floppies() \
            and not (probe.data.get("bios") or {}).get("kernel"):
        # copy-on-write: the bundled image is never written or locked, so any
        # number of demo runs go at once (and an installed package may be read-only)
        media["fda"] = demo_image()
        overrides.append("media.fda.overlay=true")
    profile = Profile.load(options.profile, overrides, media, options.components)
    return Machine.from_profile(profile, extra_plugins=options.plugins,
                                setup=lambda machine: _attach_recording_tools(machine, options))


def _restored_machine(options: RunOptions) -> Machine:
    from .record import load_snapshot, prepare_media
    if options.profile or options.media or options.overrides:
        raise UserError("--restore takes the profile and media from the snapshot; "
                        "leave out PROFILE, --set and the drive options")
    header, state, journal = load_snapshot(options.restore)
    data = dict(header["profile"])
    overlays = prepare_media(data, header["media"], journal, options.restore, always_overlay=False)
    data.update(options.components)
    profile = Profile.from_data(data, source=options.restore)
    machine = Machine.from_profile(profile, extra_plugins=options.plugins)
    try:
        machine.restore(state)
        for name, sectors in overlays.items():
            machine.media[name].load_overlay_state(sectors)
        _attach_recording_tools(machine, options)
    except BaseException:
        machine.close()
        raise
    for name in overlays:
        print(f"machine: {name}: the image has changed since the snapshot; this run uses a "
              "copy-on-write overlay of its contents at the snapshot and leaves the image as it is",
              file=sys.stderr)
    return machine


def _attach_recording_tools(machine: Machine, options: RunOptions) -> None:
    from .record import DEFAULT_CHECKPOINT_INTERVAL, Recorder, save_snapshot
    if options.record:
        recorder = Recorder(machine, options.record,
                            options.checkpoint_interval or DEFAULT_CHECKPOINT_INTERVAL)
        machine.add_plugin(recorder, name="recorder")
    if (options.snapshot_at is None) != (options.snapshot is None):
        raise UserError("--snapshot-at N and --snapshot FILE go together")
    if options.snapshot_at is not None:
        machine.at_icount(options.snapshot_at, lambda: save_snapshot(machine, options.snapshot))


def run_machine(options: RunOptions) -> int:
    machine = build_machine(options)
    try:
        return _run(machine, options)
    finally:
        machine.close()


def _run(machine: Machine, options: RunOptions) -> int:
    screen = find_screen(machine)
    shoot = lambda path: save_screenshot(machine, path)  # noqa: E731
    console, terminal = _open_console(machine, screen, options, shoot)
    steps = StepRunner(machine, screen, options.steps, options.timeout, console)
    monitor = None
    if options.gdb_wait and not options.gdb:
        raise UserError("--gdb-wait needs --gdb tcp:HOST:PORT")
    if options.gdb and options.monitor:
        raise UserError("--gdb and --monitor: use one (gdb's `monitor CMD` runs monitor commands)")
    if options.magic_break and not (options.gdb or options.monitor):
        raise UserError("--magic-break stops into a debugger: add --monitor stdio or --gdb tcp:HOST:PORT "
                        "(or use machine debug)")
    gdb = GDBStub(machine, options.gdb, options.gdb_wait) if options.gdb else None
    if options.monitor is not None:
        if options.monitor != "stdio":
            raise UserError(f"--monitor {options.monitor}: the monitor is on the terminal: --monitor stdio")
        monitor = MonitorTerminal(machine, shoot, start_stopped=options.start_stopped)
        if terminal is not None:
            monitor.share_terminal(terminal)
        console_monitor = monitor
    else:
        console_monitor = None
    if options.magic_break:
        (monitor or gdb).monitor.execute("break magic")
    if terminal is not None:
        terminal.open_monitor = _console_monitor(machine, terminal, shoot, console_monitor)
    vnc = VNCServer(machine, options.vnc) if options.vnc else None
    window = open_window(machine, options.display) if options.display and not options.headless else None
    machine.realtime = console is not None or vnc is not None or window is not None or gdb is not None
    previous_sigterm = signal.signal(signal.SIGTERM, lambda number, frame: machine.request_stop("terminated"))
    if monitor is not None and console is None:
        monitor.install()
    try:
        if console is not None:
            console.start()
        try:
            reason = trio.run(_run_with_host_tasks, machine, options, steps, console, vnc, window, gdb)
        finally:
            if console is not None:
                console.stop()
            if window is not None:
                window.close()
    except KeyboardInterrupt:
        if console is None and screen is not None:
            print(screen_text(screen))
        print("machine: interrupted; media flushed", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        if monitor is not None:
            monitor.uninstall()
    steps.final_check()
    return _report(machine, screen, steps, reason, options)


def _open_console(machine: Machine, screen: Any, options: RunOptions, shoot: Callable[[str], None]
                  ) -> "Tuple[Optional[RawTerminal], Optional[TerminalConsole]]":
    """The terminal console of an interactive run (the serial port on stdio, or
    the guest's text screen drawn in the terminal) and, for the screen, the same
    object again (it can open the monitor); (None, None) when the run has none."""
    if options.serial == "stdio" and sys.stdin.isatty():
        from .console import SerialConsole
        return SerialConsole(machine, shoot), None
    if (not options.headless and options.display is None and screen is not None
            and sys.stdin.isatty() and sys.stdout.isatty()):
        from .console import TerminalConsole
        terminal = TerminalConsole(machine, screen, shoot)
        return terminal, terminal
    return None, None


def _console_monitor(machine: Machine, console: "TerminalConsole", shoot: Any,
                     monitor: Optional[MonitorTerminal]) -> Callable[[], None]:
    """The console's Ctrl+A C: the monitor on the console's terminal, created on
    first use when --monitor did not make one (its history for going backwards
    starts then)."""
    held = [monitor]

    def open_monitor() -> None:
        if held[0] is None:
            held[0] = MonitorTerminal(machine, shoot)
            held[0].share_terminal(console)
        held[0].enter()
    return open_monitor


async def _run_with_host_tasks(machine: Machine, options: RunOptions, steps: StepRunner,
                               console: "Optional[RawTerminal]", vnc: Optional[VNCServer],
                               window: Optional[SDLWindow], gdb: Optional[GDBStub]) -> str:
    """The machine's run loop beside the host-side tasks that feed its input queue.
    Those run as system tasks, cancelled when the run ends, so exceptions from the
    run (Ctrl+C, a guest error) reach the caller as they are, not in a group."""
    if options.serial == "stdio" and not sys.stdin.isatty():
        trio.lowlevel.spawn_system_task(_feed_serial_from_stdin, machine)
    if console is not None:
        trio.lowlevel.spawn_system_task(console.read_keys)
    else:
        trio.lowlevel.spawn_system_task(watch, machine, StatusLine(quiet=options.quiet), step_label(steps))
    if vnc is not None:
        await vnc.open()
    if gdb is not None:
        await gdb.open()
    if window is not None:
        trio.lowlevel.spawn_system_task(window.run)
    return await machine.run(options.max_instructions, steps)


async def _feed_serial_from_stdin(machine: Machine) -> None:
    """`--serial stdio` with piped standard input: its bytes go to COM1 as host
    input (paced by the UART's receiver, recorded like keys)."""
    reader = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    async with reader:
        while True:
            try:
                data = await reader.receive_some(256)
            except (OSError, trio.ClosedResourceError):
                return
            if not data:
                return
            machine.post_input("serial", {"port": "com1", "bytes": list(data)})


def _report(machine: Machine, screen: Any, steps: StepRunner, reason: str, options: RunOptions) -> int:
    completed = steps.all_done
    messages = {
        "timeout": f"timeout after {options.timeout:g} s" if options.timeout else "timeout",
        "instruction-limit": f"instruction limit reached ({machine.clock.icount} instructions)",
        "terminated": "terminated by SIGTERM; media flushed",
        "poweroff": "the guest powered the machine off (ACPI S5)",
    }
    if reason == "debug-exit":
        message = f"the guest wrote to the debug-exit port: exit status {machine.exit_status & 0xFF:#x}"
    elif reason == "halted":
        cpu = machine.cpu
        message = (f"halted with interrupts disabled at "
                   f"{cpu.get_reg('cs'):04X}:{cpu.get_reg('eip'):08X}")
    else:
        message = messages.get(reason)
    if screen is not None and options.screen_dump:
        screen.dump_screen(options.screen_dump)
    if options.screenshot:
        save_screenshot(machine, options.screenshot)
    failed = bool(options.steps) and not completed
    if failed:
        pending = steps.steps[steps.completed]
        status = 1
        message = (message or reason) + f"; step not reached: {describe_step(*pending)}"
    elif reason == "debug-exit":
        status = machine.exit_status & 0xFF    # the host keeps the low byte of QEMU's exit()
    else:
        status = 0
    if screen is not None and (options.headless or failed):
        print(screen_text(screen))
    if message:
        print(f"machine: {message}", file=sys.stderr)
    return status
