"""The MP configuration tables (Intel MultiProcessor Specification 1.4, chapter 4),
built from the machine's components so that they always describe it.

The floating pointer structure (4.1) and the configuration table (4.2, 4.3) go into
the BIOS ROM's table area (F0000-FFFFF, one of the three places 4.0 lets an OS
search).  Entries, in the order the specification requires: one processor entry per
local APIC (the bootstrap processor flagged BP), the buses (PCI bus 0 as bus 0 when
the board has a PCI interrupt router, as SeaBIOS numbers them: Linux takes the MP
bus ID of a PCI bus for its bus number; then the ISA bus), each I/O APIC, the I/O
interrupt assignment entries: one per INTx# pin of each PCI device (source IRQ
device << 2 | pin - 1, active high, to the pin of the IRQ the BIOS routes its PIRQ
to, as SeaBIOS writes them) and one per ISA IRQ that reaches an I/O APIC pin and
is not a PCI IRQ (IRQ 0 on the pin the I/O APIC wires it to, 2 on QEMU's PC; IRQ
2, the 8259A cascade, has none), and the two local interrupt entries of
virtual-wire mode: the 8259A as ExtINT on the bootstrap processor's LINT0 and NMI
on every processor's LINT1.  Feature byte 2's
IMCRP bit is clear: the board starts in virtual-wire mode (as QEMU/SeaBIOS say).
"""

import dataclasses
import struct
from typing import Any, List, Optional, Tuple

from pcmachine.plugins.apic import IOAPIC, LocalAPIC
from pcmachine.plugins.cpu.ops_0f import FEATURE_APIC, cpuid_features
from pcmachine.plugins.pci import PCIFunction, PIIX3ISABridge
from pcmachine.plugins.pci.function import pirq_of

from .pcibios import PIRQ_IRQS

SPEC_REV = 4                         # MP specification 1.4
OEM_ID = b"PCMACH  "
PRODUCT_ID = b"PC          "
#: I/O interrupt flags: active high, trigger as the bus says (level on PCI)
ACTIVE_HIGH = 0x01
BUS_PCI, BUS_ISA = b"PCI   ", b"ISA   "
ENTRY_PROCESSOR, ENTRY_BUS, ENTRY_IOAPIC, ENTRY_IO_INTERRUPT, ENTRY_LOCAL_INTERRUPT = 0, 1, 2, 3, 4
INT_VECTORED, INT_NMI, INT_SMI, INT_EXTINT = 0, 1, 2, 3
CPU_ENABLED, CPU_BOOTSTRAP = 0x01, 0x02
IOAPIC_ENABLED = 0x01
LAPIC_VERSION = 0x14
IOAPIC_VERSION = 0x11
ALL_LAPICS = 0xFF
FLOATING_SIZE = 16


def checksum_byte(data: bytes) -> int:
    """The byte that makes `data` (with a zero in its place) sum to 0 modulo 256."""
    return (-sum(data)) & 0xFF


@dataclasses.dataclass
class Board:
    """What the MP table describes: `processors` as (APIC ID, bootstrap?, signature,
    features), `buses` as (ID, type), `ioapics` as (ID, address), `interrupts` as
    (flags, source bus ID, source bus IRQ, I/O APIC ID, pin)."""

    lapic_base: int
    processors: List[Tuple[int, bool, int, int]]
    buses: List[Tuple[int, bytes]]
    ioapics: List[Tuple[int, int]]
    interrupts: List[Tuple[int, int, int, int, int]]


