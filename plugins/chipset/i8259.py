"""Intel 8259A programmable interrupt controller: one chip per component.

A PC/AT has two, a master at 0x20/0x21 whose INT drives the CPU and a slave at
0xA0/0xA1 whose INT drives input 2 of the master.  This module models one chip;
the profile wires the pair (`output: pic_master:2` on the slave, `output: cpu`
and `cascade_inputs: [2]` on the master).

Followed: the Intel 8259A datasheet (ICW1-ICW4, OCW1-OCW3, "Interrupt
sequence", "Priority cell", special mask and special fully nested modes), the
OSDev wiki (spurious IRQs), Bochs `iodev/pic.cc` and QEMU `hw/intc/i8259.c`.

Implemented: the initialisation sequence, edge and level triggering (ICW1 LTIM for
all inputs, or per input through the ELCR port of PIIX-class chipsets), vector
base, single/cascade, AEOI, SFNM, buffered/master bits (stored), OCW1 mask,
OCW2 non-specific/specific EOI with and without rotation, set priority, rotate in
AEOI, OCW3 IRR/ISR read, poll mode and special mask mode.

Modelling choices (Bochs where Bochs and QEMU differ):

* INT is latched: once raised it stays high until an INTA cycle (or poll read, or
  ICW1).  If the request has gone by then (line lowered), the INTA cycle answers
  with IR7 of the chip and sets no ISR bit: the spurious IRQ7 (IRQ15 on a slave)
  of the datasheet and of Bochs.  An OCW1 (IMR) write is the exception: the mask
  acts on the resolver at once, so masking the request INT stands for (with no
  other request the resolver would grant) drops INT, and unmasking a pending
  request raises it (Bochs `pic_service`, QEMU `pic_update_irq`).
* An edge-triggered request is cleared when its line falls before INTA (the
  datasheet requires the level to be held until INTA; Bochs clears IRR on lower).
  A zero-length pulse (`bus.pulse_irq`) therefore ends as a spurious IR7.
* Special mask mode lets every unmasked request that is not itself in service
  through (Bochs); QEMU additionally lets unmasked in-service levels block.
* Rotate on non-specific EOI makes the level just cleared the lowest priority
  (datasheet, QEMU; old Bochs increments the lowest priority instead).
* 8080/8085 mode (ICW4 uPM = 0) is stored but vectors are always delivered the
  8086 way: an x86 CPU cannot take CALL-instruction responses.
* An INTA for a cascade input whose slave does not answer (ICW3 IDs disagree, no
  slave wired) reads the floating data bus: 0xFF.
"""

import enum
import functools
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.hookspecs import hookimpl

ICW1_IC4 = 0x01      # ICW4 follows
ICW1_SNGL = 0x02     # single chip, no ICW3
ICW1_LTIM = 0x08     # level-triggered inputs
ICW1_INIT = 0x10     # command byte is ICW1
OCW3_SELECT = 0x08   # with ICW1_INIT clear: OCW3, else OCW2
OCW3_RIS = 0x01
OCW3_RR = 0x02
OCW3_POLL = 0x04
OCW3_SMM = 0x20
OCW3_ESMM = 0x40
ICW4_UPM = 0x01
ICW4_AEOI = 0x02
ICW4_MS = 0x04
ICW4_BUF = 0x08
ICW4_SFNM = 0x10
POLL_INTERRUPT = 0x80
FLOATING_BUS = 0xFF
SPURIOUS_LEVEL = 7

# OCW2 R/SL/EOI field (bits 7-5)
OCW2_ROTATE_AEOI_CLEAR = 0
OCW2_NONSPECIFIC_EOI = 1
OCW2_NOP = 2
OCW2_SPECIFIC_EOI = 3
OCW2_ROTATE_AEOI_SET = 4
OCW2_ROTATE_NONSPECIFIC_EOI = 5
OCW2_SET_PRIORITY = 6
OCW2_ROTATE_SPECIFIC_EOI = 7

#: Register map: (port offset, name on reads, name on writes).
PORTS = (
    (0, "IRR / ISR / poll word", "ICW1, OCW2, OCW3"),
    (1, "IMR / poll word", "ICW2-ICW4, OCW1 (IMR)"),
)

#: ELCR bits that a PIIX chipset keeps at 0: IRQ0-2 (timer, keyboard, cascade),
#: IRQ8 (RTC) and IRQ13 (FPU) are always edge-triggered.
DEFAULT_ELCR_MASKS = {0x4D0: 0xF8, 0x4D1: 0xDE}


