"""IBM PC parallel printer port (SPP, the IBM Technical Reference's "Printer
Adapter") with a printer attached; one instance per port.

LPT1 is 0x378/IRQ 7, LPT2 0x278/IRQ 5, the MDA card's port 0x3BC/IRQ 7 (options
`base`, `irq`, `port_name`).  Followed: the IBM PC/AT Technical Reference, the
OSDev wiki "Parallel port", QEMU `hw/char/parallel.c` (its software printer,
whose reset values and handshake this module reproduces) and Bochs
`iodev/parallel.cc`.

Registers (base + 0, 1, 2; the EPP/ECP registers above them are not decoded, so
they read 0xFF as in QEMU's software mode):

* data: the output latch, read back; with the direction bit (control bit 5) set
  the lines are inputs that nothing drives, and reads return 0xFF (QEMU, Bochs).
* status, read-only: bit 7 BUSY# (1 = not busy), bit 6 ACK# (0 while the printer
  acknowledges), bit 5 PAPER OUT, bit 4 SELECT, bit 3 ERROR# (1 = no error);
  bit 0 is QEMU's EPP time-out bit, set at reset and cleared by an INIT pulse.
  Bit 2 (the interrupt flag of some PS/2-era chips) and bit 1 read 0, as in QEMU.
* control: bit 0 STROBE, 1 AUTOFEED, 2 INIT# (0 initialises the printer), 3
  SELECT IN, 4 IRQ enable, 5 direction; read back with bits 6-7 set (QEMU).

The printer: a byte is printed when the guest strobes it (control bit 0 going
from 0 to 1, the leading edge of the STROBE# pulse, where QEMU and Bochs take
it) while the printer is selected (SELECT IN set) and not held in INIT; it goes
to the output sink and fires `parallel_byte`.  The printer is then busy.  At the
end of the pulse (bit 0 back to 0) it acknowledges: with IRQ enable set the IRQ
line rises (QEMU raises it there too).  Like QEMU's printer, the acknowledge runs
on status reads, so it needs no host or virtual time: the first read after the
pulse shows the printer busy, the second shows BUSY and ACK# low, after that it
is ready again (0xD8/0xD9).  A real adapter drives the IRQ line from ACK# for the
5 us of the pulse; here the line stays high until the status register is read
(QEMU, Bochs), as an interrupt handler does, so an edge-triggered 8259A still
sees the request at INTA.  Clearing IRQ enable drops the line (the adapter gates
IRQ with that bit).

Open questions: a printer never runs out of paper or reports an error, and
AUTOFEED has no effect on what reaches the sink (the host gets the bytes as the
guest sent them); reading data in input mode gives 0xFF rather than the
printer's status lines.
"""

import dataclasses
from typing import Any, Dict

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.hostio import SINK_SPEC_HELP, open_sink

# Register offsets, and the register map: offset -> name; the handlers are
# `_read_<name>` and `_write_<name>` (status is read-only: its writer ignores).
DATA = 0
STATUS = 1
CONTROL = 2
REGISTER_MAP = {DATA: "data", STATUS: "status", CONTROL: "control"}

STATUS_BUSY_N = 0x80            # 1 = not busy
STATUS_ACK_N = 0x40             # 0 = acknowledging
STATUS_PAPER_OUT = 0x20
STATUS_SELECT = 0x10
STATUS_ERROR_N = 0x08           # 1 = no error
STATUS_TIMEOUT = 0x01           # EPP time-out (QEMU sets it at reset)
#: a connected, selected printer with paper and no error, not busy, not acknowledging
STATUS_READY = STATUS_BUSY_N | STATUS_ACK_N | STATUS_SELECT | STATUS_ERROR_N
POWER_ON_STATUS = STATUS_READY | STATUS_TIMEOUT

CONTROL_STROBE = 0x01
CONTROL_AUTOFEED = 0x02
CONTROL_INIT_N = 0x04           # 0 = initialise the printer
CONTROL_SELECT_IN = 0x08
CONTROL_IRQ_ENABLE = 0x10
CONTROL_INPUT = 0x20            # data lines are inputs
CONTROL_READS_ONE = 0xC0        # bits 6-7 read as 1
POWER_ON_CONTROL = CONTROL_READS_ONE | CONTROL_SELECT_IN | CONTROL_INIT_N

