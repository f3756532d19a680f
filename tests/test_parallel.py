"""The parallel port and its printer (plugins/parallel/port.py) through ports
0x378-0x37A, as a printer driver uses them: register values, read-back, the
STROBE edge that prints, the acknowledge seen in the status port and IRQ 7."""

import random
from typing import List, Tuple

import pytest

from pcmachine import Machine, UserError, hookimpl
from pcmachine.plugins.parallel.port import ParallelPort

BASE = 0x378
DATA, STATUS, CONTROL = 0, 1, 2
IRQ = 7
#: INIT# high and SELECT IN: a driver's idle control value
NORMAL = 0x0C
STROBE, INIT_N, SELECT_IN, IRQ_ENABLE, INPUT = 0x01, 0x04, 0x08, 0x10, 0x20
READY, BUSY, ACKING = 0xD8, 0x58, 0x18


class PrinterProbe:
    """Collects parallel_byte events."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, int]] = []

    @hookimpl
    def parallel_byte(self, port: str, value: int) -> None:
        self.events.append((port, value))


def build(**options) -> Tuple[Machine, PrinterProbe]:
    """A port whose printer a driver has initialised (an INIT# pulse, which also
    clears QEMU's time-out bit 0 of the reset status)."""
    machine = Machine.bare()
    probe = machine.add_plugin(PrinterProbe())
    machine.add_component(ParallelPort, "lpt1", options)
    machine.configure()
    out(machine, CONTROL, NORMAL & ~INIT_N)
    out(machine, CONTROL, NORMAL)
    return machine, probe


def out(machine: Machine, offset: int, value: int) -> None:
    machine.bus.io_write(BASE + offset, 1, value)


def inp(machine: Machine, offset: int) -> int:
    return machine.bus.io_read(BASE + offset, 1)


def pulse(machine: Machine, control: int = NORMAL) -> None:
    out(machine, CONTROL, control | STROBE)
    out(machine, CONTROL, control & ~STROBE)


def printed(probe: PrinterProbe) -> bytes:
    return bytes(value for _, value in probe.events)


# ---------------------------------------------------------------------- registers
def test_reset_values_are_qemus_ready_printer():
    machine, _ = build()
    machine.components["lpt1"].reset()
    # data latch FFh; status: not busy, no ACK, selected, no error, QEMU's EPP
    # time-out bit; control: INIT# high and SELECT IN, bits 6-7 read as 1
    assert [inp(machine, r) for r in (DATA, STATUS, CONTROL)] == [0xFF, 0xD9, 0xCC]
    assert machine.bus.irq_levels[IRQ] == 0
    assert machine.bus.port_name(BASE + 3) == "unclaimed"     # SPP: three registers


def test_data_and_control_read_back_and_status_is_read_only():
    machine, _ = build()
    for value in (0x00, 0x5A, 0xA5, 0xFF):
        out(machine, DATA, value)
        assert inp(machine, DATA) == value
    for value in (0x00, 0x0C, 0x2E, 0x37):          # none strobes a selected printer
        out(machine, CONTROL, value)
        assert inp(machine, CONTROL) == value | 0xC0
    out(machine, CONTROL, NORMAL)
    out(machine, STATUS, 0x00)
    assert inp(machine, STATUS) == READY           # control 00h held INIT# low: reset printer


def test_direction_bit_makes_the_data_lines_inputs_nobody_drives():
    machine, _ = build()
    out(machine, DATA, 0x42)
    out(machine, CONTROL, NORMAL | INPUT)
    assert inp(machine, DATA) == 0xFF
    out(machine, CONTROL, NORMAL)
    assert inp(machine, DATA) == 0x42


def test_init_pulse_leaves_a_ready_printer_without_the_timeout_bit():
    machine, _ = build()
    machine.components["lpt1"].reset()
    assert inp(machine, STATUS) == 0xD9
    out(machine, CONTROL, NORMAL & ~INIT_N)
    out(machine, CONTROL, NORMAL)
    assert inp(machine, STATUS) == READY


def test_reset_restores_the_power_on_values():
    machine, _ = build()
    out(machine, DATA, 0x12)
    out(machine, CONTROL, NORMAL | IRQ_ENABLE)
    pulse(machine, NORMAL | IRQ_ENABLE)
    assert machine.bus.irq_levels[IRQ] == 1
    machine.components["lpt1"].reset()
    assert [inp(machine, r) for r in (DATA, STATUS, CONTROL)] == [0xFF, 0xD9, 0xCC]
    assert machine.bus.irq_levels[IRQ] == 0


# ---------------------------------------------------------------------- printing
def test_the_strobe_edge_prints_once_and_the_acknowledge_runs_on_status_reads():
    machine, probe = build()
    out(machine, CONTROL, NORMAL)
    out(machine, DATA, ord("A"))
    out(machine, CONTROL, NORMAL | STROBE)
    assert printed(probe) == b"A"                  # taken on the leading edge
    out(machine, CONTROL, NORMAL | STROBE)         # held: no second byte
    out(machine, CONTROL, NORMAL | STROBE | 0x02)
    assert printed(probe) == b"A"
    assert inp(machine, STATUS) == BUSY            # strobe still held: stays busy
    assert inp(machine, STATUS) == BUSY
    out(machine, CONTROL, NORMAL)
    assert [inp(machine, STATUS) for _ in range(4)] == [BUSY, ACKING, READY, READY]
    assert probe.events == [("lpt1", ord("A"))]


def test_bytes_in_order_with_the_drivers_busy_wait():
    machine, probe = build(port_name="lpt2")
    out(machine, CONTROL, NORMAL)
    for value in b"Hello\r\n":
        for _ in range(10):
            if inp(machine, STATUS) & 0x80:
                break
        else:
            pytest.fail("the printer stays busy")
        out(machine, DATA, value)
        pulse(machine)
    assert printed(probe) == b"Hello\r\n"
    assert {port for port, _ in probe.events} == {"lpt2"}


@pytest.mark.parametrize("control", [NORMAL & ~SELECT_IN, NORMAL & ~INIT_N],
                         ids=["deselected", "initialising"])
def test_no_byte_without_select_in_or_while_init_is_held(control):
    machine, probe = build()
    out(machine, DATA, ord("X"))
    pulse(machine, control)
    assert printed(probe) == b""
    assert inp(machine, STATUS) & 0x80


def test_output_goes_to_a_file_sink(tmp_path):
    path = tmp_path / "printer.txt"
    machine, _ = build(output=f"file:{path}")
    out(machine, CONTROL, NORMAL)
    for value in b"paper":
        out(machine, DATA, value)
        pulse(machine)
    assert path.read_bytes() == b"paper"      # unbuffered: there before the machine closes
    machine.close()
    assert path.read_bytes() == b"paper"


def test_a_bad_sink_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="lpt1.output"):
        build(output="printer")


