"""The ACPI tables (ACPI specification 6.5, chapter 5), built from the machine's
components so that they always describe it.

What an OS finds, all in the BIOS ROM's table area (the RSDP must be on a 16-byte
boundary in E0000-FFFFF, 5.2.5.1; the area is reserved in the E820 map):

* RSDP (revision 0, ACPI 1.0) -> RSDT -> FADT and, when the board has local
  APICs, the MADT;
* FADT revision 1 (116 bytes): the PM1a event/control and PM timer ports of the
  `acpi` component, its SCI IRQ, the FACS, the DSDT, the CMOS century index;
  no SMI command port (the board is always in ACPI mode), no C2/C3; the power
  button is the fixed-feature one of the `acpi` component (PWR_BUTTON clear),
  there is no sleep button (SLP_BUTTON set, and no control-method one either);
* FACS (64-byte aligned);
* DSDT: `Name (\\_S5, Package () {0, 0, 0, 0})`, the sleep type the `acpi`
  component powers off on; the PCI root bridge `\\_SB.PCI0` (PNP0A03, bus 0)
  when the board has a PCI host, with its windows in `_CRS` (bus numbers 0-255,
  the configuration ports, all other I/O ports, the VGA window and the memory
  from the top of RAM to the I/O APIC), and below it, under the ISA bridge, the
  ISA devices an ACPI OS only uses when the DSDT names them: the 8042 keyboard
  (PNP0303) and mouse (PNP0F13) (Linux's i8042 driver ignores an 8042 the DSDT
  does not list), the floppy controller (PNP0700), the serial ports (PNP0501),
  the parallel ports (PNP0400, as QEMU lists LPT1) and the RTC (PNP0B00), each
  with its ports, IRQ and DMA channel.  With a
  PIIX3 interrupt router, `\\_SB.PCI0._PRT` sends INTA#-INTD# of every PCI
  device to the link devices `\\_SB.LNKA`-`LNKD` (PNP0C0F, one per PIRQ line),
  whose `_PRS` and `_CRS` name the IRQ the BIOS routed the line to (level, active
  high, shared, as QEMU describes them); the routing is fixed, so `_SRS` accepts
  that IRQ and changes nothing;
* MADT: one Processor Local APIC entry per local APIC (UIDs 0, 1, ...), each I/O
  APIC (GSI base 0), an interrupt source override for every ISA IRQ that is not
  on the pin of its number (IRQ 0 on pin 2) and for the SCI and the PCI IRQs
  (level, active high), and LINT1 as NMI on every processor; PCAT_COMPAT (the
  8259As exist).

No tables without an `acpi` component (the FADT would have no registers to name):
machines/isapc.yaml has none.  The tables are read-only ROM: an OS that writes
the FACS (the S3 waking vector, the global lock) writes nothing.
"""

import struct
from typing import Any, List, Optional, Set, Tuple

from pcmachine.plugins.apic import IOAPIC, LocalAPIC
from pcmachine.plugins.chipset.acpipm import ACPIPowerManagement
from pcmachine.plugins.chipset.cmos import CMOS
from pcmachine.plugins.floppy.controller import FloppyController
from pcmachine.plugins.i8042 import KeyboardController
from pcmachine.plugins.pci import PCIHost, PIIX3ISABridge
from pcmachine.plugins.pci.function import PIRQ_COUNT, pirq_of
from pcmachine.plugins.pci.host import device_numbers
from pcmachine.plugins.parallel.port import ParallelPort
from pcmachine.plugins.serial.uart import UART16550

from . import aml
from .mptable import checksum_byte
from .pcibios import PIRQ_IRQS

