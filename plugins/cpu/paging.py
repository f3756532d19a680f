"""Paging: the two-level i386 page walk with 4 MiB pages (CR4.PSE, PSE-36 where the
model reports it), the three-level PAE walk (CR4.PAE: 64-bit entries, 2 MiB pages,
36-bit physical addresses, the four PDPTE registers), global pages (CR4.PGE), U/S
and R/W with CR0.WP, accessed and dirty bits, reserved-bit checks, #PF with CR2 and
the error code, and a TLB.

Follows the Intel SDM vol. 3A sections 4.3 (32-bit paging), 4.4 (PAE paging and
4.4.1, the PDPTE registers), 4.6 (access rights, 486 and later semantics:
supervisor writes to read-only pages fault only with CR0.WP), 4.7 (the error
code: P, W/R, U/S and RSVD) and 4.10 (TLBs and global pages).

Reserved bits are checked on the P6 only (the processor that introduced the RSVD
error-code bit): with 32-bit paging in 4 MiB PDEs (CR4.PSE), with PAE in every
PDE and PTE (bits 63:36, MAXPHYADDR being 36; no NX, as the P6 has no EFER) and in
2 MiB PDEs bits 20:13; bit 7 of a PAE PTE and bit 12 of a large-page PDE are the
PAT bit where CPUID reports the PAT and reserved otherwise.  A reserved bit gives
#PF with P and RSVD set.  Reserved bits of a PDPTE raise #GP(0) when the PDPTEs
are loaded (MOV CR0/CR3/CR4, task switch), never during a walk.

Physical addresses from 4 GiB up (PAE, PSE-36) reach nothing: no RAM or device is
mapped there, so the walk maps every such page to the bus's one page beyond 4 GiB
(`bus.BEYOND_4G`), which reads as all ones and drops writes.

The TLB is two lists indexed by linear page number, `tlb_read` and `tlb_write`
(a slot per page, and one per page reached past the 4 GiB wrap), whose values are
physical page addresses (NO_ENTRY: none), valid for the current privilege: a hit
costs one list index, a third of a dict look-up on PyPy; `tlb_pages` holds the
filled slots, which a flush resets.  At CPL 3 every entry allows a user access;
at CPL 0-2 an entry allows a supervisor access, and `tlb_supervisor` holds the
pages whose entry would not allow the same access by the user (U/S clear, or a
write entry on a page the user may not write).  Entering CPL 3 drops just those
pages; leaving it drops nothing, since a user-valid entry is supervisor-valid
on the P6 (no SMEP/SMAP; user-writable implies writable whatever CR0.WP says).
A ring-3 guest thus keeps
its TLB across system calls and interrupts (EMM386's V86 monitor takes one per
INT), and supervisor reads of descriptor tables and TSSs (`protected.sys_read`)
may use any entry.  An entry exists only once the walk has set the accessed bit
(and, for `tlb_write`, the dirty bit), so a hit never needs to write the page
tables.  `tlb_local` holds the pages whose translation is not global (G clear
or CR4.PGE off): a MOV CR3 or task switch drops those entries and keeps the
global ones; INVLPG drops one page, global or not; CR4 writes and CR0.PG/WP changes drop
everything, global entries too.  Decoded code stays keyed by physical address, so
none of this flushes it; `cpu.fetch_cache`, the blocks by linear address that
`run_paged` looks up first, loses the blocks of every entry that leaves the TLB
(`fetch_local` lists those on non-global pages for a MOV CR3; the other cases
empty it).
"""

from typing import Any, Callable, Dict, List, Tuple

from pcmachine.bus import BEYOND_4G

from .dwords import PACK32, UNPACK32
from .state import (AC, AC_VECTOR, CPUFault, CR0_AM, CR0_WP, CR4_DE, CS, GP, PF_VECTOR,
                    keeps_cpu_state)

CR0_PG = 0x80000000
CR0_CD_NW = 0x60000000

PRESENT, WRITABLE, USER, ACCESSED, DIRTY, LARGE, GLOBAL = 0x1, 0x2, 0x4, 0x20, 0x40, 0x80, 0x100
#: the bits every level of a walk must grant (SDM 4.6)
RIGHTS = USER | WRITABLE
CR4_PSE, CR4_PAE, CR4_PGE = 0x10, 0x20, 0x80
#: TLB slots: one per linear page, as many again for pages reached past the 4 GiB
#: wrap (a segment base plus an offset above 0xFFFFFFFF)
TLB_PAGES = 0x200000
#: an empty TLB slot
NO_ENTRY = -1
#: the error-code bits: protection (a present entry), write, user, reserved bit
ERROR_P, ERROR_RSVD = 0x1, 0x8

