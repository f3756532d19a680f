"""The PIIX3 (82371SB) functions on the 440FX board: the PCI-to-ISA bridge 00:01.0
and the IDE controller 00:01.1 (Intel 82371FB/SB datasheet, 290550; QEMU's
`hw/isa/piix.c` and `hw/ide/piix.c` for the IDs and reset values).

ISA bridge (8086:7000, class 0601, multi-function), the board's interrupt
router: the PIRQ route control registers PIRQRC[A:D] at 0x60-0x63 reset to 0x80
(routing disabled); bit 7 disables the route, bits 3-0 name the ISA IRQ (3-7,
9-12, 14, 15; the other values are reserved and route nowhere), bits 6-4 are
reserved (read 0).  A PIRQ line that some function's INTx# holds asserted keeps
its routed IRQ line high (level-triggered: the OS sets the IRQ to level mode in
the ELCR or the I/O APIC; the BIOS routes PIRQ A-D to IRQ 10, 10, 11, 11).  Only
the router drives a routed line: route PIRQs to IRQs no ISA device uses.  The
ISA devices themselves (PIC, PIT, DMA, RTC, the ELCR at 0x4D0/0x4D1) are the
chipset components of the profile.  The bridge also holds the reset control
register (RC, byte port 0xCF9, reached through the host bridge's port): bit 1
chooses a hard (1) or soft (0) reset, and setting bit 2 resets the machine.  As
in QEMU both kinds reset the whole machine, any write with bit 2 set does it,
and only bit 1 is kept (U-Boot's and Linux's `reboot=pci` write 02h, then 06h).

IDE (8086:7010, class 0101, programming interface 0x80): both channels in
compatibility mode at their fixed ISA addresses (0x1F0-0x1F7/0x3F6 on IRQ 14,
0x170-0x177/0x376 on IRQ 15), which are the profile's `ata` components; a
compatibility-mode channel has no BAR (the PIIX3 has only BAR4).  BAR4 (BMIBA,
16 bytes of I/O, movable and sizable) holds the bus master registers
(`plugins/ata/busmaster.py`): IDE DMA for the disks of both channels, once the
command register's Bus Master bit is set, as on the chip.
"""

import dataclasses
from typing import Any, Dict, List, Optional

from pcmachine.component import dict_to_state, state_to_dict
from pcmachine.hookspecs import hookimpl

from pcmachine.plugins.ata.busmaster import REGISTER_COUNT, BusMaster
from pcmachine.plugins.ata.channel import CHANNELS, ATAChannel

from .function import (BAR0, COMMAND, COMMAND_IO, COMMAND_MASTER, COMMAND_MEMORY, PIRQ_COUNT, Bar,
                       PCIFunction, function_options)

PIRQ_ROUTE = 0x60              # PIRQRC[A:D], 0x60-0x63
PIRQ_DISABLED = 0x80
#: the ISA IRQs a PIRQ can be routed to (3-7, 9-12, 14, 15), as a bit mask
ROUTABLE_IRQ_MASK = 0xDEF8
PIRQ_WMASK = 0x8F
BUS_MASTER_BAR = 4
BUS_MASTER_SIZE = REGISTER_COUNT
BUS_MASTER_BAR_OFFSET = BAR0 + 4 * BUS_MASTER_BAR
#: where SeaBIOS puts BMIBA on QEMU's pc machine
BUS_MASTER_BASE = 0xC000
#: IDE timing registers of the primary and secondary channel, and the slave timing
IDETIM_PRIMARY, IDETIM_SECONDARY, SIDETIM = 0x40, 0x42, 0x44
#: reset control register bits: hard reset (else soft), reset the processor
RESET_HARD, RESET_CPU = 0x02, 0x04
#: IDETIM bit 15: IDE Decode Enable; bits 11-10 are reserved (read 0)
IDETIM_DECODE_ENABLE = 0x8000
IDETIM_WMASK = 0xF3FF


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

    STATE_VERSION = 2

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.router_state = RouterState()

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        super().machine_configure(machine)
        self.host.router = self

    def pirq_route(self, pirq: int) -> Optional[int]:
        """The ISA IRQ PIRQ A-D (0-3) is routed to, or None while disabled or reserved."""
        value = self.config[PIRQ_ROUTE + pirq]
        irq = value & 0x0F
        return None if value & PIRQ_DISABLED or not ROUTABLE_IRQ_MASK >> irq & 1 else irq

    def read_reset_control(self) -> int:
        return self.router_state.reset_control

    def write_reset_control(self, value: int) -> None:
        if value & RESET_CPU:
            self.machine.request_reset("reset-line")
        else:
            self.router_state.reset_control = value & RESET_HARD

    def set_pirq_levels(self, levels: List[bool]) -> None:
        """The host bridge's wired-OR of the INTx# pins on PIRQ A-D."""
        self.router_state.pirq_levels = [int(level) for level in levels]
        self._drive_irqs()

    def config_write(self, offset: int, size: int, value: int) -> None:
        super().config_write(offset, size, value)
        if offset < PIRQ_ROUTE + PIRQ_COUNT and offset + size > PIRQ_ROUTE:
            self._drive_irqs()

    def _drive_irqs(self) -> None:
        state = self.router_state
        routes = (self.pirq_route(pirq) for pirq in range(PIRQ_COUNT) if state.pirq_levels[pirq])
        raised = sorted({irq for irq in routes if irq is not None})
        for irq in state.raised_irqs:
            if irq not in raised:
                self.bus.set_irq(irq, 0)
        for irq in raised:
            self.bus.set_irq(irq, 1)
        state.raised_irqs = raised

    def reset(self) -> None:
        super().reset()
        for irq in self.router_state.raised_irqs:
            self.bus.set_irq(irq, 0)
        self.router_state = RouterState()

    def snapshot(self) -> Dict[str, Any]:
        return {"function": super().snapshot(), "router": state_to_dict(self.router_state)}

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state["function"])
        self.router_state = dict_to_state(RouterState, state["router"])


