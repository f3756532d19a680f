"""Property test: our decoder against capstone on random byte strings.

For every byte string that both decoders accept as an instruction, the lengths
and the mnemonics must agree (prefix words such as rep/lock are compared
separately from the name).  x87 escapes are skipped: without an FPU component the
CPU decodes them only for their length."""

import pytest

from requirements import require_module

capstone = require_module("capstone")
hypothesis = require_module("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from cpu_support import make_machine  # noqa: E402
from pcmachine.plugins.cpu.mnemonics import disassemble_at  # noqa: E402

CODE = 0x10000
PREFIX_WORDS = {"rep", "repe", "repz", "repne", "repnz", "lock", "bnd", "notrack", "data16",
                "addr32", "xacquire", "xrelease"}
#: Where capstone 5 names an instruction differently from the SDM, and why.
CAPSTONE_QUIRKS = {
    # 16-bit mode without 66h: capstone prints the 32-bit names for CBW/CWD.
    (16, "cbw"): {"cwde"}, (16, "cwd"): {"cdq"},
    # Far indirect CALL/JMP with a 32-bit operand: capstone drops the "l".
    (16, "ljmp"): {"jmp"}, (16, "lcall"): {"call"}, (32, "ljmp"): {"jmp"},
    (32, "lcall"): {"call"},
    # 0F 1A-0F 1C with a memory operand, F3 0F 1E: reserved NOPs on a P6, MPX,
    # CLDEMOTE and CET later.
    **{(bits, "nop"): {"bndldx", "bndstx", "bndmov", "cldemote", "endbr32", "endbr64", "rdsspd"}
       for bits in (16, 32)},
    # CMPPS/CMPSS/CMPPD/CMPSD: capstone prints the SDM's pseudo-op for the predicate
    # (CMPLTPS ...).
    **{(bits, "cmp" + form): {f"cmp{predicate}{form}" for predicate in (
        "eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord")}
       for bits in (16, 32) for form in ("ps", "ss", "pd", "sd")},
}
PREFIXES = {0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65}


def mandatory_prefix_form(code: bytes) -> bool:
    """F2/F3 in front of a 0F opcode select other instructions on later processors
    (TZCNT, LZCNT, WBNOINVD, POPCNT ...); these models ignore the prefix there, so
    only the length is comparable."""
    seen = set()
    for i, byte in enumerate(code):
        if byte not in PREFIXES:
            return bool(seen & {0xF2, 0xF3}) and byte == 0x0F
        seen.add(byte)
    return False


class Checker:
    def __init__(self, bits: int, model: str = "pentiumpro") -> None:
        self.bits = bits
        self.machine = make_machine(model, fpu=model in ("pentium2", "pentium3", "pentium4"))
        #: with SSE2, F2/F3 select instructions whose names are compared too
        self.mandatory_prefixes = model == "pentium4"
        cpu = self.machine.cpu
        cpu.load_segment(1, CODE >> 4)
        if bits == 32:
            cpu.seg_flags[1] |= 0x4000
            cpu.seg_limit[1] = 0xFFFFFFFF
        cpu.rebuild()
        mode = capstone.CS_MODE_16 if bits == 16 else capstone.CS_MODE_32
        self.md = capstone.Cs(capstone.CS_ARCH_X86, mode)

    def check(self, code: bytes) -> bool:
        """Compare one instruction; returns True when both decoders accepted it."""
        self.machine.bus.memory[CODE:CODE + len(code)] = code
        ours = disassemble_at(self.machine.cpu, 0)
        theirs = next(self.md.disasm(code, 0), None)
        if ours is None or theirs is None:
            return False
        length, name = ours
        if name == "esc":
            return False
        words = theirs.mnemonic.split()
        base = [w for w in words if w not in PREFIX_WORDS]
        their_name = base[-1] if base else words[-1]
        if their_name in CAPSTONE_QUIRKS.get((self.bits, name), ()) or \
                (mandatory_prefix_form(code) and not self.mandatory_prefixes):
            their_name = name
        assert (length, name) == (theirs.size, their_name), (
            f"{self.bits}-bit {code.hex()}: ours {length} {name!r}, capstone {theirs.size} "
            f"{theirs.mnemonic!r} {theirs.op_str}")
        return True


CHECKERS = {}


def checker(bits: int) -> Checker:
    if bits not in CHECKERS:
        CHECKERS[bits] = Checker(bits)
    return CHECKERS[bits]


instruction_bytes = st.one_of(
    st.binary(min_size=15, max_size=15),
    st.tuples(st.sampled_from([b"", b"\x66", b"\x67", b"\x66\x67", b"\xF3", b"\xF0", b"\x2E"]),
              st.sampled_from([b"", b"\x0F"]), st.binary(min_size=13, max_size=13)).map(b"".join),
)


@pytest.mark.heavy(19)
@pytest.mark.parametrize("bits", [16, 32])
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(code=instruction_bytes)
def test_decoder_matches_capstone(bits: int, code: bytes) -> None:
    checker(bits).check(code)


@pytest.mark.slow
@pytest.mark.parametrize("bits", [16, 32])
@settings(max_examples=6000, deadline=None, suppress_health_check=list(HealthCheck))
@given(code=instruction_bytes)
def test_decoder_matches_capstone_many(bits: int, code: bytes) -> None:
    checker(bits).check(code)


def test_checker_compares_real_instructions() -> None:
    """The property is not vacuous: ordinary instructions are compared."""
    assert checker(16).check(bytes.fromhex("0340fe") + bytes(12))
    assert checker(32).check(bytes.fromhex("0fb6c1") + bytes(12))


@pytest.mark.parametrize("bits", [16, 32])
def test_mmx_and_fxsave_match_capstone(bits: int) -> None:
    """pentium2: every MMX opcode and 0F AE with every ModRM byte, no prefixes."""
    mmx = Checker(bits, "pentium2")
    from pcmachine.plugins.cpu.ops_mmx import BINARY, IMMEDIATE_SHIFTS
    opcodes = sorted(BINARY) + sorted(IMMEDIATE_SHIFTS) + [0x6E, 0x6F, 0x77, 0x7E, 0x7F, 0xAE]
    compared = 0
    for opcode in opcodes:
        for modrm in range(256):
            compared += mmx.check(bytes([0x0F, opcode, modrm]) + bytes(range(1, 13)))
    assert compared > 40 * 256


@pytest.mark.parametrize("bits", [16, 32])
def test_sse_matches_capstone(bits: int) -> None:
    """pentium3: every SSE opcode with every ModRM byte, without a prefix and with F3
    (the scalar forms: only their lengths, see `mandatory_prefix_form`)."""
    sse = Checker(bits, "pentium3")
    from pcmachine.plugins.cpu.ops_sse import ARITHMETIC, LOGIC, MMX_EXTENSIONS, PERMUTE
    opcodes = sorted({0x10, 0x11, 0x12, 0x13, 0x16, 0x17, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D,
                      0x2E, 0x2F, 0x50, 0x51, 0x52, 0x53, 0xC2, 0xC4, 0xC5, 0xD7, 0xE7, 0xF7,
                      *ARITHMETIC, *LOGIC, *PERMUTE, *MMX_EXTENSIONS})
    compared = 0
    for prefix in (b"", b"\xF3"):
        for opcode in opcodes:
            for modrm in range(256):
                compared += sse.check(prefix + bytes([0x0F, opcode, modrm]) + bytes(range(1, 13)))
    assert compared > 50 * 256


@pytest.mark.parametrize("bits", [16, 32])
def test_sse2_matches_capstone(bits: int) -> None:
    """pentium4: every opcode with an SSE2 form and every ModRM byte, without a prefix
    and with 66, F2, F3 (names compared), and the prefix orders where the last F2/F3
    wins over a 66 and over the other.  In 16-bit code capstone 5 takes a 66 for an
    operand-size prefix alone (MOVUPS for 66 0F 10; NASM's BITS 16 MOVUPD is 66 0F 10
    too): the 66 forms are compared in 32-bit code only."""
    sse2 = Checker(bits, "pentium4")
    from pcmachine.plugins.cpu.ops_sse2 import FORMS
    opcodes = sorted({opcode for _, opcode in FORMS})
    compared = 0
    prefixes = (b"", b"\xF2", b"\xF3", b"\xF3\xF2", b"\x66\xF3", b"\xF2\x66", b"\x66")
    for prefix in prefixes[:4] if bits == 16 else prefixes:
        for opcode in opcodes:
            for modrm in range(256):
                compared += sse2.check(prefix + bytes([0x0F, opcode, modrm]) + bytes(range(1, 13)))
    assert compared > (120 if bits == 16 else 200) * 256
