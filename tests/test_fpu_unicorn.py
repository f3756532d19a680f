"""x87 differential test against unicorn (QEMU's floatx80 soft-float).

Random operands drawn from every class (zeros, denormals, normals over the
whole exponent range and near its ends, infinities, QNaNs, SNaNs, integers and
memory-format values near rounding boundaries) go through one x87 instruction
in both CPUs under a random rounding and precision control, all exceptions
masked.  The stored results (ST(0), ST(1), the memory destination), the
exception flags and, where the instruction defines them, the condition codes
and EFLAGS must agree.  Fixed seed and a small count by default; a large count
under `-m slow`.

Where unicorn's x87 (QEMU 5.0) is known to differ from the SDM the comparison
is narrowed and docs/cpu.md lists the difference (`known_deviation`).  Unicorn
keeps no x87 exception flags (its QEMU predates the status-word fixes of QEMU
5.1), so only results and condition codes are compared here; the flags are
covered by tests/test_fpu.py from the SDM's tables.
"""

import random
import struct
from typing import List, Optional, Tuple

import pytest

from requirements import require_unicorn  # noqa: E402

require_unicorn()
import unicorn  # noqa: E402
from unicorn import x86_const as ucx  # noqa: E402

from cpu_support import load_flat, make_machine  # noqa: E402

CODE = 0x30000
DATA = 0x1000
CW_AT, SW_AT, A_AT, B_AT, MEM_AT, OUT0, OUT1, MOUT, GUARD = (
    DATA, DATA + 2, DATA + 0x10, DATA + 0x20, DATA + 0x30, DATA + 0x40, DATA + 0x50, DATA + 0x60,
    DATA + 0x70)
#: two values under the operands, so that pops leave no empty register to store
#: (unicorn has no stack-fault checks)
GUARDS = ((0x4000 << 64) | (1 << 63), (0x4000 << 64) | (3 << 62))
IE, DE, ZE, OE, UE, PE = 1, 2, 4, 8, 0x10, 0x20
C0, C1, C2, C3 = 0x100, 0x200, 0x400, 0x4000
CF, PF, ZF = 0x1, 0x4, 0x40


def modrm_abs(opcode: int, reg: int, address: int) -> bytes:
    """opcode with a [disp32] operand (32-bit addressing, mod 00 rm 101)."""
    return bytes([opcode, (reg << 3) | 5]) + address.to_bytes(4, "little")


# name -> (code, memory operand format or None, compared status bits)
ARITH = {
    "fadd": bytes([0xD8, 0xC1]), "fmul": bytes([0xD8, 0xC9]), "fsub": bytes([0xD8, 0xE1]),
    "fsubr": bytes([0xD8, 0xE9]), "fdiv": bytes([0xD8, 0xF1]), "fdivr": bytes([0xD8, 0xF9]),
    "faddp": bytes([0xDE, 0xC1]), "fsubp": bytes([0xDE, 0xE9]), "fdivrp": bytes([0xDE, 0xF1]),
    "fsqrt": bytes([0xD9, 0xFA]), "frndint": bytes([0xD9, 0xFC]), "fchs": bytes([0xD9, 0xE0]),
    "fabs": bytes([0xD9, 0xE1]), "fxch": bytes([0xD9, 0xC9]), "fxtract": bytes([0xD9, 0xF4]),
}
COMPARE = {
    "fcom": bytes([0xD8, 0xD1]), "fucom": bytes([0xDD, 0xE1]), "fcompp": bytes([0xDE, 0xD9]),
    "fucompp": bytes([0xDA, 0xE9]), "ftst": bytes([0xD9, 0xE4]), "fxam": bytes([0xD9, 0xE5]),
}
COMI = {"fcomi": bytes([0xDB, 0xF1]), "fucomi": bytes([0xDB, 0xE9]), "fcomip": bytes([0xDF, 0xF1]),
        "fucomip": bytes([0xDF, 0xE9])}
