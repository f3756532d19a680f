"""The Pentium III's SSE instructions (SDM vol. 1 ch. 10, vol. 2, vol. 3 13.1-13.5).

XMM0-XMM7 are 128-bit integers in `cpu.xmm` (lane i is bits 32i+31:32i), MXCSR is
`cpu.mxcsr`.  Every instruction on XMM registers checks, in the SDM's order, CR0.EM
(#UD), CR4.OSFXSR clear (#UD), CR0.TS (#NM); the forms that also read or write
an MMX register (CVTPI2PS, CVTPS2PI, CVTTPS2PI) then check for a pending x87
exception and make the x87-to-MMX transition.  The integer additions on MMX
registers (PSHUFW, PAVGB, PMOVMSKB, MASKMOVQ, MOVNTQ ...) are MMX instructions:
CR0.EM, CR0.TS and #MF only, with or without CR4.OSFXSR (SDM vol. 2 table 22-7;
QEMU does the same).  An unmasked SIMD floating-point exception raises #XM with
CR4.OSXMMEXCPT set and #UD without it, before any destination is written; the
MXCSR flags are set first (pre-computation exceptions of every lane alone when one
of those is unmasked, SDM vol. 1, 11.5.2).  A 66 or F2 prefix selects SSE2 forms:
#UD on this model (ops_sse2.py decodes them on the pentium4, and there an F3
prefix wins over 66).  The lane helpers (`packed`, `comis`, ...) take the
`sse_float.Format`, so SSE2's double forms use them too.  The aligned
forms (MOVAPS, MOVNTPS, and every 128-bit memory operand of an arithmetic form)
raise #GP(0) for an address that is not a multiple of 16.
"""

from typing import Callable, Dict, List

from . import sse_float as sf
from .decoder import TWO_BYTE, DecodeFault, Decoder, register
from .ops_mmx import EXPONENT_ONES, build_fxsave, M64, enter_mmx, join, lanes, need_mmx, signed, step, to_mmx
from .state import CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT, GP, NM, UD, XM, CPUFault

Closure = Callable[[int], int]
M32 = 0xFFFFFFFF
M128 = (1 << 128) - 1


def need_sse(d: Decoder) -> None:
    """Decode-time refusal: a model without SSE, or an SSE2 (66/F2) prefix (with
    SSE2, a 66 before F3 is the F3 form's)."""
    model = d.cpu.model
    if not model.sse or d.cpu.fpu is None:
        raise DecodeFault()
    if d.rep == 0xF2 or (d.opsize != (4 if d.code32 else 2) and not (d.rep and model.sse2)):
        raise DecodeFault()


def enter_sse(cpu) -> List[int]:
    """The checks of every XMM instruction; the XMM registers."""
    cr0 = cpu.cr[0]
    if cr0 & CR0_EM or not cpu.cr[4] & CR4_OSFXSR:
        raise CPUFault(UD)
    if cr0 & CR0_TS:
        raise CPUFault(NM)
    return cpu.xmm


def raise_simd(cpu, flags: int) -> None:
    """Set MXCSR's flags; fault when one of them is unmasked."""
    cpu.mxcsr |= flags
    if flags & ~(cpu.mxcsr >> 7) & 0x3F:
        raise CPUFault(XM if cpu.cr[4] & CR4_OSXMMEXCPT else UD)


def lane_flags(cpu, flags: List[int]) -> None:
    """SDM 11.5.2: an unmasked pre-computation exception in any lane stops the
    instruction with only the pre-computation flags set."""
    every = 0
    pre = 0
    for value in flags:
        every |= value
        pre |= value & sf.PRE_COMPUTATION
    unmasked = ~(cpu.mxcsr >> 7) & 0x3F
    raise_simd(cpu, pre if pre & unmasked else every)


def xlanes(value: int) -> List[int]:
    return [(value >> shift) & M32 for shift in (0, 32, 64, 96)]


def xjoin(values: List[int]) -> int:
    return values[0] | (values[1] << 32) | (values[2] << 64) | (values[3] << 96)


