"""Builders for the two-byte (0F xx) map: 286 system instructions, the 386
additions (Jcc near, SETcc, MOVZX/MOVSX, BT*, BSF/BSR, SHLD/SHRD, IMUL, FS/GS,
MOV CRn/DRn), the 486/Pentium additions (BSWAP, XADD, CMPXCHG, CMPXCHG8B,
INVD, WBINVD, INVLPG, CPUID, RDTSC, RDMSR/WRMSR) and the P6 ones (CMOVcc, RDPMC,
SYSENTER/SYSEXIT, the reserved NOPs 0F 18-0F 1F)."""

from typing import Callable

from . import alu
from .alu import condition, materialize
from .decoder import TWO_BYTE, DecodeFault, Decoder, MASKS, register
from . import debugregs, paging, systemops
from .ops_basic import build_imul_common, far_pointer_load, push_pop_segment, signed
from .ops_control import jcc
from .protected import load_cache, require_cpl0, select_code_size, set_cpl
from .state import (CF, CR0_PE, CR0_TS, CS, EAX, EBX, ECX, EDX, ESP, GP, IF, RF, SS, VM, ZF, CPUFault,
                    exit_after)

Closure = Callable[[int], int]


def need(d: Decoder, generation: int) -> None:
    if d.cpu.generation < generation:
        raise DecodeFault()


def plain(d: Decoder, action: Callable[[], None]) -> Closure:
    n, m = d.length, d.ipmask

    def run(eip: int) -> int:
        action()
        return (eip + n) & m
    return run


@register(TWO_BYTE, 0x00)
def build_group6(d: Decoder) -> Closure:
    """SLDT STR LLDT LTR VERR VERW: protected mode only; #UD in real mode."""
    d.modrm()
    return systemops.build_group6(d)


@register(TWO_BYTE, 0x01)
def build_group7(d: Decoder) -> Closure:
    cpu = d.cpu
    d.modrm()
    kind = d.reg
    if kind == 5 or (kind == 7 and cpu.generation < 4):
        raise DecodeFault()
    if kind in (4, 6):
        get, _, put = d.rm_access(2, writes=kind == 4)
        if kind == 4:
            return plain(d, lambda: put(cpu.cr[0] & 0xFFFF))

        def lmsw() -> None:
            require_cpl0(cpu)
            value = get() & 0xF
            value |= cpu.cr[0] & CR0_PE       # LMSW cannot clear PE
            cpu.write_cr(0, (cpu.cr[0] & ~0xF) | value)
        return plain(d, lmsw)
    if d.mod == 3:
        raise DecodeFault()
    if kind == 7:
        target = d.address(1)

        def invlpg() -> None:
            require_cpl0(cpu)
            if cpu.paging:
                paging.invlpg(cpu, target())
        return plain(d, invlpg)
    address = d.address(6, write=kind < 2)
    size = d.opsize

    def descriptor_table() -> None:
        if kind >= 2:
            require_cpl0(cpu)
        linear = address()
        if kind >= 2:
            limit = cpu.rd16(linear)
            base = cpu.rd32(linear + 2) & (0xFFFFFFFF if size == 4 else 0xFFFFFF)
            if kind == 2:
                cpu.gdtr_base, cpu.gdtr_limit = base, limit
            else:
                cpu.idtr_base, cpu.idtr_limit = base, limit
        else:
            base, limit = (cpu.gdtr_base, cpu.gdtr_limit) if kind == 0 else (
                cpu.idtr_base, cpu.idtr_limit)
            if size == 2 and cpu.generation == 2:
                base |= 0xFF000000
            elif size == 2:
                base &= 0xFFFFFF
            cpu.wr16(linear, limit)
            cpu.wr32(linear + 2, base)
    return plain(d, descriptor_table)


@register(TWO_BYTE, 0x02, 0x03)
def build_lar_lsl(d: Decoder) -> Closure:
    d.modrm()
    return systemops.build_lar_lsl(d)


@register(TWO_BYTE, 0x06)
def build_clts(d: Decoder) -> Closure:
    cpu = d.cpu

    def clts() -> None:
        require_cpl0(cpu)
        cpu.write_cr(0, cpu.cr[0] & ~CR0_TS)
    return plain(d, clts)


