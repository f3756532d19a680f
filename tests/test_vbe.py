"""Bochs VBE (DISPI) registers and the VESA BIOS: the ports driven as a guest
driver does (Linux bochsfb, hobby kernels), then a guest of ours that uses the
int 10h AX=4Fxxh functions and draws into the linear framebuffer, checked pixel by
pixel (tests/guests/vbe/vbe.asm)."""

import os
import random
import subprocess

import pytest

from bios_support import floppy_image, make_machine, run_guest
from requirements import require_nasm
from pcmachine.errors import UserError
from pcmachine.machine import Machine
from pcmachine.plugins.ram import RAM
from pcmachine.plugins.vga import dispi
from pcmachine.plugins.vga.device import VGA
from pcmachine.screenshot import read_png, save_screenshot

LFB = 0xE0000000
GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "vbe", "vbe.bin")
PMI_GUEST = os.path.join(os.path.dirname(GUEST), "vbepmi.bin")


def build(**options) -> Machine:
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": "1M"})
    machine.add_component(VGA, "vga", options)
    machine.configure()
    return machine


@pytest.fixture
def machine() -> Machine:
    return build()


def write(machine: Machine, index: int, value: int) -> None:
    machine.bus.io_write(dispi.INDEX_PORT, 2, index)
    machine.bus.io_write(dispi.DATA_PORT, 2, value)


def read(machine: Machine, index: int) -> int:
    machine.bus.io_write(dispi.INDEX_PORT, 2, index)
    return machine.bus.io_read(dispi.DATA_PORT, 2)


def set_mode(machine: Machine, width: int, height: int, bpp: int, flags: int = dispi.LFB_ENABLED) -> None:
    """What bochsfb does: disable, program, enable."""
    write(machine, dispi.ENABLE, 0)
    write(machine, dispi.XRES, width)
    write(machine, dispi.YRES, height)
    write(machine, dispi.BPP, bpp)
    write(machine, dispi.ENABLE, dispi.ENABLED | flags)


# ---------------------------------------------------------------------- registers
def test_identification_and_memory_size(machine: Machine) -> None:
    assert read(machine, dispi.ID) == dispi.ID5
    write(machine, dispi.ID, dispi.ID0)               # version probe as SeaBIOS does it
    assert read(machine, dispi.ID) == dispi.ID0
    write(machine, dispi.ID, 0x1234)                  # not an ID: ignored
    assert read(machine, dispi.ID) == dispi.ID0
    assert read(machine, dispi.VIDEO_MEMORY_64K) == 256
    assert read(build(vram="4M"), dispi.VIDEO_MEMORY_64K) == 64
    assert machine.bus.io_read(dispi.INDEX_PORT, 2) == dispi.VIDEO_MEMORY_64K


def test_getcaps_reports_the_maximums(machine: Machine) -> None:
    write(machine, dispi.XRES, 640)
    write(machine, dispi.ENABLE, dispi.GETCAPS)
    assert (read(machine, dispi.XRES), read(machine, dispi.YRES), read(machine, dispi.BPP)) == \
        (dispi.MAX_XRES, dispi.MAX_YRES, dispi.MAX_BPP)
    write(machine, dispi.ENABLE, 0)
    assert read(machine, dispi.XRES) == 640


def test_enable_sets_the_mode_and_fixes_registers_up(machine: Machine) -> None:
    vga = machine.components["vga"]
    assert vga.mode_info()["kind"] == "text" or vga.mode_info()["width"] != 1024
    write(machine, dispi.BPP, 17)                     # not a depth: becomes 8
    write(machine, dispi.XRES, 1027)                  # rounded down to a multiple of 8
    write(machine, dispi.YRES, 768)
    write(machine, dispi.VIRT_WIDTH, 4000)            # enabling resets it to XRES
    write(machine, dispi.ENABLE, dispi.ENABLED | dispi.LFB_ENABLED)
    assert read(machine, dispi.BPP) == 8 and read(machine, dispi.XRES) == 1024
    assert read(machine, dispi.VIRT_WIDTH) == 1024
    assert read(machine, dispi.VIRT_HEIGHT) == (16 << 20) // 1024
    info = vga.mode_info()
    assert (info["kind"], info["width"], info["height"], info["bpp"]) == ("graphics", 1024, 768, 8)
    write(machine, dispi.YRES, 60000)                 # more lines than video memory holds
    assert read(machine, dispi.YRES) == dispi.MAX_YRES
    write(machine, dispi.ENABLE, 0)
    assert vga.mode_info()["width"] != 1024 or vga.mode_info()["kind"] == "text"


