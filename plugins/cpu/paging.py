"""Paging: the two-level i386 page walk, 4 MiB pages (CR4.PSE), U/S and R/W with
CR0.WP, accessed and dirty bits, #PF with CR2 and the error code, and a TLB.

Follows the Intel SDM vol. 3A section 4.3 (32-bit paging) and 4.6 (access rights,
486 and later semantics: supervisor writes to read-only pages fault only with
CR0.WP).  The error code has P (bit 0: protection violation, not "not present"),
W/R (bit 1) and U/S (bit 2: the access came from CPL 3).

The TLB is two dicts keyed by linear page number, `tlb_read` and `tlb_write`, whose
values are physical page addresses, valid for the current privilege (user at CPL 3,
supervisor otherwise): a hit costs one dict look-up.  An entry exists only once the
walk has set the accessed bit (and, for `tlb_write`, the dirty bit), so a hit never
needs to write the page tables.  Both are emptied on CR3 and CR4 writes, on CR0.WP
or PG changes and when the CPL crosses between 3 and 0-2; INVLPG drops one page.
Decoded code stays keyed by physical address, so none of this flushes it.
"""

import struct
from typing import Callable, Tuple

from .state import CPUFault, CR0_WP, CR4_DE, CS, PF_VECTOR

CR0_AM = 0x40000

PRESENT, WRITABLE, USER, ACCESSED, DIRTY, LARGE = 0x1, 0x2, 0x4, 0x20, 0x40, 0x80
CR4_PSE = 0x10


def read_phys32(cpu, address: int) -> int:
    bus = cpu.bus
    if bus.read_fast[address >> 12] and (address & 0xFFF) <= 0xFFC:
        return int.from_bytes(bus.memory[address:address + 4], "little")
    return bus.read(address, 4)


def write_phys32(cpu, address: int, value: int) -> None:
    bus = cpu.bus
    if bus.write_fast[address >> 12] and (address & 0xFFF) <= 0xFFC:
        bus.memory[address:address + 4] = value.to_bytes(4, "little")
    else:
        bus.write(address, 4, value)


def page_fault(cpu, linear: int, error: int) -> None:
    cpu.cr[2] = linear
    raise CPUFault(PF_VECTOR, error)


def check_rights(cpu, bits: int, linear: int, write: bool, user: bool, error: int) -> None:
    if user:
        if not bits & USER or (write and not bits & WRITABLE):
            page_fault(cpu, linear, error | 1)
    elif write and not bits & WRITABLE and cpu.cr[0] & CR0_WP:
        page_fault(cpu, linear, error | 1)


def walk(cpu, linear: int, write: bool, user: bool) -> int:
    """Translate with the rights of a user (CPL 3) or supervisor access; sets the
    accessed/dirty bits and raises #PF.  Returns the physical address."""
    linear &= 0xFFFFFFFF
    mask = cpu.bus.a20_mask
    error = (2 if write else 0) | (4 if user else 0)
    pde_address = ((cpu.cr[3] & 0xFFFFF000) | ((linear >> 20) & 0xFFC)) & mask
    pde = read_phys32(cpu, pde_address)
    if not pde & PRESENT:
        page_fault(cpu, linear, error)
    if pde & LARGE and cpu.cr[4] & CR4_PSE:
        check_rights(cpu, pde, linear, write, user, error)
        updated = pde | ACCESSED | (DIRTY if write else 0)
        if updated != pde:
            write_phys32(cpu, pde_address, updated)
        return ((pde & 0xFFC00000) | (linear & 0x3FFFFF)) & mask
    pte_address = ((pde & 0xFFFFF000) | ((linear >> 10) & 0xFFC)) & mask
    pte = read_phys32(cpu, pte_address)
    if not pte & PRESENT:
        page_fault(cpu, linear, error)
    check_rights(cpu, pde & pte, linear, write, user, error)
    if not pde & ACCESSED:
        write_phys32(cpu, pde_address, pde | ACCESSED)
    updated = pte | ACCESSED | (DIRTY if write else 0)
    if updated != pte:
        write_phys32(cpu, pte_address, updated)
    return ((pte & 0xFFFFF000) | (linear & 0xFFF)) & mask


def translate_as(cpu, linear: int, write: bool, user: bool) -> int:
    """A walk that bypasses the TLB (supervisor accesses to system structures)."""
    return walk(cpu, linear, write, user)


def translate(cpu, linear: int, write: bool) -> int:
    """The translation point with paging on: the TLB, then the walk at the CPL."""
    page = linear >> 12
    base = (cpu.tlb_write if write else cpu.tlb_read).get(page)
    if base is not None:
        return base | (linear & 0xFFF)
    phys = walk(cpu, linear, write, cpu.cpl == 3)
    cpu.tlb_read[page] = phys & ~0xFFF
    if write:
        cpu.tlb_write[page] = phys & ~0xFFF
    return phys


def flush_tlb(cpu) -> None:
    cpu.tlb_read.clear()
    cpu.tlb_write.clear()


def invlpg(cpu, linear: int) -> None:
    page = (linear & 0xFFFFFFFF) >> 12
    for table in (cpu.tlb_read, cpu.tlb_write):
        table.pop(page, None)
        table.pop(page | 0x100000, None)    # the same page reached past 4 GiB wrap


def control_register_written(cpu, index: int, old: int, new: int) -> None:
    """CR3/CR4 writes and CR0.WP changes invalidate the TLB; a CR0.AM change
    rebuilds the memory accessors (alignment checking, `faults.py`), a CR4.DE
    change the I/O breakpoint watches (`debugregs.py`)."""
    if (index == 0 and (old ^ new) & CR0_AM) or (index == 4 and (old ^ new) & CR4_DE):
        cpu.rebuild()       # alignment-check accessors; I/O breakpoint watches
        return
    if not cpu.paging:
        return
    if index in (3, 4) or (index == 0 and (old ^ new) & CR0_WP):
        flush_tlb(cpu)


