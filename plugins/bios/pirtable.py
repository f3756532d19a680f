"""The $PIR PCI interrupt routing table (Microsoft/Intel "PCI IRQ Routing Table
Specification" 1.0), built from the machine's PCI functions so that it describes
them.

The table goes into the BIOS ROM's table area (F0000-FFFFF, 16-byte aligned, where
an OS searches for the "$PIR" signature).  Its header names the interrupt router,
the PIIX3 ISA bridge (compatible router 8086:7000), and one slot entry follows per
PCI device on bus 0 other than the host bridge.  Each entry gives, for INTA#-INTD#,
the link value (the PIIX3's PIRQRC register, 0x60-0x63) and the IRQs the link may
be routed to (bitmap DEF8h: 3-7, 9-12, 14, 15, as SeaBIOS gives).  The wiring is
QEMU's `pc` board: INTx# of device d reaches PIRQ (x + d - 1) mod 4.  Devices are
embedded (slot number 0).  No table is built without a PIIX3 (isapc.yaml).
"""

import struct
from typing import Any, List

from pcmachine.plugins.pci import PCIHost, PIIX3ISABridge
from pcmachine.plugins.pci.function import PIRQ_COUNT, pirq_of
from pcmachine.plugins.pci.host import device_numbers
from pcmachine.plugins.pci.piix import ROUTABLE_IRQ_MASK

from .mptable import checksum_byte

VERSION = 0x0100
HEADER_SIZE = 32
LINK_BASE = 0x60               # PIIX3 PIRQRC[A]


def links(device: int) -> List[int]:
    """The link values of INTA#-INTD# of `device` (QEMU pc's swizzle)."""
    return [LINK_BASE + pirq_of(device, pin) for pin in range(1, PIRQ_COUNT + 1)]


def build(machine: Any, address: int) -> bytes:
    """The table (placed at `address`, 16-byte aligned); empty without a PIIX3."""
    router = machine.find(PIIX3ISABridge)
    if router is None:
        return b""
    host = machine.components.get(router.options["host"])
    if not isinstance(host, PCIHost):
        return b""
    entries = []
    for device in device_numbers(machine, host):
        pins = b"".join(struct.pack("<BH", link, ROUTABLE_IRQ_MASK) for link in links(device))
        entries.append(struct.pack("<BB", 0, device << 3) + pins + bytes((0, 0)))
    size = HEADER_SIZE + 16 * len(entries)
    router_devfn = router.options["device"] << 3 | router.options["function"]
    header = bytearray(struct.pack("<4sHHBBHHHI11xB", b"$PIR", VERSION, size, 0, router_devfn, 0,
                                   PIIX3ISABridge.VENDOR, PIIX3ISABridge.DEVICE, 0, 0))
    table = bytes(header) + b"".join(entries)
    header[31] = checksum_byte(table)
    return bytes(header) + b"".join(entries)