# ------------------------------------------------------------------ memory operands
def aligned_address(d: Decoder, size: int, write: bool = False) -> Callable[[], int]:
    address = d.address(size, write=write)

    def linear() -> int:
        value = address()
        if value & 0xF:
            raise CPUFault(GP, 0)
        return value
    return linear


def read_memory(d: Decoder, size: int, aligned: bool = False) -> Callable[[], int]:
    cpu = d.cpu
    address = aligned_address(d, size) if aligned else d.address(size)

    def read() -> int:
        linear = address()
        value = 0
        for offset in range(0, size, 4):
            value |= cpu.rd32(linear + offset) << (8 * offset)
        return value
    return read


def write_memory(d: Decoder, size: int, aligned: bool = False) -> Callable[[int], None]:
    cpu = d.cpu
    address = aligned_address(d, size, True) if aligned else d.address(size, write=True)

    def write(value: int) -> None:
        linear = address()
        cpu.translate(linear + size - 1, write=True)     # fault before any byte is stored
        for offset in range(0, size, 4):
            cpu.wr32(linear + offset, (value >> (8 * offset)) & M32)
    return write


def xmm_source(d: Decoder, size: int, aligned: bool) -> Callable[[], int]:
    """The r/m operand of an XMM instruction: a register's low `size` bytes or memory."""
    if d.mod == 3:
        xmm, index, mask = d.cpu.xmm, d.rm, (1 << (8 * size)) - 1
        return lambda: xmm[index] & mask
    return read_memory(d, size, aligned)


# ------------------------------------------------------------------ moves
@register(TWO_BYTE, 0x10, 0x11, 0x28, 0x29, 0x2B)
def build_move(d: Decoder) -> Closure:
    """MOVUPS/MOVSS (10, 11), MOVAPS (28, 29), MOVNTPS (2B, memory only)."""
    need_sse(d)
    op = d.opcode & 0xFF
    d.modrm()
    scalar = d.rep == 0xF3
    if (scalar and op not in (0x10, 0x11)) or (op == 0x2B and d.mod == 3):
        raise DecodeFault()
    return move(d, 4 if scalar else 16, op in (0x10, 0x28), op in (0x28, 0x29, 0x2B))


def move(d: Decoder, size: int, load: bool, aligned: bool) -> Closure:
    """A move of the low `size` bytes (16: all) between the ModRM reg's XMM register
    (`load`: the destination) and the r/m operand; a scalar load from memory zeroes
    the rest of the register, one between registers keeps it."""
    cpu = d.cpu
    xmm_reg, other = d.reg, d.rm
    keep = M128 ^ ((1 << (8 * size)) - 1)
    if load:
        if d.mod == 3:
            def load_register() -> None:
                x = enter_sse(cpu)
                x[xmm_reg] = (x[xmm_reg] & keep) | (x[other] & ~keep & M128)
            return step(d, load_register)
        read = read_memory(d, size, aligned)

        def load_memory() -> None:
            enter_sse(cpu)[xmm_reg] = read()
        return step(d, load_memory)
    if d.mod == 3:
        def store() -> None:
            x = enter_sse(cpu)
            x[other] = (x[other] & keep) | (x[xmm_reg] & ~keep & M128)
    else:
        write = write_memory(d, size, aligned)

        def store() -> None:
            write(enter_sse(cpu)[xmm_reg] & ~keep & M128)
    return step(d, store)


@register(TWO_BYTE, 0x12, 0x13, 0x16, 0x17)
def build_move_half(d: Decoder) -> Closure:
    """MOVLPS/MOVHLPS (12), MOVLPS store (13), MOVHPS/MOVLHPS (16), MOVHPS store (17)."""
    need_sse(d)
    if d.rep:
        raise DecodeFault()
    d.modrm()
    return move_half(d)


