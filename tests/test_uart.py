"""UART 16550A through its ports, as a serial driver programs it."""

import random
from typing import List, Tuple

import pytest

from pcmachine import Machine, UserError, hookimpl
from pcmachine.clock import NS_PER_SECOND
from pcmachine.plugins.serial.uart import UART16550

COM1 = 0x3F8
COM2 = 0x2F8
RBR, THR, DLL, IER, DLM, IIR, FCR, LCR, MCR, LSR, MSR, SCR = 0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7


class SerialProbe:
    """Collects serial_byte events."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, str, int]] = []

    @hookimpl
    def serial_byte(self, port, direction, value):
        self.events.append((port, direction, value))


def build(**options) -> Tuple[Machine, SerialProbe]:
    """A UART at the chip's line rate unless `tx_timing` says otherwise."""
    options.setdefault("tx_timing", "line")
    machine = Machine.bare()
    probe = machine.add_plugin(SerialProbe())
    machine.add_component(UART16550, "com1", options)
    machine.configure()
    return machine, probe


def out(machine: Machine, offset: int, value: int, base: int = COM1) -> None:
    machine.bus.io_write(base + offset, 1, value)


def inp(machine: Machine, offset: int, base: int = COM1) -> int:
    return machine.bus.io_read(base + offset, 1)


def advance_to(machine: Machine, time_ns: int) -> None:
    machine.clock.skip_to(time_ns)
    machine.clock.run_due()


def advance(machine: Machine, delta_ns: int) -> None:
    advance_to(machine, machine.clock.now() + delta_ns)


def set_divisor(machine: Machine, divisor: int, lcr: int = 0x03) -> None:
    out(machine, LCR, 0x80 | lcr)
    out(machine, DLL, divisor & 0xFF)
    out(machine, DLM, divisor >> 8)
    out(machine, LCR, lcr)


def char_ns(bits: int, divisor: int) -> int:
    return bits * divisor * NS_PER_SECOND // 115200


# ---------------------------------------------------------------------- registers
def test_power_on_register_values():
    machine, _ = build()
    assert [inp(machine, r) for r in (IER, IIR, LCR, MCR, LSR, MSR)] == [0, 0x01, 0x03, 0, 0x60, 0x30]
    out(machine, LCR, 0x80)
    assert (inp(machine, DLL), inp(machine, DLM)) == (12, 0)
    assert machine.bus.irq_levels[4] == 0


def test_divisor_latch_is_behind_dlab_and_scratch_register_holds_a_byte():
    machine, _ = build()
    set_divisor(machine, 0x0183)
    out(machine, LCR, 0x83)
    assert (inp(machine, DLL), inp(machine, DLM)) == (0x83, 0x01)
    out(machine, LCR, 0x03)
    out(machine, IER, 0xFF)
    assert inp(machine, IER) == 0x0F
    assert inp(machine, LCR) == 0x03
    out(machine, SCR, 0xA5)
    assert inp(machine, SCR) == 0xA5
    out(machine, LSR, 0x00)             # read-only: ignored
    assert inp(machine, LSR) == 0x60


def test_osdev_loopback_self_test_reads_the_byte_back_at_once():
    machine, probe = build()
    out(machine, IER, 0x00)
    set_divisor(machine, 3)
    out(machine, FCR, 0xC7)
    out(machine, MCR, 0x0B)
    out(machine, MCR, 0x1E)
    out(machine, THR, 0xAE)
    assert inp(machine, LSR) & 0x61 == 0x61
    assert inp(machine, RBR) == 0xAE
    assert inp(machine, LSR) & 0x01 == 0
    out(machine, MCR, 0x0F)
    assert probe.events == []           # nothing crossed the line


def test_loopback_maps_modem_outputs_to_inputs_with_delta_bits():
    machine, _ = build()
    out(machine, MCR, 0x10)             # loopback, all outputs off
    assert inp(machine, MSR) == 0x03    # CTS and DSR fell
    assert inp(machine, MSR) == 0x00
    out(machine, MCR, 0x1F)
    assert inp(machine, MSR) == 0xFB    # RI rising edge sets no delta
    out(machine, MCR, 0x1B)             # OUT1 off: RI trailing edge
    assert inp(machine, MSR) == 0xB4
    out(machine, MCR, 0x00)             # back to the host end: CTS, DSR
    assert inp(machine, MSR) == 0x38


def test_word_length_masks_transmitted_data():
    machine, _ = build()
    set_divisor(machine, 1, lcr=0x00)   # 5 data bits
    out(machine, MCR, 0x10)
    out(machine, THR, 0xFF)
    assert inp(machine, RBR) == 0x1F


