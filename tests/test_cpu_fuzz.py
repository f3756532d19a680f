"""Differential fuzzing against Unicorn (`machine fuzz`, core/fuzz.py).

Random instruction sequences in real mode, 16- and 32-bit protected mode and with
paging (ring 0 and 3, random U/S and R/W bits at both page-table levels) run in
both CPUs step by step; faults are compared (vector, error code, CR2, state), never
skipped.  Directed cases pin the bugs a mutation check found unguarded, and every
documented Unicorn difference is checked to still exist.
"""

import os
import platform
import random
import subprocess
import sys
from typing import Dict, Tuple

import pytest

from requirements import require_unicorn
from runtimes import default_run_on

require_unicorn()

from pcmachine import fuzz  # noqa: E402
from pcmachine.fuzz import (Case, Item, PAGED_DATA, PAGED_PAGES, STACK, Fuzzer,  # noqa: E402
                            KNOWN_DIFFERENCES, describe, instruction)

MACHINE = [sys.executable, "-c", "import sys; from pcmachine.cli import main; sys.exit(main())"]
PYPY = platform.python_implementation() == "PyPy"
#: cases per mode in the default run (each ~5 instructions; ~2 ms a case on CPython,
#: ~15 ms on PyPy, where Unicorn's ctypes calls are slow: fewer there, the directed
#: cases below guard the known bugs on both)
DEFAULT_COUNT = 500 if PYPY else 2000
#: cases per mode of the slow campaign (seed 1000; a tenth of it for each other CPU
#: model): PCMACHINE_FUZZ_COUNT, by default what runs in about ten minutes
SLOW_COUNT = int(os.environ.get("PCMACHINE_FUZZ_COUNT", 6000 if PYPY else 60000))
_FUZZERS: Dict[str, Fuzzer] = {}


def fuzzer(model: str = "pentiumpro") -> Fuzzer:
    if model not in _FUZZERS:
        _FUZZERS[model] = Fuzzer(model)
    return _FUZZERS[model]


def check(summary: fuzz.Summary, count: int, model: str = "pentiumpro") -> None:
    reports = []
    for index, mode, case, result in summary.failures[:3]:
        small = fuzzer(model).minimise(case)
        reports.append(f"case {index} ({mode}):\n" + describe(small, fuzzer(model).run_case(small)))
    assert summary.failed == 0, f"{summary.failed} of {count} cases differ:\n" + "\n\n".join(reports)


@default_run_on("PyPy")       # 69 s on CPython, 22 s on PyPy (tests/runtimes.py)
@pytest.mark.parametrize("mode", fuzz.MODES)
def test_random_sequences_match_unicorn(mode: str) -> None:
    summary = fuzz.fuzz(18, DEFAULT_COUNT, (mode,), fuzzer=fuzzer())
    check(summary, DEFAULT_COUNT)
    assert summary.passed == DEFAULT_COUNT
    # The instructions really ran and faults were compared, not skipped.
    assert summary.steps >= 3 * DEFAULT_COUNT
    assert sum(summary.faults.values()) >= DEFAULT_COUNT // 10
    expected = {"real": "#UD", "pm16": "#UD", "pm32": "#GP", "paged": "#PF"}[mode]
    assert summary.faults.get(expected, 0) >= 3, summary.faults


def test_every_case_has_instructions() -> None:
    # Case 786 of seed 18 in paged mode drew only HLTs at ring 0, which are left
    # out (both CPUs would stop): it compared nothing but the memory Unicorn's
    # start-up touches.
    assert all(fuzz.make_case(18, index, mode).items
               for mode in fuzz.MODES for index in range(1000))


@pytest.mark.slow
@pytest.mark.parametrize("mode", fuzz.MODES)
def test_many_random_sequences_match_unicorn(mode: str) -> None:
    summary = fuzz.fuzz(1000, SLOW_COUNT, (mode,), fuzzer=fuzzer())
    check(summary, SLOW_COUNT)
    assert summary.passed == SLOW_COUNT


