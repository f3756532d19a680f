"""PS/2 (MF-II) keyboard: the device at the end of the 8042's keyboard port.

Follows the IBM PS/2 keyboard command set as documented by OSDev ("PS/2 Keyboard")
and implemented by Bochs (`iodev/keyboard.cc`, `kbd_ctrl_to_kbd`):

* commands arrive one byte at a time from the controller (`receive`); replies and
  scan codes go into a 16-byte FIFO that the controller drains one byte at a time;
* 0xED LEDs, 0xF3 typematic and 0xF0 scan code set take a parameter byte; a byte
  with bit 7 set where a parameter is expected starts a new command instead, as on
  real keyboards;
* scan code sets 1 and 2 are implemented (set 3 is answered with 0xFE, as a
  keyboard without set 3 does);
* keys are buffered while the controller inhibits the clock (0xAD) and dropped
  while scanning is disabled (0xF5), as on the hardware.  Bochs drops keys while
  the clock is inhibited; buffering them lets typed text survive a driver's short
  disable/enable sequence.

Typematic repeat is not generated: the host sends repeats as separate presses.

`HostKeyboard` is the host-side API (`machine.keyboard`): it only queues inputs,
so typed keys are stamped, recorded and replayed like any other input.
"""

import dataclasses
from typing import Any, Callable, Dict, Optional

from pcmachine.component import dict_to_state, state_to_dict
from pcmachine.plugins.i8042 import keymap

FIFO_SIZE = 16

ACK = 0xFA
RESEND = 0xFE
BAT_OK = 0xAA
ECHO = 0xEE
ID_MF2 = (0xAB, 0x83)
#: Written over the last FIFO byte when a reply does not fit (set 1 / set 2 code).
OVERRUN = {1: 0xFF, 2: 0x00}
#: Typematic byte after reset: 500 ms delay, 10.9 characters per second.
DEFAULT_TYPEMATIC = 0x2B

CMD_SET_LEDS = 0xED
CMD_ECHO = 0xEE
CMD_SCANCODE_SET = 0xF0
CMD_IDENTIFY = 0xF2
CMD_TYPEMATIC = 0xF3
CMD_ENABLE = 0xF4
CMD_DISABLE = 0xF5
CMD_DEFAULTS = 0xF6
CMD_RESEND = 0xFE
CMD_RESET = 0xFF
PARAMETER_COMMANDS = (CMD_SET_LEDS, CMD_TYPEMATIC, CMD_SCANCODE_SET)
SUPPORTED_SETS = (1, 2)


class PS2Device:
    """What the 8042 sees of a device on one of its ports: bytes in, a FIFO out.

    `on_data` is called whenever bytes are queued, so the controller can schedule
    their transfer.  Subclasses keep `self.state.fifo` and `self.state.last_sent`."""

    STATE: Any = None

    def __init__(self) -> None:
        self.state = self.STATE()
        self.on_data: Callable[[], None] = lambda: None

    def reset(self) -> None:
        self.state = self.STATE()

    def has_data(self) -> bool:
        return bool(self.state.fifo)

    def pop(self) -> int:
        """The next byte for the controller (the caller checked `has_data`)."""
        byte = self.state.fifo.pop(0)
        self.state.last_sent = byte
        return byte

    def room(self) -> int:
        return FIFO_SIZE - len(self.state.fifo)

    def send(self, *data: int) -> None:
        """Queue reply bytes; an overflowing reply overwrites the last byte with the
        overrun code."""
        fifo = self.state.fifo
        for byte in data:
            if len(fifo) < FIFO_SIZE:
                fifo.append(byte)
            else:
                fifo[-1] = self.overrun_code()
        self.on_data()

    def overrun_code(self) -> int:
        return 0x00

    def receive(self, value: int) -> None:
        raise NotImplementedError

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, data: Dict[str, Any]) -> None:
        self.state = dict_to_state(self.STATE, data)


@dataclasses.dataclass
class KeyboardState:
    fifo: bytearray = dataclasses.field(default_factory=bytearray)
    last_sent: int = 0
    scanning: bool = True
    scancode_set: int = 2
    expecting: int = 0          # command whose parameter byte comes next, or 0
    leds: int = 0               # bit 0 scroll lock, 1 num lock, 2 caps lock
    typematic: int = DEFAULT_TYPEMATIC