#: MAXPHYADDR of the P6 (CPUID leaf 0x80000008 does not exist there: 36 with PAE)
PHYS_BITS = 36
ABOVE_MAXPHYADDR = ((1 << 64) - 1) & ~((1 << PHYS_BITS) - 1)
PAE_FRAME = ((1 << PHYS_BITS) - 1) & ~0xFFF
PAE_LARGE_FRAME = ((1 << PHYS_BITS) - 1) & ~0x1FFFFF
#: PDPTE bits that must be 0 when present (SDM table 4-8): 2:1, 8:5, 63:MAXPHYADDR
PDPTE_RESERVED = ABOVE_MAXPHYADDR | 0x1E6
#: bits of the physical address above bit 31 kept when the A20 mask is applied
HIGH_ADDRESS = ((1 << PHYS_BITS) - 1) & ~0xFFFFFFFF


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


def read_phys64(cpu, address: int) -> int:
    """A PAE entry (8-byte aligned, so never across a page); nothing answers
    beyond 4 GiB."""
    if address >> 32:
        return (1 << 64) - 1
    return read_phys32(cpu, address) | (read_phys32(cpu, address + 4) << 32)


def page_fault(cpu, linear: int, error: int) -> None:
    cpu.cr[2] = linear
    raise CPUFault(PF_VECTOR, error)


def check_rights(cpu, bits: int, linear: int, write: bool, user: bool, error: int) -> None:
    if user:
        if not bits & USER or (write and not bits & WRITABLE):
            page_fault(cpu, linear, error | ERROR_P)
    elif write and not bits & WRITABLE and cpu.cr[0] & CR0_WP:
        page_fault(cpu, linear, error | ERROR_P)


def large_page_reserved(cpu) -> int:
    """Reserved bits of a 32-bit PDE mapping 4 MiB (CR4.PSE, P6 only): 21:13 with
    bit 12 unless the PAT is reported; 21:17 with PSE-36 (bits 16:13 are physical
    address bits 35:32)."""
    if cpu.generation < 6:
        return 0
    reserved = 0x3E0000 if cpu.model.pse36 else 0x3FE000
    return reserved if cpu.model.pat else reserved | 0x1000


def walk(cpu, linear: int, write: bool, user: bool) -> Tuple[int, int]:
    """Translate with the rights of a user (CPL 3) or supervisor access; sets the
    accessed/dirty bits and raises #PF.  Returns the physical address (a page
    beyond 4 GiB as `BEYOND_4G`) and the entry that maps the page, its U/S and
    R/W bits those of every level (the rights the translation grants)."""
    linear &= 0xFFFFFFFF
    error = (2 if write else 0) | (4 if user else 0)
    if cpu.cr[4] & CR4_PAE:
        phys, entry = walk_pae(cpu, linear, write, user, error)
    else:
        phys, entry = walk_32(cpu, linear, write, user, error)
    if phys >> 32:
        phys = BEYOND_4G | (phys & 0xFFF)
    return phys, entry


def walk_32(cpu, linear: int, write: bool, user: bool, error: int) -> Tuple[int, int]:
    """32-bit paging (SDM 4.3): (physical address, the entry that maps the page
    with the PDE's U/S and R/W applied)."""
    mask = cpu.bus.a20_mask
    pde_address = ((cpu.cr[3] & 0xFFFFF000) | ((linear >> 20) & 0xFFC)) & mask
    pde = read_phys32(cpu, pde_address)
    if not pde & PRESENT:
        page_fault(cpu, linear, error)
    if pde & LARGE and cpu.cr[4] & CR4_PSE:
        if pde & large_page_reserved(cpu):
            page_fault(cpu, linear, error | ERROR_P | ERROR_RSVD)
        check_rights(cpu, pde, linear, write, user, error)
        updated = pde | ACCESSED | (DIRTY if write else 0)
        if updated != pde:
            write_phys32(cpu, pde_address, updated)
        high = (pde & 0x1E000) << 19 if cpu.model.pse36 else 0
        return (high | (pde & 0xFFC00000) | (linear & 0x3FFFFF)) & (mask | HIGH_ADDRESS), pde
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
    return ((pte & 0xFFFFF000) | (linear & 0xFFF)) & mask, pte & (pde | ~RIGHTS)


