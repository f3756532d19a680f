"""The Pentium 4's SSE2 instructions (SDM vol. 1 ch. 11, vol. 2), on a model with
`sse2`.

The same 0F opcodes mean different instructions by their mandatory prefix: none,
66, F2 or F3 (`mandatory_prefix`: the last F2/F3 wins over a 66, SDM vol. 2,
2.1.2).  `FORMS` maps (prefix, opcode) to the SSE2 builders; at import the
opcodes it names get a dispatcher in front of their MMX/SSE builder, which other
models and the other prefixes still reach.  The checks and faults are those of
SSE (ops_sse.py): CR0.EM and CR4.OSFXSR #UD, CR0.TS #NM, #GP(0) for a misaligned
128-bit memory operand of any form but MOVUPD/MOVDQU, #XM/#UD for an unmasked
SIMD exception; the forms that read or write an MMX register (MOVQ2DQ, MOVDQ2Q,
CVTPI2PD from a register, CVT(T)PD2PI) also make the x87-to-MMX transition.
MOVNTI, CLFLUSH, LFENCE and MFENCE are not SSE-unit instructions: only their
decoding depends on the model.  Caches and store ordering are not modelled, so
the fences and CLFLUSH (which faults as a byte load) change nothing else.

The 66-prefixed integer forms are the MMX operations (ops_mmx.py) on each 64-bit
half (`halves`), the packs and unpacks recombined across the halves; the double
forms are ops_sse.py's lane helpers with `sse_float.DOUBLE`.
"""

from typing import Callable, Dict, Optional, Tuple

from . import sse_float as sf
from .decoder import TWO_BYTE, DecodeFault, Decoder
from .ops_mmx import (BINARY, EXPONENT_ONES, IMMEDIATE_SHIFTS, M64, enter_mmx, lanewise, mmx_binary,
                      need_mmx, step, to_mmx)
from .ops_sse import (LOGIC, M128, M32, MMX_EXTENSIONS, arithmetic, bitwise, comis, compare, enter_sse,
                      extract_word, from_integers, group15, lane_flags, masked_store, move, move_half,
                      pshufw, read_memory, read_memory_word, sign_mask, to_integers, write_memory,
                      xmm_source)

Closure = Callable[[int], int]
Builder = Callable[[Decoder], Closure]
Binary = Callable[[int, int], int]

#: (mandatory prefix: 0, 66h, F2h or F3h; opcode after 0F) -> builder
FORMS: Dict[Tuple[int, int], Builder] = {}


def form(prefix: int, *opcodes: int, xmm: bool = True) -> Callable[[Builder], Builder]:
    """Decorator: this builder decodes these opcodes with this mandatory prefix;
    `xmm`: an SSE-unit instruction (refused without the x87 that holds its state,
    as SSE's are)."""
    def wrap(builder: Builder) -> Builder:
        def checked(d: Decoder) -> Closure:
            if xmm and d.cpu.fpu is None:
                raise DecodeFault()
            return builder(d)
        for opcode in opcodes:
            FORMS[prefix, opcode] = checked
        return builder
    return wrap


def mandatory_prefix(d: Decoder) -> int:
    if d.rep:
        return d.rep
    return 0x66 if d.opsize != (4 if d.code32 else 2) else 0


# ------------------------------------------------------------------ 128-bit integer operations
def halves(compute: Binary) -> Binary:
    """A 64-bit operation on each half of 128-bit operands."""
    def both(a: int, b: int) -> int:
        return compute(a & M64, b & M64) | (compute(a >> 64, b >> 64) << 64)
    return both


def _packs(compute: Binary) -> Binary:
    """PACKSSWB/PACKSSDW/PACKUSWB: the destination's lanes, then the source's."""
    return lambda a, b: compute(a & M64, a >> 64) | (compute(b & M64, b >> 64) << 64)


def _unpacks(low: Binary, high: Binary, upper: bool) -> Binary:
    """PUNPCKL*/PUNPCKH*: one half of each operand, interleaved over 128 bits."""
    shift = 64 if upper else 0

    def interleave(a: int, b: int) -> int:
        x, y = (a >> shift) & M64, (b >> shift) & M64
        return low(x, y) | (high(x, y) << 64)
    return interleave


