"""CMOS/RTC (MC146818A) through ports 0x70/0x71, as a guest driver programs it."""

import random
from typing import List

import pytest

from pcmachine import Machine, ProfileError, hookimpl
from pcmachine.clock import NS_PER_SECOND
from pcmachine.media import Disk
from pcmachine.plugins.chipset.cmos import CMOS
from pcmachine.plugins.ram import RAM

START = "2026-01-01T13:45:30"   # a Thursday
MS = 1_000_000
US = 1_000


def build(start: str = START, ram: str = "32M", media=None) -> Machine:
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": ram})
    machine.media.update(media or {})
    machine.add_component(CMOS, "cmos", {"start": start})
    machine.configure()
    return machine


def cmos_read(machine: Machine, register: int) -> int:
    machine.bus.io_write(0x70, 1, register)
    return machine.bus.io_read(0x71, 1)


def cmos_write(machine: Machine, register: int, value: int) -> None:
    machine.bus.io_write(0x70, 1, register)
    machine.bus.io_write(0x71, 1, value)


def advance_to(machine: Machine, time_ns: int) -> None:
    machine.clock.skip_to(time_ns)
    machine.clock.run_due()


def advance(machine: Machine, delta_ns: int) -> None:
    advance_to(machine, machine.clock.now() + delta_ns)


def read_time(machine: Machine) -> List[int]:
    """seconds, minutes, hours, weekday, day, month, year, century (raw registers)."""
    return [cmos_read(machine, r) for r in (0, 2, 4, 6, 7, 8, 9, 0x32)]


def count_interrupts(machine: Machine, until_ns: int, flag: int) -> List[int]:
    """Step event by event until `until_ns`, acknowledging IRQ 8 by reading register C
    like an interrupt handler; returns the virtual times of the interrupts."""
    times = []
    clock = machine.clock
    while True:
        deadline = clock.next_deadline()
        if deadline is None or deadline > until_ns:
            break
        advance_to(machine, deadline)
        if machine.bus.irq_levels[8]:
            status_c = cmos_read(machine, 0x0C)
            assert status_c & 0x80 and status_c & flag
            assert machine.bus.irq_levels[8] == 0
            times.append(clock.now())
    advance_to(machine, until_ns)
    return times


# ---------------------------------------------------------------------- time formats
def test_power_on_time_is_bcd_24_hour_from_the_start_option():
    machine = build()
    assert read_time(machine) == [0x30, 0x45, 0x13, 5, 0x01, 0x01, 0x26, 0x20]
    assert cmos_read(machine, 0x0A) == 0x26
    assert cmos_read(machine, 0x0B) == 0x02
    assert cmos_read(machine, 0x0D) == 0x80


def test_time_follows_virtual_time_across_midnight_and_year_end():
    machine = build("2025-12-31T23:59:58")
    advance(machine, 3 * NS_PER_SECOND)
    assert read_time(machine) == [0x01, 0x00, 0x00, 5, 0x01, 0x01, 0x26, 0x20]


def test_binary_mode_re_encodes_the_time_registers():
    machine = build()
    cmos_write(machine, 0x0B, 0x06)
    assert read_time(machine) == [30, 45, 13, 5, 1, 1, 26, 20]
    advance(machine, 31 * NS_PER_SECOND)
    assert cmos_read(machine, 0x00) == 1
    assert cmos_read(machine, 0x02) == 46


@pytest.mark.parametrize("start, binary, expected", [
    ("2026-01-01T13:00:00", False, 0x81),
    ("2026-01-01T00:30:00", False, 0x12),
    ("2026-01-01T12:30:00", False, 0x92),
    ("2026-01-01T11:30:00", False, 0x11),
    ("2026-01-01T23:30:00", True, 0x80 | 11),
    ("2026-01-01T00:30:00", True, 12),
])
def test_12_hour_mode_hours_and_pm_flag(start, binary, expected):
    machine = build(start)
    cmos_write(machine, 0x0B, 0x04 if binary else 0x00)
    assert cmos_read(machine, 0x04) == expected


def test_writing_12_hour_time_reads_back_in_24_hour_mode():
    machine = build()
    cmos_write(machine, 0x0B, 0x00)         # BCD, 12 h
    cmos_write(machine, 0x04, 0x83)         # 3 PM
    cmos_write(machine, 0x0B, 0x02)         # back to 24 h
    assert cmos_read(machine, 0x04) == 0x15
    cmos_write(machine, 0x0B, 0x00)
    cmos_write(machine, 0x04, 0x12)         # 12 AM is midnight
    cmos_write(machine, 0x0B, 0x02)
    assert cmos_read(machine, 0x04) == 0x00


