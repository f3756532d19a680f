"""8254 PIT driven through ports 0x40-0x43 (and 0x61 for counter 2), as a guest does.

Virtual time is placed on exact input clocks with `time_of_tick`; a count written
during clock k is loaded at clock k+1 (datasheet: mode 0 OUT rises N+1 clocks
after the write)."""

import random
from typing import List

import pytest

from pcmachine import Machine
from pcmachine.plugins.chipset.i8254 import PIT, PIT_HZ, tick_at, time_of_tick
from pcmachine.plugins.chipset.portb import SystemControlPortB

CONTROL = 0x43
START = 1000          # the tick at which each test programs the counter


class IrqProbe:
    """Records (tick, level) for every edge of IRQ0."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.edges = []
        machine.bus.connect_irq(0, self)

    def __call__(self, level: int) -> None:
        self.edges.append((tick_at(self.machine.clock.now()), level))

    def rising(self):
        return [tick for tick, level in self.edges if level]


def make_machine():
    machine = Machine.bare()
    machine.add_component(PIT, "pit", {})
    machine.add_component(SystemControlPortB, "portb", {})
    probe = IrqProbe(machine)
    machine.configure()
    goto(machine, START)
    probe.edges.clear()      # the power-on level (OUT high in mode 4) is not under test
    return machine, probe


@pytest.fixture
def machine():
    return make_machine()[0]


def goto(machine: Machine, tick: int) -> None:
    """Let virtual time reach input clock `tick`, stopping at every event deadline
    on the way as the run loop does (so each event fires at its own time)."""
    clock = machine.clock
    target = time_of_tick(tick)
    deadline = clock.next_deadline()
    while deadline is not None and deadline <= target:
        clock.skip_to(deadline)
        clock.run_due()
        deadline = clock.next_deadline()
    clock.skip_to(target)
    clock.run_due()
    assert tick_at(clock.now()) == tick


def out(port: int, value: int, machine: Machine) -> None:
    machine.bus.io_write(port, 1, value)


def inb(port: int, machine: Machine) -> int:
    return machine.bus.io_read(port, 1)


def program(machine: Machine, channel: int, mode: int, count: int, bcd: bool = False) -> None:
    """Control word (LSB then MSB access) and a 16-bit count."""
    out(CONTROL, (channel << 6) | 0x30 | (mode << 1) | int(bcd), machine)
    out(0x40 + channel, count & 0xFF, machine)
    out(0x40 + channel, count >> 8, machine)


def read_count(machine: Machine, channel: int) -> int:
    """Counter latch command, then LSB and MSB."""
    out(CONTROL, channel << 6, machine)
    low = inb(0x40 + channel, machine)
    return low | inb(0x40 + channel, machine) << 8


def read_status(machine: Machine, channel: int) -> int:
    out(CONTROL, 0xE0 | (2 << channel), machine)   # read-back: status only
    return inb(0x40 + channel, machine)


def out_level(machine: Machine, channel: int) -> int:
    return read_status(machine, channel) >> 7


# ---------------------------------------------------------------------- modes

def test_mode0_out_rises_n_plus_1_clocks_after_the_write():
    machine, probe = make_machine()
    program(machine, 0, 0, 100)
    assert out_level(machine, 0) == 0
    assert machine.bus.irq_levels[0] == 0
    goto(machine, START + 1)
    assert read_count(machine, 0) == 100
    goto(machine, START + 31)
    assert read_count(machine, 0) == 70
    goto(machine, START + 100)
    assert out_level(machine, 0) == 0 and read_count(machine, 0) == 1
    goto(machine, START + 101)
    assert out_level(machine, 0) == 1 and read_count(machine, 0) == 0
    assert probe.rising() == [START + 101]
    goto(machine, START + 103)   # the CE wraps and keeps counting; OUT stays high
    assert read_count(machine, 0) == 0xFFFE and out_level(machine, 0) == 1
    goto(machine, START + 70000)
    assert probe.rising() == [START + 101]


def test_mode0_first_byte_stops_counting_and_lowers_out():
    machine, probe = make_machine()
    program(machine, 0, 0, 10)
    goto(machine, START + 20)
    assert machine.bus.irq_levels[0] == 1
    out(0x40, 50, machine)                     # LSB only so far
    assert machine.bus.irq_levels[0] == 0
    held = read_count(machine, 0)
    goto(machine, START + 40)
    assert read_count(machine, 0) == held      # counting disabled
    out(0x40, 0, machine)                      # MSB: 50 loads at the next clock
    goto(machine, START + 41 + 50)
    assert machine.bus.irq_levels[0] == 1
    assert probe.rising()[-1] == START + 40 + 51


def test_mode0_gate_low_suspends_counting(machine):
    program(machine, 2, 0, 100)
    out(0x61, 0x01, machine)                   # gate high
    program(machine, 2, 0, 100)
    goto(machine, START + 11)
    assert read_count(machine, 2) == 90
    out(0x61, 0x00, machine)
    goto(machine, START + 500)
    assert read_count(machine, 2) == 90
    assert out_level(machine, 2) == 0
    out(0x61, 0x01, machine)
    goto(machine, START + 500 + 89)
    assert out_level(machine, 2) == 0
    goto(machine, START + 500 + 90)
    assert out_level(machine, 2) == 1


def test_mode1_hardware_one_shot_is_retriggerable(machine):
    program(machine, 2, 1, 30)
    goto(machine, START + 10)
    assert out_level(machine, 2) == 1
    assert read_status(machine, 2) & 0x40          # null count until a trigger
    out(0x61, 0x01, machine)                   # trigger: load at the next clock
    goto(machine, START + 11)
    assert out_level(machine, 2) == 0 and read_count(machine, 2) == 30
    assert not read_status(machine, 2) & 0x40
    goto(machine, START + 25)
    assert read_count(machine, 2) == 16
    out(0x61, 0x00, machine)
    out(0x61, 0x01, machine)                   # retrigger at START+25
    goto(machine, START + 26 + 29)
    assert out_level(machine, 2) == 0
    goto(machine, START + 26 + 30)
    assert out_level(machine, 2) == 1
    goto(machine, START + 200)
    assert out_level(machine, 2) == 1


def test_mode2_rate_generator_waveform_and_count():
    machine, probe = make_machine()
    program(machine, 0, 2, 10)
    start = START + 1
    goto(machine, start)
    assert [read_count(machine, 0)] == [10]
    goto(machine, start + 3)
    assert read_count(machine, 0) == 7
    goto(machine, start + 35)
    expected = []
    for period in range(1, 4):
        expected += [(start + 10 * period - 1, 0), (start + 10 * period, 1)]
    assert probe.edges[-6:] == expected
    goto(machine, start + 39)
    assert out_level(machine, 0) == 0 and read_count(machine, 0) == 1
    goto(machine, start + 40)
    assert out_level(machine, 0) == 1 and read_count(machine, 0) == 10


def test_mode2_new_count_takes_effect_at_the_end_of_the_period():
    machine, probe = make_machine()
    program(machine, 0, 2, 100)
    start = START + 1
    goto(machine, start + 30)
    out(0x40, 50, machine)
    out(0x40, 0, machine)
    assert read_status(machine, 0) & 0x40          # null count until the reload
    goto(machine, start + 80)
    assert read_count(machine, 0) == 20            # the old period continues
    goto(machine, start + 100)
    assert read_count(machine, 0) == 50
    assert not read_status(machine, 0) & 0x40
    goto(machine, start + 260)
    assert [t for t in probe.rising() if t > START] == [start + 100, start + 150, start + 200,
                                                        start + 250]


def test_mode2_gate_low_forces_out_high_and_rising_edge_reloads(machine):
    out(0x61, 0x01, machine)
    program(machine, 2, 2, 20)
    goto(machine, START + 1 + 19)
    assert out_level(machine, 2) == 0
    out(0x61, 0x00, machine)
    assert out_level(machine, 2) == 1
    goto(machine, START + 100)
    assert out_level(machine, 2) == 1
    out(0x61, 0x01, machine)
    goto(machine, START + 101)
    assert read_count(machine, 2) == 20
    goto(machine, START + 101 + 19)
    assert out_level(machine, 2) == 0


@pytest.mark.parametrize("count, high, low", [(10, 5, 5), (9, 5, 4), (2, 1, 1)])
def test_mode3_square_wave(count, high, low):
    machine, probe = make_machine()
    program(machine, 0, 3, count)
    start = START + 1
    goto(machine, start + 3 * count + 1)
    edges = [edge for edge in probe.edges if edge[0] > START]
    expected = []
    for period in range(3):
        expected += [(start + period * count + high, 0), (start + (period + 1) * count, 1)]
    assert edges[:6] == expected
    assert low == count - high


@pytest.mark.parametrize("count, expected", [
    (10, [10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8]),
    (9, [8, 6, 4, 2, 0, 8, 6, 4, 2, 8, 6, 4]),     # odd: N-1 loaded, high one clock longer
])
def test_mode3_count_readback_decrements_by_two(machine, count, expected):
    program(machine, 0, 3, count)
    start = START + 1
    values = []
    for offset in range(12):
        goto(machine, start + offset)
        values.append(read_count(machine, 0))
    assert values == expected


def test_mode3_new_count_loads_at_the_end_of_the_half_period():
    machine, probe = make_machine()
    program(machine, 0, 3, 100)
    start = START + 1
    goto(machine, start + 10)          # high half of the first period
    out(0x40, 40, machine)
    out(0x40, 0, machine)
    goto(machine, start + 300)
    edges = [edge for edge in probe.edges if edge[0] > START]
    # the old high half ends at +50; the new count then runs low 20, high 20, ...
    assert edges[:4] == [(start + 50, 0), (start + 70, 1), (start + 90, 0), (start + 110, 1)]


def test_mode4_software_strobe():
    machine, probe = make_machine()
    program(machine, 0, 4, 25)
    start = START + 1
    goto(machine, start + 24)
    assert out_level(machine, 0) == 1
    goto(machine, start + 200)
    edges = [edge for edge in probe.edges if edge[0] > START]
    assert edges == [(start + 25, 0), (start + 26, 1)]


def test_mode5_hardware_strobe(machine):
    program(machine, 2, 5, 12)
    goto(machine, START + 50)
    assert out_level(machine, 2) == 1
    out(0x61, 0x01, machine)
    goto(machine, START + 51 + 11)
    assert out_level(machine, 2) == 1
    goto(machine, START + 51 + 12)
    assert out_level(machine, 2) == 0
    goto(machine, START + 51 + 13)
    assert out_level(machine, 2) == 1


def test_modes_6_and_7_are_modes_2_and_3(machine):
    out(CONTROL, 0x3C, machine)          # M2 M1 M0 = 110
    out(0x40, 10, machine)
    out(0x40, 0, machine)
    goto(machine, START + 1 + 9)
    assert out_level(machine, 0) == 0
    assert read_status(machine, 0) & 0x0E == 0x0C  # the status shows the bits written


# ---------------------------------------------------------------------- access

def test_lsb_only_and_msb_only_access(machine):
    out(CONTROL, 0x14, machine)          # counter 0, LSB only, mode 2
    out(0x40, 0x80, machine)
    goto(machine, START + 1)
    assert inb(0x40, machine) == 0x80
    assert inb(0x40, machine) == 0x80    # every read is the LSB
    out(CONTROL, 0x24, machine)          # MSB only: count 0x0300
    out(0x40, 0x03, machine)
    goto(machine, START + 2)
    assert inb(0x40, machine) == 0x03
    goto(machine, START + 2 + 0x101)
    assert inb(0x40, machine) == 0x01    # 0x0300 - 0x101 = 0x1FF: MSB 0x01


def test_lsb_msb_read_flip_flop_reads_live_count(machine):
    program(machine, 0, 2, 0x1234)
    goto(machine, START + 1 + 0x34)
    assert inb(0x40, machine) == 0x00
    assert inb(0x40, machine) == 0x12


def test_count_zero_is_the_maximum(machine):
    program(machine, 0, 2, 0)
    goto(machine, START + 1)
    assert read_count(machine, 0) == 0
    goto(machine, START + 2)
    assert read_count(machine, 0) == 0xFFFF


def test_bcd_counting(machine):
    program(machine, 0, 2, 0x0100, bcd=True)   # 100 decimal
    goto(machine, START + 1 + 1)
    assert read_count(machine, 0) == 0x0099
    goto(machine, START + 1 + 91)
    assert read_count(machine, 0) == 0x0009
    goto(machine, START + 1 + 100)
    assert read_count(machine, 0) == 0x0100
    program(machine, 1, 0, 0, bcd=True)        # 0 is 10000 in BCD
    goto(machine, START + 102)
    assert read_count(machine, 1) == 0x0000
    goto(machine, START + 103)
    assert read_count(machine, 1) == 0x9999


def test_counter_latch_holds_until_read(machine):
    program(machine, 0, 2, 1000)
    goto(machine, START + 101)
    out(CONTROL, 0x00, machine)
    goto(machine, START + 201)
    out(CONTROL, 0x00, machine)          # ignored: the first latch is unread
    assert inb(0x40, machine) | inb(0x40, machine) << 8 == 900
    assert read_count(machine, 0) == 800


def test_read_back_status_then_count(machine):
    program(machine, 1, 3, 500)
    goto(machine, START + 1 + 100)
    out(CONTROL, 0xC4, machine)          # read-back: count and status of counter 1
    goto(machine, START + 400)
    status = inb(0x41, machine)
    assert status == 0x80 | 0x36         # OUT high, counts loaded, RW=3 mode 3 binary
    assert inb(0x41, machine) | inb(0x41, machine) << 8 == 300
    assert read_count(machine, 1) != 300


def test_null_count_and_out_after_control_word(machine):
    out(CONTROL, 0x30, machine)          # mode 0: OUT low, null count
    assert read_status(machine, 0) == 0x40 | 0x30
    out(CONTROL, 0x34, machine)          # mode 2: OUT high
    assert read_status(machine, 0) == 0x80 | 0x40 | 0x34
    out(0x40, 5, machine)
    out(0x40, 0, machine)
    assert read_status(machine, 0) & 0x40
    goto(machine, START + 1)
    assert read_status(machine, 0) == 0x80 | 0x34


def test_control_port_reads_float(machine):
    assert inb(CONTROL, machine) == 0xFF


# ---------------------------------------------------------------------- IRQ0

def test_channel0_at_100hz_raises_irq0_100_times_per_second():
    machine, probe = make_machine()
    divisor = round(PIT_HZ / 100)       # 11932
    program(machine, 0, 2, divisor)
    clock = machine.clock
    # one virtual second of instructions, plus half a period: the 100th tick comes
    # 100 * 11932 clocks = 1.000015 s after the load
    end = clock.icount + clock.ips + clock.ips // 200
    while machine.run_slice(end) is None:   # the run loop, with no CPU attached
        pass
    rising = [tick for tick in probe.rising() if tick > START]
    assert len(rising) == 100
    assert all(b - a == divisor for a, b in zip(rising, rising[1:]))


def test_late_events_lose_no_edges():
    machine, probe = make_machine()
    program(machine, 0, 3, 100)
    machine.clock.skip_to(time_of_tick(START + 1 + 100 * 50))   # one jump of 50 periods
    machine.clock.run_due()
    assert len([t for t in probe.rising() if t > START]) == 50


def test_irq_option_selects_the_line():
    machine = Machine.bare()
    machine.add_component(PIT, "pit", {"irq": 5})
    machine.configure()
    goto(machine, START)
    program(machine, 0, 0, 3)
    goto(machine, START + 4)
    assert machine.bus.irq_levels[5] == 1 and machine.bus.irq_levels[0] == 0


# ---------------------------------------------------------------------- state

def drive_scenario(machine: Machine, start: int, end: int):
    """Read counts and statuses on a fixed schedule; returns what was seen."""
    seen = []
    for tick in range(start, end, 997):
        goto(machine, tick)
        seen.append((read_count(machine, 0), read_count(machine, 2), read_status(machine, 2),
                     inb(0x61, machine) & 0x20))
    return seen


def test_save_restore_resumes_identically():
    machine, probe = make_machine()
    program(machine, 0, 2, 3000)
    out(0x61, 0x01, machine)
    program(machine, 2, 3, 777)
    goto(machine, START + 10_000)
    out(0x40, 0x10, machine)             # a pending mode 2 reload at the period end
    out(0x40, 0x05, machine)
    snapshot = machine.snapshot()
    continued = drive_scenario(machine, START + 10_001, START + 60_000)
    edges_continued = [edge for edge in probe.edges if edge[0] > START + 10_000]

    other, other_probe = make_machine()
    other.restore(snapshot)
    assert other.snapshot()["components"] == snapshot["components"]
    resumed = drive_scenario(other, START + 10_001, START + 60_000)
    assert resumed == continued
    assert other_probe.edges == edges_continued
    assert other.snapshot() == machine.snapshot()


def test_snapshot_is_plain_data_and_round_trips(machine):
    program(machine, 0, 3, 1234)
    pit = machine.components["pit"]
    first = pit.snapshot()
    pit.restore(first)
    assert pit.snapshot() == first
    assert all(isinstance(value, (int, bool, list)) for value in first.values())


def check_pit_invariants(machine: Machine, controls: List[int]) -> None:
    """Read-back status of each counter (datasheet "Read-Back Command"): the
    programmed RW/mode/BCD bits come back as written, counter 0's OUT is the IRQ 0
    line and counter 2's OUT is port 0x61 bit 5."""
    out(CONTROL, 0xEE, machine)                      # status only, counters 0-2
    statuses = [inb(0x40 + channel, machine) for channel in range(3)]
    for status, control in zip(statuses, controls):
        assert status & 0x3F == control
    assert bool(statuses[0] & 0x80) == bool(machine.bus.irq_levels[0])
    assert bool(statuses[2] & 0x80) == bool(inb(0x61, machine) & 0x20)