MEMORY = {
    "fadd_m32": (modrm_abs(0xD8, 0, MEM_AT), "f32"), "fmul_m64": (modrm_abs(0xDC, 1, MEM_AT), "f64"),
    "fsub_m64": (modrm_abs(0xDC, 4, MEM_AT), "f64"), "fdivr_m32": (modrm_abs(0xD8, 7, MEM_AT), "f32"),
    "fiadd_m32": (modrm_abs(0xDA, 0, MEM_AT), "i32"), "fidiv_m16": (modrm_abs(0xDE, 6, MEM_AT), "i16"),
    "fcom_m64": (modrm_abs(0xDC, 2, MEM_AT), "f64"), "ficom_m32": (modrm_abs(0xDA, 2, MEM_AT), "i32"),
    "fld_m32": (modrm_abs(0xD9, 0, MEM_AT), "f32"), "fld_m64": (modrm_abs(0xDD, 0, MEM_AT), "f64"),
    "fild_m16": (modrm_abs(0xDF, 0, MEM_AT), "i16"), "fild_m32": (modrm_abs(0xDB, 0, MEM_AT), "i32"),
    "fild_m64": (modrm_abs(0xDF, 5, MEM_AT), "i64"), "fbld": (modrm_abs(0xDF, 4, MEM_AT), "bcd"),
    "fst_m32": (modrm_abs(0xD9, 2, MOUT), None), "fstp_m64": (modrm_abs(0xDD, 3, MOUT), None),
    "fist_m16": (modrm_abs(0xDF, 2, MOUT), None), "fist_m32": (modrm_abs(0xDB, 2, MOUT), None),
    "fistp_m64": (modrm_abs(0xDF, 7, MOUT), None), "fbstp": (modrm_abs(0xDF, 6, MOUT), None),
}


def random_ext(rng: random.Random) -> int:
    """An 80-bit operand of a random class."""
    sign = rng.randrange(2) << 79
    kind = rng.random()
    sig = rng.randrange(1 << 63, 1 << 64)
    if rng.random() < 0.3:
        sig &= ~((1 << rng.randrange(64)) - 1)      # short significands: exact cases
    if kind < 0.05:
        return sign
    if kind < 0.10:
        return sign | rng.randrange(1, 1 << 63)                           # denormal
    if kind < 0.15:
        return sign | (0x7FFF << 64) | (1 << 63)                          # infinity
    if kind < 0.19:
        return sign | (0x7FFF << 64) | (3 << 62) | rng.randrange(1 << 62)  # QNaN
    if kind < 0.23:
        return sign | (0x7FFF << 64) | (1 << 63) | rng.randrange(1, 1 << 62)  # SNaN
    if kind < 0.30:
        exp = rng.choice((rng.randrange(1, 70), rng.randrange(0x7FFF - 70, 0x7FFF)))
        return sign | (exp << 64) | sig
    if kind < 0.40:
        return sign | (rng.randrange(1, 0x7FFF) << 64) | sig
    if kind < 0.55:           # around the float/double ranges
        exp = 16383 + rng.choice((rng.randrange(-130, 130), rng.randrange(-1030, 1030)))
        return sign | (exp << 64) | sig
    return sign | ((16383 + rng.randrange(-70, 70)) << 64) | sig          # near 1, integers


def random_memory(rng: random.Random, fmt: str) -> bytes:
    if fmt == "f32":
        special = [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0x00000001,
                   0x007FFFFF, 0x3F800000]
        value = rng.choice(special) if rng.random() < 0.3 else rng.randrange(1 << 32)
        return value.to_bytes(4, "little")
    if fmt == "f64":
        special = [0, 1 << 63, 0x7FF0 << 48, 0xFFF0 << 48, 0x7FF8 << 48, (0x7FF0 << 48) | 1, 1,
                   0x3FF0 << 48]
        value = rng.choice(special) if rng.random() < 0.3 else rng.randrange(1 << 64)
        return value.to_bytes(8, "little")
    if fmt == "bcd":
        digits = [rng.randrange(10) for _ in range(18)]
        out = bytearray((digits[2 * i] << 4) | digits[2 * i + 1] for i in range(9))
        return bytes(out) + bytes([rng.choice((0, 0x80))])
    size = int(fmt[1:]) // 8
    value = rng.randrange(1 << (8 * size))
    if rng.random() < 0.3:
        value = rng.choice((0, 1, (1 << (8 * size - 1)), (1 << (8 * size)) - 1))
    return value.to_bytes(size, "little")


