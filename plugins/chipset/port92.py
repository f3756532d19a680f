"""System control port A (port 0x92): fast A20 gate and fast CPU reset.

The PS/2 "system control port A" that chipsets kept (OSDev "A20 Line", "Fast A20
Gate"; Bochs `iodev/devices.cc`):

* bit 1 enables A20 (`bus.set_a20("port92", ...)`; the bus ORs it with the 8042's
  output port, as the chipset's A20 logic does);
* bit 0 going from 0 to 1 pulses the CPU reset line (`machine.request_reset`);
* the other bits (3 security lock, 6/7 fixed-disk LEDs) are latched and read back.

After a reset the port reads 0 and leaves A20 to the other sources.
"""

import dataclasses
from typing import Any, Dict

from pcmachine.component import Component, dict_to_state, state_to_dict

PORT = 0x92
FAST_RESET = 0x01
FAST_A20 = 0x02


@dataclasses.dataclass
class Port92State:
    value: int = 0


class FastA20Port(Component):
    """Port 0x92: bit 1 A20, bit 0 reset on a rising edge, other bits latched."""

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.state = Port92State()
        self.bus.register_io(PORT, PORT, self._read, self._write, "system control port A")

    def reset(self) -> None:
        self.state = Port92State()
        self.bus.set_a20("port92", False)

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(Port92State, state)
        self.bus.set_a20("port92", bool(self.state.value & FAST_A20))

    def _read(self, port: int, size: int) -> int:
        return self.state.value

    def _write(self, port: int, size: int, value: int) -> None:
        previous = self.state.value
        self.state.value = value
        self.bus.set_a20("port92", bool(value & FAST_A20))
        if value & FAST_RESET and not previous & FAST_RESET:
            self.machine.request_reset("reset-line")
