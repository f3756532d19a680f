"""x87 against QEMU 7.2 (whose x87 keeps the exception flags, unlike unicorn's):
a guest of our own (tests/guests/x87rand: x87rand.c, gcc -m32 -O2, multiboot
entry) runs 3,000 random-operand cases (every operand class, every rounding and
precision control, all exceptions masked; arithmetic, FSQRT, FRNDINT, FSCALE,
FPREM/FPREM1, FXTRACT, compares, FXAM, stores to every memory format, loads)
and prints operands, results and the status word for each.

The expected output (tests/guests/x87rand/expected_qemu.txt) was produced with
`qemu-system-i386 -cpu pentium2 -m 32 -kernel x87rand.elf -debugcon
file:expected_qemu.txt -display none` (QEMU 7.2.22, Debian 12).  Every line must
match, except where QEMU departs from the SDM; each accepted difference is
checked to be exactly that departure (docs/cpu.md lists them):

* QEMU sets neither C1 ("rounded up", SDM 8.1.3.3) nor DE for denormal operands
  (SDM 4.9.1.2): a line may differ in those two status bits only;
* FSQRT of a negative number sets C2 in QEMU (undefined by the SDM);
* QEMU rounds to the precision control where the SDM (8.1.5.2) says it does not
  apply: FLD m32/m64, FRNDINT, FPREM/FPREM1 results (with PE), and the memory
  operands of arithmetic.  There QEMU's value must be ours rounded to 24/53 bits
  with the same rounding mode (for the memory-operand arithmetic, whose operand
  is rounded before the operation, the line is not compared under PC 24/53;
  QEMU's FPREM quotient bits then follow its rounded remainder);
* FPREM/FPREM1 partial remainders (C2=1) depend on the implementation's
  reduction step (SDM: "between 32 and 63"): both must report C2=1;
* FSCALE with a NaN in ST(1) returns that NaN in QEMU; the SDM's NaN rules
  (table 4-7) choose by kind and significand.
"""

import os
from fractions import Fraction

import pytest

from pcmachine.cli import main

GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "x87rand")
OPS = ("fadd fsub fsubr fmul fdiv fdivr fsqrt frndint fscale fprem fprem1 fxtract fcom fucom "
       "fxam ftst fsts fstl fists fistl fistpll fbstp flds fldl fadds fmull fidivl fcoms fchs "
       "fsubrl").split()
PC_ROUNDED_BY_QEMU = {"flds", "fldl", "frndint", "fprem", "fprem1"}
MEMORY_ARITHMETIC = {"fadds", "fmull", "fidivl", "fsubrl", "fcoms"}
C0, C1, C2, C3, DE, UE, PE = 0x100, 0x200, 0x400, 0x4000, 0x2, 0x10, 0x20


def round_to_precision(raw: int, bits: int, rc: int) -> int:
    """An 80-bit finite non-zero value rounded to `bits` significant bits
    (written independently of the emulator's code)."""
    sign, exp, mant = raw >> 79, (raw >> 64) & 0x7FFF, raw & ((1 << 64) - 1)
    if exp == 0x7FFF or mant == 0:
        return raw
    # a denormal's significand field has the same weights as the smallest
    # normal's, so both round at the same bit position
    shift = 64 - bits
    kept, rest = mant >> shift, Fraction(mant & ((1 << shift) - 1), 1 << shift)
    up = {0: rest > Fraction(1, 2) or (rest == Fraction(1, 2) and kept & 1),
          1: rest > 0 and sign, 2: rest > 0 and not sign, 3: False}[rc]
    kept += int(bool(up))
    if kept >> bits:
        kept >>= 1
        exp += 1
    if exp == 0 and kept >> (bits - 1):
        exp = 1                                  # rounded up to the smallest normal
    return (sign << 79) | (exp << 64) | (kept << shift)


def accepted(name: str, theirs: list, ours: list) -> bool:
    """Whether a differing line is one of QEMU's documented departures."""
    cw = int(theirs[1], 16)
    pc, rc = (cw >> 8) & 3, (cw >> 10) & 3
    sw_diff = int(theirs[7], 16) ^ int(ours[7], 16)
    results_equal = theirs[5:7] == ours[5:7] and theirs[8] == ours[8]
    if results_equal and not sw_diff & ~(C1 | DE | (C2 if name == "fsqrt" else 0)):
        return True
    if pc != 3 and name in MEMORY_ARITHMETIC:
        return True
    if name in ("fprem", "fprem1") and int(theirs[7], 16) & int(ours[7], 16) & C2:
        return True
    if pc != 3 and name in PC_ROUNDED_BY_QEMU and theirs[6] == ours[6]:
        ours_rounded = round_to_precision(int(ours[5], 16), 24 if pc == 0 else 53, rc)
        # (QEMU's FPREM quotient bits C0/C3/C1 follow its rounded remainder)
        quotient = C0 | C1 | C3 if name in ("fprem", "fprem1") else 0
        return ours_rounded == int(theirs[5], 16) and not sw_diff & ~(C1 | DE | PE | UE | quotient)
    if name == "fscale" and (int(theirs[3], 16) >> 64) & 0x7FFF == 0x7FFF:
        return int(theirs[3], 16) & ((1 << 63) - 1) != 0       # ST(1) is a NaN
    return False


@pytest.mark.heavy(16)
def test_random_x87_cases_match_qemu(tmp_path):
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", "--kernel", os.path.join(GUEST, "x87rand.elf"), "--headless",
                   "--quiet", "--debugcon", f"file:{log}", "--max-instructions", "60000000",
                   "--set", "cpu.model=pentiumpro"])
    assert status == 0
    with open(os.path.join(GUEST, "expected_qemu.txt")) as handle:
        expected = handle.read().split("\n")
    actual = log.read_text().split("\n")
    assert len(actual) == len(expected) and expected[-2] == "END"
    failures = []
    for theirs_line, ours_line in zip(expected, actual):
        if theirs_line == ours_line:
            continue
        theirs, ours = theirs_line.split(), ours_line.split()
        name = OPS[int(theirs[0], 16) % len(OPS)]
        if not accepted(name, theirs, ours):
            failures.append(f"{name}: qemu {theirs_line}\n{' ' * (len(name) + 2)}ours {ours_line}")
    assert not failures, f"{len(failures)} lines differ:\n" + "\n".join(failures[:20])