def store_operand_value(rng: random.Random) -> int:
    """Operands for stores: integers with fractions and values near the
    float/double/integer limits as well as the general mix."""
    if rng.random() < 0.5:
        return random_ext(rng)
    sign = rng.randrange(2) << 79
    exp = 16383 + rng.choice((rng.randrange(-5, 64), rng.randrange(120, 130),
                              rng.randrange(-152, -120), rng.randrange(1020, 1026),
                              rng.randrange(-1080, -1018)))
    return sign | (exp << 64) | rng.randrange(1 << 63, 1 << 64)


class FpuDiffer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.machine = make_machine("pentiumpro", fpu=True)
        self.cpu = self.machine.cpu
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_32)
        self.uc.mem_map(0, 0x100000)

    def program(self, op: bytes) -> bytes:
        return (bytes([0xDB, 0xE3]) + modrm_abs(0xD9, 5, CW_AT) + modrm_abs(0xDB, 5, GUARD)
                + modrm_abs(0xDB, 5, GUARD + 10) + modrm_abs(0xDB, 5, B_AT)
                + modrm_abs(0xDB, 5, A_AT) + op + modrm_abs(0xDD, 7, SW_AT)
                + modrm_abs(0xDB, 7, OUT0) + modrm_abs(0xDB, 7, OUT1) + b"\xF4")

    def run_ours(self, code: bytes, data: bytes) -> Tuple[bytes, int]:
        machine, cpu = self.machine, self.cpu
        load_flat(machine, code, CODE, data, DATA)
        cpu.set_reg("eip", CODE)
        cpu.set_reg("eflags", 2)
        cpu.rebuild()
        cpu.halted = False
        self.machine.clock.stop_icount = self.machine.clock.icount + 14
        cpu.run()
        return bytes(machine.bus.memory[DATA:DATA + len(data)]), cpu.get_reg("eflags")

    def run_unicorn(self, code: bytes, data: bytes) -> Tuple[bytes, int]:
        uc = self.uc
        uc.mem_write(DATA, data)
        uc.mem_write(CODE, code)
        uc.ctl_remove_cache(CODE, CODE + 0x80)
        uc.reg_write(ucx.UC_X86_REG_EFLAGS, 2)
        uc.emu_start(CODE, CODE + len(code) - 1)
        return bytes(uc.mem_read(DATA, len(data))), uc.reg_read(ucx.UC_X86_REG_EFLAGS)

    def case(self, name: str) -> Optional[str]:
        rng = self.rng
        rc, pc = rng.randrange(4), rng.choice((0, 2, 3))
        cw = 0x3F | 0x40 | (pc << 8) | (rc << 10)
        a, b = random_ext(rng), random_ext(rng)
        memory = bytes(10)
        status_mask = 0
        compare_flags = False
        if name in ARITH:
            op = ARITH[name]
            if name in ("fdiv", "fdivr", "fdivrp") and rng.random() < 0.2:
                b = rng.randrange(2) << 79
        elif name in COMPARE:
            op = COMPARE[name]
            status_mask |= C0 | C2 | C3 | (C1 if name == "fxam" else 0)
            if rng.random() < 0.3:
                b = a ^ (rng.randrange(2) << 79)
        elif name in COMI:
            op = COMI[name]
            compare_flags = True
            if rng.random() < 0.3:
                b = a
        else:
            op, fmt = MEMORY[name]
            if fmt is None:
                a = store_operand_value(rng)
            else:
                memory = random_memory(rng, fmt).ljust(10, b"\0")
        data = bytearray(0x90)
        for k, guard in enumerate(GUARDS):
            data[GUARD - DATA + 10 * k:GUARD - DATA + 10 * k + 10] = guard.to_bytes(10, "little")
        struct.pack_into("<H", data, CW_AT - DATA, cw)
        data[A_AT - DATA:A_AT - DATA + 10] = a.to_bytes(10, "little")
        data[B_AT - DATA:B_AT - DATA + 10] = b.to_bytes(10, "little")
        data[MEM_AT - DATA:MEM_AT - DATA + 10] = memory
        code = self.program(op)
        expected, expected_flags = self.run_unicorn(code, bytes(data))
        actual, actual_flags = self.run_ours(code, bytes(data))
        problems = []
        for label, at, size in (("st0", OUT0, 10), ("st1", OUT1, 10), ("mem", MOUT, 10)):
            e, g = expected[at - DATA:at - DATA + size], actual[at - DATA:at - DATA + size]
            if e != g and not known_deviation(name, label, a, e, g):
                problems.append(f"{label} {e[::-1].hex()} != {g[::-1].hex()}")
        e_sw, g_sw = (struct.unpack_from("<H", blob, SW_AT - DATA)[0] for blob in (expected, actual))
        if (e_sw ^ g_sw) & status_mask:
            problems.append(f"sw {e_sw:#06x} != {g_sw:#06x} (mask {status_mask:#x})")
        if compare_flags and (expected_flags ^ actual_flags) & (CF | PF | ZF):
            problems.append(f"eflags {expected_flags:#x} != {actual_flags:#x}")
        if problems:
            return (f"{name} cw={cw:#06x} a={a:020x} b={b:020x} mem={memory.hex()}: "
                    + "; ".join(problems))
        return None


