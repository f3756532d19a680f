"""Turning VGA memory into RGB pixels, as the CRTC and attribute controller scan it.

Text modes draw each cell's glyph from plane 2 (character maps A/B per sequencer
register 3, 9th column per the line-graphics bit, the cursor as a block of its
scan lines); 256-colour modes take one byte per pixel from the four planes in turn
(chained or unchained); 16-colour planar modes combine one bit from each plane;
the CGA 4-colour mode (shift register interleave) takes 2-bit pixels from planes
0 and 1 in turn.  CRTC 17h bits 0-1 put the row scan counter into address bits
13-14 (the interleaved banks of the CGA modes).
Colours go through the attribute palette (16-colour paths), the PEL mask and the
DAC, whose 6-bit components are widened to 8 bits.  A screen blanked by the
attribute controller (PAS clear) or the sequencer (screen off) renders black.

While the Bochs VBE interface is enabled the picture comes from its video memory
instead: 8 bpp through the DAC (8-bit components when the DAC is switched to 8
bits), 15/16 bpp as 5:5:5 / 5:6:5, 24/32 bpp as blue, green, red (and a byte
that is not shown), little-endian as the VBE mode information describes them.
"""

from typing import Any, Dict, List, Tuple

from pcmachine.plugins.vga import dispi
from pcmachine.plugins.vga import registers as regs
from pcmachine.plugins.vga.registers import PLANE_SIZE

PLANE_MASK = PLANE_SIZE - 1
LINE_GRAPHICS_FIRST, LINE_GRAPHICS_LAST = 0xC0, 0xDF


def _widen(component: int) -> int:
    """6-bit DAC level -> 8-bit, full scale to full scale."""
    return (component << 2) | (component >> 4)


def dac_colors(state: Any, wide: bool = False) -> List[bytes]:
    """RGB bytes of each of the 256 pixel values, after the PEL mask; `wide`: the
    DAC holds 8-bit components (VBE 8-bit DAC mode)."""
    dac, mask = state.dac, state.pel_mask
    if wide:
        return [bytes(dac[(value & mask) * 3:(value & mask) * 3 + 3]) for value in range(256)]
    return [bytes(_widen(dac[(value & mask) * 3 + i]) for i in range(3)) for value in range(256)]


def attribute_colors(state: Any) -> List[bytes]:
    """RGB bytes of the 16 attribute colours (palette registers, colour select, DAC)."""
    attr = state.attr
    select = attr[regs.ATTR_COLOR_SELECT]
    colors = dac_colors(state)
    result = []
    for index in range(16):
        value = attr[index] & 0x3F
        if attr[regs.ATTR_MODE] & regs.ATTR_MODE_P54S:
            value = (value & 0x0F) | ((select & 0x03) << 4)
        value |= (select & 0x0C) << 4
        result.append(colors[value])
    return result


def render(vga: Any) -> Tuple[int, int, bytes]:
    """(width, height, RGB bytes) of what the monitor shows."""
    state = vga.state
    if vga.dispi is not None and vga.dispi.enabled:
        return _render_vbe(vga)
    info = vga.mode_info()
    width, height = info["width"], info["height"]
    blanked = (not state.attr_index & regs.ATTR_PAS
               or state.seq[regs.SEQ_CLOCKING] & regs.CLOCKING_SCREEN_OFF)
    if blanked or not width or not height:
        return width, height, bytes(width * height * 3)
    if info["kind"] == "text":
        return width, height, _render_text(vga, info)
    if state.gc[regs.GC_MODE] & regs.MODE_SHIFT_256:
        return width, height, _render_256(vga, width, height)
    if state.gc[regs.GC_MODE] & regs.MODE_SHIFT_INTERLEAVE:
        return width, height, _render_interleaved(vga, width, height)
    return width, height, _render_planar16(vga, width, height)


def _font_base(char_map: int) -> int:
    """Plane 2 offset of character map 0-7 (maps 4-7 sit 8 KiB above 0-3)."""
    return (char_map & 3) * 0x4000 + (char_map >> 2) * 0x2000


