"""The VGA register file as data: register counts, field masks, the standard mode
tables, the default DAC palettes and the CP437 character map.

Sources: IBM VGA Technical Reference (register layouts, the BIOS parameter tables for
modes 01h/03h/07h/13h), FreeVGA (field names and meanings), and the values the
Bochs/LGPL VGA BIOS and SeaBIOS program for the same modes, which agree with IBM's.
The palettes are generated from their definitions rather than listed.
"""

import dataclasses
from typing import Dict, List, Tuple

SEQ_COUNT = 5
CRTC_COUNT = 0x19
GC_COUNT = 9
ATTR_COUNT = 0x15
DAC_ENTRIES = 256
PLANE_SIZE = 0x10000

# --- misc output register (0x3C2 write, 0x3CC read)
MISC_COLOR_IO = 0x01            # CRTC at 0x3D4 (set) or 0x3B4 (clear)

# --- sequencer
SEQ_RESET, SEQ_CLOCKING, SEQ_MAP_MASK, SEQ_CHAR_MAP, SEQ_MEMORY_MODE = range(5)
CLOCKING_8DOT = 0x01            # 8-dot characters (9-dot when clear)
CLOCKING_SCREEN_OFF = 0x20
MEMORY_ODD_EVEN_OFF = 0x04      # sequential addressing (odd/even when clear)
MEMORY_CHAIN4 = 0x08

# --- CRTC
CRTC_H_TOTAL = 0x00
CRTC_H_DISPLAY_END = 0x01
CRTC_V_TOTAL = 0x06
CRTC_OVERFLOW = 0x07
CRTC_MAX_SCAN = 0x09
CRTC_CURSOR_START = 0x0A
CRTC_CURSOR_END = 0x0B
CRTC_START_HIGH = 0x0C
CRTC_START_LOW = 0x0D
CRTC_CURSOR_HIGH = 0x0E
CRTC_CURSOR_LOW = 0x0F
CRTC_V_RETRACE_START = 0x10
CRTC_V_RETRACE_END = 0x11
CRTC_V_DISPLAY_END = 0x12
CRTC_OFFSET = 0x13
CRTC_UNDERLINE = 0x14
CRTC_MODE_CONTROL = 0x17
CRTC_LINE_COMPARE = 0x18
PROTECT = 0x80                  # in CRTC 11h: registers 0-7 are read-only
LINE_COMPARE_BIT8 = 0x10        # the one bit of CRTC 07h that PROTECT leaves writable
CURSOR_DISABLE = 0x20           # in CRTC 0Ah
SCAN_DOUBLE = 0x80              # in CRTC 09h
SCAN_LINES_MASK = 0x1F
UNDERLINE_DWORD = 0x40          # in CRTC 14h
MODE_BYTE = 0x40                # in CRTC 17h: byte mode (word mode when clear)
MODE_MAP13 = 0x01               # in CRTC 17h: clear: row scan bit 0 is address bit 13
MODE_MAP14 = 0x02               # in CRTC 17h: clear: row scan bit 1 is address bit 14
#: registers whose writes change only the cursor: no re-decoding of the mode needed
CURSOR_REGISTERS = frozenset((CRTC_CURSOR_START, CRTC_CURSOR_END, CRTC_CURSOR_HIGH, CRTC_CURSOR_LOW))

# --- graphics controller
GC_SET_RESET, GC_ENABLE_SET_RESET, GC_COLOR_COMPARE, GC_DATA_ROTATE, GC_READ_MAP, \
    GC_MODE, GC_MISC, GC_COLOR_DONT_CARE, GC_BIT_MASK = range(9)
MODE_WRITE_MASK = 0x03
MODE_READ_COMPARE = 0x08
MODE_ODD_EVEN = 0x10            # host reads use odd/even addressing
MODE_SHIFT_INTERLEAVE = 0x20   # CGA 4-colour: 2-bit pixels from planes 0/1 in turn
MODE_SHIFT_256 = 0x40
MISC_GRAPHICS = 0x01
MISC_MAP_SHIFT = 2
#: GC misc bits 2-3 -> (window base, window size)
MEMORY_WINDOWS = {0: (0xA0000, 0x20000), 1: (0xA0000, 0x10000),
                  2: (0xB0000, 0x8000), 3: (0xB8000, 0x8000)}