def _shifts(compute: Binary) -> Binary:
    """PSLL/PSRL/PSRA by the count in the source's low 64 bits."""
    return lambda a, b: compute(a & M64, b & M64) | (compute(a >> 64, b & M64) << 64)


QUADWORD = {
    0xD4: lanewise(64, lambda a, b, n: a + b), 0xFB: lanewise(64, lambda a, b, n: a - b),
    0xF4: lambda a, b: (a & M32) * (b & M32),                   # PMULUDQ
}
PACKS = (0x63, 0x67, 0x6B)
UNPACKS = {0x60: 0x68, 0x61: 0x69, 0x62: 0x6A}
SHIFTS = (0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3)


def _integer_operations() -> Dict[int, Binary]:
    table: Dict[int, Binary] = {}
    for op, compute in BINARY.items():
        table[op] = _packs(compute) if op in PACKS else _shifts(compute) if op in SHIFTS else halves(compute)
    for low, high in UNPACKS.items():
        table[low] = _unpacks(BINARY[low], BINARY[high], False)
        table[high] = _unpacks(BINARY[low], BINARY[high], True)
    for op, lanes3 in MMX_EXTENSIONS.items():
        if op != 0x70:
            table[op] = halves(lambda a, b, lanes3=lanes3: lanes3(a, b, 0))
    table.update({op: halves(compute) for op, compute in QUADWORD.items()})
    table[0x6C] = lambda a, b: (a & M64) | ((b & M64) << 64)      # PUNPCKLQDQ
    table[0x6D] = lambda a, b: (a >> 64) | ((b >> 64) << 64)     # PUNPCKHQDQ
    return table


#: opcode -> the 128-bit operation of dest, source of its 66 form
INTEGER = _integer_operations()


@form(0x66, *INTEGER)
def build_integer(d: Decoder) -> Closure:
    cpu = d.cpu
    compute = INTEGER[d.opcode & 0xFF]
    d.modrm()
    dest = d.reg
    get = xmm_source(d, 16, aligned=True)

    def integer() -> None:
        x = enter_sse(cpu)
        x[dest] = compute(x[dest], get())
    return step(d, integer)


@form(0, *QUADWORD, xmm=False)
def build_mmx_quadword(d: Decoder) -> Closure:
    """PADDQ, PSUBQ, PMULUDQ on MMX registers."""
    need_mmx(d)
    return mmx_binary(d, QUADWORD[d.opcode & 0xFF])


@form(0x66, *IMMEDIATE_SHIFTS)
def build_shift_immediate(d: Decoder) -> Closure:
    """66 0F 71/72/73 ib: PSRLW ... PSLLQ on each half; 73 /3 PSRLDQ and /7 PSLLDQ
    shift the whole register by bytes (past 15: zero)."""
    cpu = d.cpu
    op = d.opcode & 0xFF
    d.modrm()
    count = d.imm8()
    dest = d.rm
    if d.mod != 3:
        raise DecodeFault()
    if op == 0x73 and d.reg in (3, 7):
        bits = 8 * min(count, 16)
        left = d.reg == 7

        def byte_shift() -> None:
            x = enter_sse(cpu)
            x[dest] = (x[dest] << bits) & M128 if left else x[dest] >> bits
        return step(d, byte_shift)
    compute = IMMEDIATE_SHIFTS[op].get(d.reg)
    if compute is None:
        raise DecodeFault()

    def shift() -> None:
        x = enter_sse(cpu)
        value = x[dest]
        x[dest] = compute(value & M64, count) | (compute(value >> 64, count) << 64)
    return step(d, shift)


def _pshufd(a: int, b: int, imm: int) -> int:
    return sum(((b >> (32 * ((imm >> (2 * i)) & 3))) & M32) << (32 * i) for i in range(4))


SHUFFLES = {
    0x66: _pshufd,
    0xF2: lambda a, b, imm: pshufw(0, b & M64, imm) | (b >> 64 << 64),              # PSHUFLW
    0xF3: lambda a, b, imm: (b & M64) | (pshufw(0, b >> 64, imm) << 64),            # PSHUFHW
}


