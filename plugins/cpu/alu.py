"""Arithmetic semantics with lazy flags.

The arithmetic instructions (ADD ADC SUB SBB CMP NEG INC DEC and the logic group)
only record the operation, operands, result and operand size on the CPU
(`lf_op lf_a lf_b lf_res lf_mask`); OF SF ZF AF PF CF are computed when something
reads them (Jcc, PUSHF, ADC ...).  Everything else (shifts, rotates, multiply,
divide, BCD) computes its flags at once with `set_arith_flags`.

Each function takes the CPU and plain ints and returns the result, so the decoded
instruction closures and a future block translator share one definition.
"""

from typing import Tuple

from .state import AF, ARITH_FLAGS, CF, OF, PF, SF, ZF

L_NONE, L_ADD, L_ADC, L_SUB, L_SBB, L_LOGIC, L_INC, L_DEC = range(8)

PARITY = bytes(1 if bin(i).count("1") % 2 == 0 else 0 for i in range(256))
PARITY_FLAG = bytes(PF if p else 0 for p in PARITY)


def lazy_flags(op: int, a: int, b: int, r: int, mask: int) -> int:
    """OSZAPC of a recorded operation."""
    sign = (mask >> 1) + 1
    flags = PARITY_FLAG[r & 0xFF]
    if r == 0:
        flags |= ZF
    if r & sign:
        flags |= SF
    if op == L_LOGIC:
        return flags
    if op == L_ADD or op == L_ADC:
        if r < a or (op == L_ADC and r == a):
            flags |= CF
        if (a ^ r) & (b ^ r) & sign:
            flags |= OF
        flags |= (a ^ b ^ r) & AF
    elif op == L_SUB or op == L_SBB:
        if a < b or (op == L_SBB and a == b):
            flags |= CF
        if (a ^ b) & (a ^ r) & sign:
            flags |= OF
        flags |= (a ^ b ^ r) & AF
    elif op == L_INC:
        flags |= b  # the carry saved when INC was recorded
        if r & 0xF == 0:
            flags |= AF
        if r == sign:
            flags |= OF
    elif op == L_DEC:
        flags |= b
        if r & 0xF == 0xF:
            flags |= AF
        if r == sign - 1:
            flags |= OF
    return flags


def get_eflags(cpu) -> int:
    """EFLAGS with the lazy arithmetic flags materialised."""
    if cpu.lf_op:
        return (cpu.flags & ~ARITH_FLAGS) | lazy_flags(cpu.lf_op, cpu.lf_a, cpu.lf_b,
                                                        cpu.lf_res, cpu.lf_mask)
    return cpu.flags


def materialize(cpu) -> int:
    """Fold the lazy state into `cpu.flags` (before changing single flags)."""
    if cpu.lf_op:
        cpu.flags = (cpu.flags & ~ARITH_FLAGS) | lazy_flags(cpu.lf_op, cpu.lf_a, cpu.lf_b,
                                                             cpu.lf_res, cpu.lf_mask)
        cpu.lf_op = L_NONE
    return cpu.flags


def set_arith_flags(cpu, value: int, which: int = ARITH_FLAGS) -> None:
    """Set the flags in `which` to the bits of `value` (eager flag producers).
    Setting all six arithmetic flags drops the lazy state instead of computing
    flags that are overwritten at once (MUL, IMUL, shifts: hot in Linux's bignum
    code)."""
    if which == ARITH_FLAGS:
        cpu.lf_op = L_NONE
        flags = cpu.flags
    else:
        flags = materialize(cpu)
    cpu.flags = (flags & ~which) | (value & which)


def set_product_flags(cpu, low: int, mask: int, overflow: bool) -> None:
    """MUL/IMUL: CF = OF = overflow, SF ZF PF of the (low) result.  Without
    overflow that is exactly a logic record, so the flags stay lazy."""
    if overflow:
        set_arith_flags(cpu, CF | OF | logic_flags(low, mask))
    else:
        cpu.lf_op = L_LOGIC
        cpu.lf_res = low
        cpu.lf_mask = mask


def get_cf(cpu) -> int:
    op = cpu.lf_op
    if not op:
        return cpu.flags & CF
    if op == L_SUB:
        return 1 if cpu.lf_a < cpu.lf_b else 0
    if op == L_ADD:
        return 1 if cpu.lf_res < cpu.lf_a else 0
    if op == L_LOGIC:
        return 0
    if op == L_INC or op == L_DEC:
        return cpu.lf_b
    if op == L_ADC:
        return 1 if cpu.lf_res <= cpu.lf_a else 0
    if op == L_SBB:
        return 1 if cpu.lf_a <= cpu.lf_b else 0
    return lazy_flags(op, cpu.lf_a, cpu.lf_b, cpu.lf_res, cpu.lf_mask) & CF


