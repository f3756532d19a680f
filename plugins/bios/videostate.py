"""Save and restore the video state: int 10h AH=1Ch (VGA BIOS) and AX=4F04h (VBE).

A program that switches modes behind the BIOS's back (a TSR, a debugger, a DOS
extender) saves the state into its own buffer and puts it back later.  Both
services take CX, the parts wanted: bit 0 the VGA registers, bit 1 the BIOS data
area's video fields, bit 2 the DAC (mask and 256 colours), bit 3 (VBE only) the
Bochs VBE registers.  Subfunction 00h returns BX = the size in 64-byte blocks,
01h saves to ES:BX, 02h restores from ES:BX.

The buffer's layout is the BIOS's own (callers must treat it as opaque): the
CX word, then each part asked for, in bit order.  Everything is read and written
through the ports, as a VGA BIOS does; restoring the VBE registers leaves video
memory alone (NOCLEARMEM).
"""

from typing import Any, Callable, List, Optional, Tuple

from . import common as c

PART_HARDWARE, PART_BIOS_DATA, PART_DAC, PART_VBE = 0x1, 0x2, 0x4, 0x8
SEQ_COUNT, CRTC_COUNT, GC_COUNT, ATTR_COUNT = 5, 25, 9, 21
#: the BDA's video fields: 40:49-40:66 and 40:84-40:8A
BDA_RANGES = ((0x49, 0x1E), (0x84, 0x07))
#: Bochs VBE registers kept: the index, XRES, YRES, BPP, BANK, VIRT_WIDTH,
#: VIRT_HEIGHT, X_OFFSET, Y_OFFSET and ENABLE (written last)
DISPI_INDEX, DISPI_DATA = 0x1CE, 0x1CF
DISPI_SAVED = (1, 2, 3, 5, 6, 7, 8, 9)
DISPI_ENABLE, DISPI_NOCLEARMEM = 4, 0x80
BLOCK = 64

Part = Tuple[int, int, Callable[[Any], bytes], Callable[[Any, bytes], None]]


def _read_hardware(ctx: Any) -> bytes:
    misc = ctx.inb(0x3CC)
    crtc = 0x3D4 if misc & 1 else 0x3B4
    saved_indexes = [ctx.inb(0x3C4), ctx.inb(crtc), ctx.inb(0x3CE)]
    data = bytearray([misc])
    for port, count in ((0x3C4, SEQ_COUNT), (crtc, CRTC_COUNT), (0x3CE, GC_COUNT)):
        for index in range(count):
            ctx.outb(port, index)
            data.append(ctx.inb(port + 1))
    ctx.inb(crtc + 6)                       # input status 1: the attribute flip-flop to index
    attr_index = ctx.inb(0x3C0)
    for index in range(ATTR_COUNT):
        ctx.inb(crtc + 6)
        ctx.outb(0x3C0, index | (attr_index & 0x20))
        data.append(ctx.inb(0x3C1))
    ctx.inb(crtc + 6)
    ctx.outb(0x3C0, attr_index)
    for port, index in zip((0x3C4, crtc, 0x3CE), saved_indexes):
        ctx.outb(port, index)
    return bytes(data + bytes(saved_indexes) + bytes([attr_index]))


def _write_hardware(ctx: Any, data: bytes) -> None:
    misc = data[0]
    ctx.outb(0x3C2, misc)
    crtc = 0x3D4 if misc & 1 else 0x3B4
    seq = data[1:1 + SEQ_COUNT]
    crtc_values = data[1 + SEQ_COUNT:1 + SEQ_COUNT + CRTC_COUNT]
    gc = data[1 + SEQ_COUNT + CRTC_COUNT:1 + SEQ_COUNT + CRTC_COUNT + GC_COUNT]
    start = 1 + SEQ_COUNT + CRTC_COUNT + GC_COUNT
    attrs = data[start:start + ATTR_COUNT]
    seq_index, crtc_index, gc_index, attr_index = data[start + ATTR_COUNT:start + ATTR_COUNT + 4]
    ctx.outb(0x3C4, 0)
    ctx.outb(0x3C5, 0x01)                   # synchronous reset while the clocking changes
    for index in range(1, SEQ_COUNT):
        ctx.outb(0x3C4, index)
        ctx.outb(0x3C5, seq[index])
    ctx.outb(0x3C4, 0)
    ctx.outb(0x3C5, seq[0])
    ctx.outb(crtc, 0x11)
    ctx.outb(crtc + 1, crtc_values[0x11] & 0x7F)   # unlock CR0-CR7 first
    for index in range(CRTC_COUNT):
        if index != 0x11:
            ctx.outb(crtc, index)
            ctx.outb(crtc + 1, crtc_values[index])
    ctx.outb(crtc, 0x11)
    ctx.outb(crtc + 1, crtc_values[0x11])
    for index in range(GC_COUNT):
        ctx.outb(0x3CE, index)
        ctx.outb(0x3CF, gc[index])
    ctx.inb(crtc + 6)
    for index in range(ATTR_COUNT):
        ctx.outb(0x3C0, index)
        ctx.outb(0x3C0, attrs[index])
    ctx.outb(0x3C0, attr_index)
    ctx.outb(0x3C4, seq_index)
    ctx.outb(crtc, crtc_index)
    ctx.outb(0x3CE, gc_index)