def test_random_traffic_keeps_status_irq0_and_port_b_consistent():
    machine, _ = make_machine()
    rng = random.Random(8254)
    tick = START
    controls = [0x18] * 3                            # power-on: LSB only, mode 4, binary
    for _ in range(3000):
        port = rng.choice([0x40, 0x41, 0x42, 0x43, 0x61])
        if rng.random() < 0.5:
            value = rng.randrange(256)
            out(port, value, machine)
            if port == CONTROL and value >> 6 != 3 and value & 0x30:
                controls[value >> 6] = value & 0x3F
        else:
            inb(port, machine)
        check_pit_invariants(machine, controls)
        tick += rng.randrange(1, 50)
        goto(machine, tick)
        check_pit_invariants(machine, controls)


def bcd_valid(value: int) -> bool:
    return all((value >> shift) & 0xF <= 9 for shift in (0, 4, 8, 12))


def check_latched_count(mode: int, bcd: bool, reload: int, status: int, count: int) -> None:
    """A latched count against the range its mode allows (8254 datasheet, mode
    descriptions), once the last count written is loaded (status null count 0):
    mode 2 counts N..1 and reloads at 1; mode 3 counts N down by two and reloads
    at 0 (an odd N is decremented by one first, so the count is even or N); mode 0
    counts N..1 with OUT low and reaches 0 as OUT rises.  0 written as a count is
    the maximum (65536, or 10000 in BCD); a BCD counter's digits stay decimal
    (modes 0 and 4 wrap to 9999)."""
    if status & 0x40:                               # null count: not loaded yet
        return
    value = count
    if bcd:
        assert bcd_valid(count), f"mode {mode} BCD count {count:#06x}"
        value = int(f"{count:x}")
    modulus = 10000 if bcd else 0x10000
    top = reload or modulus
    current = value or modulus                     # a count of 0 stands for the maximum
    if mode == 2:
        assert 1 <= current <= top, (mode, reload, count)
    elif mode == 3:
        assert value <= top and (value % 2 == 0 or value == top), (mode, reload, count)
    elif mode == 0 and not status & 0x80:           # OUT low: terminal count still ahead
        assert 1 <= current <= top, (mode, reload, count)