@register(TWO_BYTE, 0x08, 0x09)
def build_cache(d: Decoder) -> Closure:
    need(d, 4)
    cpu = d.cpu
    # No caches are modelled: INVD/WBINVD only check privilege.
    return plain(d, lambda: require_cpl0(cpu))


@register(TWO_BYTE, 0x0B)
def build_ud2(d: Decoder) -> Closure:
    raise DecodeFault()


@register(TWO_BYTE, *range(0x18, 0x20))
def build_hint_nop(d: Decoder) -> Closure:
    """0F 18-0F 1F with a ModRM operand: the P6 family's reserved NOPs ("NOP
    Ev", 0F 1F /0 being the documented multi-byte NOP; 0F 18 /0-3 became the
    SSE PREFETCHh hints).  They decode the operand but touch no memory and
    raise nothing; before family 6 they are #UD.  CET's ENDBR32/ENDBR64 (F3 0F
    1E FB/FA) live here, so code built with -fcf-protection (Debian's and
    Ubuntu's 32-bit libgcc: __udivdi3, __umoddi3) runs them as NOPs, as on
    every processor without CET."""
    need(d, 6)
    d.modrm()
    n, m = d.length, d.ipmask

    def hint_nop(eip: int) -> int:
        return (eip + n) & m
    return hint_nop


@register(TWO_BYTE, 0x20, 0x21, 0x22, 0x23)
def build_mov_control(d: Decoder) -> Closure:
    need(d, 3)
    cpu = d.cpu
    d.modrm(register_only=True)
    op = d.opcode & 0xFF
    index = d.reg
    reg = d.rm
    regs = cpu.regs
    debug = op & 1 == 1
    if not debug and index in (1, 5, 6, 7):
        raise DecodeFault()
    if not debug and index == 4 and cpu.generation < 5:
        raise DecodeFault()
    store = op & 2 == 2

    def mov_control() -> None:
        require_cpl0(cpu)
        if debug:
            debugregs.check_access(cpu, index)
        if store:
            if debug:
                debugregs.write_dr(cpu, index, regs[reg])
            else:
                if index == 4 and regs[reg] & ~cpu.cr4_writable:
                    raise CPUFault(GP, 0)     # a feature this model lacks (PAE, ...)
                cpu.write_cr(index, regs[reg])
        else:
            regs[reg] = debugregs.read_dr(cpu, index) if debug else cpu.cr[index]
    n, m = d.length, d.ipmask

    def run(eip: int) -> int:
        cpu.eip = eip       # a mode-change hook locates the event at this instruction
        mov_control()
        if store and not debug:
            exit_after(cpu, (eip + n) & m)
        return (eip + n) & m
    return run


@register(TWO_BYTE, 0x31)
def build_rdtsc(d: Decoder) -> Closure:
    need(d, 5)
    cpu = d.cpu
    regs = cpu.regs

    def rdtsc() -> None:
        tsc = (cpu.clock.icount + cpu.tsc_offset) & 0xFFFFFFFFFFFFFFFF
        regs[EAX] = tsc & 0xFFFFFFFF
        regs[EDX] = tsc >> 32
    return plain(d, rdtsc)


#: CPUID leaf 1 EDX bits, each set only where the feature is implemented
FEATURE_FPU, FEATURE_PSE, FEATURE_TSC, FEATURE_MSR, FEATURE_MCE, FEATURE_CX8 = 0x1, 0x8, 0x10, 0x20, 0x80, 0x100
FEATURE_PAE, FEATURE_SEP, FEATURE_MTRR, FEATURE_PGE, FEATURE_MCA, FEATURE_CMOV = (
    0x40, 0x800, 0x1000, 0x2000, 0x4000, 0x8000)
FEATURE_PAT, FEATURE_PSE36, FEATURE_MMX, FEATURE_FXSR = 0x10000, 0x20000, 0x800000, 0x1000000
FEATURE_SSE, FEATURE_SSE2, FEATURE_CLFSH = 0x2000000, 0x4000000, 0x80000
FEATURE_APIC = 0x200    # a local APIC component is present and enabled in IA32_APIC_BASE
#: CPUID leaf 2: TLBs and caches (SDM vol. 2, table 3-12).  Pentium Pro: 8 KiB L1
#: caches, 256 KiB L2; Pentium II model 5: 16 KiB L1 caches, 512 KiB L2.
P6_CACHE_DESCRIPTORS = (0x03020101, 0, 0, 0x06040A43)
PENTIUM2_CACHE_DESCRIPTORS = (0x03020101, 0, 0, 0x0C040843)
#: Pentium 4 model 1: 64-entry TLBs, 8 KiB L1 data cache, 12K-uop trace cache, 256 KiB L2
PENTIUM4_CACHE_DESCRIPTORS = (0x665B5001, 0, 0, 0x007A7000)
#: CPUID leaf 1 EBX bits 15:8 with CLFSH: the CLFLUSH line size in quadwords (64 bytes)
CLFLUSH_LINE = 8 << 8