# ---------------------------------------------------------------------- SET and writes
def test_set_bit_freezes_the_registers_and_the_clock_keeps_counting():
    machine = build()
    cmos_write(machine, 0x0B, 0x82)
    advance(machine, 5 * NS_PER_SECOND)
    assert cmos_read(machine, 0x00) == 0x30
    cmos_write(machine, 0x0B, 0x02)
    assert cmos_read(machine, 0x00) == 0x35


def test_time_written_under_set_takes_effect_when_set_clears_keeping_the_phase():
    machine = build()
    advance_to(machine, 400 * MS)
    cmos_write(machine, 0x0B, 0x82)
    for register, value in ((0, 0x00), (2, 0x15), (4, 0x08), (7, 0x24), (8, 0x12), (9, 0x99),
                            (0x32, 0x19)):
        cmos_write(machine, register, value)
    advance_to(machine, 700 * MS)
    assert cmos_read(machine, 0x04) == 0x08
    cmos_write(machine, 0x0B, 0x02)
    assert read_time(machine)[:3] == [0x00, 0x15, 0x08]
    assert read_time(machine)[4:] == [0x24, 0x12, 0x99, 0x19]
    assert cmos_read(machine, 0x06) == 6    # 1999-12-24 was a Friday
    advance_to(machine, NS_PER_SECOND - 1)
    assert cmos_read(machine, 0x00) == 0x00
    advance_to(machine, NS_PER_SECOND)      # the divider phase did not move
    assert cmos_read(machine, 0x00) == 0x01


def test_write_without_set_changes_the_time_at_once():
    machine = build()
    cmos_write(machine, 0x02, 0x59)
    assert cmos_read(machine, 0x02) == 0x59
    advance(machine, 30 * NS_PER_SECOND)
    assert read_time(machine)[:3] == [0x00, 0x00, 0x14]


def test_status_registers_c_and_d_are_read_only():
    machine = build()
    cmos_write(machine, 0x0C, 0xFF)
    cmos_write(machine, 0x0D, 0x00)
    assert cmos_read(machine, 0x0C) == 0x00
    assert cmos_read(machine, 0x0D) == 0x80
    assert machine.bus.irq_levels[8] == 0


def test_index_port_keeps_seven_bits_and_tracks_the_nmi_mask():
    machine = build()
    cmos = machine.components["cmos"]
    machine.bus.io_write(0x70, 1, 0x8A)
    assert cmos.nmi_masked
    assert machine.bus.io_read(0x71, 1) == 0x26
    machine.bus.io_write(0x70, 1, 0x0A)
    assert not cmos.nmi_masked
    assert machine.bus.io_read(0x70, 1) == 0xFF
    cmos_write(machine, 0x40, 0x5A)
    assert cmos_read(machine, 0xC0) == 0x5A


# ---------------------------------------------------------------------- UIP and divider
def test_update_in_progress_for_the_244_us_before_each_update():
    machine = build()
    advance_to(machine, NS_PER_SECOND - 250 * US)
    assert cmos_read(machine, 0x0A) == 0x26
    advance_to(machine, NS_PER_SECOND - 240 * US)
    assert cmos_read(machine, 0x0A) == 0xA6
    assert cmos_read(machine, 0x00) == 0x30
    advance_to(machine, NS_PER_SECOND)
    assert cmos_read(machine, 0x0A) == 0x26
    assert cmos_read(machine, 0x00) == 0x31
    advance_to(machine, 2 * NS_PER_SECOND - 100 * US)
    cmos_write(machine, 0x0B, 0x82)         # SET: no update, UIP reads 0
    assert cmos_read(machine, 0x0A) == 0x26


def test_divider_reset_stops_the_clock_and_release_updates_half_a_second_later():
    machine = build()
    advance_to(machine, 300 * MS)
    cmos_write(machine, 0x0A, 0x66)         # divider chain reset
    advance(machine, 10 * NS_PER_SECOND)
    assert cmos_read(machine, 0x00) == 0x30
    assert cmos_read(machine, 0x0A) == 0x66
    released = machine.clock.now()
    cmos_write(machine, 0x0A, 0x26)
    advance_to(machine, released + 500 * MS - 1)
    assert cmos_read(machine, 0x00) == 0x30
    advance_to(machine, released + 500 * MS)
    assert cmos_read(machine, 0x00) == 0x31


# ---------------------------------------------------------------------- interrupts
@pytest.mark.parametrize("rate, duration_ms, expected", [
    (6, 1000, 1024), (15, 3000, 6), (3, 100, 819), (1, 1000, 256), (10, 1000, 64),
])
def test_periodic_interrupt_count_over_virtual_time(rate, duration_ms, expected):
    machine = build()
    cmos_write(machine, 0x0A, 0x20 | rate)
    cmos_write(machine, 0x0B, 0x42)
    times = count_interrupts(machine, duration_ms * MS, 0x40)
    assert len(times) == expected
    period = (1 << ((rate + 7 if rate <= 2 else rate) - 1)) * NS_PER_SECOND / 32768
    assert all(abs(b - a - period) <= 1 for a, b in zip(times, times[1:]))


