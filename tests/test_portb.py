"""System control port B (0x61) driven as a guest does: speaker gate and data bits,
timer 2 OUT read back at bit 5, the refresh toggle that delay loops poll."""

import pytest

from pcmachine import Machine
from pcmachine.errors import ProfileError
from pcmachine.plugins.chipset.i8254 import PIT, tick_at, time_of_tick
from pcmachine.plugins.chipset.portb import REFRESH_HALF_PERIOD_NS, SystemControlPortB

START_NS = 1_000_000


def make_machine(pit_name: str = "pit") -> Machine:
    machine = Machine.bare()
    machine.add_component(PIT, "timer", {})
    machine.add_component(SystemControlPortB, "portb", {"pit": pit_name})
    machine.configure()
    machine.clock.skip_to(START_NS)
    return machine


@pytest.fixture
def machine() -> Machine:
    return make_machine("timer")


def out(machine, port, value):
    machine.bus.io_write(port, 1, value)


def inb(machine, port):
    return machine.bus.io_read(port, 1)


def goto_tick(machine, tick):
    machine.clock.skip_to(time_of_tick(tick))
    machine.clock.run_due()


def test_power_on_value_and_writable_bits(machine):
    assert inb(machine, 0x61) & 0xCF == 0x00
    out(machine, 0x61, 0xFF)
    value = inb(machine, 0x61)
    assert value & 0x0F == 0x0F       # gate, speaker, parity and IOCHK enables read back
    assert value & 0xC0 == 0x00       # no parity or channel check errors


def test_refresh_bit_toggles_every_15085_ns(machine):
    clock = machine.clock
    base = (clock.now() // REFRESH_HALF_PERIOD_NS + 1) * REFRESH_HALF_PERIOD_NS
    clock.skip_to(base)
    first = inb(machine, 0x61) & 0x10
    seen = [first]
    for step in range(1, 9):
        clock.skip_to(base + step * REFRESH_HALF_PERIOD_NS - 1)
        assert inb(machine, 0x61) & 0x10 == seen[-1]   # stable within a half period
        clock.skip_to(base + step * REFRESH_HALF_PERIOD_NS)
        seen.append(inb(machine, 0x61) & 0x10)
    assert seen == [first, first ^ 0x10] * 4 + [first]


def test_refresh_toggle_delay_loop_measures_virtual_time(machine):
    """A BIOS-style delay: count refresh edges while instructions execute."""
    clock = machine.clock
    edges = 0
    last = inb(machine, 0x61) & 0x10
    start = clock.now()
    while edges < 66:                 # 66 edges ~ 1 ms
        clock.icount += 3             # a few instructions per poll
        value = inb(machine, 0x61) & 0x10
        if value != last:
            edges += 1
            last = value
    assert 65 * REFRESH_HALF_PERIOD_NS <= clock.now() - start <= 67 * REFRESH_HALF_PERIOD_NS


def test_gate_bit_starts_timer2_and_bit5_follows_out(machine):
    out(machine, 0x43, 0xB6)          # counter 2, LSB/MSB, mode 3
    out(machine, 0x42, 20)
    out(machine, 0x42, 0)
    tick = tick_at(machine.clock.now())
    goto_tick(machine, tick + 100)
    assert inb(machine, 0x61) & 0x20  # gate low: mode 3 holds OUT high
    out(machine, 0x61, 0x01)          # gate on: reload at the next clock
    start = tick_at(machine.clock.now()) + 1
    levels = []
    for offset in range(0, 40, 5):
        goto_tick(machine, start + offset)
        levels.append(bool(inb(machine, 0x61) & 0x20))
    assert levels == [True, True, False, False] * 2
    out(machine, 0x61, 0x00)
    assert inb(machine, 0x61) & 0x21 == 0x20   # gate off: OUT high again


def test_speaker_follows_out2_and_the_data_bit(machine):
    portb = machine.components["portb"]
    out(machine, 0x43, 0xB0)          # counter 2 mode 0: OUT low until terminal count
    out(machine, 0x42, 10)
    out(machine, 0x42, 0)
    out(machine, 0x61, 0x01)
    assert not portb.speaker_on
    out(machine, 0x61, 0x03)
    assert not portb.speaker_on       # OUT still low
    goto_tick(machine, tick_at(machine.clock.now()) + 20)
    assert portb.speaker_on
    out(machine, 0x61, 0x01)
    assert not portb.speaker_on


def test_mode1_timer2_triggered_through_port_61(machine):
    """The classic CPU-speed calibration: one-shot on counter 2, poll bit 5."""
    out(machine, 0x43, 0xB2)          # counter 2 mode 1
    out(machine, 0x42, 0xFF)
    out(machine, 0x42, 0xFF)
    out(machine, 0x61, 0x00)
    out(machine, 0x61, 0x01)          # rising gate edge triggers
    start = tick_at(machine.clock.now())
    goto_tick(machine, start + 1)
    assert not inb(machine, 0x61) & 0x20
    goto_tick(machine, start + 1 + 0xFFFF)
    assert inb(machine, 0x61) & 0x20


def test_reset_lowers_the_gate(machine):
    out(machine, 0x61, 0x03)
    machine.reset("reset-line")
    assert inb(machine, 0x61) & 0x0F == 0
    assert not machine.components["timer"].counters[2].state.gate


def test_save_restore(machine):
    out(machine, 0x43, 0xB6)
    out(machine, 0x42, 0x34)
    out(machine, 0x42, 0x12)
    out(machine, 0x61, 0x0B)
    snapshot = machine.snapshot()
    later = []
    for step in range(20):
        machine.clock.skip_to(START_NS + 100_000 + step * 7_919)
        later.append(inb(machine, 0x61))

    other = make_machine("timer")
    other.restore(snapshot)
    assert other.snapshot() == snapshot
    resumed = []
    for step in range(20):
        other.clock.skip_to(START_NS + 100_000 + step * 7_919)
        resumed.append(inb(other, 0x61))
    assert resumed == later


def test_unknown_pit_is_a_profile_error():
    with pytest.raises(ProfileError):
        make_machine("nope")
