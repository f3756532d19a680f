"""POST-code port: latches the last byte a firmware writes to its diagnostic port.

PC firmware reports its progress as one-byte codes on a diagnostic port (0x80 on most
boards, 0x190 on some, which is what test386.asm uses by default).  A hardware POST
card shows the last code; this component keeps it (`code`, None before any write) and
the number of codes written, prints it when the machine stops if asked to, and fires
nothing else.  Reads return the last code, as many POST cards do (0xFF before any).
"""

import dataclasses
from typing import Any, Dict, Optional

from pcmachine import hookimpl
from pcmachine.component import Component, Option, dict_to_state, state_to_dict

POST_PORT = 0x80


@dataclasses.dataclass
class PostCodeState:
    code: Optional[int] = None
    count: int = 0


class PostCodePort(Component):
    """One write-latched port; the latch survives guest resets like a POST card's."""

    OPTIONS = {
        "port": Option("int", POST_PORT, "I/O port", minimum=0, maximum=0xFFFF),
        "report": Option("bool", False, "print the last POST code when the machine stops"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.state = PostCodeState()
        port = options["port"]
        self.bus.register_io(port, port, self._read, self._write, name)

    def reset(self) -> None:
        """A reset does not clear the card: the code before a reboot stays readable."""

    @property
    def code(self) -> Optional[int]:
        return self.state.code

    def _read(self, port: int, size: int) -> int:
        return 0xFF if self.state.code is None else self.state.code

    def _write(self, port: int, size: int, value: int) -> None:
        self.state.code = value & 0xFF
        self.state.count += 1

    @hookimpl
    def machine_stop(self, machine: Any, reason: str) -> None:
        if self.options["report"]:
            code = "none" if self.state.code is None else f"0x{self.state.code:02X}"
            print(f"{self.name}: last POST code {code} ({self.state.count} written)")

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(PostCodeState, state)
