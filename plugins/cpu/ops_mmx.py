"""The Pentium II's additions to the 0F map: the MMX instructions and FXSAVE/FXRSTOR
(SDM vol. 1 ch. 9, vol. 2 instruction pages, vol. 3 10.5 and 13).

MMX registers MM0-MM7 are bits 63:0 of the x87's physical registers R0-R7.  Every
MMX instruction but EMMS first raises #UD with CR0.EM, #NM with CR0.TS and #MF for
a pending unmasked x87 exception, then (after reading its operands, so a #PF leaves
the x87 as it was) sets TOP to 0 and tags every register valid; a written register
gets all ones in bits 79:64 (SDM vol. 1, 9.5.1).  EMMS tags every register empty.
The x87 pointers, control and status words are left alone.  Prefixes 66/F2/F3,
which select SSE forms on later processors, are ignored, as on the Pentium II; the
SSE integer additions (PSHUFW, PMINUB, PAVGB, PMOVMSKB ...) raise #UD.

FXSAVE/FXRSTOR use the 512-byte layout of SDM vol. 2 table 3-53 (legacy, non-64-bit
form): FCW, FSW, the abridged tag byte (1 = not empty, one bit per physical
register), FOP, FIP, FCS, FDP, FDS at bytes 0-23 and ST(0)-ST(7) in 16-byte slots
from byte 32 (bytes 10-15 of each written as zero); on a model with SSE,
`sse_float.fxsave_sse`/`fxrstor_sse` add MXCSR and XMM0-7.  The Pentium II has no
MXCSR and no XMM registers: bytes 24-31 and 160-511 are neither written nor read, and
CR4.OSFXSR, though writable, changes nothing.  A memory operand not aligned on 16
bytes raises #GP(0); CR0.EM or CR0.TS raise #NM.
"""

from typing import Callable, List

from .decoder import TWO_BYTE, DecodeFault, Decoder, register
from .fpu.ops import memory_reader, memory_writer, recheck
from .fpu.unit import X87
from . import sse_float
from .state import CR0_EM, CR0_TS, GP, NM, UD, CPUFault

Closure = Callable[[int], int]

M64 = (1 << 64) - 1
#: bits 79:64 of an x87 register an MMX instruction writes (SDM vol. 1, 9.5.1)
EXPONENT_ONES = 0xFFFF << 64
ALL_VALID = [False] * 8


def enter_mmx(cpu) -> X87:
    """The checks of every MMX instruction: #UD (CR0.EM), #NM (CR0.TS), #MF."""
    cr0 = cpu.cr[0]
    if cr0 & CR0_EM:
        raise CPUFault(UD)
    if cr0 & CR0_TS:
        raise CPUFault(NM)
    fpu = cpu.fpu
    fpu.check_pending()
    return fpu


def to_mmx(fpu: X87) -> List[int]:
    """The x87-to-MMX transition: TOP 0, every tag valid; the registers."""
    state = fpu.state
    state.top = 0
    state.empty = list(ALL_VALID)
    return state.regs


def need_mmx(d: Decoder) -> None:
    if not d.cpu.model.mmx or d.cpu.fpu is None:
        raise DecodeFault()


def step(d: Decoder, action: Callable[[], None]) -> Closure:
    n, m = d.length, d.ipmask

    def run(eip: int) -> int:
        action()
        return (eip + n) & m
    return run


# ------------------------------------------------------------------ lanes
def lanes(value: int, bits: int) -> List[int]:
    mask = (1 << bits) - 1
    return [(value >> shift) & mask for shift in range(0, 64, bits)]


def join(values: List[int], bits: int) -> int:
    mask = (1 << bits) - 1
    result = 0
    for index, value in enumerate(values):
        result |= (value & mask) << (index * bits)
    return result


def signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def saturate_signed(value: int, bits: int) -> int:
    top = (1 << (bits - 1)) - 1
    return max(-top - 1, min(top, value))


def saturate_unsigned(value: int, bits: int) -> int:
    return max(0, min((1 << bits) - 1, value))


