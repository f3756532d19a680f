"""Register values of the standard VGA modes the BIOS sets, and the default DAC
palettes (IBM VGA Technical Reference, the mode tables of the VGA BIOS).

Each mode lists: misc output, sequencer 0-4, CRTC 0-18h, graphics controller 0-8,
attribute controller 0-14h, plus the geometry the BDA reports."""

import dataclasses
from typing import Dict, List, Tuple


@dataclasses.dataclass(frozen=True)
class VideoMode:
    number: int
    text: bool
    columns: int
    rows: int
    char_height: int
    memory_base: int        # physical address of page 0
    page_size: int
    pages: int
    crtc_base: int          # 0x3D4 colour, 0x3B4 monochrome
    mode_control: int       # CGA-compatible 3x8 value kept at 40:65
    misc: int
    sequencer: Tuple[int, ...]
    crtc: Tuple[int, ...]
    graphics: Tuple[int, ...]
    attribute: Tuple[int, ...]
    width: int = 0          # pixels, graphics modes
    height: int = 0
    colors: int = 16
    palette: str = "ega"    # DAC contents: "ega" (64 EGA colours), "cga" (CGA colours), "vga256"

    @property
    def cga(self) -> bool:
        """A CGA-compatible graphics mode (04h-06h): packed pixels at B8000, even
        lines in the first 8 KiB, odd lines in the second."""
        return not self.text and self.memory_base == 0xB8000

    @property
    def planar(self) -> bool:
        """A 16- or 2-colour EGA/VGA graphics mode: one bit per pixel in each plane."""
        return not self.text and self.colors != 256 and not self.cga

    @property
    def bits_per_pixel(self) -> int:
        """Bits of one pixel in a byte of host memory (CGA modes: 2 or 1)."""
        return 2 if self.colors == 4 else 1


TEXT_GRAPHICS = (0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF)
TEXT_ATTRIBUTE = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07,
                  0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
                  0x0C, 0x00, 0x0F, 0x08, 0x00)
CRTC_80 = (0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E,
           0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF)
CRTC_40 = (0x2D, 0x27, 0x28, 0x90, 0x2B, 0xA0, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E,
           0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x1F, 0x96, 0xB9, 0xA3, 0xFF)


def _text40(number: int) -> VideoMode:
    return VideoMode(number, True, 40, 25, 16, 0xB8000, 0x800, 8, 0x3D4,
                     0x28 if number == 1 else 0x2C, 0x67, (0x03, 0x08, 0x03, 0x00, 0x02),
                     CRTC_40, TEXT_GRAPHICS, TEXT_ATTRIBUTE)


def _text80(number: int) -> VideoMode:
    return VideoMode(number, True, 80, 25, 16, 0xB8000, 0x1000, 8, 0x3D4,
                     0x29 if number == 3 else 0x2D, 0x67, (0x03, 0x00, 0x03, 0x00, 0x02),
                     CRTC_80, TEXT_GRAPHICS, TEXT_ATTRIBUTE)


PLANAR_GRAPHICS = (0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF)
PLANAR_SEQUENCER_40 = (0x03, 0x09, 0x0F, 0x00, 0x06)
PLANAR_SEQUENCER = (0x03, 0x01, 0x0F, 0x00, 0x06)
#: 0Dh/0Eh: colours 8-15 are the bright CGA colours of the "cga" palette
PLANAR_ATTRIBUTE_CGA = tuple(range(8)) + tuple(range(0x10, 0x18)) + (0x01, 0x00, 0x0F, 0x00, 0x00)
PLANAR_ATTRIBUTE_EGA = TEXT_ATTRIBUTE[:16] + (0x01, 0x00, 0x0F, 0x00, 0x00)
PLANAR_ATTRIBUTE_MONO = (0x00, 0x3F) * 8 + (0x01, 0x00, 0x0F, 0x00, 0x00)
CRTC_200_40 = (0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC0, 0x00, 0x00,
               0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xE3, 0xFF)
