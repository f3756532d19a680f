"""The PCI host bridge: configuration mechanism #1 and the i440FX host function.

PCI Local Bus Specification 2.1, 3.2.2.3.2 (OSDev wiki "PCI", "Configuration Space
Access Mechanism #1"):

* CONFIG_ADDRESS, the dword at 0xCF8: bit 31 enable, bits 23-16 bus, 15-11 device,
  10-8 function, 7-2 register (dword); bits 30-24 and 1-0 are reserved and read 0.
  Only a dword write loads it.  A byte access to 0xCF9 is the PIIX3's reset
  control register when the profile has the PIIX3 ISA bridge (`piix.py`); other
  byte and word writes to 0xCF8-0xCFB are ignored, and reads return the
  address's bytes.
* CONFIG_DATA, 0xCFC-0xCFF: a byte, word or dword access at 0xCFC + n reaches the
  configuration bytes register + n of the addressed function, when the enable
  bit is set.  With the enable bit clear, or for a function nobody implements
  (another bus, an empty slot), reads return all ones and writes are dropped: the
  master abort of 3.2.2.3.4.

The host bridge is itself function 00:00.0, the 82441FX PMC of the 440FX chipset
(8086:1237, revision 02, class 0600), as on QEMU's `pc` machine.  Its PAM
registers route the ROM pages of C0000-FFFFF to the ROM or to shadow DRAM
(`shadow.py`; real firmware copies itself there); SMRAM is not modelled.  Only
bus 0 exists; there are no PCI-to-PCI bridges.

The bridge also collects the functions' INTx# pins into the board's four PIRQ
lines (a wired-OR, `pirq_of` says which pin reaches which line) and reports them
to the interrupt router, the PIIX3 ISA bridge, when the profile has one.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from pcmachine.component import dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.hookspecs import hookimpl

from .function import PIRQ_COUNT, PCIFunction, pirq_of
from .shadow import PAM_FIRST, PAM_LAST, PAM_WRITE_MASKS, ShadowRAM

CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
#: the PIIX3's reset control register, a byte inside CONFIG_ADDRESS's dword
RESET_CONTROL = 0xCF9
ENABLE = 0x80000000
ADDRESS_MASK = 0x80FFFFFC            # reserved bits 30-24 and 1-0 read 0
ABSENT = 0xFFFFFFFF


def decode(address: int) -> Tuple[int, int, int, int]:
    """(bus, device, function, register) of a CONFIG_ADDRESS value."""
    return (address >> 16) & 0xFF, (address >> 11) & 0x1F, (address >> 8) & 0x7, address & 0xFC


@dataclasses.dataclass
class HostState:
    config_address: int = 0


def device_numbers(machine: Any, host: "PCIHost") -> List[int]:
    """The device numbers on bus 0 behind `host`, other than the host bridge's own:
    read from the components, not `host.functions` (functions attach when
    configured, which may come after the BIOS builds its tables)."""
    return sorted({c.options["device"] for c in machine.components.values()
                   if isinstance(c, PCIFunction) and c is not host and c.options.get("host") == host.name
                   and c.options["device"] != host.options["device"]})


class PCIHost(PCIFunction):
    """i440FX host bridge: ports 0xCF8/0xCFC and function 00:00.0."""

    OPTIONS = {key: option for key, option in PCIFunction.OPTIONS.items() if key != "host"}
    VENDOR, DEVICE, REVISION = 0x8086, 0x1237, 0x02
    CLASS_CODE = 0x060000            # bridge, host bridge
    COMMAND_RESET = 0x0006           # memory and bus master, as the firmware leaves it

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.host_state = HostState()
        self.shadow = ShadowRAM(self.bus, name)
        self.functions: Dict[Tuple[int, int], PCIFunction] = {}
        #: the interrupt router (the PIIX3 ISA bridge sets itself here)
        self.router: Any = None
        self.bus.register_io(CONFIG_ADDRESS, CONFIG_ADDRESS + 3, self._read_address,
                             self._write_address, f"{name} CONFIG_ADDRESS", sizes=(1, 2, 4))
        self.bus.register_io(CONFIG_DATA, CONFIG_DATA + 3, self._read_data, self._write_data,
                             f"{name} CONFIG_DATA", sizes=(1, 2, 4))

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        self.attach(self)

    def attach(self, function: PCIFunction) -> None:
        """Put `function` at its device/function number on bus 0."""
        slot = (function.options["device"], function.options["function"])
        holder = self.functions.get(slot)
        if holder is not None and holder is not function:
            raise ProfileError("component", f"{function.name}.device",
                               f"PCI {slot[0]:02x}.{slot[1]} is already taken by {holder.name!r}")
        self.functions[slot] = function

    def function_at(self, bus: int, device: int, function: int) -> Optional[PCIFunction]:
        """The function that answers configuration cycles at bus:device.function."""
        if bus != 0:
            return None
        return self.functions.get((device, function))

    def interrupt_pins_changed(self) -> None:
        """A function's INTx# changed: hand the router the PIRQ levels."""
        if self.router is None:
            return
        levels = [False] * PIRQ_COUNT
        for (device, _), function in self.functions.items():
            if function.interrupt_asserted():
                levels[pirq_of(device, function.INTERRUPT_PIN)] = True
        self.router.set_pirq_levels(levels)

    # ------------------------------------------------------------ ports
    def _read_address(self, port: int, size: int) -> int:
        if port == RESET_CONTROL and size == 1 and self.router is not None:
            return self.router.read_reset_control()
        return (self.host_state.config_address >> (8 * (port - CONFIG_ADDRESS))) & ABSENT

    def _write_address(self, port: int, size: int, value: int) -> None:
        if port == CONFIG_ADDRESS and size == 4:
            self.host_state.config_address = value & ADDRESS_MASK
        elif port == RESET_CONTROL and size == 1 and self.router is not None:
            self.router.write_reset_control(value)

    def _target(self) -> Optional[PCIFunction]:
        address = self.host_state.config_address
        if not address & ENABLE:
            return None
        bus, device, function, _ = decode(address)
        return self.function_at(bus, device, function)

    def _read_data(self, port: int, size: int) -> int:
        target = self._target()
        offset = port - CONFIG_DATA
        size = min(size, 4 - offset)          # byte enables of one dword
        if target is None:
            return ABSENT
        register = self.host_state.config_address & 0xFC
        return target.config_read(register + offset, size) | (ABSENT << (8 * size) & ABSENT)

    def _write_data(self, port: int, size: int, value: int) -> None:
        target = self._target()
        if target is None:
            return
        offset = port - CONFIG_DATA
        size = min(size, 4 - offset)
        target.config_write((self.host_state.config_address & 0xFC) + offset, size, value)

    # ------------------------------------------------------------ shadow RAM
    def write_mask(self) -> bytearray:
        mask = super().write_mask()
        for offset, bits in PAM_WRITE_MASKS.items():
            mask[offset] = bits
        return mask

    def config_write(self, offset: int, size: int, value: int) -> None:
        super().config_write(offset, size, value)
        if offset <= PAM_LAST and offset + size > PAM_FIRST:
            self.shadow.apply(self.config)

    # ------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        super().reset()
        self.host_state = HostState()
        self.shadow.apply(self.config)

    def snapshot(self) -> Dict[str, Any]:
        return {"function": super().snapshot(), "host": state_to_dict(self.host_state),
                "shadow": self.shadow.snapshot()}

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state["function"])
        self.host_state = dict_to_state(HostState, state["host"])
        self.shadow.restore(state.get("shadow"))