def test_random_programming_keeps_latched_counts_in_the_modes_range():
    """Random but complete guest sequences (control word then a full LSB/MSB
    count, count rewrites while counting, gate 2 changes, counter latch and
    read-back count reads) on all three counters: every count read back lies in
    the range its mode allows for the count last written."""
    machine, _ = make_machine()
    rng = random.Random(82542)
    tick = START
    programmed = {}                                 # channel -> (mode, bcd, last count written)
    gate2 = 0
    for _ in range(4000):
        channel = rng.randrange(3)
        action = rng.random()
        if action < 0.15 or (action < 0.5 and channel not in programmed):
            mode = rng.choice([0, 2, 3, 4, 6, 7])
            bcd = rng.random() < 0.3
            out(CONTROL, (channel << 6) | 0x30 | (mode << 1) | int(bcd), machine)
            programmed[channel] = (mode - 4 if mode >= 6 else mode, bcd, None)
            action = 0.3                            # a count follows at once
        mode, bcd, _ = programmed.get(channel, (None, False, None))
        if action < 0.5 and mode is not None:
            if rng.random() < 0.3:
                count = rng.choice([0, 2, 3, 4, 5])
            else:
                count = rng.randrange(2, 10000 if bcd else 0x10000)
            raw = int(str(count), 16) if bcd else count
            out(0x40 + channel, raw & 0xFF, machine)
            out(0x40 + channel, raw >> 8, machine)
            programmed[channel] = (mode, bcd, count)
        elif action < 0.6:
            gate2 ^= 1
            out(0x61, gate2, machine)
        elif action < 0.8 and programmed.get(channel, (0, 0, None))[2] is not None:
            if rng.random() < 0.5:
                out(CONTROL, 0xC0 | (2 << channel), machine)        # read-back: status and count
                status = inb(0x40 + channel, machine)
            else:
                status = read_status(machine, channel)
                out(CONTROL, channel << 6, machine)                 # counter latch
            count = inb(0x40 + channel, machine) | inb(0x40 + channel, machine) << 8
            check_latched_count(mode, bcd, programmed[channel][2], status, count)
        tick += rng.choice([1, 2, 3, rng.randrange(1, 3000)])
        goto(machine, tick)