def _render_text(vga: Any, info: Dict[str, Any]) -> bytes:
    state = vga.state
    columns, rows = info["cols"], info["rows"]
    char_width = info["width"] // columns
    cell_height = info["height"] // rows
    select = state.seq[regs.SEQ_CHAR_MAP]
    map_b = _font_base(((select >> 2) & 4) | (select & 3))       # attribute bit 3 clear
    map_a = _font_base(((select >> 3) & 4) | ((select >> 2) & 3))  # attribute bit 3 set
    mode = state.attr[regs.ATTR_MODE]
    blink = mode & regs.ATTR_MODE_BLINK
    line_graphics = mode & regs.ATTR_MODE_LINE_GRAPHICS
    colors = attribute_colors(state)
    plane2 = state.plane2
    cursor_row, cursor_col, cursor_visible = vga.cursor()
    crtc = state.crtc
    cursor_first = crtc[regs.CRTC_CURSOR_START] & regs.SCAN_LINES_MASK
    cursor_last = crtc[regs.CRTC_CURSOR_END] & regs.SCAN_LINES_MASK
    spans: Dict[Tuple[int, int, int, bool], bytes] = {}
    out = []
    upper = vga.rows_from(info, vga.start_address())
    upper_cursor = (cursor_row, cursor_col) if cursor_visible else None
    split = vga.split_line()
    if split is not None:
        # below the line-compare split memory starts again at address 0; the cursor
        # shows where the address counter meets its location
        lower = vga.rows_from(info, 0)
        location = (crtc[regs.CRTC_CURSOR_HIGH] << 8) | crtc[regs.CRTC_CURSOR_LOW]
        shown = not crtc[regs.CRTC_CURSOR_START] & regs.CURSOR_DISABLE and cursor_first <= cursor_last
        lower_cursor = divmod(location, vga.row_stride() or columns) if shown else None
    for scan in range(rows * cell_height):
        row, line = divmod(scan, cell_height)
        chars, attrs = upper[row]
        cursor = upper_cursor
        if split is not None and scan >= split:
            row, line = divmod(scan - split, cell_height)
            chars, attrs = lower[row]
            cursor = lower_cursor
        in_cursor = cursor is not None and cursor[0] == row and cursor_first <= line <= cursor_last
        cursor_col = cursor[1] if in_cursor else -1
        for col in range(columns):
            char, attribute = chars[col], attrs[col]
            base = map_a if attribute & 0x08 else map_b
            bits = plane2[base + char * regs.FONT_BYTES_PER_GLYPH + line] if line < 32 else 0
            if col == cursor_col:
                bits = 0xFF
            extend = line_graphics and LINE_GRAPHICS_FIRST <= char <= LINE_GRAPHICS_LAST
            background = (attribute >> 4) & (0x07 if blink else 0x0F)
            key = (bits, attribute & 0x0F, background, bool(extend and bits & 1))
            span = spans.get(key)
            if span is None:
                fg, bg = colors[attribute & 0x0F], colors[background]
                pixels = [fg if (bits << x) & 0x80 else bg for x in range(8)]
                if char_width == 9:
                    pixels.append(fg if key[3] else bg)
                span = spans[key] = b"".join(pixels)
            out.append(span)
    return b"".join(out)


