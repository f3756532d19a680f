"""The int 10h functions (AH = function), in the order of Ralf Brown's list.

A mixin of `VideoServices`: the mode set, cursor, character and palette primitives
live there; this module decodes registers and formats results.
"""

from typing import Any, Callable, Dict

from . import common as c
from .rom import ROM_SEGMENT
from .videostate import save_restore

DCC_VGA_COLOR = 0x08
STATE_BUFFER_SIZE = 64


class VideoFunctions:
    """int 10h register decoding."""

    bios: Any
    ctx: Any
    vbe: Any

    def int10(self, cpu: Any) -> None:
        function = cpu.get_reg("ah")
        self.bios.call_hook(cpu, 0x10, function)
        handler: Callable[[Any], None] = self.FUNCTIONS.get(function, VideoFunctions.unsupported)
        handler(self, cpu)

    def unsupported(self, cpu: Any) -> None:
        """Unknown functions return with registers unchanged, as the VGA BIOS does
        (VESA callers see AL != 4Fh)."""

    # ------------------------------------------------------------ 00h-0Fh
    def fn_set_mode(self, cpu: Any) -> None:
        mode = cpu.get_reg("al")
        if self.set_mode(mode):
            # AL on return: 30h for modes 00h-05h/07h, 20h otherwise (IBM VGA BIOS).
            cpu.set_reg("al", 0x20 if (mode & 0x7F) > 7 or (mode & 0x7F) == 6 else 0x30)

    def fn_cursor_shape(self, cpu: Any) -> None:
        self.set_cursor_shape(cpu.get_reg("ch"), cpu.get_reg("cl"))

    def fn_set_cursor(self, cpu: Any) -> None:
        self.set_cursor(cpu.get_reg("bh"), cpu.get_reg("dh"), cpu.get_reg("dl"))

    def fn_get_cursor(self, cpu: Any) -> None:
        row, column = self.cursor(cpu.get_reg("bh"))
        shape = self.ctx.bda16(c.BDA_CURSOR_SHAPE)
        cpu.set_reg("dx", (row << 8) | column)
        cpu.set_reg("cx", shape)
        cpu.set_reg("ax", 0)

    def fn_light_pen(self, cpu: Any) -> None:
        cpu.set_reg("ah", 0)

    def fn_active_page(self, cpu: Any) -> None:
        self.set_active_page(cpu.get_reg("al"))

    def fn_scroll_up(self, cpu: Any) -> None:
        self._scroll(cpu, up=True)

    def fn_scroll_down(self, cpu: Any) -> None:
        self._scroll(cpu, up=False)

    def _scroll(self, cpu: Any, up: bool) -> None:
        self.scroll(cpu.get_reg("al"), cpu.get_reg("bh"), cpu.get_reg("ch"), cpu.get_reg("cl"),
                    cpu.get_reg("dh"), cpu.get_reg("dl"), up, self.ctx.bda8(c.BDA_ACTIVE_PAGE))

    def fn_read_char(self, cpu: Any) -> None:
        page = cpu.get_reg("bh")
        if not self.mode().text:
            cpu.set_reg("ax", 0)
            return
        row, column = self.cursor(page)
        cpu.set_reg("ax", self.ctx.read16(self.cell_address(page, row, column)))

    def fn_write_char_attr(self, cpu: Any) -> None:
        self._write_repeated(cpu, with_attribute=True)

    def fn_write_char(self, cpu: Any) -> None:
        self._write_repeated(cpu, with_attribute=not self.mode().text)

    def _write_repeated(self, cpu: Any, with_attribute: bool) -> None:
        """AH=09h/0Ah: CX copies of AL from the cursor on; the cursor does not move."""
        page = cpu.get_reg("bh")
        row, column = self.cursor(page)
        columns, rows = self.columns(), self.rows()
        char, attribute = cpu.get_reg("al"), cpu.get_reg("bl")
        for _ in range(cpu.get_reg("cx")):
            if row >= rows:
                break
            self.put_char(page, row, column, char, attribute, with_attribute)
            column += 1
            if column >= columns:
                column, row = 0, row + 1

    def fn_cga_palette(self, cpu: Any) -> None:
        """BH=00h: border (text) or background (graphics) colour BL."""
        if cpu.get_reg("bh") == 0:
            color = cpu.get_reg("bl") & 0x0F
            value = (color & 0x07) | ((color & 0x08) << 1)
            self.ac_write(0x11, value)
            if not self.mode().text:
                self.ac_write(0x00, value)
            self.ctx.set_bda8(c.BDA_PALETTE, (self.ctx.bda8(c.BDA_PALETTE) & 0xE0) | color)

    def fn_write_pixel(self, cpu: Any) -> None:
        """AL = colour, CX = x, DX = y.  Bit 7 of AL XORs the colour onto the pixel
        in the CGA and planar modes; in 256 colours AL is the whole colour (RBIL
        INT 10h/AH=0Ch; SeaBIOS's VGA BIOS likewise)."""
        mode = self.mode()
        x, y, color = cpu.get_reg("cx"), cpu.get_reg("dx"), cpu.get_reg("al")
        if mode.text or x >= mode.width or y >= mode.height:
            return
        address, mask = self.pixel_address(mode, x, y)
        if mode.planar:
            self.planar_write(address, mask, color, xor=bool(color & 0x80))
            return
        if mode.cga:
            self.cga_write(address, mask, color)
            return
        self.ctx.write8(address, color)

    def fn_read_pixel(self, cpu: Any) -> None:
        mode = self.mode()
        x, y = cpu.get_reg("cx"), cpu.get_reg("dx")
        if mode.text or x >= mode.width or y >= mode.height:
            cpu.set_reg("al", 0)
            return
        address, mask = self.pixel_address(mode, x, y)
        if mode.planar:
            cpu.set_reg("al", self.planar_read(address, mask))
        else:
            cpu.set_reg("al", (self.ctx.read8(address) & mask) // (mask & -mask))

    def fn_teletype(self, cpu: Any) -> None:
        self.teletype(cpu.get_reg("al"), self.ctx.bda8(c.BDA_ACTIVE_PAGE), cpu.get_reg("bl"))

    def fn_get_mode(self, cpu: Any) -> None:
        ctx = self.ctx
        control = ctx.bda8(c.BDA_VIDEO_CONTROL) & 0x80
        cpu.set_reg("al", ctx.bda8(c.BDA_VIDEO_MODE) | control)
        cpu.set_reg("ah", ctx.bda16(c.BDA_VIDEO_COLUMNS) & 0xFF)
        cpu.set_reg("bh", ctx.bda8(c.BDA_ACTIVE_PAGE))

    # ------------------------------------------------------------ 10h palette
    def fn_palette(self, cpu: Any) -> None:
        sub = cpu.get_reg("al")
        bl, bh = cpu.get_reg("bl"), cpu.get_reg("bh")
        es, dx = cpu.get_reg("es"), cpu.get_reg("dx")
        table = c.linear(es, dx)
        ctx = self.ctx
        if sub == 0x00:
            if bl < 0x14:
                self.ac_write(bl, bh)
        elif sub == 0x01:
            self.ac_write(0x11, bh)
        elif sub == 0x02:
            for index in range(16):
                self.ac_write(index, ctx.read8(table + index))
            self.ac_write(0x11, ctx.read8(table + 16))
        elif sub == 0x03:
            mode_control = self.ac_read(0x10)
            self.ac_write(0x10, (mode_control | 0x08) if bl & 1 else (mode_control & ~0x08))
        elif sub == 0x07:
            cpu.set_reg("bh", self.ac_read(bl & 0x1F))
        elif sub == 0x08:
            cpu.set_reg("bh", self.ac_read(0x11))
        elif sub == 0x09:
            for index in range(16):
                ctx.write8(table + index, self.ac_read(index))
            ctx.write8(table + 16, self.ac_read(0x11))
        elif sub == 0x10:
            color = (cpu.get_reg("dh"), cpu.get_reg("ch"), cpu.get_reg("cl"))
            self.dac_write(cpu.get_reg("bx") & 0xFF, [color])
        elif sub == 0x12:
            count = cpu.get_reg("cx")
            data = ctx.bus.read_bytes(table, 3 * count)
            self.dac_write(cpu.get_reg("bx") & 0xFF,
                           [(data[i], data[i + 1], data[i + 2]) for i in range(0, 3 * count, 3)])
        elif sub == 0x15:
            red, green, blue = self.dac_read(cpu.get_reg("bx") & 0xFF, 1)[0]
            cpu.set_reg("dh", red)
            cpu.set_reg("ch", green)
            cpu.set_reg("cl", blue)
        elif sub == 0x17:
            entries = self.dac_read(cpu.get_reg("bx") & 0xFF, cpu.get_reg("cx"))
            ctx.bus.write_bytes(table, bytes(v for entry in entries for v in entry))
        elif sub == 0x18:
            ctx.outb(0x3C6, bl)
        elif sub == 0x19:
            cpu.set_reg("bl", ctx.inb(0x3C6))
        elif sub == 0x1A:
            cpu.set_reg("bx", 0)
        elif sub == 0x1B:
            first, count = cpu.get_reg("bx") & 0xFF, cpu.get_reg("cx")
            entries = self.dac_read(first, count)
            self.dac_write(first, [((30 * r + 59 * g + 11 * b + 50) // 100,) * 3 for r, g, b in entries])

    # ------------------------------------------------------------ 11h fonts
    def fn_font(self, cpu: Any) -> None:
        sub = cpu.get_reg("al")
        if sub == 0x30:
            self._font_info(cpu)
        elif sub in (0x04, 0x14):
            self.load_font(self.font16, 16, 0, 256, cpu.get_reg("bl"))
            if sub == 0x14:
                self._set_char_height(16)
        elif sub in (0x02, 0x12):
            self.load_font(self.font8, 8, 0, 256, cpu.get_reg("bl"))
            if sub == 0x12:
                self._set_char_height(8)
        elif sub in (0x00, 0x10):
            height = cpu.get_reg("bh") or 16
            count = cpu.get_reg("cx")
            data = self.ctx.bus.read_bytes(c.linear(cpu.get_reg("es"), cpu.get_reg("bp")), count * height)
            self.load_font(data, height, cpu.get_reg("dx") & 0xFF, count, cpu.get_reg("bl"))
            if sub == 0x10:
                self._set_char_height(height)
        elif sub == 0x03:
            self.seq_write(3, cpu.get_reg("bl"))

    def _set_char_height(self, height: int) -> None:
        """After a 1xh font load: character height, rows and cursor follow the new
        font (8x8 in a 400-line mode gives 50 rows)."""
        ctx = self.ctx
        max_scan = self.crtc_read(0x09)
        self.crtc_write(0x09, (max_scan & 0xE0) | (height - 1))
        self.crtc_write(0x0A, height - 2)
        self.crtc_write(0x0B, height - 1)
        scan_lines = 400
        rows = scan_lines // height
        ctx.set_bda8(c.BDA_VIDEO_ROWS, rows - 1)
        ctx.set_bda16(c.BDA_CHAR_HEIGHT, height)
        ctx.set_bda16(c.BDA_VIDEO_PAGE_SIZE, ((rows * self.columns() * 2) + 0xFF) & ~0xFF)

    def _font_info(self, cpu: Any) -> None:
        labels = self.bios.label
        pointers = {0x00: None, 0x01: None, 0x02: labels["font8x16"], 0x03: labels["font8x8"],
                    0x04: labels["font8x8"] + 1024, 0x05: labels["font8x16"],
                    0x06: labels["font8x16"], 0x07: labels["font8x16"]}
        which = cpu.get_reg("bh")
        if which in (0x00, 0x01):
            vector = 0x1F if which == 0 else 0x43
            offset, segment = self.ctx.read16(vector * 4), self.ctx.read16(vector * 4 + 2)
        elif which in pointers:
            offset, segment = pointers[which], ROM_SEGMENT
        else:
            return
        cpu.set_reg("es", segment)
        cpu.set_reg("bp", offset)
        cpu.set_reg("cx", self.ctx.bda16(c.BDA_CHAR_HEIGHT))
        cpu.set_reg("dl", self.ctx.bda8(c.BDA_VIDEO_ROWS))

    # ------------------------------------------------------------ 12h, 13h, 1Ah, 1Bh
    def fn_alternate_select(self, cpu: Any) -> None:
        sub = cpu.get_reg("bl")
        if sub == 0x10:
            cpu.set_reg("bh", 0x01 if self.ctx.bda16(c.BDA_CRTC_BASE) == 0x3B4 else 0x00)
            cpu.set_reg("bl", 0x03)       # 256K of video memory
            cpu.set_reg("ch", 0x00)
            cpu.set_reg("cl", self.ctx.bda8(c.BDA_VIDEO_SWITCHES) & 0x0F)
        elif sub in (0x30, 0x31, 0x32, 0x33, 0x34, 0x36):
            cpu.set_reg("al", 0x12)

    def fn_write_string(self, cpu: Any) -> None:
        flags, page = cpu.get_reg("al"), cpu.get_reg("bh")
        attribute, count = cpu.get_reg("bl"), cpu.get_reg("cx")
        address = c.linear(cpu.get_reg("es"), cpu.get_reg("bp"))
        saved = self.cursor(page)
        self.set_cursor(page, cpu.get_reg("dh"), cpu.get_reg("dl"))
        step = 2 if flags & 0x02 else 1
        data = self.ctx.bus.read_bytes(address, count * step)
        for index in range(count):
            char = data[index * step]
            if step == 2:
                attribute = data[index * step + 1]
            if char in (0x07, 0x08, 0x0A, 0x0D):
                self.teletype(char, page, attribute)
                continue
            row, column = self.cursor(page)
            self.put_char(page, row, column, char, attribute, True)
            column += 1
            if column >= self.columns():
                self.teletype(0x0D, page, attribute)
                self.teletype(0x0A, page, attribute)
            else:
                self.set_cursor(page, row, column)
        if not flags & 0x01:
            self.set_cursor(page, *saved)

    def fn_display_combination(self, cpu: Any) -> None:
        if cpu.get_reg("al") == 0x00:
            cpu.set_reg("bx", DCC_VGA_COLOR)
        cpu.set_reg("al", 0x1A)

    def fn_state(self, cpu: Any) -> None:
        """AH=1Bh BX=0: the 64-byte state buffer at ES:DI."""
        if cpu.get_reg("bx") != 0:
            return
        ctx = self.ctx
        mode = self.mode()
        state = bytearray(STATE_BUFFER_SIZE)
        state[0:4] = ((ROM_SEGMENT << 16) | self.bios.label["video_static"]).to_bytes(4, "little")
        state[4:4 + 30] = ctx.bus.read_bytes(c.BDA + c.BDA_VIDEO_MODE, 30)
        state[0x22] = ctx.bda8(c.BDA_VIDEO_ROWS) + 1
        state[0x23:0x25] = ctx.bda16(c.BDA_CHAR_HEIGHT).to_bytes(2, "little")
        state[0x25] = DCC_VGA_COLOR
        state[0x27:0x29] = mode.colors.to_bytes(2, "little")
        state[0x29] = mode.pages
        state[0x2A] = 2 if mode.text else {350: 1, 480: 3}.get(mode.height, 0)   # 200/350/400/480 lines
        state[0x2D] = 0x20 if mode.text else 0x00          # blink enabled in text modes
        state[0x31] = 0x03                                 # 256K
        ctx.bus.write_bytes(c.linear(cpu.get_reg("es"), cpu.get_reg("di")), bytes(state))
        cpu.set_reg("al", 0x1B)

    def fn_save_restore_state(self, cpu: Any) -> None:
        """AH=1Ch: AL=00h size, 01h save, 02h restore (`videostate.py`); CX bits 0-2."""
        if save_restore(self.ctx, cpu, cpu.get_reg("al"), cpu.get_reg("cx") & 0x7):
            cpu.set_reg("al", 0x1C)

    # ------------------------------------------------------------ 4Fh
    def fn_vbe(self, cpu: Any) -> None:
        """The VESA BIOS Extension (`vbe.py`)."""
        self.vbe.int10(cpu)

    FUNCTIONS: Dict[int, Callable[[Any, Any], None]] = {
        0x00: fn_set_mode, 0x01: fn_cursor_shape, 0x02: fn_set_cursor, 0x03: fn_get_cursor,
        0x04: fn_light_pen, 0x05: fn_active_page, 0x06: fn_scroll_up, 0x07: fn_scroll_down,
        0x08: fn_read_char, 0x09: fn_write_char_attr, 0x0A: fn_write_char, 0x0B: fn_cga_palette,
        0x0C: fn_write_pixel, 0x0D: fn_read_pixel, 0x0E: fn_teletype, 0x0F: fn_get_mode,
        0x10: fn_palette, 0x11: fn_font, 0x12: fn_alternate_select, 0x13: fn_write_string,
        0x1A: fn_display_combination, 0x1B: fn_state, 0x1C: fn_save_restore_state, 0x4F: fn_vbe,
    }