class PS2Keyboard(PS2Device):
    """An MF-II keyboard (identify answers 0xAB 0x83)."""

    STATE = KeyboardState

    def overrun_code(self) -> int:
        return OVERRUN[self.state.scancode_set]

    def _reset_internals(self) -> None:
        """Power-up settings (Bochs `resetinternals`): empty FIFO, set 2, default
        typematic; LEDs and the scanning flag are left to the caller."""
        self.state.fifo = bytearray()
        self.state.scancode_set = 2
        self.state.expecting = 0
        self.state.typematic = DEFAULT_TYPEMATIC

    # ------------------------------------------------------------ host -> keyboard
    def receive(self, value: int) -> None:
        """A byte from the controller: a parameter or a command."""
        expecting = self.state.expecting
        if expecting and not value & 0x80:
            self._parameter(expecting, value)
            return
        self.state.expecting = 0
        self._command(value)

    def _parameter(self, command: int, value: int) -> None:
        state = self.state
        if command == CMD_SET_LEDS:
            state.leds = value & 0x07
        elif command == CMD_TYPEMATIC:
            state.typematic = value & 0x7F
        elif value == 0:
            self.send(ACK, state.scancode_set)
            state.expecting = 0
            return
        elif value in SUPPORTED_SETS:
            state.scancode_set = value
        else:
            self.send(RESEND)       # still waiting for a valid set number
            return
        state.expecting = 0
        self.send(ACK)

    def _command(self, value: int) -> None:
        state = self.state
        if value in PARAMETER_COMMANDS:
            state.expecting = value
            self.send(ACK)
        elif value == CMD_ECHO:
            self.send(ECHO)
        elif value == CMD_IDENTIFY:
            self.send(ACK, *ID_MF2)
        elif value == CMD_ENABLE:
            state.scanning = True
            self.send(ACK)
        elif value in (CMD_DISABLE, CMD_DEFAULTS):
            self._reset_internals()
            state.scanning = value == CMD_DEFAULTS
            self.send(ACK)
        elif value == CMD_RESEND:
            self.send(state.last_sent)
        elif value == CMD_RESET:
            self._reset_internals()
            state.scanning = True
            self.send(ACK, BAT_OK)
        else:
            self.send(RESEND)

    # ------------------------------------------------------------ keys
    def key_event(self, name: str, pressed: bool) -> Optional[bytes]:
        """Queue the codes of one key press or release.  Returns the bytes queued
        (empty while scanning is disabled), or None when the FIFO has no room for
        them yet."""
        codes = keymap.KEYS[name].codes(pressed, self.state.scancode_set)
        if not self.state.scanning:
            return b""
        if len(codes) > self.room():
            return None
        if codes:
            self.state.fifo.extend(codes)
            self.on_data()
        return codes


class HostKeyboard:
    """`machine.keyboard`: type text and press or release keys from the host.

    Every method validates its argument (UserError for unknown keys, before anything
    is queued) and then only posts ``"key"`` inputs, ``{"key": name, "pressed":
    bool}``; the keyboard applies them when its FIFO has room."""

    def __init__(self, machine: Any, delivered: Callable[[], bool]) -> None:
        self.machine = machine
        self._delivered = delivered

    def idle(self) -> bool:
        """Every key posted so far has been delivered: nothing is queued on the host
        side or in the keyboard, so the guest has read all but at most the last byte
        (which waits in the controller).  A `--type` step is complete only then."""
        return not self.machine.inputs_pending_for("key") and self._delivered()

    def check(self, text: str) -> None:
        """Raise UserError (one line) if `text` names an unknown key."""
        keymap.parse_type(text)

    def type(self, text: str) -> None:
        for name, pressed in keymap.parse_type(text):
            self.machine.post_input("key", {"key": name, "pressed": pressed})

    def press(self, key: str) -> None:
        self.machine.post_input("key", {"key": keymap.key_name(key), "pressed": True})

    def release(self, key: str) -> None:
        self.machine.post_input("key", {"key": keymap.key_name(key), "pressed": False})