@pytest.mark.slow
@pytest.mark.parametrize("model", ["80486", "pentium"])
def test_other_models_match_unicorn(model: str) -> None:
    count = max(SLOW_COUNT // 10, 1)
    summary = fuzz.fuzz(2000, count, fuzz.MODES, model=model, fuzzer=fuzzer(model))
    check(summary, 4 * count, model)


# ---------------------------------------------------------------------------- directed cases
def case(mode: str, code: bytes, cpl: int = 0, regs: Tuple[int, ...] = (0,) * 8, eflags: int = 2,
         pde1: int = 7, ptes: Tuple[int, ...] = (7,) * PAGED_PAGES, wp: bool = True) -> Case:
    regs = regs[:4] + (STACK + 0x8000 if mode != "real" else 0x8000,) + regs[5:]
    return Case(mode, cpl, (instruction(code),), regs, eflags, pde1, ptes, wp, None)


def compare(directed: Case) -> fuzz.Result:
    result = fuzzer().run_case(directed)
    assert result.mismatch is None, describe(directed, result)
    assert result.known is None, result.known
    return result


ZERO_SOURCE = [b"\x0F\xBC\xC1", b"\x0F\xBD\xC1", b"\x66\x0F\xBC\xC1", b"\x66\x0F\xBD\xC1",
               b"\x0F\xBD\x05\x00\x01\x02\x00"]      # [0x20100] (32-bit addressing; DS:0100 in real mode)


@pytest.mark.parametrize("code", ZERO_SOURCE, ids=lambda code: code.hex())
@pytest.mark.parametrize("mode", ["real", "pm32"])
def test_bsf_bsr_of_zero_set_zf_and_do_not_fault(mode: str, code: bytes) -> None:
    """SDM BSF/BSR: a zero source sets ZF and leaves the destination undefined (both
    CPUs keep it); no exception.  The memory form reads zeros."""
    if mode == "real" and code[2:3] == b"\x05":
        code = b"\x0F\xBD\x06\x00\x01"
    result = compare(case(mode, code, regs=(0x12345678, 0, 0, 0, 0, 0, 0, 0)))
    assert result.vector is None and result.steps == 1


@pytest.mark.parametrize("adc", [b"\x83\xD0\xFF", b"\x66\x83\xD0\xFF", b"\x14\xFF", b"\x83\xD8\xFF",
                                 b"\x11\xC8", b"\x19\xC8"], ids=lambda code: code.hex())
@pytest.mark.parametrize("reader", [b"\x72\x01\x90", b"\x0F\x92\xC3", b"\x9C\x5A", b"\x83\xD1\x00"],
                         ids=("jc", "setc", "pushf", "adc"))
def test_adc_sbb_with_carry_and_an_all_ones_operand(adc: bytes, reader: bytes) -> None:
    """ADC/SBB with CF set and an operand of all ones give a result equal to the
    first operand: CF is still set (ADD) or clear (SUB) - read back by JC, SETC,
    PUSHF and ADC, which take the flags by different paths."""
    code = b"\xF9" + adc + reader + b"\x90"
    for eax in (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1234):
        compare(Case("pm32", 0, split(code), (eax, 0xFFFFFFFF, 0, 0, STACK + 0x8000, 0, 0, 0), 2, 7,
                     (7,) * PAGED_PAGES, True, None))


#: (code, EAX, ECX, EDX, faults): quotients at both ends of the signed range
IDIV_EDGES = [(b"\xF7\xF9", 0x80000000, 1, 0, True),                   # +2^31
              (b"\xF7\xF9", 0x80000000, 0xFFFFFFFF, 0xFFFFFFFF, True),  # -2^31 / -1
              (b"\xF7\xF9", 0x80000000, 1, 0xFFFFFFFF, False),          # -2^31 fits
              (b"\x66\xF7\xF9", 0x8000, 1, 0, True),                    # +2^15
              (b"\xF6\xF9", 0x0080, 1, 0, True),                        # +2^7
              (b"\xF6\xF9", 0xFF80, 1, 0, False)]                       # -2^7 fits


@pytest.mark.parametrize("code, eax, ecx, edx, faults", IDIV_EDGES,
                         ids=[f"{code.hex()}-{eax:x}-{ecx:x}-{edx:x}" for code, eax, ecx, edx, _ in IDIV_EDGES])
def test_idiv_quotients_at_the_ends_of_the_signed_range(code: bytes, eax: int, ecx: int, edx: int,
                                                         faults: bool) -> None:
    """SDM IDIV: #DE when the quotient does not fit the destination; -2^(n-1)
    fits, +2^(n-1) does not."""
    result = compare(case("pm32", code, regs=(eax, ecx, edx, 0, 0, 0, 0, 0)))
    assert result.vector == (0 if faults else None)


def split(code: bytes, bits: int = 32) -> Tuple[Item, ...]:
    """One Item per instruction (capstone finds the boundaries)."""
    import capstone
    engine = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32 if bits == 32 else capstone.CS_MODE_16)
    return tuple(instruction(bytes(insn.bytes)) for insn in engine.disasm(code, 0))


def split16(code: bytes) -> Tuple[Item, ...]:
    return split(code, 16)