def known_deviation(name: str, label: str, a: int, expected: bytes, actual: bytes) -> bool:
    """Results where unicorn (QEMU 5.0's x87) departs from the SDM; docs/cpu.md
    lists them.  Everything else must agree bit for bit."""
    exp_a = (a >> 64) & 0x7FFF
    if name == "fbstp" and label == "mem" and expected[:9] == actual[:9] == bytes(9):
        # FBSTP of a negative value that rounds to zero stores -0 (SDM FBSTP table);
        # unicorn drops the sign
        return actual[9] == 0x80 and expected[9] == 0
    if name == "fbstp" and label == "mem" and actual == INDEFINITE_BCD:
        # NaN, infinity or |x| >= 10**18: the packed BCD indefinite (SDM FBSTP);
        # unicorn stores digits of its int64 conversion
        return exp_a == 0x7FFF or exp_a >= 16383 + 59
    if name == "fxtract" and (exp_a == 0x7FFF or (exp_a == 0 and a & ((1 << 64) - 1))):
        # FXTRACT of an infinity gives the infinity and +inf, of a NaN the NaN
        # twice, of a denormal its normalized significand and true exponent
        # (SDM); unicorn takes them apart as if they were normal numbers
        return True
    if name in ("fld_m32", "fld_m64", "fst_m32", "fstp_m64"):
        # an SNaN converted between formats becomes a QNaN (SDM 4.8.3.4, FLD, FST);
        # unicorn keeps it signalling
        difference = int.from_bytes(expected, "little") ^ int.from_bytes(actual, "little")
        return difference in (1 << 62, 1 << 22, 1 << 51)
    return False


INDEFINITE_BCD = bytes([0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF])


def run_differential(count: int, seed: int) -> List[str]:
    differ = FpuDiffer(seed)
    names = sorted(ARITH) + sorted(COMPARE) + sorted(COMI) + sorted(MEMORY)
    failures = []
    for i in range(count):
        failure = differ.case(names[i % len(names)])
        if failure:
            failures.append(failure)
    return failures


def test_x87_matches_unicorn() -> None:
    failures = run_differential(1500, seed=87)
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:30])


@pytest.mark.slow
def test_x87_matches_unicorn_many() -> None:
    failures = run_differential(40_000, seed=387)
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:30])
