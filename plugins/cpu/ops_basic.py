"""Builders for the one-byte integer instructions: ALU, MOV, INC/DEC, PUSH/POP,
XCHG, the ModRM groups, multiply/divide and BCD.

Every builder reads its operands from the Decoder and returns `fn(eip) -> next_eip`.
"""

from typing import Callable

from pcmachine.clock import NS_PER_SECOND

from . import alu
from .alu import (ALU_OPS, L_LOGIC, PARITY_FLAG, get_cf, materialize, product_halves,
                  set_arith_flags, set_product_flags)
from .blockrun import pure
from .decoder import ONE_BYTE, DecodeFault, Decoder, MASKS, register, yields_turn
from .ops_control import build_indirect_transfer
from .state import AF, CF, CPUFault, DE, EAX, EDX, ESP, OF, SF, SS, ZF, PF

Closure = Callable[[int], int]


def sizes(d: Decoder, opcode: int):
    """(size, mask) for the byte/word-or-dword forms selected by opcode bit 0."""
    size = 1 if opcode & 1 == 0 else d.opsize
    return size, MASKS[size]


# ---------------------------------------------------------------- ALU
@register(ONE_BYTE, *[base + form for base in range(0, 0x40, 8) for form in range(6)])
def build_alu(d: Decoder) -> Closure:
    op = d.opcode
    kind = op >> 3
    form = op & 7
    func = ALU_OPS[kind]
    cpu = d.cpu
    size, mask = sizes(d, op)
    if form >= 4:
        imm = d.imm(size)
        get = d.reg_get(size, EAX)
        setter = d.reg_set(size, EAX)
        n, m = d.length, d.ipmask
        if kind == 7:
            def alu_acc_cmp(eip: int) -> int:
                func(cpu, get(), imm, mask)
                return (eip + n) & m
            return alu_acc_cmp

        def alu_acc(eip: int) -> int:
            setter(func(cpu, get(), imm, mask))
            return (eip + n) & m
        return alu_acc
    d.modrm()
    rm_get, rm_set, _ = d.rm_access(size, writes=form & 2 == 0 and kind != 7)
    r_get = d.reg_get(size, d.reg)
    r_set = d.reg_set(size, d.reg)
    n, m = d.length, d.ipmask
    if d.mod == 3 and size == 4:
        dst, src = (d.rm, d.reg) if form & 2 == 0 else (d.reg, d.rm)
        if kind == 7 or kind in INLINE_ALU:
            return inline_alu32(cpu, kind, dst, src, 0, n, m)
        regs = cpu.regs

        def alu_rr32(eip: int) -> int:
            regs[dst] = func(cpu, regs[dst], regs[src], 0xFFFFFFFF)
            return (eip + n) & m
        return pure(alu_rr32)
    if d.mod == 3 and size == 2:
        regs = cpu.regs
        dst, src = (d.rm, d.reg) if form & 2 == 0 else (d.reg, d.rm)
        if kind == 7:
            def cmp_rr16(eip: int) -> int:
                a = regs[dst] & 0xFFFF
                b = regs[src] & 0xFFFF
                cpu.lf_op = 3; cpu.lf_a = a; cpu.lf_b = b
                cpu.lf_res = (a - b) & 0xFFFF; cpu.lf_mask = 0xFFFF
                return (eip + n) & m
            return pure(cmp_rr16)

        if kind in INLINE_ALU:
            return inline_alu16(cpu, kind, dst, src, 0, n, m)

        def alu_rr16(eip: int) -> int:
            regs[dst] = (regs[dst] & 0xFFFF0000) | func(cpu, regs[dst] & 0xFFFF,
                                                        regs[src] & 0xFFFF, 0xFFFF)
            return (eip + n) & m
        return pure(alu_rr16)
    if form & 2 == 0:   # r/m, reg
        if kind == 7:
            def cmp_rm_r(eip: int) -> int:
                func(cpu, rm_get(), r_get(), mask)
                return (eip + n) & m
            return cmp_rm_r

        def alu_rm_r(eip: int) -> int:
            rm_set(func(cpu, rm_get(), r_get(), mask))
            return (eip + n) & m
        return alu_rm_r
    if kind == 7:
        def cmp_r_rm(eip: int) -> int:
            func(cpu, r_get(), rm_get(), mask)
            return (eip + n) & m
        return cmp_r_rm

    def alu_r_rm(eip: int) -> int:
        r_set(func(cpu, r_get(), rm_get(), mask))
        return (eip + n) & m
    return alu_r_rm


#: ALU kinds whose 16-bit register forms get a closure with the operation and
#: its lazy-flag record written out (no call into alu.py): ADD OR AND SUB XOR.
INLINE_ALU = (0, 1, 4, 5, 6)