#: what the data register reads in input mode: no one drives the lines
UNDRIVEN = 0xFF


@dataclasses.dataclass
class ParallelPortState:
    """The three registers as the guest sees them, and the interrupt request."""

    data: int = 0xFF
    status: int = POWER_ON_STATUS
    control: int = POWER_ON_CONTROL
    irq_pending: bool = False       # acknowledged with IRQ enable set: the IRQ line is high


class ParallelPort(Component):
    """One printer port with its printer."""

    OPTIONS = {
        "base": Option("int", 0x378, "first of the 3 I/O ports (LPT1 0x378, LPT2 0x278, MDA 0x3BC)",
                       minimum=0, maximum=0xFFFD),
        "irq": Option("int", 7, "IRQ line (LPT1 7, LPT2 5)", minimum=0, maximum=15),
        "port_name": Option("str", "lpt1", "name in parallel_byte events"),
        "output": Option("str", "null", "where printed bytes go: " + SINK_SPEC_HELP),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base = options["base"]
        self.irq = options["irq"]
        self.port_name = options["port_name"]
        self.sink = open_sink(options["output"], f"{name}.output")
        self.state = ParallelPortState()
        self._readers = {offset: getattr(self, "_read_" + register)
                         for offset, register in REGISTER_MAP.items()}
        self._writers = {offset: getattr(self, "_write_" + register)
                         for offset, register in REGISTER_MAP.items()}
        self.bus.register_io(self.base, self.base + max(REGISTER_MAP), self._read_port,
                             self._write_port, name)

    def reset(self) -> None:
        """Power-on values (QEMU `parallel_reset`); the printer is ready."""
        self.state = ParallelPortState()
        self._update_irq()

    # ------------------------------------------------------------------ ports
    def _read_port(self, port: int, size: int) -> int:
        return self._readers[port - self.base]()

    def _write_port(self, port: int, size: int, value: int) -> None:
        self._writers[port - self.base](value & 0xFF)

    def _read_data(self) -> int:
        state = self.state
        return UNDRIVEN if state.control & CONTROL_INPUT else state.data

    def _read_status(self) -> int:
        """The value before the read; the read then moves the acknowledge on
        (busy -> ACK# low -> ready) while the strobe is released, and clears the
        interrupt request."""
        state = self.state
        value = state.status
        state.irq_pending = False
        if not state.status & STATUS_BUSY_N and not state.control & CONTROL_STROBE:
            if state.status & STATUS_ACK_N:
                state.status &= ~STATUS_ACK_N
            else:
                state.status |= STATUS_ACK_N | STATUS_BUSY_N
        self._update_irq()
        return value

    def _read_control(self) -> int:
        return self.state.control

    def _write_data(self, value: int) -> None:
        self.state.data = value

    def _write_status(self, value: int) -> None:
        """The status register is read-only."""

    def _write_control(self, value: int) -> None:
        state = self.state
        value |= CONTROL_READS_ONE
        strobe_rises = value & CONTROL_STROBE and not state.control & CONTROL_STROBE
        strobe_falls = state.control & CONTROL_STROBE and not value & CONTROL_STROBE
        if not value & CONTROL_INIT_N:
            state.status = STATUS_READY                 # initialising: ready, no handshake
        elif value & CONTROL_SELECT_IN:
            if strobe_rises:
                state.status &= ~STATUS_BUSY_N
                self._print(state.data)
            elif strobe_falls and not state.status & STATUS_BUSY_N \
                    and state.status & STATUS_ACK_N and value & CONTROL_IRQ_ENABLE:
                state.irq_pending = True
        if not value & CONTROL_IRQ_ENABLE:
            state.irq_pending = False                   # the adapter gates IRQ with the bit
        state.control = value
        self._update_irq()

    # ------------------------------------------------------------------ printer
    def _print(self, value: int) -> None:
        self.sink.write(bytes((value,)))
        hooks = self.machine.hooks
        if hooks.parallel_byte:
            hooks.call.parallel_byte(machine=self.machine, port=self.port_name, value=value)

    def _update_irq(self) -> None:
        self.bus.set_irq(self.irq, 1 if self.state.irq_pending else 0)

    # ------------------------------------------------------------------ state
    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(ParallelPortState, state)
        self._update_irq()

    def close(self) -> None:
        self.sink.close()
