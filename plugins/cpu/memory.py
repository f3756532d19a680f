"""Linear-memory access functions for the decoded instructions.

`build_accessors(cpu)` returns closures over the bus memory array and its fast-page
tables.  They are rebuilt (and the decode cache flushed) whenever the translation
regime changes: A20 gate, RAM array replaced, paging on/off.  The single
linear-to-physical translation point is `cpu.translate()`; the closures inline it
as `linear & a20_mask` while paging is off, and `paging.build_paged_accessors`
supplies the TLB-backed ones while it is on.
"""

from typing import Callable, Tuple

from .dwords import PACK32, UNPACK32
from .state import keeps_cpu_state


def build_accessors(cpu) -> Tuple[Callable, ...]:
    """(rd8, rd16, rd32, wr8, wr16, wr32) taking a linear address."""
    if cpu.paging:
        from .paging import build_paged_accessors
        return build_paged_accessors(cpu)
    if cpu.generation < 2:
        return wrapping_accessors(*plain_accessors(cpu))
    return plain_accessors(cpu)


def wrapping_accessors(rd8: Callable, rd16: Callable, rd32: Callable, wr8: Callable,
                       wr16: Callable, wr32: Callable) -> Tuple[Callable, ...]:
    """The 8086/80186 accessors: an address with bits above 32 set (the segment's
    last linear byte, `Decoder._wrapping_address`, `CPU.segment_fault`) is a word
    that runs past offset FFFF; its bytes beyond that end wrap to the segment's
    start, as these processors have no segment limit.  Only the word accessors
    can see one (a byte never runs past FFFF; these models have no dword access),
    so byte accesses keep their speed."""
    def split(lin: int) -> Tuple[int, int]:
        """The linear addresses of the two bytes of a tagged word address (the
        second word of a far pointer at FFFE lies wholly past the end)."""
        end = lin >> 32
        low = lin & 0xFFFFFFFF
        high = low + 1
        return (low - 0x10000 if low > end else low), (high - 0x10000 if high > end else high)

    def w_rd16(lin: int) -> int:
        if lin >> 32:
            low, high = split(lin)
            return rd8(low) | (rd8(high) << 8)
        return rd16(lin)

    def w_wr16(lin: int, value: int) -> None:
        if lin >> 32:
            low, high = split(lin)
            wr8(low, value & 0xFF)
            wr8(high, value >> 8)
        else:
            wr16(lin, value)
    return rd8, w_rd16, rd32, wr8, w_wr16, wr32


def plain_accessors(cpu) -> Tuple[Callable, ...]:
    """The accessors with paging off: linear & A20 mask is the physical address."""
    bus = cpu.bus
    mem = bus.memory
    read_fast = bus.read_fast
    write_fast = bus.write_fast
    beside_code = bus.beside_code.get
    mask = bus.a20_mask

    def phys(lin: int, write: bool) -> int:
        return lin & mask

    def slow_read(lin: int, size: int) -> int:
        first = phys(lin, False)
        if (first & 0xFFF) + size <= 0x1000:
            # one access of the operand's size, as the CPU's bus cycle: a device
            # register that answers dword reads only sees a dword read
            return cpu.load_on_bus(first, size)
        value = 0
        for i in range(size):
            a = phys(lin + i, False)
            if read_fast[a >> 12]:
                byte = mem[a]
            else:
                byte = cpu.load_on_bus(a, 1)
            value |= byte << (8 * i)
        return value

    def slow_write(lin: int, size: int, value: int) -> None:
        first = phys(lin, True)
        if (first & 0xFFF) + size <= 0x1000:
            cpu.store_on_bus(first, size, value)
            return
        for i in range(size):
            a = phys(lin + i, True)
            byte = (value >> (8 * i)) & 0xFF
            if write_fast[a >> 12]:
                mem[a] = byte
            else:
                cpu.store_on_bus(a, 1, byte)

    def rd8(lin: int) -> int:
        a = lin & mask
        if read_fast[a >> 12]:
            return mem[a]
        return slow_read(lin, 1)

    def rd16(lin: int) -> int:
        a = lin & mask
        if a & 0xFFF != 0xFFF and read_fast[a >> 12]:
            return mem[a] | (mem[a + 1] << 8)
        return slow_read(lin, 2)

    def rd32(lin: int) -> int:
        a = lin & mask
        if a & 0xFFF < 0xFFD and read_fast[a >> 12]:
            return UNPACK32(mem, a)[0]
        return slow_read(lin, 4)

    # A store to a page that holds decoded code goes straight into memory when
    # it touches none of the code's bytes (`Bus.beside_code`: DOS keeps its
    # stacks and variables in the pages of its code).
    def wr8(lin: int, value: int) -> None:
        a = lin & mask
        if write_fast[a >> 12]:
            mem[a] = value
            return
        marks = beside_code(a >> 12)
        if marks is not None and not marks[a & 0xFFF]:
            mem[a] = value
        else:
            slow_write(lin, 1, value)

    def wr16(lin: int, value: int) -> None:
        a = lin & mask
        offset = a & 0xFFF
        if offset != 0xFFF:
            if write_fast[a >> 12]:
                mem[a] = value & 0xFF
                mem[a + 1] = value >> 8
                return
            marks = beside_code(a >> 12)
            if marks is not None and not (marks[offset] or marks[offset + 1]):
                mem[a] = value & 0xFF
                mem[a + 1] = value >> 8
                return
        slow_write(lin, 2, value)

    def wr32(lin: int, value: int) -> None:
        a = lin & mask
        offset = a & 0xFFF
        if offset < 0xFFD:
            if write_fast[a >> 12]:
                PACK32(mem, a, value)
                return
            marks = beside_code(a >> 12)
            if marks is not None and not (marks[offset] or marks[offset + 1] or marks[offset + 2]
                                          or marks[offset + 3]):
                PACK32(mem, a, value)
                return
        slow_write(lin, 4, value)

    # what the decoder needs to write a dword access to RAM into an operand closure
    rd32.unpaged_fast_path = (read_fast, mem, mask)
    wr32.unpaged_fast_path = (write_fast, mem, mask)
    return rd8, rd16, rd32, wr8, wr16, wr32


keeps_cpu_state(wrapping_accessors, "split", "w_rd16", "w_wr16")
keeps_cpu_state(plain_accessors, "phys", "slow_read", "slow_write", "rd8", "rd16", "rd32",
                "wr8", "wr16", "wr32")