# ---------------------------------------------------------------------- transmitter timing
@pytest.mark.parametrize("lcr, bits, divisor", [(0x03, 10, 1), (0x1E, 11, 12), (0x00, 7, 3)])
def test_temt_follows_the_character_time(lcr, bits, divisor):
    machine, probe = build()
    set_divisor(machine, divisor, lcr)
    start = machine.clock.now()
    out(machine, THR, 0x41)
    assert inp(machine, LSR) == 0x20    # THR moved to the shift register
    out(machine, THR, 0x42)
    assert inp(machine, LSR) == 0x00
    one = char_ns(bits, divisor)
    advance_to(machine, start + one - 1)
    assert inp(machine, LSR) == 0x00 and probe.events == []
    advance_to(machine, start + one)
    assert inp(machine, LSR) == 0x20
    assert probe.events == [("com1", "tx", 0x41 & (0xFF >> (3 - (lcr & 3))))]
    advance_to(machine, start + 2 * one)
    assert inp(machine, LSR) == 0x60
    assert len(probe.events) == 2


def test_instant_transmission_empties_the_transmitter_without_a_character_time():
    """tx_timing: instant (pc.yaml's default, QEMU's behaviour): each byte leaves
    as soon as the clock serves the current time; THRE and TEMT follow at once."""
    machine, probe = build(tx_timing="instant")
    set_divisor(machine, 12)                # 9600 baud: ~1 ms a character on a line
    start = machine.clock.now()
    for value in (0x41, 0x42):
        out(machine, THR, value)
        advance_to(machine, start)
        assert inp(machine, LSR) == 0x60
    assert [event[2] for event in probe.events] == [0x41, 0x42]


def test_fifo_mode_takes_sixteen_bytes_and_drains_at_line_rate():
    machine, probe = build()
    set_divisor(machine, 1)
    out(machine, FCR, 0x07)
    for value in range(20):
        out(machine, THR, value)
    assert inp(machine, LSR) == 0x00
    advance(machine, 16 * char_ns(10, 1))
    assert inp(machine, LSR) == 0x20
    advance(machine, char_ns(10, 1))
    assert inp(machine, LSR) == 0x60
    assert [value for _, _, value in probe.events] == list(range(17))


def test_output_goes_to_a_file_sink(tmp_path):
    path = tmp_path / "com1.txt"
    machine, _ = build(output=f"file:{path}")
    set_divisor(machine, 1)
    out(machine, FCR, 0x01)
    for char in b"Hello, serial\n":
        while not inp(machine, LSR) & 0x20:
            advance(machine, 10_000)
        out(machine, THR, char)
    advance(machine, NS_PER_SECOND)
    assert path.read_bytes() == b"Hello, serial\n"
    machine.close()


def test_bad_output_spec_is_a_user_error():
    with pytest.raises(UserError, match="com1.output"):
        build(output="tcp:1234")


# ---------------------------------------------------------------------- interrupts
@pytest.mark.parametrize("gate, raised", [("out2", 0), ("none", 1)])
def test_received_byte_interrupt_with_out2_clear(gate, raised):
    """xv6's uartinit: MCR = 0, IER = received data; a byte arrives."""
    machine, _ = build(irq_gate=gate)
    set_divisor(machine, 12)
    out(machine, MCR, 0x00)
    out(machine, IER, 0x01)
    post(machine, "com1", b"x")
    assert inp(machine, LSR) & 0x01
    assert machine.bus.irq_levels[4] == raised
    assert inp(machine, RBR) == ord("x")
    assert machine.bus.irq_levels[4] == 0


def test_thre_interrupt_enable_read_iir_and_out2_gating():
    machine, _ = build()
    set_divisor(machine, 1)
    out(machine, IER, 0x02)
    assert inp(machine, IIR) == 0x02    # shown, but OUT2 is off: no IRQ
    assert machine.bus.irq_levels[4] == 0
    out(machine, IER, 0x00)
    out(machine, MCR, 0x08)
    out(machine, IER, 0x02)
    assert machine.bus.irq_levels[4] == 1
    assert inp(machine, IIR) == 0x02
    assert machine.bus.irq_levels[4] == 0
    assert inp(machine, IIR) == 0x01
    out(machine, THR, 0x55)             # to the shift register: THR empty again
    assert machine.bus.irq_levels[4] == 1
    out(machine, THR, 0x56)             # holding register full
    assert machine.bus.irq_levels[4] == 0
    advance(machine, char_ns(10, 1))
    assert machine.bus.irq_levels[4] == 1
    assert inp(machine, IIR) == 0x02