@form(0x66, 0x70)
@form(0xF2, 0x70)
@form(0xF3, 0x70)
def build_shuffle(d: Decoder) -> Closure:
    cpu = d.cpu
    shuffle = SHUFFLES[mandatory_prefix(d)]
    d.modrm()
    dest = d.reg
    get = xmm_source(d, 16, aligned=True)
    imm = d.imm8()

    def pshuf() -> None:
        x = enter_sse(cpu)
        x[dest] = shuffle(0, get(), imm)
    return step(d, pshuf)


@form(0x66, 0xC4, 0xC5, 0xD7)
def build_word_moves(d: Decoder) -> Closure:
    """PINSRW xmm, r32/m16, imm8 (C4); PEXTRW r32, xmm, imm8 (C5); PMOVMSKB r32, xmm."""
    cpu = d.cpu
    op = d.opcode & 0xFF
    d.modrm()
    if op == 0xD7:
        return sign_mask(d, 8, 128, enter_sse)
    if op == 0xC5:
        if d.mod != 3:
            raise DecodeFault()
        return extract_word(d, 8, enter_sse)
    dest = d.reg
    get = d.reg_get(2, d.rm) if d.mod == 3 else read_memory_word(d)
    shift = 16 * (d.imm8() & 7)

    def pinsrw() -> None:
        x = enter_sse(cpu)
        x[dest] = (x[dest] & ~(0xFFFF << shift)) | (get() << shift)
    return step(d, pinsrw)


@form(0x66, 0xF7)
def build_maskmovdqu(d: Decoder) -> Closure:
    cpu = d.cpu
    d.modrm()
    if d.mod != 3:
        raise DecodeFault()
    store = masked_store(d, 16)
    source, mask = d.reg, d.rm

    def maskmovdqu() -> None:
        x = enter_sse(cpu)
        store(x[source], x[mask])
    return step(d, maskmovdqu)


# ------------------------------------------------------------------ moves
@form(0x66, 0x10, 0x11, 0x28, 0x29, 0x2B, 0x6F, 0x7F, 0xE7)
@form(0xF3, 0x6F, 0x7F)
@form(0xF2, 0x10, 0x11)
def build_move(d: Decoder) -> Closure:
    """MOVUPD (66 10/11), MOVAPD (66 28/29), MOVNTPD (66 2B), MOVDQA (66 6F/7F),
    MOVDQU (F3 6F/7F), MOVNTDQ (66 E7), MOVSD (F2 10/11)."""
    op = d.opcode & 0xFF
    d.modrm()
    if op in (0x2B, 0xE7) and d.mod == 3:
        raise DecodeFault()
    scalar = d.rep == 0xF2
    aligned = op in (0x28, 0x29, 0x2B, 0xE7) or (op in (0x6F, 0x7F) and not d.rep)
    return move(d, 8 if scalar else 16, op in (0x10, 0x28, 0x6F), aligned)


@form(0x66, 0x12, 0x13, 0x16, 0x17)
def build_move_half(d: Decoder) -> Closure:
    """MOVLPD (12, 13), MOVHPD (16, 17): memory operands only."""
    d.modrm()
    if d.mod == 3:
        raise DecodeFault()
    return move_half(d)


@form(0x66, 0x6E, 0x7E, 0xD6)
@form(0xF3, 0x7E)
def build_move_low(d: Decoder) -> Closure:
    """MOVD xmm, r/m32 (66 6E); MOVD r/m32, xmm (66 7E); MOVQ xmm, xmm/m64 (F3 7E);
    MOVQ xmm/m64, xmm (66 D6).  A load zeroes the rest of the XMM register."""
    cpu = d.cpu
    op = d.opcode & 0xFF
    d.modrm()
    size = 4 if op in (0x6E, 0x7E) and not d.rep else 8
    xmm_reg, other = d.reg, d.rm
    mask = (1 << (8 * size)) - 1
    if op == 0x6E or d.rep:
        get = xmm_source(d, 8, aligned=False) if d.rep else \
            d.reg_get(4, other) if d.mod == 3 else read_memory(d, 4)

        def load() -> None:
            x = enter_sse(cpu)
            x[xmm_reg] = get()
        return step(d, load)
    if d.mod != 3:
        write = write_memory(d, size)

        def store() -> None:
            write(enter_sse(cpu)[xmm_reg] & mask)
        return step(d, store)
    if op == 0x7E:
        put = d.reg_set(4, other)

        def movd() -> None:
            put(enter_sse(cpu)[xmm_reg] & mask)
        return step(d, movd)

    def movq() -> None:
        x = enter_sse(cpu)
        x[other] = x[xmm_reg] & mask
    return step(d, movq)