OEM_ID = b"PCMACH"
OEM_TABLE_ID = b"PCMACHIN"
CREATOR_ID = b"PCMA"
RSDP_SIZE = 20
FACS_SIZE = 64
FADT_REVISION_1_SIZE = 116
CMOS_CENTURY = 0x32
#: FADT flags: WBINVD works, C1 on all processors, the power button is the fixed
#: feature (PWR_BUTTON, bit 4, clear), the sleep button is a control method (there
#: is none: SLP_BUTTON, bit 5, set)
FADT_FLAGS = 0x0001 | 0x0004 | 0x0020
LATENCY_UNSUPPORTED_C2, LATENCY_UNSUPPORTED_C3 = 101, 1001
MADT_PCAT_COMPAT = 0x1
MADT_LAPIC, MADT_IOAPIC, MADT_OVERRIDE, MADT_LAPIC_NMI = 0, 1, 2, 4
LEVEL_ACTIVE_HIGH = 0x000D
ALL_PROCESSORS = 0xFF
#: the PCI root bridge's memory window ends below the I/O APIC
PCI_MEMORY_END = 0xFEBFFFFF
PCI_CONFIG_PORTS, PCI_CONFIG_PORT_COUNT = 0xCF8, 8
VGA_WINDOW = (0xA0000, 0xBFFFF)
RTC_PORT = 0x70
KEYBOARD_DATA, KEYBOARD_COMMAND = 0x60, 0x64
MDA_LPT_BASE = 0x3BC
KEYBOARD_IRQ, MOUSE_IRQ = 1, 12
FLOPPY_DMA = 2
LINKS = ("LNKA", "LNKB", "LNKC", "LNKD")
#: a _PRT address: the device in bits 31-16, any function
ALL_FUNCTIONS = 0xFFFF


def table(signature: bytes, revision: int, body: bytes) -> bytes:
    """A system description table: the 36-byte header (checksummed) and `body`."""
    header = bytearray(struct.pack("<4sIBB6s8sI4sI", signature, 36 + len(body), revision, 0,
                                   OEM_ID, OEM_TABLE_ID, 1, CREATOR_ID, 1))
    header[9] = checksum_byte(bytes(header) + body)
    return bytes(header) + body


def build_rsdp(rsdt_address: int) -> bytes:
    data = bytearray(struct.pack("<8sB6sBI", b"RSD PTR ", 0, OEM_ID, 0, rsdt_address))
    data[8] = checksum_byte(bytes(data))
    return bytes(data)


def build_facs() -> bytes:
    return struct.pack("<4sI", b"FACS", FACS_SIZE).ljust(FACS_SIZE, b"\0")


def build_fadt(facs: int, dsdt: int, pm_base: int, sci_irq: int) -> bytes:
    """The revision 1 FADT (ACPI 1.0 layout, 5.2.9 up to the Flags field)."""
    body = struct.pack(
        "<IIBBHIBBBBIIIIIIIIBBBBBBBBHHHHBBBBBHBI",
        facs, dsdt, 1, 0, sci_irq, 0, 0, 0, 0, 0,     # INT_MODEL 1: multiple APIC; no SMI_CMD
        pm_base, 0, pm_base + 4, 0, 0, pm_base + 8, 0, 0,
        4, 2, 0, 4, 0, 0, 0, 0,                      # PM1_EVT/CNT, PM2_CNT, PM_TMR, GPE lengths
        LATENCY_UNSUPPORTED_C2, LATENCY_UNSUPPORTED_C3, 0, 0,
        0, 0, 0, 0, CMOS_CENTURY, 0, 0, FADT_FLAGS)
    fadt = table(b"FACP", 1, body)
    assert len(fadt) == FADT_REVISION_1_SIZE
    return fadt


def build_madt(lapic_base: int, apic_ids: List[int], ioapics: List[Tuple[int, int]],
               overrides: List[Tuple[int, int, int]]) -> bytes:
    """`ioapics` as (ID, address), `overrides` as (ISA IRQ, GSI, flags)."""
    entries = [struct.pack("<II", lapic_base, MADT_PCAT_COMPAT)]
    for uid, apic_id in enumerate(apic_ids):
        entries.append(struct.pack("<BBBBI", MADT_LAPIC, 8, uid, apic_id, 1))
    for ioapic_id, address in ioapics:
        entries.append(struct.pack("<BBBBII", MADT_IOAPIC, 12, ioapic_id, 0, address, 0))
    for irq, gsi, flags in overrides:
        entries.append(struct.pack("<BBBBIH", MADT_OVERRIDE, 10, 0, irq, gsi, flags))
    entries.append(struct.pack("<BBBHB", MADT_LAPIC_NMI, 6, ALL_PROCESSORS, 0, 1))
    return table(b"APIC", 1, b"".join(entries))