@pytest.mark.parametrize("fcr, trigger", [(0x01, 1), (0x41, 4), (0x81, 8), (0xC1, 14)])
def test_fifo_trigger_levels(fcr, trigger):
    machine, _ = build()
    out(machine, FCR, fcr)
    out(machine, MCR, 0x18)             # loopback, OUT2
    out(machine, IER, 0x01)
    for value in range(trigger - 1):
        out(machine, THR, value)
    assert inp(machine, IIR) == 0xC1
    assert machine.bus.irq_levels[4] == 0
    out(machine, THR, 0x99)
    assert inp(machine, IIR) == 0xC4
    assert machine.bus.irq_levels[4] == 1
    inp(machine, RBR)
    assert inp(machine, IIR) == 0xC1
    assert machine.bus.irq_levels[4] == 0


def test_character_timeout_after_four_character_times():
    machine, _ = build()
    set_divisor(machine, 2)
    out(machine, FCR, 0xC1)
    out(machine, MCR, 0x18)
    out(machine, IER, 0x01)
    for value in b"abc":
        out(machine, THR, value)
    four = 4 * char_ns(10, 2)
    advance(machine, four - 1)
    assert inp(machine, IIR) == 0xC1
    advance(machine, 1)
    assert inp(machine, IIR) == 0xCC
    assert machine.bus.irq_levels[4] == 1
    assert inp(machine, RBR) == ord("a")
    assert inp(machine, IIR) == 0xC1 and machine.bus.irq_levels[4] == 0
    advance(machine, four)
    assert inp(machine, IIR) == 0xCC
    inp(machine, RBR)
    inp(machine, RBR)
    advance(machine, 10 * four)
    assert inp(machine, IIR) == 0xC1    # empty FIFO: no timeout


def test_interrupt_priorities():
    machine, _ = build()
    out(machine, MCR, 0x1B)             # loopback, OUT2, DTR, RTS: modem deltas
    out(machine, IER, 0x0F)
    out(machine, THR, 0x11)
    out(machine, THR, 0x22)             # RBR not read: overrun (non-FIFO)
    assert machine.bus.irq_levels[4] == 1
    assert inp(machine, IIR) == 0x06    # line status
    assert inp(machine, LSR) == 0x63
    assert inp(machine, IIR) == 0x04    # received data
    assert inp(machine, RBR) == 0x22
    assert inp(machine, IIR) == 0x02    # THR empty, acknowledged by this read
    assert inp(machine, IIR) == 0x00    # modem status
    assert inp(machine, MSR) & 0x0F
    assert inp(machine, IIR) == 0x01
    assert machine.bus.irq_levels[4] == 0


def irq_and_iir(machine: Machine) -> Tuple[int, int]:
    """The IRQ line as it is now, then IIR (whose read may acknowledge THRE)."""
    return machine.bus.irq_levels[4], inp(machine, IIR)


def test_reading_lsr_and_rbr_updates_iir_and_the_irq_line_at_once():
    """Datasheet table IV: the line status interrupt is reset by reading LSR, the
    received data interrupt by reading RBR (below the trigger level in FIFO mode),
    the timeout by reading RBR.  The IRQ line (OUT2 set) follows at once, with no
    virtual time passing."""
    machine, _ = build()
    out(machine, MCR, 0x18)             # loopback, OUT2
    out(machine, IER, 0x04)             # line status only
    out(machine, THR, 0x11)
    assert irq_and_iir(machine) == (0, 0x01)
    out(machine, THR, 0x22)             # overrun
    assert irq_and_iir(machine) == (1, 0x06)
    assert irq_and_iir(machine) == (1, 0x06)    # reading IIR does not clear it
    assert inp(machine, LSR) & 0x03 == 0x03
    assert irq_and_iir(machine) == (0, 0x01)    # the LSR read did
    out(machine, IER, 0x05)             # received data too: RBR still full
    assert irq_and_iir(machine) == (1, 0x04)
    out(machine, THR, 0x33)             # overrun again: line status outranks data
    assert irq_and_iir(machine) == (1, 0x06)
    assert inp(machine, LSR) & 0x03 == 0x03
    assert irq_and_iir(machine) == (1, 0x04)
    assert inp(machine, RBR) == 0x33
    assert irq_and_iir(machine) == (0, 0x01)
    # FIFO mode, trigger level 4: data available at 4 bytes, gone below 4
    out(machine, FCR, 0x47)
    for value in range(4):
        assert irq_and_iir(machine) == (0, 0xC1)
        out(machine, THR, value)
    assert irq_and_iir(machine) == (1, 0xC4)
    assert inp(machine, RBR) == 0
    assert irq_and_iir(machine) == (0, 0xC1)
    advance(machine, 4 * char_ns(10, 12))       # four character times: timeout
    assert irq_and_iir(machine) == (1, 0xCC)
    assert inp(machine, RBR) == 1               # a read ends the timeout interrupt
    assert irq_and_iir(machine) == (0, 0xC1)
    for value in range(20):                     # 2 left + 20: overruns at 16
        out(machine, THR, value)
    assert irq_and_iir(machine) == (1, 0xC6)
    assert inp(machine, LSR) & 0x03 == 0x03
    assert irq_and_iir(machine) == (1, 0xC4)
    for _ in range(16 - 4):
        inp(machine, RBR)
        assert irq_and_iir(machine) == (1, 0xC4)
    inp(machine, RBR)                           # 3 left, below the trigger level
    assert irq_and_iir(machine) == (0, 0xC1)


