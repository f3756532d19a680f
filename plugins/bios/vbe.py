"""Int 10h AH=4Fh: a VESA BIOS Extension 3.0 for the Bochs VBE (DISPI) interface.

Follows the VBE 3.0 specification (VESA, 1998) for the call interface and the
layout of VbeInfoBlock and ModeInfoBlock, and SeaBIOS' `vgasrc/vbe.c` and
`bochsvga.c` (QEMU's VGA BIOS) for how the functions map onto the DISPI ports: the
mode list is built in the caller's VbeInfoBlock (reserved area), the OEM strings
are in the ROM, a mode set disables the interface, programs depth and resolution,
then enables it with the LFB and no-clear bits.  The linear framebuffer address
comes from the display component (`vbe_lfb_address`), as SeaBIOS takes it from the
PCI BAR or the Bochs default.

Functions: 00h controller information, 01h mode information, 02h set mode
(standard VGA modes below 100h go to AH=00h), 03h current mode, 04h save/restore
state, 05h window control (also as the far routine WinFuncPtr points to), 06h
logical scan line length, 07h display start, 08h DAC width, 09h palette data, 0Ah
the protected-mode interface: real x86 code in the ROM (`vbe_pmi.asm`, assembled
into plugins/data/vbe_pmi.bin), since an OS calls it from its own 32-bit code
segment where no host call can reach (the LGPL Bochs VGA BIOS has one; SeaBIOS's,
QEMU's default, does not).
"""

import os
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import common as c
from .videostate import save_restore
from .rom import ROM_SEGMENT, RomBuilder
from .vgatables import vga256_palette

INDEX_PORT, DATA_PORT = 0x1CE, 0x1CF
#: the protected-mode interface of function 0Ah, assembled from vbe_pmi.asm
PMI_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                        "vbe_pmi.bin")
DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK, DISPI_VIRT_WIDTH, \
    DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET, DISPI_VIDEO_MEMORY_64K = range(11)
DISPI_ID0, DISPI_ID5 = 0xB0C0, 0xB0C5
DISPI_ENABLED, DISPI_GETCAPS, DISPI_8BIT_DAC, DISPI_LFB, DISPI_NOCLEARMEM = 0x01, 0x02, 0x20, 0x40, 0x80

# --- return status in AX: AL = 4Fh (supported), AH = status
OK = 0x004F
FAILED = 0x014F
NOT_IN_HARDWARE = 0x024F
INVALID_IN_MODE = 0x034F
NOT_SUPPORTED = 0x0100

# --- mode number flags (4F02h BX, 4F01h CX)
MODE_CUSTOM_CRTC = 0x0800
MODE_LFB = 0x4000
MODE_NOCLEAR = 0x8000
MODE_NUMBER_MASK = 0x01FF

# --- ModeInfoBlock
ATTR_SUPPORTED, ATTR_EXTENDED, ATTR_COLOR, ATTR_GRAPHICS, ATTR_NOT_VGA, ATTR_LFB = \
    0x01, 0x02, 0x08, 0x10, 0x20, 0x80
WINDOW_RELOCATABLE, WINDOW_READABLE, WINDOW_WRITABLE = 0x01, 0x02, 0x04
MODEL_PACKED, MODEL_DIRECT = 0x04, 0x06
WINDOW_KB = 64
GRAPHICS_SEGMENT = 0xA000
INFO_BLOCK_SIZE = 512
INFO_BLOCK_V1_SIZE = 256
MODE_LIST_OFFSET = 0x22         # the mode list goes into the reserved area
MODE_INFO_SIZE = 256
VBE_VERSION = 0x0300
OEM_SOFTWARE_REV = 0x0100
CAPABILITY_DAC_SWITCHABLE = 0x01

OEM_STRING = b"pcmachine VBE (Bochs DISPI)\0"
VENDOR_STRING = b"pcmachine\0"
PRODUCT_STRING = b"Bochs VBE adapter\0"
REVISION_STRING = b"1.0\0"
RETF = b"\xCB"