HARDWARE_SIZE = 1 + SEQ_COUNT + CRTC_COUNT + GC_COUNT + ATTR_COUNT + 4


def _read_bios_data(ctx: Any) -> bytes:
    return b"".join(ctx.bus.read_bytes(c.BDA + offset, length) for offset, length in BDA_RANGES)


def _write_bios_data(ctx: Any, data: bytes) -> None:
    position = 0
    for offset, length in BDA_RANGES:
        ctx.bus.write_bytes(c.BDA + offset, data[position:position + length])
        position += length


def _read_dac(ctx: Any) -> bytes:
    mask, write_index = ctx.inb(0x3C6), ctx.inb(0x3C8)
    ctx.outb(0x3C7, 0)
    colours = bytes(ctx.inb(0x3C9) for _ in range(256 * 3))
    ctx.outb(0x3C8, write_index)
    return bytes([mask, write_index]) + colours


def _write_dac(ctx: Any, data: bytes) -> None:
    ctx.outb(0x3C6, data[0])
    ctx.outb(0x3C8, 0)
    for value in data[2:2 + 256 * 3]:
        ctx.outb(0x3C9, value)
    ctx.outb(0x3C8, data[1])


def _read_vbe(ctx: Any) -> bytes:
    values = [ctx.inw(DISPI_INDEX)]
    for index in DISPI_SAVED + (DISPI_ENABLE,):
        ctx.outw(DISPI_INDEX, index)
        values.append(ctx.inw(DISPI_DATA))
    return b"".join(value.to_bytes(2, "little") for value in values)


def _write_vbe(ctx: Any, data: bytes) -> None:
    selected, *values = [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]
    ctx.outw(DISPI_INDEX, DISPI_ENABLE)
    ctx.outw(DISPI_DATA, 0)
    for index, value in zip(DISPI_SAVED, values):
        ctx.outw(DISPI_INDEX, index)
        ctx.outw(DISPI_DATA, value)
    if values[-1] & 1:
        ctx.outw(DISPI_INDEX, DISPI_ENABLE)
        ctx.outw(DISPI_DATA, values[-1] | DISPI_NOCLEARMEM)
    ctx.outw(DISPI_INDEX, selected)


PARTS: List[Part] = [
    (PART_HARDWARE, HARDWARE_SIZE, _read_hardware, _write_hardware),
    (PART_BIOS_DATA, sum(length for _, length in BDA_RANGES), _read_bios_data, _write_bios_data),
    (PART_DAC, 2 + 256 * 3, _read_dac, _write_dac),
    (PART_VBE, 2 * (len(DISPI_SAVED) + 2), _read_vbe, _write_vbe),
]


def buffer_blocks(parts: int) -> int:
    """The buffer size for `parts`, in 64-byte blocks."""
    size = 2 + sum(length for bit, length, _, _ in PARTS if parts & bit)
    return -(-size // BLOCK)


def save_restore(ctx: Any, cpu: Any, subfunction: int, parts: int) -> Optional[bool]:
    """Carry out subfunction 00h/01h/02h for CX = `parts`; None for another
    subfunction.  The buffer is ES:BX."""
    if subfunction == 0:
        cpu.set_reg("bx", buffer_blocks(parts))
        return True
    if subfunction not in (1, 2):
        return None
    address = c.linear(cpu.get_reg("es"), cpu.get_reg("bx"))
    if subfunction == 1:
        data = bytearray(parts.to_bytes(2, "little"))
        for bit, _, read, _ in PARTS:
            if parts & bit:
                data += read(ctx)
        ctx.bus.write_bytes(address, bytes(data))
        return True
    saved = int.from_bytes(ctx.bus.read_bytes(address, 2), "little")
    position = address + 2
    for bit, length, _, write in PARTS:
        if saved & bit:
            if parts & bit:
                write(ctx, ctx.bus.read_bytes(position, length))
            position += length
    return True