def test_fifo_overrun_keeps_sixteen_bytes():
    machine, _ = build()
    out(machine, FCR, 0x01)
    out(machine, MCR, 0x10)
    for value in range(17):
        out(machine, THR, value)
    assert inp(machine, LSR) & 0x03 == 0x03
    assert inp(machine, LSR) & 0x02 == 0
    assert [inp(machine, RBR) for _ in range(16)] == list(range(16))
    assert inp(machine, LSR) & 0x01 == 0


# ---------------------------------------------------------------------- host input
def post(machine: Machine, port: str, data: bytes) -> None:
    machine.post_input("serial", {"port": port, "bytes": list(data)})
    machine.run_slice(instruction_limit=machine.clock.icount)   # apply inputs only


def test_paced_host_input_never_overruns_the_fifo():
    machine, probe = build()
    set_divisor(machine, 1)
    out(machine, FCR, 0xC1)
    message = bytes(range(0x40, 0x54))  # 20 bytes
    post(machine, "com1", message)
    assert inp(machine, LSR) & 0x01
    advance(machine, 100 * char_ns(10, 1))
    assert [e for e in probe.events if e[1] == "rx"] == [("com1", "rx", b) for b in message[:16]]
    post(machine, "com1", b"later")
    assert machine.inputs_pending       # refused while the line is busy
    received = [inp(machine, RBR) for _ in range(16)]
    while inp(machine, LSR) & 0x01 or machine.clock.next_deadline() is not None:
        if inp(machine, LSR) & 0x01:
            received.append(inp(machine, RBR))
        else:
            advance_to(machine, machine.clock.next_deadline())
    assert bytes(received) == message
    assert inp(machine, LSR) & 0x02 == 0
    machine.run_slice(instruction_limit=machine.clock.icount)
    assert not machine.inputs_pending
    assert inp(machine, RBR) == ord("l")


def test_host_input_is_routed_by_port_name():
    machine = Machine.bare()
    probe = machine.add_plugin(SerialProbe())
    machine.add_component(UART16550, "com1", {})
    machine.add_component(UART16550, "com2", {"base": COM2, "irq": 3, "port_name": "com2"})
    machine.configure()
    out(machine, MCR, 0x08, base=COM2)
    out(machine, IER, 0x01, base=COM2)
    post(machine, "com2", b"Z")
    assert probe.events == [("com2", "rx", ord("Z"))]
    assert machine.bus.irq_levels[3] == 1 and machine.bus.irq_levels[4] == 0
    assert inp(machine, RBR, base=COM2) == ord("Z")
    assert inp(machine, LSR, base=COM1) & 0x01 == 0


def test_loopback_holds_host_input_back():
    machine, _ = build()
    out(machine, MCR, 0x10)
    post(machine, "com1", b"x")
    assert machine.inputs_pending
    out(machine, MCR, 0x00)
    machine.run_slice(instruction_limit=machine.clock.icount)
    assert not machine.inputs_pending
    assert inp(machine, RBR) == ord("x")


# ---------------------------------------------------------------------- state
def _observe(machine: Machine, steps: int) -> list:
    trace = []
    for step in range(steps):
        deadline = machine.clock.next_deadline()
        if deadline is None:
            break
        advance_to(machine, deadline)
        lsr = inp(machine, LSR)
        iir = inp(machine, IIR)
        rbr = inp(machine, RBR) if step % 3 == 0 else None
        trace.append((machine.clock.now(), lsr, iir, rbr, machine.bus.irq_levels[4]))
    return trace


