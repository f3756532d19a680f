"""The ACPI tables (ACPI specification 6.5, chapter 5), built from the machine's
components so that they always describe it.

What an OS finds, all in the BIOS ROM's table area (the RSDP must be on a 16-byte
boundary in E0000-FFFFF, 5.2.5.1; the area is reserved in the E820 map):

* RSDP (revision 0, ACPI 1.0) -> RSDT -> FADT and, when the board has local
  APICs, the MADT;
* FADT revision 1 (116 bytes): the PM1a event/control and PM timer ports of the
  `acpi` component, its SCI IRQ, the FACS, the DSDT, the CMOS century index;
  no SMI command port (the board is always in ACPI mode), no C2/C3, no fixed
  power or sleep button;
* FACS (64-byte aligned);
* DSDT: only `Name (\\_S5, Package () {0, 0, 0, 0})`, the sleep type the `acpi`
  component powers off on;
* MADT: one Processor Local APIC entry per local APIC (UIDs 0, 1, ...), each I/O
  APIC (GSI base 0), an interrupt source override for every ISA IRQ that is not
  on the pin of its number (IRQ 0 on pin 2) and for the SCI (level, active
  high), and LINT1 as NMI on every processor; PCAT_COMPAT (the 8259As exist).

No tables without an `acpi` component (the FADT would have no registers to name):
machines/isapc.yaml has none.  The tables are read-only ROM: an OS that writes
the FACS (the S3 waking vector, the global lock) writes nothing.
"""

import struct
from typing import Any, List, Optional, Tuple

from pcmachine.plugins.apic import IOAPIC, LocalAPIC
from pcmachine.plugins.chipset.acpipm import ACPIPowerManagement

from .mptable import checksum_byte

OEM_ID = b"PCMACH"
OEM_TABLE_ID = b"PCMACHIN"
CREATOR_ID = b"PCMA"
RSDP_SIZE = 20
FACS_SIZE = 64
FADT_REVISION_1_SIZE = 116
CMOS_CENTURY = 0x32
#: FADT flags: WBINVD works, C1 on all processors, power and sleep buttons are
#: control methods (there are none)
FADT_FLAGS = 0x0001 | 0x0004 | 0x0010 | 0x0020
LATENCY_UNSUPPORTED_C2, LATENCY_UNSUPPORTED_C3 = 101, 1001
MADT_PCAT_COMPAT = 0x1
MADT_LAPIC, MADT_IOAPIC, MADT_OVERRIDE, MADT_LAPIC_NMI = 0, 1, 2, 4
LEVEL_ACTIVE_HIGH = 0x000D
ALL_PROCESSORS = 0xFF
#: Name (_S5_, Package (4) {Zero, Zero, Zero, Zero})
DSDT_AML = bytes([0x08]) + b"_S5_" + bytes([0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00])


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
    dsdt = place(table(b"DSDT", 1, DSDT_AML))
    pointers = [place(build_fadt(facs, dsdt, pm.base, pm.sci_irq))]
    madt = _madt(lapics, ioapics, pm.sci_irq)
    if madt is not None:
        pointers.append(place(madt))
    rsdt = place(table(b"RSDT", 1, struct.pack(f"<{len(pointers)}I", *pointers)))
    image[:RSDP_SIZE] = build_rsdp(rsdt)
    return bytes(image)


def _madt(lapics: List[Any], ioapics: List[Any], sci_irq: int) -> Optional[bytes]:
    if not lapics:
        return None
    overrides = []
    for ioapic in ioapics[:1]:                  # the ISA IRQs reach the first I/O APIC
        for irq in range(16):
            pin = ioapic.pin_of_irq(irq)
            if irq == sci_irq:
                overrides.append((irq, irq if pin is None else pin, LEVEL_ACTIVE_HIGH))
            elif pin is not None and pin != irq:
                overrides.append((irq, pin, 0))
    return build_madt(lapics[0].base, [lapic.options["id"] for lapic in lapics],
                      [(ioapic.default_id, ioapic.base) for ioapic in ioapics], overrides)

