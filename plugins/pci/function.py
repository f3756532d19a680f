"""A PCI function: its 256-byte configuration space as guest software sees it.

PCI Local Bus Specification 2.1/3.0, chapter 6 ("Configuration Space"): the
type 0 header (vendor and device ID, command, status, revision, class code,
header type, six base address registers, subsystem IDs, interrupt line and pin)
and the device-specific bytes 0x40-0xFF.

Every byte has a write mask, as QEMU's `pci.c` keeps one: a write changes only
the bits the mask allows, and status bits 8 and 11-15 are write-one-to-clear.
Base address registers (6.2.5.1) follow from the mask too: the address bits
below the region's size are read-only zero, so writing all ones and reading back
gives the size mask, as an OS probing the BAR expects.

Interrupts (PCI 3.0, 2.2.6 and 6.2.2-6.2.3): a function whose INTERRUPT_PIN is
INTA#-INTD# asserts its pin with `set_interrupt(True)`; the request shows in
status bit 3 (Interrupt Status) and reaches the pin unless command bit 10
(Interrupt Disable) is set.  The pins are level-triggered and shared: the host
bridge ORs them into the four PIRQ lines of the board (`pirq_of`), which the
interrupt router sends to ISA IRQs.

`PCIFunction` is a component; a device plugin becomes a PCI function by deriving
from it, setting the identity constants and `bars()`, and naming the host bridge
component in its `host` option (docs/writing-a-device.md).  Its configuration
space is plain data in the snapshot.
"""

import dataclasses
from typing import Any, Dict, List, Optional

from pcmachine.bus import ROMRegion
from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.hookspecs import hookimpl

CONFIG_SIZE = 256
# type 0 header offsets (PCI 3.0 figure 6-1)
VENDOR_ID, DEVICE_ID, COMMAND, STATUS = 0x00, 0x02, 0x04, 0x06
REVISION_ID, CLASS_PROG, CACHE_LINE_SIZE, LATENCY_TIMER = 0x08, 0x09, 0x0C, 0x0D
HEADER_TYPE, BAR0, SUBSYSTEM_VENDOR_ID, SUBSYSTEM_ID = 0x0E, 0x10, 0x2C, 0x2E
EXPANSION_ROM, INTERRUPT_LINE, INTERRUPT_PIN = 0x30, 0x3C, 0x3D
BAR_COUNT = 6
HEADER_MULTI_FUNCTION = 0x80
# command register bits (6.2.2)
COMMAND_IO, COMMAND_MEMORY, COMMAND_MASTER = 0x0001, 0x0002, 0x0004
COMMAND_PARITY, COMMAND_SERR, COMMAND_INTX_DISABLE = 0x0040, 0x0100, 0x0400
COMMAND_WMASK = (COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_PARITY | COMMAND_SERR
                 | COMMAND_INTX_DISABLE)
#: status bits that software clears by writing a one (6.2.3)
STATUS_W1C = 0xF900
STATUS_INTERRUPT = 0x0008
PIRQ_COUNT = 4
# BAR type bits (6.2.5.1)
BAR_IO = 0x01
BAR_PREFETCHABLE = 0x08
# expansion ROM base address register (6.2.5.2): address bits 31-11, enable bit 0
ROM_ENABLE = 0x01
ROM_ADDRESS_MASK = 0xFFFFF800
ROM_MINIMUM_SIZE = 0x800


def power_of_two_at_least(size: int) -> int:
    return 1 << max(size - 1, 1).bit_length()


@dataclasses.dataclass(frozen=True)
class Bar:
    """One base address register: a power-of-two `size`, I/O or memory, and the
    address it holds after reset (where the firmware placed the region)."""

    size: int
    io: bool = False
    prefetchable: bool = False
    address: int = 0

    def type_bits(self) -> int:
        if self.io:
            return BAR_IO
        return BAR_PREFETCHABLE if self.prefetchable else 0

    def write_mask(self) -> int:
        low = 0x3 if self.io else 0xF
        return ~(self.size - 1) & ~low & 0xFFFFFFFF


def function_options(device: int = 0, function: int = 0) -> Dict[str, Option]:
    """The options of every PCI function, defaulting to its usual device and function
    numbers."""
    return {
        "host": Option("str", "pci", "the PCI host bridge component this function sits behind"),
        "device": Option("int", device, "device number on bus 0 (0-31)", minimum=0, maximum=31),
        "function": Option("int", function, "function number (0-7)", minimum=0, maximum=7),
    }