def walk_pae(cpu, linear: int, write: bool, user: bool, error: int) -> Tuple[int, int]:
    """PAE paging (SDM 4.4): the PDPTE register chosen by bits 31:30, then a PDE
    (bits 29:21; PS maps 2 MiB) and a PTE (bits 20:12), 64-bit entries.  Rights
    come from the PDE and PTE (a PDPTE has none)."""
    mask = cpu.bus.a20_mask | HIGH_ADDRESS
    pdpte = cpu.pdpte[linear >> 30]
    if not pdpte & PRESENT:
        page_fault(cpu, linear, error)
    pat = cpu.model.pat
    pde_address = ((pdpte & PAE_FRAME) | ((linear >> 18) & 0xFF8)) & mask
    pde = read_phys64(cpu, pde_address)
    if not pde & PRESENT:
        page_fault(cpu, linear, error)
    if pde & LARGE:
        if pde & (ABOVE_MAXPHYADDR | (0x1FE000 if pat else 0x1FF000)):
            page_fault(cpu, linear, error | ERROR_P | ERROR_RSVD)
        check_rights(cpu, pde, linear, write, user, error)
        updated = pde | ACCESSED | (DIRTY if write else 0)
        if updated != pde:
            write_phys32(cpu, pde_address, updated & 0xFFFFFFFF)
        return ((pde & PAE_LARGE_FRAME) | (linear & 0x1FFFFF)) & mask, pde
    if pde & ABOVE_MAXPHYADDR:
        page_fault(cpu, linear, error | ERROR_P | ERROR_RSVD)
    pte_address = ((pde & PAE_FRAME) | ((linear >> 9) & 0xFF8)) & mask
    pte = read_phys64(cpu, pte_address)
    if not pte & PRESENT:
        page_fault(cpu, linear, error)
    if pte & (ABOVE_MAXPHYADDR if pat else ABOVE_MAXPHYADDR | LARGE):
        page_fault(cpu, linear, error | ERROR_P | ERROR_RSVD)
    check_rights(cpu, pde & pte, linear, write, user, error)
    if not pde & ACCESSED:
        write_phys32(cpu, pde_address, (pde | ACCESSED) & 0xFFFFFFFF)
    updated = pte | ACCESSED | (DIRTY if write else 0)
    if updated != pte:
        write_phys32(cpu, pte_address, updated & 0xFFFFFFFF)
    return ((pte & PAE_FRAME) | (linear & 0xFFF)) & mask, pte & (pde | ~RIGHTS)


def load_pdptes(cpu, cr3: int) -> List[int]:
    """The four PDPTEs at CR3 bits 31:5 (SDM 4.4.1), as MOV CR0/CR3/CR4 and task
    switches load them: #GP(0), and nothing loaded, when a present one sets a
    reserved bit."""
    base = cr3 & 0xFFFFFFE0
    entries = [read_phys64(cpu, (base + 8 * i) & cpu.bus.a20_mask) for i in range(4)]
    for entry in entries:
        if entry & PRESENT and entry & PDPTE_RESERVED:
            raise CPUFault(GP, 0)
    return entries


def pdptes_reload(cpu, index: int, old: int, new: int) -> bool:
    """Whether this control-register write loads the PDPTEs (SDM 4.4.1): PAE
    paging is on afterwards and the write is to CR3, changes CR0.PG/CD/NW or
    CR4.PAE/PGE/PSE."""
    cr0 = new if index == 0 else cpu.cr[0]
    cr4 = new if index == 4 else cpu.cr[4]
    if not (cr0 & CR0_PG and cr4 & CR4_PAE):
        return False
    if index == 3:
        return True
    changed = old ^ new
    return bool(changed & (CR0_PG | CR0_CD_NW) if index == 0 else
                changed & (CR4_PAE | CR4_PGE | CR4_PSE) if index == 4 else False)


def probe_write(cpu, linear: int, span: int) -> None:
    """Check that the bytes linear..linear+span may be written (#PF if not), before
    a read-modify-write computes anything: a fault on its store must leave the
    flags and registers as they were (SDM vol. 3A 6.5, faults are restartable)."""
    cpu.translate(linear, True)
    if (linear & 0xFFF) + span > 0xFFF:
        cpu.translate((linear + span) & 0xFFFFF000, True)


