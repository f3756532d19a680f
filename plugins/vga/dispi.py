"""The Bochs VBE display interface ("DISPI") of the VGA: resolution, colour depth,
virtual width, display start, bank and linear framebuffer, at ports 0x1CE (index)
and 0x1CF (data).

Follows the interface as Bochs (`vga.cc`, `vbe.h`) defines it and QEMU's std VGA
(`vga.c`) implements it; where they differ this module does what QEMU does, since
the guests that use it are tested there: registers may change while the interface
is enabled and are then fixed up (depth one of 4/8/15/16/24/32, else 8; widths
multiples of 8; the height and the display start kept inside video memory), and
VIRT_HEIGHT reads as the lines video memory holds at the current line length.

Video memory is one bytearray of `vram` bytes (profile option), separate from the
VGA's four planes.  It is reached through the linear framebuffer at a fixed
physical address (`FramebufferRegion`) and, while the interface is enabled, through
the VGA window at A0000 in 64 KiB banks.  Depth 4 (planar through the VGA) is
accepted by the registers but not displayed.

Open question: Bochs ignores resolution writes while enabled; QEMU applies them.
"""

from typing import Any, List, Tuple

from pcmachine.bus import MMIORegion, zeroed

INDEX_PORT = 0x1CE
DATA_PORT = 0x1CF

# --- register indexes
ID, XRES, YRES, BPP, ENABLE, BANK, VIRT_WIDTH, VIRT_HEIGHT, X_OFFSET, Y_OFFSET = range(10)
VIDEO_MEMORY_64K = 0x0A         # read-only: video memory in 64 KiB units
REGISTER_COUNT = 10
REGISTER_NAMES = ("ID", "XRES", "YRES", "BPP", "ENABLE", "BANK", "VIRT_WIDTH", "VIRT_HEIGHT",
                  "X_OFFSET", "Y_OFFSET", "VIDEO_MEMORY_64K")

# --- ID values: a write of one of these selects the interface version
ID0, ID5 = 0xB0C0, 0xB0C5

# --- ENABLE bits
ENABLED = 0x01
GETCAPS = 0x02                  # XRES/YRES/BPP read as the maximums while set
DAC_8BIT = 0x20                 # the DAC keeps 8-bit components
LFB_ENABLED = 0x40
NOCLEARMEM = 0x80               # enabling does not clear video memory

# --- limits (Bochs' VBE_DISPI_MAX_*)
MAX_XRES = 2560
MAX_YRES = 1600
MAX_BPP = 32
DEPTHS = (4, 8, 15, 16, 24, 32)
BANK_SIZE = 0x10000
DEFAULT_LFB_ADDRESS = 0xE0000000
SIZE_MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}


def power_on_registers() -> List[int]:
    """Disabled, ID5 (the newest interface) selected, everything else zero."""
    registers = [0] * REGISTER_COUNT
    registers[ID] = ID5
    return registers


def storage_bits(bpp: int) -> int:
    """Bits a pixel occupies in memory: 15-bit colour is stored in 16."""
    return 16 if bpp == 15 else bpp


def line_bytes(virt_width: int, bpp: int) -> int:
    return virt_width * storage_bits(bpp) // 8


def fix_up(registers: List[int], vram_size: int) -> None:
    """Bring the registers into range after a write while enabled (QEMU's rules)."""
    if registers[BPP] not in DEPTHS:
        registers[BPP] = 8
    registers[XRES] = min(registers[XRES] & ~7 or 8, MAX_XRES)
    registers[VIRT_WIDTH] = max(min(registers[VIRT_WIDTH] & ~7, MAX_XRES), registers[XRES])
    stride = line_bytes(registers[VIRT_WIDTH], registers[BPP])
    lines = vram_size // stride
    registers[YRES] = min(registers[YRES] or 1, MAX_YRES, lines)
    registers[X_OFFSET] = min(registers[X_OFFSET], MAX_XRES)
    registers[Y_OFFSET] = min(registers[Y_OFFSET], MAX_YRES)
    start = registers[X_OFFSET] * storage_bits(registers[BPP]) // 8 + registers[Y_OFFSET] * stride
    if start + registers[YRES] * stride > vram_size:
        registers[X_OFFSET] = registers[Y_OFFSET] = 0
    registers[VIRT_HEIGHT] = min(lines, 0xFFFF)


def geometry(registers: List[int]) -> Tuple[int, int, int, int, int]:
    """(width, height, bpp, bytes per line, display start offset) of an enabled mode."""
    bpp = registers[BPP]
    stride = line_bytes(registers[VIRT_WIDTH], bpp)
    start = registers[X_OFFSET] * storage_bits(bpp) // 8 + registers[Y_OFFSET] * stride
    return registers[XRES], registers[YRES], bpp, stride, start


class FramebufferRegion(MMIORegion):
    """Video memory on the bus at the linear framebuffer address: reads and writes
    go straight to the bytearray (no handler indirection); a write inside the
    displayed part counts as a visible change."""

    def __init__(self, base: int, size: int, name: str, changed: Any) -> None:
        super().__init__(base, size, name, self.read, self.write)
        self.vram = bytearray()         # the VGA state's, set by `Dispi.install`
        self.changed = changed
        self.visible_low = 0
        self.visible_high = 0

    def read(self, address: int, size: int) -> int:
        offset = address - self.base
        return int.from_bytes(self.vram[offset:offset + size], "little")

    def write(self, address: int, size: int, value: int) -> None:
        offset = address - self.base
        self.vram[offset:offset + size] = (value & SIZE_MASKS[size]).to_bytes(size, "little")
        if self.visible_low <= offset < self.visible_high:
            self.changed()


