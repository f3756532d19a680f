"""VGA tests through ports and video memory, as a guest driver and the BIOS use them."""

import random

import pytest

from pcmachine import hookimpl
from pcmachine.machine import Machine
from pcmachine.plugins.vga import registers as regs
from pcmachine.plugins.ram import RAM
from pcmachine.plugins.vga.device import VGA

TEXT = 0xB8000
MONO = 0xB0000
GRAPHICS = 0xA0000
LINE_NS = regs.LINE_NS
FRAME_NS = 449 * LINE_NS


def build() -> Machine:
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": "1M"})
    machine.add_component(VGA, "vga", {})
    machine.configure()
    return machine


@pytest.fixture
def machine() -> Machine:
    return build()


@pytest.fixture
def vga(machine: Machine) -> VGA:
    machine.components["vga"].set_standard_mode(0x03)
    return machine.components["vga"]


def out(machine: Machine, port: int, value: int, size: int = 1) -> None:
    machine.bus.io_write(port, size, value)


def inb(machine: Machine, port: int) -> int:
    return machine.bus.io_read(port, 1)


def put_text(machine: Machine, row: int, col: int, text: bytes, attribute: int, base: int = TEXT) -> None:
    """Character/attribute words, as `rep stosw` would store them."""
    for i, char in enumerate(text):
        machine.bus.write(base + (row * 80 + col + i) * 2, 2, char | (attribute << 8))


def crtc(machine: Machine, index: int, value: int, base: int = 0x3D4) -> None:
    out(machine, base, index)
    out(machine, base + 1, value)


def set_start_address(machine: Machine, address: int) -> None:
    crtc(machine, 0x0C, address >> 8)
    crtc(machine, 0x0D, address & 0xFF)


# ---------------------------------------------------------------------- fonts and tables
def test_fonts_are_complete_cp437_sets(machine: Machine) -> None:
    vga = machine.components["vga"]
    assert len(vga.font8x16) == 4096 and len(vga.font8x8) == 2048
    # 'A' (41h) in the 8x16 font: apex at row 2, crossbar at row 7.
    assert vga.font8x16[0x41 * 16 + 2] == 0x10 and vga.font8x16[0x41 * 16 + 7] == 0xFE
    assert vga.font8x8[0xDB * 8:0xDB * 8 + 8] == b"\xff" * 8      # full block
    assert len(regs.CP437) == 256 and regs.CP437[0xC9] == "\u2554" and regs.CP437[0x01] == "\u263a"


def test_mode_set_loads_font_into_plane_2(vga: VGA) -> None:
    for char in (0x00, 0x41, 0xB3, 0xFF):
        glyph = bytes(vga.state.plane2[char * 32:char * 32 + 32])
        assert glyph == vga.font8x16[char * 16:char * 16 + 16] + bytes(16)


def test_standard_palettes() -> None:
    ega = regs.ega64_palette()
    assert ega[0x14] == (0x2A, 0x15, 0x00) and ega[0x3F] == (0x3F, 0x3F, 0x3F)
    vga256 = regs.vga256_palette()
    assert len(vga256) == 256
    assert vga256[0x20] == (0x00, 0x00, 0x3F) and vga256[0x28] == (0x3F, 0x00, 0x00)
    assert vga256[0x68] == (0x00, 0x00, 0x1C) and vga256[0xB0] == (0x00, 0x00, 0x10)
    assert vga256[0x48] == (0x1F, 0x3F, 0x1F) and vga256[0xF8:] == [(0, 0, 0)] * 8