def cpuid_features(cpu) -> int:
    features = FEATURE_FPU if cpu.has_fpu else 0
    if cpu.generation >= 5:
        features |= FEATURE_PSE | FEATURE_TSC | FEATURE_MSR | FEATURE_CX8
    if cpu.generation >= 6:
        features |= (FEATURE_PAE | FEATURE_SEP | FEATURE_MTRR | FEATURE_PGE | FEATURE_MCE |
                     FEATURE_MCA | FEATURE_CMOV)
    model = cpu.model
    features |= (FEATURE_PAT if model.pat else 0) | (FEATURE_PSE36 if model.pse36 else 0)
    if cpu.fpu is not None:     # MMX and FXSAVE live in the x87 registers
        features |= (FEATURE_MMX if model.mmx else 0) | (FEATURE_FXSR if model.fxsr else 0)
        features |= FEATURE_SSE if model.sse else 0
        features |= FEATURE_SSE2 if model.sse2 else 0
    return features | (FEATURE_CLFSH if model.sse2 else 0)


def cpuid_signature(cpu) -> int:
    """CPUID leaf 1 EAX: family, model and stepping (a 486 reports family 4 there)."""
    return cpu.model.signature if cpu.generation >= 5 else 0x0400 | (cpu.model.signature & 0xFF)


def cpuid_leaf1_edx(cpu, features: int) -> int:
    """CPUID leaf 1 EDX: `features` (cpuid_features), with APIC while the local APIC
    is enabled in IA32_APIC_BASE."""
    lapic = cpu.lapic
    return features | FEATURE_APIC if lapic is not None and lapic.hw_enabled else features


@register(TWO_BYTE, 0xA2)
def build_cpuid(d: Decoder) -> Closure:
    cpu = d.cpu
    if not cpu.model.cpuid:
        raise DecodeFault()
    regs = cpu.regs
    features = cpuid_features(cpu)
    highest = 2 if cpu.generation >= 6 else 1
    descriptors = PENTIUM4_CACHE_DESCRIPTORS if cpu.model.sse2 else \
        PENTIUM2_CACHE_DESCRIPTORS if cpu.model.mmx else P6_CACHE_DESCRIPTORS
    line = CLFLUSH_LINE if features & FEATURE_CLFSH else 0

    def cpuid() -> None:
        leaf = regs[EAX]
        if leaf == 0:
            regs[EAX] = highest
            regs[EBX], regs[EDX], regs[ECX] = (int.from_bytes(part, "little") for part in (
                b"Genu", b"ineI", b"ntel"))
        elif leaf == 1:
            regs[EAX] = cpuid_signature(cpu)
            regs[ECX] = 0
            regs[EDX] = cpuid_leaf1_edx(cpu, features)
            lapic = cpu.lapic
            regs[EBX] = (lapic.apic_id << 24 if lapic is not None else 0) | line    # initial APIC ID
        elif leaf == 2 and highest >= 2:
            regs[EAX], regs[EBX], regs[ECX], regs[EDX] = descriptors
        else:
            regs[EAX] = regs[EBX] = regs[ECX] = regs[EDX] = 0
    return plain(d, cpuid)


@register(TWO_BYTE, 0x30, 0x32)
def build_msr_access(d: Decoder) -> Closure:
    """WRMSR / RDMSR (Pentium and later): CPL 0 only; ECX selects the MSR."""
    need(d, 5)
    cpu = d.cpu
    regs = cpu.regs
    write = (d.opcode & 0xFF) == 0x30

    def msr_access() -> None:
        if cpu.cpl or cpu.flags & VM:
            raise CPUFault(GP, 0)
        if write:
            cpu.msrs.write(cpu, regs[ECX], (regs[EDX] << 32) | regs[EAX])
        else:
            value = cpu.msrs.read(cpu, regs[ECX])
            regs[EAX], regs[EDX] = value & 0xFFFFFFFF, value >> 32
    return plain(d, msr_access)