def translate(cpu, linear: int, write: bool) -> int:
    """The translation point with paging on: the TLB, then the walk at the CPL."""
    page = linear >> 12
    base = (cpu.tlb_write if write else cpu.tlb_read)[page]
    if base >= 0:
        return base | (linear & 0xFFF)
    phys, entry = walk(cpu, linear, write, cpu.cpl == 3)
    cpu.tlb_read[page] = phys & ~0xFFF
    cpu.tlb_pages.add(page)
    if write:
        cpu.tlb_write[page] = phys & ~0xFFF
    if not (entry & GLOBAL and cpu.cr[4] & CR4_PGE):
        cpu.tlb_local.add(page)
    if cpu.cpl != 3 and (not entry & USER or (write and not entry & WRITABLE)):
        cpu.tlb_supervisor.add(page)
    return phys


def supervisor_address(cpu, linear: int, write: bool) -> int:
    """The physical address of a supervisor access at any CPL (descriptor tables,
    TSS, the inner stack): a TLB entry serves (every one allows it), else a walk
    that fills the TLB only when the CPL is supervisor too.  At CPL 3 the walk
    fills `tlb_system` instead, keyed by page and access (its entries would not
    allow the user's own accesses): a V86 monitor or a ring-3 process reads the
    IDT and TSS and pushes on the inner stack at every interrupt."""
    linear &= 0xFFFFFFFF
    base = (cpu.tlb_write if write else cpu.tlb_read)[linear >> 12]
    if base >= 0:
        return base | (linear & 0xFFF)
    if cpu.cpl != 3:
        return translate(cpu, linear, write)
    key = (linear >> 12) << 1 | write
    base = cpu.tlb_system.get(key)
    if base is None:
        base = cpu.tlb_system[key] = walk(cpu, linear, write, False)[0] & ~0xFFF
    return base | (linear & 0xFFF)


def enter_user(cpu) -> None:
    """CPL 3 from 0-2: drop the entries only a supervisor may use."""
    cpu.clear_fetch_cache()
    tlb_read, tlb_write = cpu.tlb_read, cpu.tlb_write
    for page in cpu.tlb_supervisor:
        tlb_read[page] = tlb_write[page] = NO_ENTRY
    cpu.tlb_pages.difference_update(cpu.tlb_supervisor)
    cpu.tlb_supervisor.clear()


def flush_tlb(cpu, keep_global: bool = False) -> None:
    """Empty the TLB; `keep_global` (MOV CR3, task switch) keeps global pages: it
    drops only the entries in `tlb_local` and the cached blocks on their pages, so
    a kernel that switches address spaces often (Linux's text_poke) keeps its own
    mappings and blocks without going over them."""
    local = cpu.tlb_local
    if keep_global:
        fetched = cpu.fetch_cache
        for linear in cpu.fetch_local:
            fetched.pop(linear, None)
        del cpu.fetch_local[:]
        tlb_read, tlb_write = cpu.tlb_read, cpu.tlb_write
        for page in local:
            tlb_read[page] = tlb_write[page] = NO_ENTRY
        cpu.tlb_pages.difference_update(local)
        cpu.tlb_supervisor.difference_update(local)
        cpu.tlb_system.clear()
        local.clear()
        return
    cpu.clear_fetch_cache()
    tlb_read, tlb_write = cpu.tlb_read, cpu.tlb_write     # in place: the accessors hold them
    for page in cpu.tlb_pages:
        tlb_read[page] = tlb_write[page] = NO_ENTRY
    cpu.tlb_pages.clear()
    cpu.tlb_supervisor.clear()
    cpu.tlb_system.clear()
    local.clear()


def invlpg(cpu, linear: int) -> None:
    cpu.clear_fetch_cache()
    page = (linear & 0xFFFFFFFF) >> 12
    for slot in (page, page | 0x100000):    # the same page reached past the 4 GiB wrap
        if slot in cpu.tlb_pages:
            cpu.tlb_read[slot] = cpu.tlb_write[slot] = NO_ENTRY
            cpu.tlb_pages.discard(slot)
    for key in (page << 1, page << 1 | 1):
        cpu.tlb_system.pop(key, None)


