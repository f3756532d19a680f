"""The ACPI fixed power button (QEMU's `system_powerdown`): PWRBTN_STS/PWRBTN_EN
through the PM1 ports (plugins/chipset/acpipm.py), the FADT saying the button is
the fixed feature, and a press from the `--powerdown` step, the pytest plugin's
`powerdown()` and the monitor's `system_powerdown`, recorded, replayed and kept in
snapshots.  The FADT's flags are checked in tests/test_acpi.py.

The guest (tests/guests/devices/powerbtn.asm) finds the PM1 block and the SCI in
the FADT, makes IRQ 9 level-triggered in the ELCR, enables PWRBTN_EN, waits in HLT,
takes the SCI, reads and clears PWRBTN_STS (the level drops) and powers off
through S5.
"""

import gzip
import json
from typing import Any, List

import pytest

from bios_support import PortE9Capture
from pcmachine import hookimpl
from pcmachine.cli import main
from pcmachine.debugger.control import Debugger
from pcmachine.debugger.monitor import Monitor
from pcmachine.errors import UserError
from pcmachine.machine import Machine
from pcmachine.plugins.chipset.acpipm import ACPIPowerManagement
from pcmachine.record import load_snapshot, save_snapshot
from pcmachine.runner import RunOptions, build_machine
from pcmachine.steps import ScreenWatcher, press_power_button
from pcmachine.testing import GuestTimeout

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
PM1_STS, PM1_EN, PM1_CNT = 0x600, 0x602, 0x604
PWRBTN, TMR = 0x0100, 0x0001
SCI = 9
MAX_INSTRUCTIONS = "5000000"
#: host seconds: a guest waiting in HLT for an SCI that never comes runs no instructions
HOST_TIMEOUT = "60"
READY = "powerbtn: waiting"

BEFORE = ["powerbtn: start", "fadt: pm1a_evt=0600 pm1a_cnt=0604 sci=0009 flags=00000025",
          "elcr2=0E", READY]
#: the SCI taken once: PWRBTN_STS with the level up on the slave's IR1, then cleared
AFTER = ["sci: pm1_sts=0100 irr=02", "cleared: pm1_sts=0000 irr=00", "sci count=1", "s5"]
EXPECTED = BEFORE + AFTER


# ---------------------------------------------------------------- registers
def pm_machine() -> Machine:
    machine = Machine.bare()
    machine.add_component(ACPIPowerManagement, "acpi", {})
    machine.configure()
    return machine


def press(machine: Machine) -> None:
    press_power_button(machine)
    assert machine.run_slice() is None            # inputs are taken at the slice boundary


def test_a_press_sets_the_status_and_the_enable_gates_the_sci():
    machine = pm_machine()
    io = machine.bus
    press(machine)
    assert io.io_read(PM1_STS, 2) == PWRBTN           # set although PWRBTN_EN is clear (4.8.2.2.1)
    assert io.irq_levels[SCI] == 0
    io.io_write(PM1_EN, 2, PWRBTN)
    assert io.io_read(PM1_EN, 2) == PWRBTN
    assert io.irq_levels[SCI] == 1                    # status and enable both set
    io.io_write(PM1_STS, 2, TMR)                      # another bit: PWRBTN_STS stays
    assert io.io_read(PM1_STS, 2) == PWRBTN and io.irq_levels[SCI] == 1
    io.io_write(PM1_STS + 1, 1, PWRBTN >> 8)          # write 1 to clear, high byte alone
    assert io.io_read(PM1_STS, 2) == 0 and io.irq_levels[SCI] == 0
    press(machine)                                    # enabled: the SCI follows the press
    assert io.irq_levels[SCI] == 1
    io.io_write(PM1_EN, 2, 0)
    assert io.irq_levels[SCI] == 0 and io.io_read(PM1_STS, 2) == PWRBTN


def test_a_machine_without_acpi_has_no_power_button():
    machine = Machine.bare()
    machine.configure()
    with pytest.raises(UserError, match="no ACPI power button"):
        press_power_button(machine)


def test_a_pressed_button_survives_a_snapshot():
    machine = pm_machine()
    machine.bus.io_write(PM1_EN, 2, PWRBTN)
    press(machine)
    state = machine.snapshot()
    assert state["components"]["acpi"]["state"]["status"] == PWRBTN
    restored = pm_machine()
    restored.restore(state)
    assert restored.bus.irq_levels[SCI] == 1
    assert restored.bus.io_read(PM1_STS, 2) == PWRBTN


