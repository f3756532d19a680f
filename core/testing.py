"""The pytest plugin: boot a machine in a test, wait for text, type, check.

Installed with pcmachine (entry point `pytest11`), so any project that installs it
gets the `pc` fixture::

    def test_shell(pc):
        m = pc.boot("pc.yaml", fda="build/os.img")
        m.wait_text("$ ", timeout=30)             # host seconds; virtual=True for guest time
        m.type("ls -l\\n")
        m.wait_text("5352", after_input=True)     # only text that appeared after the keys
        assert "cat" in m.screen_text()
        m.serial.wait("login:")                   # COM1 output
        m.screenshot("shell.png")
        m.change_floppy("A", "disk2.img")          # or m.eject_floppy("A"): disk change
        m.powerdown()                             # ACPI power button; runs until the guest powers off

The waits and the typing are those of the CLI steps (`pcmachine.steps`).  A wait
that times out fails the test with the final screen, the serial tail and the last
machine events.  `pc.boot(..., snapshot_cache=DIR, ready=TEXT)` boots to TEXT once,
saves a snapshot in DIR keyed by the profile and the media's contents, and later
boots restore it instead (fast repeated tests).  Media are copied into the test's
temporary folder unless `copy_media=False`, so a test never changes its images.
"""

import collections
import hashlib
import os
import shutil
import time
from typing import Any, Callable, Deque, Dict, List, Optional

import pytest

from .display import find_screen, screen_text
from .errors import UserError
from .hookspecs import hookimpl
from .machine import Machine
from .profile import EMPTY, Profile
from .screenshot import save_screenshot
from .steps import ScreenWatcher, SerialCapture, add_serial_capture, post_serial, press_power_button

DRIVES = ("fda", "fdb", "hda", "hdb", "hdc", "hdd", "cdrom")
SLICE_CHECK = 0.02          # host seconds between condition checks


class GuestTimeout(AssertionError):
    """A wait ran out of time; the message shows what the machine was doing."""


class RecentEvents:
    """The last machine events (interrupts, exceptions, mode changes, BIOS calls),
    for failure reports."""

    def __init__(self, size: int = 20) -> None:
        self.events: Deque[str] = collections.deque(maxlen=size)
        self.clock: Any = None

    def _add(self, text: str) -> None:
        icount = self.clock.icount if self.clock is not None else 0
        self.events.append(f"[{icount}] {text}")

    @hookimpl
    def cpu_exception(self, machine: Any, vector: int, error_code: Optional[int], cs: int, eip: int) -> None:
        self._add(f"exception {vector} at {cs:04x}:{eip:08x}" + ("" if error_code is None else f" code {error_code:#x}"))

    @hookimpl
    def cpu_mode_change(self, machine: Any, what: str, old: int, new: int) -> None:
        self._add(f"mode {what}: {old} -> {new}")

    @hookimpl
    def triple_fault(self, machine: Any, report: str) -> None:
        self._add("triple fault: " + report.splitlines()[0])

    @hookimpl
    def machine_reset(self, machine: Any, cause: str) -> None:
        self._add(f"reset ({cause})")


class Serial:
    """`m.serial`: what COM1 sent, waits on it, and typing to it."""

    def __init__(self, running: "RunningMachine", capture: SerialCapture) -> None:
        self.running = running
        self.capture = capture

    def text(self) -> str:
        return self.capture.text()

    def wait(self, text: str, timeout: float = 30.0, after_input: bool = False, virtual: bool = False) -> None:
        self.running.run_until(lambda: text in self.capture.text(after_input), timeout, virtual,
                               f"serial text {text!r}")

    def type(self, keys: str) -> None:
        """Send KEYS (`--type-serial` syntax) to COM1; later `after_input` waits
        look only at what comes after them."""
        self.capture.mark = len(self.capture.data)
        post_serial(self.running.machine, keys)
        self.running.run_until(lambda: not self.running.machine.inputs_pending_for("serial"), 30.0, False,
                               "the guest taking the serial bytes")