def get_zf(cpu) -> bool:
    if cpu.lf_op:
        return cpu.lf_res == 0
    return bool(cpu.flags & ZF)


def get_sf(cpu) -> bool:
    if cpu.lf_op:
        return bool(cpu.lf_res & ((cpu.lf_mask >> 1) + 1))
    return bool(cpu.flags & SF)


def get_of(cpu) -> bool:
    if cpu.lf_op:
        return bool(lazy_flags(cpu.lf_op, cpu.lf_a, cpu.lf_b, cpu.lf_res, cpu.lf_mask) & OF)
    return bool(cpu.flags & OF)


def get_pf(cpu) -> bool:
    if cpu.lf_op:
        return bool(PARITY[cpu.lf_res & 0xFF])
    return bool(cpu.flags & PF)


def condition(cpu, cc: int) -> bool:
    """The Jcc/SETcc/CMOVcc condition `cc` (0..15)."""
    base = cc >> 1
    if base == 0:
        result = get_of(cpu)
    elif base == 1:
        result = bool(get_cf(cpu))
    elif base == 2:
        result = get_zf(cpu)
    elif base == 3:
        result = bool(get_cf(cpu)) or get_zf(cpu)
    elif base == 4:
        result = get_sf(cpu)
    elif base == 5:
        result = get_pf(cpu)
    elif base == 6:
        result = get_sf(cpu) != get_of(cpu)
    else:
        result = get_zf(cpu) or (get_sf(cpu) != get_of(cpu))
    return result != bool(cc & 1)


# ------------------------------------------------------------------ ALU group
def alu_add(cpu, a: int, b: int, mask: int) -> int:
    r = (a + b) & mask
    cpu.lf_op = L_ADD; cpu.lf_a = a; cpu.lf_b = b; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_or(cpu, a: int, b: int, mask: int) -> int:
    r = a | b
    cpu.lf_op = L_LOGIC; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_adc(cpu, a: int, b: int, mask: int) -> int:
    c = get_cf(cpu)
    r = (a + b + c) & mask
    cpu.lf_op = L_ADC if c else L_ADD
    cpu.lf_a = a; cpu.lf_b = b; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_sbb(cpu, a: int, b: int, mask: int) -> int:
    c = get_cf(cpu)
    r = (a - b - c) & mask
    cpu.lf_op = L_SBB if c else L_SUB
    cpu.lf_a = a; cpu.lf_b = b; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_and(cpu, a: int, b: int, mask: int) -> int:
    r = a & b
    cpu.lf_op = L_LOGIC; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_sub(cpu, a: int, b: int, mask: int) -> int:
    r = (a - b) & mask
    cpu.lf_op = L_SUB; cpu.lf_a = a; cpu.lf_b = b; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_xor(cpu, a: int, b: int, mask: int) -> int:
    r = a ^ b
    cpu.lf_op = L_LOGIC; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_inc(cpu, a: int, mask: int) -> int:
    c = get_cf(cpu)
    r = (a + 1) & mask
    cpu.lf_op = L_INC; cpu.lf_b = c; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_dec(cpu, a: int, mask: int) -> int:
    c = get_cf(cpu)
    r = (a - 1) & mask
    cpu.lf_op = L_DEC; cpu.lf_b = c; cpu.lf_res = r; cpu.lf_mask = mask
    return r


def alu_neg(cpu, a: int, mask: int) -> int:
    return alu_sub(cpu, 0, a, mask)


#: ADD OR ADC SBB AND SUB XOR CMP in ModRM reg-field order (CMP is SUB without store).
ALU_OPS = (alu_add, alu_or, alu_adc, alu_sbb, alu_and, alu_sub, alu_xor, alu_sub)


