"""The PIIX3 (82371SB) functions on the 440FX board: the PCI-to-ISA bridge 00:01.0
and the IDE controller 00:01.1 (Intel 82371FB/SB datasheet, 290550; QEMU's
`hw/isa/piix.c` and `hw/ide/piix.c` for the IDs and reset values).

ISA bridge (8086:7000, class 0601, multi-function): the PIRQ route control
registers PIRQRC[A:D] at 0x60-0x63 reset to 0x80 (routing disabled); bit 7
disables the route, bits 3-0 name the ISA IRQ, bits 6-4 are reserved (read 0).
The values are kept and read back; no function here raises a PCI interrupt, so
nothing is routed through them yet.  The ISA devices themselves (PIC, PIT, DMA,
RTC, the ELCR at 0x4D0/0x4D1) are the chipset components of the profile.

IDE (8086:7010, class 0101, programming interface 0x80): both channels in
compatibility mode at their fixed ISA addresses (0x1F0-0x1F7/0x3F6 on IRQ 14,
0x170-0x177/0x376 on IRQ 15), which are the profile's `ata` components; a
compatibility-mode channel has no BAR (the PIIX3 has only BAR4).  BAR4 (BMIBA,
16 bytes of I/O) is programmable and sizable, but the bus master registers
behind it and IDE DMA are not implemented: transfers are PIO only.
"""

from typing import List, Optional

from .function import (COMMAND_IO, COMMAND_MASTER, COMMAND_MEMORY, Bar, PCIFunction,
                       function_options)

PIRQ_ROUTE = 0x60              # PIRQRC[A:D], 0x60-0x63
PIRQ_COUNT = 4
PIRQ_DISABLED = 0x80
PIRQ_WMASK = 0x8F
BUS_MASTER_BAR = 4
BUS_MASTER_SIZE = 16
#: where SeaBIOS puts BMIBA on QEMU's pc machine
BUS_MASTER_BASE = 0xC000


class PIIX3ISABridge(PCIFunction):
    """PIIX3 function 0: PCI-to-ISA bridge with the PIRQ route registers."""

    OPTIONS = function_options(device=1, function=0)
    VENDOR, DEVICE = 0x8086, 0x7000
    CLASS_CODE = 0x060100          # bridge, ISA bridge
    MULTI_FUNCTION = True
    COMMAND_RESET = COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER   # always on (datasheet 2.2.2)

    def write_mask(self) -> bytearray:
        mask = super().write_mask()
        mask[PIRQ_ROUTE:PIRQ_ROUTE + PIRQ_COUNT] = bytes([PIRQ_WMASK] * PIRQ_COUNT)
        return mask

    def power_on_config(self) -> bytearray:
        config = super().power_on_config()
        config[PIRQ_ROUTE:PIRQ_ROUTE + PIRQ_COUNT] = bytes([PIRQ_DISABLED] * PIRQ_COUNT)
        return config

    def pirq_route(self, pirq: int) -> Optional[int]:
        """The ISA IRQ PIRQ A-D (0-3) is routed to, or None while disabled."""
        value = self.config[PIRQ_ROUTE + pirq]
        return None if value & PIRQ_DISABLED else value & 0x0F


class PIIX3IDE(PCIFunction):
    """PIIX3 function 1: IDE in compatibility mode, bus master base in BAR4."""

    OPTIONS = function_options(device=1, function=1)
    VENDOR, DEVICE = 0x8086, 0x7010
    CLASS_CODE = 0x010180          # mass storage, IDE, bus master capable, both channels legacy
    COMMAND_RESET = COMMAND_IO

    def bars(self) -> List[Optional[Bar]]:
        unused: List[Optional[Bar]] = [None] * BUS_MASTER_BAR
        return unused + [Bar(BUS_MASTER_SIZE, io=True, address=BUS_MASTER_BASE)]