@form(0xF3, 0xD6)
@form(0xF2, 0xD6)
def build_mmx_transfer(d: Decoder) -> Closure:
    """MOVQ2DQ xmm, mm (F3; the rest of the XMM register zeroed), MOVDQ2Q mm, xmm
    (F2): register operands only."""
    cpu = d.cpu
    to_xmm = d.rep == 0xF3
    d.modrm()
    if d.mod != 3:
        raise DecodeFault()
    dest, source = d.reg, d.rm

    def transfer() -> None:
        x = enter_sse(cpu)
        fpu = cpu.fpu
        fpu.check_pending()
        regs = to_mmx(fpu)
        if to_xmm:
            x[dest] = regs[source] & M64
        else:
            regs[dest] = (x[source] & M64) | EXPONENT_ONES
    return step(d, transfer)


@form(0, 0xC3, xmm=False)
def build_movnti(d: Decoder) -> Closure:
    """MOVNTI m32, r32 (with a 66 prefix: #UD)."""
    cpu = d.cpu
    d.modrm()
    if d.mod == 3:
        raise DecodeFault()
    get = d.reg_get(4, d.reg)
    address = d.address(4, write=True)

    def movnti() -> None:
        cpu.wr32(address(), get())
    return step(d, movnti)


@form(0, 0xAE, xmm=False)
def build_group15(d: Decoder) -> Closure:
    """0F AE: LFENCE (/5) and MFENCE (/6) register forms, CLFLUSH m8 (/7); the rest
    as on the Pentium III (ops_sse.group15)."""
    cpu = d.cpu
    d.modrm()
    if d.mod == 3 and d.reg in (5, 6):
        return step(d, lambda: None)
    if d.mod == 3 or d.reg != 7:
        return group15(d)
    address = d.address(1)

    def clflush() -> None:
        cpu.translate(address())          # segment and page faults of a byte load
    return step(d, clflush)


# ------------------------------------------------------------------ double precision
def _unpcklpd(a: int, b: int, imm: int) -> int:
    return (a & M64) | ((b & M64) << 64)


def _unpckhpd(a: int, b: int, imm: int) -> int:
    return (a >> 64) | ((b >> 64) << 64)


def _shufpd(a: int, b: int, imm: int) -> int:
    return ((a >> (64 * (imm & 1))) & M64) | (((b >> (64 * ((imm >> 1) & 1))) & M64) << 64)


PERMUTE = {0x14: _unpcklpd, 0x15: _unpckhpd, 0xC6: _shufpd}


@form(0x66, *LOGIC, *PERMUTE)
def build_bitwise(d: Decoder) -> Closure:
    """ANDPD ANDNPD ORPD XORPD, UNPCKLPD UNPCKHPD SHUFPD."""
    d.modrm()
    return bitwise(d, PERMUTE)


@form(0x66, 0x50)
def build_movmskpd(d: Decoder) -> Closure:
    d.modrm()
    return sign_mask(d, 64, 128, enter_sse)


@form(0x66, 0x51, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0xC2)
@form(0xF2, 0x51, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0xC2)
def build_arithmetic(d: Decoder) -> Closure:
    """ADD/MUL/SUB/MIN/DIV/MAX/SQRT/CMP PD (66) and SD (F2)."""
    d.modrm()
    scalar = d.rep == 0xF2
    if d.opcode & 0xFF == 0xC2:
        return compare(d, sf.DOUBLE, scalar)
    return arithmetic(d, sf.DOUBLE, scalar)


@form(0x66, 0x2E, 0x2F)
def build_comisd(d: Decoder) -> Closure:
    d.modrm()
    return comis(d, sf.DOUBLE)