def control_register_written(cpu, index: int, old: int, new: int) -> None:
    """CR3 writes drop the non-global TLB entries, CR4 writes and CR0.WP changes
    all of them; a CR0.AM change changes the regime (the memory accessors check
    alignment: `faults.py`), a CR4.DE change rebuilds the I/O breakpoint watches
    (`debugregs.py`)."""
    if index == 0 and (old ^ new) & CR0_AM:
        cpu.enter_regime()
        return
    if index == 4 and (old ^ new) & CR4_DE:
        cpu.rebuild()
        return
    if not cpu.paging:
        return
    if index == 3:
        flush_tlb(cpu, keep_global=True)
    elif index == 4 or (index == 0 and (old ^ new) & CR0_WP):
        flush_tlb(cpu)


def build_paged_accessors(cpu) -> Tuple[Callable, ...]:
    """(rd8, rd16, rd32, wr8, wr16, wr32) for paging on: a TLB hit is one list
    index plus the part-1 fast-page test; accesses crossing a page go byte by
    byte after both pages are translated (a fault leaves memory unchanged).
    Alignment is tested first: an aligned access can neither cross a page nor
    raise #AC, so the page-crossing and alignment-check tests (CR0.AM, read when
    the accessors are built) run only for misaligned addresses."""
    bus = cpu.bus
    mem = bus.memory
    read_fast = bus.read_fast
    write_fast = bus.write_fast
    # Emptied in place: a running `run_paged` holds these lists (an A20 change
    # rebuilds the accessors in the middle of a batch).
    if not cpu.tlb_read:
        cpu.tlb_read.extend([NO_ENTRY] * TLB_PAGES)
        cpu.tlb_write.extend([NO_ENTRY] * TLB_PAGES)
    flush_tlb(cpu)
    tlb_read = cpu.tlb_read
    tlb_write = cpu.tlb_write

    def fill(lin: int, write: bool) -> int:
        return translate(cpu, lin, write) & ~0xFFF

    bus_read = cpu.load_on_bus
    bus_write = cpu.store_on_bus
    # A store beside decoded code goes straight into memory (see `memory.py`).
    beside_code = bus.beside_code.get

    alignment_check = bool(cpu.cr[0] & CR0_AM) and cpu.generation >= 4

    def misaligned(lin: int, size: int) -> bool:
        """For a misaligned access: #AC(0) at CPL 3 with EFLAGS.AC (SDM 6.15),
        else whether it crosses a page."""
        if alignment_check and cpu.cpl == 3 and cpu.flags & AC:
            raise CPUFault(AC_VECTOR, 0)
        return lin & 0xFFF > 0x1000 - size

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
        base = tlb_read[lin >> 12]
        if base < 0:
            base = fill(lin, False)
        a = base | (lin & 0xFFF)
        if read_fast[base >> 12]:
            return mem[a]
        return bus_read(a, 1)

    def rd16(lin: int) -> int:
        if lin & 1:
            if misaligned(lin, 2):
                return split_read(lin, 2)
        base = tlb_read[lin >> 12]
        if base < 0:
            base = fill(lin, False)
        a = base | (lin & 0xFFF)
        if read_fast[base >> 12]:
            return mem[a] | (mem[a + 1] << 8)
        return bus_read(a, 2)

    def rd32(lin: int) -> int:
        if lin & 3:
            if misaligned(lin, 4):
                return split_read(lin, 4)
        base = tlb_read[lin >> 12]
        if base < 0:
            base = fill(lin, False)
        a = base | (lin & 0xFFF)
        if read_fast[base >> 12]:
            return UNPACK32(mem, a)[0]
        return bus_read(a, 4)

    def wr8(lin: int, value: int) -> None:
        base = tlb_write[lin >> 12]
        if base < 0:
            base = fill(lin, True)
        offset = lin & 0xFFF
        a = base | offset
        if write_fast[base >> 12]:
            mem[a] = value
            return
        marks = beside_code(base >> 12)
        if marks is not None and not marks[offset]:
            mem[a] = value
        else:
            bus_write(a, 1, value)

    def wr16(lin: int, value: int) -> None:
        if lin & 1:
            if misaligned(lin, 2):
                split_write(lin, 2, value)
                return
        base = tlb_write[lin >> 12]
        if base < 0:
            base = fill(lin, True)
        offset = lin & 0xFFF
        a = base | offset
        if write_fast[base >> 12]:
            mem[a] = value & 0xFF
            mem[a + 1] = value >> 8
            return
        marks = beside_code(base >> 12)
        if marks is not None and not (marks[offset] or marks[offset + 1]):
            mem[a] = value & 0xFF
            mem[a + 1] = value >> 8
        else:
            bus_write(a, 2, value)

    def wr32(lin: int, value: int) -> None:
        if lin & 3:
            if misaligned(lin, 4):
                split_write(lin, 4, value)
                return
        base = tlb_write[lin >> 12]
        if base < 0:
            base = fill(lin, True)
        offset = lin & 0xFFF
        a = base | offset
        if write_fast[base >> 12]:
            PACK32(mem, a, value)
            return
        marks = beside_code(base >> 12)
        if marks is not None and not (marks[offset] or marks[offset + 1] or marks[offset + 2]
                                      or marks[offset + 3]):
            PACK32(mem, a, value)
        else:
            bus_write(a, 4, value)

    # What a decoded load or store may inline (`Decoder.rm_access`): a wrapper put
    # around rd32/wr32 (debug-register watches) lacks this attribute, so it is
    # never bypassed.
    rd32.tlb_fast_path = (tlb_read, read_fast, mem)
    wr32.tlb_fast_path = (tlb_write, write_fast, mem)
    return rd8, rd16, rd32, wr8, wr16, wr32