def move_half(d: Decoder) -> Closure:
    """0F 12/13/16/17 after the ModRM byte (MOVLPD/MOVHPD: the memory forms)."""
    cpu = d.cpu
    op = d.opcode & 0xFF
    dest, source = d.reg, d.rm
    high = op in (0x16, 0x17)
    shift = 64 if high else 0
    if op in (0x13, 0x17):
        if d.mod == 3:
            raise DecodeFault()
        write = write_memory(d, 8)

        def store() -> None:
            write((enter_sse(cpu)[dest] >> shift) & M64)
        return step(d, store)
    if d.mod == 3:
        # MOVHLPS: source 127:64 to dest 63:0; MOVLHPS: source 63:0 to dest 127:64
        def get() -> int:
            return cpu.xmm[source] & M64 if high else cpu.xmm[source] >> 64
    else:
        get = read_memory(d, 8)

    def load() -> None:
        x = enter_sse(cpu)
        value = get()
        x[dest] = (x[dest] & ~(M64 << shift) & M128) | (value << shift)
    return step(d, load)


@register(TWO_BYTE, 0x50)
def build_movmskps(d: Decoder) -> Closure:
    need_sse(d)
    d.modrm()
    if d.rep:
        raise DecodeFault()
    return sign_mask(d, 32, 128, enter_sse)


def mmx_registers(cpu) -> List[int]:
    return to_mmx(enter_mmx(cpu))


