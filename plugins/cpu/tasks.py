"""Hardware task switching (SDM vol. 3A chapter 7): JMP/CALL to a TSS or task
gate, interrupts through task gates, and IRET with NT set returning along the back
link.  16-bit (286) and 32-bit TSS formats, the busy bit, NT, CR0.TS, and the
loading of the new task's LDTR and segment registers with their faults as #TS.

Order of events follows the SDM's list in section 7.3: check the new TSS, save the
current state into the old TSS, update busy bits and the back link, load TR, then
CR3, the registers and LDTR, and only then the segment descriptors (so a fault
while loading them is taken in the context of the new task).
"""

from typing import List, Optional, Tuple

from .protected import (CODE, CONFORMING, PRESENT, READABLE, SEGMENT, TASK_GATE, access_of,
                        descriptor_address, descriptor_base, descriptor_flags,
                        descriptor_limit, dpl_of, leave_loop, load_cache, load_null,
                        load_v86, read_descriptor, select_code_size, set_accessed, set_cpl,
                        sys_read, sys_write, write_eflags)
from .state import (CPUFault, CR0_PG, CR0_TS, CS, DS, ES, FS, GP, GS, NT, SS,
                    SS_VECTOR, TS, VM)

NP_VECTOR = 11
BUSY = 0x200                      # in the descriptor's high dword
TSS32_SEGMENTS = (ES, CS, SS, DS, FS, GS)
TSS16_SEGMENTS = (ES, CS, SS, DS)


def switch_via(cpu, selector: int, lo: int, hi: int, source: str, next_eip: int,
               was_cache: Optional[dict], error_code: Optional[int] = None, ext: int = 0) -> int:
    """JMP/CALL/INT reaching a TSS descriptor or a task gate: checks, then switch.
    Returns the new task's EIP (leaving the inner loop when the code size changed
    and the caller is an instruction, i.e. `was_cache` is given)."""
    access = access_of(hi)
    if source != "int" and (dpl_of(hi) < cpu.cpl or dpl_of(hi) < (selector & 3)):
        raise CPUFault(GP, selector & 0xFFFC)
    if access & 0x1F == TASK_GATE:
        if not access & PRESENT:
            raise CPUFault(NP_VECTOR, (selector & 0xFFFC) | ext)
        selector = lo >> 16
        if selector & 4:
            raise CPUFault(GP, (selector & 0xFFFC) | ext)
        lo, hi = read_descriptor(cpu, selector, GP, ext)
        access = access_of(hi)
    if access & 0x1F not in (1, 9):
        raise CPUFault(GP, (selector & 0xFFFC) | ext)
    if not access & PRESENT:
        raise CPUFault(NP_VECTOR, (selector & 0xFFFC) | ext)
    new_eip = task_switch(cpu, selector, lo, hi, source, next_eip)
    if error_code is not None:
        if cpu.tr_flags & 0x8:
            cpu.push32(error_code)
        else:
            cpu.push16(error_code)
    if was_cache is None:
        return new_eip
    return leave_loop(cpu, new_eip, was_cache)


def task_return(cpu, was_cache: dict, next_eip: int) -> int:
    """IRET with NT: switch back to the task named by the back link."""
    link = sys_read(cpu, cpu.tr_base, 2)
    if link & 4:
        raise CPUFault(TS, link & 0xFFFC)
    lo, hi = read_descriptor(cpu, link, TS)
    if access_of(hi) & 0x1F not in (3, 0xB):
        raise CPUFault(TS, link & 0xFFFC)
    if not access_of(hi) & PRESENT:
        raise CPUFault(NP_VECTOR, link & 0xFFFC)
    return leave_loop(cpu, task_switch(cpu, link, lo, hi, "iret", next_eip), was_cache)


def save_state(cpu, next_eip: int, eflags: int) -> None:
    base = cpu.tr_base
    if cpu.tr_flags & 0x8:
        sys_write(cpu, base + 0x20, 4, next_eip)
        sys_write(cpu, base + 0x24, 4, eflags)
        for i, value in enumerate(cpu.regs):
            sys_write(cpu, base + 0x28 + 4 * i, 4, value)
        for i, index in enumerate(TSS32_SEGMENTS):
            sys_write(cpu, base + 0x48 + 4 * i, 2, cpu.seg_sel[index])
    else:
        sys_write(cpu, base + 0x0E, 2, next_eip & 0xFFFF)
        sys_write(cpu, base + 0x10, 2, eflags & 0xFFFF)
        for i, value in enumerate(cpu.regs):
            sys_write(cpu, base + 0x12 + 2 * i, 2, value & 0xFFFF)
        for i, index in enumerate(TSS16_SEGMENTS):
            sys_write(cpu, base + 0x22 + 2 * i, 2, cpu.seg_sel[index])


def read_state(cpu, base: int, big: bool) -> Tuple[int, int, int, List[int], List[int], int]:
    """(cr3, eip, eflags, registers, selectors ES CS SS DS FS GS, ldt) of a TSS."""
    if big:
        return (sys_read(cpu, base + 0x1C, 4), sys_read(cpu, base + 0x20, 4),
                sys_read(cpu, base + 0x24, 4),
                [sys_read(cpu, base + 0x28 + 4 * i, 4) for i in range(8)],
                [sys_read(cpu, base + 0x48 + 4 * i, 2) for i in range(6)],
                sys_read(cpu, base + 0x60, 2))
    registers = [(cpu.regs[i] & 0xFFFF0000) | sys_read(cpu, base + 0x12 + 2 * i, 2)
                 for i in range(8)]
    selectors = [sys_read(cpu, base + 0x22 + 2 * i, 2) for i in range(4)] + [0, 0]
    return (cpu.cr[3], sys_read(cpu, base + 0x0E, 2), sys_read(cpu, base + 0x10, 2),
            registers, selectors, sys_read(cpu, base + 0x2A, 2))


