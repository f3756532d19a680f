"""Builders for the protected-mode system instructions: group 6 (0F 00: SLDT STR
LLDT LTR VERR VERW), LAR (0F 02), LSL (0F 03) and ARPL (63).

All raise #UD in real-address and virtual-8086 mode (SDM vol. 2).  LLDT and LTR
need CPL 0.  LAR/LSL/VERR/VERW never fault on a bad selector: they report it in ZF,
with the type and privilege rules of the SDM's instruction pages.
"""

from typing import Callable, Optional, Tuple

from .alu import materialize
from .decoder import ONE_BYTE, DecodeFault, Decoder, register
from .protected import (CODE, CONFORMING, PRESENT, READABLE, SEGMENT, access_of,
                        descriptor_address, descriptor_base, descriptor_limit, dpl_of,
                        read_descriptor, require_cpl0, sys_write)
from .state import CPUFault, CR0_PE, GP, UD, VM, ZF

Closure = Callable[[int], int]
NP_VECTOR = 11
#: System types LAR accepts: TSS 16/32 (available, busy), LDT, call gates, task gate.
LAR_SYSTEM_TYPES = frozenset((1, 2, 3, 4, 5, 9, 0xB, 0xC))
#: System types LSL accepts (those with a limit).
LSL_SYSTEM_TYPES = frozenset((1, 2, 3, 9, 0xB))


def require_protected_mode(cpu) -> None:
    if not cpu.cr[0] & CR0_PE or cpu.flags & VM:
        raise CPUFault(UD)


def set_zf(cpu, value: bool) -> None:
    flags = materialize(cpu)
    cpu.flags = (flags | ZF) if value else (flags & ~ZF)


def visible_descriptor(cpu, selector: int) -> Optional[Tuple[int, int]]:
    """The descriptor for LAR/LSL/VERR/VERW, or None when the selector is null or
    outside its table (these instructions report that in ZF instead of faulting)."""
    if not selector & 0xFFFC:
        return None
    try:
        return read_descriptor(cpu, selector)
    except CPUFault:
        return None


def privilege_allows(cpu, selector: int, hi: int) -> bool:
    """Conforming code is always visible; anything else needs DPL >= max(CPL, RPL)."""
    access = access_of(hi)
    if access & (SEGMENT | CODE | CONFORMING) == SEGMENT | CODE | CONFORMING:
        return True
    return dpl_of(hi) >= max(cpu.cpl, selector & 3)


# ---------------------------------------------------------------- group 6
def load_ldtr(cpu, selector: int) -> None:
    """LLDT: a null selector leaves the LDT unusable; otherwise a present LDT
    descriptor from the GDT."""
    if not selector & 0xFFFC:
        cpu.ldtr, cpu.ldtr_base, cpu.ldtr_limit = selector, 0, 0
        return
    if selector & 4:
        raise CPUFault(GP, selector & 0xFFFC)
    lo, hi = read_descriptor(cpu, selector)
    if access_of(hi) & 0x1F != 2:
        raise CPUFault(GP, selector & 0xFFFC)
    if not access_of(hi) & PRESENT:
        raise CPUFault(NP_VECTOR, selector & 0xFFFC)
    cpu.ldtr = selector
    cpu.ldtr_base = descriptor_base(lo, hi)
    cpu.ldtr_limit = descriptor_limit(hi, lo)


def load_tr(cpu, selector: int) -> None:
    """LTR: an available 16- or 32-bit TSS from the GDT, which becomes busy."""
    if not selector & 0xFFFC:
        raise CPUFault(GP, 0)
    if selector & 4:
        raise CPUFault(GP, selector & 0xFFFC)
    lo, hi = read_descriptor(cpu, selector)
    if access_of(hi) & 0x1F not in (1, 9):
        raise CPUFault(GP, selector & 0xFFFC)
    if not access_of(hi) & PRESENT:
        raise CPUFault(NP_VECTOR, selector & 0xFFFC)
    hi |= 0x200                                   # busy
    sys_write(cpu, descriptor_address(cpu, selector) + 5, 1, (hi >> 8) & 0xFF)
    cpu.tr = selector
    cpu.tr_base = descriptor_base(lo, hi)
    cpu.tr_limit = descriptor_limit(hi, lo)
    cpu.tr_flags = (hi >> 8) & 0xF0FF


def verify(cpu, selector: int, write: bool) -> bool:
    """VERR/VERW: is the segment readable (writable) at the current privilege?"""
    found = visible_descriptor(cpu, selector)
    if found is None:
        return False
    _, hi = found
    access = access_of(hi)
    if not access & SEGMENT or not privilege_allows(cpu, selector, hi):
        return False
    if write:
        return access & (CODE | READABLE) == READABLE
    return not access & CODE or bool(access & READABLE)


def build_group6(d: Decoder) -> Closure:
    cpu = d.cpu
    kind = d.reg
    if kind >= 6:
        raise DecodeFault()
    size = d.opsize if (d.mod == 3 and kind < 2) else 2
    get, _, put = d.rm_access(size, writes=kind < 2)
    n, m = d.length, d.ipmask

    def group6(eip: int) -> int:
        require_protected_mode(cpu)
        if kind == 0:
            put(cpu.ldtr)
        elif kind == 1:
            put(cpu.tr)
        elif kind == 2:
            require_cpl0(cpu)
            load_ldtr(cpu, get())
        elif kind == 3:
            require_cpl0(cpu)
            load_tr(cpu, get())
        else:
            set_zf(cpu, verify(cpu, get(), kind == 5))
        return (eip + n) & m
    return group6


# ---------------------------------------------------------------- LAR, LSL
def build_lar_lsl(d: Decoder) -> Closure:
    cpu = d.cpu
    lsl = d.opcode & 0xFF == 3
    size = d.opsize
    get, _, _ = d.rm_access(2)
    setter = d.reg_set(size, d.reg)
    n, m = d.length, d.ipmask

    def lar_lsl(eip: int) -> int:
        require_protected_mode(cpu)
        selector = get()
        found = visible_descriptor(cpu, selector)
        valid = found is not None
        if valid:
            lo, hi = found
            access = access_of(hi)
            if not access & SEGMENT:
                valid = access & 0x1F in (LSL_SYSTEM_TYPES if lsl else LAR_SYSTEM_TYPES)
            valid = valid and privilege_allows(cpu, selector, hi)
        if valid:
            if lsl:
                setter(descriptor_limit(hi, lo) & (0xFFFFFFFF if size == 4 else 0xFFFF))
            else:
                setter(hi & (0x00FFFF00 if size == 4 else 0xFF00))
        set_zf(cpu, valid)
        return (eip + n) & m
    return lar_lsl


# ---------------------------------------------------------------- ARPL
@register(ONE_BYTE, 0x63)
def build_arpl(d: Decoder) -> Closure:
    """ARPL r/m16, r16: raise the destination selector's RPL to the source's."""
    cpu = d.cpu
    if cpu.generation < 2:
        raise DecodeFault()
    d.modrm()
    # The destination is read with a read check and written (with the write
    # check) only when its RPL changes: a read-only segment faults only then.
    get, _, _ = d.rm_access(2)
    _, _, put = d.rm_access(2, writes=True)
    source = d.reg_get(2, d.reg)
    n, m = d.length, d.ipmask

    def arpl(eip: int) -> int:
        require_protected_mode(cpu)
        destination = get()
        wanted = source() & 3
        if destination & 3 < wanted:
            put((destination & ~3) | wanted)
            set_zf(cpu, True)
        else:
            set_zf(cpu, False)
        return (eip + n) & m
    return arpl