#: (mode number, width, height, bits per pixel): QEMU's VGA BIOS list (SeaBIOS
#: `svgamodes.c`) without the 4-bit planar modes
MODES: Tuple[Tuple[int, int, int, int], ...] = (
    (0x100, 640, 400, 8), (0x101, 640, 480, 8), (0x103, 800, 600, 8), (0x105, 1024, 768, 8),
    (0x107, 1280, 1024, 8),
    (0x10D, 320, 200, 15), (0x10E, 320, 200, 16), (0x10F, 320, 200, 24),
    (0x110, 640, 480, 15), (0x111, 640, 480, 16), (0x112, 640, 480, 24),
    (0x113, 800, 600, 15), (0x114, 800, 600, 16), (0x115, 800, 600, 24),
    (0x116, 1024, 768, 15), (0x117, 1024, 768, 16), (0x118, 1024, 768, 24),
    (0x119, 1280, 1024, 15), (0x11A, 1280, 1024, 16), (0x11B, 1280, 1024, 24),
    (0x11C, 1600, 1200, 8), (0x11D, 1600, 1200, 15), (0x11E, 1600, 1200, 16),
    (0x11F, 1600, 1200, 24),
    (0x140, 320, 200, 32), (0x141, 640, 400, 32), (0x142, 640, 480, 32), (0x143, 800, 600, 32),
    (0x144, 1024, 768, 32), (0x145, 1280, 1024, 32), (0x146, 320, 200, 8),
    (0x147, 1600, 1200, 32), (0x148, 1152, 864, 8), (0x149, 1152, 864, 15),
    (0x14A, 1152, 864, 16), (0x14B, 1152, 864, 24), (0x14C, 1152, 864, 32),
    (0x175, 1280, 768, 16), (0x176, 1280, 768, 24), (0x177, 1280, 768, 32),
    (0x178, 1280, 800, 16), (0x179, 1280, 800, 24), (0x17A, 1280, 800, 32),
    (0x17B, 1280, 960, 16), (0x17C, 1280, 960, 24), (0x17D, 1280, 960, 32),
    (0x17E, 1440, 900, 16), (0x17F, 1440, 900, 24), (0x180, 1440, 900, 32),
    (0x181, 1400, 1050, 16), (0x182, 1400, 1050, 24), (0x183, 1400, 1050, 32),
    (0x184, 1680, 1050, 16), (0x185, 1680, 1050, 24), (0x186, 1680, 1050, 32),
    (0x187, 1920, 1200, 16), (0x188, 1920, 1200, 24), (0x189, 1920, 1200, 32),
    (0x18A, 2560, 1600, 16), (0x18B, 2560, 1600, 24), (0x18C, 2560, 1600, 32),
    (0x18D, 1280, 720, 16), (0x18E, 1280, 720, 24), (0x18F, 1280, 720, 32),
    (0x190, 1920, 1080, 16), (0x191, 1920, 1080, 24), (0x192, 1920, 1080, 32),
)
#: (size, position) of red, green, blue and reserved fields per depth
COLOR_FIELDS = {15: ((5, 10), (5, 5), (5, 0), (1, 15)), 16: ((5, 11), (6, 5), (5, 0), (0, 0)),
                24: ((8, 16), (8, 8), (8, 0), (0, 0)), 32: ((8, 16), (8, 8), (8, 0), (8, 24))}


def bytes_per_line(width: int, bpp: int) -> int:
    return width * (16 if bpp == 15 else bpp) // 8


