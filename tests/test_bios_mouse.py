"""The BIOS's PS/2 mouse interface (int 15h C2xxh, plugins/bios/mouse.py) as a DOS
mouse driver uses it, through the guest tests/guests/devices/mouse.asm: set-up
calls and their error codes, then movement typed on the host side reaching the
guest's device handler as IBM's stack frame (status, X, Y, 0)."""

from typing import Any, List, Tuple

from bios_support import PortE9Capture
from pcmachine.machine import Machine

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"


def run_guest(floppy: str, overrides: Tuple[str, ...] = (), moves: Tuple[dict, ...] = ()) -> Tuple[str, List[str]]:
    """Boot the guest; once it has enabled the mouse, move it (`moves`)."""
    console = PortE9Capture()
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC, *overrides], {"fda": floppy},
                                   setup=lambda m: m.add_plugin(console))
    for _ in range(200):
        if b"enabled" in console.data or machine.run_slice() is not None:
            break
    for move in moves:
        machine.post_input("mouse", move)
    reason = machine.run_headless(20_000_000)
    machine.close()
    return reason, console.text.splitlines()


def test_driver_calls_and_packets_reach_the_handler(tmp_path, floppy_from):
    reason, lines = run_guest(floppy_from(tmp_path, "devices/mouse.bin"),
                              moves=({"dx": 5, "dy": -3, "buttons": 1}, {"dx": -2, "dy": 4, "buttons": 0}))
    assert reason == "halted"
    assert lines == [
        "mouse: start",
        "pointing device: 01",              # int 11h: equipment word bit 2
        "no handler: cf=1 ah=05",           # enabling needs a handler
        "init: cf=0 bx=00AA",               # reset: BL=AAh (self-test passed), BH=00h (ID)
        "type: bh=00",
        "bad rate: cf=1 ah=02",             # BH=9 is no sample rate
        "status: bl=00 cl=03 dl=64",        # stream mode, disabled; 8 counts/mm; 100/s
        "enabled: cf=0",
        "waiting for the mouse",
        "packet s=29 x=05 y=FD",            # left button, Y negative, bit 3 always set
        "packet s=18 x=FE y=04",            # X negative
        "disabled: cf=0",
        "done"]


def test_machine_run_mouse_steps_move_it_as_qemus_monitor_does(tmp_path, floppy_from, capsys):
    """`--mouse DX,DY[,BUTTONS]`: DY down, as QEMU's `mouse_move`, so the packet's
    Y (up) is its negation; BUTTONS as `mouse_button`'s mask."""
    from pcmachine.cli import main
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", "--headless", "--timeout", "60", "--set", FIXED_RTC,
                   "--fda", floppy_from(tmp_path, "devices/mouse.bin"), "--debugcon", f"file:{log}",
                   "--wait", "waiting for the mouse", "--mouse", "5,3,1", "--mouse=-2,-4", "--wait", "done"])
    assert status == 0, capsys.readouterr().err
    assert log.read_text().splitlines()[-4:] == ["packet s=29 x=05 y=FD", "packet s=18 x=FE y=04",
                                                 "disabled: cf=0", "done"]


def test_a_bad_mouse_step_is_a_one_line_error(tmp_path, floppy_from, capsys):
    from pcmachine.cli import main
    floppy = floppy_from(tmp_path, "devices/mouse.bin")
    assert main(["run", "pc.yaml", "--headless", "--fda", floppy, "--mouse", "5"]) != 0
    assert "--mouse '5': expected DX,DY" in capsys.readouterr().err
    assert main(["run", "pc.yaml", "--headless", "--fda", floppy, "--set", "kbc.mouse=false",
                 "--mouse", "1,1"]) != 0
    assert "--mouse needs a PS/2 mouse" in capsys.readouterr().err


def test_without_a_mouse_the_calls_report_an_interface_error(tmp_path, floppy_from):
    reason, lines = run_guest(floppy_from(tmp_path, "devices/mouse.bin"), ("kbc.mouse=false",))
    assert (reason, lines) == ("halted", ["mouse: start", "pointing device: 00", "no handler: cf=1 ah=05",
                                          "init: cf=1 bx=0300", "no mouse"])