READ = b"\xA1" + (PAGED_DATA + 0x10).to_bytes(4, "little")
WRITE = b"\xA3" + (PAGED_DATA + 0x10).to_bytes(4, "little")
RMW = b"\x01\x05" + (PAGED_DATA + 0x10).to_bytes(4, "little")


@pytest.mark.parametrize("pde1", [0x0, 0x1, 0x3, 0x5, 0x7])
@pytest.mark.parametrize("pte0", [0x0, 0x1, 0x3, 0x5, 0x7])
@pytest.mark.parametrize("cpl", [0, 3])
def test_page_rights_at_both_levels(pde1: int, pte0: int, cpl: int) -> None:
    """Reads, writes and read-modify-writes under every combination of P, R/W and
    U/S in the directory and the table entry, at CPL 0 (CR0.WP set and clear) and 3:
    the fault (or none), its error code and CR2 must agree, and the flags of a
    faulting ADD must stay as they were."""
    ptes = (pte0,) + (7,) * (PAGED_PAGES - 1)
    for code in (READ, WRITE, RMW):
        for wp in ((True, False) if cpl == 0 else (True,)):
            result = fuzzer().run_case(case("paged", code, cpl, (0, 0x11, 0, 0, 0, 0, 0, 0), 0x8D7,
                                            pde1, ptes, wp))
            assert result.mismatch is None, describe(case("paged", code, cpl, pde1=pde1, ptes=ptes, wp=wp),
                                                     result)


def test_user_write_to_a_read_only_page_faults_with_the_flags_unchanged() -> None:
    result = compare(case("paged", b"\x83\x05" + (PAGED_DATA + 0x10).to_bytes(4, "little") + b"\x01",
                          3, eflags=0x8D7, ptes=(0x5,) + (7,) * (PAGED_PAGES - 1)))
    assert result.vector == 14


#: BT/BTS/BTR/BTC m, r with 16-bit addressing: [BX+SI] = FFFCh, the offset 58h
#: moves it by 8 bytes (dword) or 10 (word)
BIT_OFFSET_WRAP = [b"\x0F\xA3\x28", b"\x0F\xAB\x28", b"\x0F\xB3\x28", b"\x0F\xBB\x28",
                   b"\x66\x0F\xA3\x28", b"\x66\x0F\xBB\x28"]


@pytest.mark.parametrize("code", BIT_OFFSET_WRAP, ids=lambda code: code.hex())
@pytest.mark.parametrize("mode", fuzz.MODES)
def test_bit_offset_wraps_at_the_address_size(mode: str, code: bytes) -> None:
    """SDM BT: a register bit offset moves the effective address, which wraps at
    16 bits with a 16-bit address size (Bochs BT_EdGdM): [FFFCh] + 8 is [0004h].
    We added it to the linear address instead (found by `machine fuzz`, seed 1002)."""
    if mode in ("pm32", "paged"):
        code = b"\x67" + code
    elif code[0] == 0x66:
        code = code[1:]     # a dword operand in 16-bit code
    else:
        code = b"\x66" + code
    result = fuzzer().run_case(case(mode, code, regs=(0, 0, 0, 0xFFF0, 0, 0x58, 0xC, 0))._replace(memory_seed=5))
    assert result.mismatch is None and result.known is None, describe(case(mode, code), result)


def test_cr2_is_not_left_by_unicorn() -> None:
    """MOV r, CR2 with paging and no fault before reads 0 (its reset value) in both:
    an `until` address outside the page tables made Unicorn leave FFFFFFFEh there."""
    assert compare(case("paged", b"\x0F\x20\xD6")).vector is None
    assert compare(case("paged", b"\xA1" + (0x800010).to_bytes(4, "little"))).vector == 14
    assert compare(case("paged", b"\x0F\x20\xD6")).vector is None     # the next case starts at 0 again


def test_int_n_with_an_exception_vector_has_no_error_code() -> None:
    """INT 0Eh raises vector 14 without an error code (QEMU's exception_is_int)."""
    assert compare(case("pm32", b"\xCD\x0E", cpl=3)).vector == 14


def test_fault_in_a_later_iteration_of_a_rep_string() -> None:
    """REP MOVSB whose second iteration reads a supervisor page at CPL 3: #PF with
    SI/DI/CX at that iteration (Unicorn runs an iteration per start; its record of
    an exception in delivery is cleared before each, or the #PF became #DF)."""
    code = (b"\xBE" + (PAGED_DATA + 0xDFFF).to_bytes(4, "little") + b"\xBF" + (PAGED_DATA + 0xFFE).to_bytes(4, "little")
            + b"\xB9\x04\x00\x00\x00\xF3\xA4")
    ptes = (7,) * 13 + (5, 3, 7)
    directed = Case("paged", 3, split(code), (0, 0, 0, 0, STACK + 0x8000, 0, 0, 0), 2, 7, ptes, True, None)
    result = compare(directed)
    assert result.vector == 14 and result.steps == 4


