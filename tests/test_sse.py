"""SSE on the pentium3 model (SDM vol. 1 ch. 10, vol. 2, vol. 3 13.1-13.5).

A differential test runs every SSE instruction form (register and memory
sources, packed and scalar, each CMPPS predicate, the MMX-register additions) in
unicorn (QEMU's SSE, on softfloat) and in our CPU on random and special single
operands (zeros, denormals, infinities, QNaN/SNaN, integer boundaries), in each
rounding mode with FZ on or off and every exception masked, and compares XMM0,
XMM1, MM0, EBX, EFLAGS and MXCSR.  Where unicorn is known to differ from the SDM
the comparison leaves that part out, and says why:

- MXCSR's six flags: unicorn's QEMU (5.0) never sets them;
- MXCSR.FZ: that QEMU sets flush-to-zero on the x87's status, not SSE's (so FZ is
  left clear here and checked by the unit tests);
- a NaN in both operands: the SDM (vol. 1, table 4-7) returns the first source
  (destination) operand, QEMU the NaN with the larger significand;
- RCPPS/RSQRTPS: the Pentium III reads a table (12 bits); we follow QEMU's exact
  value, except for denormal operands and tiny results, which flush to zero as
  the SDM says (QEMU computes those exactly).

Unit tests check the exceptions (#UD, #NM, #XM, #GP for alignment and MXCSR),
FXSAVE/FXRSTOR's SSE area, CPUID and the snapshot."""

import os
import random
import struct
from typing import Any, List, Optional, Set, Tuple

import pytest

from pcmachine.cli import main
from pcmachine.plugins.cpu import sse_float as sf

import cpu_support
from cpu_support import boot_sector_guest_lines, first_problems, load_flat, make_machine

CODE = 0x30000
DATA = 0x1000
A_AT, B_AT, MX_AT, OUT_AT = DATA, DATA + 0x10, DATA + 0x20, DATA + 0x40
DATA_SIZE = 0x100


def modrm_abs(opcode: bytes, reg: int, address: int) -> bytes:
    return opcode + bytes([(reg << 3) | 5]) + address.to_bytes(4, "little")


SPECIAL = [0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
           0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0xFFA00000, 0x3F800000,
           0xBF800000, 0x4F000000, 0xCF000000, 0x4EFFFFFF, 0xCF000001, 0x3F000000, 0x3FC00000,
           0x40200000, 0x0DA24260, 0x1E3CE508, 0x00400000]


def single(rng: random.Random, other: Optional[int] = None) -> int:
    choice = rng.random()
    if choice < 0.35:
        return rng.choice(SPECIAL)
    if choice < 0.5 and other is not None:      # near the other operand: cancellation
        return (other ^ rng.choice((0, 0x80000000))) + rng.randrange(-3, 4) & 0xFFFFFFFF
    if choice < 0.6:
        return rng.randrange(0x800000) | rng.choice((0, 0x80000000))
    if choice < 0.8:
        return (rng.randrange(100, 155) << 23) | rng.randrange(1 << 23) | rng.choice((0, 0x80000000))
    return rng.randrange(1 << 32)


def vector(rng: random.Random, other: Optional[int] = None) -> int:
    lanes = [single(rng, None if other is None else (other >> (32 * i)) & 0xFFFFFFFF) for i in range(4)]
    if rng.random() < 0.2:      # integers for the conversions
        lanes = [rng.choice((0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1000001, rng.randrange(1 << 32)))
                 for _ in range(4)]
    return sum(lane << (32 * i) for i, lane in enumerate(lanes))


