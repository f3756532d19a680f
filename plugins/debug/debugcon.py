"""Debug console port 0xE9 (the Bochs "port e9 hack", QEMU's `-debugcon`).

OS developers print to it with a single `out 0xe9, al` before they have any other
output; our guest tests report pass or fail through it.  A byte written goes to the
output sink and fires `debugcon_byte`; a read returns 0xE9, which is how guests
detect that the port exists (Bochs and QEMU both answer so).

Everything written stays available as `text` (decoded as Latin-1, one character per
byte) and `data`, and is part of the saved state so a restored run reports the
same text.
"""

import dataclasses
from typing import Any, Dict

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.hostio import SINK_SPEC_HELP, open_sink

DEBUGCON_PORT = 0xE9
#: what a read of the port returns: the port number, the convention guests test for
DEBUGCON_READBACK = 0xE9


@dataclasses.dataclass
class DebugConsoleState:
    written: bytearray = dataclasses.field(default_factory=bytearray)


class DebugConsole(Component):
    """One write-only character port; reads identify it."""

    OPTIONS = {
        "port": Option("int", DEBUGCON_PORT, "I/O port", minimum=0, maximum=0xFFFF),
        "output": Option("str", "null", "where written bytes go: " + SINK_SPEC_HELP),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.port = options["port"]
        self.sink = open_sink(options["output"], f"{name}.output")
        self.state = DebugConsoleState()
        self.bus.register_io(self.port, self.port, self._read, self._write, name)

    def reset(self) -> None:
        """The log is host-side history, not chip state: a guest reset keeps it, so a
        test sees everything printed across reboots."""

    @property
    def data(self) -> bytes:
        return bytes(self.state.written)

    @property
    def text(self) -> str:
        return self.state.written.decode("latin-1")

    def _read(self, port: int, size: int) -> int:
        return DEBUGCON_READBACK

    def _write(self, port: int, size: int, value: int) -> None:
        byte = value & 0xFF
        self.state.written.append(byte)
        self.sink.write(bytes((byte,)))
        if self.machine.hooks.debugcon_byte:
            self.machine.hooks.call.debugcon_byte(machine=self.machine, value=byte)

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(DebugConsoleState, state)

    def close(self) -> None:
        self.sink.close()
