"""Int 10h: the video services of a VGA BIOS, programmed through the VGA's ports.

Mode set writes the standard register tables (`vgatables.py`) to the misc output,
sequencer, CRTC, graphics and attribute controllers, loads the DAC palette and, for
text modes, the 8x16 font into plane 2, then clears video memory.  Text output goes
to video memory through the bus (the VGA's memory-mapped window), the cursor to
CRTC registers 0Eh/0Fh.  The BDA video fields (40:49-40:66, 40:84-40:8A) are kept
as a real VGA BIOS keeps them, since DOS programs read them directly.

Modes: 00h-03h and 07h (text), 0Dh, 0Eh, 10h, 12h (16-colour planar), 11h (2-colour
planar), 13h (320x200x256).  In the planar modes pixels and characters are drawn
through the graphics controller as a VGA BIOS does (write mode 2 under the bit
mask, write mode 1 to copy with the latches when scrolling, the read map to read a
pixel); 8x14 characters (mode 10h) are lines 1-14 of the 8x16 glyphs.  The CGA
modes 04h-06h (320x200x4, 640x200x2) keep packed pixels at B8000 with odd lines
8 KiB on, written as bytes through the VGA's odd/even window.
"""

from typing import Any, Dict, List, Tuple

from pcmachine.plugins.vga.fonts import load_font

from . import common as c
from .rom import IRET, OFFSET_FONT8X8, RomBuilder
from .vbe import VbeServices
from .vgatables import MODES, VideoMode, cga_palette, ega_palette, vga256_palette
from .videoservices import VideoFunctions

SEQ_INDEX, SEQ_DATA = 0x3C4, 0x3C5
GC_INDEX, GC_DATA = 0x3CE, 0x3CF
AC_INDEX, AC_READ = 0x3C0, 0x3C1
MISC_WRITE = 0x3C2
DAC_MASK, DAC_READ_INDEX, DAC_WRITE_INDEX, DAC_DATA = 0x3C6, 0x3C7, 0x3C8, 0x3C9
AC_PALETTE_ENABLE = 0x20      # index bit 5: display on, palette locked
CRTC_PROTECT = 0x11           # bit 7 write-protects CRTC 0-7
CGA_BANK = 0x2000             # odd lines of the CGA modes
CGA_LINE = 80                 # bytes per line in the CGA modes
GC_SET_RESET, GC_ENABLE_SET_RESET, GC_ROTATE, GC_READ_MAP, GC_MODE, GC_BIT_MASK = 0, 1, 3, 4, 5, 8
FUNCTION_XOR = 0x18           # data rotate register: XOR with the latches
PALETTES = {"ega": ega_palette, "cga": cga_palette, "vga256": vga256_palette}
BELL_HZ = 896
BELL_NS = 125_000_000
PIT_HZ = 1193182