def test_irq8_stays_high_until_register_c_is_read():
    machine = build()
    cmos_write(machine, 0x0B, 0x42)
    advance(machine, 5 * MS)                # several periods, one level
    assert machine.bus.irq_levels[8] == 1
    assert cmos_read(machine, 0x0C) == 0xC0
    assert machine.bus.irq_levels[8] == 0
    assert cmos_read(machine, 0x0C) == 0x00


def test_periodic_rate_zero_or_pie_off_gives_no_interrupts():
    machine = build()
    cmos_write(machine, 0x0A, 0x20)
    cmos_write(machine, 0x0B, 0x42)
    advance(machine, 100 * MS)
    assert machine.bus.irq_levels[8] == 0
    cmos_write(machine, 0x0A, 0x26)
    cmos_write(machine, 0x0B, 0x02)
    advance(machine, 100 * MS)
    assert machine.bus.irq_levels[8] == 0
    assert machine.clock.next_deadline() is None


def test_update_ended_interrupt_once_per_second():
    machine = build()
    advance_to(machine, 100 * MS)
    cmos_write(machine, 0x0B, 0x12)
    times = count_interrupts(machine, 3500 * MS, 0x10)
    assert times == [NS_PER_SECOND, 2 * NS_PER_SECOND, 3 * NS_PER_SECOND]


def test_alarm_interrupt_at_the_alarm_time():
    machine = build()
    cmos_write(machine, 0x01, 0x35)
    cmos_write(machine, 0x03, 0x45)
    cmos_write(machine, 0x05, 0x13)
    cmos_write(machine, 0x0B, 0x22)
    times = count_interrupts(machine, 70 * NS_PER_SECOND, 0x20)
    assert times == [5 * NS_PER_SECOND]


def test_alarm_dont_care_values_match_every_minute():
    machine = build()
    cmos_write(machine, 0x01, 0x00)
    cmos_write(machine, 0x03, 0xC0)
    cmos_write(machine, 0x05, 0xFF)
    cmos_write(machine, 0x0B, 0x22)
    times = count_interrupts(machine, 200 * NS_PER_SECOND, 0x20)
    assert times == [30 * NS_PER_SECOND, 90 * NS_PER_SECOND, 150 * NS_PER_SECOND]


def test_reset_clears_interrupt_enables_and_keeps_time_and_ram():
    machine = build()
    cmos_write(machine, 0x0F, 0x0A)
    cmos_write(machine, 0x0B, 0x72)
    advance(machine, 1500 * MS)
    assert machine.bus.irq_levels[8] == 1
    machine.reset("reset-line")
    assert machine.bus.irq_levels[8] == 0
    assert cmos_read(machine, 0x0B) == 0x02
    assert cmos_read(machine, 0x0C) == 0x00
    assert cmos_read(machine, 0x0F) == 0x0A
    assert cmos_read(machine, 0x00) == 0x31


# ---------------------------------------------------------------------- BIOS fields
def _image(tmp_path, name: str, size: int) -> str:
    path = tmp_path / name
    path.write_bytes(bytes(size))
    return str(path)


def test_bios_fields_and_checksum(tmp_path):
    media = {"fda": Disk("fda", _image(tmp_path, "a.img", 1474560), "floppy"),
             "fdb": Disk("fdb", _image(tmp_path, "b.img", 737280), "floppy"),
             "hda": Disk("hda", _image(tmp_path, "c.img", 16 * 63 * 512 * 20), "hdd")}
    machine = build(ram="32M", media=media)
    try:
        assert cmos_read(machine, 0x10) == 0x43
        assert cmos_read(machine, 0x14) == 0x41
        assert cmos_read(machine, 0x12) == 0xF0
        assert cmos_read(machine, 0x19) == 47
        assert [cmos_read(machine, r) for r in range(0x1B, 0x24)] == \
            [20, 0, 16, 0xFF, 0xFF, 0xC8, 20, 0, 63]
        assert (cmos_read(machine, 0x15), cmos_read(machine, 0x16)) == (0x80, 0x02)
        assert cmos_read(machine, 0x17) | cmos_read(machine, 0x18) << 8 == 31 * 1024
        assert cmos_read(machine, 0x30) | cmos_read(machine, 0x31) << 8 == 31 * 1024
        assert cmos_read(machine, 0x34) | cmos_read(machine, 0x35) << 8 == 256
        assert cmos_read(machine, 0x32) == 0x20
        total = sum(cmos_read(machine, r) for r in range(0x10, 0x2E))
        assert cmos_read(machine, 0x2E) << 8 | cmos_read(machine, 0x2F) == total
    finally:
        machine.close()