def build(machine: Any, address: int) -> bytes:
    """The tables, to be placed at `address` (16-byte aligned) with the RSDP first;
    empty when the machine has no `acpi` component."""
    pm = machine.find(ACPIPowerManagement)
    if pm is None:
        return b""
    lapics = [c for c in machine.components.values() if isinstance(c, LocalAPIC)]
    ioapics = [c for c in machine.components.values() if isinstance(c, IOAPIC)]
    image = bytearray(RSDP_SIZE)            # the RSDP goes in last, once the RSDT is placed

    def place(data: bytes, alignment: int = 16) -> int:
        """Append `data` at the next `alignment` boundary; returns its address."""
        image.extend(bytes(-(address + len(image)) % alignment))
        start = address + len(image)
        image.extend(data)
        return start

    facs = place(build_facs(), 64)
    dsdt = place(build_dsdt(machine))
    pointers = [place(build_fadt(facs, dsdt, pm.base, pm.sci_irq))]
    level_irqs = {pm.sci_irq} | (set(PIRQ_IRQS) if machine.find(PIIX3ISABridge) else set())
    madt = _madt(lapics, ioapics, level_irqs)
    if madt is not None:
        pointers.append(place(madt))
    rsdt = place(table(b"RSDT", 1, struct.pack(f"<{len(pointers)}I", *pointers)))
    image[:RSDP_SIZE] = build_rsdp(rsdt)
    return bytes(image)


def build_dsdt(machine: Any) -> bytes:
    """The DSDT: \\_S5 and the devices of \\_SB (see the module docstring); the
    definition block is the root scope, so its names need no root prefix."""
    system_bus = _isa_devices(machine)
    host = machine.find(PCIHost)
    if host is not None:
        root = [aml.name("_HID", aml.eisa_id("PNP0A03")), aml.name("_ADR", aml.integer(0)),
                aml.name("_UID", aml.integer(0)),
                aml.name("_CRS", _pci_root_windows(machine.bus.ram_size))]
        router = machine.find(PIIX3ISABridge)
        links = []
        if router is not None:
            root.append(aml.name("_PRT", _routing_table(machine, host)))
            address = (router.options["device"] << 16) | router.options["function"]
            system_bus = [aml.device("ISA", aml.name("_ADR", aml.integer(address)), *system_bus)]
            links = [_link_device(pirq) for pirq in range(PIRQ_COUNT)]
        system_bus = [aml.device("PCI0", *root, *system_bus), *links]
    terms = [aml.name("_S5", aml.package([aml.integer(0)] * 4))]
    if system_bus:
        terms.append(aml.scope("_SB", *system_bus))
    return table(b"DSDT", 1, b"".join(terms))


def _pci_root_windows(ram_size: int) -> bytes:
    """The root bridge's `_CRS`: what it decodes for the devices behind it."""
    config_end = PCI_CONFIG_PORTS + PCI_CONFIG_PORT_COUNT
    windows = [aml.word_bus_numbers(0, 0xFF), aml.io_ports(PCI_CONFIG_PORTS, PCI_CONFIG_PORT_COUNT),
               aml.word_io(0, PCI_CONFIG_PORTS - 1), aml.word_io(config_end, 0xFFFF),
               aml.dword_memory(*VGA_WINDOW, cacheable=True)]
    if ram_size <= PCI_MEMORY_END:
        windows.append(aml.dword_memory(max(ram_size, 0x100000), PCI_MEMORY_END, cacheable=False))
    return aml.resource_template(*windows)