ROTATE_MASK = 0x07
FUNCTION_SHIFT = 3
FUNC_REPLACE, FUNC_AND, FUNC_OR, FUNC_XOR = range(4)

# --- attribute controller
ATTR_INDEX_MASK = 0x1F
ATTR_PAS = 0x20                 # palette address source: video enabled when set
ATTR_MODE = 0x10
ATTR_OVERSCAN = 0x11
ATTR_PLANE_ENABLE = 0x12
ATTR_PANNING = 0x13
ATTR_COLOR_SELECT = 0x14
ATTR_MODE_GRAPHICS = 0x01
ATTR_MODE_LINE_GRAPHICS = 0x04  # 9th column repeats the 8th for C0h-DFh
ATTR_MODE_BLINK = 0x08
ATTR_MODE_P54S = 0x80

# --- DAC
DAC_STATE_WRITE = 0x00
DAC_STATE_READ = 0x03
DAC_COMPONENT_MASK = 0x3F

# --- input status 1 (0x3BA / 0x3DA read)
STATUS_DISPLAY_OFF = 0x01       # in horizontal or vertical blanking
STATUS_VRETRACE = 0x08
#: input status 0 (0x3C2 read): the switch-sense bit reads 1 on a colour monitor
STATUS0_SWITCH_SENSE = 0x10

# --- timing: the 31.47 kHz line rate of every standard VGA mode (25.175 MHz / 800
# dots, 28.322 MHz / 900 dots); the frame rate follows from the CRTC's line counts
# (449 lines in the 400-line modes: 70 Hz).
LINE_NS = 31778
#: standard 400-line values, used while the CRTC is not programmed (power-on)
DEFAULT_V_TOTAL_LINES = 449
DEFAULT_V_DISPLAY_LINES = 400
DEFAULT_V_RETRACE_START = 412
DEFAULT_V_RETRACE_LINES = 2
DEFAULT_H_DISPLAY_CHARS = 80
DEFAULT_H_TOTAL_CHARS = 100


@dataclasses.dataclass(frozen=True)
class StandardMode:
    """The register values the VGA BIOS loads for one mode."""

    misc: int
    sequencer: Tuple[int, ...]      # registers 1-4 (register 0 is the reset register)
    crtc: Tuple[int, ...]           # registers 00h-18h
    attribute: Tuple[int, ...]      # registers 00h-13h
    graphics: Tuple[int, ...]       # registers 0-8
    palette: str                    # "ega64", "mono", "vga256"
    text: bool


TEXT_ATTRIBUTE = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07,
                  0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08)
TEXT_GRAPHICS = (0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF)
CRTC_TEXT80 = (0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E,
               0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF)
CRTC_TEXT40 = (0x2D, 0x27, 0x28, 0x90, 0x2B, 0xA0, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E,
               0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x1F, 0x96, 0xB9, 0xA3, 0xFF)