def test_save_restore_resumes_identically():
    machine, probe = build()
    set_divisor(machine, 5)
    out(machine, FCR, 0x81)
    out(machine, MCR, 0x0B)
    out(machine, IER, 0x0F)
    for value in b"transmit":
        out(machine, THR, value)
    post(machine, "com1", b"receive these bytes")
    advance(machine, 3 * char_ns(10, 5) + 123)
    snapshot = machine.snapshot()
    events_before = len(probe.events)
    expected = _observe(machine, 60)

    restored, restored_probe = build()
    restored.restore(snapshot)
    assert restored.snapshot()["components"] == snapshot["components"]
    assert _observe(restored, 60) == expected
    assert restored_probe.events == probe.events[events_before:]
    assert len(restored_probe.events) > 10


def check_uart_invariants(machine: Machine, fifo_control: int, out2_gates: bool) -> None:
    """What the datasheet ties together, seen through the ports: the IRQ line is
    "IIR bit 0 clear" (through OUT2 on a PC), IIR names the highest-priority enabled
    pending source, and LSR agrees with it.  `fifo_control` is the last FCR write."""
    level = machine.bus.irq_levels[4]
    lcr = inp(machine, LCR)
    out(machine, LCR, lcr & 0x7F)
    ier, iir, lsr, msr, mcr = (inp(machine, offset) for offset in (IER, IIR, LSR, MSR, MCR))
    out(machine, LCR, lcr)
    pending = not iir & 0x01
    assert level == (pending and (bool(mcr & 0x08) or not out2_gates))
    fifo_on = bool(fifo_control & 0x01)
    assert iir & 0xF0 == (0xC0 if fifo_on else 0x00)
    identity = iir & 0x0F
    assert identity in ((0x01, 0x06, 0x04, 0x02, 0x00) + ((0x0C,) if fifo_on else ()))
    assert ier & 0xF0 == 0
    line_status = bool(ier & 0x04 and lsr & 0x1E)
    assert (identity == 0x06) == line_status
    if identity in (0x04, 0x0C):
        assert ier & 0x01 and lsr & 0x01
    trigger = (1, 4, 8, 14)[fifo_control >> 6] if fifo_on else 1
    if ier & 0x01 and lsr & 0x01 and trigger == 1 and not line_status:
        assert identity == 0x04
    if identity == 0x02:
        assert ier & 0x02 and lsr & 0x20
    if identity == 0x00:
        assert ier & 0x08 and msr & 0x0F
    if ier & 0x08 and msr & 0x0F:
        assert pending
    if lsr & 0x40:                                  # TEMT: holding and shift register empty
        assert lsr & 0x20


@pytest.mark.parametrize("irq_gate", ["out2", "none"])
def test_random_register_traffic_keeps_irq_iir_and_lsr_consistent(irq_gate):
    generator = random.Random(16550)
    machine, _ = build(irq_gate=irq_gate)
    fifo_control = 0
    for _ in range(3000):
        offset = generator.randrange(8)
        if generator.random() < 0.5:
            value = generator.randrange(256)
            out(machine, offset, value)
            if offset == FCR:
                fifo_control = value if value & 0x01 else 0
        else:
            inp(machine, offset)
        if generator.random() < 0.5:                # at once: the IRQ line is what IIR says
            level, iir = irq_and_iir(machine)
            gate = bool(inp(machine, MCR) & 0x08) or irq_gate == "none"
            assert level == (gate and not iir & 0x01)
        advance(machine, generator.randrange(200_000))
        check_uart_invariants(machine, fifo_control, irq_gate == "out2")


def test_bytes_still_transmitting_reach_the_host_when_the_run_stops(tmp_path):
    """A guest that writes and halts: what is in the shift register and the FIFO is
    written out at machine_stop, once, even if the machine later runs on."""
    from pcmachine import Machine
    from pcmachine.plugins.serial.uart import UART16550
    out = tmp_path / "com1.txt"
    machine = Machine.bare()
    uart = machine.add_component(UART16550, "com1", {"output": f"file:{out}"})
    machine.reset()
    machine.bus.io_write(0x3FA, 1, 0x07)            # FIFOs on
    for byte in b"hi!":
        machine.bus.io_write(0x3F8, 1, byte)
    machine.plugin_manager.hook.machine_stop(machine=machine, reason="halted")
    assert out.read_bytes() == b"hi!"
    machine.clock.skip_to(machine.clock.now() + 10_000_000)
    machine.clock.run_due()
    machine.bus.io_write(0x3F8, 1, ord("x"))
    machine.clock.skip_to(machine.clock.now() + 10_000_000)
    machine.clock.run_due()
    uart.close()
    assert out.read_bytes() == b"hi!x"