keeps_cpu_state(build_paged_accessors, "fill", "misaligned", "split_read", "split_write",
                "rd8", "rd16", "rd32", "wr8", "wr16", "wr32")
keeps_cpu_state(walk_32)
keeps_cpu_state(walk_pae)
keeps_cpu_state(probe_write)


def fetch_cache(cpu) -> Dict[int, Any]:
    """`cpu.fetch_cache`, emptied first if it holds blocks of another decode cache
    than the one in use (CS changed size or limit)."""
    if cpu.fetch_owner is not cpu.code_cache:
        cpu.clear_fetch_cache()
        cpu.fetch_owner = cpu.code_cache
    return cpu.fetch_cache


def run_paged(cpu, single: bool) -> None:
    """The inner loop with paging on: as `CPU._loop` (blocks of decoded
    instructions, run by their `blockrun` runner), with the instruction fetch
    translated through the TLB (the decode cache stays keyed by physical address).
    A block that runs again is found by its linear address in `cpu.fetch_cache`:
    one look-up instead of two (the TLB's and the decode cache's), worth some 10 %
    on PyPy's protected bench loop."""
    clock = cpu.clock
    seg_base = cpu.seg_base
    get = cpu.code_cache.get
    fetched = fetch_cache(cpu)
    tlb = cpu.tlb_read
    eip = cpu.eip
    icount = clock.icount
    while icount < clock.stop_icount:
        shadowed = False
        if cpu.check_irq:
            cpu.eip = eip
            cpu.running = None
            cpu._service_interrupts()
            eip = cpu.eip
            get = cpu.code_cache.get
            fetched = fetch_cache(cpu)
            if cpu.halted:
                break
            shadowed = cpu.check_irq and icount <= cpu.inhibit_icount
        lin = seg_base[CS] + eip
        entry = fetched.get(lin)
        if entry is None:
            try:
                base = tlb[lin >> 12]
                phys = translate(cpu, lin, False) if base < 0 else base | (lin & 0xFFF)
                entry = get(phys)
                if entry is None:
                    entry = cpu._decode(phys, eip)    # cached by linear address when it runs again
                else:
                    fetched[lin] = entry
                    if lin >> 12 in cpu.tlb_local:
                        cpu.fetch_local.append(lin)    # a MOV CR3 drops it
            except CPUFault:
                cpu.eip = eip
                raise
        run, block, length = entry
        if single or shadowed or icount + length > clock.stop_icount:
            # as in CPU._loop: the instruction in an interrupt shadow runs alone
            cpu.running = None if single or shadowed else block
            eip, icount = cpu.run_partial(block[:1] if single or shadowed
                                          else block[:clock.stop_icount - icount], eip, icount)
            if single:
                break
        else:
            cpu.running = block
            eip = run(eip, icount)      # stores cpu.eip itself on a fault
            icount = clock.icount       # a block translated as a loop runs it more than once
    cpu.running = None
    cpu.eip = eip