STANDARD_MODES: Dict[int, StandardMode] = {
    0x01: StandardMode(0x67, (0x08, 0x03, 0x00, 0x02), CRTC_TEXT40, TEXT_ATTRIBUTE,
                       TEXT_GRAPHICS, "ega64", True),
    0x03: StandardMode(0x67, (0x00, 0x03, 0x00, 0x02), CRTC_TEXT80, TEXT_ATTRIBUTE,
                       TEXT_GRAPHICS, "ega64", True),
    0x07: StandardMode(0x66, (0x00, 0x03, 0x00, 0x02),
                       CRTC_TEXT80[:CRTC_UNDERLINE] + (0x0F,) + CRTC_TEXT80[CRTC_UNDERLINE + 1:],
                       (0x00, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08,
                        0x10, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x0E, 0x00, 0x0F, 0x08),
                       (0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0A, 0x0F, 0xFF), "mono", True),
    0x13: StandardMode(0x63, (0x01, 0x0F, 0x00, 0x0E),
                       (0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00,
                        0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF),
                       tuple(range(16)) + (0x41, 0x00, 0x0F, 0x00),
                       (0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF), "vga256", False),
}
#: modes 00h and 02h are the colour-burst-off twins of 01h and 03h on a VGA
STANDARD_MODES[0x00] = STANDARD_MODES[0x01]
STANDARD_MODES[0x02] = STANDARD_MODES[0x03]
#: the blank text cell the BIOS fills the screen with: space on light grey
BLANK_TEXT_CELL = (0x20, 0x07)
FONT_BYTES_PER_GLYPH = 32       # plane 2 holds 32 bytes per character, whatever the height


def write_mode_planes(gc: bytearray, latches: bytearray, value: int) -> List[int]:
    """The four plane bytes a host write of `value` produces: write mode 0 (rotate,
    set/reset), 1 (latches), 2 (colour from the data) or 3 (set/reset colour under
    the rotated data as a mask), then the logical function with the latches and the
    bit mask (FreeVGA, "Graphics Controller" write modes)."""
    write_mode = gc[GC_MODE] & MODE_WRITE_MASK
    if write_mode == 1:
        return list(latches)
    rotate = gc[GC_DATA_ROTATE] & ROTATE_MASK
    rotated = ((value >> rotate) | (value << (8 - rotate))) & 0xFF
    bit_mask = gc[GC_BIT_MASK]
    set_reset = gc[GC_SET_RESET]
    if write_mode == 0:
        enable = gc[GC_ENABLE_SET_RESET]
        sources = [(0xFF if (set_reset >> p) & 1 else 0) if (enable >> p) & 1 else rotated
                   for p in range(4)]
    elif write_mode == 2:
        sources = [0xFF if (value >> p) & 1 else 0 for p in range(4)]
    else:
        bit_mask &= rotated
        sources = [0xFF if (set_reset >> p) & 1 else 0 for p in range(4)]
    function = (gc[GC_DATA_ROTATE] >> FUNCTION_SHIFT) & 3
    result = []
    for plane in range(4):
        source, latch = sources[plane], latches[plane]
        if function == FUNC_AND:
            source &= latch
        elif function == FUNC_OR:
            source |= latch
        elif function == FUNC_XOR:
            source ^= latch
        result.append((source & bit_mask) | (latch & ~bit_mask & 0xFF))
    return result


def color_compare(gc: bytearray, latches: bytearray) -> int:
    """Read mode 1: a 1 for each pixel whose colour, in the planes not masked by
    colour don't care, equals the colour compare register."""
    compare, care = gc[GC_COLOR_COMPARE], gc[GC_COLOR_DONT_CARE]
    differs = 0
    for plane in range(4):
        if (care >> plane) & 1:
            differs |= latches[plane] ^ (0xFF if (compare >> plane) & 1 else 0)
    return ~differs & 0xFF


def ega64_palette() -> List[Tuple[int, int, int]]:
    """The 64 EGA colours: bits 0-2 add 2/3 blue/green/red, bits 3-5 add 1/3."""
    def level(index: int, primary_bit: int, secondary_bit: int) -> int:
        return 0x2A * ((index >> primary_bit) & 1) + 0x15 * ((index >> secondary_bit) & 1)
    return [(level(i, 2, 5), level(i, 1, 4), level(i, 0, 3)) for i in range(64)]


def mono_palette() -> List[Tuple[int, int, int]]:
    """Mode 07h: attribute-palette bit 3 is video, bit 4 intensity; one of them gives
    normal grey, both give bright white."""
    grey = {0x00: 0x00, 0x08: 0x2A, 0x10: 0x2A, 0x18: 0x3F}
    return [(grey[i & 0x18],) * 3 for i in range(64)]