CRTC_200_80 = (0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0xC0, 0x00, 0x00,
               0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x00, 0x96, 0xB9, 0xE3, 0xFF)
CRTC_350 = (0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x40, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x83, 0x85, 0x5D, 0x28, 0x0F, 0x63, 0xBA, 0xE3, 0xFF)
CRTC_480 = (0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF)


def _planar(number: int, columns: int, rows: int, char_height: int, page_size: int, pages: int,
            misc: int, sequencer: Tuple[int, ...], crtc: Tuple[int, ...], attribute: Tuple[int, ...],
            width: int, height: int, colors: int, palette: str) -> VideoMode:
    return VideoMode(number, False, columns, rows, char_height, 0xA0000, page_size, pages, 0x3D4,
                     0x29, misc, sequencer, crtc, PLANAR_GRAPHICS, attribute,
                     width=width, height=height, colors=colors, palette=palette)


CRTC_CGA_320 = (0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xA2, 0xFF)
CRTC_CGA_640 = (0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x00, 0x96, 0xB9, 0xC2, 0xFF)


def _cga(number: int) -> VideoMode:
    """04h/05h: 320x200, 4 colours (odd/even, interleaved shift); 06h: 640x200, 2."""
    if number == 0x06:
        return VideoMode(0x06, False, 80, 25, 8, 0xB8000, 0x4000, 1, 0x3D4, 0x1E, 0x63,
                         (0x03, 0x01, 0x01, 0x00, 0x06), CRTC_CGA_640,
                         (0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x0F, 0xFF),
                         (0x00,) + (0x17,) * 15 + (0x01, 0x00, 0x01, 0x00, 0x00),
                         width=640, height=200, colors=2, palette="cga")
    return VideoMode(number, False, 40, 25, 8, 0xB8000, 0x4000, 1, 0x3D4, 0x2A if number == 4 else 0x2E,
                     0x63, (0x03, 0x09, 0x03, 0x00, 0x02), CRTC_CGA_320,
                     (0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0F, 0x0F, 0xFF),
                     (0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07,
                      0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00),
                     width=320, height=200, colors=4, palette="cga")


MODES: Dict[int, VideoMode] = {
    0x00: _text40(0x00),
    0x01: _text40(0x01),
    0x02: _text80(0x02),
    0x03: _text80(0x03),
    0x07: VideoMode(
        0x07, True, 80, 25, 16, 0xB0000, 0x1000, 8, 0x3B4, 0x29, 0x66,
        (0x03, 0x00, 0x03, 0x00, 0x02),
        CRTC_80[:20] + (0x0F,) + CRTC_80[21:],
        (0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0A, 0x00, 0xFF),
        (0x00, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
         0x10, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
         0x0E, 0x00, 0x0F, 0x08, 0x00), colors=2),
    0x13: VideoMode(
        0x13, False, 40, 25, 8, 0xA0000, 0x10000, 1, 0x3D4, 0x29, 0x63,
        (0x03, 0x01, 0x0F, 0x00, 0x0E),
        (0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00,
         0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF),
        (0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF),
        tuple(range(16)) + (0x41, 0x00, 0x0F, 0x00, 0x00),
        width=320, height=200, colors=256, palette="vga256"),
    0x04: _cga(0x04),
    0x05: _cga(0x05),
    0x06: _cga(0x06),
    0x0D: _planar(0x0D, 40, 25, 8, 0x2000, 8, 0x63, PLANAR_SEQUENCER_40, CRTC_200_40,
                  PLANAR_ATTRIBUTE_CGA, 320, 200, 16, "cga"),
    0x0E: _planar(0x0E, 80, 25, 8, 0x4000, 4, 0x63, PLANAR_SEQUENCER, CRTC_200_80,
                  PLANAR_ATTRIBUTE_CGA, 640, 200, 16, "cga"),
    0x10: _planar(0x10, 80, 25, 14, 0x8000, 2, 0xA3, PLANAR_SEQUENCER, CRTC_350,
                  PLANAR_ATTRIBUTE_EGA, 640, 350, 16, "ega"),
    0x11: _planar(0x11, 80, 30, 16, 0xA000, 1, 0xE3, PLANAR_SEQUENCER, CRTC_480,
                  PLANAR_ATTRIBUTE_MONO, 640, 480, 2, "ega"),
    0x12: _planar(0x12, 80, 30, 16, 0xA000, 1, 0xE3, PLANAR_SEQUENCER, CRTC_480,
                  PLANAR_ATTRIBUTE_EGA, 640, 480, 16, "ega"),
}