def set_busy(cpu, selector: int, busy: bool) -> None:
    address = descriptor_address(cpu, selector) + 5
    access = sys_read(cpu, address, 1)
    sys_write(cpu, address, 1, (access | 0x2) if busy else (access & ~0x2))


def task_switch(cpu, selector: int, lo: int, hi: int, source: str, next_eip: int) -> int:
    """Switch to the task whose TSS descriptor is (lo, hi); returns its EIP."""
    big = bool(hi & 0x800)
    limit = descriptor_limit(hi, lo)
    if limit < (0x67 if big else 0x2B):
        raise CPUFault(TS, selector & 0xFFFC)
    old_selector = cpu.tr
    eflags = cpu.get_eflags()
    if source == "iret":
        eflags &= ~NT
    save_state(cpu, next_eip, eflags)
    if source in ("jmp", "iret"):
        set_busy(cpu, old_selector, False)
    base = descriptor_base(lo, hi)
    if source in ("call", "int"):
        sys_write(cpu, base, 2, old_selector)
    if source != "iret":
        set_busy(cpu, selector, True)
    cr3, eip, new_flags, registers, selectors, ldt = read_state(cpu, base, big)
    if source in ("call", "int"):
        new_flags |= NT
    cpu.tr, cpu.tr_base, cpu.tr_limit = selector, base, limit
    cpu.tr_flags = descriptor_flags(hi | BUSY)
    if big and cpu.cr[0] & CR0_PG:
        cpu.write_cr(3, cr3)
    cpu.regs[:] = [value & 0xFFFFFFFF for value in registers]
    write_eflags(cpu, new_flags if big else (eflags & 0xFFFF0000 & ~VM) | new_flags)
    cpu.cr[0] |= CR0_TS
    for index, value in zip(TSS32_SEGMENTS, selectors):
        cpu.seg_sel[index] = value     # visible even if a descriptor load below faults
    load_task_ldt(cpu, ldt)
    load_task_segments(cpu, selectors)
    if cpu.hooks.cpu_mode_change:
        cpu.hooks.call.cpu_mode_change(machine=cpu.machine, what="task", old=old_selector,
                                       new=selector)
    cpu.eip = eip
    return eip


def load_task_ldt(cpu, selector: int) -> None:
    if not selector & 0xFFFC:
        cpu.ldtr, cpu.ldtr_base, cpu.ldtr_limit = selector, 0, 0
        return
    if selector & 4:
        raise CPUFault(TS, selector & 0xFFFC)
    lo, hi = read_descriptor(cpu, selector, TS)
    if access_of(hi) & 0x1F != 2:
        raise CPUFault(TS, selector & 0xFFFC)
    if not access_of(hi) & PRESENT:
        raise CPUFault(NP_VECTOR, selector & 0xFFFC)
    cpu.ldtr, cpu.ldtr_base, cpu.ldtr_limit = selector, descriptor_base(lo, hi), \
        descriptor_limit(hi, lo)


def load_task_segments(cpu, selectors: List[int]) -> None:
    """Load CS, SS and the data segments of the new task; faults are #TS
    (#NP / #SS for absent segments), as the SDM's task-switch list says."""
    es, cs, ss, ds, fs, gs = selectors
    if cpu.flags & VM:
        for index, value in zip(TSS32_SEGMENTS, selectors):
            load_v86(cpu, index, value)
        set_cpl(cpu, 3)
        select_code_size(cpu)
        return
    cpl = cs & 3
    if not cs & 0xFFFC:
        raise CPUFault(TS, 0)
    lo, hi = read_descriptor(cpu, cs, TS)
    access = access_of(hi)
    if access & (SEGMENT | CODE) != SEGMENT | CODE or (
            access & CONFORMING and dpl_of(hi) > cpl) or (
            not access & CONFORMING and dpl_of(hi) != cpl):
        raise CPUFault(TS, cs & 0xFFFC)
    if not access & PRESENT:
        raise CPUFault(NP_VECTOR, cs & 0xFFFC)
    load_cache(cpu, CS, cs, lo, set_accessed(cpu, cs, hi))
    set_cpl(cpu, cpl)
    select_code_size(cpu)
    if not ss & 0xFFFC:
        raise CPUFault(TS, 0)
    lo, hi = read_descriptor(cpu, ss, TS)
    access = access_of(hi)
    if (ss & 3) != cpl or dpl_of(hi) != cpl or access & (SEGMENT | CODE | READABLE) != (
            SEGMENT | READABLE):
        raise CPUFault(TS, ss & 0xFFFC)
    if not access & PRESENT:
        raise CPUFault(SS_VECTOR, ss & 0xFFFC)
    load_cache(cpu, SS, ss, lo, set_accessed(cpu, ss, hi))
    for index, value in ((ES, es), (DS, ds), (FS, fs), (GS, gs)):
        if not value & 0xFFFC:
            load_null(cpu, index, value)
            continue
        lo, hi = read_descriptor(cpu, value, TS)
        access = access_of(hi)
        if not access & SEGMENT or access & (CODE | READABLE) == CODE:
            raise CPUFault(TS, value & 0xFFFC)
        if not (access & CODE and access & CONFORMING) and (
                (value & 3) > dpl_of(hi) or cpl > dpl_of(hi)):
            raise CPUFault(TS, value & 0xFFFC)
        if not access & PRESENT:
            raise CPUFault(NP_VECTOR, value & 0xFFFC)
        load_cache(cpu, index, value, lo, set_accessed(cpu, value, hi))