class InitStep(enum.IntEnum):
    """Where the chip is in its ICW sequence (what the next odd-port write is)."""

    READY = 0
    ICW2 = 2
    ICW3 = 3
    ICW4 = 4


@dataclass
class PICState:
    """Guest-visible registers of one 8259A, named as in the datasheet."""

    irr: int = 0
    isr: int = 0
    imr: int = 0xFF
    input_levels: int = 0          # IR0-7 pins as the devices drive them
    elcr: int = 0                  # per-input level trigger (chipset register)
    init_step: int = InitStep.READY.value
    icw4_needed: bool = False
    single: bool = False
    level_triggered: bool = False  # ICW1 LTIM
    vector_base: int = 0
    icw3: int = 0                  # master: slave bits; slave: its ID in bits 0-2
    microprocessor_mode: bool = True
    auto_eoi: bool = False
    buffered: bool = False
    buffered_master: bool = False
    special_fully_nested: bool = False
    rotate_in_auto_eoi: bool = False
    lowest_priority: int = 7
    read_isr: bool = False
    poll: bool = False
    special_mask: bool = False
    int_output: bool = False


class PIC(Component):
    """One 8259A: two ports, eight inputs, an INT output and the INTA cycle."""

    OPTIONS = {
        "ports": Option("int", 0x20, "base port: 0x20 master, 0xA0 slave (two ports)",
                        minimum=0, maximum=0xFFFE),
        "elcr_port": Option("int", None, "edge/level control register port (0x4D0 / 0x4D1), or null",
                            minimum=0, maximum=0xFFFF),
        "elcr_mask": Option("int", None, "ELCR bits the chipset lets the guest set "
                                         "(default 0xF8 at 0x4D0, 0xDE at 0x4D1, else 0xFF)"),
        "irq_base": Option("int", 0, "first bus IRQ line wired to IR0 (0 master, 8 slave)",
                           minimum=0, maximum=8),
        "cascade_inputs": Option("list", [], "inputs driven by slave chips, not by bus lines"),
        "output": Option("str", "cpu", "where INT goes: 'cpu', or 'component:input' of a master"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base_port = options["ports"]
        self.irq_base = options["irq_base"]
        self.cascade_inputs = self._parse_cascade_inputs(options["cascade_inputs"])
        self.output = options["output"]
        self.is_master = self.output == "cpu"      # the SP/EN pin strapped high
        self.master: Optional["PIC"] = None
        self.master_input = 0
        self.slaves: Dict[int, "PIC"] = {}
        self.elcr_port = options["elcr_port"]
        mask = options["elcr_mask"]
        if mask is None:
            mask = DEFAULT_ELCR_MASKS.get(self.elcr_port, 0xFF)
        self.elcr_mask = mask & 0xFF
        self.state = PICState()
        for offset, reads, writes in PORTS:
            port = self.base_port + offset
            self.bus.register_io(port, port, self._read_port, self._write_port,
                                 f"{name} (8259A) {reads}; {writes}")
        if self.elcr_port is not None:
            self.bus.register_io(self.elcr_port, self.elcr_port, self._read_elcr,
                                 self._write_elcr, f"{name} ELCR")
        for line in range(8):
            if line not in self.cascade_inputs:
                self.bus.connect_irq(self.irq_base + line, functools.partial(self.set_input, line))
        if self.is_master:
            self.bus.interrupt_controller = self

    def _parse_cascade_inputs(self, inputs: List[Any]) -> List[int]:
        result = []
        for item in inputs:
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 7:
                raise ProfileError("component", f"{self.name}.cascade_inputs",
                                   f"expected inputs 0..7, got {item!r}")
            result.append(item)
        return result

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        """Wire a slave's INT to its master's input (the board's cascade line)."""
        if self.is_master:
            return
        target, _, input_text = self.output.partition(":")
        master = machine.components.get(target)
        if not isinstance(master, PIC) or not input_text.isdigit():
            raise ProfileError("component", f"{self.name}.output",
                               f"expected 'cpu' or '<pic component>:<input>', got {self.output!r}")
        line = int(input_text)
        if line not in master.cascade_inputs or line in master.slaves:
            raise ProfileError("component", f"{self.name}.output",
                               f"input {line} of {target} is not a free cascade input")
        self.master = master
        self.master_input = line
        master.slaves[line] = self

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on: all inputs masked, no requests, ELCR all edge; the pin levels
        are kept (the devices drive them) and the INT output is re-driven low."""
        self.state = PICState(input_levels=self.state.input_levels, int_output=self.state.int_output)
        self.update_irq(clear_latch=True)

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        """Load the registers; the CPU's INTR pin is re-driven to the saved INT level
        (a slave's INT level is part of its master's saved input levels)."""
        self.state = dict_to_state(PICState, state)
        if self.is_master:
            self.bus.set_intr(self.state.int_output)

    # ------------------------------------------------------------------ inputs
    def set_input(self, line: int, level: int) -> None:
        """A device (or a slave's INT) drives input IR`line` to `level`."""
        state = self.state
        bit = 1 << line
        if level:
            if state.input_levels & bit:
                return
            state.input_levels |= bit
            state.irr |= bit      # rising edge, or level now asserted
        else:
            if not state.input_levels & bit:
                return
            state.input_levels &= ~bit
            state.irr &= ~bit     # level gone; an edge request that vanished before INTA
        self.update_irq()

    def _level_inputs(self) -> int:
        return 0xFF if self.state.level_triggered else self.state.elcr

    # ------------------------------------------------------------------ priority
    def _priority_order(self) -> List[int]:
        highest = (self.state.lowest_priority + 1) & 7
        return [(highest + i) & 7 for i in range(8)]

    def _resolve(self) -> Optional[int]:
        """The input the priority resolver would grant now, or None."""
        state = self.state
        requests = state.irr & ~state.imr
        if not requests:
            return None
        nested = state.icw3 if (state.special_fully_nested and self.is_master and not state.single) else 0
        for line in self._priority_order():
            bit = 1 << line
            in_service = state.isr & bit
            if state.special_mask:
                if requests & bit and not in_service:
                    return line
                continue
            if in_service:
                # SFNM: a slave already in service may still pass higher requests.
                return line if (nested & bit and requests & bit) else None
            if requests & bit:
                return line
        return None

    def update_irq(self, clear_latch: bool = False) -> None:
        """Drive INT; every change of the output goes through here.

        INT rises when the resolver grants a request and stays latched until an
        INTA cycle, a poll read or ICW1 ends it (`clear_latch`): it then falls and
        rises again if another request is granted, so a slave's next request is a
        new edge on its master's input (as in Bochs).  Listeners see edges only."""
        state = self.state
        if clear_latch and state.int_output:
            self._drive_int(False)
        if not state.int_output and self._resolve() is not None:
            self._drive_int(True)

    def _drive_int(self, level: bool) -> None:
        self.state.int_output = level
        if self.master is not None:
            self.master.set_input(self.master_input, level)
        elif self.is_master:
            self.bus.set_intr(level)

    # ------------------------------------------------------------------ INTA
    def _service(self, line: int) -> None:
        """First INTA pulse (or poll read): the granted level goes in service."""
        state = self.state
        bit = 1 << line
        if not self._level_inputs() & bit:
            state.irr &= ~bit
        if state.auto_eoi:
            if state.rotate_in_auto_eoi:
                state.lowest_priority = line
        else:
            state.isr |= bit

    def acknowledge(self) -> int:
        """The INTA cycle: return the vector of the highest-priority request (from
        the slave for a cascade input), or IR7's vector when the request vanished."""
        state = self.state
        line = self._resolve()
        if line is None:
            vector = state.vector_base + SPURIOUS_LEVEL
        else:
            self._service(line)
            if self._is_cascade_input(line):
                slave = self.slaves.get(line)
                if slave is not None and slave._answers_cascade(line):
                    vector = slave.acknowledge()
                else:
                    vector = FLOATING_BUS
            else:
                vector = state.vector_base + line
        self.update_irq(clear_latch=True)
        return vector

    def _is_cascade_input(self, line: int) -> bool:
        state = self.state
        return self.is_master and not state.single and bool(state.icw3 & (1 << line))

    def _answers_cascade(self, line: int) -> bool:
        """A slave puts its vector on the bus when CAS0-2 match its ICW3 ID."""
        return not self.state.single and (self.state.icw3 & 7) == line

    def _poll(self) -> int:
        """Poll read: an INTA without a vector; I bit plus the granted level."""
        state = self.state
        state.poll = False
        line = self._resolve()
        if line is not None:
            self._service(line)
        self.update_irq(clear_latch=True)
        return 0 if line is None else POLL_INTERRUPT | line

    # ------------------------------------------------------------------ ports
    def _read_port(self, port: int, size: int) -> int:
        state = self.state
        if state.poll:
            return self._poll()
        if port == self.base_port:
            return state.isr if state.read_isr else state.irr
        return state.imr

    def _write_port(self, port: int, size: int, value: int) -> None:
        if port == self.base_port:
            if value & ICW1_INIT:
                self._write_icw1(value)
            elif value & OCW3_SELECT:
                self._write_ocw3(value)
            else:
                self._write_ocw2(value)
        else:
            self._write_data(value)

    def _write_icw1(self, value: int) -> None:
        """ICW1 starts initialisation: edge sense reset, IMR and ISR cleared, IR7
        lowest priority, IRR selected for reading, special mask off; ICW4 functions
        cleared when no ICW4 follows."""
        state = self.state
        state.init_step = InitStep.ICW2.value
        state.icw4_needed = bool(value & ICW1_IC4)
        state.single = bool(value & ICW1_SNGL)
        state.level_triggered = bool(value & ICW1_LTIM)
        state.imr = 0
        state.isr = 0
        state.irr = state.input_levels & self._level_inputs()
        state.lowest_priority = 7
        state.read_isr = False
        state.poll = False
        state.special_mask = False
        state.rotate_in_auto_eoi = False
        state.auto_eoi = False
        state.special_fully_nested = False
        state.buffered = False
        state.buffered_master = False
        state.microprocessor_mode = False
        self.update_irq(clear_latch=True)

    def _write_data(self, value: int) -> None:
        """Odd port: ICW2-4 during initialisation, OCW1 (the IMR) otherwise."""
        state = self.state
        step = state.init_step
        if step == InitStep.ICW2:
            state.vector_base = value & 0xF8
            state.init_step = self._step_after_icw2()
        elif step == InitStep.ICW3:
            state.icw3 = value
            state.init_step = (InitStep.ICW4 if state.icw4_needed else InitStep.READY).value
        elif step == InitStep.ICW4:
            state.microprocessor_mode = bool(value & ICW4_UPM)
            state.auto_eoi = bool(value & ICW4_AEOI)
            state.buffered_master = bool(value & ICW4_MS)
            state.buffered = bool(value & ICW4_BUF)
            state.special_fully_nested = bool(value & ICW4_SFNM)
            state.init_step = InitStep.READY.value
        else:
            state.imr = value
            if state.int_output and self._resolve() is None:
                self._drive_int(False)      # the request INT stood for is masked now
        self.update_irq()

    def _step_after_icw2(self) -> int:
        if not self.state.single:
            return InitStep.ICW3.value
        return (InitStep.ICW4 if self.state.icw4_needed else InitStep.READY).value

    def _write_ocw2(self, value: int) -> None:
        """OCW2: EOI and rotation commands (R, SL, EOI in bits 7-5, level in 2-0)."""
        state = self.state
        command = value >> 5
        level = value & 7
        if command in (OCW2_ROTATE_AEOI_SET, OCW2_ROTATE_AEOI_CLEAR):
            state.rotate_in_auto_eoi = command == OCW2_ROTATE_AEOI_SET
        elif command in (OCW2_NONSPECIFIC_EOI, OCW2_ROTATE_NONSPECIFIC_EOI):
            cleared = self._highest_in_service()
            if cleared is not None:
                state.isr &= ~(1 << cleared)
                if command == OCW2_ROTATE_NONSPECIFIC_EOI:
                    state.lowest_priority = cleared
        elif command in (OCW2_SPECIFIC_EOI, OCW2_ROTATE_SPECIFIC_EOI):
            state.isr &= ~(1 << level)
            if command == OCW2_ROTATE_SPECIFIC_EOI:
                state.lowest_priority = level
        elif command == OCW2_SET_PRIORITY:
            state.lowest_priority = level
        self.update_irq()

    def _highest_in_service(self) -> Optional[int]:
        for line in self._priority_order():
            if self.state.isr & (1 << line):
                return line
        return None

    def _write_ocw3(self, value: int) -> None:
        """OCW3: special mask mode, poll command, IRR/ISR read select."""
        state = self.state
        if value & OCW3_ESMM:
            state.special_mask = bool(value & OCW3_SMM)
        if value & OCW3_RR:
            state.read_isr = bool(value & OCW3_RIS)
        state.poll = bool(value & OCW3_POLL)
        self.update_irq()

    def _read_elcr(self, port: int, size: int) -> int:
        return self.state.elcr

    def _write_elcr(self, port: int, size: int, value: int) -> None:
        """ELCR: a set bit makes that input level-triggered; IRR then follows the pin."""
        state = self.state
        state.elcr = value & self.elcr_mask
        level_inputs = self._level_inputs()
        state.irr = (state.irr & ~level_inputs) | (state.input_levels & level_inputs)
        self.update_irq()