# ---------------------------------------------------------------------- reference model

class SteppedCounter:
    """A clock-by-clock 8254 counter written straight from the datasheet's mode
    descriptions (binary, LSB-only counts), to check the device's closed-form
    timing.  Port actions during clock k take effect as on the chip: loads and
    triggers at clock k+1, OUT changes that need no clock at once."""

    def __init__(self, mode: int, gate: bool) -> None:
        self.mode = mode
        self.gate = gate
        self.count_register = 0
        self.written = False
        self.load_pending = False
        self.trigger_pending = False
        self.ce = 0
        self.armed = False
        self.counting = False
        self.half_left = 0
        self.out = mode != 0
        self.strobe = False
        self.loaded = False      # the CE is undefined until a count first reaches it

    def write(self, count: int) -> None:
        self.count_register = count or 0x100   # never 0 in the script
        self.written = True
        if self.mode in (0, 4) or (self.mode in (2, 3) and not self.counting):
            self.load_pending = True
        if self.mode == 0:
            self.out = False

    def set_gate(self, level: bool) -> None:
        if level and not self.gate and self.written and self.mode in (1, 2, 3, 5):
            self.trigger_pending = True
        if not level and self.mode in (2, 3):
            self.out = True
            self.counting = False
        self.gate = level

    def clock(self) -> None:
        mode, n = self.mode, self.count_register
        if self.strobe:
            self.out, self.strobe = True, False
        if mode in (0, 4):
            if self.load_pending:
                self.ce, self.armed, self.load_pending, self.loaded = n, True, False, True
            elif self.gate and self.loaded:
                self.ce = (self.ce - 1) & 0xFFFF
                if self.ce == 0 and self.armed:
                    self.armed = False
                    if mode == 0:
                        self.out = True
                    else:
                        self.out, self.strobe = False, True
        elif mode in (1, 5):
            if self.trigger_pending:
                self.ce, self.armed, self.trigger_pending, self.loaded = n, True, False, True
                if mode == 1:
                    self.out = False
            else:
                self.ce = (self.ce - 1) & 0xFFFF
                if self.ce == 0 and self.armed:
                    self.armed = False
                    if mode == 1:
                        self.out = True
                    else:
                        self.out, self.strobe = False, True
        elif mode == 2:
            if self.load_pending or self.trigger_pending:
                self.ce, self.counting, self.out, self.loaded = n, self.gate, True, True
                self.load_pending = self.trigger_pending = False
            elif self.gate and self.counting:
                if self.ce == 1:
                    self.ce, self.out = n, True
                else:
                    self.ce -= 1
                    if self.ce == 1:
                        self.out = False
        else:
            if self.load_pending or self.trigger_pending:
                self.out, self.counting, self.half_left = True, self.gate, (n + 1) // 2
                self.ce, self.loaded = n & ~1, True
                self.load_pending = self.trigger_pending = False
            elif self.gate and self.counting:
                self.half_left -= 1
                self.ce -= 2
                if self.half_left == 0:   # the count expired: toggle and reload
                    self.out = not self.out
                    self.half_left = (n + 1) // 2 if self.out else n // 2
                    self.ce = n & ~1