class Dispi:
    """The DISPI registers of one VGA.  State lives in the VGA's state (`vbe_index`,
    `vbe_regs`, `vram`) so that it is saved with the rest; this object decodes it."""

    def __init__(self, vga: Any, vram_size: int, lfb_address: int) -> None:
        self.vga = vga
        self.vram_size = vram_size
        self.lfb_address = lfb_address
        self.region = FramebufferRegion(lfb_address, vram_size, f"{vga.name} lfb", vga._changed)
        #: derived from the registers by `decode()`
        self.enabled = False
        self.bank_base = 0

    def attach(self, bus: Any, name: str) -> None:
        bus.register_io(INDEX_PORT, DATA_PORT, self.io_read, self.io_write,
                        f"{name} vbe dispi", sizes=(1, 2))
        bus.map_region(self.region)

    def install(self, state: Any) -> None:
        """A new state (power-on, restore): video memory of the configured size."""
        if len(state.vram) != self.vram_size:     # power-on, or saved without its zero tail
            vram = zeroed(self.vram_size)
            kept = state.vram[:self.vram_size]
            vram[:len(kept)] = kept
            state.vram = vram
        if len(state.vbe_regs) != REGISTER_COUNT:
            state.vbe_regs = power_on_registers()
        self.region.vram = state.vram

    def decode(self) -> None:
        """Recompute the enabled flag, the bank base and the visible byte range."""
        registers = self.vga.state.vbe_regs
        self.enabled = bool(registers[ENABLE] & ENABLED)
        self.bank_base = registers[BANK] * BANK_SIZE if self.enabled else 0
        if self.enabled:
            width, height, bpp, stride, start = geometry(registers)
            self.region.visible_low, self.region.visible_high = start, start + height * stride
        else:
            self.region.visible_low = self.region.visible_high = 0

    def dac_8bit(self) -> bool:
        return bool(self.enabled and self.vga.state.vbe_regs[ENABLE] & DAC_8BIT)

    # ------------------------------------------------------------------ ports
    def io_read(self, port: int, size: int) -> int:
        state = self.vga.state
        if port == INDEX_PORT:
            return state.vbe_index
        return self.read_register(state.vbe_index) & SIZE_MASKS[size]

    def io_write(self, port: int, size: int, value: int) -> None:
        if port == INDEX_PORT:
            self.vga.state.vbe_index = value & 0xFFFF
        else:
            self.write_register(self.vga.state.vbe_index, value & 0xFFFF)

    def read_register(self, index: int) -> int:
        registers = self.vga.state.vbe_regs
        if index == VIDEO_MEMORY_64K:
            return self.vram_size // BANK_SIZE
        if index >= REGISTER_COUNT:
            return 0
        if registers[ENABLE] & GETCAPS and index in (XRES, YRES, BPP):
            return {XRES: MAX_XRES, YRES: MAX_YRES, BPP: MAX_BPP}[index]
        return registers[index]

    def write_register(self, index: int, value: int) -> None:
        registers = self.vga.state.vbe_regs
        if index == ID:
            if ID0 <= value <= ID5:
                registers[ID] = value
            return
        if index == ENABLE:
            self._write_enable(value)
        elif index == BANK:
            registers[BANK] = value & (self.vram_size // BANK_SIZE - 1)
        elif index in (XRES, YRES, BPP, VIRT_WIDTH, X_OFFSET, Y_OFFSET):
            registers[index] = value
            if registers[ENABLE] & ENABLED:
                fix_up(registers, self.vram_size)
        else:
            return                      # VIRT_HEIGHT and unknown indexes are read-only
        self.vga._decode_registers()    # calls `decode()`
        self.vga._changed()

    def _write_enable(self, value: int) -> None:
        """Enabling resets the virtual width and the display start and clears the
        displayed memory unless NOCLEARMEM is set."""
        registers = self.vga.state.vbe_regs
        if value & ENABLED and not registers[ENABLE] & ENABLED:
            registers[VIRT_WIDTH] = registers[X_OFFSET] = registers[Y_OFFSET] = 0
            registers[ENABLE] = value
            fix_up(registers, self.vram_size)
            if not value & NOCLEARMEM:
                width, height, bpp, stride, start = geometry(registers)
                vram = self.vga.state.vram
                vram[0:height * stride] = bytes(height * stride)
        else:
            registers[ENABLE] = value

    # ------------------------------------------------------------------ banked window
    def window_read(self, offset: int, size: int) -> int:
        at = self.bank_base + offset
        return int.from_bytes(self.vga.state.vram[at:at + size].ljust(size, b"\xff"), "little")

    def window_write(self, offset: int, size: int, value: int) -> None:
        at = self.bank_base + offset
        vram = self.vga.state.vram
        if at + size <= len(vram):
            vram[at:at + size] = (value & SIZE_MASKS[size]).to_bytes(size, "little")
            if self.region.visible_low <= at < self.region.visible_high:
                self.vga._changed()