def ega_palette() -> List[Tuple[int, int, int]]:
    """The 64-entry palette of the text modes: DAC entry i is EGA colour i
    (bits 0-2 primary blue/green/red at 2/3 intensity, bits 3-5 secondary at 1/3)."""
    entries = []
    for index in range(64):
        def level(primary_bit: int, secondary_bit: int) -> int:
            return 42 * ((index >> primary_bit) & 1) + 21 * ((index >> secondary_bit) & 1)
        entries.append((level(2, 5), level(1, 4), level(0, 3)))
    return entries


def cga_palette() -> List[Tuple[int, int, int]]:
    """The 64-entry palette of modes 0Dh/0Eh: entry i is CGA colour i & 7, bright
    when bit 4 is set (the attribute registers send colours 8-15 to 10h-17h)."""
    return [CGA_COLORS[(index & 7) | (8 if index & 0x10 else 0)] for index in range(64)]


CGA_COLORS = ((0, 0, 0), (0, 0, 42), (0, 42, 0), (0, 42, 42), (42, 0, 0), (42, 0, 42),
              (42, 21, 0), (42, 42, 42), (21, 21, 21), (21, 21, 63), (21, 63, 21),
              (21, 63, 63), (63, 21, 21), (63, 21, 63), (63, 63, 21), (63, 63, 63))
GRAY_RAMP = (0, 5, 8, 11, 14, 17, 20, 24, 28, 32, 36, 40, 45, 50, 56, 63)
# The component levels of the nine blocks of 24 hues (three saturations at each of
# three intensities), from the lowest to the highest level of the block.
HUE_BLOCKS = ((0, 16, 31, 47, 63), (31, 39, 47, 55, 63), (45, 49, 54, 58, 63),
              (0, 7, 14, 21, 28), (14, 17, 21, 24, 28), (20, 22, 24, 26, 28),
              (0, 4, 8, 12, 16), (8, 10, 12, 14, 16), (11, 12, 13, 15, 16))


def _hue_circle(steps: Tuple[int, ...]) -> List[Tuple[int, int, int]]:
    """24 hues from blue through magenta, red, yellow, green, cyan back to blue."""
    low, high = steps[0], steps[4]
    ramp_up, ramp_down = steps[:4], steps[4:0:-1]
    result = []
    result += [(v, low, high) for v in ramp_up]            # blue -> magenta
    result += [(high, low, v) for v in ramp_down]          # magenta -> red
    result += [(high, v, low) for v in ramp_up]            # red -> yellow
    result += [(v, high, low) for v in ramp_down]          # yellow -> green
    result += [(low, high, v) for v in ramp_up]            # green -> cyan
    result += [(low, v, high) for v in ramp_down]          # cyan -> blue
    return result


def vga256_palette() -> List[Tuple[int, int, int]]:
    """The default palette of mode 13h: 16 CGA colours, 16 greys, 216 hues, 8 black."""
    entries = list(CGA_COLORS) + [(g, g, g) for g in GRAY_RAMP]
    for steps in HUE_BLOCKS:
        entries += _hue_circle(steps)
    entries += [(0, 0, 0)] * (256 - len(entries))
    return entries