def test_only_hlt_is_left_out_at_ring_0() -> None:
    """The filter looked at an item's last byte: MOV SI, 0F4xxh went, so a LODS
    read from a random SI (seed 1000, real mode, case 48002)."""
    generator = fuzz.Generator(random.Random(1), "real", 0)
    assert not generator.allowed(Item(b"\xF4")) and not generator.allowed(Item(b"\x66\xF4"))
    assert generator.allowed(Item(b"\xBE\x00\xF4", glued=True))
    assert fuzzer().run_case(fuzz.make_case(1000, 48002, "real")).mismatch is None


def test_writes_through_cs_in_real_mode_miss_the_code() -> None:
    """AND CS:[BX+SI] wrapped to offset 12h, the case's own code: Unicorn restarts an
    instruction that writes its translation block (seed 1006, real mode, case 9735)."""
    generator = fuzz.Generator(random.Random(1), "real", 0)
    generator.through_code = True
    assert min(generator.address() for _ in range(1000)) >= 0x1000
    assert fuzzer().run_case(fuzz.make_case(1006, 9735, "real")).mismatch is None


def test_a_pushed_segment_read_back_is_the_known_difference() -> None:
    """PUSH FS with a 32-bit operand then POP ESI: we keep the slot's upper half
    (random stack data), Unicorn zero-extends; matched by `push-segment-dword`."""
    result = fuzzer().run_case(Case("real", 0, split16(b"\x66\x0F\xA0\x66\x5E"), (0, 0, 0, 0, 0x8000, 0, 0, 0),
                                    2, 7, (7,) * PAGED_PAGES, True, 5))
    assert result.mismatch is None and result.known == "push-segment-dword"


# ---------------------------------------------------------------------------- known differences
@pytest.mark.parametrize("known", KNOWN_DIFFERENCES, ids=lambda known: known.name)
def test_known_unicorn_differences_still_exist(known: fuzz.KnownDifference) -> None:
    """Each documented difference is shown by its witness and matched by its own
    rule only: if Unicorn changes, the entry must go."""
    result = fuzzer(known.witness.model).run_case(known.witness.case())
    assert result.mismatch is None
    assert result.known == known.name


def test_known_differences_are_documented() -> None:
    import os
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "cpu.md"), encoding="utf-8") as handle:
        text = handle.read()
    for known in KNOWN_DIFFERENCES:
        assert f"`{known.name}`" in text, known.name


def test_a_planted_difference_is_reported_and_minimised(monkeypatch) -> None:
    """The comparison can fail: an ADD that forgets to set CF is caught, and the
    reproduction is cut down to that instruction."""
    from pcmachine.plugins.cpu import alu
    original = alu.lazy_flags

    def broken(op, a, b, res, mask):
        return original(op, a, b, res, mask) & ~1 if op == alu.L_ADD else original(op, a, b, res, mask)
    monkeypatch.setattr(alu, "lazy_flags", broken)
    planted = Case("pm32", 0, (Item(b"\x90"), Item(b"\x01\xC8"), Item(b"\x90")),
                   (0xFFFFFFFF, 1, 0, 0, STACK + 0x8000, 0, 0, 0), 2, 7, (7,) * PAGED_PAGES, True, None)
    result = fuzzer().run_case(planted)
    assert result.mismatch is not None and "eflags" in result.mismatch.text
    small = fuzzer().minimise(planted)
    assert [item.code for item in small.items] == [b"\x01\xC8"]
    assert "add eax, ecx" in describe(small, fuzzer().run_case(small))


def test_command_line() -> None:
    run = subprocess.run(MACHINE + ["fuzz", "--count", "5", "--mode", "paged", "--seed", "3"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed, 0 failed" in run.stdout
    bad = subprocess.run(MACHINE + ["fuzz", "--count", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("mode", ["real", "pm32"])
def test_a_single_step_trap_waits_an_instruction_after_pop_ss(mode: str) -> None:
    """SDM vol. 3A 6.8.3: after MOV SS / POP SS, debug exceptions (the single-step
    trap of a TF that POPF set) wait for the boundary after the next instruction
    (seed 1000, real-mode case 147078: we trapped right after POP SS)."""
    push_tf = b"\x68\x02\x01\x00\x00"[:3 if mode == "real" else 5]
    result = compare(case(mode, b"\x16" + push_tf + b"\x9D\x17\x90\x90"))   # PUSH SS, PUSH, POPF, POP SS, NOP
    assert result.vector == 1 and result.steps == 5
