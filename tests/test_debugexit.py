"""QEMU's isa-debug-exit device: tests/guests/devices/debugexit.asm writes to it as
Pintos and Rust-style kernel test harnesses do."""

from typing import List, Tuple

import pytest

from bios_support import PortE9Capture
from pcmachine import Machine, UserError
from pcmachine.cli import main

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
#: the device by its module path, so the test does not depend on installed entry points
DEVICE = "debugexit.plugin=pcmachine.plugins.debug.debugexit:DebugExit"


def boot_guest(floppy: str, overrides: List[str]) -> Tuple[Machine, str, List[str]]:
    console = PortE9Capture()
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC] + overrides, {"fda": floppy},
                                   setup=lambda m: m.add_plugin(console))
    reason = machine.run_headless(20_000_000)
    machine.close()
    return machine, reason, console.text.splitlines()


def test_pintos_write_to_the_default_port_ends_the_run_with_status_63h(tmp_path, floppy_from):
    machine, reason, lines = boot_guest(floppy_from(tmp_path, "devices/debugexit.bin"), [DEVICE])
    assert (reason, machine.exit_status) == ("debug-exit", 0x63)
    assert lines == ["debugexit: read 0501=00", "out 0501,31"]


def test_a_dword_write_at_another_iobase_gives_value_times_two_plus_one(tmp_path, floppy_from):
    machine, reason, lines = boot_guest(floppy_from(tmp_path, "devices/debugexit.bin"),
                                        [DEVICE, "debugexit.iobase=0xf4", "debugexit.iosize=4"])
    assert (reason, machine.exit_status) == ("debug-exit", 0x21)
    assert lines == ["debugexit: read 0501=FF", "out 0501,31", "out 00F4,00000010"]


def test_without_the_device_the_writes_go_nowhere(tmp_path, floppy_from):
    machine, reason, lines = boot_guest(floppy_from(tmp_path, "devices/debugexit.bin"), [])
    assert (reason, machine.exit_status) == ("halted", None)
    assert lines[-1] == "still running"


def test_the_cli_exits_with_the_guests_status(tmp_path, floppy_from, capsys):
    floppy = floppy_from(tmp_path, "devices/debugexit.bin")
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--fda", floppy, "--set", FIXED_RTC,
                   "--set", DEVICE, "--max-instructions", "20000000"])
    assert status == 0x63
    assert "debug-exit port: exit status 0x63" in capsys.readouterr().err


def test_ports_past_ffff_are_a_profile_error():
    with pytest.raises(UserError, match="debugexit.iosize"):
        Machine.from_profile("pc.yaml", [DEVICE, "debugexit.iobase=0xffff", "debugexit.iosize=2"])
