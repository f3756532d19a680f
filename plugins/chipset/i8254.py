"""Intel 8254 programmable interval timer: three counters at 0x40-0x43.

Followed: the Intel 8254 datasheet (control word, modes 0-5, "Operations common
to all modes", counter latch and read-back commands, status byte and null count),
Bochs `iodev/pit82c54.cc` for the one-clock load delay, QEMU `hw/timer/i8254.c`
for reading counts out of elapsed time.

Nothing ticks.  The input clock (1.193182 MHz) is a pure function of virtual time:
tick = clock.now() * 1193182 // 10**9.  Each counter keeps the tick at which its
counting element (CE) was loaded and the count loaded; the CE value and the OUT
level at any tick are computed from the elapsed ticks.  Channel 0's OUT drives
IRQ `irq` (default 0): the device schedules one clock event for the next OUT
transition, drives the line to the new level (rising edge raises, falling edge
lowers, as Bochs does) and schedules the following one.  Channels 1 and 2 are
computed only when read; channel 2's gate and OUT belong to port 0x61
(`set_gate()`, `out()`).

Timing as on the chip: a count written after clock k is loaded into the CE at
clock k+1 and OUT in mode 0 rises N+1 clocks after the write; a gate trigger
(modes 1, 2, 3, 5) loads the CE on the next clock.  A count written while modes 2
and 3 are counting is loaded at the end of the current period (mode 2) or
half-period (mode 3); in modes 0 and 4 on the next clock.

Open questions / approximations:

* Mode 3: each half-period the CE is loaded with N (even) or N-1 (odd) and
  counts down by 2; with an odd N, OUT is high for (N+1)/2 clocks and low for
  (N-1)/2 (datasheet, Bochs).
* A count of 1 in modes 2 and 3 (illegal per the datasheet) leaves OUT constant.
* The power-on state of each counter is Bochs': mode 4, LSB-only access, OUT
  high, the counting element stopped until the guest programs the counter.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from pcmachine.component import Component, Option, dict_to_state, state_to_dict

PIT_HZ = 1_193_182
NS_PER_SECOND = 1_000_000_000
FIRST_PORT = 0x40
CONTROL_PORT = 0x43
CHANNELS = 3
NEVER = 1 << 62
FLOATING_BUS = 0xFF

CONTROL_SC_SHIFT = 6
CONTROL_READ_BACK = 3         # SC1 SC0 = 11
CONTROL_ACCESS_SHIFT = 4
ACCESS_LATCH = 0
ACCESS_LSB = 1
ACCESS_MSB = 2
ACCESS_LSB_MSB = 3
CONTROL_MODE_SHIFT = 1
CONTROL_BCD = 0x01
READ_BACK_NO_COUNT = 0x20     # active low: 0 latches the count
READ_BACK_NO_STATUS = 0x10    # active low: 0 latches the status
STATUS_OUT = 0x80
STATUS_NULL_COUNT = 0x40
POWER_ON_CONTROL = 0x18       # LSB only, mode 4, binary (Bochs' initial state)

#: Register map: (first port, last port, name, read handler, write handler).
PORTS = (
    (0x40, 0x42, "counters 0-2 (count / latch / status)", "_read_counter", "_write_counter"),
    (0x43, 0x43, "control word, latch and read-back", "_read_control", "_write_control"),
)


def tick_at(time_ns: int) -> int:
    """The number of PIT input clocks since virtual time 0."""
    return time_ns * PIT_HZ // NS_PER_SECOND


def time_of_tick(tick: int) -> int:
    """The first virtual nanosecond at which `tick_at` reaches `tick`."""
    return -(-tick * NS_PER_SECOND // PIT_HZ)


def bcd_to_binary(value: int) -> int:
    return sum(((value >> (4 * digit)) & 0xF) * 10 ** digit for digit in range(4))


def binary_to_bcd(value: int) -> int:
    return sum(((value // 10 ** digit) % 10) << (4 * digit) for digit in range(4))


@dataclass
class CounterState:
    """One counter.  A running counter's CE held `seg_count` at clock `seg_start`;
    before that clock (and while stopped) CE and OUT are `hold_count`/`hold_out`."""

    control: int = POWER_ON_CONTROL   # RW1 RW0 M2 M1 M0 BCD, as the status byte shows
    count_register: int = 0           # CR as written (BCD digits in BCD mode)
    has_count: bool = False
    write_msb_next: bool = False
    lsb_written: int = 0
    read_msb_next: bool = False
    latched_count: int = 0
    latch_bytes: int = 0              # output latch bytes still to be read
    status_latched: bool = False
    status: int = 0
    gate: bool = True
    running: bool = False
    seg_start: int = 0
    seg_count: int = 0
    armed: bool = False               # modes 0, 1, 4, 5: terminal count still ahead
    pending_boundary: int = -1        # modes 2, 3: clock at which a new count takes over
    pending_start: int = 0
    pending_count: int = 0
    hold_count: int = 0
    hold_out: bool = True
    strobe_end: int = -1              # mode 4 gated during its strobe: OUT rises here
    null_count_until: int = NEVER     # null count bit reads 1 before this clock


Segment = Tuple[int, int, bool]       # (start clock, count loaded, armed)


class Counter:
    """The logic of one 8254 counter; all times are input-clock ticks."""

    def __init__(self, state: CounterState) -> None:
        self.state = state

    # ------------------------------------------------------------- decoding
    @property
    def access(self) -> int:
        return (self.state.control >> CONTROL_ACCESS_SHIFT) & 3

    @property
    def mode(self) -> int:
        mode = (self.state.control >> CONTROL_MODE_SHIFT) & 7
        return mode - 4 if mode >= 6 else mode   # 6 and 7 are modes 2 and 3

    @property
    def bcd(self) -> bool:
        return bool(self.state.control & CONTROL_BCD)

    @property
    def modulus(self) -> int:
        return 10000 if self.bcd else 0x10000

    def effective_count(self, raw: int) -> int:
        """The count a CR value stands for: BCD digits decoded, 0 is the maximum."""
        value = bcd_to_binary(raw) if self.bcd else raw
        return value if value else self.modulus

    # ------------------------------------------------------------- evaluation
    def _segment(self, tick: int) -> Segment:
        state = self.state
        if 0 <= state.pending_boundary <= tick:
            return state.pending_start, state.pending_count, True
        return state.seg_start, state.seg_count, state.armed

    def _ce(self, segment: Segment, tick: int) -> int:
        start, count, _ = segment
        elapsed = tick - start
        mode = self.mode
        if mode == 2:
            return count - elapsed % count
        if mode == 3:
            # each half-period loads N (even) or N-1 (odd) and counts down by 2
            phase = elapsed % count
            high = (count + 1) // 2
            step = phase if phase < high else phase - high
            return (count & ~1) - 2 * step
        return (count - elapsed) % self.modulus

    def _out(self, segment: Segment, tick: int) -> bool:
        start, count, armed = segment
        elapsed = tick - start
        mode = self.mode
        if mode == 0:
            return not armed or elapsed >= count
        if mode == 1:
            return not (armed and elapsed < count)
        if mode in (4, 5):
            return not (armed and elapsed == count)
        if mode == 2:
            return count < 2 or elapsed % count != count - 1
        return elapsed % count < (count + 1) // 2

    def _next_in_segment(self, segment: Segment, tick: int) -> Optional[int]:
        """First clock after `tick` (>= the segment start) where OUT changes."""
        start, count, armed = segment
        elapsed = tick - start
        mode = self.mode
        if mode in (0, 1):
            return start + count if armed and elapsed < count else None
        if mode in (4, 5):
            if armed and elapsed < count:
                return start + count
            return start + count + 1 if armed and elapsed == count else None
        if count < 2:
            return None
        phase = elapsed % count
        period_start = tick - phase
        low_from = count - 1 if mode == 2 else (count + 1) // 2
        return period_start + low_from if phase < low_from else period_start + count

    def count_at(self, tick: int) -> int:
        """The CE value at `tick` (may equal the modulus for a full count)."""
        state = self.state
        if not state.running or tick < state.seg_start:
            return state.hold_count
        return self._ce(self._segment(tick), tick)

    def out_at(self, tick: int) -> bool:
        state = self.state
        if not state.running:
            return state.hold_out or 0 <= state.strobe_end <= tick
        if tick < state.seg_start:
            return state.hold_out
        return self._out(self._segment(tick), tick)

    def next_transition(self, tick: int) -> Optional[int]:
        """The first clock after `tick` at which OUT changes level, or None."""
        state = self.state
        if not state.running:
            return state.strobe_end if state.strobe_end > tick and not state.hold_out else None
        if tick < state.seg_start:
            current = (state.seg_start, state.seg_count, state.armed)
            if self._out(current, state.seg_start) != state.hold_out:
                return state.seg_start
            tick = state.seg_start
        boundary = state.pending_boundary
        if 0 <= boundary <= tick:
            return self._next_in_segment(self._segment(tick), tick)
        found = self._next_in_segment((state.seg_start, state.seg_count, state.armed), tick)
        if boundary >= 0 and (found is None or found > boundary):
            pending = (state.pending_start, state.pending_count, True)
            if self._out(pending, boundary) != self.out_at(boundary - 1):
                return boundary
            found = self._next_in_segment(pending, boundary)
        return found

    def read_value(self, tick: int) -> int:
        """The CE as the guest reads it: 16 bits, or 4 BCD digits."""
        value = self.count_at(tick) % self.modulus
        return binary_to_bcd(value) if self.bcd else value

    def status_at(self, tick: int) -> int:
        state = self.state
        status = state.control
        if self.out_at(tick):
            status |= STATUS_OUT
        if tick < state.null_count_until:
            status |= STATUS_NULL_COUNT
        return status

    # ------------------------------------------------------------- changes
    def _settle(self, tick: int) -> None:
        """Make a pending mode 2/3 reload that has happened by `tick` current."""
        state = self.state
        if 0 <= state.pending_boundary <= tick:
            state.seg_start = state.pending_start
            state.seg_count = state.pending_count
            state.armed = True
            state.pending_boundary = -1

    def _stop(self, tick: int, out: bool) -> None:
        state = self.state
        state.hold_count = self.count_at(tick)
        state.hold_out = out
        state.running = False
        state.pending_boundary = -1
        state.strobe_end = -1

    def _start(self, tick: int, count: int) -> None:
        """Load the CE with `count` at the clock after `tick`."""
        state = self.state
        state.hold_count = self.count_at(tick)
        state.hold_out = self.out_at(tick)
        state.running = True
        state.seg_start = tick + 1
        state.seg_count = count
        state.armed = True
        state.pending_boundary = -1
        state.strobe_end = -1
        state.null_count_until = tick + 1

    def write_control(self, value: int, tick: int) -> None:
        """A control word resets the counter's logic: OUT low in mode 0 and high in
        every other mode, counting stops until a count is written."""
        state = self.state
        self._settle(tick)
        self._stop(tick, out=True)          # the CE holds its value under the old mode
        state.control = value & 0x3F
        state.hold_out = self.mode != 0
        state.has_count = False
        state.write_msb_next = False
        state.read_msb_next = False
        state.latch_bytes = 0
        state.status_latched = False
        state.null_count_until = NEVER

    def write_count_byte(self, value: int, tick: int) -> None:
        state = self.state
        access = self.access
        if access == ACCESS_LSB:
            self._load(value, tick)
        elif access == ACCESS_MSB:
            self._load(value << 8, tick)
        elif not state.write_msb_next:
            state.lsb_written = value
            state.write_msb_next = True
            if self.mode == 0:   # the first byte disables counting, OUT low at once
                self._settle(tick)
                self._stop(tick, out=False)
        else:
            state.write_msb_next = False
            self._load(state.lsb_written | value << 8, tick)

    def _load(self, raw: int, tick: int) -> None:
        """A complete count reached the CR; when it reaches the CE depends on the mode."""
        state = self.state
        self._settle(tick)
        state.count_register = raw
        state.has_count = True
        state.null_count_until = NEVER
        count = self.effective_count(raw)
        mode = self.mode
        if mode in (1, 5):
            return                      # waits for a gate trigger
        if mode in (0, 4):
            out = False if mode == 0 else self.out_at(tick)
            if state.gate:
                self._start(tick, count)
                state.hold_out = out
            else:
                self._stop(tick, out)
                state.hold_count = count
                state.armed = True
                state.null_count_until = tick + 1
            return
        if state.running:
            self._schedule_reload(tick, count)
        elif state.gate:
            self._start(tick, count)
        else:                               # loaded, but GATE low holds it
            state.hold_count = count & ~1 if mode == 3 else count
            state.null_count_until = tick + 1

    def _schedule_reload(self, tick: int, count: int) -> None:
        """Modes 2 and 3: a new count takes over at the end of the current period
        (mode 2) or half-period (mode 3)."""
        state = self.state
        if tick < state.seg_start:     # the first load has not happened yet
            state.seg_count = count
            state.null_count_until = state.seg_start
            return
        current = state.seg_count
        phase = (tick - state.seg_start) % current
        period_start = tick - phase
        if self.mode == 2:
            boundary = period_start + current
            start = boundary
        else:
            high = (current + 1) // 2
            if phase < high:          # new count starts with its low half
                boundary = period_start + high
                start = boundary - (count + 1) // 2
            else:
                boundary = period_start + current
                start = boundary
        state.pending_boundary = boundary
        state.pending_start = start
        state.pending_count = count
        state.null_count_until = boundary

    def set_gate(self, level: bool, tick: int) -> None:
        state = self.state
        if level == state.gate:
            return
        self._settle(tick)
        state.gate = level
        mode = self.mode
        if mode in (0, 4):
            self._gate_suspends(level, tick)
        elif mode in (2, 3):
            if not level and state.running:
                self._stop(tick, out=True)
            elif level and state.has_count and not state.write_msb_next:
                self._start(tick, self.effective_count(state.count_register))
                state.hold_out = True
        elif level and state.has_count:   # modes 1 and 5: rising edge triggers
            self._start(tick, self.effective_count(state.count_register))

    def _gate_suspends(self, level: bool, tick: int) -> None:
        """Modes 0 and 4: GATE low holds the CE; high resumes counting."""
        state = self.state
        if not level and state.running:
            out = self.out_at(tick)
            strobing = False
            if tick < state.seg_start:
                remaining = state.seg_count
            else:
                elapsed = tick - state.seg_start
                remaining = state.seg_count - elapsed
                strobing = state.armed and elapsed == state.seg_count
                state.armed = state.armed and elapsed < state.seg_count
            self._stop(tick, out)
            if strobing and self.mode == 4:
                state.strobe_end = tick + 1    # the one-clock low pulse still ends
            if state.armed:
                state.hold_count = remaining
        elif level and not state.running and state.has_count and not state.write_msb_next:
            state.running = True
            state.seg_start = tick
            state.seg_count = state.hold_count
            state.strobe_end = -1

    def latch_count(self, tick: int) -> None:
        """Counter latch: freeze the CE in the output latch until it has been read."""
        state = self.state
        if state.latch_bytes == 0:
            state.latched_count = self.read_value(tick)
            state.latch_bytes = 2 if self.access == ACCESS_LSB_MSB else 1

    def latch_status(self, tick: int) -> None:
        state = self.state
        if not state.status_latched:
            state.status = self.status_at(tick)
            state.status_latched = True

    def read_byte(self, tick: int) -> int:
        """Status first if latched, then the latched count, else the live CE."""
        state = self.state
        if state.status_latched:
            state.status_latched = False
            return state.status
        access = self.access
        if state.latch_bytes:
            value = state.latched_count
            msb = access == ACCESS_MSB or (access == ACCESS_LSB_MSB and state.latch_bytes == 1)
            state.latch_bytes -= 1
        else:
            value = self.read_value(tick)
            msb = access == ACCESS_MSB or (access == ACCESS_LSB_MSB and state.read_msb_next)
            if access == ACCESS_LSB_MSB:
                state.read_msb_next = not state.read_msb_next
        return (value >> 8) & 0xFF if msb else value & 0xFF


@dataclass
class PITState:
    """Device-level state: the IRQ level driven and the next channel 0 transition."""

    irq_level: bool = False
    event_tick: int = -1


class PIT(Component):
    """The 8254 of a PC: counter 0 to IRQ0, counter 2 to the speaker (port 0x61)."""

    OPTIONS = {"irq": Option("int", 0, "IRQ line driven by counter 0's OUT",
                                 minimum=0, maximum=15)}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.irq = options["irq"]
        self.state = PITState()
        self.counters: List[Counter] = [Counter(CounterState()) for _ in range(CHANNELS)]
        self._event = None
        for first, last, register, read, write in PORTS:
            self.bus.register_io(first, last, getattr(self, read), getattr(self, write),
                                 f"{name} (8254) {register}")

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on: every counter waits for a control word; the gate inputs keep
        their levels (port 0x61 and the board drive them)."""
        gates = [counter.state.gate for counter in self.counters]
        self.counters = [Counter(CounterState(gate=gate)) for gate in gates]
        self._channel0_changed()

    def snapshot(self) -> Dict[str, Any]:
        data = state_to_dict(self.state)
        data["counters"] = [state_to_dict(counter.state) for counter in self.counters]
        return data

    def restore(self, state: Dict[str, Any]) -> None:
        """Load the counters and re-schedule the pending channel 0 transition at the
        same virtual time (the IRQ level itself is restored with the bus)."""
        data = dict(state)
        self.counters = [Counter(dict_to_state(CounterState, item)) for item in data.pop("counters")]
        self.state = dict_to_state(PITState, data)
        self._cancel_event()
        if self.state.event_tick >= 0:
            self._event = self.clock.schedule(time_of_tick(self.state.event_tick),
                                              self._on_channel0_transition)

    # ------------------------------------------------------------------ API
    def now_tick(self) -> int:
        return tick_at(self.clock.now())

    def set_gate(self, channel: int, level: bool) -> None:
        """Drive counter `channel`'s GATE input (port 0x61 bit 0 for counter 2)."""
        self.counters[channel].set_gate(bool(level), self.now_tick())
        if channel == 0:
            self._channel0_changed()

    def out(self, channel: int) -> bool:
        """Counter `channel`'s OUT pin now."""
        return self.counters[channel].out_at(self.now_tick())

    # ------------------------------------------------------------------ ports
    def _read_counter(self, port: int, size: int) -> int:
        return self.counters[port - FIRST_PORT].read_byte(self.now_tick())

    def _write_counter(self, port: int, size: int, value: int) -> None:
        channel = port - FIRST_PORT
        self.counters[channel].write_count_byte(value, self.now_tick())
        if channel == 0:
            self._channel0_changed()

    def _read_control(self, port: int, size: int) -> int:
        """The control register cannot be read: the data bus floats."""
        return FLOATING_BUS

    def _write_control(self, port: int, size: int, value: int) -> None:
        tick = self.now_tick()
        select = value >> CONTROL_SC_SHIFT
        if select == CONTROL_READ_BACK:
            for channel in range(CHANNELS):
                if value & (2 << channel):
                    if not value & READ_BACK_NO_COUNT:
                        self.counters[channel].latch_count(tick)
                    if not value & READ_BACK_NO_STATUS:
                        self.counters[channel].latch_status(tick)
            return
        counter = self.counters[select]
        if (value >> CONTROL_ACCESS_SHIFT) & 3 == ACCESS_LATCH:
            counter.latch_count(tick)
            return
        counter.write_control(value, tick)
        if select == 0:
            self._channel0_changed()

    # ------------------------------------------------------------------ IRQ
    def update_irq(self, level: bool) -> None:
        """Drive the IRQ line from counter 0's OUT; the bus sees edges only."""
        if level != self.state.irq_level:
            self.state.irq_level = level
            self.bus.set_irq(self.irq, level)

    def _channel0_changed(self) -> None:
        """Counter 0 was reprogrammed: drive OUT now, plan its next transition."""
        tick = self.now_tick()
        self.update_irq(self.counters[0].out_at(tick))
        self._schedule_after(tick)

    def _schedule_after(self, tick: int) -> None:
        self._cancel_event()
        transition = self.counters[0].next_transition(tick)
        self.state.event_tick = -1 if transition is None else transition
        if transition is not None:
            self._event = self.clock.schedule(time_of_tick(transition), self._on_channel0_transition)

    def _cancel_event(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def _on_channel0_transition(self) -> None:
        """Clock event: OUT changes at the planned clock.  Each transition is applied
        in order, even when the event fires late, so no edge is lost."""
        self._event = None
        tick = self.state.event_tick
        self.update_irq(self.counters[0].out_at(tick))
        self._schedule_after(tick)
