"""test386.asm (github.com/barotto/test386.asm), the 80386 test ROM, run as the ROM
BIOS of `machines/test386.yaml`: the last POST code on port 0x190 must be 0xFF and
the text on port 0xE9 byte-identical to the reference output in the shared folder
(`$PCMACHINE_SHARED/test386/test386-EE-reference.txt`).

The ROM is third-party: build it yourself (docs/cpu.md, "test386.asm") and point
PCMACHINE_TEST386_ROM at the binary; without it the test is skipped.  A run takes
about three minutes of CPU time on CPython."""

import os

import pytest

from pcmachine import compat
from pcmachine.machine import Machine

ROM_VARIABLE = "PCMACHINE_TEST386_ROM"
#: The whole ROM with margin (it halts after 79.7 M instructions on our 80386).
INSTRUCTION_LIMIT = 200_000_000


def test_test386_rom_passes() -> None:
    rom = os.environ.get(ROM_VARIABLE)
    if not rom:
        pytest.skip(f"{ROM_VARIABLE} is not set: build test386.asm with OUT_PORT 0xE9 "
                    "(docs/cpu.md) and set it to the ROM's path")
    if not os.path.isfile(rom):
        pytest.skip(f"{ROM_VARIABLE}={rom}: no such file")
    reference = os.path.join(compat.shared_root(), "test386", "test386-EE-reference.txt")
    if not os.path.isfile(reference):
        pytest.skip(f"no reference output at {reference} (set PCMACHINE_SHARED)")
    machine = Machine.from_profile("test386.yaml", [f"bios.image={rom}"])
    machine.reset()
    reason = machine.run_headless(max_instructions=INSTRUCTION_LIMIT)
    post = machine.component("post")
    text = machine.component("debugcon").data
    with open(reference, "rb") as handle:
        expected = handle.read()
    assert post.code == 0xFF, (f"stopped at POST 0x{post.code:02X} ({reason}) after "
                               f"{len(text)} bytes of output")
    if text != expected:
        first = next((i for i, (a, b) in enumerate(zip(text, expected)) if a != b),
                     min(len(text), len(expected)))
        line = expected[:first].count(b"\n") + 1
        pytest.fail(f"output differs from the reference at byte {first} (line {line}): "
                    f"{text[first:first + 60]!r} != {expected[first:first + 60]!r}")