class VideoServices(VideoFunctions):
    """Mode set, text output and the int 10h dispatcher (the functions themselves
    are in `videoservices.py`)."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context
        self.font16 = load_font("font8x16.bin")
        self.font8 = load_font("font8x8.bin")
        self._speaker_event = None
        self.vbe = VbeServices(self)

    # ------------------------------------------------------------ ROM
    def install(self, rom: RomBuilder) -> Dict[int, int]:
        rom.place(OFFSET_FONT8X8, self.font8[:1024], "font8x8_ibm")
        font8 = rom.emit(self.font8, "font8x8")
        rom.emit(self.font16, "font8x16")
        rom.emit(self.static_functionality(), "video_static")
        self.vbe.install(rom)
        entry = rom.hostcall(self.int10, IRET, "int10")
        # int 1Fh: the upper half of the 8x8 font; int 43h: the graphics font.
        return {0x10: entry, 0x1F: font8 + 1024, 0x43: font8}

    @staticmethod
    def static_functionality() -> bytes:
        """The table int 10h AH=1Bh points to: modes 00h-07h, 0Dh, 0Eh,
        10h-13h; 200/350/400 scan lines; 8 font blocks; palette, font and
        cursor-emulation support."""
        table = bytearray(16)
        table[0] = 0xFF
        table[1] = 0x60
        table[2] = 0x0F
        table[7] = 0x07
        table[8] = 8
        table[9] = 2
        table[10] = 0x7F
        return bytes(table)

    # ------------------------------------------------------------ POST
    def post(self) -> None:
        self.ctx.set_bda8(c.BDA_VIDEO_SWITCHES, 0xF9)
        self.ctx.set_bda8(c.BDA_VIDEO_CONTROL, 0x60)
        self.set_mode(0x03)

    # ------------------------------------------------------------ state helpers
    def mode(self) -> VideoMode:
        return MODES.get(self.ctx.bda8(c.BDA_VIDEO_MODE) & 0x7F, MODES[0x03])

    def columns(self) -> int:
        return self.ctx.bda16(c.BDA_VIDEO_COLUMNS) or 80

    def rows(self) -> int:
        return self.ctx.bda8(c.BDA_VIDEO_ROWS) + 1

    def cursor(self, page: int) -> Tuple[int, int]:
        value = self.ctx.bda16(c.BDA_CURSOR_POS + 2 * (page & 7))
        return value >> 8, value & 0xFF

    def page_base(self, page: int) -> int:
        mode = self.mode()
        if not mode.text:
            return mode.memory_base
        return mode.memory_base + (page & 7) * self.ctx.bda16(c.BDA_VIDEO_PAGE_SIZE)

    def cell_address(self, page: int, row: int, column: int) -> int:
        return self.page_base(page) + (row * self.columns() + column) * 2

    # ------------------------------------------------------------ registers
    def crtc_write(self, index: int, value: int) -> None:
        base = self.ctx.bda16(c.BDA_CRTC_BASE) or 0x3D4
        self.ctx.outb(base, index)
        self.ctx.outb(base + 1, value)

    def crtc_read(self, index: int) -> int:
        base = self.ctx.bda16(c.BDA_CRTC_BASE) or 0x3D4
        self.ctx.outb(base, index)
        return self.ctx.inb(base + 1)

    def seq_write(self, index: int, value: int) -> None:
        self.ctx.outb(SEQ_INDEX, index)
        self.ctx.outb(SEQ_DATA, value)

    def gc_write(self, index: int, value: int) -> None:
        self.ctx.outb(GC_INDEX, index)
        self.ctx.outb(GC_DATA, value)

    def input_status_port(self) -> int:
        return (self.ctx.bda16(c.BDA_CRTC_BASE) or 0x3D4) + 6

    def ac_write(self, index: int, value: int) -> None:
        """Reading input status 1 puts the attribute flip-flop in index state."""
        self.ctx.inb(self.input_status_port())
        self.ctx.outb(AC_INDEX, (index & 0x1F) | AC_PALETTE_ENABLE)
        self.ctx.outb(AC_INDEX, value)

    def ac_read(self, index: int) -> int:
        self.ctx.inb(self.input_status_port())
        self.ctx.outb(AC_INDEX, (index & 0x1F) | AC_PALETTE_ENABLE)
        value = self.ctx.inb(AC_READ)
        self.ctx.inb(self.input_status_port())
        return value

    def dac_write(self, first: int, entries: List[Tuple[int, int, int]]) -> None:
        self.ctx.outb(DAC_WRITE_INDEX, first)
        for red, green, blue in entries:
            self.ctx.outb(DAC_DATA, red)
            self.ctx.outb(DAC_DATA, green)
            self.ctx.outb(DAC_DATA, blue)

    def dac_read(self, first: int, count: int) -> List[Tuple[int, int, int]]:
        self.ctx.outb(DAC_READ_INDEX, first)
        inb = self.ctx.inb
        return [(inb(DAC_DATA) & 0x3F, inb(DAC_DATA) & 0x3F, inb(DAC_DATA) & 0x3F)
                for _ in range(count)]

    # ------------------------------------------------------------ mode set
    def set_mode(self, number: int) -> bool:
        """Program the VGA for a standard mode; bit 7 of `number` keeps video memory.
        Returns False (nothing changed) for a mode this BIOS does not set."""
        keep_memory = bool(number & 0x80)
        mode = MODES.get(number & 0x7F)
        if mode is None:
            return False
        ctx = self.ctx
        self.vbe.disable()
        ctx.outb(MISC_WRITE, mode.misc)
        ctx.set_bda16(c.BDA_CRTC_BASE, mode.crtc_base)
        self.seq_write(0, 0x01)                      # synchronous reset
        for index in range(1, 5):
            self.seq_write(index, mode.sequencer[index])
        self.seq_write(0, 0x03)
        self.crtc_write(CRTC_PROTECT, 0x00)          # unlock CRTC 0-7
        for index, value in enumerate(mode.crtc):
            self.crtc_write(index, value)
        for index, value in enumerate(mode.graphics):
            self.gc_write(index, value)
        ctx.inb(mode.crtc_base + 6)
        for index, value in enumerate(mode.attribute):
            ctx.outb(AC_INDEX, index)
            ctx.outb(AC_INDEX, value)
        ctx.outb(DAC_MASK, 0xFF)
        self.dac_write(0, PALETTES[mode.palette]())
        if mode.text:
            self.load_font(self.font16, 16, 0, 256, 0)
        ctx.inb(mode.crtc_base + 6)
        ctx.outb(AC_INDEX, AC_PALETTE_ENABLE)        # display on
        if not keep_memory:
            self.clear_memory(mode)
        self.set_mode_bda(mode, number)
        self.set_cursor_shape(0x06, 0x07)
        self.set_active_page(0)
        return True

    def set_mode_bda(self, mode: VideoMode, number: int) -> None:
        ctx = self.ctx
        ctx.set_bda8(c.BDA_VIDEO_MODE, mode.number)
        ctx.set_bda16(c.BDA_VIDEO_COLUMNS, mode.columns)
        ctx.set_bda16(c.BDA_VIDEO_PAGE_SIZE, 0xFA00 if mode.colors == 256 else mode.page_size)
        ctx.set_bda16(c.BDA_VIDEO_PAGE_START, 0)
        for page in range(8):
            ctx.set_bda16(c.BDA_CURSOR_POS + 2 * page, 0)
        ctx.set_bda8(c.BDA_ACTIVE_PAGE, 0)
        ctx.set_bda8(c.BDA_MODE_CONTROL, mode.mode_control)
        ctx.set_bda8(c.BDA_PALETTE, 0x30 if mode.text else 0x3F)
        ctx.set_bda8(c.BDA_VIDEO_ROWS, mode.rows - 1)
        ctx.set_bda16(c.BDA_CHAR_HEIGHT, mode.char_height)
        control = ctx.bda8(c.BDA_VIDEO_CONTROL)
        ctx.set_bda8(c.BDA_VIDEO_CONTROL, (control & 0x7F) | (number & 0x80))
        ctx.set_bda8(c.BDA_VGA_FLAGS, 0x51)

    def clear_memory(self, mode: VideoMode) -> None:
        """Text: blanks on every page; planar: every page's bytes in all four planes
        (the mode's map mask and write mode 0 are in effect); 256 colours: the screen."""
        if mode.text:
            self.ctx.bus.write_bytes(mode.memory_base, b"\x20\x07" * (mode.page_size * mode.pages // 2))
        elif mode.planar or mode.cga:
            self.ctx.bus.write_bytes(mode.memory_base, bytes(min(mode.page_size * mode.pages, 0x10000)))
        else:
            self.ctx.bus.write_bytes(mode.memory_base, bytes(mode.width * mode.height))

    def load_font(self, font: bytes, height: int, first: int, count: int, block: int) -> None:
        """Write glyphs into plane 2 (32 bytes per character slot, block `block` at
        8 KiB steps of the 16 KiB-aligned font area), then restore text addressing."""
        self.seq_write(2, 0x04)          # write plane 2 only
        self.seq_write(4, 0x07)          # sequential addressing, 256K
        self.gc_write(4, 0x02)           # read plane 2
        self.gc_write(5, 0x00)
        self.gc_write(6, 0x04)           # A0000, 64K, no odd/even
        slots = bytearray(32 * count)
        for index in range(count):
            glyph = font[index * height:(index + 1) * height]
            slots[index * 32:index * 32 + len(glyph)] = glyph
        block_offset = ((block & 3) << 14) | ((block & 4) << 11)
        self.ctx.bus.write_bytes(0xA0000 + block_offset + first * 32, bytes(slots))
        self.seq_write(2, 0x03)
        self.seq_write(4, 0x02)
        self.gc_write(4, 0x00)
        self.gc_write(5, 0x10)
        self.gc_write(6, 0x0E if self.mode_crtc_base() == 0x3D4 else 0x0A)

    def mode_crtc_base(self) -> int:
        return self.ctx.bda16(c.BDA_CRTC_BASE) or 0x3D4

    # ------------------------------------------------------------ cursor and pages
    def set_cursor_shape(self, start: int, end: int) -> None:
        """Store the CGA-style shape at 40:60 and program the CRTC, scaling a shape
        given for 8-line characters to the character height (cursor emulation, as
        the Bochs VGA BIOS does)."""
        ctx = self.ctx
        ctx.set_bda16(c.BDA_CURSOR_SHAPE, ((start & 0xFF) << 8) | (end & 0xFF))
        height = ctx.bda16(c.BDA_CHAR_HEIGHT) or 16
        emulate = not ctx.bda8(c.BDA_VIDEO_CONTROL) & 0x01
        if emulate and height > 8 and end < 8 and start < 0x20:
            if end != start + 1:
                start = (start + 1) * height // 8 - 1
            else:
                start = (end + 1) * height // 8 - 2
            end = (end + 1) * height // 8 - 1
        self.crtc_write(0x0A, start)
        self.crtc_write(0x0B, end)

    def set_cursor(self, page: int, row: int, column: int) -> None:
        page &= 7
        self.ctx.set_bda16(c.BDA_CURSOR_POS + 2 * page, ((row & 0xFF) << 8) | (column & 0xFF))
        if page == self.ctx.bda8(c.BDA_ACTIVE_PAGE) and self.mode().text:
            address = self.ctx.bda16(c.BDA_VIDEO_PAGE_START) // 2 + row * self.columns() + column
            self.crtc_write(0x0E, (address >> 8) & 0xFF)
            self.crtc_write(0x0F, address & 0xFF)

    def set_active_page(self, page: int) -> None:
        mode = self.mode()
        page = page & 7 if mode.text else 0
        start = page * self.ctx.bda16(c.BDA_VIDEO_PAGE_SIZE) if mode.text else 0
        self.ctx.set_bda8(c.BDA_ACTIVE_PAGE, page)
        self.ctx.set_bda16(c.BDA_VIDEO_PAGE_START, start)
        self.crtc_write(0x0C, (start // 2) >> 8)
        self.crtc_write(0x0D, (start // 2) & 0xFF)
        row, column = self.cursor(page)
        self.set_cursor(page, row, column)

    # ------------------------------------------------------------ planar pixels
    def planar_write(self, address: int, mask: int, color: int, xor: bool = False) -> None:
        """Write mode 2: the colour's bit p into plane p for the pixels of `mask`
        in the byte at `address` (XOR with what is there when `xor`)."""
        self.gc_write(GC_MODE, 0x02)
        self.gc_write(GC_BIT_MASK, mask)
        if xor:
            self.gc_write(GC_ROTATE, FUNCTION_XOR)
        self.ctx.read8(address)                      # load the latches
        self.ctx.write8(address, color & 0x0F)
        self.gc_write(GC_ROTATE, 0x00)
        self.gc_write(GC_BIT_MASK, 0xFF)
        self.gc_write(GC_MODE, 0x00)

    def planar_fill(self, address: int, count: int, color: int) -> None:
        """`count` bytes (8 pixels each) of one colour, in write mode 2."""
        self.gc_write(GC_MODE, 0x02)
        self.ctx.bus.write_bytes(address, bytes((color & 0x0F,)) * count)
        self.gc_write(GC_MODE, 0x00)

    def planar_copy(self, source: int, target: int, count: int) -> None:
        """Copy `count` bytes of all four planes through the latches (write mode 1)."""
        self.gc_write(GC_MODE, 0x01)
        read8, write8 = self.ctx.read8, self.ctx.write8
        for offset in range(count):
            read8(source + offset)
            write8(target + offset, 0)
        self.gc_write(GC_MODE, 0x00)

    def planar_read(self, address: int, mask: int) -> int:
        """The colour of the pixel `mask` selects: one bit from each plane."""
        color = 0
        for plane in range(4):
            self.gc_write(GC_READ_MAP, plane)
            if self.ctx.read8(address) & mask:
                color |= 1 << plane
        self.gc_write(GC_READ_MAP, 0)
        return color

    def pixel_address(self, mode: VideoMode, x: int, y: int) -> Tuple[int, int]:
        """(address, bit mask) of pixel (x, y): one byte per pixel in 256 colours,
        eight pixels per byte in the planar modes, four or eight in the CGA modes
        (odd lines in the second 8 KiB bank)."""
        if mode.planar:
            return mode.memory_base + y * (mode.width // 8) + x // 8, 0x80 >> (x & 7)
        if mode.cga:
            bits = mode.bits_per_pixel
            shift = 8 - bits - (x * bits) % 8
            address = mode.memory_base + (y & 1) * CGA_BANK + (y >> 1) * CGA_LINE + x * bits // 8
            return address, ((1 << bits) - 1) << shift
        return mode.memory_base + y * mode.width + x, 0xFF

    def cga_write(self, address: int, mask: int, color: int) -> None:
        """Set the pixels of `mask` to `color` (bit 7: XOR) in a CGA-mode byte."""
        old = self.ctx.read8(address)
        value = (color & 0x7F) * (mask & -mask) & mask
        self.ctx.write8(address, old ^ value if color & 0x80 else (old & ~mask) | value)

    @staticmethod
    def cell_bytes(mode: VideoMode) -> int:
        """Bytes one 8-pixel character column takes on one line."""
        if mode.planar:
            return 1
        return mode.bits_per_pixel if mode.cga else 8

    def glyph(self, char: int, height: int) -> bytes:
        """The font lines of a character cell `height` lines high."""
        char &= 0xFF
        if height == 8:
            return self.font8[char * 8:char * 8 + 8]
        lines = self.font16[char * 16:char * 16 + 16]
        return lines[1:15] if height == 14 else lines

    # ------------------------------------------------------------ characters
    def put_char(self, page: int, row: int, column: int, char: int, attribute: int,
                 with_attribute: bool) -> None:
        mode = self.mode()
        if mode.text:
            address = self.cell_address(page, row, column)
            if with_attribute:
                self.ctx.bus.write(address, 2, (char & 0xFF) | ((attribute & 0xFF) << 8))
            else:
                self.ctx.bus.write(address, 1, char & 0xFF)
        else:
            self.draw_glyph(row, column, char, attribute)

    def draw_glyph(self, row: int, column: int, char: int, color: int) -> None:
        """Graphics modes: a glyph in colour `color` on black (bit 7: XOR with the
        screen instead)."""
        mode = self.mode()
        glyph = self.glyph(char, mode.char_height)
        bus = self.ctx.bus
        if mode.planar:
            pitch = mode.width // 8
            for line, bits in enumerate(glyph):
                address = mode.memory_base + (row * len(glyph) + line) * pitch + column
                if color & 0x80:
                    if bits:
                        self.planar_write(address, bits, color, xor=True)
                    continue
                self.planar_write(address, 0xFF, 0)
                if bits:
                    self.planar_write(address, bits, color)
            return
        if mode.cga:
            for line, bits in enumerate(glyph):
                for x in range(8):
                    address, mask = self.pixel_address(mode, column * 8 + x, row * 8 + line)
                    if bits & (0x80 >> x):
                        self.cga_write(address, mask, color)
                    elif not color & 0x80:
                        self.cga_write(address, mask, 0)
            return
        for line in range(8):
            bits = glyph[line]
            address = mode.memory_base + (row * 8 + line) * mode.width + column * 8
            if color & 0x80:
                old = bus.read_bytes(address, 8)
                pixels = bytes(old[x] ^ (color & 0x7F) if bits & (0x80 >> x) else old[x]
                               for x in range(8))
            else:
                pixels = bytes(color if bits & (0x80 >> x) else 0 for x in range(8))
            bus.write_bytes(address, pixels)

    def scroll(self, lines: int, attribute: int, top: int, left: int, bottom: int, right: int,
               up: bool, page: int) -> None:
        """Scroll the window [top..bottom] x [left..right] by `lines` (0: clear it),
        filling new lines with blanks of `attribute` (the colour in mode 13h)."""
        columns, rows = self.columns(), self.rows()
        bottom, right = min(bottom, rows - 1), min(right, columns - 1)
        if top > bottom or left > right:
            return
        height = bottom - top + 1
        if lines == 0 or lines > height:
            lines = height
        order = range(top, bottom + 1) if up else range(bottom, top - 1, -1)
        for row in order:
            source = row + lines if up else row - lines
            if top <= source <= bottom:
                self.copy_row(page, source, row, left, right)
            else:
                self.fill_row(page, row, left, right, attribute)

    def copy_row(self, page: int, source: int, target: int, left: int, right: int) -> None:
        bus = self.ctx.bus
        if self.mode().text:
            width = (right - left + 1) * 2
            data = bus.read_bytes(self.cell_address(page, source, left), width)
            bus.write_bytes(self.cell_address(page, target, left), data)
            return
        mode = self.mode()
        for line in range(mode.char_height):
            src, _ = self.pixel_address(mode, left * 8, source * mode.char_height + line)
            dst, _ = self.pixel_address(mode, left * 8, target * mode.char_height + line)
            if mode.planar:
                self.planar_copy(src, dst, right - left + 1)
            else:
                bus.write_bytes(dst, bus.read_bytes(src, (right - left + 1) * self.cell_bytes(mode)))

    def fill_row(self, page: int, row: int, left: int, right: int, attribute: int) -> None:
        bus = self.ctx.bus
        width = right - left + 1
        if self.mode().text:
            bus.write_bytes(self.cell_address(page, row, left), bytes((0x20, attribute & 0xFF)) * width)
            return
        mode = self.mode()
        pixels = bytes((attribute & 0xFF,)) * (width * 8)
        if mode.cga:                # the colour in every pixel of the byte
            bits = mode.bits_per_pixel
            pattern = (attribute & ((1 << bits) - 1)) * (0xFF // ((1 << bits) - 1))
            pixels = bytes((pattern,)) * (width * bits)
        for line in range(mode.char_height):
            address, _ = self.pixel_address(mode, left * 8, row * mode.char_height + line)
            if mode.planar:
                self.planar_fill(address, width, attribute)
            else:
                bus.write_bytes(address, pixels)

    def teletype(self, char: int, page: int, color: int) -> None:
        """AH=0Eh: BEL, BS, LF, CR interpreted; other characters written with the
        cell's attribute unchanged (text) or in `color` (graphics); scrolls at the
        bottom, filling the new line with the attribute of the cursor cell."""
        page &= 7
        row, column = self.cursor(page)
        columns, rows = self.columns(), self.rows()
        if char == 0x07:
            self.bell()
            return
        if char == 0x08:
            column = max(column - 1, 0)
        elif char == 0x0D:
            column = 0
        elif char == 0x0A:
            row += 1
        else:
            self.put_char(page, row, column, char, color, with_attribute=not self.mode().text)
            column += 1
        if column >= columns:
            column = 0
            row += 1
        if row >= rows:
            fill = 0
            if self.mode().text:
                fill = self.ctx.bus.read_byte(self.cell_address(page, rows - 1, 0) + 1)
            self.scroll(1, fill, 0, 0, rows - 1, columns - 1, True, page)
            row = rows - 1
        self.set_cursor(page, row, column)

    def print_text(self, text: str) -> None:
        """BIOS messages (POST banner, boot errors) on the active page."""
        page = self.ctx.bda8(c.BDA_ACTIVE_PAGE)
        for char in text.encode("cp437", "replace"):
            self.teletype(char, page, 0x07)

    # ------------------------------------------------------------ bell
    def bell(self) -> None:
        """Sound 896 Hz on PIT channel 2 through the speaker gate (port 61h) for
        1/8 s of virtual time."""
        ctx = self.ctx
        divisor = PIT_HZ // BELL_HZ
        ctx.outb(0x43, 0xB6)
        ctx.outb(0x42, divisor & 0xFF)
        ctx.outb(0x42, divisor >> 8)
        if ctx.port_present(0x61):
            ctx.outb(0x61, ctx.inb(0x61) | 0x03)
        self.bios.state.speaker_off_ns = self.bios.clock.now() + BELL_NS
        self.restore_events()

    def speaker_off(self) -> None:
        self._speaker_event = None
        self.bios.state.speaker_off_ns = 0
        if self.ctx.port_present(0x61):
            self.ctx.outb(0x61, self.ctx.inb(0x61) & ~0x03)

    def restore_events(self) -> None:
        if self._speaker_event is not None:
            self._speaker_event.cancel()
            self._speaker_event = None
        if self.bios.state.speaker_off_ns:
            self._speaker_event = self.bios.clock.schedule(self.bios.state.speaker_off_ns, self.speaker_off)