# ---------------------------------------------------------------------- IRQ 7
def test_irq_rises_at_the_end_of_the_strobe_and_falls_on_the_status_read():
    machine, _ = build()
    levels = machine.bus.irq_levels
    out(machine, CONTROL, NORMAL | IRQ_ENABLE)
    assert levels[IRQ] == 0                        # enabling alone requests nothing
    out(machine, DATA, 0x41)
    out(machine, CONTROL, NORMAL | IRQ_ENABLE | STROBE)
    assert levels[IRQ] == 0
    out(machine, CONTROL, NORMAL | IRQ_ENABLE)
    assert levels[IRQ] == 1
    out(machine, DATA, 0x42)                       # other accesses leave it up
    assert inp(machine, CONTROL) and inp(machine, DATA) and levels[IRQ] == 1
    assert inp(machine, STATUS) == BUSY
    assert levels[IRQ] == 0
    assert [inp(machine, STATUS) for _ in range(2)] == [ACKING, READY]
    assert levels[IRQ] == 0                        # one edge per byte


def test_no_irq_without_irq_enable_and_clearing_it_drops_the_line():
    machine, _ = build()
    levels = machine.bus.irq_levels
    pulse(machine)
    assert levels[IRQ] == 0
    while not inp(machine, STATUS) & 0x80:
        pass
    pulse(machine, NORMAL | IRQ_ENABLE)
    assert levels[IRQ] == 1
    out(machine, CONTROL, NORMAL)
    assert levels[IRQ] == 0
    out(machine, CONTROL, NORMAL | IRQ_ENABLE)
    assert levels[IRQ] == 0


def test_irq_edges_are_counted_once_per_byte():
    machine, _ = build()
    edges = []
    machine.bus.connect_irq(IRQ, edges.append)
    for value in b"abc":
        out(machine, DATA, value)
        pulse(machine, NORMAL | IRQ_ENABLE)
        while not inp(machine, STATUS) & 0x80:
            pass
    assert edges == [1, 0] * 3


# ---------------------------------------------------------------------- state
def test_save_restore_keeps_registers_handshake_and_irq():
    machine, probe = build()
    out(machine, DATA, 0x37)
    pulse(machine, NORMAL | IRQ_ENABLE | 0x02)
    snapshot = machine.snapshot()
    assert machine.bus.irq_levels[IRQ] == 1

    restored, restored_probe = build()
    restored.restore(snapshot)
    assert restored.snapshot()["components"] == snapshot["components"]
    assert restored.bus.irq_levels[IRQ] == 1
    observed = []
    for m in (machine, restored):
        observed.append([inp(m, r) for r in (DATA, CONTROL, STATUS, STATUS, STATUS)]
                        + [m.bus.irq_levels[IRQ]])
    assert observed[0] == observed[1] == [0x37, 0xDE, BUSY, ACKING, READY, 0]
    assert restored_probe.events == []             # restoring prints nothing


def test_random_register_traffic_keeps_the_invariants():
    """Whatever a guest writes: data and control read back (control with bits 6-7
    set), the IRQ line is only up with IRQ enable, and the latch is printed once per
    rising strobe edge while selected and not initialising."""
    rng = random.Random(17)
    machine, probe = build()
    expected = bytearray()
    latch, control = 0xFF, NORMAL | 0xC0
    for _ in range(3000):
        offset = rng.choice((DATA, STATUS, CONTROL))
        if rng.random() < 0.5:
            inp(machine, offset)
        else:
            value = rng.randrange(256)
            out(machine, offset, value)
            if offset == DATA:
                latch = value
            elif offset == CONTROL:
                if value & STROBE and not control & STROBE and value & INIT_N and value & SELECT_IN:
                    expected.append(latch)
                control = value | 0xC0
        assert inp(machine, CONTROL) == control
        assert inp(machine, DATA) == (0xFF if control & INPUT else latch)
        assert not machine.bus.irq_levels[IRQ] or control & IRQ_ENABLE
    assert printed(probe) == bytes(expected) and len(expected) > 20