@pytest.mark.parametrize("channel", [0, 2])
@pytest.mark.parametrize("seed", range(30))
def test_closed_form_timing_matches_a_clock_by_clock_model(seed, channel):
    """OUT (and IRQ0, driven by scheduled events, for counter 0) and the count at
    every clock of a random script of count writes and gate changes."""
    rng = random.Random(seed)
    machine, _ = make_machine()
    pit = machine.components["pit"]
    mode = seed % 6
    gate = rng.random() < 0.7

    def drive_gate(level):
        if channel == 2:
            out(0x61, int(level), machine)
        else:
            pit.set_gate(0, level)

    drive_gate(gate)
    out(CONTROL, (channel << 6) | 0x10 | (mode << 1), machine)     # LSB only
    model = SteppedCounter(mode, gate)
    tick = START
    for _ in range(400):
        action = rng.random()
        if action < 0.04 or (not model.written and action < 0.3):
            count = rng.randrange(2, 24)
            out(0x40 + channel, count, machine)
            model.write(count)
        elif action < 0.10:
            gate = not gate
            drive_gate(gate)
            model.set_gate(gate)
        assert out_level(machine, channel) == model.out, (tick, mode)
        if channel == 0:
            assert machine.bus.irq_levels[0] == model.out, (tick, mode)
        if model.loaded and not (model.load_pending or model.trigger_pending):
            out(CONTROL, channel << 6, machine)
            assert inb(0x40 + channel, machine) == model.ce & 0xFF, (tick, mode)
        tick += 1
        goto(machine, tick)
        model.clock()