@register(TWO_BYTE, 0x33)
def build_rdpmc(d: Decoder) -> Closure:
    """RDPMC (P6): counters 0 and 1; CPL 3 only with CR4.PCE."""
    need(d, 6)
    cpu = d.cpu
    regs = cpu.regs

    def rdpmc() -> None:
        if (cpu.cpl or cpu.flags & VM) and not cpu.cr[4] & 0x100:
            raise CPUFault(GP, 0)
        if regs[ECX] > 1:
            raise CPUFault(GP, 0)
        value = cpu.msrs.read(cpu, 0xC1 + regs[ECX])
        regs[EAX], regs[EDX] = value & 0xFFFFFFFF, (value >> 32) & 0xFF
    return plain(d, rdpmc)


@register(TWO_BYTE, *range(0x40, 0x50))
def build_cmov(d: Decoder) -> Closure:
    """CMOVcc (P6): the source is read (and may fault) whatever the condition; with
    a 32-bit operand the destination is written only when it holds."""
    need(d, 6)
    cpu = d.cpu
    cc = d.opcode & 0xF
    d.modrm()
    size = d.opsize
    get, _, _ = d.rm_access(size)
    put = d.reg_set(size, d.reg)

    n, m = d.length, d.ipmask

    # Written out rather than through `plain`: one call level less lets tier 2
    # inline `condition` (its statement budget shrinks with depth), whose tests
    # then fold against the flags the block computed.
    def cmov(eip: int) -> int:
        value = get()
        if condition(cpu, cc):
            put(value)
        return (eip + n) & m
    return cmov


FLAT_CODE, FLAT_DATA = 0x00CF9B00, 0x00CF9300     # high dwords: 4 GiB, 32-bit, present


@register(TWO_BYTE, 0x34, 0x35)
def build_sysenter_sysexit(d: Decoder) -> Closure:
    """SYSENTER / SYSEXIT (P6): fast system calls between CPL 3 and CPL 0 through
    flat segments derived from SYSENTER_CS (SDM vol. 2B pseudo-code)."""
    need(d, 6)
    cpu = d.cpu
    regs = cpu.regs
    enter = (d.opcode & 0xFF) == 0x34
    n, m = d.length, d.ipmask

    def run(eip: int) -> int:
        cpu.eip = eip
        base = cpu.msrs.values[0x174] & 0xFFFC
        if not cpu.cr[0] & CR0_PE or not base or (not enter and (cpu.cpl or cpu.flags & VM)):
            raise CPUFault(GP, 0)
        if enter:
            cpu.flags &= ~(VM | IF | RF)
            load_cache(cpu, CS, base, 0xFFFF, FLAT_CODE)
            load_cache(cpu, SS, base + 8, 0xFFFF, FLAT_DATA)
            set_cpl(cpu, 0)
            regs[ESP] = cpu.msrs.values[0x175]
            target = cpu.msrs.values[0x176]
        else:
            load_cache(cpu, CS, (base + 16) | 3, 0xFFFF, FLAT_CODE | 0x6000)
            load_cache(cpu, SS, (base + 24) | 3, 0xFFFF, FLAT_DATA | 0x6000)
            set_cpl(cpu, 3)
            regs[ESP] = regs[ECX]
            target = regs[EDX]
        select_code_size(cpu)
        exit_after(cpu, target)               # new CPL and code size: the loop starts afresh
        return (eip + n) & m
    return run


@register(TWO_BYTE, *range(0x80, 0x90))
def build_jcc_near(d: Decoder) -> Closure:
    need(d, 3)
    rel = d.imm_signed(d.opsize)
    return jcc(d, d.opcode & 0xF, rel)


@register(TWO_BYTE, *range(0x90, 0xA0))
def build_setcc(d: Decoder) -> Closure:
    need(d, 3)
    cpu = d.cpu
    cc = d.opcode & 0xF
    d.modrm()
    _, _, put = d.rm_access(1, writes=True)
    n, m = d.length, d.ipmask

    def setcc(eip: int) -> int:     # as `cmov`: tier 2 inlines the condition
        value = 0
        if condition(cpu, cc):
            value = 1
        put(value)
        return (eip + n) & m
    return setcc


