"""The 93C46 serial EEPROM beside the RTL8139 (64 words of 16 bits, read
through the card's 9346CR register in programming mode by toggling chip
select, clock and data in; Microchip 93C46B data sheet, "READ").

A READ is a start bit (the first 1 clocked in with chip select high), opcode 10b
and six address bits; on the clock edge of the last address bit the data output
goes to a dummy 0, then every rising clock edge presents the next data bit,
D15 first, running on into the following words.  Dropping chip select ends the
command.  Write, erase and their enable commands are accepted and ignored: the
contents are what the card was built with.
"""

import dataclasses
from typing import Any, Dict, List

from pcmachine.component import dict_to_state, state_to_dict

WORDS, ADDRESS_BITS = 64, 6
READ_OPCODE = 0b10
IDLE, COMMAND, READING = 0, 1, 2


@dataclasses.dataclass
class EepromState:
    mode: int = IDLE
    select: bool = False
    clock: bool = False
    shift: int = 0
    count: int = 0
    address: int = 0
    out: int = 0


class Eeprom93C46:
    """The EEPROM's serial interface over fixed `contents`."""

    def __init__(self, contents: List[int]) -> None:
        self.contents = list(contents) + [0] * (WORDS - len(contents))
        self.state = EepromState()

    def data_out(self) -> int:
        """The DO pin: the bit being shifted out (0 while deselected)."""
        return self.state.out if self.state.select else 0

    def wires(self, select: bool, clock: bool, data_in: int) -> None:
        """The card drives chip select, the clock and data in."""
        state = self.state
        rising = clock and not state.clock and select
        if select and not state.select:
            state.mode, state.shift, state.count = COMMAND, 0, 0
        state.select, state.clock = select, clock
        if not select:
            state.mode, state.out = IDLE, 0
        elif rising and state.mode == COMMAND:
            self._command_bit(1 if data_in else 0)
        elif rising and state.mode == READING:
            state.out = self.contents[state.address] >> (15 - state.count) & 1
            state.count += 1
            if state.count == 16:
                state.count, state.address = 0, (state.address + 1) % WORDS

    def _command_bit(self, bit: int) -> None:
        state = self.state
        if state.count == 0 and not bit:
            return                      # waiting for the start bit
        state.shift = state.shift << 1 | bit
        state.count += 1
        if state.count < 3 + ADDRESS_BITS:
            return
        if state.shift >> ADDRESS_BITS & 3 == READ_OPCODE:
            state.mode, state.address, state.count = READING, state.shift & (WORDS - 1), 0
            state.out = 0               # the dummy bit
        else:
            state.mode = IDLE

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, data: Dict[str, Any]) -> None:
        self.state = dict_to_state(EepromState, data)
