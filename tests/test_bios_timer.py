"""Int 08h, 1Ch, 1Ah and int 15h AH=86h on the virtual clock, checked by a guest
(tests/guests/bios/timer.asm)."""

import pytest

from bios_support import build_guest, cpu_kind, floppy_image, make_machine, run_guest

NS_PER_TICK = 1_000_000_000 * 65536 // 1193182


def test_timer_services_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("timer"))}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    # about 1 + 3 + 1 ticks of HLT waits plus the 365 ms wait: virtual time passed
    assert machine.clock.now() > 5 * NS_PER_TICK + 364_000_000


def ticks_at_40_6c(machine) -> int:
    return int.from_bytes(machine.bus.read_bytes(0x46C, 4), "little")


def test_post_starts_the_tick_count_at_the_rtc_time_of_day(tmp_path):
    """Int 1Ah AH=00h counts ticks since midnight: POST converts the RTC's time (as
    the IBM AT BIOS, SeaBIOS and the Bochs BIOS do), so a boot sector started at
    12:34:56 reads 0C956Ah (plus the ticks of the boot), not 0.  Games seed their
    random numbers and time their frames from it."""
    boot = b"\xfa\xf4".ljust(510, b"\0") + b"\x55\xaa"          # cli; hlt
    machine = make_machine({"fda": floppy_image(tmp_path, boot)},
                           overrides=["cmos.start=2026-01-01T12:34:56"])
    machine.run_headless(1_000_000)
    assert 0xC956A <= ticks_at_40_6c(machine) <= 0xC956A + 2


@pytest.mark.parametrize("register_b, start, expected", [
    (0x02, "2026-01-01T12:34:56", 0xC956A),        # BCD, 24-hour (the default)
    (0x06, "2026-01-01T12:34:56", 0xC956A),        # binary, 24-hour
    (0x00, "2026-01-01T23:59:59", 0x1800A0),       # BCD, 12-hour: 11 PM
    (0x04, "2026-01-01T00:00:10", 182),            # binary, 12-hour: 12 AM is hour 0
])
def test_post_reads_the_rtc_in_each_data_mode(register_b, start, expected):
    """The RTC's time in BCD or binary, 24- or 12-hour mode (register B DM and
    24/12 bits, a PM flag in bit 7 of the hours), as the count POST stores."""
    machine = make_machine(overrides=[f"cmos.start={start}"])
    machine.bus.io_write(0x70, 1, 0x0B)
    machine.bus.io_write(0x71, 1, register_b)
    machine.component("bios").timer.post()
    assert ticks_at_40_6c(machine) == expected