@register(TWO_BYTE, 0xA0, 0xA1, 0xA8, 0xA9)
def build_fs_gs(d: Decoder) -> Closure:
    need(d, 3)
    op = d.opcode & 0xFF
    return push_pop_segment(d, 4 if op < 0xA8 else 5, op & 1 == 1)


@register(TWO_BYTE, 0xA3, 0xAB, 0xB3, 0xBB, 0xBA)
def build_bit_test(d: Decoder) -> Closure:
    need(d, 3)
    cpu = d.cpu
    op = d.opcode & 0xFF
    size = d.opsize
    bits = size * 8
    d.modrm()
    if op == 0xBA:
        kind = d.reg - 4
        if kind < 0:
            raise DecodeFault()
    else:
        kind = (op >> 3) & 3
    if d.mod == 3 or op == 0xBA:
        get, setter, _ = d.rm_access(size, writes=kind != 0)
        if op == 0xBA:
            imm = d.imm8()
            offset_get = lambda: imm  # noqa: E731
        else:
            offset_get = d.reg_get(size, d.reg)

        def bit_reg() -> None:
            value = get()
            bit = offset_get() & (bits - 1)
            apply_bit(value, bit, setter)
        action = bit_reg
    else:
        # A register bit offset reaches outside the operand (signed, in operand units):
        # it moves the effective address, which wraps at the address size and is then
        # checked against the segment's limit (SDM BT; Bochs BT_EdGdM).
        effective = d.offset_only()
        seg = d.seg_for(d._effective_address()[3])
        seg_base = cpu.seg_base
        seg_limit, fault = d.limits(seg, kind != 0)
        amask = MASKS[d.adsize]
        offset_get = d.reg_get(size, d.reg)
        read = cpu.rd32 if size == 4 else cpu.rd16
        write = cpu.wr32 if size == 4 else cpu.wr16
        probe = cpu.paging and kind != 0

        def bit_mem() -> None:
            offset = signed(offset_get(), bits)
            where = (effective() + (offset >> (3 + (size >> 1))) * size) & amask
            if where + size - 1 > seg_limit[seg]:
                fault(seg, where, size - 1)
            linear = seg_base[seg] + where
            value = read(linear)
            if probe:
                paging.probe_write(cpu, linear, size - 1)
            apply_bit(value, offset & (bits - 1), lambda v: write(linear, v))
        action = bit_mem

    def apply_bit(value: int, bit: int, store: Callable[[int], None]) -> None:
        flags = materialize(cpu)
        cpu.flags = (flags & ~CF) | ((value >> bit) & 1)
        if kind == 1:
            store(value | (1 << bit))
        elif kind == 2:
            store(value & ~(1 << bit))
        elif kind == 3:
            store(value ^ (1 << bit))
    return plain(d, action)


@register(TWO_BYTE, 0xA4, 0xA5, 0xAC, 0xAD)
def build_shld(d: Decoder) -> Closure:
    need(d, 3)
    cpu = d.cpu
    op = d.opcode & 0xFF
    size = d.opsize
    d.modrm()
    get, setter, _ = d.rm_access(size, writes=True)
    r_get = d.reg_get(size, d.reg)
    imm = d.imm8() if op & 1 == 0 else -1
    regs = cpu.regs
    left = op < 0xAC

    def shld() -> None:
        count = (imm if imm >= 0 else regs[ECX]) & 0x1F
        value = get()
        if count:
            setter(alu.shld(cpu, value, r_get(), count, size * 8, left))
    return plain(d, shld)


@register(TWO_BYTE, 0xAF)
def build_imul_rrm(d: Decoder) -> Closure:
    need(d, 3)
    return build_imul_common(d, d.opsize, False)


@register(TWO_BYTE, 0xB0, 0xB1)
def build_cmpxchg(d: Decoder) -> Closure:
    need(d, 4)
    cpu = d.cpu
    size = 1 if d.opcode & 1 == 0 else d.opsize
    mask = MASKS[size]
    d.modrm()
    get, setter, _ = d.rm_access(size, writes=True)
    r_get = d.reg_get(size, d.reg)
    acc_get, acc_set = d.reg_get(size, EAX), d.reg_set(size, EAX)

    def cmpxchg() -> None:
        value = get()
        acc = acc_get()
        alu.alu_sub(cpu, acc, value, mask)
        if acc == value:
            setter(r_get())
        else:
            setter(value)      # the destination is always written (locked cycle)
            acc_set(value)
    return plain(d, cmpxchg)