def forms() -> List[Tuple[str, bytes, int]]:
    """(name, instruction bytes, what unicorn is not trusted with) for each form."""
    result = []
    for op, name in ((0x58, "add"), (0x59, "mul"), (0x5C, "sub"), (0x5D, "min"), (0x5E, "div"),
                     (0x5F, "max"), (0x51, "sqrt"), (0x52, "rsqrt"), (0x53, "rcp")):
        for prefix, suffix in ((b"", "ps"), (b"\xF3", "ss")):
            result.append((f"{name}{suffix}_reg", prefix + bytes([0x0F, op, 0xC1]), op))
            result.append((f"{name}{suffix}_mem", prefix + modrm_abs(bytes([0x0F, op]), 0, B_AT), op))
    for predicate in range(8):
        result.append((f"cmpps{predicate}", bytes([0x0F, 0xC2, 0xC1, predicate]), 0xC2))
        result.append((f"cmpss{predicate}", bytes([0xF3, 0x0F, 0xC2, 0xC1, predicate]), 0xC2))
    for op, name in ((0x54, "andps"), (0x55, "andnps"), (0x56, "orps"), (0x57, "xorps"),
                     (0x14, "unpcklps"), (0x15, "unpckhps")):
        result.append((name, bytes([0x0F, op, 0xC1]), op))
        result.append((name + "_mem", modrm_abs(bytes([0x0F, op]), 0, B_AT), op))
    for imm in (0x00, 0x1B, 0xE4, 0x4E):
        result.append((f"shufps{imm:02x}", bytes([0x0F, 0xC6, 0xC1, imm]), 0xC6))
    result += [
        ("comiss", b"\x0F\x2F\xC1", 0x2F), ("ucomiss", b"\x0F\x2E\xC1", 0x2E),
        ("comiss_mem", modrm_abs(b"\x0F\x2F", 0, B_AT), 0x2F),
        ("movss_reg", b"\xF3\x0F\x10\xC1", 0), ("movss_mem", modrm_abs(b"\xF3\x0F\x10", 0, B_AT), 0),
        ("movss_store", modrm_abs(b"\xF3\x0F\x11", 0, B_AT) + modrm_abs(b"\x0F\x10", 1, B_AT), 0),
        ("movaps", b"\x0F\x28\xC1", 0), ("movaps_store", b"\x0F\x29\xC1", 0),
        ("movups_mem", modrm_abs(b"\x0F\x10", 0, B_AT), 0),
        ("movlps", modrm_abs(b"\x0F\x12", 0, B_AT), 0), ("movhlps", b"\x0F\x12\xC1", 0),
        ("movhps", modrm_abs(b"\x0F\x16", 0, B_AT), 0), ("movlhps", b"\x0F\x16\xC1", 0),
        ("movlps_store", modrm_abs(b"\x0F\x13", 0, B_AT) + modrm_abs(b"\x0F\x10", 1, B_AT), 0),
        ("movhps_store", modrm_abs(b"\x0F\x17", 0, B_AT) + modrm_abs(b"\x0F\x10", 1, B_AT), 0),
        ("movntps", modrm_abs(b"\x0F\x2B", 0, B_AT) + modrm_abs(b"\x0F\x10", 1, B_AT), 0),
        ("movmskps", b"\x0F\x50\xD9", 0),
        ("cvtsi2ss", b"\xF3\x0F\x2A\xC3", 0x2A), ("cvtsi2ss_mem", modrm_abs(b"\xF3\x0F\x2A", 0, B_AT), 0x2A),
        ("cvtpi2ps", b"\x0F\x2A\xC1", 0x2A), ("cvtpi2ps_mem", modrm_abs(b"\x0F\x2A", 0, B_AT), 0x2A),
        ("cvtss2si", b"\xF3\x0F\x2D\xD9", 0x2D), ("cvttss2si", b"\xF3\x0F\x2C\xD9", 0x2C),
        ("cvtps2pi", b"\x0F\x2D\xC1", 0x2D), ("cvttps2pi", b"\x0F\x2C\xC1", 0x2C),
        ("cvtps2pi_mem", modrm_abs(b"\x0F\x2D", 0, B_AT), 0x2D),
        ("ldmxcsr_stmxcsr", modrm_abs(b"\x0F\xAE", 3, B_AT + 4), 0),
    ]
    for op, name in ((0xE0, "pavgb"), (0xE3, "pavgw"), (0xDA, "pminub"), (0xDE, "pmaxub"),
                     (0xEA, "pminsw"), (0xEE, "pmaxsw"), (0xE4, "pmulhuw"), (0xF6, "psadbw")):
        result.append((name, bytes([0x0F, op, 0xC1]), op))
        result.append((name + "_mem", modrm_abs(bytes([0x0F, op]), 0, B_AT), op))
    for imm in (0x00, 0x1B, 0xE4, 0x93):
        result.append((f"pshufw{imm:02x}", bytes([0x0F, 0x70, 0xC1, imm]), 0x70))
    result += [
        ("pinsrw", b"\x0F\xC4\xC3\x02", 0), ("pinsrw_mem", modrm_abs(b"\x0F\xC4", 0, B_AT) + b"\x03", 0),
        ("pextrw", b"\x0F\xC5\xD9\x01", 0), ("pmovmskb", b"\x0F\xD7\xD9", 0),
        ("movntq", modrm_abs(b"\x0F\xE7", 0, B_AT) + modrm_abs(b"\x0F\x6F", 1, B_AT), 0),
        ("maskmovq", b"\xBF" + (B_AT).to_bytes(4, "little") + b"\x0F\xF7\xC1" + modrm_abs(b"\x0F\x6F", 1, B_AT), 0),
        ("sfence", b"\x0F\xAE\xF8", 0), ("prefetchnta", modrm_abs(b"\x0F\x18", 0, B_AT), 0),
    ]
    return result