# ------------------------------------------------------------------ shifts and rotates
def shift(cpu, kind: int, a: int, count: int, mask: int, bits: int) -> int:
    """ROL ROR RCL RCR SHL SHR SAL SAR (ModRM reg order) by an already-masked count.

    A count of 0 changes no flags.  OF is defined for counts of 1; for larger counts
    we give the value the 286/386 produce (the last step's formula), which test
    vectors mask as undefined."""
    if count == 0:
        return a
    sign = 1 << (bits - 1)
    if kind >= 4:
        # SHL/SHR/SAR by a non-zero count set all six arithmetic flags: the lazy
        # record is dropped, not computed.
        cpu.lf_op = L_NONE
        flags = cpu.flags
    else:
        flags = materialize(cpu)
    cf = flags & CF
    if kind == 0:      # ROL
        n = count % bits
        r = ((a << n) | (a >> (bits - n))) & mask if n else a
        cf = r & 1
        of = ((r >> (bits - 1)) ^ cf) & 1
        cpu.flags = (flags & ~(CF | OF)) | cf | (OF if of else 0)
        return r
    if kind == 1:      # ROR
        n = count % bits
        r = ((a >> n) | (a << (bits - n))) & mask if n else a
        cf = 1 if r & sign else 0
        of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1
        cpu.flags = (flags & ~(CF | OF)) | cf | (OF if of else 0)
        return r
    if kind == 2:      # RCL
        n = count % (bits + 1)
        r = a
        for _ in range(n):
            new_cf = 1 if r & sign else 0
            r = ((r << 1) | cf) & mask
            cf = new_cf
        of = ((r >> (bits - 1)) ^ cf) & 1
        cpu.flags = (flags & ~(CF | OF)) | cf | (OF if of else 0)
        return r
    if kind == 3:      # RCR
        n = count % (bits + 1)
        r = a
        for _ in range(n):
            new_cf = r & 1
            r = (r >> 1) | (cf << (bits - 1))
            cf = new_cf
        # OF = the two top bits of the result differ (SDM for a count of 1; the
        # 286 and Bochs use the same formula for every count).
        of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1
        cpu.flags = (flags & ~(CF | OF)) | cf | (OF if of else 0)
        return r
    if kind == 4 or kind == 6:   # SHL/SAL
        if count <= bits:
            cf = (a >> (bits - count)) & 1
        else:
            cf = 0
        r = (a << count) & mask
        of = ((r >> (bits - 1)) ^ cf) & 1
    elif kind == 5:    # SHR
        cf = (a >> (count - 1)) & 1 if count <= bits else 0
        r = a >> count if count < bits else 0
        of = (a >> (bits - 1)) & 1 if count == 1 else ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1
    else:              # SAR
        signed = a - (mask + 1) if a & sign else a
        if count >= bits:
            r = mask if a & sign else 0
            cf = 1 if a & sign else 0
        else:
            cf = (signed >> (count - 1)) & 1
            r = (signed >> count) & mask
        of = 0
    result_flags = cf | PARITY_FLAG[r & 0xFF] | (ZF if r == 0 else 0) | (SF if r & sign else 0)
    result_flags |= OF if of else 0
    # AF is undefined; the 286/386 leave it set after shifts.
    result_flags |= AF
    cpu.flags = (flags & ~ARITH_FLAGS) | result_flags
    return r


def product_halves(a: int, b: int, bits: int) -> Tuple[int, int]:
    """The low and high halves of the unsigned product of two `bits`-bit values.

    Computed so that no intermediate reaches 2^63: PyPy represents a larger int
    as a big int and keeps every result derived from it a big int, however small
    (a MUL's low half, then the flags computed from it): every later operation on
    the flags then leaves the JIT's machine-word code.  32-bit operands are split
    into 16-bit halves; smaller ones multiply directly."""
    if bits < 32:
        product = a * b
        return product & ((1 << bits) - 1), product >> bits
    low_part = (a & 0xFFFF) * b              # < 2^48
    high_part = (a >> 16) * b                # < 2^48, weight 2^16
    partial = low_part + ((high_part & 0xFFFF) << 16)
    return partial & 0xFFFFFFFF, (partial >> 32) + (high_part >> 16)


def shld(cpu, a: int, b: int, count: int, bits: int, left: bool) -> int:
    """SHLD/SHRD: shift `a`, filling from `b`; count already masked to 0..31.
    The shifts stay below 2^63 (see `product_halves` for why)."""
    if count == 0:
        return a
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    if bits == 16:
        # Counts 17-31 are undefined for 16-bit operands; the destination repeats
        # after the source (dst:src:dst), as in Bochs and QEMU.
        wide = (a << 32) | (b << 16) | a     # 48 bits
        if left:
            r = (wide >> (32 - count)) & mask
            cf = (wide >> (48 - count)) & 1
        else:
            r = (wide >> count) & mask
            cf = (wide >> (count - 1)) & 1
    elif left:
        r = ((a << count) | (b >> (bits - count))) & mask
        cf = (a >> (bits - count)) & 1
    else:
        r = ((a >> count) | (b << (bits - count))) & mask
        cf = (a >> (count - 1)) & 1
    of = 1 if (r ^ a) & sign else 0
    flags = materialize(cpu)
    value = cf | PARITY_FLAG[r & 0xFF] | (ZF if r == 0 else 0) | (SF if r & sign else 0)
    value |= OF if of else 0
    cpu.flags = (flags & ~ARITH_FLAGS) | value | (flags & AF)
    return r


def logic_flags(r: int, mask: int) -> int:
    """SF ZF PF of a result (CF OF AF clear)."""
    sign = (mask >> 1) + 1
    return PARITY_FLAG[r & 0xFF] | (ZF if r == 0 else 0) | (SF if r & sign else 0)