class RunningMachine:
    """A booted machine driven synchronously from a test."""

    def __init__(self, machine: Machine, events: bool = True) -> None:
        self.machine = machine
        self.screen = find_screen(machine)
        self.watcher = ScreenWatcher(machine)
        self.events = RecentEvents()
        self.events.clock = machine.clock
        if events:
            machine.add_plugin(self.events, name="pcmachine-testing-events")
        self.serial = Serial(self, add_serial_capture(machine)) if machine.accepts_input("serial") else None
        #: copies an image into the test's folder (set by `pc.boot` unless copy_media=False)
        self.copy_media: Optional[Callable[[str], str]] = None
        #: the guest powered the machine off (ACPI S5)
        self.powered_off = False
        self.machine.plugin_manager.hook.machine_start(machine=machine)

    # ------------------------------------------------------------------ running
    def run_until(self, done: Any, timeout: float, virtual: bool, what: str,
                  done_if_halted: Any = None) -> None:
        """Run slices until `done()`; fail after `timeout` seconds (host seconds, or
        virtual seconds of guest time when `virtual`).  A CPU halted for good ends
        the wait: done if `done_if_halted()` says so, a failure otherwise."""
        clock = self.machine.clock
        start_host, start_virtual = time.monotonic(), clock.now()
        while not done():
            reason = self.machine.run_slice()
            self.powered_off = self.powered_off or reason == "poweroff"
            if reason == "halted" and not done():
                if done_if_halted is not None and done_if_halted():
                    return
                self.fail(f"the CPU halted for good while waiting for {what}")
            if reason not in (None, "halted") and not done():
                self.fail(f"the machine stopped ({reason}) while waiting for {what}")
            elapsed = (clock.now() - start_virtual) / 1e9 if virtual else time.monotonic() - start_host
            if elapsed >= timeout and not done():
                unit = "virtual" if virtual else "host"
                self.fail(f"timeout after {timeout:g} {unit} seconds waiting for {what}")

    def run_for(self, seconds: float) -> None:
        """Let the guest run for this much virtual time."""
        end = self.machine.clock.now() + int(seconds * 1e9)
        self.run_until(lambda: self.machine.clock.now() >= end, seconds + 1, True, "time to pass")

    def fail(self, message: str) -> None:
        parts = [message, "--- screen ---", self.screen_text()]
        if self.serial is not None and self.serial.text():
            parts += ["--- serial (last lines) ---", self.serial.capture.tail()]
        if self.events.events:
            parts += ["--- last events ---", *self.events.events]
        raise GuestTimeout("\n".join(parts))

    # ------------------------------------------------------------------ screen
    def screen_text(self) -> str:
        return screen_text(self.screen) if self.screen is not None else ""

    def wait_text(self, text: str, timeout: float = 30.0, after_input: bool = False, virtual: bool = False) -> None:
        """Wait until `text` is on the screen (text modes); with `after_input`, only
        text that appeared after the last `type()` counts.  The screen is searched
        now, then again only when it changed."""
        watcher = self.watcher
        if watcher.shows(text, after_input=after_input):
            return
        self.run_until(lambda: watcher.shows(text, after_input=after_input, changed_only=True),
                       timeout, virtual, f"{text!r} on the screen")

    def type(self, keys: str, timeout: float = 30.0) -> None:
        """Type KEYS (`--type` syntax) and run until the guest has read them all."""
        keyboard = self.machine.keyboard
        if keyboard is None:
            raise UserError("type(): this machine has no keyboard controller")
        self.watcher.set_mark()
        keyboard.type(keys)
        self.run_until(keyboard.idle, timeout, False, "the guest reading the typed keys",
                       done_if_halted=lambda: not self.machine.inputs_pending_for("key"))

    def change_floppy(self, drive: str, path: str, readonly: Optional[bool] = None,
                      overlay: Optional[bool] = None) -> None:
        """Put the image at `path` in floppy drive `drive` ("A", "B", "fda", "fdb"),
        as `--change-floppy` does: the drive's disk-change line goes up.  Takes
        effect when the machine runs on (the next wait); the image is copied into
        the test's folder first, as `pc.boot` copies media."""
        if self.copy_media is not None:
            path = self.copy_media(str(path))
        self.machine.drives.request(drive, str(path), readonly, overlay)

    def eject_floppy(self, drive: str) -> None:
        """Take the floppy out of `drive` (`--eject-floppy`)."""
        self.machine.drives.request(drive, None)

    def powerdown(self, timeout: float = 30.0, virtual: bool = False, wait: bool = True) -> None:
        """Press the ACPI power button (`--powerdown`, QEMU's `system_powerdown`) and
        run until the guest powers the machine off (ACPI S5); a failure if it stops
        otherwise or the timeout comes first.  `wait=False` only presses it: the
        guest sees the press when the machine runs on (the next wait)."""
        press_power_button(self.machine)
        if wait:
            self.run_until(lambda: self.powered_off, timeout, virtual, "the guest to power the machine off")

    def screenshot(self, path: str) -> str:
        save_screenshot(self.machine, str(path))
        return str(path)

    def close(self) -> None:
        self.machine.close()