@dataclasses.dataclass
class RouterState:
    #: PIRQ A-D asserted (0/1), as the host bridge last reported
    pirq_levels: List[int] = dataclasses.field(default_factory=lambda: [0] * PIRQ_COUNT)
    #: the ISA IRQ lines the router holds high
    raised_irqs: List[int] = dataclasses.field(default_factory=list)
    #: the reset control register at 0xCF9 (its hard-reset bit)
    reset_control: int = 0


class PIIX3IDE(PCIFunction):
    """PIIX3 function 1: IDE in compatibility mode, bus master base in BAR4.

    IDETIM (40h-41h primary, 42h-43h secondary; datasheet 290550, the IDE
    function's configuration registers) bit 15 is the channel's IDE Decode
    Enable.  It powers on clear and the firmware sets it (the BIOS's POST,
    `bios/pcibios.py`, as SeaBIOS's and the Bochs BIOS's PIIX IDE set-up write
    8000h to both).  Drivers test it: Linux's ata_piix skips a channel whose bit
    is clear (piix_pata_prereset, -ENOENT).  SIDETIM (44h) is the slave timing
    register.  The timings are stored, not acted on, and a channel whose enable
    bit is clear still decodes its ports, as in QEMU 7.2 (its PIIX IDE registers
    the legacy ports once, at realize) and Bochs: a firmware that never sets the
    bit (Bochs' legacy BIOS) keeps its disks.

    The bus master registers answer at BAR4's address while the command
    register's I/O Space bit is set (a BAR moved onto ports another component
    holds is not decoded); they drive the `ata` components at the primary and
    secondary channels' ports."""

    OPTIONS = function_options(device=1, function=1)
    VENDOR, DEVICE = 0x8086, 0x7010
    CLASS_CODE = 0x010180          # mass storage, IDE, bus master capable, both channels legacy
    COMMAND_RESET = COMMAND_IO
    STATE_VERSION = 2

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.bus_master = BusMaster(self.bus, self.clock, self._may_master)
        self._ports: Optional[int] = None

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        super().machine_configure(machine)
        channels = {component.base: component for component in machine.components.values()
                    if isinstance(component, ATAChannel)}
        self.bus_master.attach([channels.get(CHANNELS[which][0]) for which in ("primary", "secondary")])

    def _may_master(self) -> bool:
        return bool(self.config_read(COMMAND, 2) & COMMAND_MASTER)

    def config_write(self, offset: int, size: int, value: int) -> None:
        super().config_write(offset, size, value)
        if offset <= COMMAND < offset + size or BUS_MASTER_BAR_OFFSET <= offset < BUS_MASTER_BAR_OFFSET + 4:
            self._map_ports()
            for number in (0, 1):           # the Bus Master bit may have been set
                self.bus_master.try_start(number)

    def _map_ports(self) -> None:
        """Decode the bus master registers where BAR4 says, while I/O is enabled."""
        base: Optional[int] = None
        if self.config_read(COMMAND, 2) & COMMAND_IO:
            base = self.config_read(BUS_MASTER_BAR_OFFSET, 4) & 0xFFF0 or None
        self._ports = self.move_io_ports(self._ports, base, BUS_MASTER_SIZE, self._read_register,
                                         self._write_register, f"{self.name} bus master")

    def _read_register(self, port: int, size: int) -> int:
        return self.bus_master.read(port - self._ports)

    def _write_register(self, port: int, size: int, value: int) -> None:
        self.bus_master.write(port - self._ports, value)

    def reset(self) -> None:
        super().reset()
        self.bus_master.reset()
        self._map_ports()

    def snapshot(self) -> Dict[str, Any]:
        return {"function": super().snapshot(), "bus_master": self.bus_master.snapshot()}

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state["function"])
        self.bus_master.restore(state["bus_master"])
        self._map_ports()

    def bars(self) -> List[Optional[Bar]]:
        unused: List[Optional[Bar]] = [None] * BUS_MASTER_BAR
        return unused + [Bar(BUS_MASTER_SIZE, io=True, address=BUS_MASTER_BASE)]

    def write_mask(self) -> bytearray:
        mask = super().write_mask()
        for offset in (IDETIM_PRIMARY, IDETIM_SECONDARY):
            mask[offset:offset + 2] = IDETIM_WMASK.to_bytes(2, "little")
        mask[SIDETIM] = 0xFF
        return mask
