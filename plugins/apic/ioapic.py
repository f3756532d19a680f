"""Intel 82093AA I/O APIC, and the IMCR of MP-specification boards.

Followed: the 82093AA datasheet (3.0 "Register description": IOREGSEL at +00h,
IOWIN at +10h, IOAPICID, IOAPICVER, IOAPICARB, the 24 redirection table entries;
3.2.4 "edge-sensitive interrupts signaled on a masked pin are ignored", remote IRR
set when a level interrupt is accepted and cleared by the local APIC's EOI), the
MP specification 1.4 (3.6.2.1 IMCR at ports 22h/23h, register 70h) and QEMU
`hw/intc/ioapic.c` and `hw/i386/pc.c` (ISA IRQ 0 on pin 2).

Wiring (as QEMU's PC): bus IRQ line n drives pin n for the ISA IRQs 1 and 3-15,
IRQ 0 (the PIT) drives pin 2 (`irq0_pin`), nothing drives pin 0 unless the IMCR
is set, pins 16-23 are free (PCI, not built yet).  The IMCR (reset 0) leaves the
8259A's INT on the bootstrap processor's LINT0 (virtual-wire mode, which the
BIOS's MP table announces); writing 1 to it ("symmetric I/O mode") moves the INT
to pin 0 (ExtINT).

Modelling choices and open questions:

* Bus lines carry asserted levels; the polarity bit is stored and the input taken
  as asserted when its line is high, whatever the bit says (QEMU does the same).
* A message is delivered at once: the delivery status bit always reads 0.
* Lowest-priority delivery picks the matching APIC with the lowest task priority
  class, then the lowest ID, so the choice is deterministic.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.hookspecs import hookimpl

from .lapic import EXTINT, FIXED, LOWEST, LocalAPIC, lowest_priority

DEFAULT_BASE = 0xFEC00000
PINS = 24
VERSION = 0x11 | ((PINS - 1) << 16)      # 82093AA: version 11h, 24 entries
IOREGSEL, IOWIN = 0x00, 0x10
REG_ID, REG_VER, REG_ARB, REG_TABLE = 0x00, 0x01, 0x02, 0x10

#: Register map (indexes through IOREGSEL): index -> name.
REGISTERS = {REG_ID: "IOAPICID", REG_VER: "IOAPICVER", REG_ARB: "IOAPICARB"}
REGISTERS.update({REG_TABLE + 2 * pin: f"IOREDTBL{pin} low" for pin in range(PINS)})
REGISTERS.update({REG_TABLE + 2 * pin + 1: f"IOREDTBL{pin} high" for pin in range(PINS)})

ENTRY_MASKED = 1 << 16
ENTRY_LEVEL = 1 << 15
ENTRY_REMOTE_IRR = 1 << 14
ENTRY_LOGICAL = 1 << 11
#: writable bits of an entry: all but delivery status (12) and remote IRR (14);
#: the high dword holds only the destination (bits 56-63)
ENTRY_WRITABLE = 0xFF000000_0001AFFF
IMCR_PORT_INDEX, IMCR_PORT_DATA, IMCR_INDEX = 0x22, 0x23, 0x70


@dataclass
class IOAPICState:
    """Guest-visible registers, pin levels and the IMCR."""

    ioapic_id: int = 0
    ioregsel: int = 0
    redirection: List[int] = field(default_factory=lambda: [ENTRY_MASKED] * PINS)
    pin_levels: int = 0
    imcr_index: int = 0
    imcr: int = 0


class IOAPIC(Component):
    """An 82093AA: 24 inputs, a redirection table, messages to the local APICs."""

    OPTIONS = {
        "base": Option("int", DEFAULT_BASE, "physical address of IOREGSEL/IOWIN",
                       minimum=0, maximum=0xFFFFF000),
        "id": Option("int", None, "I/O APIC ID (default: the number of local APICs, the "
                                  "first ID after the processors')", minimum=0, maximum=15),
        "irq0_pin": Option("int", 2, "the pin ISA IRQ 0 drives (2 as on QEMU's PC, or 0)",
                           minimum=0, maximum=2),
        "imcr": Option("bool", True, "the board has the IMCR at ports 22h/23h"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.base = options["base"]
        self.default_id = options["id"]
        self.lapics: List[LocalAPIC] = []
        self.state = IOAPICState()
        self.bus.map_mmio(self.base, 0x1000, name, self.mmio_read, self.mmio_write)
        for irq in range(16):
            pin = self.pin_of_irq(irq)
            if pin is not None:
                self.bus.connect_irq(irq, self._pin_listener(pin))
        if options["imcr"]:
            self.bus.register_io(IMCR_PORT_INDEX, IMCR_PORT_DATA, self._read_imcr,
                                 self._write_imcr, f"{name} IMCR index/data")

    def pin_of_irq(self, irq: int):
        """The pin ISA IRQ `irq` drives, or None (IRQ 2 is the 8259A cascade)."""
        if irq == 0:
            return self.options["irq0_pin"]
        return None if irq == 2 else irq

    def _pin_listener(self, pin: int):
        def listener(level: int) -> None:
            self.set_pin(pin, level)
        return listener

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        self.lapics = [c for c in machine.components.values() if isinstance(c, LocalAPIC)]
        for lapic in self.lapics:
            lapic.ioapics.append(self)
        if self.default_id is None:
            self.default_id = len(self.lapics)
        self.state.ioapic_id = self.default_id
        self._connect_pic()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on: every entry masked, IMCR 0; pin levels are kept."""
        self.state = IOAPICState(ioapic_id=self.default_id or 0, pin_levels=self.state.pin_levels)
        self._connect_pic()

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(IOAPICState, state)
        self._connect_pic()

    # ------------------------------------------------------------------ IMCR
    def _connect_pic(self) -> None:
        """IMCR bit 0 set: the 8259A's INT leaves LINT0 for pin 0."""
        for lapic in self.lapics:
            if lapic.is_bsp:
                lapic.pic_sink = self._pic_input if self.state.imcr & 1 else None
                lapic._update()

    def _pic_input(self, level: bool) -> None:
        self.set_pin(0, level)

    def _read_imcr(self, port: int, size: int) -> int:
        if port == IMCR_PORT_DATA and self.state.imcr_index == IMCR_INDEX:
            return self.state.imcr
        return 0xFF

    def _write_imcr(self, port: int, size: int, value: int) -> None:
        if port == IMCR_PORT_INDEX:
            self.state.imcr_index = value
        elif self.state.imcr_index == IMCR_INDEX:
            self.state.imcr = value & 1
            self._connect_pic()

    # ------------------------------------------------------------------ inputs
    def set_pin(self, pin: int, level: int) -> None:
        """Input `pin` driven to `level`: a rising edge or an asserted level is a
        request for its redirection entry."""
        state = self.state
        bit = 1 << pin
        old = state.pin_levels & bit
        state.pin_levels = (state.pin_levels | bit) if level else (state.pin_levels & ~bit)
        entry = state.redirection[pin]
        if (entry >> 8) & 7 == EXTINT:
            self._drive_extint(pin)
            return
        if entry & ENTRY_LEVEL:
            if level:
                self._service(pin)
        elif level and not old and not entry & ENTRY_MASKED:
            self._send(entry, False)

    def _service(self, pin: int) -> None:
        """Deliver an asserted level-triggered input unless masked or awaiting EOI."""
        state = self.state
        entry = state.redirection[pin]
        if entry & (ENTRY_MASKED | ENTRY_REMOTE_IRR) or not state.pin_levels & (1 << pin):
            return
        if (entry >> 8) & 7 in (FIXED, LOWEST):
            state.redirection[pin] = entry | ENTRY_REMOTE_IRR
        self._send(entry, True)

    def _drive_extint(self, pin: int) -> None:
        """An ExtINT entry passes the 8259A's INT level on while unmasked."""
        entry = self.state.redirection[pin]
        asserted = bool(self.state.pin_levels & (1 << pin)) and not entry & ENTRY_MASKED
        self._send(entry, asserted)

    def _send(self, entry: int, level: bool) -> None:
        """An interrupt message to the local APICs the entry's destination names."""
        destination = entry >> 56
        logical = bool(entry & ENTRY_LOGICAL)
        targets = [apic for apic in self.lapics if apic.matches(destination, logical)]
        mode = (entry >> 8) & 7
        if mode == LOWEST and targets:
            targets = [lowest_priority(targets)]
        for apic in targets:
            apic.deliver(mode, entry & 0xFF, level)

    def eoi(self, vector: int) -> None:
        """A local APIC's EOI of a level-triggered `vector`: clear remote IRR of the
        entries with that vector, and deliver again where the level is still high."""
        state = self.state
        for pin, entry in enumerate(state.redirection):
            if entry & ENTRY_REMOTE_IRR and entry & 0xFF == vector:
                state.redirection[pin] = entry & ~ENTRY_REMOTE_IRR
                self._service(pin)

    # ------------------------------------------------------------------ registers
    def mmio_read(self, address: int, size: int) -> int:
        offset = address - self.base
        if offset & ~3 == IOREGSEL:
            value = self.state.ioregsel
        elif offset & ~3 == IOWIN:
            value = self.read_register(self.state.ioregsel)
        else:
            return 0
        return (value >> ((offset & 3) * 8)) & ((1 << (8 * size)) - 1)

    def mmio_write(self, address: int, size: int, value: int) -> None:
        offset = address - self.base
        if offset == IOREGSEL:
            self.state.ioregsel = value & 0xFF
        elif offset == IOWIN and size == 4:
            self.write_register(self.state.ioregsel, value)

    def read_register(self, index: int) -> int:
        state = self.state
        if index == REG_ID:
            return (state.ioapic_id & 0xF) << 24
        if index == REG_VER:
            return VERSION
        if index == REG_ARB:
            return (state.ioapic_id & 0xF) << 24
        if REG_TABLE <= index < REG_TABLE + 2 * PINS:
            entry = state.redirection[(index - REG_TABLE) >> 1]
            return (entry >> 32) if index & 1 else entry & 0xFFFFFFFF
        return 0

    def write_register(self, index: int, value: int) -> None:
        state = self.state
        if index == REG_ID:
            state.ioapic_id = (value >> 24) & 0xF
        elif REG_TABLE <= index < REG_TABLE + 2 * PINS:
            pin = (index - REG_TABLE) >> 1
            entry = state.redirection[pin]
            if index & 1:
                new = (entry & 0xFFFFFFFF) | ((value & 0xFFFFFFFF) << 32)
            else:
                new = (entry & ~0xFFFFFFFF) | (value & 0xFFFFFFFF)
            readonly = ENTRY_REMOTE_IRR | (1 << 12)
            new = (new & ENTRY_WRITABLE) | (entry & readonly)
            if not new & ENTRY_LEVEL:
                new &= ~ENTRY_REMOTE_IRR
            state.redirection[pin] = new
            if (new >> 8) & 7 == EXTINT:
                self._drive_extint(pin)
            elif (entry >> 8) & 7 == EXTINT:
                self._send(entry, False)        # no longer ExtINT: the request ends
            elif new & ENTRY_LEVEL:
                self._service(pin)