@form(0x66, 0x2A, 0x2C, 0x2D)
@form(0xF2, 0x2A, 0x2C, 0x2D)
def build_convert_integer(d: Decoder) -> Closure:
    """CVTPI2PD/CVTSI2SD (2A), CVTTPD2PI/CVTTSD2SI (2C), CVTPD2PI/CVTSD2SI (2D)."""
    scalar = d.rep == 0xF2
    d.modrm()
    if d.opcode & 0xFF == 0x2A:
        return from_integers(d, sf.DOUBLE, scalar)
    return to_integers(d, sf.DOUBLE, scalar, aligned=not scalar)


Lane = Callable[[int, int], sf.Lane]


def _to_format(source: sf.Format, target: sf.Format) -> Lane:
    return lambda value, mxcsr: source.convert(source.daz(value, mxcsr), target, mxcsr)


def _to_integer(source: sf.Format, truncate: bool) -> Lane:
    return lambda value, mxcsr: source.to_int(source.daz(value, mxcsr), mxcsr, truncate)


def _from_integer(target: sf.Format) -> Lane:
    return target.from_int


S, D = sf.SINGLE, sf.DOUBLE
#: (prefix, opcode) -> lane conversion, source lane bits, destination lane bits,
#: lanes (1: a scalar form, which keeps the rest of the destination)
CONVERSIONS: Dict[Tuple[int, int], Tuple[Lane, int, int, int]] = {
    (0, 0x5A): (_to_format(S, D), 32, 64, 2),            # CVTPS2PD
    (0x66, 0x5A): (_to_format(D, S), 64, 32, 2),         # CVTPD2PS
    (0xF3, 0x5A): (_to_format(S, D), 32, 64, 1),         # CVTSS2SD
    (0xF2, 0x5A): (_to_format(D, S), 64, 32, 1),         # CVTSD2SS
    (0, 0x5B): (_from_integer(S), 32, 32, 4),            # CVTDQ2PS
    (0x66, 0x5B): (_to_integer(S, False), 32, 32, 4),    # CVTPS2DQ
    (0xF3, 0x5B): (_to_integer(S, True), 32, 32, 4),     # CVTTPS2DQ
    (0xF3, 0xE6): (_from_integer(D), 32, 64, 2),         # CVTDQ2PD
    (0x66, 0xE6): (_to_integer(D, True), 64, 32, 2),     # CVTTPD2DQ
    (0xF2, 0xE6): (_to_integer(D, False), 64, 32, 2),    # CVTPD2DQ
}


@form(0, 0x5A, 0x5B)
@form(0x66, 0x5A, 0x5B, 0xE6)
@form(0xF3, 0x5A, 0x5B, 0xE6)
@form(0xF2, 0x5A, 0xE6)
def build_convert(d: Decoder) -> Closure:
    """The conversions between singles, doubles and 32-bit integers in XMM
    registers; a 128-bit memory source must be aligned, a narrower one need not be,
    and a packed form zeroes the destination's unused lanes."""
    cpu = d.cpu
    convert, source_bits, dest_bits, count = CONVERSIONS[mandatory_prefix(d), d.opcode & 0xFF]
    d.modrm()
    dest = d.reg
    size = source_bits * count // 8
    get = xmm_source(d, size, aligned=size == 16)
    source_mask = (1 << source_bits) - 1
    keep = M128 ^ ((1 << dest_bits) - 1) if count == 1 else 0

    def conversion() -> None:
        x = enter_sse(cpu)
        value = get()
        mxcsr = cpu.mxcsr
        results = [convert((value >> (source_bits * i)) & source_mask, mxcsr) for i in range(count)]
        lane_flags(cpu, [flags for _, flags in results])
        x[dest] = (x[dest] & keep) | sum(r << (dest_bits * i) for i, (r, _) in enumerate(results))
    return step(d, conversion)


# ------------------------------------------------------------------ dispatch
def _dispatcher(plain: Optional[Builder]) -> Builder:
    def decode_prefixed(d: Decoder) -> Closure:
        if d.cpu.model.sse2:
            builder = FORMS.get((mandatory_prefix(d), d.opcode & 0xFF))
            if builder is not None:
                return builder(d)
        if plain is None:
            raise DecodeFault()
        return plain(d)
    return decode_prefixed


for _opcode in sorted({opcode for _, opcode in FORMS}):
    TWO_BYTE[_opcode] = _dispatcher(TWO_BYTE.get(_opcode))