def inline_alu16(cpu, kind: int, dst: int, src: int, imm: int, n: int, m: int) -> Closure:
    """`dst = dst <op> (src register, or imm when src < 0)` on 16-bit registers,
    with the same lazy-flag record as alu.alu_add/alu_sub/alu_or/alu_and/alu_xor."""
    regs = cpu.regs
    if kind == 0 or kind == 5:
        sign = 1 if kind == 0 else -1
        lazy = alu.L_ADD if kind == 0 else alu.L_SUB

        def add_sub16(eip: int) -> int:
            value = regs[dst]
            a = value & 0xFFFF
            b = regs[src] & 0xFFFF if src >= 0 else imm
            r = (a + sign * b) & 0xFFFF
            regs[dst] = (value & 0xFFFF0000) | r
            cpu.lf_op = lazy; cpu.lf_a = a; cpu.lf_b = b; cpu.lf_res = r; cpu.lf_mask = 0xFFFF
            return (eip + n) & m
        return pure(add_sub16)

    def logic16(eip: int) -> int:
        value = regs[dst]
        b = regs[src] & 0xFFFF if src >= 0 else imm
        if kind == 1:
            r = (value | b) & 0xFFFF
        elif kind == 4:
            r = value & b
        else:
            r = (value ^ b) & 0xFFFF
        regs[dst] = (value & 0xFFFF0000) | r
        cpu.lf_op = L_LOGIC; cpu.lf_res = r; cpu.lf_mask = 0xFFFF
        return (eip + n) & m
    return pure(logic16)


def inline_alu32(cpu, kind: int, dst: int, src: int, imm: int, n: int, m: int) -> Closure:
    """As `inline_alu16` on 32-bit registers (no upper half to keep), plus CMP
    (kind 7): the common forms of 32-bit code."""
    regs = cpu.regs
    if kind == 7:
        if src >= 0:
            def cmp_rr32(eip: int) -> int:
                a = regs[dst]
                b = regs[src]
                cpu.lf_op = 3; cpu.lf_a = a; cpu.lf_b = b
                cpu.lf_res = (a - b) & 0xFFFFFFFF; cpu.lf_mask = 0xFFFFFFFF
                return (eip + n) & m
            return pure(cmp_rr32)

        def cmp_r32_imm(eip: int) -> int:
            a = regs[dst]
            cpu.lf_op = 3; cpu.lf_a = a; cpu.lf_b = imm
            cpu.lf_res = (a - imm) & 0xFFFFFFFF; cpu.lf_mask = 0xFFFFFFFF
            return (eip + n) & m
        return pure(cmp_r32_imm)
    if kind == 0 or kind == 5:
        sign = 1 if kind == 0 else -1
        lazy = alu.L_ADD if kind == 0 else alu.L_SUB

        def add_sub32(eip: int) -> int:
            a = regs[dst]
            b = regs[src] if src >= 0 else imm
            r = (a + sign * b) & 0xFFFFFFFF
            regs[dst] = r
            cpu.lf_op = lazy; cpu.lf_a = a; cpu.lf_b = b; cpu.lf_res = r
            cpu.lf_mask = 0xFFFFFFFF
            return (eip + n) & m
        return pure(add_sub32)

    def logic32(eip: int) -> int:
        b = regs[src] if src >= 0 else imm
        if kind == 1:
            r = regs[dst] | b
        elif kind == 4:
            r = regs[dst] & b
        else:
            r = regs[dst] ^ b
        regs[dst] = r
        cpu.lf_op = L_LOGIC; cpu.lf_res = r; cpu.lf_mask = 0xFFFFFFFF
        return (eip + n) & m
    return pure(logic32)


@register(ONE_BYTE, 0x80, 0x81, 0x82, 0x83)
def build_group1(d: Decoder) -> Closure:
    op = d.opcode
    if op == 0x82 and d.cpu.generation >= 5:
        raise DecodeFault()
    cpu = d.cpu
    size, mask = sizes(d, op)
    d.modrm()
    kind = d.reg
    func = ALU_OPS[kind]
    get, setter, _ = d.rm_access(size, writes=kind != 7)
    if op == 0x83:
        imm = d.imm8s() & mask
    else:
        imm = d.imm(size)
    n, m = d.length, d.ipmask
    if d.mod == 3 and size == 4:
        if kind == 7 or kind in INLINE_ALU:
            return inline_alu32(cpu, kind, d.rm, -1, imm, n, m)
        regs = cpu.regs
        index = d.rm

        def alu_r32_imm(eip: int) -> int:
            regs[index] = func(cpu, regs[index], imm, 0xFFFFFFFF)
            return (eip + n) & m
        return pure(alu_r32_imm)
    if d.mod == 3 and size == 2:
        regs = cpu.regs
        index = d.rm
        if kind == 7:
            def cmp_r16_imm(eip: int) -> int:
                a = regs[index] & 0xFFFF
                cpu.lf_op = 3; cpu.lf_a = a; cpu.lf_b = imm
                cpu.lf_res = (a - imm) & 0xFFFF; cpu.lf_mask = 0xFFFF
                return (eip + n) & m
            return pure(cmp_r16_imm)

        if kind in INLINE_ALU:
            return inline_alu16(cpu, kind, index, -1, imm, n, m)

        def alu_r16_imm(eip: int) -> int:
            value = regs[index]
            regs[index] = (value & 0xFFFF0000) | func(cpu, value & 0xFFFF, imm, 0xFFFF)
            return (eip + n) & m
        return pure(alu_r16_imm)
    if kind == 7:
        def cmp_rm_imm(eip: int) -> int:
            func(cpu, get(), imm, mask)
            return (eip + n) & m
        return cmp_rm_imm

    def alu_rm_imm(eip: int) -> int:
        setter(func(cpu, get(), imm, mask))
        return (eip + n) & m
    return alu_rm_imm