def lanewise(bits: int, operation: Callable[[int, int, int], int]) -> Callable[[int, int], int]:
    """A 64-bit operation applying `operation(a, b, bits)` to each lane."""
    def compute(a: int, b: int) -> int:
        return join([operation(x, y, bits) for x, y in zip(lanes(a, bits), lanes(b, bits))], bits)
    return compute


def _add_signed(a: int, b: int, bits: int) -> int:
    return saturate_signed(signed(a, bits) + signed(b, bits), bits)


def _sub_signed(a: int, b: int, bits: int) -> int:
    return saturate_signed(signed(a, bits) - signed(b, bits), bits)


def _compare_greater(a: int, b: int, bits: int) -> int:
    return -1 if signed(a, bits) > signed(b, bits) else 0


def _multiply_high(a: int, b: int, bits: int) -> int:
    return (signed(a, 16) * signed(b, 16)) >> 16


def pmaddwd(a: int, b: int) -> int:
    """Signed word products added in pairs (0x8000 * 0x8000 twice wraps to 0x80000000)."""
    products = [signed(x, 16) * signed(y, 16) for x, y in zip(lanes(a, 16), lanes(b, 16))]
    return join([products[0] + products[1], products[2] + products[3]], 32)


def pack(bits: int, saturate: Callable[[int, int], int]) -> Callable[[int, int], int]:
    """PACKSSWB/PACKSSDW/PACKUSWB: signed lanes of the destination, then the source,
    saturated to half their width."""
    def compute(a: int, b: int) -> int:
        values = [saturate(signed(x, bits), bits // 2) for x in lanes(a, bits) + lanes(b, bits)]
        return join(values, bits // 2)
    return compute


def unpack(bits: int, high: bool) -> Callable[[int, int], int]:
    """PUNPCKL*/PUNPCKH*: the low (high) halves' lanes interleaved, destination first."""
    def compute(a: int, b: int) -> int:
        count = 32 // bits
        first = count if high else 0
        left, right = lanes(a, bits)[first:first + count], lanes(b, bits)[first:first + count]
        return join([lane for pair in zip(left, right) for lane in pair], bits)
    return compute


def shift(bits: int, kind: str) -> Callable[[int, int], int]:
    """PSLL/PSRL/PSRA by a 64-bit count: logical shifts past the lane width give
    zero, arithmetic ones fill the lane with its sign."""
    def compute(a: int, count: int) -> int:
        if kind == "sra":
            count = min(count, bits - 1)
            return join([signed(x, bits) >> count for x in lanes(a, bits)], bits)
        if count >= bits:
            return 0
        if kind == "sll":
            return join([x << count for x in lanes(a, bits)], bits)
        return join([x >> count for x in lanes(a, bits)], bits)
    return compute


#: opcode (0F xx) -> the 64-bit operation of dest, source
BINARY = {
    0xFC: lanewise(8, lambda a, b, n: a + b), 0xFD: lanewise(16, lambda a, b, n: a + b),
    0xFE: lanewise(32, lambda a, b, n: a + b),
    0xF8: lanewise(8, lambda a, b, n: a - b), 0xF9: lanewise(16, lambda a, b, n: a - b),
    0xFA: lanewise(32, lambda a, b, n: a - b),
    0xEC: lanewise(8, _add_signed), 0xED: lanewise(16, _add_signed),
    0xE8: lanewise(8, _sub_signed), 0xE9: lanewise(16, _sub_signed),
    0xDC: lanewise(8, lambda a, b, n: saturate_unsigned(a + b, n)),
    0xDD: lanewise(16, lambda a, b, n: saturate_unsigned(a + b, n)),
    0xD8: lanewise(8, lambda a, b, n: max(a - b, 0)), 0xD9: lanewise(16, lambda a, b, n: max(a - b, 0)),
    0xD5: lanewise(16, lambda a, b, n: a * b), 0xE5: lanewise(16, _multiply_high),
    0xF5: pmaddwd,
    0x74: lanewise(8, lambda a, b, n: -1 if a == b else 0),
    0x75: lanewise(16, lambda a, b, n: -1 if a == b else 0),
    0x76: lanewise(32, lambda a, b, n: -1 if a == b else 0),
    0x64: lanewise(8, _compare_greater), 0x65: lanewise(16, _compare_greater),
    0x66: lanewise(32, _compare_greater),
    0xDB: lambda a, b: a & b, 0xDF: lambda a, b: ~a & b & M64, 0xEB: lambda a, b: a | b,
    0xEF: lambda a, b: a ^ b,
    0x63: pack(16, saturate_signed), 0x6B: pack(32, saturate_signed), 0x67: pack(16, saturate_unsigned),
    0x60: unpack(8, False), 0x61: unpack(16, False), 0x62: unpack(32, False),
    0x68: unpack(8, True), 0x69: unpack(16, True), 0x6A: unpack(32, True),
    0xD1: shift(16, "srl"), 0xD2: shift(32, "srl"), 0xD3: shift(64, "srl"),
    0xE1: shift(16, "sra"), 0xE2: shift(32, "sra"),
    0xF1: shift(16, "sll"), 0xF2: shift(32, "sll"), 0xF3: shift(64, "sll"),
}
#: the PUNPCKL* memory operand is 32 bits wide
SOURCE_32 = {0x60, 0x61, 0x62}
#: 0F 71/72/73 by immediate: opcode -> {ModRM reg: operation}
IMMEDIATE_SHIFTS = {
    0x71: {2: shift(16, "srl"), 4: shift(16, "sra"), 6: shift(16, "sll")},
    0x72: {2: shift(32, "srl"), 4: shift(32, "sra"), 6: shift(32, "sll")},
    0x73: {2: shift(64, "srl"), 6: shift(64, "sll")},
}


@register(TWO_BYTE, *BINARY)
def build_mmx_binary(d: Decoder) -> Closure:
    need_mmx(d)
    return mmx_binary(d, BINARY[d.opcode & 0xFF])


def mmx_binary(d: Decoder, compute: Callable[[int, int], int]) -> Closure:
    """mm = compute(mm, mm/m64) (m32 for PUNPCKL*)."""
    cpu = d.cpu
    d.modrm()
    dest = d.reg
    source = d.rm
    read = None if d.mod == 3 else memory_reader(d, 4 if d.opcode & 0xFF in SOURCE_32 else 8)

    def mmx_binary() -> None:
        fpu = enter_mmx(cpu)
        value = fpu.state.regs[source] & M64 if read is None else read()
        regs = to_mmx(fpu)
        regs[dest] = compute(regs[dest] & M64, value) | EXPONENT_ONES
    return step(d, mmx_binary)


@register(TWO_BYTE, *IMMEDIATE_SHIFTS)
def build_mmx_shift_immediate(d: Decoder) -> Closure:
    need_mmx(d)
    cpu = d.cpu
    d.modrm()
    compute = IMMEDIATE_SHIFTS[d.opcode & 0xFF].get(d.reg)
    if compute is None or d.mod != 3:
        raise DecodeFault()
    dest = d.rm
    count = d.imm8()

    def mmx_shift() -> None:
        regs = to_mmx(enter_mmx(cpu))
        regs[dest] = compute(regs[dest] & M64, count) | EXPONENT_ONES
    return step(d, mmx_shift)


@register(TWO_BYTE, 0x6E, 0x6F, 0x7E, 0x7F)
def build_mmx_move(d: Decoder) -> Closure:
    """MOVD mm, r/m32 (zero-extended); MOVQ mm, mm/m64; MOVD r/m32, mm; MOVQ mm/m64, mm."""
    need_mmx(d)
    cpu = d.cpu
    op = d.opcode & 0xFF
    d.modrm()
    mm = d.reg
    size = 4 if op in (0x6E, 0x7E) else 8
    if op in (0x6E, 0x6F):
        if d.mod == 3:
            source = d.rm
            get = d.reg_get(4, source) if size == 4 else (lambda: cpu.fpu.state.regs[source] & M64)
        else:
            get = memory_reader(d, size)

        def load() -> None:
            fpu = enter_mmx(cpu)
            value = get()
            to_mmx(fpu)[mm] = value | EXPONENT_ONES
        return step(d, load)
    if d.mod == 3:
        target = d.rm
        if size == 4:
            put = d.reg_set(4, target)
        else:
            def put(value: int) -> None:
                cpu.fpu.state.regs[target] = value | EXPONENT_ONES
    else:
        put = memory_writer(d, size)

    def store() -> None:
        fpu = enter_mmx(cpu)
        value = fpu.state.regs[mm] & (M64 if size == 8 else 0xFFFFFFFF)
        put(value)
        to_mmx(fpu)
    return step(d, store)


@register(TWO_BYTE, 0x77)
def build_emms(d: Decoder) -> Closure:
    need_mmx(d)
    cpu = d.cpu

    def emms() -> None:
        enter_mmx(cpu).state.empty = [True] * 8
    return step(d, emms)


# ------------------------------------------------------------------ FXSAVE / FXRSTOR
def build_fxsave(d: Decoder) -> Closure:
    """0F AE /0 FXSAVE m512, /1 FXRSTOR m512, after the ModRM byte (ops_sse.py
    decodes 0F AE)."""
    cpu = d.cpu
    if not cpu.model.fxsr or cpu.fpu is None:
        raise DecodeFault()
    if d.mod == 3 or d.reg > 1:
        raise DecodeFault()
    saving = d.reg == 0
    address = d.address(512, write=saving)

    def fx() -> None:
        if cpu.cr[0] & (CR0_EM | CR0_TS):
            raise CPUFault(NM)
        linear = address()
        if linear & 0xF:
            raise CPUFault(GP, 0)
        if saving:
            fxsave(cpu, linear)
        else:
            fxrstor(cpu, linear)
    return step(d, fx)


def fxsave(cpu, linear: int) -> None:
    fpu = cpu.fpu
    s = fpu.state
    for probe in (linear, linear + 159):
        cpu.translate(probe, write=True)         # fault before anything is stored
    abridged = sum(1 << i for i in range(8) if not s.empty[i])
    cpu.wr32(linear, s.cw | (fpu.status_word() << 16))
    cpu.wr32(linear + 4, abridged | (s.fop << 16))
    cpu.wr32(linear + 8, s.fip)
    cpu.wr32(linear + 12, s.fcs)
    cpu.wr32(linear + 16, s.fdp)
    cpu.wr32(linear + 20, s.fds)
    for i in range(8):
        value = s.regs[fpu.physical(i)]
        base = linear + 32 + 16 * i
        cpu.wr32(base, value & 0xFFFFFFFF)
        cpu.wr32(base + 4, (value >> 32) & 0xFFFFFFFF)
        cpu.wr32(base + 8, value >> 64)
        cpu.wr32(base + 12, 0)
    sse_float.fxsave_sse(cpu, linear)


def fxrstor(cpu, linear: int) -> None:
    fpu = cpu.fpu
    sse = sse_float.fxrstor_sse(cpu, linear)
    words = [cpu.rd32(linear + 4 * i) for i in range(6)]
    registers = []
    for i in range(8):
        base = linear + 32 + 16 * i
        registers.append(cpu.rd32(base) | (cpu.rd32(base + 4) << 32) | (cpu.rd16(base + 8) << 64))
    s = fpu.state
    s.cw = words[0] & 0xFFFF
    sw = words[0] >> 16
    s.top = (sw >> 11) & 7
    s.sw = sw & ~0x3800
    s.empty = [not (words[1] >> i) & 1 for i in range(8)]
    s.fop = (words[1] >> 16) & 0x7FF
    s.fip, s.fcs = words[2], words[3] & 0xFFFF
    s.fdp, s.fds = words[4], words[5] & 0xFFFF
    for i, value in enumerate(registers):
        s.regs[fpu.physical(i)] = value
    if sse is not None:
        cpu.mxcsr = sse[0]
        cpu.xmm[:] = sse[1:]     # in place: decoded instructions hold the list
    recheck(fpu)