FORMS = forms()
#: MXCSR bits unicorn does not set: its QEMU (5.0) never folds softfloat's exception
#: flags into MXCSR (QEMU 6.0 does); the flags are checked against QEMU 7.2 by the
#: guest tests/guests/sse and by the unit tests below
UNTRUSTED_MXCSR = 0x3F


class SseDiffer:
    """One instruction form at a time in unicorn and in our CPU; `model`,
    `operands` and `skipped_lanes` (of `lane_bits`) are what test_sse2.py changes."""

    model = "pentium3"
    lane_bits = 32

    def __init__(self, seed: int) -> None:
        unicorn = pytest.importorskip("unicorn")
        self.ucx = pytest.importorskip("unicorn.x86_const")
        self.rng = random.Random(seed)
        self.machine = make_machine(self.model, fpu=True)
        self.cpu = self.machine.cpu
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_32)
        self.uc.mem_map(0, 0x100000)

    def program(self, op: bytes) -> bytes:
        """LDMXCSR; load XMM0/1, MM0/1, EBX; op; store them, EFLAGS, MXCSR; HLT."""
        return (modrm_abs(b"\x0F\xAE", 2, MX_AT) + modrm_abs(b"\x0F\x10", 0, A_AT)
                + modrm_abs(b"\x0F\x10", 1, B_AT) + modrm_abs(b"\x0F\x6F", 0, A_AT)
                + modrm_abs(b"\x0F\x6F", 1, B_AT) + modrm_abs(b"\x8B", 3, B_AT) + b"\x31\xC9\x9D"[:2]
                + op + modrm_abs(b"\x0F\x11", 0, OUT_AT) + modrm_abs(b"\x0F\x11", 1, OUT_AT + 16)
                + modrm_abs(b"\x0F\x7F", 0, OUT_AT + 32) + modrm_abs(b"\x89", 3, OUT_AT + 40)
                + modrm_abs(b"\x0F\xAE", 3, OUT_AT + 44) + b"\x9C\x59" + modrm_abs(b"\x89", 1, OUT_AT + 48)
                + b"\x0F\x77\xF4")

    def run_ours(self, code: bytes, data: bytes) -> bytes:
        machine, cpu = self.machine, self.cpu
        load_flat(machine, code, CODE, data, DATA)
        cpu.cr[4] = 0x600
        cpu.set_reg("eip", CODE)
        cpu.set_reg("esp", 0x8000)
        cpu.rebuild()
        cpu.halted = False
        machine.clock.stop_icount = machine.clock.icount + 30
        cpu.run()
        return bytes(machine.bus.memory[DATA:DATA + len(data)])

    def run_unicorn(self, code: bytes, data: bytes) -> bytes:
        uc, ucx = self.uc, self.ucx
        uc.mem_write(DATA, data)
        uc.mem_write(CODE, code)
        uc.reg_write(ucx.UC_X86_REG_ESP, 0x8000)
        uc.ctl_remove_cache(CODE, CODE + 0x100)
        uc.emu_start(CODE, CODE + len(code) - 1)
        return bytes(uc.mem_read(DATA, len(data)))

    def operands(self, kind: int) -> Tuple[int, int]:
        rng = self.rng
        a = vector(rng)
        return a, vector(rng, a if rng.random() < 0.3 else None)

    def skipped_lanes(self, kind: int, a: int, b: int) -> Set[int]:
        """The lanes of XMM0 where unicorn departs from the SDM."""
        skip_lanes = set()
        if kind in (0x58, 0x59, 0x5C, 0x5E, 0x51, 0x52, 0x53):
            for i in range(4):
                x, y = (a >> (32 * i)) & 0xFFFFFFFF, (b >> (32 * i)) & 0xFFFFFFFF
                if sf.SINGLE.is_nan(x) and sf.SINGLE.is_nan(y) and kind not in (0x51, 0x52, 0x53):
                    skip_lanes.add(i)       # QEMU: the larger significand, SDM: the first
                if kind in (0x52, 0x53) and (sf.SINGLE.is_denormal(y) or abs(_as_float(y)) > 2.0 ** 125):
                    skip_lanes.add(i)       # denormal operand or tiny result: flushed here
        return skip_lanes

    def case(self, name: str, op: bytes, kind: int) -> Optional[str]:
        rng = self.rng
        a, b = self.operands(kind)
        mxcsr = 0x1F80 | (rng.randrange(4) << 13)
        data = bytearray(DATA_SIZE)
        data[0:16] = a.to_bytes(16, "little")
        data[16:32] = b.to_bytes(16, "little")
        struct.pack_into("<I", data, MX_AT - DATA, mxcsr)
        code = self.program(op)
        expected = self.run_unicorn(code, bytes(data))
        actual = self.run_ours(code, bytes(data))
        skip_lanes = self.skipped_lanes(kind, a, b)
        width = self.lane_bits // 8
        problems = []
        for label, at, size in (("xmm0", OUT_AT, 16), ("xmm1", OUT_AT + 16, 16), ("mm0", OUT_AT + 32, 8),
                                ("ebx", OUT_AT + 40, 4), ("mxcsr", OUT_AT + 44, 4),
                                ("eflags", OUT_AT + 48, 4), ("mem", B_AT, 16)):
            e = bytearray(expected[at - DATA:at - DATA + size])
            g = bytearray(actual[at - DATA:at - DATA + size])
            if label == "xmm0":
                for i in skip_lanes:
                    e[width * i:width * (i + 1)] = g[width * i:width * (i + 1)] = bytes(width)
            if label == "mxcsr":
                e[0] &= ~UNTRUSTED_MXCSR
                g[0] &= ~UNTRUSTED_MXCSR
            if label == "eflags":
                e[0] &= 0xD5
                g[0] &= 0xD5
            if e != g:
                problems.append(f"{label} {bytes(e)[::-1].hex()} != {bytes(g)[::-1].hex()}")
        if problems:
            return f"{name} code={code.hex()} a={a:032x} b={b:032x} mxcsr={mxcsr:04x}: " + "; ".join(problems)
        return None