def test_enable_clears_video_memory_unless_noclearmem(machine: Machine) -> None:
    machine.bus.write(LFB, 4, 0x11223344)
    set_mode(machine, 640, 480, 32, dispi.LFB_ENABLED | dispi.NOCLEARMEM)
    assert machine.bus.read(LFB, 4) == 0x11223344
    write(machine, dispi.ENABLE, 0)
    set_mode(machine, 640, 480, 32)
    assert machine.bus.read(LFB, 4) == 0


@pytest.mark.parametrize("bpp, stored, rgb", [
    (32, b"\x30\x20\x10\x00", (0x10, 0x20, 0x30)),
    (24, b"\x30\x20\x10", (0x10, 0x20, 0x30)),
    (16, (0xF800 | 31 << 5 | 8).to_bytes(2, "little"), (0xFF, 0x7D, 0x42)),
    (15, (31 << 10 | 16).to_bytes(2, "little"), (0xFF, 0x00, 0x84)),
])
def test_direct_colour_pixels_in_the_lfb(machine: Machine, bpp: int, stored: bytes, rgb) -> None:
    """Pixel (3, 2) of a 320x200 mode: B, G, R byte order; 5:6:5 and x:5:5:5 widened
    by repeating the top bits."""
    set_mode(machine, 320, 200, bpp)
    machine.bus.write_bytes(LFB + (2 * 320 + 3) * len(stored), stored)
    width, height, picture = machine.components["vga"].framebuffer_rgb()
    assert (width, height) == (320, 200)
    at = (2 * 320 + 3) * 3
    assert tuple(picture[at:at + 3]) == rgb
    assert picture[:at] == bytes(at)


def test_eight_bit_pixels_through_the_dac_in_6_and_8_bit_mode(machine: Machine) -> None:
    set_mode(machine, 320, 200, 8)
    machine.bus.write(LFB + 5, 1, 7)
    vga = machine.components["vga"]
    machine.bus.io_write(0x3C8, 1, 7)
    for value in (0x3F, 0x20, 0x01):
        machine.bus.io_write(0x3C9, 1, value)
    assert tuple(vga.framebuffer_rgb()[2][15:18]) == (0xFF, 0x82, 0x04)
    write(machine, dispi.ENABLE, dispi.ENABLED | dispi.LFB_ENABLED | dispi.DAC_8BIT)
    machine.bus.io_write(0x3C8, 1, 7)
    for value in (0xC8, 0x20, 0x01):
        machine.bus.io_write(0x3C9, 1, value)
    assert tuple(vga.framebuffer_rgb()[2][15:18]) == (0xC8, 0x20, 0x01)


def test_virtual_width_and_display_start(machine: Machine) -> None:
    """Panning: the picture starts at (X_OFFSET, Y_OFFSET) of a wider virtual screen."""
    set_mode(machine, 64, 48, 32)
    write(machine, dispi.VIRT_WIDTH, 128)
    assert read(machine, dispi.VIRT_WIDTH) == 128
    write(machine, dispi.X_OFFSET, 8)
    write(machine, dispi.Y_OFFSET, 100)
    machine.bus.write(LFB + (100 * 128 + 8) * 4, 4, 0x00ABCDEF)
    picture = machine.components["vga"].framebuffer_rgb()[2]
    assert picture[:3] == b"\xAB\xCD\xEF"
    write(machine, dispi.VIRT_WIDTH, dispi.MAX_XRES)  # 1638 lines of 10 KiB in 16 MiB
    write(machine, dispi.Y_OFFSET, 60000)             # 1600 + 48 lines do not fit: back to 0
    assert (read(machine, dispi.X_OFFSET), read(machine, dispi.Y_OFFSET)) == (0, 0)


def test_banked_window_at_a0000(machine: Machine) -> None:
    set_mode(machine, 640, 480, 8, 0)
    write(machine, dispi.BANK, 3)
    machine.bus.write(0xA0000 + 0x10, 2, 0xBEEF)
    assert machine.bus.read(LFB + 3 * 0x10000 + 0x10, 2) == 0xBEEF
    assert machine.bus.read(0xA0010, 1) == 0xEF
    write(machine, dispi.BANK, 1000)                  # masked to the banks that exist
    assert read(machine, dispi.BANK) == 1000 & 0xFF
    write(machine, dispi.ENABLE, 0)                   # the VGA has the window again
    assert machine.bus.read(LFB + 3 * 0x10000 + 0x10, 2) == 0xBEEF