def _row_addresses(vga: Any, height: int) -> List[Tuple[int, int, int]]:
    """(CRTC address, AND mask, OR mask) of each displayed pixel row: plane offset
    of step `n` is ((address + n) << shift) & AND | OR.  Rows start at the start
    address, and at 0 again below the line-compare split; with CRTC 17h bit 0 (or
    bit 1) clear the row scan counter's bit 0 (1) replaces address bit 13 (14), the
    CGA-compatible banks of modes 04h-06h."""
    start, stride = vga.start_address(), vga.row_stride()
    split = vga.split_line()
    lines_per_row = max(1, vga.displayed_lines() // height)
    substitute = vga.bank_substitution()
    cell = vga.cell_height() if substitute else 1
    rows = []
    for y in range(height):
        first = start
        if split is not None and y * lines_per_row >= split:
            y, first = (y * lines_per_row - split) // lines_per_row, 0
        line, scan = divmod(y, cell)
        bank = ((scan & 1) << 13 | (scan & 2) << 13) & substitute
        rows.append((first + line * stride, PLANE_MASK & ~substitute, bank))
    return rows


def _render_256(vga: Any, width: int, height: int) -> bytes:
    """One byte per pixel: each address-counter step shows planes 0, 1, 2, 3."""
    state = vga.state
    planes = (state.plane0, state.plane1, state.plane2, state.plane3)
    colors = dac_colors(state)
    shift = vga.address_shift()
    out = []
    for counter, keep, bank in _row_addresses(vga, height):
        for step in range(width // 4):
            at = (((counter + step) << shift) & keep) | bank
            out.extend(colors[plane[at]] for plane in planes)
    return b"".join(out)


def _render_interleaved(vga: Any, width: int, height: int) -> bytes:
    """CGA 4-colour (shift register interleave, modes 04h/05h): each address step
    shows the byte of plane 0 then that of plane 1, four 2-bit pixels each, high
    bits first; planes 2 and 3 give bits 2-3 the same way.  Through the palette."""
    state = vga.state
    planes = (state.plane0, state.plane1, state.plane2, state.plane3)
    colors = attribute_colors(state)
    enable = state.attr[regs.ATTR_PLANE_ENABLE] & 0x0F
    shift = vga.address_shift()
    spans: Dict[Tuple[int, int], bytes] = {}
    out = []
    for counter, keep, bank in _row_addresses(vga, height):
        for step in range(width // 8):
            at = (((counter + step) << shift) & keep) | bank
            for low, high in ((planes[0][at], planes[2][at]), (planes[1][at], planes[3][at])):
                span = spans.get((low, high))
                if span is None:
                    pixels = []
                    for pixel in range(4):
                        bits = 6 - 2 * pixel
                        value = ((low >> bits) & 3) | (((high >> bits) & 3) << 2)
                        pixels.append(colors[value & enable])
                    span = spans[(low, high)] = b"".join(pixels)
                out.append(span)
    return b"".join(out)


def _render_planar16(vga: Any, width: int, height: int) -> bytes:
    """One bit per plane per pixel, eight pixels per address, through the palette."""
    state = vga.state
    planes = (state.plane0, state.plane1, state.plane2, state.plane3)
    colors = attribute_colors(state)
    enable = state.attr[regs.ATTR_PLANE_ENABLE] & 0x0F
    shift = vga.address_shift()
    spans: Dict[Tuple[int, ...], bytes] = {}
    out = []
    for counter, keep, bank in _row_addresses(vga, height):
        for step in range(width // 8):
            at = (((counter + step) << shift) & keep) | bank
            key = tuple(plane[at] for plane in planes)
            span = spans.get(key)
            if span is None:
                pixels = []
                for bit in range(7, -1, -1):
                    value = sum(((key[p] >> bit) & 1) << p for p in range(4)) & enable
                    pixels.append(colors[value])
                span = spans[key] = b"".join(pixels)
            out.append(span)
    return b"".join(out)


_HIGH_COLOR_TABLES: Dict[int, List[bytes]] = {}


def _high_color_table(bpp: int) -> List[bytes]:
    """RGB bytes of every 15-bit (x:5:5:5) or 16-bit (5:6:5) pixel value, built once."""
    table = _HIGH_COLOR_TABLES.get(bpp)
    if table is None:
        green_bits = 6 if bpp == 16 else 5
        red_shift = 5 + green_bits
        table = []
        for value in range(0x10000):
            red = (value >> red_shift) & 0x1F
            green = (value >> 5) & ((1 << green_bits) - 1)
            blue = value & 0x1F
            table.append(bytes(((red << 3) | (red >> 2),
                                (green << (8 - green_bits)) | (green >> (2 * green_bits - 8)),
                                (blue << 3) | (blue >> 2))))
        _HIGH_COLOR_TABLES[bpp] = table
    return table


def _render_vbe(vga: Any) -> Tuple[int, int, bytes]:
    """The displayed part of VBE video memory as RGB."""
    state = vga.state
    width, height, bpp, stride, start = dispi.geometry(state.vbe_regs)
    if not state.attr_index & regs.ATTR_PAS or bpp == 4:
        return width, height, bytes(width * height * 3)
    row_bytes = width * dispi.storage_bits(bpp) // 8
    vram = state.vram
    if stride == row_bytes:
        block = bytes(vram[start:start + height * row_bytes])
    else:
        block = b"".join(vram[start + y * stride:start + y * stride + row_bytes] for y in range(height))
    block = block.ljust(height * row_bytes, b"\0")
    out = bytearray(width * height * 3)
    if bpp in (24, 32):
        step = bpp // 8
        out[0::3] = block[2::step]
        out[1::3] = block[1::step]
        out[2::3] = block[0::step]
    elif bpp == 8:
        colors = dac_colors(state, wide=vga.dispi.dac_8bit())
        for component in range(3):
            out[component::3] = block.translate(bytes(color[component] for color in colors))
    else:
        table = _high_color_table(bpp)
        pixels = memoryview(block).cast("H")
        out[:] = b"".join([table[value] for value in pixels])
    return width, height, bytes(out)