class PC:
    """The `pc` fixture: boots machines for one test and closes them after it."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.machines: List[RunningMachine] = []

    def boot(self, profile: str = "pc.yaml", *, overrides: Optional[List[str]] = None,
             copy_media: bool = True, snapshot_cache: Optional[str] = None, ready: Optional[str] = None,
             ready_timeout: float = 120.0, events: bool = True, **media: str) -> RunningMachine:
        """Boot a machine; `events=False` leaves out the recent-events log of failure
        reports, whose hooks cost every CPU mode switch (timing runs: `compat`)."""
        unknown = sorted(set(media) - set(DRIVES))
        if unknown:
            raise UserError(f"boot(): unknown drive {unknown[0]!r}; drives are {', '.join(DRIVES)}")
        paths = {drive: self._copy(str(path)) if copy_media and path != EMPTY else str(path)
                 for drive, path in media.items()}
        key = self._cache_key(profile, overrides, paths, ready) if snapshot_cache else None
        snapshot = os.path.join(snapshot_cache, key + ".snap") if key else None
        running = None
        if snapshot and os.path.exists(snapshot):
            try:
                running = self._restore(snapshot, paths, events)
            except UserError:
                running = None            # the guest wrote its disks before `ready`: boot afresh
        if running is None:
            running = RunningMachine(Machine.from_profile(Profile.load(profile, list(overrides or []), paths)),
                                     events)
            if ready is not None:
                running.wait_text(ready, ready_timeout)
            if snapshot:
                from .record import save_snapshot
                os.makedirs(snapshot_cache, exist_ok=True)
                save_snapshot(running.machine, snapshot)
        if copy_media:
            running.copy_media = self._copy
        self.machines.append(running)
        return running

    def _copy(self, path: str) -> str:
        if not os.path.exists(path):
            raise UserError(f"boot(): no such image: {path}")
        copy = os.path.join(self.folder, f"{len(self.machines)}-{os.path.basename(path)}")
        number = 1
        while os.path.exists(copy):                    # a second image of that name (a swap)
            copy = os.path.join(self.folder, f"{len(self.machines)}.{number}-{os.path.basename(path)}")
            number += 1
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o644)
        return copy

    @staticmethod
    def _cache_key(profile: str, overrides: Optional[List[str]], media: Dict[str, str], ready: Optional[str]) -> str:
        digest = hashlib.sha256(repr((profile, sorted(overrides or []), ready)).encode())
        for drive in sorted(media):
            with open(media[drive], "rb") as handle:
                digest.update(drive.encode() + hashlib.sha256(handle.read()).digest())
        return digest.hexdigest()[:24]

    def _restore(self, snapshot: str, paths: Dict[str, str], events: bool) -> RunningMachine:
        """The cached machine, on this test's copies of the media (same contents:
        the cache key hashes them)."""
        from .record import load_snapshot, prepare_media
        header, state, journal = load_snapshot(snapshot)
        data = dict(header["profile"])
        media = {name: dict(info, path=paths.get(name, info["path"])) for name, info in header["media"].items()}
        overlays = prepare_media(data, media, journal, snapshot, always_overlay=False)
        machine = Machine.from_profile(Profile.from_data(data, source=snapshot))
        for name, info in state.get("drives", {}).items():
            if info is not None and name in data["media"]:
                info["path"] = data["media"][name]["image"]    # this test's copy
        machine.restore(state)
        for name, sectors in overlays.items():
            machine.media[name].load_overlay_state(sectors)
        return RunningMachine(machine, events)

    def close(self) -> None:
        for running in self.machines:
            running.close()


@pytest.fixture
def pc(tmp_path: Any) -> Any:
    """Boot pcmachine machines in a test: `pc.boot("pc.yaml", fda="os.img")`."""
    factory = PC(str(tmp_path))
    yield factory
    factory.close()