def pirq_of(device: int, pin: int) -> int:
    """The board's PIRQ line (0-3 for A-D) that INTx# `pin` (1-4) of `device` on bus
    0 is wired to: QEMU's `pc` swizzle, INTA# of device d on PIRQ (d - 1) mod 4."""
    return (device + pin - 2) % PIRQ_COUNT


@dataclasses.dataclass
class PCIFunctionState:
    config: bytearray = dataclasses.field(default_factory=lambda: bytearray(CONFIG_SIZE))


class PCIFunction(Component):
    """A PCI function with a type 0 header on bus 0 of the host bridge `host`.

    Subclasses set the identity constants, return their regions from `bars()`,
    widen `write_mask()` for their device-specific registers and may override
    `config_write` to act on a write (calling the base first)."""

    OPTIONS = function_options()
    VENDOR: int = 0xFFFF
    DEVICE: int = 0xFFFF
    REVISION: int = 0
    #: base class << 16 | subclass << 8 | programming interface
    CLASS_CODE: int = 0
    #: header type bit 7: function 0 of a device that has more functions
    MULTI_FUNCTION: bool = False
    #: command register after reset: what the firmware enabled (the HLE BIOS runs no
    #: PCI resource allocator, so a function starts as the firmware would leave it)
    COMMAND_RESET: int = 0
    STATUS_RESET: int = 0
    #: INTA# = 1 ... INTD# = 4; 0 when the function uses no PCI interrupt
    INTERRUPT_PIN: int = 0
    INTERRUPT_LINE_RESET: int = 0

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.state = PCIFunctionState()
        self.wmask = bytearray(CONFIG_SIZE)
        self.w1cmask = bytearray(CONFIG_SIZE)
        self.host: Any = None
        self._rom_region: Optional[ROMRegion] = None

    # ------------------------------------------------------------ declaration
    def bars(self) -> List[Optional[Bar]]:
        """The function's base address registers, BAR0 first (None: unused)."""
        return []

    def rom_image(self) -> Optional[bytes]:
        """The expansion ROM's bytes (None: no expansion ROM BAR)."""
        return None

    def _rom_size(self) -> int:
        image = self.rom_image()
        return 0 if image is None else max(ROM_MINIMUM_SIZE, power_of_two_at_least(len(image)))

    def write_mask(self) -> bytearray:
        """The writable bits of each configuration byte: the header's by default."""
        mask = bytearray(CONFIG_SIZE)
        put(mask, COMMAND, 2, COMMAND_WMASK)
        mask[CACHE_LINE_SIZE] = 0xFF
        mask[LATENCY_TIMER] = 0xFF
        mask[INTERRUPT_LINE] = 0xFF
        for index, bar in enumerate(self.bars()):
            if bar is not None:
                put(mask, BAR0 + 4 * index, 4, bar.write_mask())
        rom_size = self._rom_size()
        if rom_size:
            put(mask, EXPANSION_ROM, 4, (-rom_size & ROM_ADDRESS_MASK) | ROM_ENABLE)
        return mask

    def power_on_config(self) -> bytearray:
        """The configuration space after reset."""
        config = bytearray(CONFIG_SIZE)
        put(config, VENDOR_ID, 2, self.VENDOR)
        put(config, DEVICE_ID, 2, self.DEVICE)
        put(config, COMMAND, 2, self.COMMAND_RESET)
        put(config, STATUS, 2, self.STATUS_RESET)
        put(config, REVISION_ID, 4, (self.CLASS_CODE << 8) | self.REVISION)
        config[HEADER_TYPE] = HEADER_MULTI_FUNCTION if self.MULTI_FUNCTION else 0
        for index, bar in enumerate(self.bars()):
            if bar is not None:
                put(config, BAR0 + 4 * index, 4, (bar.address & bar.write_mask()) | bar.type_bits())
        config[INTERRUPT_LINE] = self.INTERRUPT_LINE_RESET
        config[INTERRUPT_PIN] = self.INTERRUPT_PIN
        return config

    # ------------------------------------------------------------ configuration access
    @property
    def config(self) -> bytearray:
        return self.state.config

    def config_read(self, offset: int, size: int) -> int:
        """`size` bytes at `offset` (within one dword), little-endian."""
        return int.from_bytes(self.state.config[offset:offset + size], "little")

    def config_write(self, offset: int, size: int, value: int) -> None:
        """Store `size` bytes at `offset` through the write and write-one-to-clear masks."""
        config, wmask, w1c = self.state.config, self.wmask, self.w1cmask
        for i in range(size):
            at = offset + i
            byte = (value >> (8 * i)) & 0xFF
            config[at] = ((config[at] & ~wmask[at]) | (byte & wmask[at])) & ~(byte & w1c[at]) & 0xFF
        if self.INTERRUPT_PIN and offset <= COMMAND + 1 < offset + size:
            self._interrupt_changed()        # Interrupt Disable may have changed
        if offset <= COMMAND < offset + size or EXPANSION_ROM <= offset < EXPANSION_ROM + 4:
            self._map_rom()

    def _map_rom(self) -> None:
        """Show the expansion ROM at its BAR's address while decoded, else nowhere."""
        image = self.rom_image()
        address = None
        if image is not None and self.config_read(COMMAND, 2) & COMMAND_MEMORY:
            bar = self.config_read(EXPANSION_ROM, 4)
            if bar & ROM_ENABLE and bar & ROM_ADDRESS_MASK:
                address = bar & ROM_ADDRESS_MASK
        region = self._rom_region
        if region is not None and region.base == address:
            return
        if region is not None:
            self.bus.unmap_region(region)
            self._rom_region = None
        if address is not None and image is not None:
            self._rom_region = ROMRegion(address, image.ljust(self._rom_size(), b"\0"),
                                         f"{self.name} expansion ROM")
            self.bus.map_guest_region(self._rom_region)

    def keep_bar0_in_place(self, offset: int, size: int) -> None:
        """After a write touching BAR0 of a function whose region cannot move: the
        sizing pattern stays (so the size reads back), anything else puts the
        firmware's address back."""
        bar = self.bars()[0]
        if bar is None or offset + size <= BAR0 or offset >= BAR0 + 4:
            return
        mask = bar.write_mask()
        if self.config_read(BAR0, 4) & mask != mask:
            put(self.config, BAR0, 4, bar.address | bar.type_bits())

    def move_io_ports(self, current: Optional[int], base: Optional[int], size: int,
                      read: Any, write: Any, label: str, sizes: tuple = (1,)) -> Optional[int]:
        """Decode an I/O BAR's `size` ports at `base` (None: nowhere) instead of at
        `current`; returns where they are decoded now (None when another component
        holds some of the ports at `base`: a BAR moved onto them is not decoded)."""
        if base == current:
            return current
        if current is not None:
            self.bus.release_io(current, current + size - 1)
        if base is None or any(self.bus.io_table[port] is not None for port in range(base, base + size)):
            return None
        self.bus.register_io(base, base + size - 1, read, write, label, sizes)
        return base

    # ------------------------------------------------------------ INTx#
    def set_interrupt(self, asserted: bool) -> None:
        """Request (True) or withdraw (False) the function's interrupt."""
        status = self.config_read(STATUS, 2)
        status = status | STATUS_INTERRUPT if asserted else status & ~STATUS_INTERRUPT
        put(self.state.config, STATUS, 2, status)
        self._interrupt_changed()

    def interrupt_asserted(self) -> bool:
        """Whether the function drives its INTx# pin now."""
        return bool(self.INTERRUPT_PIN and self.config_read(STATUS, 2) & STATUS_INTERRUPT
                    and not self.config_read(COMMAND, 2) & COMMAND_INTX_DISABLE)

    def _interrupt_changed(self) -> None:
        if self.host is not None:
            self.host.interrupt_pins_changed()

    # ------------------------------------------------------------ lifecycle
    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        host = machine.components.get(self.options["host"])
        if host is None:
            raise ProfileError("component", f"{self.name}.host",
                               f"there is no component {self.options['host']!r} "
                               f"(without a PCI host, remove this function too: {self.name}=null)")
        if not callable(getattr(host, "attach", None)):
            raise ProfileError("component", f"{self.name}.host",
                               f"{self.options['host']!r} is not a PCI host bridge component")
        host.attach(self)
        self.host = host

    def reset(self) -> None:
        self.wmask = self.write_mask()
        self.w1cmask = bytearray(CONFIG_SIZE)
        put(self.w1cmask, STATUS, 2, STATUS_W1C)
        self.state = PCIFunctionState(self.power_on_config())
        self._map_rom()

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(PCIFunctionState, state)
        self._map_rom()


def put(buffer: bytearray, offset: int, size: int, value: int) -> None:
    """Store `value` little-endian in `size` bytes at `offset`."""
    buffer[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
