"""UART 16550A (National PC16550D datasheet), one instance per serial port.

COM1 is 0x3F8/IRQ 4, COM2 0x2F8/IRQ 3 (options `base`, `irq`, `port_name`).

Implemented: RBR/THR, IER, IIR/FCR (16-byte FIFOs, trigger levels 1/4/8/14, FIFO
bits in IIR), LCR with the divisor latch (DLAB), MCR with loopback and OUT2, LSR
(DR, OE, THRE, TEMT), MSR with delta bits, SCR.  Interrupt sources in the
datasheet's priority order: line status, received data available, character
timeout (FIFO mode, 4 character times), THR empty, modem status.  As on every PC
(and in Bochs), OUT2 gates the interrupt onto the IRQ line; `irq_gate: none` drops
the gate as QEMU does (xv6 never sets OUT2 and still takes serial input there).

Timing is virtual: a character takes `bits * divisor / 115200` s (start bit, data
bits, parity, stop bits).  A byte written to THR moves to the transmitter shift
register when it is idle (THRE interrupt), and leaves the chip when the shift
completes: then it goes to the output sink and fires `serial_byte` ("tx"); TEMT
sets when the FIFO and the shift register are both empty.  With `tx_timing:
instant` (the default, as QEMU) the shift completes at once instead: a kernel
console that polls LSR for every character at 9600 baud (Linux's) then costs no
millisecond per character with interrupts off, which on a real line loses
timer ticks; `tx_timing: line` keeps the line rate (as Bochs and the chip).
Reception (host bytes one character time apart, the FIFO timeout) keeps the
line rate in both.

Loopback (MCR bit 4) is immediate, as in Bochs and QEMU: the transmitted byte is
in the receiver as soon as THR is written (OSDev's serial init reads it back with
no delay), MSR shows RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.  Outside loopback
the host end looks like a connected device: CTS and DSR high (Bochs).

Host input: the `serial` input kind with data `{"port": "com1", "bytes": [...]}`.
Every UART registers the same routing handler, which hands the bytes to the UART
whose `port_name` matches.  The bytes then arrive one character time apart, like
a wire, and the handler refuses (returns False, so the input stays queued) while
a previous input is still arriving, the receiver is full, or the UART is in
loopback: host input is paced and never overruns the guest.  Each byte that
enters the receiver fires `serial_byte` ("rx").

Open questions: parity, framing and break errors are never produced (the host
link is error-free), so LSR bits 2-4 and 7 stay 0; DMA mode (FCR bit 3) is stored
but has no effect.  Reset leaves LCR = 0x03 (8N1) and the divisor latch powers up
as 12 (9600 baud), as in Bochs: the chip resets LCR to 0 (5 data bits, which would
mask what an unprogrammed port sends) and leaves the divisor undefined.
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from pcmachine.clock import NS_PER_SECOND, Event
from pcmachine.hookspecs import hookimpl
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.hostio import SINK_SPEC_HELP, open_sink

log = logging.getLogger("pcmachine.uart")

INPUT_KIND = "serial"
BAUD_BASE = 115200              # 1.8432 MHz / 16
FIFO_SIZE = 16
TIMEOUT_CHARACTERS = 4
POWER_ON_DIVISOR = 12           # 9600 baud
POWER_ON_LCR = 0x03             # 8N1, so a guest that never programs the port sends whole bytes
NO_DEADLINE = -1

# Register offsets (datasheet names).  DLAB selects DLL/DLM at offsets 0 and 1.
RBR_THR_DLL = 0
IER_DLM = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

#: offset -> (register read, register written) with DLAB=0, and with DLAB=1
REGISTER_MAP = {
    RBR_THR_DLL: (("RBR", "THR"), ("DLL", "DLL")),
    IER_DLM: (("IER", "IER"), ("DLM", "DLM")),
    IIR_FCR: (("IIR", "FCR"), ("IIR", "FCR")),
    LCR: (("LCR", "LCR"), ("LCR", "LCR")),
    MCR: (("MCR", "MCR"), ("MCR", "MCR")),
    LSR: (("LSR", None), ("LSR", None)),
    MSR: (("MSR", None), ("MSR", None)),
    SCR: (("SCR", "SCR"), ("SCR", "SCR")),
}

IER_RDA = 0x01
IER_THRE = 0x02
IER_RLS = 0x04
IER_MS = 0x08
IER_MASK = 0x0F

IIR_NONE = 0x01
IIR_RLS = 0x06
IIR_RDA = 0x04
IIR_TIMEOUT = 0x0C
IIR_THRE = 0x02
IIR_MS = 0x00
IIR_FIFO_ENABLED = 0xC0

FCR_ENABLE = 0x01
FCR_RX_RESET = 0x02
FCR_TX_RESET = 0x04
FCR_STORED = 0xC9               # trigger level, DMA mode, enable
FCR_TRIGGER_SHIFT = 6
TRIGGER_LEVELS = (1, 4, 8, 14)

LCR_WORD_LENGTH = 0x03
LCR_STOP_BITS = 0x04
LCR_PARITY = 0x08
LCR_DLAB = 0x80

MCR_DTR = 0x01
MCR_RTS = 0x02
MCR_OUT1 = 0x04
MCR_OUT2 = 0x08
MCR_LOOP = 0x10
MCR_MASK = 0x1F

LSR_DR = 0x01
LSR_OE = 0x02
LSR_ERRORS = 0x1E               # OE, PE, FE, BI: cleared by reading LSR
LSR_THRE = 0x20
LSR_TEMT = 0x40

MSR_DCTS = 0x01
MSR_DDSR = 0x02
MSR_TERI = 0x04
MSR_DDCD = 0x08
MSR_DELTAS = 0x0F
MSR_CTS = 0x10
MSR_DSR = 0x20
MSR_RI = 0x40
MSR_DCD = 0x80
#: what the host end drives when not in loopback: a connected, ready device
HOST_MODEM_INPUTS = MSR_CTS | MSR_DSR


@dataclasses.dataclass
class UARTState:
    """Registers, FIFOs, the shift register and the pending deadlines."""

    ier: int = 0
    fcr: int = 0
    lcr: int = POWER_ON_LCR
    mcr: int = 0
    line_errors: int = 0                # LSR bits 1-4
    msr: int = HOST_MODEM_INPUTS
    scr: int = 0
    dll: int = POWER_ON_DIVISOR
    dlm: int = 0
    rbr: int = 0                        # last byte read (what an empty RBR returns)
    rx_fifo: List[int] = dataclasses.field(default_factory=list)
    tx_fifo: List[int] = dataclasses.field(default_factory=list)   # THR (1 entry without FIFO)
    tsr: int = NO_DEADLINE              # byte in the shift register, or -1
    tx_done_ns: int = NO_DEADLINE       # when the shift register finishes
    thre_pending: bool = False          # THR-empty interrupt latched
    timeout_pending: bool = False       # character timeout interrupt latched
    timeout_ns: int = NO_DEADLINE
    host_line: List[int] = dataclasses.field(default_factory=list)  # host bytes on the wire
    host_next_ns: int = NO_DEADLINE


class UART16550(Component):
    """One 16550A serial port."""

    OPTIONS = {
        "base": Option("int", 0x3F8, "first of the 8 I/O ports (COM1 0x3F8, COM2 0x2F8)",
                       minimum=0, maximum=0xFFF8),
        "irq": Option("int", 4, "IRQ line (COM1 4, COM2 3)", minimum=0, maximum=15),
        "port_name": Option("str", "com1", "name in serial inputs and serial_byte events"),
        "output": Option("str", "null", "where transmitted bytes go: " + SINK_SPEC_HELP),
        "tx_timing": Option("str", "instant", "`instant`: a transmitted byte leaves at once "
                            "(QEMU); `line`: it takes one character time at the divisor's rate "
                            "(the chip, Bochs)", choices=("instant", "line")),
        "irq_gate": Option("str", "out2", "`out2`: the interrupt reaches the IRQ line only while "
                           "MCR OUT2 is set (PC wiring); `none`: always (QEMU, which xv6's "
                           "serial input relies on)", choices=("out2", "none")),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base = options["base"]
        self.irq = options["irq"]
        self.port_name = options["port_name"]
        self.tx_at_line_rate = options["tx_timing"] == "line"
        self.irq_needs_out2 = options["irq_gate"] == "out2"
        self.sink = open_sink(options["output"], f"{name}.output")
        #: transmitting bytes already written to the sink when a run stopped early
        self._sent_early = 0
        self.state = UARTState()
        self._tx_event: Optional[Event] = None
        self._timeout_event: Optional[Event] = None
        self._host_event: Optional[Event] = None
        self._readers = {offset: (getattr(self, "_read_" + normal[0].lower()),
                                  getattr(self, "_read_" + latch[0].lower()))
                         for offset, (normal, latch) in REGISTER_MAP.items()}
        self._writers = {offset: (self._writer(normal[1]), self._writer(latch[1]))
                         for offset, (normal, latch) in REGISTER_MAP.items()}
        self.bus.register_io(self.base, self.base + 7, self._read_port, self._write_port, name)
        machine.register_input(INPUT_KIND, self._route_host_input)

    def _writer(self, register: Optional[str]) -> Any:
        return getattr(self, "_write_" + register.lower()) if register else self._write_read_only

    def reset(self) -> None:
        """Master reset: registers to their datasheet values.  The divisor and the
        scratch register are not affected by MR; bytes the host already sent keep
        arriving."""
        old = self.state
        self._cancel_events()
        self.state = UARTState(dll=old.dll, dlm=old.dlm, scr=old.scr,
                               host_line=list(old.host_line))
        self._sent_early = 0
        self._resume_host_line()
        self._update_irq()

    # ------------------------------------------------------------------ timing
    def character_time_ns(self) -> int:
        """Virtual time one character takes on the line at the current LCR/divisor."""
        lcr = self.state.lcr
        data_bits = 5 + (lcr & LCR_WORD_LENGTH)
        half_bits = 2 * (1 + data_bits + (1 if lcr & LCR_PARITY else 0))
        if lcr & LCR_STOP_BITS:
            half_bits += 3 if data_bits == 5 else 4     # 1.5 or 2 stop bits
        else:
            half_bits += 2
        divisor = (self.state.dlm << 8 | self.state.dll) or 0x10000
        return half_bits * divisor * NS_PER_SECOND // (2 * BAUD_BASE)

    # ------------------------------------------------------------------ ports
    def _read_port(self, port: int, size: int) -> int:
        dlab = 1 if self.state.lcr & LCR_DLAB else 0
        return self._readers[port - self.base][dlab]()

    def _write_port(self, port: int, size: int, value: int) -> None:
        dlab = 1 if self.state.lcr & LCR_DLAB else 0
        self._writers[port - self.base][dlab](value)

    def _read_rbr(self) -> int:
        state = self.state
        if state.rx_fifo:
            state.rbr = state.rx_fifo.pop(0)
        state.timeout_pending = False
        self._restart_timeout()
        self._resume_host_line()
        self._update_irq()
        return state.rbr

    def _read_dll(self) -> int:
        return self.state.dll

    def _read_dlm(self) -> int:
        return self.state.dlm

    def _read_ier(self) -> int:
        return self.state.ier

    def _read_iir(self) -> int:
        """Reading IIR acknowledges a THR-empty interrupt when that is what it shows."""
        identity = self._interrupt_identity()
        if identity == IIR_THRE:
            self.state.thre_pending = False
            self._update_irq()
        return identity | (IIR_FIFO_ENABLED if self._fifo_enabled() else 0)

    def _read_lcr(self) -> int:
        return self.state.lcr

    def _read_mcr(self) -> int:
        return self.state.mcr

    def _read_lsr(self) -> int:
        state = self.state
        value = state.line_errors
        if state.rx_fifo:
            value |= LSR_DR
        if not state.tx_fifo:
            value |= LSR_THRE
            if state.tsr == NO_DEADLINE:
                value |= LSR_TEMT
        state.line_errors = 0
        self._update_irq()
        return value

    def _read_msr(self) -> int:
        value = self.state.msr
        self.state.msr &= ~MSR_DELTAS & 0xFF
        self._update_irq()
        return value

    def _read_scr(self) -> int:
        return self.state.scr

    def _write_thr(self, value: int) -> None:
        state = self.state
        value &= 0xFF >> (3 - (state.lcr & LCR_WORD_LENGTH))
        state.thre_pending = False
        if state.mcr & MCR_LOOP:
            self._receive(value, self.clock.now())     # straight back, no delay
            # the holding register emptied at once, unless bytes written before
            # loopback still wait in the FIFO (THRE interrupt only with LSR THRE)
            state.thre_pending = not state.tx_fifo
        elif len(state.tx_fifo) < self._fifo_capacity():
            state.tx_fifo.append(value)
            self._start_transmitter()
        else:
            log.debug("%s: THR written while full, byte %#04x dropped", self.name, value)
        self._update_irq()

    def _write_dll(self, value: int) -> None:
        self.state.dll = value

    def _write_dlm(self, value: int) -> None:
        self.state.dlm = value

    def _write_ier(self, value: int) -> None:
        state = self.state
        enabling_thre = value & IER_THRE and not state.ier & IER_THRE
        state.ier = value & IER_MASK
        if enabling_thre and not state.tx_fifo:
            state.thre_pending = True   # enabling ETBEI with THR empty interrupts at once
        self._update_irq()

    def _write_fcr(self, value: int) -> None:
        state = self.state
        if (value ^ state.fcr) & FCR_ENABLE:
            value |= FCR_RX_RESET | FCR_TX_RESET    # switching FIFO mode empties both
        if value & FCR_RX_RESET:
            state.rx_fifo.clear()
            state.timeout_pending = False
            self._restart_timeout()
        if value & FCR_TX_RESET and state.tx_fifo:
            state.tx_fifo.clear()
            self._sent_early = min(self._sent_early, 0 if state.tsr == NO_DEADLINE else 1)
            state.thre_pending = True
        # The other bits are programmed only together with FCR0 = 1.
        state.fcr = value & FCR_STORED if value & FCR_ENABLE else 0
        self._resume_host_line()
        self._update_irq()

    def _write_lcr(self, value: int) -> None:
        self.state.lcr = value

    def _write_mcr(self, value: int) -> None:
        state = self.state
        was_loopback = state.mcr & MCR_LOOP
        state.mcr = value & MCR_MASK
        self._set_modem_inputs(self._modem_inputs())
        if was_loopback and not state.mcr & MCR_LOOP:
            self._resume_host_line()
        self._update_irq()

    def _write_scr(self, value: int) -> None:
        self.state.scr = value

    def _write_read_only(self, value: int) -> None:
        """LSR and MSR writes are ignored (factory test registers on the real chip)."""

    # ------------------------------------------------------------------ modem lines
    def _modem_inputs(self) -> int:
        mcr = self.state.mcr
        if not mcr & MCR_LOOP:
            return HOST_MODEM_INPUTS
        inputs = 0
        if mcr & MCR_RTS:
            inputs |= MSR_CTS
        if mcr & MCR_DTR:
            inputs |= MSR_DSR
        if mcr & MCR_OUT1:
            inputs |= MSR_RI
        if mcr & MCR_OUT2:
            inputs |= MSR_DCD
        return inputs

    def _set_modem_inputs(self, inputs: int) -> None:
        """New CTS/DSR/RI/DCD levels; set the delta bits the datasheet defines."""
        state = self.state
        old = state.msr
        changed = old ^ inputs
        deltas = old & MSR_DELTAS
        if changed & MSR_CTS:
            deltas |= MSR_DCTS
        if changed & MSR_DSR:
            deltas |= MSR_DDSR
        if old & MSR_RI and not inputs & MSR_RI:
            deltas |= MSR_TERI          # trailing edge of ring indicator only
        if changed & MSR_DCD:
            deltas |= MSR_DDCD
        state.msr = (inputs & 0xF0) | deltas

    # ------------------------------------------------------------------ FIFOs
    def _fifo_enabled(self) -> bool:
        return bool(self.state.fcr & FCR_ENABLE)

    def _fifo_capacity(self) -> int:
        return FIFO_SIZE if self._fifo_enabled() else 1

    def _trigger_level(self) -> int:
        return TRIGGER_LEVELS[self.state.fcr >> FCR_TRIGGER_SHIFT] if self._fifo_enabled() else 1

    def _receive(self, value: int, at_ns: int) -> None:
        """A character completed in the receiver at `at_ns`: into the FIFO (or RBR), or
        an overrun."""
        state = self.state
        if len(state.rx_fifo) >= self._fifo_capacity():
            state.line_errors |= LSR_OE
            if not self._fifo_enabled():
                state.rx_fifo[-1] = value   # the 8250 RBR is overwritten
        else:
            state.rx_fifo.append(value)
        self._restart_timeout(at_ns)

    def _restart_timeout(self, at_ns: Optional[int] = None) -> None:
        """The character-timeout timer restarts on every byte received or read (at
        `at_ns`, default now); it runs only in FIFO mode while the receiver holds data."""
        state = self.state
        if self._timeout_event is not None:
            self._timeout_event.cancel()
            self._timeout_event = None
        state.timeout_ns = NO_DEADLINE
        if self._fifo_enabled() and state.rx_fifo:
            start = self.clock.now() if at_ns is None else at_ns
            state.timeout_ns = start + TIMEOUT_CHARACTERS * self.character_time_ns()
            self._timeout_event = self.clock.schedule(state.timeout_ns, self._timeout_expired)

    def _timeout_expired(self) -> None:
        self._timeout_event = None
        self.state.timeout_ns = NO_DEADLINE
        if self._fifo_enabled() and self.state.rx_fifo:
            self.state.timeout_pending = True
            self._update_irq()

    # ------------------------------------------------------------------ transmitter
    def _start_transmitter(self, at_ns: Optional[int] = None) -> None:
        """Move the next byte from THR/FIFO into the idle shift register at `at_ns`
        (default now; the previous byte's end when the line is busy, so back-to-back
        bytes keep the line rate however late the clock serves the event)."""
        state = self.state
        if state.tsr != NO_DEADLINE or not state.tx_fifo:
            return
        state.tsr = state.tx_fifo.pop(0)
        start = self.clock.now() if at_ns is None else at_ns
        state.tx_done_ns = start + (self.character_time_ns() if self.tx_at_line_rate else 0)
        self._tx_event = self.clock.schedule(state.tx_done_ns, self._transmit_done)
        if not state.tx_fifo:
            state.thre_pending = True

    def _transmit_done(self) -> None:
        """The shift register finished: the byte reaches the host."""
        state = self.state
        self._tx_event = None
        value, finished = state.tsr, state.tx_done_ns
        state.tsr = state.tx_done_ns = NO_DEADLINE
        if self._sent_early:
            self._sent_early -= 1       # already given to the host when a run stopped
        else:
            self.sink.write(bytes((value,)))
        hooks = self.machine.hooks
        if hooks.serial_byte:
            hooks.call.serial_byte(machine=self.machine, port=self.port_name, direction="tx",
                                   value=value)
        self._start_transmitter(finished)
        self._update_irq()

    # ------------------------------------------------------------------ host input
    def _route_host_input(self, data: Any) -> bool:
        """The shared `serial` input handler: give the bytes to the named port."""
        port = str(data.get("port", "com1"))
        for component in self.machine.components.values():
            if isinstance(component, UART16550) and component.port_name == port:
                return component.accept_host_bytes(data.get("bytes", []))
        log.warning("serial input for %s dropped: the machine has no such port", port)
        return True

    def _receiver_full(self) -> bool:
        return len(self.state.rx_fifo) >= self._fifo_capacity()

    def accept_host_bytes(self, values: List[int]) -> bool:
        """Start sending `values` from the host end; False while the line is busy."""
        state = self.state
        if state.host_line or state.mcr & MCR_LOOP or self._receiver_full():
            return False
        state.host_line.extend(int(value) & 0xFF for value in values)
        self._deliver_host_byte()
        return True

    def _deliver_host_byte(self) -> None:
        """The next host byte completes on the wire (at its deadline, or now for the
        first byte of an input)."""
        state = self.state
        self._host_event = None
        arrived = self.clock.now() if state.host_next_ns == NO_DEADLINE else state.host_next_ns
        state.host_next_ns = NO_DEADLINE
        if not state.host_line or state.mcr & MCR_LOOP or self._receiver_full():
            return      # waits for room (RBR read, FIFO reset) or loopback off
        value = state.host_line.pop(0)
        self._receive(value, arrived)
        hooks = self.machine.hooks
        if hooks.serial_byte:
            hooks.call.serial_byte(machine=self.machine, port=self.port_name, direction="rx",
                                   value=value)
        self._update_irq()
        self._resume_host_line(arrived)

    def _resume_host_line(self, after_ns: Optional[int] = None) -> None:
        """Schedule the next host byte one character time after `after_ns` (default
        now) if one is waiting."""
        state = self.state
        if state.host_line and self._host_event is None:
            start = self.clock.now() if after_ns is None else after_ns
            state.host_next_ns = start + self.character_time_ns()
            self._host_event = self.clock.schedule(state.host_next_ns, self._deliver_host_byte)

    # ------------------------------------------------------------------ interrupts
    def _interrupt_identity(self) -> int:
        """IIR bits 0-3 for the highest-priority pending source."""
        state = self.state
        ier = state.ier
        if ier & IER_RLS and state.line_errors:
            return IIR_RLS
        if ier & IER_RDA and len(state.rx_fifo) >= self._trigger_level():
            return IIR_RDA
        if ier & IER_RDA and state.timeout_pending:
            return IIR_TIMEOUT
        if ier & IER_THRE and state.thre_pending:
            return IIR_THRE
        if ier & IER_MS and state.msr & MSR_DELTAS:
            return IIR_MS
        return IIR_NONE

    def interrupt_pending(self) -> bool:
        return self._interrupt_identity() != IIR_NONE

    def _update_irq(self) -> None:
        """The INTR output reaches the IRQ line only through OUT2 (PC wiring), unless
        `irq_gate: none`."""
        gate_open = self.state.mcr & MCR_OUT2 or not self.irq_needs_out2
        level = gate_open and self.interrupt_pending()
        self.bus.set_irq(self.irq, 1 if level else 0)

    # ------------------------------------------------------------------ state
    def _cancel_events(self) -> None:
        for event in (self._tx_event, self._timeout_event, self._host_event):
            if event is not None:
                event.cancel()
        self._tx_event = self._timeout_event = self._host_event = None

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self._cancel_events()
        self.state = loaded = dict_to_state(UARTState, state)
        if loaded.tsr != NO_DEADLINE:
            self._tx_event = self.clock.schedule(loaded.tx_done_ns, self._transmit_done)
        if loaded.timeout_ns != NO_DEADLINE:
            self._timeout_event = self.clock.schedule(loaded.timeout_ns, self._timeout_expired)
        if loaded.host_next_ns != NO_DEADLINE:
            self._host_event = self.clock.schedule(loaded.host_next_ns, self._deliver_host_byte)
        self._update_irq()

    @hookimpl
    def machine_stop(self) -> None:
        """Bytes the guest handed to the UART reach the host even when the run ends
        before the line shifted them out (a guest that prints and halts)."""
        state = self.state
        pending = ([state.tsr] if state.tsr != NO_DEADLINE else []) + list(state.tx_fifo)
        unsent = pending[self._sent_early:]
        if unsent:
            self.sink.write(bytes(unsent))
            self._sent_early = len(pending)

    def close(self) -> None:
        self.sink.close()