def test_visible_writes_count_as_changes(machine: Machine) -> None:
    vga = machine.components["vga"]
    set_mode(machine, 320, 200, 32)
    before = vga.generation
    machine.bus.write(LFB + 320 * 200 * 4 + 16, 4, 1)    # off screen
    assert vga.generation == before
    machine.bus.write(LFB + 16, 4, 1)
    assert vga.generation > before


def test_save_restore_round_trip(machine: Machine) -> None:
    vga = machine.components["vga"]
    set_mode(machine, 320, 200, 16)
    machine.bus.write(LFB + 100, 4, 0x12345678)
    saved = vga.snapshot()
    other = build()
    other.components["vga"].restore(saved)
    assert other.components["vga"].snapshot() == saved
    assert other.bus.read(LFB + 100, 4) == 0x12345678
    assert other.components["vga"].framebuffer_rgb() == vga.framebuffer_rgb()
    vga.reset()
    assert read(machine, dispi.ENABLE) == 0 and machine.bus.read(LFB + 100, 4) == 0
    assert vga.snapshot()["vram"] == b""            # no 16 MiB of zeros in every snapshot


def test_vbe_can_be_left_out() -> None:
    machine = build(vbe=False)
    assert machine.bus.io_read(dispi.DATA_PORT, 2) == 0xFFFF
    assert machine.bus.read_byte(LFB) == 0xFF
    assert machine.components["vga"].vbe_lfb_address is None


@pytest.mark.parametrize("options, problem", [
    ({"vram": "100K"}, "multiple of 64K"),
    ({"lfb_address": 0xFFF00000}, "below 4 GiB"),
])
def test_bad_options_are_profile_errors(options, problem) -> None:
    with pytest.raises(UserError, match=problem):
        build(**options)


def test_random_register_traffic_never_raises(machine: Machine) -> None:
    rng = random.Random(5)
    for _ in range(3000):
        write(machine, rng.randrange(12), rng.choice((0, 1, 7, 8, 15, 16, 24, 32, 640, 0xFFFF, rng.randrange(0x10000))))
        machine.bus.write(0xA0000 + rng.randrange(0x20000), 1, rng.randrange(256))
        if rng.random() < 0.01:
            machine.components["vga"].framebuffer_rgb()


# ---------------------------------------------------------------------- the VESA BIOS
def expected_picture(width: int, height: int) -> bytes:
    """The guest's drawing rule, computed here."""
    rows = []
    for y in range(height):
        rows.append(b"".join(bytes((x & 0xFF, y & 0xFF, ((x + y) >> 1) & 0xFF)) for x in range(width)))
    return b"".join(rows)


def test_vesa_bios_guest_draws_in_the_lfb(tmp_path) -> None:
    with open(GUEST, "rb") as handle:
        image = floppy_image(tmp_path, handle.read())
    machine = make_machine({"fda": image})
    assert run_guest(machine, max_instructions=20_000_000).text == "PASS\n"
    path = str(tmp_path / "vbe.png")
    assert save_screenshot(machine, path) == (640, 480)
    width, height, rgb = read_png(path)
    assert rgb == expected_picture(640, 480)


def test_protected_mode_interface_called_from_32_bit_code(tmp_path) -> None:
    """4F0Ah's table and its code, called as Linux's vesafb calls them
    (tests/guests/vbe/vbepmi.asm): window, display start now and at retrace, palette."""
    with open(PMI_GUEST, "rb") as handle:
        image = floppy_image(tmp_path, handle.read())
    machine = make_machine({"fda": image})
    assert run_guest(machine, max_instructions=20_000_000).text == "PASS\n"


def test_protected_mode_code_is_assembled_from_its_source(tmp_path) -> None:
    """plugins/data/vbe_pmi.bin is what plugins/bios/vbe_pmi.asm assembles to."""
    require_nasm()
    from pcmachine.plugins.bios.vbe import PMI_FILE
    source = os.path.join(os.path.dirname(os.path.dirname(PMI_FILE)), "bios", "vbe_pmi.asm")
    subprocess.run(["nasm", "-f", "bin", "-o", str(tmp_path / "pmi.bin"), source], check=True)
    with open(PMI_FILE, "rb") as shipped:
        assert (tmp_path / "pmi.bin").read_bytes() == shipped.read()
