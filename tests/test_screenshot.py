"""PNG screenshots (`machine run --screenshot`, the `--screenshot-step` step): valid
PNG files of the right size whose pixels equal a picture computed here from the
guest's own rules (its glyphs and palette) and the standard VGA colours, not by
the emulator's renderer."""

import os
import zlib

import pytest

from pcmachine.cli import main
from pcmachine.screenshot import read_png

FONT = os.path.join(os.path.dirname(__file__), "..", "plugins", "vga", "data", "font8x16.bin")
#: the 16 CGA/EGA text colours as a VGA shows them with its power-on palette
TEXT_COLORS = [(0x00, 0x00, 0x00), (0x00, 0x00, 0xAA), (0x00, 0xAA, 0x00), (0x00, 0xAA, 0xAA),
               (0xAA, 0x00, 0x00), (0xAA, 0x00, 0xAA), (0xAA, 0x55, 0x00), (0xAA, 0xAA, 0xAA),
               (0x55, 0x55, 0x55), (0x55, 0x55, 0xFF), (0x55, 0xFF, 0x55), (0x55, 0xFF, 0xFF),
               (0xFF, 0x55, 0x55), (0xFF, 0x55, 0xFF), (0xFF, 0xFF, 0x55), (0xFF, 0xFF, 0xFF)]
#: the glyph tests/guests/display/textfont.asm loads for 'A'
CUSTOM_A = bytes((0xFF, 0x81, 0x42, 0x24, 0x18, 0x18, 0x24, 0x42,
                  0x81, 0xFF, 0x00, 0xAA, 0x55, 0xAA, 0x55, 0x0F))


def shoot(tmp_path, floppy_from, guest: str, *extra: str) -> str:
    image = floppy_from(tmp_path, guest)
    png_path = str(tmp_path / "screen.png")
    status = main(["run", "pc.yaml", "--fda", image, "--headless", "--max-instructions", "5000000",
                   "--screenshot", png_path, *extra])
    assert status == 0
    return png_path


def test_png_is_a_valid_file(tmp_path, floppy_from):
    """Signature, IHDR with the screen's size, and a CRC that checks."""
    path = shoot(tmp_path, floppy_from, "display/textfont.bin")
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length = int.from_bytes(data[8:12], "big")
    assert data[12:16] == b"IHDR" and length == 13
    assert int.from_bytes(data[16:20], "big") == 720 and int.from_bytes(data[20:24], "big") == 400
    assert int.from_bytes(data[29:33], "big") == zlib.crc32(data[12:29])


def test_text_mode_uses_the_font_in_plane_2(tmp_path, floppy_from):
    """'A' is drawn with the glyph the guest loaded, 'B' with the BIOS font; 9-dot
    cells, attribute colours through the palette; the rest of the screen is blank."""
    width, height, rgb = read_png(shoot(tmp_path, floppy_from, "display/textfont.bin"))
    assert (width, height) == (720, 400)
    with open(FONT, "rb") as handle:
        glyph_b = handle.read()[ord("B") * 16:ord("B") * 16 + 16]
    expected = bytearray(bytes(TEXT_COLORS[0]) * (width * height))
    for column, (glyph, attribute) in enumerate(((CUSTOM_A, 0x1E), (glyph_b, 0x4F))):
        foreground, background = TEXT_COLORS[attribute & 15], TEXT_COLORS[attribute >> 4]
        for line in range(16):
            for dot in range(9):
                lit = dot < 8 and glyph[line] & (0x80 >> dot)
                offset = (line * width + column * 9 + dot) * 3
                expected[offset:offset + 3] = bytes(foreground if lit else background)
    assert rgb == bytes(expected)


def test_mode_13h_pixels_go_through_the_guests_palette(tmp_path, floppy_from):
    width, height, rgb = read_png(shoot(tmp_path, floppy_from, "display/mode13.bin"))
    assert (width, height) == (320, 200)

    def widen(level: int) -> int:                  # 6-bit DAC level to 8 bits
        return (level << 2) | (level >> 4)

    palette = [bytes((widen(i & 63), widen((i >> 2) & 63), widen(63 - (i & 63)))) for i in range(256)]
    expected = b"".join(palette[(x + 2 * y) & 0xFF] for y in range(200) for x in range(320))
    assert rgb == expected


