"""IBM VGA: the register file, 256 KiB of planar video memory, and the screen API.

Follows the IBM VGA Technical Reference and FreeVGA; where emulators differ, Bochs'
`vga.cc`.  Modelled:

* the memory window at A0000-BFFFF as the graphics controller's misc register
  selects it; four 64 KiB planes; odd/even addressing (text modes: even host
  addresses reach planes 0/2, odd ones 1/3, at address & ~1), chain-4 (mode 13h:
  plane = address & 3 at address & ~3, as Bochs does), plain planar access with
  the latches, write modes 0-3 (set/reset, rotate, logical function, bit mask) and
  read modes 0/1 (colour compare);
* misc output, input status 0/1 (display-enable and vertical-retrace bits computed
  from virtual time: 31.47 kHz lines, frame length from the CRTC's vertical total,
  70 Hz in the 400-line modes), sequencer, CRTC (colour or mono port base per misc
  bit 0, the protect bit of 11h), graphics controller, attribute controller with
  its index/data flip-flop (reset by reading input status 1), DAC with 3-step
  auto-increment and the PEL mask.  16-bit OUTs go to the index then data port.

The screen is decoded from the registers, never from a remembered BIOS mode:
text (cells from planes 0/1, glyphs from plane 2), 256-colour (chained or
unchained) and 16-colour planar graphics.  Not modelled: line compare (split
screen), pixel panning, blinking, the CGA-compatible modes' interleaved addressing
(CRTC 17h bits 0-1), the retrace interrupt.

`generation` counts visible changes; the `screen_change` hook fires at most once
per frame, from a clock event that exists only while a change awaits reporting.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.plugins.vga import dispi
from pcmachine.plugins.vga import registers as regs
from pcmachine.plugins.vga.registers import PLANE_SIZE
from pcmachine.plugins.vga.fonts import load_font
from pcmachine.plugins.vga.render import render

PLANE_MASK = PLANE_SIZE - 1
WINDOW_BASE = 0xA0000
WINDOW_SIZE = 0x20000
#: unclaimed or undecoded: what a read of a port the VGA does not answer returns
FLOATING_BUS = 0xFF


def _planes() -> bytearray:
    return bytearray(PLANE_SIZE)


@dataclasses.dataclass
class VGAState:
    """Everything a guest can observe; plain data for snapshots."""

    misc_output: int = 0
    feature_control: int = 0
    seq_index: int = 0
    seq: bytearray = dataclasses.field(default_factory=lambda: bytearray(regs.SEQ_COUNT))
    crtc_index: int = 0
    crtc: bytearray = dataclasses.field(default_factory=lambda: bytearray(regs.CRTC_COUNT))
    gc_index: int = 0
    gc: bytearray = dataclasses.field(default_factory=lambda: bytearray(regs.GC_COUNT))
    attr_index: int = 0             # includes the PAS bit (0x20)
    attr_expect_data: bool = False  # the flip-flop: next 0x3C0 write is data
    attr: bytearray = dataclasses.field(default_factory=lambda: bytearray(regs.ATTR_COUNT))
    dac: bytearray = dataclasses.field(default_factory=lambda: bytearray(regs.DAC_ENTRIES * 3))
    dac_write_index: int = 0
    dac_write_component: int = 0
    dac_write_buffer: bytearray = dataclasses.field(default_factory=lambda: bytearray(3))
    dac_read_index: int = 0
    dac_read_component: int = 0
    dac_state: int = regs.DAC_STATE_WRITE
    pel_mask: int = 0xFF
    latches: bytearray = dataclasses.field(default_factory=lambda: bytearray(4))
    plane0: bytearray = dataclasses.field(default_factory=_planes)
    plane1: bytearray = dataclasses.field(default_factory=_planes)
    plane2: bytearray = dataclasses.field(default_factory=_planes)
    plane3: bytearray = dataclasses.field(default_factory=_planes)
    frame_check_at: int = 0         # virtual ns of the pending screen_change check; 0: none
    vbe_index: int = 0              # Bochs VBE (DISPI) index register
    vbe_regs: List[int] = dataclasses.field(default_factory=dispi.power_on_registers)
    vram: bytearray = dataclasses.field(default_factory=bytearray)   # VBE video memory


def power_on_state() -> VGAState:
    """Registers as Bochs' VGA has them before any BIOS runs: colour I/O, RAM
    enabled, window at B0000, sequential addressing, video enabled."""
    state = VGAState()
    state.misc_output = 0xC3
    state.seq[regs.SEQ_RESET] = 0x03
    state.seq[regs.SEQ_MEMORY_MODE] = 0x06
    state.gc[regs.GC_MISC] = 2 << regs.MISC_MAP_SHIFT
    state.attr[regs.ATTR_MODE] = regs.ATTR_MODE_LINE_GRAPHICS
    state.attr[regs.ATTR_PLANE_ENABLE] = 0x0F
    state.attr_index = regs.ATTR_PAS
    return state


class VGA(Component):
    """The VGA adapter and the machine's screen (`machine.screen`)."""

    OPTIONS: Dict[str, Any] = {
        "vbe": Option("bool", True, "Bochs VBE extensions (DISPI ports 0x1CE/0x1CF, linear "
                      "framebuffer) and the VESA BIOS functions that use them"),
        "vram": Option("size", "16M", "VBE video memory (a multiple of 64K)",
                       minimum=dispi.BANK_SIZE, maximum=256 << 20),
        "lfb_address": Option("int", dispi.DEFAULT_LFB_ADDRESS,
                              "physical address of the VBE linear framebuffer",
                              minimum=0x100000, maximum=0xFFFFFFFF),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.font8x16 = load_font("font8x16.bin")
        self.font8x8 = load_font("font8x8.bin")
        self.generation = 0
        self._reported_generation = -1
        self._frame_event: Any = None
        self._hooks = machine.hooks
        self.dispi: Optional[dispi.Dispi] = None
        if self.options["vbe"]:
            self.dispi = self._build_dispi()
        self._install_state(power_on_state())
        self.bus.map_mmio(WINDOW_BASE, WINDOW_SIZE, name, self._mmio_read, self._mmio_write,
                          self._mmio_write_block)
        if self.dispi is not None:
            self.dispi.attach(self.bus, name)
        self._port_readers = {}
        self._port_writers = {}
        for port, label, reader, writer in self._port_table():
            self._port_readers[port] = reader
            self._port_writers[port] = writer
            self.bus.register_io(port, port, self._io_read, self._io_write, f"{name} {label}",
                                 sizes=(1, 2))
        if machine.screen is None:
            machine.screen = self

    def _build_dispi(self) -> dispi.Dispi:
        size, address = self.options["vram"], self.options["lfb_address"]
        if size % dispi.BANK_SIZE:
            raise ProfileError("component", f"{self.name}.vram", f"expected a multiple of 64K, got {size}")
        if address % 0x1000 or address + size > 1 << 32:
            raise ProfileError("component", f"{self.name}.lfb_address",
                               f"{address:#x} must be page aligned, with the "
                               f"{size >> 10} KiB framebuffer below 4 GiB")
        return dispi.Dispi(self, size, address)

    @property
    def vbe_lfb_address(self) -> Optional[int]:
        """Physical address of the linear framebuffer (None without VBE): the VESA
        BIOS reports it in the mode information."""
        return self.dispi.lfb_address if self.dispi is not None else None

    def _port_table(self) -> Tuple[Tuple[int, str, Any, Any], ...]:
        """Port, name, reader, writer: a handler, the name of a plain state field, or
        None (the port ignores writes)."""
        return (
            (0x3B4, "crtc index (mono)", self._read_crtc_index, self._write_crtc_index),
            (0x3B5, "crtc data (mono)", self._read_crtc_data, self._write_crtc_data),
            (0x3BA, "input status 1 / feature control (mono)", self._read_status1, "feature_control"),
            (0x3C0, "attribute index/data", "attr_index", self._write_attr),
            (0x3C1, "attribute data read", self._read_attr_data, None),
            (0x3C2, "misc output / input status 0", self._read_status0, self._write_misc),
            (0x3C4, "sequencer index", "seq_index", "seq_index"),
            (0x3C5, "sequencer data", self._read_seq_data, self._write_seq_data),
            (0x3C6, "dac pel mask", "pel_mask", self._write_pel_mask),
            (0x3C7, "dac state / read index", "dac_state", self._write_dac_read_index),
            (0x3C8, "dac write index", "dac_write_index", self._write_dac_write_index),
            (0x3C9, "dac data", self._read_dac_data, self._write_dac_data),
            (0x3CA, "feature control read", "feature_control", None),
            (0x3CC, "misc output read", "misc_output", None),
            (0x3CE, "graphics index", "gc_index", "gc_index"),
            (0x3CF, "graphics data", self._read_gc_data, self._write_gc_data),
            (0x3D4, "crtc index", self._read_crtc_index, self._write_crtc_index),
            (0x3D5, "crtc data", self._read_crtc_data, self._write_crtc_data),
            (0x3DA, "input status 1 / feature control", self._read_status1, "feature_control"),
        )

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self._cancel_frame_check()
        self._install_state(power_on_state())
        self._changed()

    def snapshot(self) -> Dict[str, Any]:
        """The state; VBE video memory without its all-zero tail (restore pads it),
        so a machine that never used VBE saves no 16 MiB of zeros."""
        state = state_to_dict(self.state)
        state["vram"] = state["vram"].rstrip(b"\0")
        return state

    def restore(self, state: Dict[str, Any]) -> None:
        self._cancel_frame_check()
        self._install_state(dict_to_state(VGAState, state))
        if self.state.frame_check_at:
            self._frame_event = self.clock.schedule(self.state.frame_check_at, self._frame_check)
        self.generation += 1

    def _install_state(self, state: VGAState) -> None:
        self.state = state
        if self.dispi is not None:
            self.dispi.install(state)
        self._planes = (state.plane0, state.plane1, state.plane2, state.plane3)
        self._decode_registers()

    # ------------------------------------------------------------------ BIOS service
    def set_standard_mode(self, mode: int) -> None:
        """Load the VGA BIOS register tables for mode 01h, 03h, 07h or 13h (00h/02h as
        01h/03h), the mode's DAC palette and, for text modes, the 8x16 font into
        plane 2; clear the screen unless bit 7 of `mode` is set, as int 10h AH=00h."""
        table = regs.STANDARD_MODES.get(mode & 0x7F)
        if table is None:
            raise ValueError(f"no standard VGA register table for mode {mode & 0x7F:#04x}")
        st = self.state
        st.misc_output = table.misc
        st.seq[:] = bytes((0x03,) + table.sequencer)
        st.crtc[:] = bytes(table.crtc)
        st.gc[:] = bytes(table.graphics)
        st.attr[:len(table.attribute)] = bytes(table.attribute)
        st.attr[regs.ATTR_COLOR_SELECT] = 0
        st.attr_index = regs.ATTR_PAS
        st.attr_expect_data = False
        st.dac[:] = regs.dac_bytes(table.palette)
        st.pel_mask = 0xFF
        if table.text:
            self._load_font(self.font8x16, 16)
        if not mode & 0x80:
            if table.text:
                char, attribute = regs.BLANK_TEXT_CELL
                half = PLANE_SIZE // 4       # the 32 KiB text window, even offsets
                st.plane0[0:2 * half:2] = bytes((char,)) * half
                st.plane1[0:2 * half:2] = bytes((attribute,)) * half
            else:
                for plane in self._planes:
                    plane[:] = bytes(PLANE_SIZE)
        self._decode_registers()
        self._changed()

    def _load_font(self, font: bytes, height: int) -> None:
        """Character generator RAM: glyph c at plane 2 offset c*32, as the BIOS loads it."""
        plane2 = self.state.plane2
        stride = regs.FONT_BYTES_PER_GLYPH
        for char in range(256):
            base = char * stride
            plane2[base:base + stride] = font[char * height:(char + 1) * height].ljust(stride, b"\0")

    # ------------------------------------------------------------------ derived state
    def _decode_registers(self) -> None:
        """Recompute what the hot paths need from the registers."""
        st = self.state
        self._window_base, self._window_size = regs.MEMORY_WINDOWS[(st.gc[regs.GC_MISC] >> regs.MISC_MAP_SHIFT) & 3]
        self._io_color = bool(st.misc_output & regs.MISC_COLOR_IO)
        mode = st.seq[regs.SEQ_MEMORY_MODE]
        self._text_fast = (not mode & (regs.MEMORY_CHAIN4 | regs.MEMORY_ODD_EVEN_OFF)
                           and st.seq[regs.SEQ_MAP_MASK] & 0x0F == 0x03
                           and st.gc[regs.GC_MODE] & regs.MODE_WRITE_MASK == 0
                           and st.gc[regs.GC_ENABLE_SET_RESET] & 0x03 == 0
                           and st.gc[regs.GC_DATA_ROTATE] == 0
                           and st.gc[regs.GC_BIT_MASK] == 0xFF)
        gc = st.gc
        #: planes a write stores the host byte into unchanged (sequential planar
        #: addressing, write mode 0 without set/reset, rotation, function or bit mask)
        self._plain_planes: Optional[Tuple[bytearray, ...]] = None
        if (mode & (regs.MEMORY_CHAIN4 | regs.MEMORY_ODD_EVEN_OFF)) == regs.MEMORY_ODD_EVEN_OFF \
                and gc[regs.GC_MODE] & regs.MODE_WRITE_MASK == 0 and gc[regs.GC_ENABLE_SET_RESET] & 0x0F == 0 \
                and gc[regs.GC_DATA_ROTATE] == 0 and gc[regs.GC_BIT_MASK] == 0xFF:
            self._plain_planes = tuple(plane for index, plane in enumerate(self._planes)
                                       if st.seq[regs.SEQ_MAP_MASK] & (1 << index))
        shift = self.address_shift()
        info = self.mode_info()
        rows = info["rows"] if info["kind"] == "text" else info["height"]
        low = (self.start_address() << shift) & PLANE_MASK
        high = low + ((rows * self.row_stride()) << shift)
        if high > PLANE_SIZE or self.split_line() is not None:
            low, high = 0, PLANE_SIZE   # wraps around or split: treat every offset as visible
        self._visible_low, self._visible_high = low, high
        self._banked = False
        if self.dispi is not None:
            self.dispi.decode()
            self._banked = self.dispi.enabled and st.vbe_regs[dispi.BPP] != 4
            if self._banked:            # the bank window is A0000-AFFFF whatever GC 6 says (Bochs)
                self._window_base, self._window_size = WINDOW_BASE, dispi.BANK_SIZE

    def address_shift(self) -> int:
        """CRTC address counter -> plane offset: doubleword, byte or word mode."""
        crtc = self.state.crtc
        if crtc[regs.CRTC_UNDERLINE] & regs.UNDERLINE_DWORD:
            return 2
        return 0 if crtc[regs.CRTC_MODE_CONTROL] & regs.MODE_BYTE else 1

    def bank_substitution(self) -> int:
        """Address bits (13: 2000h, 14: 4000h) the row scan counter replaces: CRTC
        17h bits 0-1 clear (CGA and Hercules compatible addressing)."""
        control = self.state.crtc[regs.CRTC_MODE_CONTROL]
        return (0 if control & regs.MODE_MAP13 else 0x2000) | (0 if control & regs.MODE_MAP14 else 0x4000)

    def cell_height(self) -> int:
        """Scan lines per character row (CRTC 09h bits 0-4, plus one)."""
        return (self.state.crtc[regs.CRTC_MAX_SCAN] & regs.SCAN_LINES_MASK) + 1

    def start_address(self) -> int:
        crtc = self.state.crtc
        return (crtc[regs.CRTC_START_HIGH] << 8) | crtc[regs.CRTC_START_LOW]

    def row_stride(self) -> int:
        """Address-counter units between rows: the offset register counts pairs."""
        return 2 * self.state.crtc[regs.CRTC_OFFSET]

    def _vertical(self, low_register: int, bit8: int, bit9: int) -> int:
        """A 10-bit vertical CRTC value with bits 8/9 from the overflow register."""
        crtc = self.state.crtc
        overflow = crtc[regs.CRTC_OVERFLOW]
        return crtc[low_register] | (((overflow >> bit8) & 1) << 8) | (((overflow >> bit9) & 1) << 9)

    # ------------------------------------------------------------------ screen API
    def mode_info(self) -> Dict[str, Any]:
        """Kind and size of the displayed screen, decoded from the registers."""
        st = self.state
        if self.dispi is not None and self.dispi.enabled:
            width, height, bpp, _, _ = dispi.geometry(st.vbe_regs)
            return {"kind": "graphics", "cols": width // 8, "rows": height // 16,
                    "width": width, "height": height, "bpp": bpp}
        crtc = st.crtc
        columns = crtc[regs.CRTC_H_DISPLAY_END] + 1
        scanlines = self._vertical(regs.CRTC_V_DISPLAY_END, 1, 6) + 1
        if crtc[regs.CRTC_MAX_SCAN] & regs.SCAN_DOUBLE:
            scanlines //= 2
        cell_height = (crtc[regs.CRTC_MAX_SCAN] & regs.SCAN_LINES_MASK) + 1
        if not st.gc[regs.GC_MISC] & regs.MISC_GRAPHICS:
            char_width = 8 if st.seq[regs.SEQ_CLOCKING] & regs.CLOCKING_8DOT else 9
            rows = scanlines // cell_height
            return {"kind": "text", "cols": columns, "rows": rows,
                    "width": columns * char_width, "height": rows * cell_height}
        width = columns * 8
        if st.gc[regs.GC_MODE] & regs.MODE_SHIFT_256:
            width //= 2
        # every scan line is its own pixel row while the row scan counter selects
        # banks (CGA modes); otherwise a character row repeats its one pixel row
        height = scanlines if self.bank_substitution() else scanlines // cell_height
        return {"kind": "graphics", "cols": width // 8, "rows": height // 8,
                "width": width, "height": height}

    def cells(self) -> List[List[Tuple[int, int]]]:
        """Text screen as rows of (character code, attribute), from the CRTC start
        address; empty in graphics modes."""
        info = self.mode_info()
        if info["kind"] != "text":
            return []
        return [list(zip(chars, attrs)) for chars, attrs in self.text_rows(info)]

    def text_rows(self, info: Dict[str, Any]) -> List[Tuple[bytes, bytes]]:
        """(characters, attributes) of each displayed row: from the start address,
        and from address 0 for the rows below the line-compare split."""
        rows = self.rows_from(info, self.start_address())
        split = self.split_line()
        if split is None:
            return rows
        cell_height = info["height"] // info["rows"]
        lower = self.rows_from(info, 0)
        return [rows[row] if row * cell_height < split else lower[(row * cell_height - split) // cell_height]
                for row in range(len(rows))]

    def split_line(self) -> Optional[int]:
        """The first displayed scan line that shows memory from address 0 (the line
        after CRTC line compare: 18h, bit 8 in 07h bit 4, bit 9 in 09h bit 6), or
        None when line compare is past the displayed lines."""
        crtc = self.state.crtc
        compare = (crtc[regs.CRTC_LINE_COMPARE] | ((crtc[regs.CRTC_OVERFLOW] >> 4) & 1) << 8
                   | ((crtc[regs.CRTC_MAX_SCAN] >> 6) & 1) << 9)
        return compare + 1 if compare + 1 < self.displayed_lines() else None

    def displayed_lines(self) -> int:
        """Scan lines per frame with picture (CRTC 12h, bits 8-9 in 07h)."""
        return self._vertical(regs.CRTC_V_DISPLAY_END, 1, 6) + 1

    def rows_from(self, info: Dict[str, Any], start: int) -> List[Tuple[bytes, bytes]]:
        """(characters, attributes) of `info["rows"]` text rows from CRTC address `start`."""
        plane0, plane1 = self.state.plane0, self.state.plane1
        shift = self.address_shift()
        step = 1 << shift
        stride, columns = self.row_stride(), info["cols"]
        rows = []
        for row in range(info["rows"]):
            first = ((start + row * stride) << shift) & PLANE_MASK
            end = first + columns * step
            if end <= PLANE_SIZE:
                rows.append((bytes(plane0[first:end:step]), bytes(plane1[first:end:step])))
            else:
                offsets = [((start + row * stride + col) << shift) & PLANE_MASK for col in range(columns)]
                rows.append((bytes(plane0[o] for o in offsets), bytes(plane1[o] for o in offsets)))
        return rows

    def text_lines(self) -> List[str]:
        """Text rows decoded from CP437 (full width; NUL shows as a space)."""
        info = self.mode_info()
        if info["kind"] != "text":
            return []
        table = regs.CP437
        return ["".join([table[c] for c in chars]) for chars, _ in self.text_rows(info)]

    def text(self) -> str:
        return "\n".join(self.text_lines())

    def cursor(self) -> Tuple[int, int, bool]:
        """(row, column, visible) from CRTC 0Ah/0Bh/0Eh/0Fh and the start address."""
        crtc = self.state.crtc
        info = self.mode_info()
        location = ((crtc[regs.CRTC_CURSOR_HIGH] << 8) | crtc[regs.CRTC_CURSOR_LOW]) - self.start_address()
        stride = self.row_stride() or info["cols"]
        row, col = divmod(location, stride)
        start_line = crtc[regs.CRTC_CURSOR_START]
        visible = (info["kind"] == "text" and not start_line & regs.CURSOR_DISABLE
                   and (start_line & regs.SCAN_LINES_MASK) <= (crtc[regs.CRTC_CURSOR_END] & regs.SCAN_LINES_MASK)
                   and 0 <= row < info["rows"] and col < info["cols"])
        return row, col, visible

    def blink_enabled(self) -> bool:
        """Attribute bit 7 blinks (attribute mode control bit 3) rather than
        selecting a bright background."""
        return bool(self.state.attr[regs.ATTR_MODE] & regs.ATTR_MODE_BLINK)

    def framebuffer_rgb(self) -> Tuple[int, int, bytes]:
        """(width, height, RGB bytes) of the displayed picture, through the DAC."""
        return render(self)

    def dump_screen(self, path: str) -> None:
        """Text modes: UTF-8 lines to `path`, attributes to `path`.attr (two hex digits
        per cell); graphics modes: a binary PPM image to `path`."""
        info = self.mode_info()
        if info["kind"] == "text":
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(self.text_lines()) + "\n")
            with open(path + ".attr", "w", encoding="ascii") as handle:
                for _, attrs in self.text_rows(info):
                    handle.write(bytes(attrs).hex() + "\n")
            return
        width, height, rgb = self.framebuffer_rgb()
        with open(path, "wb") as handle:
            handle.write(b"P6\n%d %d\n255\n" % (width, height) + rgb)

    # ------------------------------------------------------------------ change tracking
    def _changed(self) -> None:
        """Something visible changed: count it; report it at the next frame."""
        self.generation += 1
        if self._frame_event is None and self._hooks.screen_change:
            now = self.clock.now()
            frame = self._frame_ns()
            self.state.frame_check_at = now + frame - now % frame
            self._frame_event = self.clock.schedule(self.state.frame_check_at, self._frame_check)

    def _frame_check(self) -> None:
        """Once per frame while changes are pending: fire `screen_change`."""
        self._frame_event = None
        self.state.frame_check_at = 0
        if self.generation != self._reported_generation and self._hooks.screen_change:
            self._reported_generation = self.generation
            self._hooks.call.screen_change(machine=self.machine, screen=self)

    def _cancel_frame_check(self) -> None:
        if self._frame_event is not None:
            self._frame_event.cancel()
            self._frame_event = None
        self.state.frame_check_at = 0

    # ------------------------------------------------------------------ timing
    def _vertical_timing(self) -> Tuple[int, int, int, int]:
        """(total lines, displayed lines, retrace start line, retrace lines)."""
        crtc = self.state.crtc
        total = self._vertical(regs.CRTC_V_TOTAL, 0, 5) + 2
        display = self._vertical(regs.CRTC_V_DISPLAY_END, 1, 6) + 1
        retrace = self._vertical(regs.CRTC_V_RETRACE_START, 2, 7)
        if not display < retrace < total:   # not programmed yet: standard 400-line timing
            return (regs.DEFAULT_V_TOTAL_LINES, regs.DEFAULT_V_DISPLAY_LINES,
                    regs.DEFAULT_V_RETRACE_START, regs.DEFAULT_V_RETRACE_LINES)
        # Retrace ends when the line counter's low 4 bits equal CRTC 11h bits 0-3.
        length = ((crtc[regs.CRTC_V_RETRACE_END] - retrace) & 0x0F) or 16
        return total, display, retrace, length

    def _frame_ns(self) -> int:
        return self._vertical_timing()[0] * regs.LINE_NS

    def _horizontal_active_ns(self) -> int:
        crtc = self.state.crtc
        total = crtc[regs.CRTC_H_TOTAL] + 5
        shown = crtc[regs.CRTC_H_DISPLAY_END] + 1
        if shown >= total:              # not programmed yet: 80 of 100 character clocks
            shown, total = regs.DEFAULT_H_DISPLAY_CHARS, regs.DEFAULT_H_TOTAL_CHARS
        return regs.LINE_NS * shown // total

    def _read_status1(self, port: int) -> int:
        """Input status 1: blanking and vertical retrace from virtual time; resets the
        attribute flip-flop."""
        self.state.attr_expect_data = False
        total, display, retrace, length = self._vertical_timing()
        in_frame = self.clock.now() % (total * regs.LINE_NS)
        line, in_line = divmod(in_frame, regs.LINE_NS)
        status = 0
        if line >= display or in_line >= self._horizontal_active_ns():
            status |= regs.STATUS_DISPLAY_OFF
        if retrace <= line < retrace + length:
            status |= regs.STATUS_VRETRACE
        return status

    # ------------------------------------------------------------------ port dispatch
    def _decoded(self, port: int) -> bool:
        """CRTC and status ports answer at 3Bx or 3Dx as misc output bit 0 selects."""
        if 0x3B0 <= port <= 0x3BF:
            return not self._io_color
        if 0x3D0 <= port <= 0x3DF:
            return self._io_color
        return True

    def _read_port(self, port: int) -> int:
        reader = self._port_readers.get(port)
        if reader is None or not self._decoded(port):
            return FLOATING_BUS
        if isinstance(reader, str):
            return getattr(self.state, reader)
        return reader(port)

    def _write_port(self, port: int, value: int) -> None:
        writer = self._port_writers.get(port)
        if writer is None or not self._decoded(port):
            return
        if isinstance(writer, str):
            setattr(self.state, writer, value & 0xFF)
        else:
            writer(port, value & 0xFF)

    def _io_read(self, port: int, size: int) -> int:
        if size == 2:
            return self._read_port(port) | (self._read_port(port + 1) << 8)
        return self._read_port(port)

    def _io_write(self, port: int, size: int, value: int) -> None:
        """A 16-bit OUT writes the index port, then the data port above it."""
        self._write_port(port, value)
        if size == 2:
            self._write_port(port + 1, value >> 8)

    # ------------------------------------------------------------------ registers
    def _write_misc(self, port: int, value: int) -> None:
        self.state.misc_output = value
        self._decode_registers()
        self._changed()

    def _read_status0(self, port: int) -> int:
        return regs.STATUS0_SWITCH_SENSE

    def _read_seq_data(self, port: int) -> int:
        index = self.state.seq_index
        return self.state.seq[index] if index < regs.SEQ_COUNT else 0

    def _write_seq_data(self, port: int, value: int) -> None:
        self._store(self.state.seq, self.state.seq_index, value, decode=True)

    def _read_gc_data(self, port: int) -> int:
        index = self.state.gc_index
        return self.state.gc[index] if index < regs.GC_COUNT else 0

    def _write_gc_data(self, port: int, value: int) -> None:
        self._store(self.state.gc, self.state.gc_index, value, decode=True)

    def _read_crtc_index(self, port: int) -> int:
        return self.state.crtc_index

    def _write_crtc_index(self, port: int, value: int) -> None:
        self.state.crtc_index = value & 0x7F

    def _read_crtc_data(self, port: int) -> int:
        index = self.state.crtc_index
        return self.state.crtc[index] if index < regs.CRTC_COUNT else 0

    def _write_crtc_data(self, port: int, value: int) -> None:
        crtc = self.state.crtc
        index = self.state.crtc_index
        if index <= regs.CRTC_OVERFLOW and crtc[regs.CRTC_V_RETRACE_END] & regs.PROTECT:
            if index != regs.CRTC_OVERFLOW:
                return
            value = (crtc[index] & ~regs.LINE_COMPARE_BIT8) | (value & regs.LINE_COMPARE_BIT8)
        self._store(crtc, index, value, decode=index not in regs.CURSOR_REGISTERS)

    def _store(self, registers: bytearray, index: int, value: int, decode: bool) -> None:
        """Write one indexed register; a change is visible and may change the mode."""
        if index >= len(registers) or registers[index] == value:
            return
        registers[index] = value
        if decode:
            self._decode_registers()
        self._changed()

    def _read_attr_data(self, port: int) -> int:
        index = self.state.attr_index & regs.ATTR_INDEX_MASK
        return self.state.attr[index] if index < regs.ATTR_COUNT else 0

    def _write_attr(self, port: int, value: int) -> None:
        """0x3C0 alternates between index and data writes (the flip-flop)."""
        st = self.state
        if not st.attr_expect_data:
            if (value ^ st.attr_index) & regs.ATTR_PAS:
                self._changed()         # screen blanked or shown again
            st.attr_index = value & (regs.ATTR_INDEX_MASK | regs.ATTR_PAS)
        else:
            self._store(st.attr, st.attr_index & regs.ATTR_INDEX_MASK, value, decode=False)
        st.attr_expect_data = not st.attr_expect_data

    def _write_pel_mask(self, port: int, value: int) -> None:
        if value != self.state.pel_mask:
            self.state.pel_mask = value
            self._changed()

    def _write_dac_read_index(self, port: int, value: int) -> None:
        st = self.state
        st.dac_read_index, st.dac_read_component, st.dac_state = value, 0, regs.DAC_STATE_READ

    def _write_dac_write_index(self, port: int, value: int) -> None:
        st = self.state
        st.dac_write_index, st.dac_write_component, st.dac_state = value, 0, regs.DAC_STATE_WRITE

    def _read_dac_data(self, port: int) -> int:
        """Red, green, blue of the read index in turn; then the next entry."""
        st = self.state
        value = st.dac[st.dac_read_index * 3 + st.dac_read_component]
        st.dac_read_component += 1
        if st.dac_read_component == 3:
            st.dac_read_component = 0
            st.dac_read_index = (st.dac_read_index + 1) & 0xFF
        return value

    def _write_dac_data(self, port: int, value: int) -> None:
        """Components are buffered; the third one writes the entry and moves on."""
        st = self.state
        wide = self.dispi is not None and self.dispi.dac_8bit()
        st.dac_write_buffer[st.dac_write_component] = value if wide else value & regs.DAC_COMPONENT_MASK
        st.dac_write_component += 1
        if st.dac_write_component == 3:
            base = st.dac_write_index * 3
            st.dac[base:base + 3] = st.dac_write_buffer
            st.dac_write_component = 0
            st.dac_write_index = (st.dac_write_index + 1) & 0xFF
            self._changed()

    # ------------------------------------------------------------------ video memory
    def _mmio_write(self, address: int, size: int, value: int) -> None:
        offset = address - self._window_base
        if self._banked:
            if 0 <= offset and offset + size <= dispi.BANK_SIZE:
                self.dispi.window_write(offset, size, value)
            return
        if self._text_fast and 0 <= offset and offset + size <= self._window_size:
            # Standard text configuration: odd/even straight into planes 0 and 1.
            plane0, plane1 = self._planes[0], self._planes[1]
            if size == 2 and not offset & 1:
                plane0[offset] = value & 0xFF
                plane1[offset] = (value >> 8) & 0xFF
            else:
                for i in range(size):
                    at = offset + i
                    (plane1 if at & 1 else plane0)[at & ~1] = (value >> (8 * i)) & 0xFF
            if offset < self._visible_high and offset + size > self._visible_low:
                self._changed()
            return
        for i in range(size):
            self._write_byte(address + i, (value >> (8 * i)) & 0xFF)

    def _mmio_write_block(self, address: int, data: bytes) -> None:
        """Bytes written one after the other (`Bus.write_bytes`: the BIOS clearing
        the screen, loading a font): as planes' slices in the standard text and
        plain planar configurations, byte by byte otherwise."""
        offset = address - self._window_base
        end = offset + len(data)
        if not self._banked and 0 <= offset and end <= self._window_size:
            if self._text_fast and not offset & 1 and not len(data) & 1:
                self._planes[0][offset:end:2] = data[0::2]
                self._planes[1][offset:end:2] = data[1::2]
                if offset < self._visible_high and end > self._visible_low:
                    self._changed()
                return
            plain = self._plain_planes
            if plain is not None and (offset & PLANE_MASK) + len(data) <= PLANE_SIZE:
                at = offset & PLANE_MASK
                for plane in plain:
                    plane[at:at + len(data)] = data
                if at < self._visible_high and at + len(data) > self._visible_low:
                    self._changed()
                return
        for index, byte in enumerate(data):
            self._mmio_write(address + index, 1, byte)

    def _mmio_read(self, address: int, size: int) -> int:
        if self._banked:
            offset = address - self._window_base
            if 0 <= offset and offset + size <= dispi.BANK_SIZE:
                return self.dispi.window_read(offset, size)
            return dispi.SIZE_MASKS[size]
        value = 0
        for i in range(size):
            value |= self._read_byte(address + i) << (8 * i)
        return value

    def _write_byte(self, address: int, value: int) -> None:
        offset = address - self._window_base
        if not 0 <= offset < self._window_size:
            return
        plain = self._plain_planes
        if plain is not None:
            at = offset & PLANE_MASK
            for plane in plain:
                plane[at] = value
            if self._visible_low <= at < self._visible_high:
                self._changed()
            return
        st = self.state
        mode = st.seq[regs.SEQ_MEMORY_MODE]
        enabled = st.seq[regs.SEQ_MAP_MASK] & 0x0F
        if mode & regs.MEMORY_CHAIN4:
            plane = offset & 3
            if not enabled & (1 << plane):
                return
            at = offset & PLANE_MASK & ~3
            self._planes[plane][at] = value
        else:
            if mode & regs.MEMORY_ODD_EVEN_OFF:
                at = offset & PLANE_MASK
            else:
                at = offset & PLANE_MASK & ~1
                enabled &= 0x0A if offset & 1 else 0x05
            if not enabled:
                return
            data = regs.write_mode_planes(st.gc, st.latches, value)
            for plane in range(4):
                if enabled & (1 << plane):
                    self._planes[plane][at] = data[plane]
        if self._visible_low <= at < self._visible_high:
            self._changed()

    def _read_byte(self, address: int) -> int:
        offset = address - self._window_base
        if not 0 <= offset < self._window_size:
            return FLOATING_BUS
        st = self.state
        gc = st.gc
        if st.seq[regs.SEQ_MEMORY_MODE] & regs.MEMORY_CHAIN4:
            return self._planes[offset & 3][offset & PLANE_MASK & ~3]
        odd_even = gc[regs.GC_MODE] & regs.MODE_ODD_EVEN
        at = offset & PLANE_MASK & ~1 if odd_even else offset & PLANE_MASK
        latches = st.latches
        for plane in range(4):
            latches[plane] = self._planes[plane][at]
        if odd_even:
            return latches[(offset & 1) | (gc[regs.GC_READ_MAP] & 2)]
        if not gc[regs.GC_MODE] & regs.MODE_READ_COMPARE:
            return latches[gc[regs.GC_READ_MAP] & 3]
        return regs.color_compare(gc, latches)