CGA_COLORS = ((0x00, 0x00, 0x00), (0x00, 0x00, 0x2A), (0x00, 0x2A, 0x00), (0x00, 0x2A, 0x2A),
              (0x2A, 0x00, 0x00), (0x2A, 0x00, 0x2A), (0x2A, 0x15, 0x00), (0x2A, 0x2A, 0x2A),
              (0x15, 0x15, 0x15), (0x15, 0x15, 0x3F), (0x15, 0x3F, 0x15), (0x15, 0x3F, 0x3F),
              (0x3F, 0x15, 0x15), (0x3F, 0x15, 0x3F), (0x3F, 0x3F, 0x15), (0x3F, 0x3F, 0x3F))
GREY_RAMP = (0x00, 0x05, 0x08, 0x0B, 0x0E, 0x11, 0x14, 0x18,
             0x1C, 0x20, 0x24, 0x28, 0x2D, 0x32, 0x38, 0x3F)
#: component levels (lowest .. highest) of the nine 24-hue rings of the 256-colour
#: palette: high, medium and low intensity, each at three saturations
HUE_RING_LEVELS = ((0x00, 0x10, 0x1F, 0x2F, 0x3F), (0x1F, 0x27, 0x2F, 0x37, 0x3F),
                   (0x2D, 0x31, 0x36, 0x3A, 0x3F), (0x00, 0x07, 0x0E, 0x15, 0x1C),
                   (0x0E, 0x11, 0x15, 0x18, 0x1C), (0x14, 0x16, 0x18, 0x1A, 0x1C),
                   (0x00, 0x04, 0x08, 0x0C, 0x10), (0x08, 0x0A, 0x0C, 0x0E, 0x10),
                   (0x0B, 0x0C, 0x0D, 0x0F, 0x10))


def _hue_ring(levels: Tuple[int, ...]) -> List[Tuple[int, int, int]]:
    """24 hues: blue, magenta, red, yellow, green, cyan and back towards blue."""
    low, high = levels[0], levels[-1]
    up, down = levels[:4], levels[4:0:-1]
    return ([(v, low, high) for v in up] + [(high, low, v) for v in down]
            + [(high, v, low) for v in up] + [(v, high, low) for v in down]
            + [(low, high, v) for v in up] + [(low, v, high) for v in down])


def vga256_palette() -> List[Tuple[int, int, int]]:
    """Mode 13h: 16 CGA colours, 16 greys, nine hue rings, 8 black."""
    entries = list(CGA_COLORS) + [(g, g, g) for g in GREY_RAMP]
    for levels in HUE_RING_LEVELS:
        entries += _hue_ring(levels)
    return entries + [(0, 0, 0)] * (DAC_ENTRIES - len(entries))


PALETTES = {"ega64": ega64_palette, "mono": mono_palette, "vga256": vga256_palette}


def dac_bytes(palette: str) -> bytes:
    """A whole DAC (256 x RGB, 6 bits each) loaded with a named palette, rest black."""
    entries = PALETTES[palette]()
    flat = bytearray(DAC_ENTRIES * 3)
    for index, rgb in enumerate(entries):
        flat[index * 3:index * 3 + 3] = bytes(rgb)
    return bytes(flat)


def _cp437_table() -> str:
    """CP437 as the screen shows it: the glyphs of 01h-1Fh and 7Fh, not control codes."""
    low = "\u263a\u263b\u2665\u2666\u2663\u2660\u2022\u25d8\u25cb\u25d9\u2642\u2640\u266a\u266b\u263c" \
          "\u25ba\u25c4\u2195\u203c\u00b6\u00a7\u25ac\u21a8\u2191\u2193\u2192\u2190\u221f\u2194\u25b2\u25bc"
    printable = "".join(chr(c) for c in range(0x20, 0x7F))
    high = bytes(range(0x80, 0x100)).decode("cp437")
    # NUL shows as a blank cell; keep it a plain space so text searches work.
    return " " + low + printable + "\u2302" + high


CP437 = _cp437_table()