@register(TWO_BYTE, 0xC7)
def build_cmpxchg8b(d: Decoder) -> Closure:
    need(d, 5)
    cpu = d.cpu
    d.modrm()
    if d.reg != 1 or d.mod == 3:
        raise DecodeFault()
    address = d.address(8, write=True)
    regs = cpu.regs

    def cmpxchg8b() -> None:
        linear = address()
        value = cpu.rd32(linear) | (cpu.rd32(linear + 4) << 32)
        flags = materialize(cpu)
        if value == (regs[EDX] << 32) | regs[EAX]:
            cpu.wr32(linear, regs[EBX])
            cpu.wr32(linear + 4, regs[ECX])
            cpu.flags = flags | ZF
        else:
            cpu.wr32(linear, value & 0xFFFFFFFF)
            cpu.wr32(linear + 4, value >> 32)
            regs[EAX], regs[EDX] = value & 0xFFFFFFFF, value >> 32
            cpu.flags = flags & ~ZF
    return plain(d, cmpxchg8b)


@register(TWO_BYTE, 0xB2, 0xB4, 0xB5)
def build_lss(d: Decoder) -> Closure:
    need(d, 3)
    d.modrm()
    if d.mod == 3:
        raise DecodeFault()
    return far_pointer_load(d, {0xB2: 2, 0xB4: 4, 0xB5: 5}[d.opcode & 0xFF])


@register(TWO_BYTE, 0xB6, 0xB7, 0xBE, 0xBF)
def build_movx(d: Decoder) -> Closure:
    need(d, 3)
    op = d.opcode & 0xFF
    src_size = 1 if op & 1 == 0 else 2
    d.modrm()
    get, _, _ = d.rm_access(src_size)
    size = d.opsize
    setter = d.reg_set(size, d.reg)
    mask = MASKS[size]
    sign_extend = op >= 0xBE
    bits = src_size * 8
    if sign_extend:
        return plain(d, lambda: setter(signed(get(), bits) & mask))
    return plain(d, lambda: setter(get() & mask))


@register(TWO_BYTE, 0xBC, 0xBD)
def build_bsf_bsr(d: Decoder) -> Closure:
    need(d, 3)
    cpu = d.cpu
    size = d.opsize
    d.modrm()
    get, _, _ = d.rm_access(size)
    setter = d.reg_set(size, d.reg)
    forward = d.opcode & 0xFF == 0xBC

    def bit_scan() -> None:
        value = get()
        flags = materialize(cpu)
        if value == 0:
            cpu.flags = flags | ZF
            return
        index = (value & -value).bit_length() - 1 if forward else value.bit_length() - 1
        setter(index)
        cpu.flags = flags & ~ZF
    return plain(d, bit_scan)


@register(TWO_BYTE, 0xC0, 0xC1)
def build_xadd(d: Decoder) -> Closure:
    need(d, 4)
    cpu = d.cpu
    size = 1 if d.opcode & 1 == 0 else d.opsize
    mask = MASKS[size]
    d.modrm()
    get, setter, _ = d.rm_access(size, writes=True)
    r_get, r_set = d.reg_get(size, d.reg), d.reg_set(size, d.reg)

    if d.mod == 3:
        def xadd() -> None:
            dest = get()
            total = alu.alu_add(cpu, dest, r_get(), mask)
            r_set(dest)
            setter(total)       # XADD r, r with the same register leaves the sum
        return plain(d, xadd)

    def xadd_memory() -> None:
        dest = get()
        total = alu.alu_add(cpu, dest, r_get(), mask)
        # The store first: a #PF on it (a copy-on-write page) or a watchpoint
        # runs the instruction again from its start, with the register as it was.
        setter(total)
        r_set(dest)
    return plain(d, xadd_memory)


@register(TWO_BYTE, *range(0xC8, 0xD0))
def build_bswap(d: Decoder) -> Closure:
    need(d, 4)
    regs = d.cpu.regs
    index = d.opcode & 7
    size = d.opsize

    def bswap() -> None:
        if size == 4:
            regs[index] = int.from_bytes(regs[index].to_bytes(4, "little"), "big")
        else:
            regs[index] &= 0xFFFF0000     # undefined for 16 bits; the 486 clears the word
    return plain(d, bswap)