def build_config_table(board: Board) -> bytes:
    """The configuration table."""
    processors = board.processors
    isa_bus = next(bus_id for bus_id, kind in board.buses if kind == BUS_ISA)
    entries = []
    for apic_id, bootstrap, signature, features in processors:
        flags = CPU_ENABLED | (CPU_BOOTSTRAP if bootstrap else 0)
        entries.append(struct.pack("<BBBBII8x", ENTRY_PROCESSOR, apic_id, LAPIC_VERSION, flags,
                                   signature, features))
    for bus_id, kind in board.buses:
        entries.append(struct.pack("<BB6s", ENTRY_BUS, bus_id, kind))
    for ioapic_id, address in board.ioapics:
        entries.append(struct.pack("<BBBBI", ENTRY_IOAPIC, ioapic_id, IOAPIC_VERSION,
                                   IOAPIC_ENABLED, address))
    for flags, bus_id, source, ioapic_id, pin in board.interrupts:
        entries.append(struct.pack("<BBHBBBB", ENTRY_IO_INTERRUPT, INT_VECTORED, flags, bus_id,
                                   source, ioapic_id, pin))
    bsp_id = next((apic_id for apic_id, bootstrap, _, _ in processors if bootstrap), 0)
    entries.append(struct.pack("<BBHBBBB", ENTRY_LOCAL_INTERRUPT, INT_EXTINT, 0, isa_bus, 0,
                               bsp_id, 0))
    entries.append(struct.pack("<BBHBBBB", ENTRY_LOCAL_INTERRUPT, INT_NMI, 0, isa_bus, 0,
                               ALL_LAPICS, 1))
    body = b"".join(entries)
    length = 44 + len(body)
    header = bytearray(struct.pack("<4sHBB8s12sIHHIHBB", b"PCMP", length, SPEC_REV, 0, OEM_ID,
                                   PRODUCT_ID, 0, 0, len(entries), board.lapic_base, 0, 0, 0))
    table = bytes(header) + body
    header[7] = checksum_byte(table)
    return bytes(header) + body


def build_floating_pointer(table_address: int) -> bytes:
    """The 16-byte floating pointer structure naming the configuration table."""
    data = bytearray(struct.pack("<4sIBBBBBBBB", b"_MP_", table_address, 1, SPEC_REV, 0,
                                 0, 0, 0, 0, 0))
    data[10] = checksum_byte(bytes(data))
    return bytes(data)


def machine_description(machine: Any) -> Optional[Board]:
    """The board of `machine`, or None when it has no local APIC (an ISA-only PC gets
    no MP table)."""
    lapics = [c for c in machine.components.values() if isinstance(c, LocalAPIC)]
    if not lapics:
        return None
    processors = []
    for lapic in lapics:
        cpu = lapic.cpu or machine.cpu
        model = getattr(cpu, "model", None)      # a foreign CPU plugin may have none
        signature = model.signature if model is not None else 0
        features = cpuid_features(cpu) if model is not None else 0
        processors.append((lapic.options["id"], lapic.is_bsp, signature, features | FEATURE_APIC))
    pci_pins = pci_interrupt_pins(machine)
    buses = [(0, BUS_PCI), (1, BUS_ISA)] if pci_pins is not None else [(0, BUS_ISA)]
    isa_bus = buses[-1][0]
    pci_irqs = set(PIRQ_IRQS) if pci_pins is not None else set()
    ioapics, interrupts = [], []
    for ioapic in (c for c in machine.components.values() if isinstance(c, IOAPIC)):
        ioapics.append((ioapic.default_id, ioapic.base))
        for device, pin in pci_pins or ():
            irq_pin = ioapic.pin_of_irq(PIRQ_IRQS[pirq_of(device, pin)])
            if irq_pin is not None:
                interrupts.append((ACTIVE_HIGH, 0, device << 2 | (pin - 1), ioapic.default_id, irq_pin))
        for irq in range(16):
            irq_pin = ioapic.pin_of_irq(irq)
            if irq_pin is not None and irq not in pci_irqs:
                interrupts.append((0, isa_bus, irq, ioapic.default_id, irq_pin))
    return Board(lapics[0].base, processors, buses, ioapics, interrupts)


def pci_interrupt_pins(machine: Any) -> Optional[List[Tuple[int, int]]]:
    """(device, INTx# pin) of every PCI function on bus 0 that has an interrupt pin,
    once per device and pin; None when the board has no PCI interrupt router."""
    router = machine.find(PIIX3ISABridge)
    if router is None:
        return None
    functions = (c for c in machine.components.values() if isinstance(c, PCIFunction)
                 and c.options.get("host") == router.options["host"] and c.INTERRUPT_PIN)
    return sorted({(function.options["device"], function.INTERRUPT_PIN) for function in functions})


def build(machine: Any, address: int) -> bytes:
    """Floating pointer then configuration table, to be placed at `address` (16-byte
    aligned); empty when the machine has no local APIC."""
    board = machine_description(machine)
    if board is None:
        return b""
    return build_floating_pointer(address + FLOATING_SIZE) + build_config_table(board)
