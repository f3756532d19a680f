"""Video state save/restore (int 10h AH=1Ch, VBE AX=4F04h; plugins/bios/videostate.py)
as a program that switches modes behind the BIOS's back uses it: save in one mode,
change mode (and palette), restore, and the VGA must be as it was."""

from typing import Any, Dict

import pytest

from bios_support import floppy_image
from cpu_support import assemble
from pcmachine.machine import Machine

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
BUFFER = 0x1000


def boot(tmp_path: Any, code: str) -> Machine:
    body = assemble("cli\nxor ax, ax\nmov ds, ax\nmov es, ax\nmov ss, ax\nmov sp, 0x7000\n"
                    + code + "\ncli\nhlt\n", org=0x7C00)
    sector = body.ljust(510, b"\0") + b"\x55\xAA"
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": floppy_image(tmp_path, sector)})
    machine.run_headless(50_000_000)
    machine.close()
    return machine


def video_registers(machine: Machine) -> Dict[str, Any]:
    """The VGA's register state (not video memory, nor the DAC's latch of a partly
    written colour, nor the Bochs VBE index, which every VBE call itself moves)
    and the BDA's video fields."""
    state = dict(machine.components["vga"].snapshot())
    for key in [key for key in state if "plane" in key or "vram" in key or "memory" in key]:
        del state[key]
    del state["dac_write_buffer"], state["vbe_index"]
    state["bda"] = bytes(machine.bus.read_bytes(0x449, 0x1E)) + bytes(machine.bus.read_bytes(0x484, 7))
    return state


SET_13H_AND_A_COLOUR = "mov ax, 0x0013\nint 0x10\nmov dx, 0x3c8\nmov al, 5\nout dx, al\ninc dx\n" \
                       "mov al, 1\nout dx, al\nmov al, 2\nout dx, al\nmov al, 3\nout dx, al\n"


@pytest.mark.parametrize("service", ["1c", "4f04"])
def test_state_saved_in_mode_13h_comes_back_after_mode_3(tmp_path, service):
    if service == "1c":
        size, save, restore = ("mov ax, 0x1c00\nmov cx, 7\nint 0x10\nmov [0x600], bx\nmov [0x602], al\n",
                               "mov ax, 0x1c01\nmov cx, 7\nmov bx, %d\nint 0x10\nmov [0x603], al\n" % BUFFER,
                               "mov ax, 0x1c02\nmov cx, 7\nmov bx, %d\nint 0x10\nmov [0x604], al\n" % BUFFER)
    else:
        size, save, restore = ("mov ax, 0x4f04\nmov dl, 0\nmov cx, 15\nint 0x10\nmov [0x600], bx\nmov [0x602], al\n",
                               "mov ax, 0x4f04\nmov dl, 1\nmov cx, 15\nmov bx, %d\nint 0x10\nmov [0x603], al\n" % BUFFER,
                               "mov ax, 0x4f04\nmov dl, 2\nmov cx, 15\nmov bx, %d\nint 0x10\nmov [0x604], al\n" % BUFFER)
    expected = video_registers(boot(tmp_path, SET_13H_AND_A_COLOUR))
    machine = boot(tmp_path, SET_13H_AND_A_COLOUR + size + save + "mov ax, 0x0003\nint 0x10\n" + restore)
    status = bytes(machine.bus.read_bytes(0x600, 5))
    blocks = int.from_bytes(status[:2], "little")
    ok = 0x1C if service == "1c" else 0x4F
    assert status[2:] == bytes([ok, ok, ok])
    assert blocks * 64 >= 2 + 61 + 37 + 770 and blocks * 64 < 2 + 61 + 37 + 770 + 64 + 22
    assert video_registers(machine) == expected
    assert machine.bus.read_bytes(BUFFER, 2) == (7 if service == "1c" else 15).to_bytes(2, "little")


def test_restoring_only_the_dac_leaves_the_mode(tmp_path):
    machine = boot(tmp_path, SET_13H_AND_A_COLOUR
                   + "mov ax, 0x1c01\nmov cx, 4\nmov bx, %d\nint 0x10\n" % BUFFER
                   + "mov ax, 0x0003\nint 0x10\n"
                   + "mov ax, 0x1c02\nmov cx, 4\nmov bx, %d\nint 0x10\n" % BUFFER
                   + "mov dx, 0x3c7\nmov al, 5\nout dx, al\nadd dx, 2\n"
                   + "in al, dx\nmov [0x600], al\nin al, dx\nmov [0x601], al\nin al, dx\nmov [0x602], al\n")
    assert machine.bus.read_bytes(0x600, 3) == bytes([1, 2, 3])
    assert machine.bus.read(0x449, 1) == 0x03


def test_vbe_mode_registers_come_back_without_clearing_video_memory(tmp_path):
    """Saved in VBE mode 111h (640x480, 16 bpp, banked) with a pixel drawn through
    the A000h window, restored after mode 03h: the Bochs VBE registers are back
    (ENABLE with NOCLEARMEM, which the register keeps, as in QEMU) and the pixel
    is still in video memory."""
    set_vbe = "mov ax, 0x4f02\nmov bx, 0x0111\nint 0x10\n"
    expected = video_registers(boot(tmp_path, set_vbe))
    machine = boot(tmp_path, set_vbe
                   + "push es\nmov ax, 0xa000\nmov es, ax\nmov word [es:0], 0x1234\npop es\n"
                   + "mov ax, 0x4f04\nmov dl, 1\nmov cx, 15\nmov bx, %d\nint 0x10\n" % BUFFER
                   + "mov ax, 0x0003\nint 0x10\n"
                   + "mov ax, 0x4f04\nmov dl, 2\nmov cx, 15\nmov bx, %d\nint 0x10\nmov [0x600], ax\n" % BUFFER)
    assert machine.bus.read(0x600, 2) == 0x004F
    restored = video_registers(machine)
    assert restored["vbe_regs"][4] == expected["vbe_regs"][4] | 0x80
    restored["vbe_regs"][4] = expected["vbe_regs"][4]
    assert restored == expected
    assert machine.components["vga"].snapshot()["vram"][:2] == b"\x34\x12"