# ---------------------------------------------------------------------- text mode
def test_text_written_at_b8000_shows_in_lines_and_cells(machine: Machine, vga: VGA) -> None:
    assert vga.mode_info() == {"kind": "text", "cols": 80, "rows": 25, "width": 720, "height": 400}
    put_text(machine, 0, 0, b"Hello", 0x1F)
    machine.bus.write(TEXT + 160 + 0, 1, 0xC9)            # byte writes: char, then attribute
    machine.bus.write(TEXT + 160 + 1, 1, 0x4E)
    machine.bus.write(TEXT + 160 + 2, 4, 0x07000701)      # dword: two cells
    lines = vga.text_lines()
    assert len(lines) == 25 and all(len(line) == 80 for line in lines)
    assert lines[0].startswith("Hello ")
    assert lines[1].startswith("\u2554\u263a ")            # NUL shows as a space
    assert vga.cells()[0][:2] == [(ord("H"), 0x1F), (ord("e"), 0x1F)]
    assert vga.cells()[1][:3] == [(0xC9, 0x4E), (0x01, 0x07), (0x00, 0x07)]
    assert vga.text().split("\n")[0] == lines[0]
    assert machine.bus.read(TEXT, 2) == ord("H") | 0x1F00
    assert machine.bus.read(TEXT + 161, 1) == 0x4E


def test_text_mode_pixels_come_from_the_font_in_plane_2(machine: Machine, vga: VGA) -> None:
    put_text(machine, 0, 0, b"A\xc4x", 0x1E)                # yellow on blue
    width, height, rgb = vga.framebuffer_rgb()
    assert (width, height) == (720, 400)
    yellow, blue = b"\xff\xff\x55", b"\x00\x00\xaa"

    def row_pixels(line: int, first: int, count: int) -> bytes:
        return rgb[(line * 720 + first) * 3:(line * 720 + first + count) * 3]
    glyph_row = vga.font8x16[0x41 * 16 + 7]                  # the crossbar of 'A'
    expected = b"".join(yellow if glyph_row & (0x80 >> x) else blue for x in range(8)) + blue
    assert row_pixels(7, 0, 9) == expected                   # 9th column: background
    assert row_pixels(7, 9, 9) == yellow * 9                 # C4h: line graphics extend
    inb(machine, 0x3DA)
    out(machine, 0x3C0, 0x10)                                # attribute mode control:
    out(machine, 0x3C0, 0x08)                                # line graphics off
    out(machine, 0x3C0, regs.ATTR_PAS)
    assert vga.framebuffer_rgb()[2][(7 * 720 + 17) * 3:(7 * 720 + 18) * 3] == blue


def test_mode_set_clears_unless_bit_7(machine: Machine, vga: VGA) -> None:
    assert vga.cells()[24][79] == regs.BLANK_TEXT_CELL
    put_text(machine, 3, 0, b"keep", 0x07)
    vga.set_standard_mode(0x83)
    assert vga.text_lines()[3].startswith("keep")
    vga.set_standard_mode(0x03)
    assert vga.text_lines()[3].strip() == ""