def sign_mask(d: Decoder, bits: int, width: int, registers: Callable[..., List[int]]) -> Closure:
    """MOVMSKPS/MOVMSKPD/PMOVMSKB r32, reg after the ModRM byte: the sign bit of each
    `bits`-wide lane in the low `width` bits of `registers(cpu)[rm]`."""
    if d.mod != 3:
        raise DecodeFault()
    cpu = d.cpu
    put = d.reg_set(4, d.reg)
    source = d.rm

    def movmsk() -> None:
        value = registers(cpu)[source]
        put(sum(((value >> (bits * i + bits - 1)) & 1) << i for i in range(width // bits)))
    return step(d, movmsk)


# ------------------------------------------------------------------ logic, shuffles
LOGIC = {
    0x54: lambda a, b: a & b, 0x55: lambda a, b: ~a & b & M128,
    0x56: lambda a, b: a | b, 0x57: lambda a, b: a ^ b,
}


def shufps(a: int, b: int, imm: int) -> int:
    la, lb = xlanes(a), xlanes(b)
    return xjoin([la[imm & 3], la[(imm >> 2) & 3], lb[(imm >> 4) & 3], lb[(imm >> 6) & 3]])


def unpcklps(a: int, b: int, imm: int) -> int:
    la, lb = xlanes(a), xlanes(b)
    return xjoin([la[0], lb[0], la[1], lb[1]])


def unpckhps(a: int, b: int, imm: int) -> int:
    la, lb = xlanes(a), xlanes(b)
    return xjoin([la[2], lb[2], la[3], lb[3]])


PERMUTE = {0x14: unpcklps, 0x15: unpckhps, 0xC6: shufps}


@register(TWO_BYTE, *LOGIC, *PERMUTE)
def build_bitwise(d: Decoder) -> Closure:
    need_sse(d)
    if d.rep:
        raise DecodeFault()
    d.modrm()
    return bitwise(d, PERMUTE)


def bitwise(d: Decoder, permutes: Dict[int, Callable[[int, int, int], int]]) -> Closure:
    """ANDPS ANDNPS ORPS XORPS (ANDPD ...), or `permutes[opcode]` (imm8 for C6: SHUFPS,
    SHUFPD), on xmm, xmm/m128, after the ModRM byte."""
    cpu = d.cpu
    op = d.opcode & 0xFF
    dest = d.reg
    get = xmm_source(d, 16, aligned=True)
    if op in LOGIC:
        logic = LOGIC[op]

        def bitwise() -> None:
            x = enter_sse(cpu)
            x[dest] = logic(x[dest], get())
        return step(d, bitwise)
    permute = permutes[op]
    imm = d.imm8() if op == 0xC6 else 0

    def shuffle() -> None:
        x = enter_sse(cpu)
        x[dest] = permute(x[dest], get(), imm)
    return step(d, shuffle)


# ------------------------------------------------------------------ arithmetic
#: opcode -> the `sse_float.Format` method of the PS/SS (PD/SD) form
ARITHMETIC = {0x58: "add", 0x59: "mul", 0x5C: "sub", 0x5D: "minimum", 0x5E: "div", 0x5F: "maximum"}


def packed(d: Decoder, lane: Callable[[int, int, int], sf.Lane], fmt: sf.Format = sf.SINGLE,
           scalar: bool = False) -> Callable[[], None]:
    """dest = lane(dest, source) on every lane of `fmt` (PS, PD) or the low lane
    (`scalar`: SS, SD); with MXCSR.DAZ denormal operands read as zeros."""
    cpu = d.cpu
    dest = d.reg
    bits = fmt.bits
    get = xmm_source(d, bits // 8 if scalar else 16, aligned=not scalar)
    count = 1 if scalar else 128 // bits
    mask = fmt.mask
    daz = fmt.daz

    def run() -> None:
        x = enter_sse(cpu)
        source = get()
        old = x[dest]
        mxcsr = cpu.mxcsr
        pairs = [((old >> (bits * i)) & mask, (source >> (bits * i)) & mask) for i in range(count)]
        if mxcsr & sf.DAZ:
            pairs = [(daz(a, mxcsr), daz(b, mxcsr)) for a, b in pairs]
        results = [lane(a, b, mxcsr) for a, b in pairs]
        lane_flags(cpu, [flags for _, flags in results])
        value = 0
        for i, (result, _) in enumerate(results):
            value |= result << (bits * i)
        x[dest] = (old & ~((1 << (bits * count)) - 1)) | value
    return run


def arithmetic(d: Decoder, fmt: sf.Format, scalar: bool) -> Closure:
    """ADD MUL SUB MIN DIV MAX SQRT (51) in `fmt`, after the ModRM byte."""
    op = d.opcode & 0xFF
    if op in ARITHMETIC:
        return step(d, packed(d, getattr(fmt, ARITHMETIC[op]), fmt, scalar))
    return step(d, packed(d, lambda a, b, mxcsr: fmt.sqrt(b, mxcsr), fmt, scalar))


@register(TWO_BYTE, *ARITHMETIC, 0x51, 0x52, 0x53)
def build_arithmetic(d: Decoder) -> Closure:
    need_sse(d)
    op = d.opcode & 0xFF
    d.modrm()
    scalar = d.rep == 0xF3
    if op in (0x52, 0x53):
        root = op == 0x52
        return step(d, packed(d, lambda a, b, mxcsr: (sf.SINGLE.reciprocal(b, root, mxcsr), 0),
                              scalar=scalar))
    return arithmetic(d, sf.SINGLE, scalar)


def compare(d: Decoder, fmt: sf.Format, scalar: bool) -> Closure:
    """CMPPS/CMPSS/CMPPD/CMPSD after the ModRM byte: imm8 above 7 is #UD as in QEMU
    (the SDM reserves bits 7:3)."""
    run = packed(d, lambda a, b, mxcsr: fmt.compare(a, b, predicate), fmt, scalar)
    predicate = d.imm8()
    if predicate > 7:
        raise DecodeFault()
    return step(d, run)


@register(TWO_BYTE, 0xC2)
def build_cmpps(d: Decoder) -> Closure:
    need_sse(d)
    d.modrm()
    return compare(d, sf.SINGLE, d.rep == 0xF3)


def comis(d: Decoder, fmt: sf.Format) -> Closure:
    """UCOMISS/UCOMISD (2E: IE for a signalling NaN), COMISS/COMISD (2F: for any
    NaN), after the ModRM byte: ZF PF CF as an unordered, less, equal or greater
    result, OF SF AF cleared."""
    cpu = d.cpu
    signalling = d.opcode & 0xFF == 0x2F
    first = d.reg
    mask = fmt.mask
    get = xmm_source(d, fmt.bits // 8, aligned=False)

    def comiss() -> None:
        mxcsr = cpu.mxcsr
        a = fmt.daz(enter_sse(cpu)[first] & mask, mxcsr)
        b = fmt.daz(get(), mxcsr)
        if fmt.is_nan(a) or fmt.is_nan(b):
            flags = 0x45
            exceptions = sf.IE if signalling or fmt.is_snan(a) or fmt.is_snan(b) else 0
        else:
            ka, kb = fmt.compare(a, b, 0)[0], fmt.compare(a, b, 1)[0]
            flags = 0x40 if ka else 0x01 if kb else 0
            exceptions = fmt.denormal_flag(a, b)
        raise_simd(cpu, exceptions)
        cpu.set_eflags((cpu.get_eflags() & ~0x8D5) | flags)
    return step(d, comiss)


@register(TWO_BYTE, 0x2E, 0x2F)
def build_comiss(d: Decoder) -> Closure:
    need_sse(d)
    if d.rep:
        raise DecodeFault()
    d.modrm()
    return comis(d, sf.SINGLE)


# ------------------------------------------------------------------ conversions
def from_integers(d: Decoder, fmt: sf.Format, scalar: bool) -> Closure:
    """CVTSI2SS/CVTSI2SD (`scalar`: r/m32 to the low lane), CVTPI2PS/CVTPI2PD (mm/m64
    to two lanes; from an MMX register with the x87-to-MMX transition), after the
    ModRM byte."""
    cpu = d.cpu
    dest = d.reg
    if scalar:
        get = d.reg_get(4, d.rm) if d.mod == 3 else read_memory(d, 4)
        mmx = False
    else:
        source_mm = d.rm
        get = (lambda: cpu.fpu.state.regs[source_mm] & M64) if d.mod == 3 else read_memory(d, 8)
        mmx = d.mod == 3
    count = 1 if scalar else 2
    bits = fmt.bits
    mask = (1 << (bits * count)) - 1

    def to_float() -> None:
        x = enter_sse(cpu)
        if mmx:
            cpu.fpu.check_pending()
        value = get()
        results = [fmt.from_int((value >> (32 * i)) & M32, cpu.mxcsr) for i in range(count)]
        lane_flags(cpu, [flags for _, flags in results])
        if mmx:
            to_mmx(cpu.fpu)
        x[dest] = (x[dest] & ~mask) | sum(r << (bits * i) for i, (r, _) in enumerate(results))
    return step(d, to_float)


def to_integers(d: Decoder, fmt: sf.Format, scalar: bool, aligned: bool) -> Closure:
    """CVT(T)SS2SI/CVT(T)SD2SI (`scalar`: to r32), CVT(T)PS2PI/CVT(T)PD2PI (two lanes
    to an MMX register, with the x87-to-MMX transition), after the ModRM byte;
    opcode 2C truncates."""
    cpu = d.cpu
    truncate = d.opcode & 0xFF == 0x2C
    count = 1 if scalar else 2
    bits = fmt.bits
    get = xmm_source(d, bits // 8 * count, aligned)
    dest = d.reg
    put = d.reg_set(4, dest) if scalar else None

    def to_integer() -> None:
        enter_sse(cpu)
        if not scalar:
            cpu.fpu.check_pending()
        value = get()
        mxcsr = cpu.mxcsr
        results = [fmt.to_int(fmt.daz((value >> (bits * i)) & fmt.mask, mxcsr), mxcsr, truncate)
                   for i in range(count)]
        lane_flags(cpu, [flags for _, flags in results])
        if put is not None:
            put(results[0][0])
        else:
            to_mmx(cpu.fpu)[dest] = results[0][0] | (results[1][0] << 32) | EXPONENT_ONES
    return step(d, to_integer)


@register(TWO_BYTE, 0x2A, 0x2C, 0x2D)
def build_convert(d: Decoder) -> Closure:
    """CVTPI2PS/CVTSI2SS (2A), CVTTPS2PI/CVTTSS2SI (2C), CVTPS2PI/CVTSS2SI (2D)."""
    need_sse(d)
    scalar = d.rep == 0xF3
    d.modrm()
    if d.opcode & 0xFF == 0x2A:
        return from_integers(d, sf.SINGLE, scalar)
    return to_integers(d, sf.SINGLE, scalar, aligned=False)


# ------------------------------------------------------------------ MXCSR, fences
@register(TWO_BYTE, 0xAE)
def build_group15(d: Decoder) -> Closure:
    d.modrm()
    return group15(d)


def group15(d: Decoder) -> Closure:
    """0F AE after the ModRM byte: /2 LDMXCSR m32, /3 STMXCSR m32, /7 (register
    form) SFENCE here; FXSAVE/FXRSTOR in ops_mmx.py; the others (SSE2 fences,
    CLFLUSH: ops_sse2.py on the pentium4) #UD."""
    if d.reg in (2, 3) and d.mod != 3:
        return build_mxcsr(d, storing=d.reg == 3)
    if d.reg == 7 and d.mod == 3:
        need_sse(d)
        return step(d, lambda: None)        # SFENCE: stores are in order already
    return build_fxsave(d)


def build_mxcsr(d: Decoder, storing: bool) -> Closure:
    """LDMXCSR (reserved bits: #GP(0)) and STMXCSR."""
    need_sse(d)
    cpu = d.cpu
    if storing:
        write = write_memory(d, 4)

        def stmxcsr() -> None:
            enter_sse(cpu)
            write(cpu.mxcsr)
        return step(d, stmxcsr)
    read = read_memory(d, 4)
    mask = sf.mxcsr_mask(cpu)

    def load() -> None:
        enter_sse(cpu)
        value = read()
        if value & ~mask:
            raise CPUFault(GP, 0)
        cpu.mxcsr = value
    return step(d, load)


# ------------------------------------------------------------------ integer MMX additions
def pshufw(a: int, b: int, imm: int) -> int:
    words = lanes(b, 16)
    return join([words[(imm >> (2 * i)) & 3] for i in range(4)], 16)


def _psadbw(a: int, b: int, imm: int) -> int:
    return sum(abs(x - y) for x, y in zip(lanes(a, 8), lanes(b, 8)))


def _lanes2(bits: int, operation: Callable[[int, int], int]) -> Callable[[int, int, int], int]:
    def compute(a: int, b: int, imm: int) -> int:
        return join([operation(x, y) for x, y in zip(lanes(a, bits), lanes(b, bits))], bits)
    return compute


MMX_EXTENSIONS = {
    0xE0: _lanes2(8, lambda a, b: (a + b + 1) >> 1), 0xE3: _lanes2(16, lambda a, b: (a + b + 1) >> 1),
    0xDA: _lanes2(8, min), 0xDE: _lanes2(8, max),
    0xEA: _lanes2(16, lambda a, b: a if signed(a, 16) < signed(b, 16) else b),
    0xEE: _lanes2(16, lambda a, b: a if signed(a, 16) > signed(b, 16) else b),
    0xE4: _lanes2(16, lambda a, b: (a * b) >> 16), 0xF6: _psadbw, 0x70: pshufw,
}


def need_mmx_extension(d: Decoder) -> None:
    need_mmx(d)
    if not d.cpu.model.sse or d.rep or d.opsize != (4 if d.code32 else 2):
        raise DecodeFault()


@register(TWO_BYTE, *MMX_EXTENSIONS)
def build_mmx_extension(d: Decoder) -> Closure:
    need_mmx_extension(d)
    cpu = d.cpu
    compute = MMX_EXTENSIONS[d.opcode & 0xFF]
    d.modrm()
    dest, source = d.reg, d.rm
    read = None if d.mod == 3 else read_memory(d, 8)
    imm = d.imm8() if d.opcode & 0xFF == 0x70 else 0

    def mmx_extension() -> None:
        fpu = enter_mmx(cpu)
        value = fpu.state.regs[source] & M64 if read is None else read()
        regs = to_mmx(fpu)
        regs[dest] = compute(regs[dest] & M64, value, imm) | EXPONENT_ONES
    return step(d, mmx_extension)


@register(TWO_BYTE, 0xC4, 0xC5, 0xD7)
def build_word_moves(d: Decoder) -> Closure:
    """PINSRW mm, r32/m16, imm8 (C4); PEXTRW r32, mm, imm8 (C5); PMOVMSKB r32, mm (D7)."""
    need_mmx_extension(d)
    cpu = d.cpu
    op = d.opcode & 0xFF
    d.modrm()
    if op != 0xC4 and d.mod != 3:
        raise DecodeFault()
    if op == 0xC4:
        mm = d.reg
        get = d.reg_get(2, d.rm) if d.mod == 3 else read_memory_word(d)
        shift = 16 * (d.imm8() & 3)

        def pinsrw() -> None:
            fpu = enter_mmx(cpu)
            value = get()
            regs = to_mmx(fpu)
            regs[mm] = (regs[mm] & M64 & ~(0xFFFF << shift)) | (value << shift) | EXPONENT_ONES
        return step(d, pinsrw)
    if op == 0xC5:
        return extract_word(d, 4, mmx_registers)
    return sign_mask(d, 8, 64, mmx_registers)


def extract_word(d: Decoder, words: int, registers: Callable[..., List[int]]) -> Closure:
    """PEXTRW r32, reg, imm8 after the ModRM byte (imm8 modulo `words`)."""
    cpu = d.cpu
    put = d.reg_set(4, d.reg)
    source = d.rm
    shift = 16 * (d.imm8() % words)

    def pextrw() -> None:
        put((registers(cpu)[source] >> shift) & 0xFFFF)
    return step(d, pextrw)


def read_memory_word(d: Decoder) -> Callable[[], int]:
    cpu = d.cpu
    address = d.address(2)
    return lambda: cpu.rd16(address())


@register(TWO_BYTE, 0xE7, 0xF7)
def build_nontemporal(d: Decoder) -> Closure:
    """MOVNTQ m64, mm (E7); MASKMOVQ mm, mm (F7, `masked_store`)."""
    need_mmx_extension(d)
    cpu = d.cpu
    d.modrm()
    source, mask_reg = d.reg, d.rm
    if d.opcode & 0xFF == 0xE7:
        if d.mod == 3:
            raise DecodeFault()
        write = write_memory(d, 8)

        def movntq() -> None:
            fpu = enter_mmx(cpu)
            write(fpu.state.regs[source] & M64)
            to_mmx(fpu)
        return step(d, movntq)
    if d.mod != 3:
        raise DecodeFault()
    store = masked_store(d, 8)

    def maskmovq() -> None:
        fpu = enter_mmx(cpu)
        regs = fpu.state.regs
        store(regs[source] & M64, regs[mask_reg] & M64)
        to_mmx(fpu)
    return step(d, maskmovq)


def masked_store(d: Decoder, size: int) -> Callable[[int, int], None]:
    """MASKMOVQ/MASKMOVDQU's store of `size` bytes: those whose mask byte has bit 7
    set go to DS:EDI (DS:DI with a 16-bit address size; a segment prefix applies)."""
    cpu = d.cpu
    seg = 3 if d.seg is None else d.seg
    amask = 0xFFFFFFFF if d.adsize == 4 else 0xFFFF
    last = size - 1

    def store(data: int, mask: int) -> None:
        offset = cpu.regs[7] & amask
        if offset + last > cpu.seg_wlimit[seg]:
            cpu.segment_write_fault(seg, offset, last)
        linear = cpu.seg_base[seg] + offset
        cpu.translate(linear + last, write=True)     # fault before any byte is stored
        for i in range(size):
            if (mask >> (8 * i + 7)) & 1:
                cpu.wr8(linear + i, (data >> (8 * i)) & 0xFF)
    return store