def test_mode_12h_planar_pixels_and_text(tmp_path, floppy_from, capsys):
    """Write mode 2 bytes, int 10h pixels and teletype text in the 16-colour planar
    mode, through the attribute palette and the default DAC."""
    path = str(tmp_path / "mode12.png")
    image = floppy_from(tmp_path, "display/mode12.bin")
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--max-instructions", "20000000",
                 "--debugcon", "stdio", "--screenshot", path]) == 0
    assert capsys.readouterr().out.startswith("PASS")
    width, height, rgb = read_png(path)
    assert (width, height) == (640, 480)
    colors = [bytes(color) for color in TEXT_COLORS]
    pixels = [[((x >> 3) + (y >> 4)) & 15 for x in range(640)] for y in range(480)]
    for i in range(100):
        pixels[i][i] = 15
    with open(FONT, "rb") as handle:
        font = handle.read()
    for column, char in enumerate(b"VGA"):
        for line in range(16):
            bits = font[char * 16 + line]
            for dot in range(8):
                pixels[29 * 16 + line][column * 8 + dot] = 14 if bits & (0x80 >> dot) else 0
    assert rgb == b"".join(colors[value] for row in pixels for value in row)


def test_mode_04h_cga_banks_pixels_and_text(tmp_path, floppy_from, capsys):
    """The CGA 4-colour mode: even and odd lines in their 8 KiB banks, 2-bit pixels
    through the attribute palette (black, bright cyan, bright magenta, white)."""
    path = str(tmp_path / "cga.png")
    image = floppy_from(tmp_path, "display/cga4.bin")
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--max-instructions", "20000000",
                 "--debugcon", "stdio", "--screenshot", path]) == 0
    assert capsys.readouterr().out.startswith("PASS")
    width, height, rgb = read_png(path)
    assert (width, height) == (320, 200)
    colors = [b"\x00\x00\x00", b"\x55\xff\xff", b"\xff\x55\xff", b"\xff\xff\xff"]
    pixels = [[(((x >> 2) + y) & 0xFF) >> (6 - 2 * (x & 3)) & 3 for x in range(320)] for y in range(200)]
    for i in range(50):
        pixels[i][i] = 3
    with open(os.path.join(os.path.dirname(FONT), "font8x8.bin"), "rb") as handle:
        font = handle.read()
    for column, char in enumerate(b"CGA"):
        for line in range(8):
            bits = font[char * 8 + line]
            for dot in range(8):
                pixels[24 * 8 + line][column * 8 + dot] = 2 if bits & (0x80 >> dot) else 0
    assert rgb == b"".join(colors[value] for row in pixels for value in row)


def test_screenshot_step_takes_the_picture_between_steps(tmp_path, floppy_from):
    """A step shot after "Hello" shows the text; the final shot too."""
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    step_shot, final_shot = str(tmp_path / "step.png"), str(tmp_path / "final.png")
    status = main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "60",
                   "--wait", "Hello", "--screenshot-step", step_shot, "--screenshot", final_shot])
    assert status == 0
    step, final = read_png(step_shot), read_png(final_shot)
    assert step[:2] == (720, 400)
    assert any(step[2]) and step[2] == final[2]


def test_unwritable_screenshot_is_one_line(tmp_path, floppy_from, capsys):
    image = floppy_from(tmp_path, "display/textfont.bin")
    status = main(["run", "pc.yaml", "--fda", image, "--headless", "--max-instructions", "100000",
                   "--screenshot", str(tmp_path / "missing" / "x.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [f"machine: error: cannot write screenshot {tmp_path / 'missing' / 'x.png'}: "
                   "No such file or directory"]


@pytest.mark.parametrize("guest", ["display/textfont.bin"])
def test_screenshot_does_not_change_the_run(tmp_path, floppy_from, guest, capsys):
    """Taking a picture reads video memory only: the same run without it ends with
    the same screen text and instruction count."""
    image = floppy_from(tmp_path, guest)
    outputs = []
    for extra in ([], ["--screenshot", str(tmp_path / "s.png")]):
        main(["run", "pc.yaml", "--fda", image, "--headless", "--max-instructions", "300000", *extra])
        outputs.append(capsys.readouterr())
    assert outputs[0].out == outputs[1].out