def _as_float(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def differ_run(count: int, seed: int, differ_class: type = SseDiffer,
               all_forms: List[Tuple[str, bytes, int]] = FORMS) -> None:
    failures = first_problems(all_forms, count, differ_class(seed).case)
    assert not failures, "\n".join(failures[:30])


def test_sse_against_unicorn() -> None:
    differ_run(40, 1999)


@pytest.mark.slow
def test_sse_against_unicorn_many() -> None:
    differ_run(1500, 2000)


# ---------------------------------------------------------------- unit tests
def vector_of(source: str, model: str = "pentium3") -> Tuple[int, Any]:
    return cpu_support.vector_of(source, model)


def cr4(value: int) -> str:
    return f"mov eax, {value:#x}\nmov cr4, eax\n"


CR0_SET = "mov eax, cr0\nor eax, {}\nmov cr0, eax\n"
ENABLE = cr4(0x600)
SET_MXCSR = "mov dword [0x600], {:#x}\nldmxcsr [0x600]\n"
ONE_AND_ZERO = "mov dword [0x610], 0x3F800000\nmov dword [0x614], 0\nmovss xmm0, [0x610]\nmovss xmm1, [0x614]\n"


@pytest.mark.parametrize("model, setup, code, vector", [
    ("pentium2", ENABLE, "addps xmm0, xmm1", 6),                  # no SSE
    ("pentium2", "", "ldmxcsr [0x600]", 6),
    ("pentium3", "", "addps xmm0, xmm1", 6),                      # CR4.OSFXSR clear
    ("pentium3", "", "ldmxcsr [0x600]", 6),
    ("pentium3", "", "pshufw mm0, mm1, 0x1B", 0xEEEE),            # MMX forms: no OSFXSR needed
    ("pentium3", "", "pminub mm0, [0x600]", 0xEEEE),
    ("pentium3", ENABLE + CR0_SET.format(4), "addps xmm0, xmm1", 6),  # CR0.EM
    ("pentium3", ENABLE + CR0_SET.format(4), "pavgb mm0, mm1", 6),
    ("pentium3", ENABLE + CR0_SET.format(8), "addps xmm0, xmm1", 7),  # CR0.TS
    ("pentium3", CR0_SET.format(8), "addps xmm0, xmm1", 6),         # #UD before #NM
    ("pentium3", ENABLE + CR0_SET.format(8), "sfence", 0xEEEE),
    ("pentium3", ENABLE, "movaps xmm0, [0x2008]", 13),            # alignment
    ("pentium3", ENABLE, "movups xmm0, [0x2008]", 0xEEEE),
    ("pentium3", ENABLE, "addps xmm0, [0x2004]", 13),
    ("pentium3", ENABLE, "addss xmm0, [0x2004]", 0xEEEE),
    ("pentium3", ENABLE, "movntps [0x2008], xmm0", 13),
    ("pentium3", ENABLE, SET_MXCSR.format(0x1FC0), 13),          # DAZ: not on a Katmai
    ("pentium3", ENABLE, SET_MXCSR.format(0x11F80), 13),
    ("pentium3", ENABLE, SET_MXCSR.format(0xFFBF), 0xEEEE),
    ("pentium3", ENABLE, "addpd xmm0, xmm1", 6),                  # SSE2 forms
    ("pentium3", ENABLE, "addsd xmm0, xmm1", 6),
    ("pentium3", ENABLE, "cmpps xmm0, xmm1, 8", 6),
    ("pentium3", ENABLE, "db 0x0F, 0xAE, 0xE8", 6),               # LFENCE
    ("pentium3", ENABLE, "db 0x0F, 0x13, 0xC1", 6),               # MOVLPS to a register
    ("pentium3", ENABLE, "prefetchnta [0x2000]", 0xEEEE),
    ("pentium3", ENABLE, "mov eax, 0\nmov ecx, 0\ncvtsi2ss xmm0, eax\ncvtss2si ecx, xmm0", 0xEEEE),
])
def test_sse_exceptions(model: str, setup: str, code: str, vector: int) -> None:
    assert vector_of(setup + code, model)[0] == vector


@pytest.mark.parametrize("osxmmexcpt, vector", [(True, 19), (False, 6)])
def test_unmasked_exception_raises_xm_and_leaves_the_destination(osxmmexcpt: bool, vector: int) -> None:
    source = (cr4(0x600 if osxmmexcpt else 0x200) + ONE_AND_ZERO + SET_MXCSR.format(0x1F80 & ~0x200)
              + "divss xmm0, xmm1")                            # ZE unmasked: 1 / 0
    dx, machine = vector_of(source)
    assert dx == vector
    cpu = machine.cpu
    assert cpu.xmm[0] == 0x3F800000 and cpu.mxcsr == 0x1D80 | sf.ZE


def test_pre_computation_exception_stops_before_post_computation_flags() -> None:
    """SDM 11.5.2: lane 0 divides by zero (unmasked), lane 1 is inexact (1/3), lanes 2
    and 3 are 0/1: only ZE is set."""
    source = (ENABLE + "mov dword [0x2000], 0x3F800000\nmov dword [0x2004], 0x3F800000\n"
              "mov dword [0x2010], 0\nmov dword [0x2014], 0x40400000\n"
              "mov dword [0x2018], 0x3F800000\nmov dword [0x201C], 0x3F800000\n"
              "movaps xmm0, [0x2000]\nmovaps xmm1, [0x2010]\n" + SET_MXCSR.format(0x1D80)
              + "divps xmm0, xmm1")
    dx, machine = vector_of(source)
    assert dx == 19 and machine.cpu.mxcsr == 0x1D80 | sf.ZE


def test_masked_exceptions_give_the_sdm_results() -> None:
    source = ENABLE + ONE_AND_ZERO + "divss xmm0, xmm1\nstmxcsr [0x620]"
    dx, machine = vector_of(source)
    assert dx == 0xEEEE and machine.cpu.xmm[0] & 0xFFFFFFFF == 0x7F800000
    assert machine.bus.memory[0x620] == 0x80 | sf.ZE


@pytest.mark.parametrize("lane, a, b, mxcsr, result, flags", [
    ("div", 0x3F800000, 0x40400000, 0x1F80, 0x3EAAAAAB, sf.PE),             # 1/3 nearest
    ("div", 0x3F800000, 0x40400000, 0x3F80, 0x3EAAAAAA, sf.PE),             # down
    ("div", 0xBF800000, 0x40400000, 0x3F80, 0xBEAAAAAB, sf.PE),
    ("div", 0x3F800000, 0x40400000, 0x5F80, 0x3EAAAAAB, sf.PE),             # up
    ("div", 0x3F800000, 0x40400000, 0x7F80, 0x3EAAAAAA, sf.PE),             # toward zero
    ("sub", 0x7F800000, 0x7F800000, 0x1F80, sf.SINGLE.default_nan, sf.IE),         # inf - inf
    ("mul", 0x7F800000, 0x00000000, 0x1F80, sf.SINGLE.default_nan, sf.IE),
    ("add", 0x7FA00000, 0x3F800000, 0x1F80, 0x7FE00000, sf.IE),             # SNaN quieted
    ("add", 0x3F800000, 0xFFC00001, 0x1F80, 0xFFC00001, 0),                 # QNaN propagates
    ("add", 0x7FC00002, 0xFFC00001, 0x1F80, 0x7FC00002, 0),                 # first source
    ("mul", 0x7F7FFFFF, 0x40000000, 0x1F80, 0x7F800000, sf.OE | sf.PE),
    ("mul", 0x7F7FFFFF, 0x40000000, 0x7F80, 0x7F7FFFFF, sf.OE | sf.PE),     # toward zero: max
    ("mul", 0x00800000, 0x3F000000, 0x1F80, 0x00400000, sf.DE * 0),         # exact tiny: no UE
    ("mul", 0x00800001, 0x3F000000, 0x1F80, 0x00400000, sf.UE | sf.PE),     # inexact tiny
    ("mul", 0x00800000, 0x3F000000, 0x9F80, 0x00000000, sf.UE | sf.PE),     # FZ
    ("add", 0x00000001, 0x00000000, 0x1F80, 0x00000001, sf.DE),             # denormal operand
    ("add", 0x3F800000, 0xBF800000, 0x3F80, 0x80000000, 0),                 # x - x rounding down
    ("add", 0x3F800000, 0xBF800000, 0x1F80, 0x00000000, 0),
    ("sqrt", 0, 0xBF800000, 0x1F80, sf.SINGLE.default_nan, sf.IE),
    ("sqrt", 0, 0x40000000, 0x1F80, 0x3FB504F3, sf.PE),
    ("sqrt", 0, 0x80000000, 0x1F80, 0x80000000, 0),
    ("maximum", 0x7FC00000, 0x3F800000, 0x1F80, 0x3F800000, sf.IE),         # a NaN: the source
    ("minimum", 0x80000000, 0x00000000, 0x1F80, 0x00000000, 0),             # zeros: the source
])
def test_single_lanes(lane: str, a: int, b: int, mxcsr: int, result: int, flags: int) -> None:
    """Results from the SDM's rules (vol. 1, 4.8.3, 4.9, 11.5, the MAXPS page)."""
    if lane == "sqrt":
        assert sf.SINGLE.sqrt(b, mxcsr) == (result, flags)
    else:
        assert getattr(sf.SINGLE, lane)(a, b, mxcsr) == (result, flags)


@pytest.mark.parametrize("value, mxcsr, truncate, result, flags", [
    (0x3FC00000, 0x1F80, False, 2, sf.PE), (0x3FC00000, 0x1F80, True, 1, sf.PE),
    (0x40200000, 0x1F80, False, 2, sf.PE), (0xBFC00000, 0x3F80, False, 0xFFFFFFFE, sf.PE),
    (0x4F000000, 0x1F80, False, 0x80000000, sf.IE), (0xCF000000, 0x1F80, False, 0x80000000, 0),
    (0x7FC00000, 0x1F80, True, 0x80000000, sf.IE),
])
def test_conversions_to_integers(value: int, mxcsr: int, truncate: bool, result: int, flags: int) -> None:
    assert sf.SINGLE.to_int(value, mxcsr, truncate) == (result, flags)


FXSAVE_SSE = """
    mov di, 0x2000
    mov cx, 256
    mov ax, 0xAAAA
    push ds
    pop es
    cld
    rep stosw
    mov dword [0x610], 0x11223344
    movss xmm3, [0x610]
    shufps xmm3, xmm3, 0
    ldmxcsr [0x618]
    fxsave [0x2000]
"""


@pytest.mark.parametrize("osfxsr", [True, False])
def test_fxsave_stores_mxcsr_and_xmm_with_osfxsr(osfxsr: bool) -> None:
    """CR4.OSFXSR clear: neither MXCSR nor the XMM registers are stored (QEMU, Bochs)."""
    setup = ENABLE + "mov dword [0x618], 0x3F80\n" if osfxsr else "mov dword [0x618], 0x3F80\n"
    body = FXSAVE_SSE if osfxsr else FXSAVE_SSE.replace("movss xmm3, [0x610]\n    shufps xmm3, xmm3, 0\n    ldmxcsr [0x618]\n", "")
    dx, machine = vector_of(setup + body)
    assert dx == 0xEEEE
    area = bytes(machine.bus.memory[0x2000:0x2200])
    if osfxsr:
        assert struct.unpack_from("<II", area, 24) == (0x3F80, 0xFFBF)
        assert area[160 + 48:160 + 64] == bytes.fromhex("44332211") * 4
        assert area[160:160 + 48] == bytes(48) and area[288:] == b"\xAA" * 224
    else:
        assert area[24:32] == b"\xAA" * 8 and area[160:] == b"\xAA" * 352


def test_fxrstor_loads_xmm_and_checks_mxcsr() -> None:
    source = ENABLE + "mov dword [0x618], 0x3F80\n" + FXSAVE_SSE + """
    mov dword [0x2000 + 160], 0x55667788
    mov dword [0x2000 + 24], 0x1F80
    fxrstor [0x2000]
    mov dword [0x2000 + 24], 0x1FC0       ; DAZ: reserved on a Katmai
    fxrstor [0x2000]
"""
    dx, machine = vector_of(source)
    cpu = machine.cpu
    assert dx == 13 and cpu.mxcsr == 0x1F80
    assert cpu.xmm[0] == 0x55667788 and cpu.xmm[3] == int("11223344" * 4, 16)


def test_fxrstor_reaches_instructions_decoded_before_it() -> None:
    """The loop's block is decoded at its second pass and run again at the third:
    there ORPS reads the XMM1 the last FXRSTOR loaded (FXRSTOR replaced the
    register list decoded instructions read)."""
    source = ENABLE + """
    fxsave [0x2000]
    mov dword [0x2000 + 176], 0x12345678
    mov cx, 3
again:
    xorps xmm0, xmm0
    orps xmm0, xmm1
    movss [0x3000], xmm0
    add dword [0x2000 + 176], 1
    fxrstor [0x2000]
    loop again
"""
    dx, machine = vector_of(source)
    assert dx == 0xEEEE
    assert struct.unpack_from("<I", bytes(machine.bus.memory[0x3000:0x3004]))[0] == 0x1234567A


def test_cpuid_reports_a_katmai_with_sse() -> None:
    dx, machine = vector_of("mov eax, 1\ncpuid\nmov ebx, edx\nmov ecx, eax")
    cpu = machine.cpu
    assert cpu.get_reg("ecx") == 0x0673
    assert cpu.get_reg("ebx") & 0x03800000 == 0x03800000       # SSE, FXSR, MMX


def test_reset_state_and_snapshot_round_trip() -> None:
    machine = make_machine("pentium3", fpu=True)
    cpu = machine.cpu
    assert cpu.mxcsr == 0x1F80 and cpu.xmm == [0] * 8
    cpu.xmm[5] = (1 << 127) | 12345
    cpu.mxcsr = 0x7F80 | sf.PE
    data = cpu.snapshot()
    other = make_machine("pentium3", fpu=True).cpu
    other.restore(data)
    assert other.xmm[5] == (1 << 127) | 12345 and other.mxcsr == 0x7F80 | sf.PE
    assert other.snapshot() == data
    cpu.reset()
    assert cpu.mxcsr == 0x1F80 and cpu.xmm == [0] * 8


GUEST = os.path.join(os.path.dirname(__file__), "guests", "sse")


def test_sse_guest_against_qemu(tmp_path: Any) -> None:
    """tests/guests/sse: scalar operations with their MXCSR flags, a #XM, FXSAVE's
    SSE area, against QEMU 7.2 -cpu pentium3.  Where QEMU departs from the SDM (we
    follow the SDM): it sets no DE for a denormal operand, raises no #XM for an
    unmasked exception (it stores the masked result), and reports MXCSR_MASK FFFFh
    (DAZ; a Katmai has none: FFBFh)."""
    ours, qemu = boot_sector_guest_lines(GUEST, "sse.bin", "pentium3", tmp_path)
    assert len(ours) == len(qemu) and ours[-1] == "done"
    differences = {i: (mine, theirs) for i, (mine, theirs) in enumerate(zip(ours, qemu)) if mine != theirs}
    assert differences == {
        15: ("00000001 1F82", "00000001 1F80"),           # denormal operand: DE
        31: ("1D84 19", "00"),                              # #XM taken, MXCSR.ZE set
        32: ("3F800000", "7F800000"),                       # destination not written
        33: ("801F0000BFFF0000", "801F0000FFFF0000"),       # MXCSR_MASK without DAZ
        34: ("0000803F" + "0" * 56, "0000807F" + "0" * 56),  # XMM0: 1.0 (QEMU: infinity)
    }


def test_gcc_sse_kernel_matches_qemu(tmp_path: Any) -> None:
    """tests/guests/sse_gcc: gcc -m32 -msse -O2 float code (MOVAPS, MULPS, DIVPS,
    MAXPS, SHUFPS, CVTTSS2SI ...) prints the same as under QEMU 7.2 -cpu pentium3."""
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", "--kernel", os.path.join(os.path.dirname(__file__), "guests",
                                                              "sse_gcc", "kernel.elf"),
                   "--set", "cpu.model=pentium3", "--headless", "--quiet",
                   "--debugcon", f"file:{log}", "--max-instructions", "3000000"])
    assert status == 0
    with open(os.path.join(os.path.dirname(__file__), "guests", "sse_gcc", "expected_qemu.txt")) as handle:
        assert log.read_text(encoding="latin-1") == handle.read()