def build_paged_accessors(cpu) -> Tuple[Callable, ...]:
    """(rd8, rd16, rd32, wr8, wr16, wr32) for paging on: a TLB hit is one dict
    look-up plus the part-1 fast-page test; accesses crossing a page go byte by
    byte after both pages are translated (a fault leaves memory unchanged)."""
    bus = cpu.bus
    mem = bus.memory
    read_fast = bus.read_fast
    write_fast = bus.write_fast
    # Emptied in place: a running `run_paged` holds these dicts (an A20 change
    # rebuilds the accessors in the middle of a batch).
    flush_tlb(cpu)
    tlb_read = cpu.tlb_read
    tlb_write = cpu.tlb_write
    # struct is three times faster than slicing + int.from_bytes (CPython and PyPy).
    unpack32 = struct.Struct("<I").unpack_from
    pack32 = struct.Struct("<I").pack_into

    def fill(lin: int, write: bool) -> int:
        return translate(cpu, lin, write) & ~0xFFF

    def bus_read(a: int, size: int) -> int:
        cpu.sync_before_bus()
        value = bus.read(a, size)
        cpu.sync_after_bus()
        return value

    def bus_write(a: int, size: int, value: int) -> None:
        cpu.sync_before_bus()
        bus.write(a, size, value)
        cpu.sync_after_bus()

    def split_read(lin: int, size: int) -> int:
        addresses = [translate(cpu, lin + i, False) for i in range(size)]
        value = 0
        for i, a in enumerate(addresses):
            value |= (mem[a] if read_fast[a >> 12] else bus_read(a, 1)) << (8 * i)
        return value

    def split_write(lin: int, size: int, value: int) -> None:
        addresses = [translate(cpu, lin + i, True) for i in range(size)]
        for i, a in enumerate(addresses):
            byte = (value >> (8 * i)) & 0xFF
            if write_fast[a >> 12]:
                mem[a] = byte
            else:
                bus_write(a, 1, byte)

    def rd8(lin: int) -> int:
        base = tlb_read.get(lin >> 12)
        if base is None:
            base = fill(lin, False)
        a = base | (lin & 0xFFF)
        if read_fast[base >> 12]:
            return mem[a]
        return bus_read(a, 1)

    def rd16(lin: int) -> int:
        if lin & 0xFFF == 0xFFF:
            return split_read(lin, 2)
        base = tlb_read.get(lin >> 12)
        if base is None:
            base = fill(lin, False)
        a = base | (lin & 0xFFF)
        if read_fast[base >> 12]:
            return mem[a] | (mem[a + 1] << 8)
        return bus_read(a, 2)

    def rd32(lin: int) -> int:
        if lin & 0xFFF > 0xFFC:
            return split_read(lin, 4)
        base = tlb_read.get(lin >> 12)
        if base is None:
            base = fill(lin, False)
        a = base | (lin & 0xFFF)
        if read_fast[base >> 12]:
            return unpack32(mem, a)[0]
        return bus_read(a, 4)

    def wr8(lin: int, value: int) -> None:
        base = tlb_write.get(lin >> 12)
        if base is None:
            base = fill(lin, True)
        a = base | (lin & 0xFFF)
        if write_fast[base >> 12]:
            mem[a] = value
        else:
            bus_write(a, 1, value)

    def wr16(lin: int, value: int) -> None:
        if lin & 0xFFF == 0xFFF:
            split_write(lin, 2, value)
            return
        base = tlb_write.get(lin >> 12)
        if base is None:
            base = fill(lin, True)
        a = base | (lin & 0xFFF)
        if write_fast[base >> 12]:
            mem[a] = value & 0xFF
            mem[a + 1] = value >> 8
        else:
            bus_write(a, 2, value)

    def wr32(lin: int, value: int) -> None:
        if lin & 0xFFF > 0xFFC:
            split_write(lin, 4, value)
            return
        base = tlb_write.get(lin >> 12)
        if base is None:
            base = fill(lin, True)
        a = base | (lin & 0xFFF)
        if write_fast[base >> 12]:
            pack32(mem, a, value)
        else:
            bus_write(a, 4, value)

    return rd8, rd16, rd32, wr8, wr16, wr32


def run_paged(cpu, single: bool) -> None:
    """The inner loop with paging on: as `CPU._loop` (blocks of decoded
    instructions, run by their `blockrun` runner), with the instruction fetch
    translated through the TLB (the decode cache stays keyed by physical address)."""
    clock = cpu.clock
    seg_base = cpu.seg_base
    get = cpu.code_cache.get
    tlb = cpu.tlb_read
    eip = cpu.eip
    icount = clock.icount
    while icount < clock.stop_icount:
        if cpu.check_irq:
            cpu.eip = eip
            cpu._service_interrupts()
            eip = cpu.eip
            get = cpu.code_cache.get
            if cpu.halted:
                break
        lin = seg_base[CS] + eip
        try:
            base = tlb.get(lin >> 12)
            phys = translate(cpu, lin, False) if base is None else base | (lin & 0xFFF)
            entry = get(phys)
            if entry is None:
                entry = cpu._decode(phys, eip)
        except CPUFault:
            cpu.eip = eip
            raise
        run, block, length = entry
        if single or icount + length > clock.stop_icount:
            eip, icount = cpu.run_partial(block[:1] if single else block[:clock.stop_icount - icount],
                                          eip, icount)
            if single:
                break
        else:
            eip = run(eip, icount)      # stores cpu.eip itself on a fault
            icount += length
    cpu.eip = eip
