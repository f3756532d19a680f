"""Long runs (slow): a guest runs for 30 virtual minutes with random keys and the
BIOS timer's 18.2 Hz interrupt, and nothing grows or drifts.

The guest is tests/guests/boot/echo_int16.asm: it waits for keys in int 16h (STI,
HLT, so the timer interrupt wakes it 32,760 times in 30 minutes) and echoes each
one through int 10h, scrolling the screen.  Bursts of 1-8 random keys (letters,
digits, space, Enter; seeded) arrive 1 ms to 5 s apart, about 700 of them.  Checked:

* the process's resident set grows by less than RSS_GROWTH_MIB between the end of
  the first five virtual minutes and the end of the run (sampled every five);
* the CPU's decoded-code cache (the blocks cached by physical address in
  `code_cache16`, `code_cache32` and the per-limit caches, with their chaining
  flags, watched 64-byte buckets and code pages, plugins/cpu/cpu.py) has no size
  limit of its own: it must stop growing once the guest's code paths have run,
  so it is no larger at any later sample than after the first five minutes;
* two runs with the same seed end in equal machine digests (pcmachine.record),
  and the guest still answers: '.' ends it with "Bye.".

HLT lets virtual time pass at the next timer interrupt, so one run (550,000
instructions) takes about 10 s on CPython and on PyPy; the test makes two.
"""

import random
from typing import Any, Dict, List, Tuple

import pytest

from pcmachine import Machine
from pcmachine.record import machine_digest
from pcmachine.testing import find_screen, screen_text

pytestmark = pytest.mark.slow

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
MINUTES = 30
SAMPLE_EVERY = 5
SEED = 1806
RSS_GROWTH_MIB = 32
KEYS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789    \n"
NS_PER_MINUTE = 60 * 10 ** 9


def rss_mib() -> int:
    """The resident set now (VmRSS; ru_maxrss would only give the peak)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def code_cache_sizes(cpu: Any) -> Tuple[int, int, int, int]:
    """(blocks cached, chaining flags, watched buckets, code pages)."""
    blocks = len(cpu.code_cache16) + len(cpu.code_cache32) + sum(
        len(cache) for cache in cpu.limited_caches.values())
    flags = sum(len(alive) for alive in cpu.block_alive.values())
    return blocks, flags, len(cpu.block_buckets), len(cpu.code_pages)


def soak(image: str, seed: int) -> Dict[str, Any]:
    """Run the guest for MINUTES virtual minutes of random typing; return the
    samples, the final screen and the digest."""
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": image})
    clock, keyboard, cpu = machine.clock, machine.keyboard, machine.cpu
    rng = random.Random(seed)
    next_burst, bursts, last = 0, 0, ""
    rss: List[int] = []
    caches: List[Tuple[int, int, int, int]] = []
    for minute in range(1, MINUTES + 1):
        end = minute * NS_PER_MINUTE
        while clock.now() < end:
            if clock.now() >= next_burst and keyboard.idle():
                last = "".join(rng.choice(KEYS) for _ in range(rng.randint(1, 8)))
                keyboard.type(last)
                bursts += 1
                next_burst = clock.now() + rng.randint(1, 5000) * 10 ** 6
            reason = machine.run_slice()
            assert reason in (None, "halted"), f"the guest stopped ({reason}) at minute {minute}"
        if minute % SAMPLE_EVERY == 0:
            rss.append(rss_mib())
            caches.append(code_cache_sizes(cpu))
    keyboard.type(".")
    while "Bye." not in screen_text(find_screen(machine)) and clock.now() < end + NS_PER_MINUTE:
        machine.run_slice()
    result = {"rss": rss, "caches": caches, "bursts": bursts, "last": last.split("\n")[-1].strip(),
              "screen": screen_text(find_screen(machine)), "digest": machine_digest(machine),
              "icount": clock.icount}
    machine.close()
    return result


def test_thirty_virtual_minutes_of_keys_and_timer(tmp_path: Any, floppy_from: Any) -> None:
    image = floppy_from(tmp_path, "boot/echo_int16.bin")
    first = soak(image, SEED)
    assert first["bursts"] > 500
    assert "Bye." in first["screen"] and first["last"] in first["screen"]
    growth = max(first["rss"]) - first["rss"][0]
    assert growth < RSS_GROWTH_MIB, f"RSS grew by {growth} MiB over the run: {first['rss']}"
    caches = first["caches"]
    assert caches[0][0] > 0
    for sample in caches[1:]:
        assert all(later <= early for later, early in zip(sample, caches[0])), \
            f"the decoded-code cache grows: {caches} (blocks, flags, buckets, pages every 5 minutes)"

    second = soak(image, SEED)
    assert second["icount"] == first["icount"]
    assert second["digest"] == first["digest"]