@register(ONE_BYTE, 0x84, 0x85, 0xA8, 0xA9)
def build_test(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    size, mask = sizes(d, op)
    if op >= 0xA8:
        get_a = d.reg_get(size, EAX)
        imm = d.imm(size)
        get_b = lambda: imm  # noqa: E731
    else:
        d.modrm()
        get_a, _, _ = d.rm_access(size)
        get_b = d.reg_get(size, d.reg)
    n, m = d.length, d.ipmask

    def test(eip: int) -> int:
        cpu.lf_res = get_a() & get_b()
        cpu.lf_op = L_LOGIC
        cpu.lf_mask = mask
        return (eip + n) & m
    return test


# ---------------------------------------------------------------- INC/DEC/PUSH/POP reg
@register(ONE_BYTE, *range(0x40, 0x50))
def build_incdec_reg(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    regs = cpu.regs
    index = op & 7
    size = d.opsize
    mask = MASKS[size]
    keep = 0xFFFFFFFF ^ mask
    delta = 1 if op < 0x48 else -1
    lazy_op = alu.L_INC if op < 0x48 else alu.L_DEC
    n, m = d.length, d.ipmask

    def incdec(eip: int) -> int:
        # INC/DEC keep CF: capture it from the previous lazy state (get_cf inlined
        # for the common cases).
        prev = cpu.lf_op
        if prev == 3:
            carry = 1 if cpu.lf_a < cpu.lf_b else 0
        elif prev == 1:
            carry = 1 if cpu.lf_res < cpu.lf_a else 0
        elif prev == 2:
            carry = 1 if cpu.lf_res <= cpu.lf_a else 0
        elif prev == 0:
            carry = cpu.flags & 1
        elif prev >= 5:
            carry = cpu.lf_b if prev >= 6 else 0
        else:
            carry = get_cf(cpu)
        value = regs[index]
        result = ((value & mask) + delta) & mask
        regs[index] = (value & keep) | result if keep else result
        cpu.lf_op = lazy_op; cpu.lf_b = carry; cpu.lf_res = result; cpu.lf_mask = mask
        return (eip + n) & m
    return pure(incdec)


@register(ONE_BYTE, *range(0x50, 0x58))
def build_push_reg(d: Decoder) -> Closure:
    cpu = d.cpu
    regs = cpu.regs
    index = d.opcode & 7
    n, m = d.length, d.ipmask
    push = cpu.push32 if d.opsize == 4 else cpu.push16
    if index == ESP and cpu.generation < 2:
        def push_sp_8086(eip: int) -> int:
            push((regs[ESP] - 2) & 0xFFFF)
            return (eip + n) & m
        return push_sp_8086

    def push_reg(eip: int) -> int:
        push(regs[index])
        return (eip + n) & m
    return push_reg


@register(ONE_BYTE, *range(0x58, 0x60))
def build_pop_reg(d: Decoder) -> Closure:
    cpu = d.cpu
    index = d.opcode & 7
    n, m = d.length, d.ipmask
    pop = cpu.pop32 if d.opsize == 4 else cpu.pop16
    setter = d.reg_set(d.opsize, index)

    def pop_reg(eip: int) -> int:
        setter(pop())
        return (eip + n) & m
    return pop_reg


@register(ONE_BYTE, 0x8F)
def build_pop_rm(d: Decoder) -> Closure:
    cpu = d.cpu
    d.modrm()
    if d.reg and cpu.generation >= 2:
        raise DecodeFault()
    size = d.opsize
    pop = cpu.pop32 if size == 4 else cpu.pop16
    regs = cpu.regs
    _, _, put = d.rm_access(size, writes=True)
    n, m = d.length, d.ipmask

    def pop_rm(eip: int) -> int:
        saved = regs[ESP]
        value = pop()
        try:
            put(value)   # the address uses the incremented SP
        except CPUFault:
            regs[ESP] = saved
            raise
        return (eip + n) & m
    return pop_rm


@register(ONE_BYTE, 0x68, 0x6A)
def build_push_imm(d: Decoder) -> Closure:
    cpu = d.cpu
    if cpu.generation < 1:
        raise DecodeFault()
    size = d.opsize
    value = (d.imm_signed(size) if d.opcode == 0x68 else d.imm8s()) & MASKS[size]
    push = cpu.push32 if size == 4 else cpu.push16
    n, m = d.length, d.ipmask

    def push_imm(eip: int) -> int:
        push(value)
        return (eip + n) & m
    return push_imm


@register(ONE_BYTE, 0x60, 0x61)
def build_pusha(d: Decoder) -> Closure:
    cpu = d.cpu
    if cpu.generation < 1:
        raise DecodeFault()
    regs = cpu.regs
    size = d.opsize
    mask = MASKS[size]
    push = cpu.push32 if size == 4 else cpu.push16
    pop = cpu.pop32 if size == 4 else cpu.pop16
    setters = [d.reg_set(size, i) for i in range(8)]
    n, m = d.length, d.ipmask
    if d.opcode == 0x60:
        def pusha(eip: int) -> int:
            saved = list(regs)
            try:
                for i in range(8):
                    push(saved[i] & mask)
            except CPUFault:
                regs[:] = saved
                raise
            return (eip + n) & m
        return pusha

    def popa(eip: int) -> int:
        saved = list(regs)
        try:
            values = [pop() for _ in range(8)]
        except CPUFault:
            regs[:] = saved
            raise
        sp = regs[ESP]
        for i in range(8):
            if 7 - i != ESP:
                setters[7 - i](values[i])
        regs[ESP] = sp
        return (eip + n) & m
    return popa


# ---------------------------------------------------------------- MOV
@register(ONE_BYTE, 0x88, 0x89, 0x8A, 0x8B)
def build_mov(d: Decoder) -> Closure:
    op = d.opcode
    size, _ = sizes(d, op)
    d.modrm()
    n, m = d.length, d.ipmask
    regs = d.cpu.regs
    if d.mod == 3 and size == 2:
        dst, src = (d.rm, d.reg) if op & 2 == 0 else (d.reg, d.rm)

        def mov_rr16(eip: int) -> int:
            regs[dst] = (regs[dst] & 0xFFFF0000) | (regs[src] & 0xFFFF)
            return (eip + n) & m
        return pure(mov_rr16)
    if d.mod == 3 and size == 4:
        dst, src = (d.rm, d.reg) if op & 2 == 0 else (d.reg, d.rm)

        def mov_rr32(eip: int) -> int:
            regs[dst] = regs[src]
            return (eip + n) & m
        return pure(mov_rr32)
    rm_get, _, rm_put = d.rm_access(size, writes=op & 2 == 0)
    # Word and dword register side written out: one call fewer per instruction.
    index = d.reg
    if size == 4:
        if op & 2 == 0:
            def mov_rm_r32(eip: int) -> int:
                rm_put(regs[index])
                return (eip + n) & m
            return mov_rm_r32

        def mov_r32_rm(eip: int) -> int:
            regs[index] = rm_get()
            return (eip + n) & m
        return mov_r32_rm
    if size == 2:
        if op & 2 == 0:
            def mov_rm_r16(eip: int) -> int:
                rm_put(regs[index] & 0xFFFF)
                return (eip + n) & m
            return mov_rm_r16

        def mov_r16_rm(eip: int) -> int:
            value = rm_get()
            regs[index] = (regs[index] & 0xFFFF0000) | value
            return (eip + n) & m
        return mov_r16_rm
    if op & 2 == 0:
        r_get = d.reg_get(size, d.reg)

        def mov_rm_r(eip: int) -> int:
            rm_put(r_get())
            return (eip + n) & m
        return mov_rm_r
    r_set = d.reg_set(size, d.reg)

    def mov_r_rm(eip: int) -> int:
        r_set(rm_get())
        return (eip + n) & m
    return mov_r_rm


@register(ONE_BYTE, 0xC6, 0xC7)
def build_mov_rm_imm(d: Decoder) -> Closure:
    size, _ = sizes(d, d.opcode)
    d.modrm()
    if d.reg and d.cpu.generation >= 2:
        raise DecodeFault()
    _, _, put = d.rm_access(size, writes=True)
    value = d.imm(size)
    n, m = d.length, d.ipmask

    def mov_rm_imm(eip: int) -> int:
        put(value)
        return (eip + n) & m
    return mov_rm_imm


@register(ONE_BYTE, *range(0xB0, 0xC0))
def build_mov_reg_imm(d: Decoder) -> Closure:
    op = d.opcode
    size = 1 if op < 0xB8 else d.opsize
    value = d.imm(size)
    setter = d.reg_set(size, op & 7)
    n, m = d.length, d.ipmask
    regs = d.cpu.regs
    if size == 2:
        index = op & 7

        def mov_r16_imm(eip: int) -> int:
            regs[index] = (regs[index] & 0xFFFF0000) | value
            return (eip + n) & m
        return pure(mov_r16_imm)
    if size == 4:
        index = op & 7

        def mov_r32_imm(eip: int) -> int:
            regs[index] = value
            return (eip + n) & m
        return pure(mov_r32_imm)

    def mov_reg_imm(eip: int) -> int:
        setter(value)
        return (eip + n) & m
    return mov_reg_imm


@register(ONE_BYTE, 0xA0, 0xA1, 0xA2, 0xA3)
def build_mov_moffs(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    size, _ = sizes(d, op)
    offset = d.imm(d.adsize)
    seg = d.seg_for(3)
    get = d.reg_get(size, EAX)
    setter = d.reg_set(size, EAX)
    read = {1: cpu.rd8, 2: cpu.rd16, 4: cpu.rd32}[size]
    write = {1: cpu.wr8, 2: cpu.wr16, 4: cpu.wr32}[size]
    seg_base = cpu.seg_base
    load = op < 0xA2
    seg_limit, fault = d.limits(seg, not load)
    n, m = d.length, d.ipmask
    span = size - 1

    def mov_moffs(eip: int) -> int:
        linear = seg_base[seg] + offset
        if offset + span > seg_limit[seg]:
            linear = fault(seg, offset, span)
        if load:
            setter(read(linear))
        else:
            write(linear, get())
        return (eip + n) & m
    return mov_moffs


@register(ONE_BYTE, 0x8C, 0x8E)
def build_mov_sreg(d: Decoder) -> Closure:
    cpu = d.cpu
    d.modrm()
    index = d.reg
    if index > 5 or (index > 3 and cpu.generation < 3):
        if cpu.generation >= 2:
            raise DecodeFault()
        index &= 3
    n, m = d.length, d.ipmask
    if d.opcode == 0x8C:
        size = d.opsize if d.mod == 3 else 2
        _, _, put = d.rm_access(size, writes=True)
        sel = cpu.seg_sel

        def mov_from_sreg(eip: int) -> int:
            put(sel[index])
            return (eip + n) & m
        return mov_from_sreg
    if index == 1 and cpu.generation >= 2:
        raise DecodeFault()
    get, _, _ = d.rm_access(2)

    def mov_to_sreg(eip: int) -> int:
        cpu.load_segment(index, get())
        return (eip + n) & m
    return mov_to_sreg


@register(ONE_BYTE, 0x8D)
def build_lea(d: Decoder) -> Closure:
    d.modrm()
    if d.mod == 3:
        raise DecodeFault()
    offset = d.offset_only()
    setter = d.reg_set(d.opsize, d.reg)
    mask = MASKS[d.opsize]
    n, m = d.length, d.ipmask

    def lea(eip: int) -> int:
        setter(offset() & mask)
        return (eip + n) & m
    return lea


@register(ONE_BYTE, 0xC4, 0xC5)
def build_load_far(d: Decoder) -> Closure:
    d.modrm()
    if d.mod == 3:
        raise DecodeFault()
    return far_pointer_load(d, 0 if d.opcode == 0xC4 else 3)


def far_pointer_load(d: Decoder, seg_index: int) -> Closure:
    """LES LDS LSS LFS LGS: offset then selector from memory."""
    cpu = d.cpu
    size = d.opsize
    address = d.address(size + 2)
    read = cpu.rd32 if size == 4 else cpu.rd16
    setter = d.reg_set(size, d.reg)
    n, m = d.length, d.ipmask

    def load_far(eip: int) -> int:
        linear = address()
        offset = read(linear)
        selector = cpu.rd16(linear + size)
        cpu.load_segment(seg_index, selector)
        setter(offset)
        return (eip + n) & m
    return load_far


# ---------------------------------------------------------------- XCHG, conversions
@register(ONE_BYTE, 0x86, 0x87)
def build_xchg_rm(d: Decoder) -> Closure:
    size, _ = sizes(d, d.opcode)
    d.modrm()
    get, setter, _ = d.rm_access(size, writes=True)
    r_get = d.reg_get(size, d.reg)
    r_set = d.reg_set(size, d.reg)
    n, m = d.length, d.ipmask

    def xchg(eip: int) -> int:
        value = get()
        setter(r_get())
        r_set(value)
        return (eip + n) & m
    return xchg


def spin_wait(cpu, n: int, m: int) -> Closure:
    """PAUSE (F3 90, REP NOP before the Pentium 4: a NOP on every model, whose
    duration no model defines) is the hint of a spin-wait loop, which waits for
    time to pass (a kernel's TSC delay loop: `pause; rdtsc; sub; cmp; jb`) or for
    an event.  Each PAUSE lets `cpu.pause_ticks` instructions' worth of virtual
    time pass, the TSC moving with it, but never beyond the next clock event: the
    loop turns that many times fewer, on the guest's clock as on the host's.  The
    skip is a function of the state, so replays match.  One processor only: the
    TSCs of several would drift apart."""
    clock = cpu.clock
    delay_ns = cpu.pause_ticks * NS_PER_SECOND // clock.ips

    def pause(eip: int) -> int:
        before = clock.offset_ns
        clock.skip_within(delay_ns)
        cpu.tsc_offset += clock.ticks_since(before)
        return (eip + n) & m
    return pause


def pause_yield(cpu, n: int, m: int) -> Closure:
    """PAUSE with several processors: the processor is spinning on a lock or a
    flag another one will change, which cannot happen while it holds the turn.
    So it ends its turn right after the PAUSE (which ends its block, so stepping
    and block runs stop at the same count), as QEMU's helper_pause leaves the CPU
    loop ("let another CPU run").  Without this a test-and-set lock held by the
    processor whose turn it is not costs the spinner its whole quantum, and a
    holder that drops and retakes the lock within its own turn starves the others
    (JOS with two CPUs ran 50 times slower)."""
    clock = cpu.clock
    processors = cpu.machine.processors

    def pause(eip: int) -> int:
        processors.end_turn(clock)
        return (eip + n) & m
    return pause


@register(ONE_BYTE, *range(0x90, 0x98))
def build_xchg_acc(d: Decoder) -> Closure:
    size = d.opsize
    index = d.opcode & 7
    get_a, set_a = d.reg_get(size, EAX), d.reg_set(size, EAX)
    get_r, set_r = d.reg_get(size, index), d.reg_set(size, index)
    n, m = d.length, d.ipmask
    if index == 0:
        if yields_turn(d):
            return pause_yield(d.cpu, n, m)
        if d.rep == 0xF3 and d.cpu.pause_ticks:
            return spin_wait(d.cpu, n, m)

        def nop(eip: int) -> int:
            return (eip + n) & m
        return nop

    def xchg_acc(eip: int) -> int:
        value = get_a()
        set_a(get_r())
        set_r(value)
        return (eip + n) & m
    return xchg_acc


@register(ONE_BYTE, 0x98, 0x99)
def build_convert(d: Decoder) -> Closure:
    regs = d.cpu.regs
    size = d.opsize
    n, m = d.length, d.ipmask
    if d.opcode == 0x98:
        if size == 2:
            def cbw(eip: int) -> int:
                al = regs[EAX] & 0xFF
                regs[EAX] = (regs[EAX] & 0xFFFF0000) | (al | 0xFF00 if al & 0x80 else al)
                return (eip + n) & m
            return cbw

        def cwde(eip: int) -> int:
            ax = regs[EAX] & 0xFFFF
            regs[EAX] = ax | 0xFFFF0000 if ax & 0x8000 else ax
            return (eip + n) & m
        return cwde
    if size == 2:
        def cwd(eip: int) -> int:
            high = 0xFFFF if regs[EAX] & 0x8000 else 0
            regs[EDX] = (regs[EDX] & 0xFFFF0000) | high
            return (eip + n) & m
        return cwd

    def cdq(eip: int) -> int:
        regs[EDX] = 0xFFFFFFFF if regs[EAX] & 0x80000000 else 0
        return (eip + n) & m
    return cdq


@register(ONE_BYTE, 0x9E, 0x9F)
def build_ahf(d: Decoder) -> Closure:
    cpu = d.cpu
    regs = cpu.regs
    n, m = d.length, d.ipmask
    if d.opcode == 0x9E:
        def sahf(eip: int) -> int:
            ah = (regs[EAX] >> 8) & 0xFF
            set_arith_flags(cpu, ah, CF | PF | AF | ZF | SF)
            return (eip + n) & m
        return sahf

    def lahf(eip: int) -> int:
        flags = cpu.get_eflags() & 0xD5 | 2
        regs[EAX] = (regs[EAX] & 0xFFFF00FF) | (flags << 8)
        return (eip + n) & m
    return lahf


@register(ONE_BYTE, 0xD6)
def build_salc(d: Decoder) -> Closure:
    cpu = d.cpu
    regs = cpu.regs
    n, m = d.length, d.ipmask

    def salc(eip: int) -> int:
        regs[EAX] = (regs[EAX] & 0xFFFFFF00) | (0xFF if get_cf(cpu) else 0)
        return (eip + n) & m
    return salc


@register(ONE_BYTE, 0xD7)
def build_xlat(d: Decoder) -> Closure:
    cpu = d.cpu
    regs = cpu.regs
    seg = d.seg_for(3)
    amask = MASKS[d.adsize]
    n, m = d.length, d.ipmask
    seg_limit, fault = d.limits(seg, False)

    def xlat(eip: int) -> int:
        offset = (regs[3] + (regs[EAX] & 0xFF)) & amask
        if offset > seg_limit[seg]:
            fault(seg, offset, 0)
        regs[EAX] = (regs[EAX] & 0xFFFFFF00) | cpu.rd8(cpu.seg_base[seg] + offset)
        return (eip + n) & m
    return xlat


# ---------------------------------------------------------------- shifts
@register(ONE_BYTE, 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3)
def build_shift(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    if op < 0xD0 and cpu.generation < 1:
        raise DecodeFault()
    size, mask = sizes(d, op)
    bits = size * 8
    d.modrm()
    kind = d.reg
    get, setter, _ = d.rm_access(size, writes=True)
    regs = cpu.regs
    count_mask = 0x1F if cpu.generation >= 1 else 0xFF
    shift = alu.shift
    if op < 0xD0:
        fixed = d.imm8() & count_mask
    elif op < 0xD2:
        fixed = 1
    else:
        fixed = -1
    n, m = d.length, d.ipmask
    if fixed == 1 and kind in (4, 6):
        # SHL by one sets CF, OF, SF, ZF, PF exactly as ADD x, x (AF is undefined),
        # so it can stay lazy.
        if d.mod == 3 and size == 4:
            index = d.rm

            def shl1_r32(eip: int) -> int:
                value = regs[index]
                result = (value << 1) & 0xFFFFFFFF
                cpu.lf_op = 1; cpu.lf_a = value; cpu.lf_b = value
                cpu.lf_res = result; cpu.lf_mask = 0xFFFFFFFF
                regs[index] = result
                return (eip + n) & m
            return pure(shl1_r32)
        if d.mod == 3 and size == 2:
            index = d.rm

            def shl1_r16(eip: int) -> int:
                value = regs[index]
                low = value & 0xFFFF
                result = (low << 1) & 0xFFFF
                cpu.lf_op = 1; cpu.lf_a = low; cpu.lf_b = low
                cpu.lf_res = result; cpu.lf_mask = 0xFFFF
                regs[index] = (value & 0xFFFF0000) | result
                return (eip + n) & m
            return pure(shl1_r16)

        def shl1(eip: int) -> int:
            value = get()
            result = (value << 1) & mask
            cpu.lf_op = 1; cpu.lf_a = value; cpu.lf_b = value
            cpu.lf_res = result; cpu.lf_mask = mask
            setter(result)
            return (eip + n) & m
        return shl1

    def shift_rm(eip: int) -> int:
        count = fixed if fixed >= 0 else regs[1] & count_mask
        value = get()
        setter(shift(cpu, kind, value, count, mask, bits))
        return (eip + n) & m
    return shift_rm


# ---------------------------------------------------------------- group 3: TEST NOT NEG MUL IMUL DIV IDIV
def signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


@register(ONE_BYTE, 0xF6, 0xF7)
def build_group3(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    size, mask = sizes(d, op)
    bits = size * 8
    d.modrm()
    kind = d.reg
    get, setter, _ = d.rm_access(size, writes=kind in (2, 3))
    n, m = d.length, d.ipmask
    if kind <= 1:
        imm = d.imm(size)
        n = d.length

        def test_imm(eip: int) -> int:
            cpu.lf_res = get() & imm
            cpu.lf_op = L_LOGIC
            cpu.lf_mask = mask
            return (eip + n) & m
        return test_imm
    if kind == 2:
        def not_rm(eip: int) -> int:
            setter(get() ^ mask)
            return (eip + n) & m
        return not_rm
    if kind == 3:
        def neg_rm(eip: int) -> int:
            setter(alu.alu_neg(cpu, get(), mask))
            return (eip + n) & m
        return neg_rm
    regs = cpu.regs
    if size == 1:
        def read_acc() -> int:
            return regs[EAX] & 0xFFFF

        def write_pair(low: int, high: int) -> None:
            regs[EAX] = (regs[EAX] & 0xFFFF0000) | (high << 8) | low
    else:
        def read_acc() -> int:
            return ((regs[EDX] & mask) << bits) | (regs[EAX] & mask)
        if size == 2:
            def write_pair(low: int, high: int) -> None:
                regs[EAX] = (regs[EAX] & 0xFFFF0000) | low
                regs[EDX] = (regs[EDX] & 0xFFFF0000) | high
        else:
            def write_pair(low: int, high: int) -> None:
                regs[EAX] = low
                regs[EDX] = high
    sign = 1 << (bits - 1)
    de_after = cpu.generation == 0

    def divide_error(eip: int) -> None:
        raise CPUFault(DE, None, (eip + n) & m if de_after else None)

    if kind == 4 or kind == 5:
        is_signed = kind == 5

        # No intermediate reaches 2^63 (alu.product_halves): PyPy would keep it,
        # and everything computed from it, as a big int.
        def multiply(eip: int) -> int:
            a = regs[EAX] & mask
            b = get()
            if is_signed:
                product = signed(a, bits) * signed(b, bits)     # |product| <= 2^62
                low = product & mask
                high = (product >> bits) & mask
                overflow = product != signed(low, bits)
            else:
                low, high = product_halves(a, b, bits)
                overflow = high != 0
            write_pair(low, high)
            set_product_flags(cpu, low, mask, overflow)
            return (eip + n) & m
        return multiply

    is_signed = kind == 7

    def divide(eip: int) -> int:
        divisor = get()
        if divisor == 0:
            divide_error(eip)
        dividend = read_acc()
        if is_signed:
            num = signed(dividend, 2 * bits)
            den = signed(divisor, bits)
            quotient = abs(num) // abs(den)
            if (num < 0) != (den < 0):
                quotient = -quotient
            remainder = num - quotient * den
            if quotient >= sign or quotient < -sign:
                divide_error(eip)
            if cpu.generation == 0 and quotient == -sign:
                divide_error(eip)
        else:
            quotient, remainder = divmod(dividend, divisor)
            if quotient > mask:
                divide_error(eip)
        write_pair(quotient & mask, remainder & mask)
        return (eip + n) & m
    return divide


@register(ONE_BYTE, 0x69, 0x6B)
def build_imul_imm(d: Decoder) -> Closure:
    cpu = d.cpu
    if cpu.generation < 1:
        raise DecodeFault()
    size = d.opsize
    return build_imul_common(d, size, True)


def build_imul_common(d: Decoder, size: int, with_imm: bool) -> Closure:
    """IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69 6B)."""
    cpu = d.cpu
    mask = MASKS[size]
    bits = size * 8
    d.modrm()
    get, _, _ = d.rm_access(size)
    if with_imm:
        imm = d.imm_signed(size) if d.opcode == 0x69 else d.imm8s()
        get_b = lambda: imm  # noqa: E731
    else:
        r_get = d.reg_get(size, d.reg)
        get_b = lambda: signed(r_get(), bits)  # noqa: E731
    setter = d.reg_set(size, d.reg)
    n, m = d.length, d.ipmask

    def imul(eip: int) -> int:
        product = signed(get(), bits) * get_b()
        low = product & mask
        overflow = product != signed(low, bits)
        setter(low)
        set_product_flags(cpu, low, mask, overflow)
        return (eip + n) & m
    return imul


# ---------------------------------------------------------------- group 4/5: INC DEC CALL JMP PUSH
@register(ONE_BYTE, 0xFE, 0xFF)
def build_group45(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    size, mask = sizes(d, op)
    d.modrm()
    kind = d.reg
    if kind >= 2 and op == 0xFE or kind == 7:
        raise DecodeFault()
    n, m = d.length, d.ipmask
    if kind <= 1:
        get, setter, _ = d.rm_access(size, writes=True)
        n = d.length
        func = alu.alu_inc if kind == 0 else alu.alu_dec

        def incdec_rm(eip: int) -> int:
            setter(func(cpu, get(), mask))
            return (eip + n) & m
        return incdec_rm
    return build_indirect_transfer(d, kind)


# ---------------------------------------------------------------- BCD
@register(ONE_BYTE, 0x27, 0x2F, 0x37, 0x3F, 0xD4, 0xD5)
def build_bcd(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    regs = cpu.regs
    base = d.imm8() if op >= 0xD4 else 0
    n, m = d.length, d.ipmask
    generation = cpu.generation

    def bcd(eip: int) -> int:
        flags = materialize(cpu)
        ax = regs[EAX] & 0xFFFF
        al, ah = ax & 0xFF, ax >> 8
        cf, af = flags & CF, flags & AF
        of = 0
        if op == 0x27 or op == 0x2F:          # DAA / DAS
            old_al, old_cf = al, cf
            cf = 0
            if (al & 0xF) > 9 or af:
                if op == 0x27:
                    al = al + 6
                else:
                    al = al - 6
                cf = old_cf or (1 if al > 0xFF or al < 0 else 0)
                al &= 0xFF
                af = AF
            else:
                af = 0
            if old_al > 0x99 or old_cf:
                al = (al + 0x60 if op == 0x27 else al - 0x60) & 0xFF
                cf = CF
            if op == 0x27:
                of = OF if (old_al ^ al) & al & 0x80 else 0
            else:
                of = OF if (old_al ^ al) & old_al & 0x80 else 0
            regs[EAX] = (regs[EAX] & 0xFFFFFF00) | al
            result = al
        elif op == 0x37 or op == 0x3F:        # AAA / AAS
            if (al & 0xF) > 9 or af:
                if op == 0x37:
                    if generation >= 2:
                        ax = (ax + 0x106) & 0xFFFF
                    else:
                        al2 = al + 6
                        ah = (ah + 1 + (1 if al2 > 0xFF else 0)) & 0xFF
                        ax = (ah << 8) | (al2 & 0xFF)
                else:
                    if generation >= 2:
                        ax = (ax - 6) & 0xFFFF
                        ax = (((ax >> 8) - 1) & 0xFF) << 8 | (ax & 0xFF)
                    else:
                        al2 = al - 6
                        ah = (ah - 1 - (1 if al2 < 0 else 0)) & 0xFF
                        ax = (ah << 8) | (al2 & 0xFF)
                af, cf = AF, CF
            else:
                af, cf = 0, 0
            result = ax & 0x0F
            regs[EAX] = (regs[EAX] & 0xFFFF0000) | (ax & 0xFF0F)
            flags = (flags & ~(CF | AF)) | af | cf
            # ZF/SF/PF/OF are undefined; report them from the new AL as Bochs does.
            value = PARITY_FLAG[ax & 0x0F & 0xFF] | (ZF if result == 0 else 0)
            cpu.flags = (flags & ~(ZF | SF | PF | OF)) | value
            return (eip + n) & m
        elif op == 0xD4:                      # AAM
            if base == 0:
                raise CPUFault(DE, None, (eip + n) & m if generation == 0 else None)
            ah, al = divmod(al, base)
            regs[EAX] = (regs[EAX] & 0xFFFF0000) | (ah << 8) | al
            result = al
            cf = af = 0
        else:                                 # AAD
            al = (al + ah * base) & 0xFF
            wide = (ax & 0xFF) + ((ax >> 8) * base & 0xFF)
            regs[EAX] = (regs[EAX] & 0xFFFF0000) | al
            result = al
            cf = CF if wide > 0xFF else 0
            af = AF if ((ax & 0xFF) ^ ((ax >> 8) * base & 0xFF) ^ al) & 0x10 else 0
            of = OF if ((ax & 0xFF) ^ al) & (((ax >> 8) * base & 0xFF) ^ al) & 0x80 else 0
        value = cf | af | of | PARITY_FLAG[result] | (ZF if result == 0 else 0) | (
            SF if result & 0x80 else 0)
        cpu.flags = (flags & ~(CF | AF | OF | ZF | SF | PF)) | value
        return (eip + n) & m
    return bcd


@register(ONE_BYTE, 0x62)
def build_bound(d: Decoder) -> Closure:
    cpu = d.cpu
    if cpu.generation < 1:
        raise DecodeFault()
    d.modrm()
    if d.mod == 3:
        raise DecodeFault()
    size = d.opsize
    bits = size * 8
    address = d.address(size * 2)
    read = cpu.rd32 if size == 4 else cpu.rd16
    r_get = d.reg_get(size, d.reg)
    n, m = d.length, d.ipmask

    def bound(eip: int) -> int:
        linear = address()
        low = signed(read(linear), bits)
        high = signed(read(linear + size), bits)
        index = signed(r_get(), bits)
        if index < low or index > high:
            raise CPUFault(5)
        return (eip + n) & m
    return bound


@register(ONE_BYTE, 0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F)
def build_push_pop_seg(d: Decoder) -> Closure:
    op = d.opcode
    index = op >> 3
    return push_pop_segment(d, index, op & 1 == 1)


def push_pop_segment(d: Decoder, index: int, pop: bool) -> Closure:
    cpu = d.cpu
    n, m = d.length, d.ipmask
    sel = cpu.seg_sel
    regs = cpu.regs
    if not pop:
        if d.opsize == 4:
            def push_seg32(eip: int) -> int:
                # A 32-bit push of a segment register writes only the low word.
                sp = (regs[ESP] - 4) & (0xFFFFFFFF if cpu.stack32 else 0xFFFF)
                if sp + 3 > cpu.seg_limit[SS]:
                    cpu.stack_fault(sp, 3)
                cpu.wr16(cpu.seg_base[SS] + sp, sel[index])
                regs[ESP] = sp if cpu.stack32 else (regs[ESP] & 0xFFFF0000) | sp
                return (eip + n) & m
            return push_seg32

        def push_seg(eip: int) -> int:
            cpu.push16(sel[index])
            return (eip + n) & m
        return push_seg
    pop_fn = cpu.pop32 if d.opsize == 4 else cpu.pop16

    def pop_seg(eip: int) -> int:
        # A selector the load refuses leaves ESP as it was (the fault is restartable).
        esp = regs[ESP]
        try:
            cpu.load_segment(index, pop_fn() & 0xFFFF)
        except CPUFault:
            regs[ESP] = esp
            raise
        return (eip + n) & m
    return pop_seg


@register(ONE_BYTE, 0x0F)
def build_pop_cs(d: Decoder) -> Closure:
    """8086 only: 0F is POP CS (later models decode it as the two-byte escape)."""
    return push_pop_segment(d, 1, True)