class VbeServices:
    """The AH=4Fh functions, programmed through the DISPI ports."""

    def __init__(self, video: Any) -> None:
        self.video = video
        self.ctx: c.BiosContext = video.ctx
        self.labels: Dict[str, int] = {}

    def install(self, rom: RomBuilder) -> None:
        for label, text in (("vbe_oem", OEM_STRING), ("vbe_vendor", VENDOR_STRING),
                            ("vbe_product", PRODUCT_STRING), ("vbe_revision", REVISION_STRING)):
            self.labels[label] = rom.emit(text, label)
        self.labels["vbe_window"] = rom.hostcall(self.window_far_call, RETF, "vbe_window")
        with open(PMI_FILE, "rb") as handle:
            self.pmi = handle.read()
        self.labels["vbe_pmi"] = rom.emit(self.pmi, "vbe_pmi")

    # ------------------------------------------------------------ DISPI access
    def dispi_read(self, index: int) -> int:
        self.ctx.outw(INDEX_PORT, index)
        return self.ctx.inw(DATA_PORT)

    def dispi_write(self, index: int, value: int) -> None:
        self.ctx.outw(INDEX_PORT, index)
        self.ctx.outw(DATA_PORT, value)

    def present(self) -> bool:
        """A DISPI interface answers (its ID register reads back an ID value)."""
        return self.ctx.port_present(DATA_PORT) and DISPI_ID0 <= self.dispi_read(DISPI_ID) <= DISPI_ID5

    def enabled(self) -> bool:
        return bool(self.dispi_read(DISPI_ENABLE) & DISPI_ENABLED)

    def total_memory(self) -> int:
        return self.dispi_read(DISPI_VIDEO_MEMORY_64K) << 16

    def lfb_address(self) -> int:
        for component in self.ctx.machine.components.values():
            address = getattr(component, "vbe_lfb_address", None)
            if address is not None:
                return address
        return 0

    def available_modes(self) -> List[Tuple[int, int, int, int]]:
        """The modes that fit in video memory and the interface's limits."""
        enable = self.dispi_read(DISPI_ENABLE)
        self.dispi_write(DISPI_ENABLE, enable | DISPI_GETCAPS)
        max_width, max_bpp = self.dispi_read(DISPI_XRES), self.dispi_read(DISPI_BPP)
        self.dispi_write(DISPI_ENABLE, enable)
        memory = self.total_memory()
        return [mode for mode in MODES if mode[1] <= max_width and mode[3] <= max_bpp
                and mode[2] * bytes_per_line(mode[1], mode[3]) <= memory]

    def find_mode(self, number: int) -> Optional[Tuple[int, int, int, int]]:
        for mode in self.available_modes():
            if mode[0] == number:
                return mode
        return None

    def current_mode(self) -> Optional[Tuple[int, int, int, int]]:
        """The listed mode matching the enabled DISPI resolution and depth."""
        if not self.enabled():
            return None
        geometry = (self.dispi_read(DISPI_XRES), self.dispi_read(DISPI_YRES), self.dispi_read(DISPI_BPP))
        for mode in self.available_modes():
            if mode[1:] == geometry:
                return mode
        return (0, *geometry)

    # ------------------------------------------------------------ dispatcher
    def int10(self, cpu: Any) -> None:
        """AH=4Fh; no DISPI interface: registers unchanged (AL != 4Fh: no VBE)."""
        if not self.present():
            return
        handler = self.FUNCTIONS.get(cpu.get_reg("al"))
        if handler is None:
            cpu.set_reg("ax", NOT_SUPPORTED)
            return
        handler(self, cpu)

    # ------------------------------------------------------------ 00h, 01h
    def controller_info(self, cpu: Any) -> None:
        """VbeInfoBlock at ES:DI: 512 bytes when the caller asks for VBE 2.0+ with
        'VBE2', else the 256-byte VBE 1.x block."""
        address = c.linear(cpu.get_reg("es"), cpu.get_reg("di"))
        vbe2 = self.ctx.bus.read_bytes(address, 4) == b"VBE2"
        block = bytearray(INFO_BLOCK_SIZE if vbe2 else INFO_BLOCK_V1_SIZE)
        block[0:4] = b"VESA"
        block[4:6] = VBE_VERSION.to_bytes(2, "little")
        block[6:10] = self._rom_pointer("vbe_oem")
        block[0x0A:0x0E] = CAPABILITY_DAC_SWITCHABLE.to_bytes(4, "little")
        list_segment, list_offset = cpu.get_reg("es"), (cpu.get_reg("di") + MODE_LIST_OFFSET) & 0xFFFF
        block[0x0E:0x12] = ((list_segment << 16) | list_offset).to_bytes(4, "little")
        block[0x12:0x14] = min(self.total_memory() >> 16, 0xFFFF).to_bytes(2, "little")
        if vbe2:
            block[0x14:0x16] = OEM_SOFTWARE_REV.to_bytes(2, "little")
            block[0x16:0x1A] = self._rom_pointer("vbe_vendor")
            block[0x1A:0x1E] = self._rom_pointer("vbe_product")
            block[0x1E:0x22] = self._rom_pointer("vbe_revision")
        room = (INFO_BLOCK_V1_SIZE - MODE_LIST_OFFSET) // 2
        numbers = [mode[0] for mode in self.available_modes()][:room - 1] + [0xFFFF]
        for index, number in enumerate(numbers):
            block[MODE_LIST_OFFSET + 2 * index:MODE_LIST_OFFSET + 2 * index + 2] = number.to_bytes(2, "little")
        self.ctx.bus.write_bytes(address, bytes(block))
        cpu.set_reg("ax", OK)

    def _rom_pointer(self, label: str) -> bytes:
        return ((ROM_SEGMENT << 16) | self.labels[label]).to_bytes(4, "little")

    def mode_info(self, cpu: Any) -> None:
        """ModeInfoBlock (256 bytes) for mode CX at ES:DI."""
        mode = self.find_mode(cpu.get_reg("cx") & MODE_NUMBER_MASK)
        if mode is None:
            cpu.set_reg("ax", FAILED)
            return
        number, width, height, bpp = mode
        line = bytes_per_line(width, bpp)
        memory = self.total_memory()
        lfb = self.lfb_address()
        info = bytearray(MODE_INFO_SIZE)
        attributes = ATTR_SUPPORTED | ATTR_EXTENDED | ATTR_COLOR | ATTR_GRAPHICS | ATTR_NOT_VGA
        if lfb:
            attributes |= ATTR_LFB
        banked_pages = memory // (((height * line) + 0xFFFF) & ~0xFFFF)
        linear_pages = memory // (height * line)

        def put(offset: int, size: int, value: int) -> None:
            info[offset:offset + size] = value.to_bytes(size, "little")

        put(0x00, 2, attributes)
        put(0x02, 1, WINDOW_RELOCATABLE | WINDOW_READABLE | WINDOW_WRITABLE)
        put(0x04, 2, WINDOW_KB)                        # granularity
        put(0x06, 2, WINDOW_KB)                        # size
        put(0x08, 2, GRAPHICS_SEGMENT)
        put(0x0C, 4, (ROM_SEGMENT << 16) | self.labels["vbe_window"])
        put(0x10, 2, line)
        put(0x12, 2, width)
        put(0x14, 2, height)
        put(0x16, 1, 8)                                # character cell
        put(0x17, 1, 16)
        put(0x18, 1, 1)                                # planes
        put(0x19, 1, bpp)
        put(0x1A, 1, 1)                                # banks
        put(0x1B, 1, MODEL_PACKED if bpp == 8 else MODEL_DIRECT)
        put(0x1D, 1, min(banked_pages - 1, 0xFF))
        put(0x1E, 1, 1)                                # reserved, 1 in VBE 3.0
        fields = COLOR_FIELDS.get(bpp)
        if fields:
            info[0x1F:0x27] = bytes(v for field in fields for v in field)
            info[0x36:0x3E] = info[0x1F:0x27]          # the same in linear modes
            put(0x27, 1, 0x02 if bpp == 32 else 0)     # reserved field usable
        if lfb:
            put(0x28, 4, lfb)
            put(0x32, 2, line)
        put(0x34, 1, min(banked_pages - 1, 0xFF))
        put(0x35, 1, min(linear_pages - 1, 0xFF))
        self.ctx.bus.write_bytes(c.linear(cpu.get_reg("es"), cpu.get_reg("di")), bytes(info))
        cpu.set_reg("ax", OK)

    # ------------------------------------------------------------ 02h, 03h
    def set_mode(self, cpu: Any) -> None:
        request = cpu.get_reg("bx")
        number = request & MODE_NUMBER_MASK
        if number < 0x100:
            self.disable()
            self.video.set_mode(number | (0x80 if request & MODE_NOCLEAR else 0))
            cpu.set_reg("ax", OK)
            return
        mode = self.find_mode(number)
        if mode is None:
            cpu.set_reg("ax", FAILED)
            return
        self.program_mode(mode, bool(request & MODE_LFB), bool(request & MODE_NOCLEAR))
        cpu.set_reg("ax", OK)

    def disable(self) -> None:
        if self.present():
            self.dispi_write(DISPI_ENABLE, 0)

    def program_mode(self, mode: Tuple[int, int, int, int], linear: bool, keep_memory: bool) -> None:
        """Disable, load the packed-pixel palette, program depth and resolution,
        enable; then put the VGA in the graphics configuration a VBE mode implies
        (A0000 64K window, chain-4, 256-colour shift) for programs that look."""
        number, width, height, bpp = mode
        video = self.video
        self.dispi_write(DISPI_ENABLE, 0)
        if bpp == 8:
            video.dac_write(0, vga256_palette())
        self.dispi_write(DISPI_BPP, bpp)
        self.dispi_write(DISPI_XRES, width)
        self.dispi_write(DISPI_YRES, height)
        self.dispi_write(DISPI_BANK, 0)
        self.dispi_write(DISPI_ENABLE, DISPI_ENABLED | (DISPI_LFB if linear else 0)
                         | (DISPI_NOCLEARMEM if keep_memory else 0))
        video.crtc_write(0x11, 0x00)
        video.crtc_write(0x01, width // 8 - 1)
        video.crtc_write(0x13, (bytes_per_line(width, bpp) // 8) & 0xFF)
        video.crtc_write(0x12, (height - 1) & 0xFF)
        video.gc_write(0x05, 0x40)
        video.gc_write(0x06, 0x05)
        video.seq_write(0x02, 0x0F)
        video.seq_write(0x04, 0x0E)
        video.ac_write(0x10, 0x41)
        self.ctx.outb(0x3C0, 0x20)                     # palette address source: display on
        self.ctx.set_bda8(c.BDA_VIDEO_MODE, 0xFF)      # not a standard mode (as SeaBIOS)

    def get_mode(self, cpu: Any) -> None:
        mode = self.current_mode()
        if mode is None:
            cpu.set_reg("bx", self.ctx.bda8(c.BDA_VIDEO_MODE) & 0x7F)
        else:
            lfb = MODE_LFB if self.dispi_read(DISPI_ENABLE) & DISPI_LFB else 0
            cpu.set_reg("bx", mode[0] | lfb)
        cpu.set_reg("ax", OK)

    # ------------------------------------------------------------ 05h-09h
    def window_control(self, cpu: Any) -> None:
        """BH=00h set window BL to bank DX (64K units), BH=01h get it in DX."""
        subfunction, window = cpu.get_reg("bh"), cpu.get_reg("bl")
        if subfunction > 1 or window != 0 or not self.enabled():
            cpu.set_reg("ax", FAILED)
            return
        if subfunction == 0:
            bank = cpu.get_reg("dx")
            self.dispi_write(DISPI_BANK, bank)
            if self.dispi_read(DISPI_BANK) != bank:
                cpu.set_reg("ax", FAILED)
                return
        else:
            cpu.set_reg("dx", self.dispi_read(DISPI_BANK))
        cpu.set_reg("ax", OK)

    def window_far_call(self, cpu: Any) -> None:
        """WinFuncPtr: function 05h reached by a far call (the ROM's RETF follows)."""
        if self.present():
            self.window_control(cpu)

    def scan_line_length(self, cpu: Any) -> None:
        """BL=00h set CX pixels, 01h get, 02h set CX bytes, 03h get the maximum;
        BX = bytes, CX = pixels per line, DX = lines video memory holds."""
        mode = self.current_mode()
        subfunction = cpu.get_reg("bl")
        if mode is None or subfunction > 3:
            cpu.set_reg("ax", FAILED)
            return
        bits = 16 if mode[3] == 15 else mode[3]
        memory = self.total_memory()
        if subfunction == 3:
            pixels = min(memory // mode[2] * 8 // bits, 0x7FF8 if bits < 32 else 0x3FF8) & ~7
            line = pixels * bits // 8
            cpu.set_reg("bx", line)
            cpu.set_reg("cx", pixels)
            cpu.set_reg("dx", memory // line)
            cpu.set_reg("ax", OK)
            return
        if subfunction in (0, 2):
            pixels = cpu.get_reg("cx") if subfunction == 0 else cpu.get_reg("cx") * 8 // bits
            if pixels * bits // 8 * mode[2] > memory:
                cpu.set_reg("ax", NOT_IN_HARDWARE)
                return
            self.dispi_write(DISPI_VIRT_WIDTH, pixels)
        pixels = self.dispi_read(DISPI_VIRT_WIDTH)
        line = pixels * bits // 8
        cpu.set_reg("bx", line)
        cpu.set_reg("cx", pixels)
        cpu.set_reg("dx", memory // line)
        cpu.set_reg("ax", OK)

    def display_start(self, cpu: Any) -> None:
        """BL=00h/80h set first pixel CX of line DX, 01h get (BH=0, CX, DX),
        02h/82h schedule (ECX = byte offset), 04h scheduled flip status (done)."""
        subfunction = cpu.get_reg("bl")
        mode = self.current_mode()
        if mode is None:
            cpu.set_reg("ax", FAILED)
            return
        if subfunction in (0x00, 0x80):
            self.dispi_write(DISPI_X_OFFSET, cpu.get_reg("cx"))
            self.dispi_write(DISPI_Y_OFFSET, cpu.get_reg("dx"))
        elif subfunction == 0x01:
            cpu.set_reg("bh", 0)
            cpu.set_reg("cx", self.dispi_read(DISPI_X_OFFSET))
            cpu.set_reg("dx", self.dispi_read(DISPI_Y_OFFSET))
        elif subfunction in (0x02, 0x82):
            line = bytes_per_line(self.dispi_read(DISPI_VIRT_WIDTH), mode[3])
            offset = cpu.get_reg("ecx")
            self.dispi_write(DISPI_X_OFFSET, (offset % line) * 8 // (16 if mode[3] == 15 else mode[3]))
            self.dispi_write(DISPI_Y_OFFSET, offset // line)
        elif subfunction == 0x04:
            cpu.set_reg("cx", 1)
        else:
            cpu.set_reg("ax", FAILED)
            return
        cpu.set_reg("ax", OK)

    def dac_width(self, cpu: Any) -> None:
        """BL=00h set the DAC to BH (6 or 8) bits, 01h get; BH returns the width.
        Direct-colour modes have no palette: AX=034Fh."""
        subfunction = cpu.get_reg("bl")
        mode = self.current_mode()
        if mode is not None and mode[3] > 8:
            cpu.set_reg("ax", INVALID_IN_MODE)
            return
        if subfunction > 1:
            cpu.set_reg("ax", FAILED)
            return
        enable = self.dispi_read(DISPI_ENABLE)
        if subfunction == 0:
            width = cpu.get_reg("bh")
            if width not in (6, 8) or (width == 8 and not enable & DISPI_ENABLED):
                cpu.set_reg("ax", FAILED)
                return
            if enable & DISPI_ENABLED:
                enable = (enable | DISPI_8BIT_DAC) if width == 8 else (enable & ~DISPI_8BIT_DAC)
                self.dispi_write(DISPI_ENABLE, enable)
        cpu.set_reg("bh", 8 if enable & DISPI_ENABLED and enable & DISPI_8BIT_DAC else 6)
        cpu.set_reg("ax", OK)

    def palette_data(self, cpu: Any) -> None:
        """BL=00h/80h set, 01h get CX entries from DX in the table at ES:DI (blue,
        green, red, alignment per entry); 02h/03h (secondary palette): not present."""
        subfunction = cpu.get_reg("bl")
        count, first = cpu.get_reg("cx"), cpu.get_reg("dx")
        address = c.linear(cpu.get_reg("es"), cpu.get_reg("di"))
        if subfunction not in (0x00, 0x01, 0x80) or first + count > 256:
            cpu.set_reg("ax", FAILED)
            return
        if subfunction == 0x01:
            self.ctx.outb(0x3C7, first)
            rgb = [self.ctx.inb(0x3C9) for _ in range(3 * count)]
            self.ctx.bus.write_bytes(address, bytes(v for i in range(0, 3 * count, 3)
                                                    for v in (rgb[i + 2], rgb[i + 1], rgb[i], 0)))
        else:
            data = self.ctx.bus.read_bytes(address, 4 * count)
            self.video.dac_write(first, [(data[i + 2], data[i + 1], data[i]) for i in range(0, 4 * count, 4)])
        cpu.set_reg("ax", OK)

    def save_restore_state(self, cpu: Any) -> None:
        """DL=00h size, 01h save, 02h restore (`videostate.py`); CX bits 0-3, bit 3
        the Bochs VBE registers."""
        done = save_restore(self.ctx, cpu, cpu.get_reg("dl"), cpu.get_reg("cx") & 0xF)
        cpu.set_reg("ax", OK if done else FAILED)

    def protected_mode_interface(self, cpu: Any) -> None:
        """BL=00h: ES:DI -> the protected-mode table in the ROM, CX = its length with
        the code (`vbe_pmi.asm`: 32-bit set window, set display start, set palette)."""
        if cpu.get_reg("bl") != 0:
            cpu.set_reg("ax", FAILED)
            return
        cpu.set_reg("es", ROM_SEGMENT)
        cpu.set_reg("di", self.labels["vbe_pmi"])
        cpu.set_reg("cx", len(self.pmi))
        cpu.set_reg("ax", OK)

    FUNCTIONS: Dict[int, Callable[[Any, Any], None]] = {
        0x00: controller_info, 0x01: mode_info, 0x02: set_mode, 0x03: get_mode,
        0x04: save_restore_state, 0x05: window_control, 0x06: scan_line_length,
        0x07: display_start, 0x08: dac_width, 0x09: palette_data,
        0x0A: protected_mode_interface,
    }
