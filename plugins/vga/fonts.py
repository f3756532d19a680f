"""The CP437 character fonts the VGA loads into plane 2 and the BIOS puts in its ROM
(8x16 and 8x8, shipped in plugins/vga/data; see data/FONTS.md)."""

import os

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
#: file name -> size in bytes (256 glyphs of 16 or 8 lines)
FONT_SIZES = {"font8x16.bin": 256 * 16, "font8x8.bin": 256 * 8}


def load_font(name: str) -> bytes:
    """The bytes of one shipped font, checked against its size."""
    with open(os.path.join(DATA_DIR, name), "rb") as handle:
        data = handle.read()
    if len(data) != FONT_SIZES[name]:
        raise ValueError(f"{name}: expected {FONT_SIZES[name]} bytes, found {len(data)}")
    return data