def test_cursor_from_crtc_ports(machine: Machine, vga: VGA) -> None:
    assert vga.cursor() == (0, 0, True)
    crtc(machine, 0x0E, 0x00)
    crtc(machine, 0x0F, 165)
    assert vga.cursor() == (2, 5, True)
    out(machine, 0x3D4, 0x0E | (0x01 << 8), size=2)         # 16-bit OUT: index, then data
    out(machine, 0x3D4, 0x0F | (0x90 << 8), size=2)
    assert vga.cursor() == (400 // 80, 400 % 80, True)
    out(machine, 0x3D4, 0x0F)
    assert inb(machine, 0x3D5) == 0x90
    assert machine.bus.io_read(0x3D4, 2) == 0x0F | (0x90 << 8)
    crtc(machine, 0x0A, 0x20 | 0x0D)                        # cursor disable bit
    assert vga.cursor()[2] is False
    crtc(machine, 0x0A, 0x0F)                               # start line below end line
    assert vga.cursor()[2] is False
    crtc(machine, 0x0A, 0x0D)
    assert vga.cursor()[2] is True


def test_start_address_scrolls_the_display(machine: Machine, vga: VGA) -> None:
    for row in range(30):
        put_text(machine, row, 0, b"row %02d" % row, 0x07)
    assert vga.text_lines()[0].startswith("row 00")
    set_start_address(machine, 80 * 5)
    lines = vga.text_lines()
    assert lines[0].startswith("row 05") and lines[24].startswith("row 29")
    crtc(machine, 0x0E, (80 * 6) >> 8)
    crtc(machine, 0x0F, (80 * 6) & 0xFF)
    assert vga.cursor() == (1, 0, True)                     # relative to the start address


def set_line_compare(machine: Machine, line: int) -> None:
    """Line compare bits 0-7 in 18h, bit 8 in 07h bit 4, bit 9 in 09h bit 6."""
    crtc(machine, 0x11, 0x0E)                                # unprotect 0-7
    base = 0x3D4
    out(machine, base, 0x07)
    overflow = machine.bus.io_read(base + 1, 1)
    crtc(machine, 0x07, (overflow & ~0x10) | ((line >> 4) & 0x10))
    out(machine, base, 0x09)
    max_scan = machine.bus.io_read(base + 1, 1)
    crtc(machine, 0x09, (max_scan & ~0x40) | ((line >> 3) & 0x40))
    crtc(machine, 0x18, line & 0xFF)


def test_line_compare_splits_the_text_screen(machine: Machine, vga: VGA) -> None:
    """Scan lines after line compare show memory from address 0: a status area under
    a scrolled screen (rows 20-24 are memory rows 0-4)."""
    for row in range(40):
        put_text(machine, row, 0, b"row %02d" % row, 0x07 + row)
    set_start_address(machine, 80 * 10)
    _, _, scrolled = vga.framebuffer_rgb()
    set_line_compare(machine, 20 * 16 - 1)
    lines = vga.text_lines()
    assert lines[0].startswith("row 10") and lines[19].startswith("row 29")
    assert lines[20].startswith("row 00") and lines[24].startswith("row 04")
    _, _, split = vga.framebuffer_rgb()
    set_start_address(machine, 0)
    set_line_compare(machine, 0x3FF)
    _, _, top = vga.framebuffer_rgb()
    line = 720 * 3
    assert split[:320 * line] == scrolled[:320 * line]
    assert split[320 * line:] == top[:80 * line]


def test_line_compare_in_mode_13h(machine: Machine, vga: VGA) -> None:
    """Line compare counts scan lines: 199 splits the doubled 200-row picture at row 100."""
    vga.set_standard_mode(0x13)
    for y in range(200):
        machine.bus.write_bytes(GRAPHICS + y * 320, bytes((y,)) * 320)
    set_start_address(machine, 80 * 20)                      # 20 rows on (doubleword addressing)
    set_line_compare(machine, 199)
    _, _, rgb = vga.framebuffer_rgb()
    colors = [rgb[y * 320 * 3:y * 320 * 3 + 3] for y in range(200)]
    set_line_compare(machine, 0x3FF)
    set_start_address(machine, 0)
    _, _, plain = vga.framebuffer_rgb()
    row_color = [plain[y * 320 * 3:y * 320 * 3 + 3] for y in range(200)]
    assert colors[:100] == row_color[20:120]
    assert colors[100:] == row_color[:100]


def test_mode_01_is_forty_columns(machine: Machine, vga: VGA) -> None:
    vga.set_standard_mode(0x01)
    assert vga.mode_info() == {"kind": "text", "cols": 40, "rows": 25, "width": 360, "height": 400}
    put_text(machine, 0, 0, b"A", 0x07)
    machine.bus.write(TEXT + 80, 2, ord("B") | 0x0700)      # row 1 starts 40 cells on
    assert vga.text_lines()[1].startswith("B")


def test_mode_07_uses_mono_ports_and_b0000(machine: Machine, vga: VGA) -> None:
    vga.set_standard_mode(0x07)
    assert vga.mode_info()["kind"] == "text"
    put_text(machine, 0, 0, b"mono", 0x07, base=MONO)
    machine.bus.write(TEXT, 2, ord("X") | 0x0700)            # outside the B0000 window
    assert vga.text_lines()[0].startswith("mono")
    assert inb(machine, 0x3D5) == 0xFF                       # colour CRTC not decoded
    crtc(machine, 0x0F, 3, base=0x3B4)
    assert vga.cursor() == (0, 3, True)
    crtc(machine, 0x0F, 9, base=0x3D4)                       # ignored
    assert vga.cursor() == (0, 3, True)


def test_generic_odd_even_path_matches_fast_path(machine: Machine, vga: VGA) -> None:
    put_text(machine, 0, 0, b"fast", 0x1E)
    out(machine, 0x3CE, 0x08)
    out(machine, 0x3CF, 0xFF)
    out(machine, 0x3C4, 0x02)
    out(machine, 0x3C5, 0x07)                                # map mask 0111: no fast path
    put_text(machine, 1, 0, b"slow", 0x1E)
    assert vga.text_lines()[1].startswith("slow")
    assert vga.cells()[1][0] == (ord("s"), 0x1E)
    assert vga.state.plane2[160] == ord("s")                 # even addresses also reach plane 2


def test_crtc_protect_bit(machine: Machine, vga: VGA) -> None:
    crtc(machine, 0x11, 0x8E)                                # protect on (BIOS value)
    crtc(machine, 0x01, 0x27)
    out(machine, 0x3D4, 0x01)
    assert inb(machine, 0x3D5) == 0x4F
    crtc(machine, 0x07, 0x00)                                # only line compare bit 8 writable
    out(machine, 0x3D4, 0x07)
    assert inb(machine, 0x3D5) == 0x1F & ~0x10
    crtc(machine, 0x11, 0x0E)
    crtc(machine, 0x01, 0x27)
    assert vga.mode_info()["cols"] == 40


# ---------------------------------------------------------------------- attribute controller
def test_attribute_flip_flop_reset_by_input_status_1(machine: Machine, vga: VGA) -> None:
    inb(machine, 0x3DA)
    out(machine, 0x3C0, 0x01 | regs.ATTR_PAS)                # index
    out(machine, 0x3C0, 0x2A)                                # data
    assert vga.state.attr[1] == 0x2A
    out(machine, 0x3C0, 0x02 | regs.ATTR_PAS)                # index again: flip-flop toggled
    inb(machine, 0x3DA)                                      # reset: the next write is an index
    out(machine, 0x3C0, 0x03 | regs.ATTR_PAS)
    out(machine, 0x3C0, 0x15)
    assert vga.state.attr[2] == 0x02 and vga.state.attr[3] == 0x15
    assert inb(machine, 0x3C0) == 0x03 | regs.ATTR_PAS
    assert inb(machine, 0x3C1) == 0x15
    out(machine, 0x3C0, 0x10)                                # PAS clear: screen blanked
    assert inb(machine, 0x3C0) == 0x10
    _, _, rgb = vga.framebuffer_rgb()
    assert not any(rgb)


# ---------------------------------------------------------------------- DAC
def test_dac_write_and_read_auto_increment(machine: Machine, vga: VGA) -> None:
    out(machine, 0x3C8, 0x10)
    for value in (1, 2, 3, 4, 5):                            # one entry and two thirds
        out(machine, 0x3C9, value)
    assert inb(machine, 0x3C7) == regs.DAC_STATE_WRITE
    assert inb(machine, 0x3C8) == 0x11
    assert bytes(vga.state.dac[0x11 * 3:0x11 * 3 + 3]) == bytes(regs.dac_bytes("ega64")[0x33:0x36])
    out(machine, 0x3C9, 0x7F)                                # completes entry 11h; 6-bit
    assert inb(machine, 0x3C8) == 0x12
    out(machine, 0x3C7, 0x10)
    assert inb(machine, 0x3C7) == regs.DAC_STATE_READ
    assert [inb(machine, 0x3C9) for _ in range(6)] == [1, 2, 3, 4, 5, 0x3F]
    out(machine, 0x3C8, 0xFF)                                # index wraps after 255
    for _ in range(3):
        out(machine, 0x3C9, 0x3F)
    assert inb(machine, 0x3C8) == 0x00
    out(machine, 0x3C6, 0x0F)
    assert inb(machine, 0x3C6) == 0x0F


# ---------------------------------------------------------------------- mode 13h and planar modes
def test_mode_13h_pixels_come_out_through_the_dac(machine: Machine, vga: VGA) -> None:
    vga.set_standard_mode(0x13)
    assert vga.mode_info() == {"kind": "graphics", "cols": 40, "rows": 25, "width": 320, "height": 200}
    machine.bus.write(GRAPHICS + 0, 1, 0x01)                 # blue
    machine.bus.write(GRAPHICS + 320 * 199 + 319, 1, 0x0F)   # white, bottom right
    machine.bus.write(GRAPHICS + 320 + 4, 2, 0x2820)         # two pixels: palette hues
    width, height, rgb = vga.framebuffer_rgb()
    assert (width, height, len(rgb)) == (320, 200, 320 * 200 * 3)

    def pixel(x: int, y: int) -> bytes:
        return rgb[(y * 320 + x) * 3:(y * 320 + x) * 3 + 3]
    assert pixel(0, 0) == bytes((0, 0, 0xAA))
    assert pixel(319, 199) == b"\xff\xff\xff"
    assert pixel(4, 1) == bytes((0, 0, 0xFF)) and pixel(5, 1) == bytes((0xFF, 0, 0))
    assert machine.bus.read(GRAPHICS + 320 + 4, 2) == 0x2820
    assert vga.state.plane1[324 & ~3] == 0x28                # chain-4: plane = address & 3
    out(machine, 0x3C8, 0x01)
    for component in (0x3F, 0x20, 0x00):
        out(machine, 0x3C9, component)
    assert vga.framebuffer_rgb()[2][0:3] == bytes((0xFF, 0x82, 0x00))
    out(machine, 0x3C6, 0x00)                                # PEL mask: every pixel is colour 0
    assert not any(vga.framebuffer_rgb()[2])


@pytest.mark.parametrize("setup, address, length", [
    ("text", TEXT + 160, 4000),                 # the standard text mode: odd/even
    ("text", TEXT + 161, 301),                  # odd start and length: byte by byte
    ("plane 2", GRAPHICS + 0x4000, 8192),       # a font load: sequential, plane 2 only
    ("mode x", GRAPHICS + 0xFFF0, 64),          # sequential, all four planes
    ("set/reset", GRAPHICS + 100, 640),         # a latch mode: byte by byte
])
def test_block_writes_store_what_byte_writes_store(setup: str, address: int, length: int) -> None:
    """`Bus.write_bytes` over VGA memory (the BIOS clearing a screen, loading a
    font) leaves the planes as writing the same bytes one at a time does, and
    marks the screen changed as they do."""
    rng = random.Random(length)
    data = bytes(rng.randrange(256) for _ in range(length))
    results = []
    for block in (True, False):
        machine = build()
        vga = machine.components["vga"]
        vga.set_standard_mode(0x03 if setup == "text" else 0x13)
        if setup == "plane 2":
            out(machine, 0x3C4, 0x0704, size=2)                  # sequential, 256K
            out(machine, 0x3C4, 0x0402, size=2)                  # map mask: plane 2 only
        elif setup == "mode x":
            out(machine, 0x3C4, 0x0604, size=2)                  # chain-4 off
        elif setup == "set/reset":
            out(machine, 0x3C4, 0x0604, size=2)
            out(machine, 0x3CE, 0x0501, size=2)                  # enable set/reset: planes 0, 2
        vga.state.plane3[0:4] = b"\x01\x02\x03\x04"
        generation = vga.generation
        if block:
            machine.bus.write_bytes(address, data)
        else:
            for index, byte in enumerate(data):
                machine.bus.write(address + index, 1, byte)
        results.append(([bytes(plane) for plane in vga._planes], vga.generation > generation))
    assert results[0] == results[1]
    assert any(plane != bytes(len(plane)) for plane in results[0][0])


def test_unchained_256_colour_mode_x(machine: Machine, vga: VGA) -> None:
    vga.set_standard_mode(0x13)
    out(machine, 0x3C4, 0x0604, size=2)                      # chain-4 off
    crtc(machine, 0x14, 0x00)                                # doubleword off
    crtc(machine, 0x17, 0xE3)                                # byte mode
    out(machine, 0x3C4, 0x0402, size=2)                      # map mask: plane 2 only
    machine.bus.write(GRAPHICS + 1, 1, 0x0C)
    _, _, rgb = vga.framebuffer_rgb()
    assert rgb[(4 + 2) * 3:(4 + 2) * 3 + 3] == b"\xff\x55\x55"   # pixel 4*1+2


def planar_16_colour(machine: Machine, vga: VGA) -> None:
    """640x480x16 (mode 12h) programmed through the ports."""
    out(machine, 0x3C2, 0xE3)
    for index, value in enumerate((0x03, 0x01, 0x0F, 0x00, 0x06)):
        out(machine, 0x3C4, index | (value << 8), size=2)
    out(machine, 0x3D4, 0x0E11, size=2)                      # unprotect
    for index, value in enumerate((0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xEA, 0x8C, 0xDF, 0x28,
                                   0x00, 0xE7, 0x04, 0xE3, 0xFF)):
        out(machine, 0x3D4, index | (value << 8), size=2)
    for index, value in enumerate((0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF)):
        out(machine, 0x3CE, index | (value << 8), size=2)
    inb(machine, 0x3DA)
    for index, value in enumerate(list(range(16)) + [0x01, 0x00, 0x0F, 0x00]):
        out(machine, 0x3C0, index)
        out(machine, 0x3C0, value)
    out(machine, 0x3C0, regs.ATTR_PAS)
    for offset in range(16):                                 # clear as the BIOS would
        machine.bus.write(GRAPHICS + offset, 1, 0x00)


def test_planar_write_modes_and_read_modes(machine: Machine, vga: VGA) -> None:
    planar_16_colour(machine, vga)
    assert vga.mode_info() == {"kind": "graphics", "cols": 80, "rows": 60, "width": 640, "height": 480}
    out(machine, 0x3CE, 0x0F01, size=2)                      # enable set/reset, all planes
    out(machine, 0x3CE, 0x0E00, size=2)                      # set/reset colour 14
    out(machine, 0x3CE, 0xF008, size=2)                      # bit mask: left four pixels
    machine.bus.read(GRAPHICS, 1)                            # load latches (zero)
    machine.bus.write(GRAPHICS, 1, 0x00)
    assert [vga.state.plane0[0], vga.state.plane1[0], vga.state.plane2[0], vga.state.plane3[0]] == \
        [0x00, 0xF0, 0xF0, 0xF0]
    _, _, rgb = vga.framebuffer_rgb()
    assert rgb[0:3] == b"\xaa\xaa\x55" and rgb[4 * 3:4 * 3 + 3] == b"\x00\x00\x00"
    # Write mode 1 copies the latches: duplicate byte 0 to byte 1.
    out(machine, 0x3CE, 0x0105, size=2)
    machine.bus.read(GRAPHICS, 1)
    machine.bus.write(GRAPHICS + 1, 1, 0x00)
    assert vga.state.plane3[1] == 0xF0 and vga.state.plane0[1] == 0x00
    # Write mode 2: colour from the data; XOR function.
    out(machine, 0x3CE, 0x0205, size=2)
    out(machine, 0x3CE, 0xFF08, size=2)
    out(machine, 0x3CE, 0x1803, size=2)                      # function XOR
    machine.bus.read(GRAPHICS, 1)
    machine.bus.write(GRAPHICS, 1, 0x01)
    assert vga.state.plane0[0] == 0xFF and vga.state.plane1[0] == 0xF0
    # XOR with colour 3 flips planes 0 and 1 against the latches, and back (OR would not).
    for plane0, plane1 in ((0x00, 0x0F), (0xFF, 0xF0)):
        machine.bus.read(GRAPHICS, 1)
        machine.bus.write(GRAPHICS, 1, 0x03)
        assert (vga.state.plane0[0], vga.state.plane1[0]) == (plane0, plane1)
    # Read mode 0 with read map select, read mode 1 colour compare.
    out(machine, 0x3CE, 0x0003, size=2)
    out(machine, 0x3CE, 0x0304, size=2)
    assert machine.bus.read(GRAPHICS, 1) == 0xF0
    out(machine, 0x3CE, 0x0805, size=2)
    out(machine, 0x3CE, 0x0F02, size=2)                      # compare with colour 15
    out(machine, 0x3CE, 0x0F07, size=2)
    assert machine.bus.read(GRAPHICS, 1) == 0xF0             # left four pixels are colour 15
    # Write mode 3: rotated data ANDed into the bit mask, colour from set/reset.
    out(machine, 0x3CE, 0x0305, size=2)
    out(machine, 0x3CE, 0x0200, size=2)
    out(machine, 0x3CE, 0x0103, size=2)                      # rotate right 1
    machine.bus.read(GRAPHICS + 2, 1)
    machine.bus.write(GRAPHICS + 2, 1, 0x03)                 # rotated: 0x81
    assert [vga.state.plane0[2], vga.state.plane1[2], vga.state.plane2[2]] == [0x00, 0x81, 0x00]


# ---------------------------------------------------------------------- timing
def status_at(machine: Machine, time_ns: int) -> int:
    machine.clock.skip_to(time_ns)
    return inb(machine, 0x3DA)


def test_retrace_and_display_enable_follow_virtual_time(machine: Machine, vga: VGA) -> None:
    frame = 10 * FRAME_NS                                    # a frame boundary in the future
    assert status_at(machine, frame + 10 * LINE_NS + 100) & 0x09 == 0          # active video
    assert status_at(machine, frame + 10 * LINE_NS + LINE_NS * 9 // 10) == 0x01  # h-blank
    assert status_at(machine, frame + 405 * LINE_NS) == 0x01                   # v-blank
    assert status_at(machine, frame + 412 * LINE_NS + 10) == 0x09              # v-retrace
    assert status_at(machine, frame + 414 * LINE_NS + 10) == 0x01
    assert status_at(machine, frame + FRAME_NS + 5 * LINE_NS) == 0x00          # next frame


def test_vertical_retrace_rises_70_times_a_second(machine: Machine, vga: VGA) -> None:
    rises, previous, time_ns = [], 0, machine.clock.now()
    while time_ns < 50_000_000:
        bit = status_at(machine, time_ns) & 0x08
        if bit and not previous:
            rises.append(time_ns)
        previous, time_ns = bit, time_ns + 20_000
    periods = [b - a for a, b in zip(rises, rises[1:])]
    assert len(rises) >= 3 and all(abs(p - FRAME_NS) <= 20_000 for p in periods)
    assert 69.5 < 1e9 / FRAME_NS < 70.5


# ---------------------------------------------------------------------- change tracking
def test_generation_counts_visible_changes_only(machine: Machine, vga: VGA) -> None:
    start = vga.generation
    put_text(machine, 0, 0, b"x", 0x07)
    assert vga.generation > start
    start = vga.generation
    machine.bus.write(TEXT + 0x6000, 2, 0x0741)              # page 3: not displayed
    assert vga.generation == start
    crtc(machine, 0x0F, 1)                                   # cursor moved
    assert vga.generation > start
    start = vga.generation
    crtc(machine, 0x0F, 1)                                   # same value: nothing changed
    assert vga.generation == start
    out(machine, 0x3C8, 0)
    for _ in range(3):
        out(machine, 0x3C9, 0x3F)
    assert vga.generation > start
    start = vga.generation
    set_start_address(machine, 0x3000)                       # now page 3 is displayed
    assert vga.generation > start and vga.text_lines()[0].startswith("A")
    assert machine.clock.next_deadline() is None             # no screen_change plugin: no event
    assert machine.screen is vga
    with pytest.raises(ValueError):
        vga.set_standard_mode(0x12)


class ScreenWatcher:
    def __init__(self) -> None:
        self.calls = []

    @hookimpl
    def screen_change(self, machine, screen) -> None:
        self.calls.append((machine.clock.now(), screen.generation))


def test_screen_change_fires_once_per_frame_only_after_changes(machine: Machine, vga: VGA) -> None:
    watcher = ScreenWatcher()
    machine.add_plugin(watcher)
    clock = machine.clock
    clock.run_due()
    assert clock.next_deadline() is None                     # nothing changed: no event
    for i in range(100):
        put_text(machine, 0, i % 80, b"*", 0x07)
    deadline = clock.next_deadline()
    assert deadline is not None and deadline % FRAME_NS == 0
    clock.skip_to(deadline - 1)
    clock.run_due()
    assert watcher.calls == []
    clock.skip_to(deadline)
    clock.run_due()
    assert watcher.calls == [(deadline, vga.generation)]
    assert clock.next_deadline() is None
    clock.skip_to(deadline + 3 * FRAME_NS)
    clock.run_due()
    assert len(watcher.calls) == 1                           # quiet frames report nothing
    crtc(machine, 0x0F, 7)
    clock.skip_to(clock.next_deadline())
    clock.run_due()
    assert len(watcher.calls) == 2


# ---------------------------------------------------------------------- dumps and state
def test_dump_screen_text_and_attributes(tmp_path, machine: Machine, vga: VGA) -> None:
    put_text(machine, 0, 0, b"Hi \xc9", 0x1F)
    path = str(tmp_path / "screen.txt")
    vga.dump_screen(path)
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    assert lines[0].startswith("Hi \u2554") and len(lines[0]) == 80 and len(lines) == 26
    with open(path + ".attr", encoding="ascii") as handle:
        attrs = handle.read().split("\n")
    assert attrs[0].startswith("1f1f1f1f07") and len(attrs[0]) == 160 and len(attrs) == 26


def test_dump_screen_graphics_is_ppm(tmp_path, machine: Machine, vga: VGA) -> None:
    vga.set_standard_mode(0x13)
    machine.bus.write(GRAPHICS, 1, 0x04)
    path = str(tmp_path / "screen.ppm")
    vga.dump_screen(path)
    with open(path, "rb") as handle:
        data = handle.read()
    header = b"P6\n320 200\n255\n"
    assert data.startswith(header) and len(data) == len(header) + 320 * 200 * 3
    assert data[len(header):len(header) + 3] == b"\xaa\x00\x00"


def test_save_restore_round_trip(machine: Machine, vga: VGA) -> None:
    machine.add_plugin(ScreenWatcher())
    put_text(machine, 2, 3, b"saved", 0x2E)
    crtc(machine, 0x0F, 42)
    out(machine, 0x3C8, 7)
    out(machine, 0x3C9, 0x11)                                # DAC mid-entry
    inb(machine, 0x3DA)
    out(machine, 0x3C0, 0x05)                                # flip-flop now expects data
    saved = machine.snapshot()
    pending = vga.state.frame_check_at
    assert pending

    other = build()
    watcher = ScreenWatcher()
    other.add_plugin(watcher)
    other.restore(saved)
    restored = other.components["vga"]
    assert other.snapshot()["components"]["vga"] == saved["components"]["vga"]
    assert restored.text_lines()[2].startswith("   saved") and restored.cursor() == (0, 42, True)
    assert other.clock.next_deadline() == pending            # the frame check is rescheduled
    other.bus.io_write(0x3C9, 1, 0x22)
    other.bus.io_write(0x3C9, 1, 0x33)
    assert bytes(restored.state.dac[21:24]) == b"\x11\x22\x33"
    other.bus.io_write(0x3C0, 1, 0x3F)
    assert restored.state.attr[5] == 0x3F


def test_reset_returns_to_power_on(machine: Machine, vga: VGA) -> None:
    machine.reset("reset-line")
    assert vga.mode_info()["cols"] == 1 and vga.state.misc_output == 0xC3
    assert inb(machine, 0x3CC) == 0xC3 and inb(machine, 0x3C6) == 0xFF


def test_random_register_and_memory_traffic_never_raises(machine: Machine, vga: VGA) -> None:
    rng = random.Random(1234)
    ports = [0x3B4, 0x3B5, 0x3BA, 0x3C0, 0x3C1, 0x3C2, 0x3C4, 0x3C5, 0x3C6, 0x3C7, 0x3C8,
             0x3C9, 0x3CA, 0x3CC, 0x3CE, 0x3CF, 0x3D4, 0x3D5, 0x3DA]
    for _ in range(3000):
        port = rng.choice(ports)
        if rng.random() < 0.5:
            machine.bus.io_write(port, rng.choice((1, 2)), rng.getrandbits(16))
        else:
            machine.bus.io_read(port, rng.choice((1, 2)))
        address = GRAPHICS + rng.randrange(0x20000)
        if rng.random() < 0.5:
            machine.bus.write(address, 1, rng.getrandbits(8))
        else:
            machine.bus.read(address, 1)
        if rng.random() < 0.02:
            vga.mode_info()
            vga.text_lines()
            vga.cursor()
    vga.framebuffer_rgb()
