"""System control port B (0x61) of the PC/AT: speaker gate and data, the refresh
toggle that delay loops poll, timer 2's OUT, and the parity/IOCHK status bits.

Followed: the IBM PC/AT technical reference (port 61h), the OSDev wiki ("PC
Speaker", "I/O ports"), Bochs `iodev/pit.cc` and QEMU `hw/audio/pcspk.c`.

Bit  write                               read
 0   timer 2 gate (PIT counter 2 GATE)   as written
 1   speaker data enable                 as written
 2   parity check disable                as written
 3   channel (IOCHK) check disable       as written
 4   -                                   refresh request: toggles every 15.085 us
 5   -                                   timer 2 OUT
 6   -                                   IOCHK error: 0 (no ISA channel errors here)
 7   -                                   RAM parity error: 0

Bochs and QEMU read bits 2-3 as 0; the AT returns what was written, and so do
we (no guest is known to depend on either).  The refresh bit is a function of
virtual time, (now // 15085 ns) & 1, so guest delay loops that count its edges
measure virtual time exactly.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.errors import ProfileError
from pcmachine.hookspecs import hookimpl

PORT = 0x61
TIMER2_GATE = 0x01
SPEAKER_DATA = 0x02
WRITABLE_BITS = 0x0F
REFRESH_TOGGLE = 0x10
TIMER2_OUT = 0x20
REFRESH_HALF_PERIOD_NS = 15_085
SPEAKER_CHANNEL = 2


@dataclass
class PortBState:
    """The latch behind the writable bits 0-3."""

    control: int = 0


class SystemControlPortB(Component):
    """Port 0x61: drives the PIT's counter 2 gate and reads back its OUT."""

    OPTIONS = {"pit": Option("str", "pit", "name of the 8254 component whose counter 2 it gates")}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.pit_name = options["pit"]
        self._pit: Optional[Any] = None
        self.state = PortBState()
        self.bus.register_io(PORT, PORT, self._read, self._write, f"{name} (system control port B)")

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        self._pit = self._find_pit()

    def _find_pit(self) -> Any:
        pit = self.machine.components.get(self.pit_name)
        if pit is None or not hasattr(pit, "set_gate"):
            raise ProfileError("component", f"{self.name}.pit",
                               f"no 8254 component named {self.pit_name!r}")
        return pit

    @property
    def pit(self) -> Any:
        if self._pit is None:
            self._pit = self._find_pit()
        return self._pit

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Power-on: the latch is 0, so counter 2's gate is low and the speaker off."""
        self.state = PortBState()
        self.pit.set_gate(SPEAKER_CHANNEL, False)

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        """The gate level is saved in the PIT's own state; only the latch is loaded."""
        self.state = dict_to_state(PortBState, state)

    # ------------------------------------------------------------------ API
    @property
    def speaker_on(self) -> bool:
        """The speaker cone follows timer 2 OUT while the data bit is set."""
        return bool(self.state.control & SPEAKER_DATA) and self.pit.out(SPEAKER_CHANNEL)

    # ------------------------------------------------------------------ port
    def _read(self, port: int, size: int) -> int:
        value = self.state.control
        if (self.clock.now() // REFRESH_HALF_PERIOD_NS) & 1:
            value |= REFRESH_TOGGLE
        if self.pit.out(SPEAKER_CHANNEL):
            value |= TIMER2_OUT
        return value

    def _write(self, port: int, size: int, value: int) -> None:
        self.state.control = value & WRITABLE_BITS
        self.pit.set_gate(SPEAKER_CHANNEL, bool(value & TIMER2_GATE))