def _routing_table(machine: Any, host: Any) -> bytes:
    """`_PRT`: INTA#-INTD# of every device on bus 0 but the host bridge to its link."""
    devices = device_numbers(machine, host)
    return aml.package(aml.package([aml.integer(device << 16 | ALL_FUNCTIONS), aml.integer(pin - 1),
                                    aml.name_seg(LINKS[pirq_of(device, pin)]), aml.integer(0)])
                       for device in devices for pin in range(1, PIRQ_COUNT + 1))


def _link_device(pirq: int) -> bytes:
    """An interrupt link (PNP0C0F) for PIRQ A-D, fixed at the IRQ the BIOS routes it to."""
    irq = aml.resource_template(aml.shared_level_interrupt(PIRQ_IRQS[pirq]))
    return aml.device(LINKS[pirq], aml.name("_HID", aml.eisa_id("PNP0C0F")),
                      aml.name("_UID", aml.integer(pirq)), aml.name("_PRS", irq),
                      aml.name("_CRS", irq), aml.method("_SRS", 1))


def _isa_devices(machine: Any) -> List[bytes]:
    """The ISA devices an ACPI OS enumerates through the DSDT."""
    devices = []
    controller = machine.find(KeyboardController)
    if controller is not None:
        devices.append(_isa_device("KBD", "PNP0303", aml.io_ports(KEYBOARD_DATA, 1),
                                   aml.io_ports(KEYBOARD_COMMAND, 1), aml.irq(KEYBOARD_IRQ)))
        if controller.mouse is not None:
            devices.append(_isa_device("MOU", "PNP0F13", aml.irq(MOUSE_IRQ)))
    floppy = machine.find(FloppyController)
    if floppy is not None:
        devices.append(_isa_device("FDC", "PNP0700", aml.io_ports(floppy.base, 6),
                                   aml.io_ports(floppy.base + 7, 1), aml.irq(floppy.irq),
                                   aml.dma_channel(FLOPPY_DMA)))
    uarts = [c for c in machine.components.values() if isinstance(c, UART16550)]
    for number, uart in enumerate(uarts, 1):
        devices.append(_isa_device(f"COM{number}", "PNP0501", aml.io_ports(uart.base, 8),
                                   aml.irq(uart.irq), uid=number))
    printers = [c for c in machine.components.values() if isinstance(c, ParallelPort)]
    for number, printer in enumerate(printers, 1):
        devices.append(_isa_device(f"LPT{number}", "PNP0400",
                                   aml.io_ports(printer.base, lpt_decode(printer.base)),
                                   aml.irq(printer.irq), uid=number))
    cmos = machine.find(CMOS)
    if cmos is not None:
        devices.append(_isa_device("RTC", "PNP0B00", aml.io_ports(RTC_PORT, 2), aml.irq(cmos.irq)))
    return devices


def lpt_decode(base: int) -> int:
    """Ports a parallel port's resources name: 8 (SPP and EPP registers, as QEMU
    declares), 4 for the MDA card's port at 3BCh, which ends below the VGA's 3C0h."""
    return 4 if base == MDA_LPT_BASE else 8


def _isa_device(name: str, hardware_id: str, *resources: bytes, uid: Optional[int] = None) -> bytes:
    terms = [aml.name("_HID", aml.eisa_id(hardware_id))]
    if uid is not None:
        terms.append(aml.name("_UID", aml.integer(uid)))
    terms.append(aml.name("_CRS", aml.resource_template(*resources)))
    return aml.device(name, *terms)


def _madt(lapics: List[Any], ioapics: List[Any], level_irqs: Set[int]) -> Optional[bytes]:
    if not lapics:
        return None
    overrides = []
    for ioapic in ioapics[:1]:                  # the ISA IRQs reach the first I/O APIC
        for irq in range(16):
            pin = ioapic.pin_of_irq(irq)
            if irq in level_irqs:
                overrides.append((irq, irq if pin is None else pin, LEVEL_ACTIVE_HIGH))
            elif pin is not None and pin != irq:
                overrides.append((irq, pin, 0))
    return build_madt(lapics[0].base, [lapic.options["id"] for lapic in lapics],
                      [(ioapic.default_id, ioapic.base) for ioapic in ioapics], overrides)