@pytest.mark.parametrize("ram, extended, above_16m", [
    ("1M", 0, 0), ("16M", 15 * 1024, 0), ("128M", 0xFC00, (128 - 16) * 16),
])
def test_memory_size_fields(ram, extended, above_16m):
    machine = build(ram=ram)
    assert cmos_read(machine, 0x17) | cmos_read(machine, 0x18) << 8 == extended
    assert cmos_read(machine, 0x34) | cmos_read(machine, 0x35) << 8 == above_16m
    assert cmos_read(machine, 0x14) == 0x00
    assert cmos_read(machine, 0x10) == 0x00


# ---------------------------------------------------------------------- start time input
class InputRecorder:
    def __init__(self) -> None:
        self.inputs = []

    @hookimpl
    def machine_input(self, kind, data, icount, time_ns):
        self.inputs.append((kind, data, icount, time_ns))


def test_host_start_is_an_input_a_recording_sees_and_a_replay_overrides():
    machine = build("host")
    recorder = machine.add_plugin(InputRecorder())      # attached after power-on
    machine.run_slice(instruction_limit=0)              # inputs apply before instruction 0
    start = machine.components["cmos"].start_time
    assert recorder.inputs == [("rtc-start", {"time": start}, 0, 0)]

    replay = build("host")
    replay.schedule_input(0, 0, "rtc-start", {"time": "2030-06-15T08:00:00"})
    replay.run_slice(instruction_limit=0)
    assert read_time(replay) == [0x00, 0x00, 0x08, 7, 0x15, 0x06, 0x30, 0x20]


def test_iso_start_posts_no_input_and_a_later_start_input_sets_the_clock_once():
    machine = build()
    assert not machine.inputs_pending
    machine.post_input("rtc-start", {"time": "2001-02-03T04:05:06"})
    machine.post_input("rtc-start", {"time": "1990-01-01T00:00:00"})
    machine.run_slice(instruction_limit=0)
    assert read_time(machine) == [0x06, 0x05, 0x04, 7, 0x03, 0x02, 0x01, 0x20]


def test_bad_start_option_is_a_profile_error():
    machine = Machine.bare()
    with pytest.raises(ProfileError, match="cmos.start"):
        machine.add_component(CMOS, "cmos", {"start": "yesterday"})


# ---------------------------------------------------------------------- state
def _observe(machine: Machine, steps: int) -> list:
    trace = []
    for _ in range(steps):
        deadline = machine.clock.next_deadline()
        advance_to(machine, deadline)
        trace.append((machine.clock.now(), machine.bus.irq_levels[8], cmos_read(machine, 0x0C),
                      cmos_read(machine, 0x0A), read_time(machine)))
    return trace


def test_save_restore_resumes_identically():
    machine = build()
    cmos_write(machine, 0x0A, 0x2D)         # 8 Hz
    cmos_write(machine, 0x01, 0xC0)         # alarm every second
    cmos_write(machine, 0x03, 0xC0)
    cmos_write(machine, 0x05, 0xC0)
    cmos_write(machine, 0x0B, 0x72)
    advance(machine, 1234 * MS)
    snapshot = machine.snapshot()
    expected = _observe(machine, 30)

    restored = build()
    restored.restore(snapshot)
    assert restored.components["cmos"].snapshot() == snapshot["components"]["cmos"]["state"]
    assert restored.snapshot()["components"] == snapshot["components"]
    assert _observe(restored, 30) == expected


def check_rtc_invariants(machine: Machine) -> None:
    """MC146818A status registers through the ports: IRQ 8 is IRQF (register C bit
    7), IRQF = PF&PIE | AF&AIE | UF&UIE, register C bits 0-3 and register D bits 0-6
    read 0, D's VRT reads 1, and reading C clears the flags and drops the line."""
    level = bool(machine.bus.irq_levels[8])
    status_b = cmos_read(machine, 0x0B)
    status_c = cmos_read(machine, 0x0C)
    assert level == bool(status_c & 0x80)
    assert bool(status_c & 0x80) == bool(status_c & status_b & 0x70)
    assert status_c & 0x0F == 0
    assert cmos_read(machine, 0x0D) == 0x80
    assert not machine.bus.irq_levels[8]
    assert cmos_read(machine, 0x0C) & 0x80 == 0


def test_random_register_traffic_keeps_irq8_on_register_c():
    generator = random.Random(8)
    machine = build()
    for _ in range(3000):
        register = generator.randrange(0x40)
        if generator.random() < 0.5:
            cmos_write(machine, register, generator.randrange(256))
        else:
            cmos_read(machine, register)
        advance(machine, generator.randrange(3 * MS))
        check_rtc_invariants(machine)