# ---------------------------------------------------------------- the guest
class Booted:
    """The guest booted in-process, port 0xE9 captured, run slice by slice."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.e9 = PortE9Capture()
        machine.add_plugin(self.e9)
        self.watcher = ScreenWatcher(machine)

    def run_until_ready(self) -> None:
        for _ in range(500):
            if self.watcher.shows(READY):
                return
            assert self.machine.run_slice() in (None, "halted")
        raise AssertionError(f"{READY!r} never appeared; port 0xE9: {self.e9.text!r}")

    def run_until_poweroff(self) -> None:
        for _ in range(500):
            reason = self.machine.run_slice()
            if reason == "poweroff":
                return
            assert reason is None, reason
        raise AssertionError(f"the guest did not power off; port 0xE9: {self.e9.text!r}")

    def lines(self) -> List[str]:
        return self.e9.text.splitlines()


@pytest.fixture
def floppy(tmp_path, floppy_from) -> str:
    return floppy_from(tmp_path, "devices/powerbtn.bin")


def run_cli(capsys, *args: str):
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--set", FIXED_RTC,
                   "--max-instructions", MAX_INSTRUCTIONS, "--timeout", HOST_TIMEOUT, *args])
    out, err = capsys.readouterr()
    return status, out, err


def lines(path) -> List[str]:
    with open(path, encoding="latin-1") as handle:
        return handle.read().splitlines()


def test_the_powerdown_step_shuts_the_guest_down(floppy, tmp_path, capsys):
    log = tmp_path / "e9.txt"
    status, out, err = run_cli(capsys, "--fda", floppy, "--debugcon", f"file:{log}",
                               "--wait", READY, "--powerdown")
    assert status == 0, err
    assert "the guest powered the machine off (ACPI S5)" in err
    assert lines(log) == EXPECTED


def test_a_guest_that_ignores_the_button_leaves_the_step_not_reached(tmp_path, floppy_from, capsys):
    """The timer guest never enables the button: it halts for good, still on."""
    floppy = floppy_from(tmp_path, "devices/timer.bin")
    status, out, err = run_cli(capsys, "--fda", floppy, "--powerdown")
    assert status == 1
    assert err.strip().endswith("step not reached: --powerdown")


def test_the_step_on_a_machine_without_acpi_stops_with_one_line(floppy, capsys):
    status = main(["run", "isapc.yaml", "--headless", "--quiet", "--fda", floppy, "--powerdown"])
    err = capsys.readouterr().err
    assert status == 2
    assert "no ACPI power button" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_pytest_plugin_presses_the_button(pc, floppy, tmp_path):
    log = tmp_path / "e9.txt"
    m = pc.boot("pc.yaml", fda=floppy, overrides=[FIXED_RTC, f"debugcon.output=file:{log}"])
    m.wait_text(READY)
    m.powerdown()
    assert m.powered_off
    m.machine.close()
    assert lines(log) == EXPECTED


def test_the_pytest_plugin_fails_when_the_guest_does_not_power_off(pc, tmp_path, floppy_from):
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, "devices/timer.bin"), overrides=[FIXED_RTC])
    with pytest.raises(GuestTimeout, match=r"waiting for the guest to power the machine off"):
        m.powerdown(timeout=2, virtual=True)
    assert not m.powered_off


def test_the_monitor_presses_the_button(floppy):
    run = Booted(Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": floppy}))
    try:
        monitor = Monitor(run.machine, Debugger(run.machine, history=False))
        run.run_until_ready()
        assert monitor.execute("system_powerdown now")[0] == "error: usage: system_powerdown"
        text, action = monitor.execute("system_powerdown")
        assert text == "power button pressed: the guest sees it when the machine runs on" and action is None
        run.run_until_poweroff()
        assert run.lines() == EXPECTED
        assert "system_powerdown" in monitor.execute("help")[0]
    finally:
        run.machine.close()
    isa = Machine.from_profile("isapc.yaml", [FIXED_RTC], {"fda": floppy})
    try:
        text, _ = Monitor(isa, Debugger(isa, history=False)).execute("powerdown")
        assert text.startswith("error: this machine has no ACPI power button")
    finally:
        isa.close()


def test_a_recording_replays_the_press(floppy, tmp_path, capsys):
    recording = str(tmp_path / "powerbtn.rec")
    status, out, err = run_cli(capsys, "--fda", floppy, "--record", recording, "--wait", READY, "--powerdown")
    assert status == 0, err
    with gzip.open(recording, "rt") as handle:
        records = [json.loads(line) for line in handle]
    presses = [r for r in records if r["type"] == "input" and r["kind"] == "power-button"]
    assert len(presses) == 1 and presses[0]["icount"] > 0
    assert main(["replay", "--quiet", recording]) == 0
    out, err = capsys.readouterr()
    assert "replay matched" in out


class SnapshotAtPress:
    """Saves a snapshot right after the press took effect, before the guest runs on."""

    def __init__(self, path: str) -> None:
        self.path = path

    @hookimpl
    def machine_input(self, machine: Any, kind: str, data: Any, icount: int, time_ns: int) -> None:
        if kind == "power-button":
            save_snapshot(machine, self.path)


def test_a_snapshot_with_the_button_pressed_continues_to_power_off(floppy, tmp_path):
    snapshot = str(tmp_path / "pressed.snap")
    run = Booted(Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": floppy}))
    try:
        run.machine.add_plugin(SnapshotAtPress(snapshot))
        run.run_until_ready()
        press_power_button(run.machine)
        run.run_until_poweroff()
        assert run.lines() == EXPECTED
    finally:
        run.machine.close()
    state = load_snapshot(snapshot)[1]
    assert state["components"]["acpi"]["state"]["status"] & PWRBTN   # pressed, not yet cleared
    assert state["components"]["acpi"]["state"]["enable"] == PWRBTN
    restored = Booted(build_machine(RunOptions(profile=None, restore=snapshot)))
    try:
        assert restored.machine.bus.irq_levels[SCI] == 1             # the SCI is up again
        restored.run_until_poweroff()
        assert restored.lines() == AFTER
    finally:
        restored.machine.close()
