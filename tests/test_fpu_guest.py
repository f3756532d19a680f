"""A guest of our own built with `gcc -m32 -O2` (tests/guests/x87mix: fpu.c, a
multiboot entry in entry.asm, build.sh) doing float, double and long double work,
rounding-mode and precision-control changes, compares (FCOMI/FUCOMI/FCMOV),
conversions and transcendentals, its results in hex on port E9h.

The expected bytes (tests/guests/x87mix/expected.txt) are QEMU's: produced with
`qemu-system-i386 -cpu pentium2 -m 32 -kernel fpu.elf -debugcon file:expected.txt
-display none` (QEMU 7.2, whose x87 follows the SDM's rounding and special
cases; the transcendental results are printed as floats because QEMU computes
them through the host's double functions)."""

import os

from pcmachine.cli import main

GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "x87mix")


def test_gcc_guest_prints_what_qemu_prints(tmp_path):
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", "--kernel", os.path.join(GUEST, "fpu.elf"), "--headless",
                   "--quiet", "--debugcon", f"file:{log}", "--max-instructions", "3000000",
                   "--set", "cpu.model=pentiumpro"])
    assert status == 0
    with open(os.path.join(GUEST, "expected.txt"), "rb") as handle:
        expected = handle.read()
    assert log.read_bytes() == expected
    assert expected.endswith(b"end\n")
