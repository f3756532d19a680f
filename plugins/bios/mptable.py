"""The MP configuration tables (Intel MultiProcessor Specification 1.4, chapter 4),
built from the machine's components so that they always describe it.

The floating pointer structure (4.1) and the configuration table (4.2, 4.3) go into
the BIOS ROM's table area (F0000-FFFFF, one of the three places 4.0 lets an OS
search).  Entries, in the order the specification requires: one processor entry per
local APIC (the bootstrap processor flagged BP), the ISA bus, each I/O APIC, an I/O
interrupt assignment entry per ISA IRQ that reaches an I/O APIC pin (IRQ 0 on the pin
the I/O APIC wires it to, 2 on QEMU's PC; IRQ 2, the 8259A cascade, has none), and
the two local interrupt entries of virtual-wire mode: the 8259A as ExtINT on the
bootstrap processor's LINT0 and NMI on every processor's LINT1.  Feature byte 2's
IMCRP bit is clear: the board starts in virtual-wire mode (as QEMU/SeaBIOS say).
"""

import struct
from typing import Any, List, Optional, Tuple

from pcmachine.plugins.apic import IOAPIC, LocalAPIC
from pcmachine.plugins.cpu.ops_0f import FEATURE_APIC, cpuid_features

SPEC_REV = 4                         # MP specification 1.4
OEM_ID = b"PCMACH  "
PRODUCT_ID = b"PC          "
ISA_BUS_ID = 0
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


def build_config_table(lapic_base: int, processors: List[Tuple[int, bool, int, int]],
                       ioapics: List[Tuple[int, int]], irq_pins: List[Tuple[int, int, int]]) -> bytes:
    """The configuration table: `processors` as (APIC ID, bootstrap?, signature,
    features), `ioapics` as (ID, address), `irq_pins` as (ISA IRQ, I/O APIC ID, pin)."""
    entries = []
    for apic_id, bootstrap, signature, features in processors:
        flags = CPU_ENABLED | (CPU_BOOTSTRAP if bootstrap else 0)
        entries.append(struct.pack("<BBBBII8x", ENTRY_PROCESSOR, apic_id, LAPIC_VERSION, flags,
                                   signature, features))
    entries.append(struct.pack("<BB6s", ENTRY_BUS, ISA_BUS_ID, b"ISA   "))
    for ioapic_id, address in ioapics:
        entries.append(struct.pack("<BBBBI", ENTRY_IOAPIC, ioapic_id, IOAPIC_VERSION,
                                   IOAPIC_ENABLED, address))
    for irq, ioapic_id, pin in irq_pins:
        entries.append(struct.pack("<BBHBBBB", ENTRY_IO_INTERRUPT, INT_VECTORED, 0, ISA_BUS_ID,
                                   irq, ioapic_id, pin))
    bsp_id = next((apic_id for apic_id, bootstrap, _, _ in processors if bootstrap), 0)
    entries.append(struct.pack("<BBHBBBB", ENTRY_LOCAL_INTERRUPT, INT_EXTINT, 0, ISA_BUS_ID, 0,
                               bsp_id, 0))
    entries.append(struct.pack("<BBHBBBB", ENTRY_LOCAL_INTERRUPT, INT_NMI, 0, ISA_BUS_ID, 0,
                               ALL_LAPICS, 1))
    body = b"".join(entries)
    length = 44 + len(body)
    header = bytearray(struct.pack("<4sHBB8s12sIHHIHBB", b"PCMP", length, SPEC_REV, 0, OEM_ID,
                                   PRODUCT_ID, 0, 0, len(entries), lapic_base, 0, 0, 0))
    table = bytes(header) + body
    header[7] = checksum_byte(table)
    return bytes(header) + body


def build_floating_pointer(table_address: int) -> bytes:
    """The 16-byte floating pointer structure naming the configuration table."""
    data = bytearray(struct.pack("<4sIBBBBBBBB", b"_MP_", table_address, 1, SPEC_REV, 0,
                                 0, 0, 0, 0, 0))
    data[10] = checksum_byte(bytes(data))
    return bytes(data)


def machine_description(machine: Any) -> Optional[Tuple[int, list, list, list]]:
    """(local APIC base, processors, I/O APICs, ISA IRQ routes) of `machine`, or
    None when it has no local APIC (an ISA-only PC gets no MP table)."""
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
    ioapics, routes = [], []
    for ioapic in (c for c in machine.components.values() if isinstance(c, IOAPIC)):
        ioapics.append((ioapic.default_id, ioapic.base))
        for irq in range(16):
            pin = ioapic.pin_of_irq(irq)
            if pin is not None:
                routes.append((irq, ioapic.default_id, pin))
    return lapics[0].base, processors, ioapics, routes


def build(machine: Any, address: int) -> bytes:
    """Floating pointer then configuration table, to be placed at `address` (16-byte
    aligned); empty when the machine has no local APIC."""
    description = machine_description(machine)
    if description is None:
        return b""
    lapic_base, processors, ioapics, routes = description
    table = build_config_table(lapic_base, processors, ioapics, routes)
    return build_floating_pointer(address + FLOATING_SIZE) + table
