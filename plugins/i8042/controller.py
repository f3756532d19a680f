"""Intel 8042 keyboard controller (PS/2 compatible): ports 0x60/0x64, IRQ1 and IRQ12.

Follows the IBM PC/AT and PS/2 technical references as summarised by OSDev
("8042 PS/2 Controller") and Bochs' `iodev/keyboard.cc`:

* status register (0x64 read): OBF, IBF (always 0: writes are taken at once),
  system flag (command byte bit 2), command/data, keyboard not inhibited, AUX OBF,
  timeout (cleared when the status is read, as Bochs does) and parity error;
* the 32-byte internal RAM, byte 0 being the command byte (0x20-0x3F read,
  0x60-0x7F write): IRQ1/IRQ12 enables, system flag, keyboard/aux clock disables,
  set 2 -> set 1 translation;
* commands 0xA4 0xA7 0xA8 0xA9 0xAA 0xAB 0xAD 0xAE 0xC0 0xD0-0xD4 0xDD 0xDF and the
  pulse commands 0xF0-0xFF (bit 0 low pulses the CPU reset line);
* the output port: bit 0 reset line, bit 1 A20 gate (`bus.set_a20("i8042", ...)`),
  bits 4/5 (the IRQ1/IRQ12 outputs) read back as 0, since 0xD0 answers only
  when the output buffer is empty.

Timing follows Bochs: a byte produced by the controller itself (command byte, test
results) is in the output buffer at once; a byte from the keyboard or mouse is
moved into it `serial_delay_us` of virtual time after the buffer became free (Bochs'
`keyboard_serial_delay`, default 250 us).  The IRQ lines are levels: IRQ1 is high
while keyboard data waits in the output buffer and command byte bit 0 is set (the
8042's OBF output), IRQ12 likewise for mouse data and bit 1.

As in Bochs, a command that produces a byte while the output buffer is still full
is ignored, and the 0xD2/0xD3 writes likewise.  The power-on command byte is 0x61
(translation, aux disabled, IRQ1 enabled): what the Bochs BIOS leaves, since the
HLE BIOS does no 8042 set-up.
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.plugins.i8042 import keymap
from pcmachine.plugins.i8042.keyboard import HostKeyboard, PS2Device, PS2Keyboard
from pcmachine.plugins.i8042.mouse import PS2Mouse

log = logging.getLogger("pcmachine.i8042")

DATA_PORT = 0x60
COMMAND_PORT = 0x64
KEYBOARD_IRQ = 1
MOUSE_IRQ = 12

# Status register bits
STATUS_OBF = 0x01
STATUS_SYSTEM = 0x04
STATUS_COMMAND = 0x08
STATUS_NOT_INHIBITED = 0x10
STATUS_AUX_OBF = 0x20
STATUS_TIMEOUT = 0x40
STATUS_PARITY = 0x80

# Command byte bits
CB_KBD_INT = 0x01
CB_AUX_INT = 0x02
CB_SYSTEM = 0x04
CB_KBD_DISABLE = 0x10
CB_AUX_DISABLE = 0x20
CB_TRANSLATE = 0x40
POWER_ON_COMMAND_BYTE = CB_TRANSLATE | CB_AUX_DISABLE | CB_KBD_INT

# Output port bits
OUT_RESET = 0x01            # 0 holds the CPU in reset
OUT_A20 = 0x02
OUT_KBD_OBF = 0x10
OUT_AUX_OBF = 0x20
POWER_ON_OUTPUT_PORT = OUT_RESET | OUT_A20

#: Input port: keyboard not inhibited (what Bochs returns)
INPUT_PORT = 0x80

SELF_TEST_OK = 0x55
INTERFACE_OK = 0x00
NO_PASSWORD = 0xF1

#: Commands answered with a constant: password check (none installed), aux and
#: keyboard interface tests (no error), input port.
FIXED_REPLIES = {0xA4: NO_PASSWORD, 0xA9: INTERFACE_OK, 0xAB: INTERFACE_OK, 0xC0: INPUT_PORT}

#: Commands that clear and set command byte bits: (clear, set).
COMMAND_BYTE_CHANGES = {
    0xA7: (0, CB_AUX_DISABLE),      # disable the aux (mouse) interface
    0xA8: (CB_AUX_DISABLE, 0),      # enable it
    0xAD: (0, CB_KBD_DISABLE),      # disable the keyboard interface
    0xAE: (CB_KBD_DISABLE, 0),      # enable it
}

#: Commands whose data byte follows on port 0x60.
DATA_COMMANDS = frozenset(range(0x60, 0x80)) | {0xD1, 0xD2, 0xD3, 0xD4}


@dataclasses.dataclass
class ControllerState:
    ram: bytearray = dataclasses.field(default_factory=lambda: bytearray(
        [POWER_ON_COMMAND_BYTE] + [0] * 31))
    output_buffer: int = 0
    output_full: bool = False
    output_aux: bool = False            # the byte in the buffer came from the mouse
    last_was_command: bool = True       # status bit 3: last write went to 0x64
    timeout: bool = False
    pending_command: int = 0            # command waiting for its data byte on 0x60
    output_port: int = POWER_ON_OUTPUT_PORT
    translate_break: bool = False       # translation saw 0xF0; next byte gets bit 7
    transfer_deadline: int = -1         # virtual ns of the next device -> buffer move


class KeyboardController(Component):
    """The 8042 with a PS/2 keyboard (and optionally a PS/2 mouse) attached."""

    OPTIONS = {
        "mouse": Option("bool", True, "a PS/2 mouse on the auxiliary port"),
        "serial_delay_us": Option("int", 250, "virtual microseconds to move a byte "
                                  "from the keyboard or mouse into the output buffer"),
    }
    STATE_VERSION = 1

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        if options["serial_delay_us"] < 1:
            from pcmachine.errors import ProfileError
            raise ProfileError("component", f"{name}.serial_delay_us", "expected at least 1")
        self.transfer_delay_ns = options["serial_delay_us"] * 1000
        self.state = ControllerState()
        self.keyboard = PS2Keyboard()
        self.keyboard.on_data = self._schedule_transfer
        self.mouse: Optional[PS2Mouse] = None
        if options["mouse"]:
            self.mouse = PS2Mouse()
            self.mouse.on_data = self._schedule_transfer
            machine.register_input("mouse", self._mouse_input)
        self._transfer_event = None
        self.bus.register_io(DATA_PORT, DATA_PORT, self._read_data, self._write_data, "i8042 data")
        self.bus.register_io(COMMAND_PORT, COMMAND_PORT, self._read_status, self._write_command,
                             "i8042 status/command")
        machine.register_input("key", self._key_input)
        machine.keyboard = HostKeyboard(machine, self._keyboard_drained)

    def _keyboard_drained(self) -> bool:
        """Every keyboard byte has reached the controller: the keyboard's FIFO is
        empty (the last byte may still wait in the output buffer, so a guest that
        stops reading after a key's make code still counts as having had it)."""
        return not self.keyboard.has_data()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self._cancel_transfer()
        self.state = ControllerState()
        self.keyboard.reset()
        if self.mouse is not None:
            self.mouse.reset()
        self.bus.set_a20("i8042", True)
        self._update_irq()

    def snapshot(self) -> Dict[str, Any]:
        return {"controller": state_to_dict(self.state),
                "keyboard": self.keyboard.snapshot(),
                "mouse": self.mouse.snapshot() if self.mouse is not None else None}

    def restore(self, data: Dict[str, Any]) -> None:
        self._cancel_transfer()
        self.state = dict_to_state(ControllerState, data["controller"])
        self.keyboard.restore(data["keyboard"])
        if self.mouse is not None and data["mouse"] is not None:
            self.mouse.restore(data["mouse"])
        self.bus.set_a20("i8042", bool(self.state.output_port & OUT_A20))
        if self.state.transfer_deadline >= 0:
            self._transfer_event = self.clock.schedule(self.state.transfer_deadline,
                                                       self._transfer_due)
        self._update_irq()

    # ------------------------------------------------------------------ IRQs
    @property
    def command_byte(self) -> int:
        return self.state.ram[0]

    def _update_irq(self) -> None:
        """IRQ1/IRQ12 follow the output buffer and the command byte enables."""
        state = self.state
        full = state.output_full
        self.bus.set_irq(KEYBOARD_IRQ, full and not state.output_aux
                         and bool(self.command_byte & CB_KBD_INT))
        self.bus.set_irq(MOUSE_IRQ, full and state.output_aux
                         and bool(self.command_byte & CB_AUX_INT))

    def _fill_output(self, value: int, aux: bool = False) -> None:
        state = self.state
        state.output_buffer = value & 0xFF
        state.output_full = True
        state.output_aux = aux
        self._update_irq()

    def _controller_output(self, value: int, aux: bool = False) -> None:
        """A byte the controller itself produces; ignored while the buffer is full (Bochs)."""
        if self.state.output_full:
            log.info("i8042: output buffer full, byte %#04x dropped", value)
            return
        self._fill_output(value, aux)

    # ------------------------------------------------------------------ ports
    def _read_status(self, port: int, size: int) -> int:
        state = self.state
        value = STATUS_NOT_INHIBITED
        if state.output_full:
            value |= STATUS_OBF | (STATUS_AUX_OBF if state.output_aux else 0)
        if self.command_byte & CB_SYSTEM:
            value |= STATUS_SYSTEM
        if state.last_was_command:
            value |= STATUS_COMMAND
        if state.timeout:
            value |= STATUS_TIMEOUT
            state.timeout = False
        return value

    def _read_data(self, port: int, size: int) -> int:
        state = self.state
        if state.output_full:
            state.output_full = False
            self._update_irq()
            self._schedule_transfer()
        return state.output_buffer

    def _write_data(self, port: int, size: int, value: int) -> None:
        state = self.state
        state.last_was_command = False
        command, state.pending_command = state.pending_command, 0
        if command == 0:
            # Any byte for the keyboard re-enables its interface (IBM; Bochs).
            self._set_command_byte(self.command_byte & ~CB_KBD_DISABLE)
            self.keyboard.receive(value)
        elif command < 0x80:
            if command & 0x1F == 0:
                self._set_command_byte(value)
            else:
                state.ram[command & 0x1F] = value
        elif command == 0xD1:
            self._write_output_port(value)
        elif command == 0xD2:
            self._controller_output(value)
        elif command == 0xD3:
            self._controller_output(value, aux=True)
        else:  # 0xD4
            self._write_to_mouse(value)

    def _write_command(self, port: int, size: int, value: int) -> None:
        state = self.state
        state.last_was_command = True
        state.pending_command = 0
        if value in DATA_COMMANDS:
            state.pending_command = value
        elif 0x20 <= value <= 0x3F:
            self._controller_output(state.ram[value & 0x1F])
        elif value in FIXED_REPLIES:
            self._controller_output(FIXED_REPLIES[value])
        elif value in COMMAND_BYTE_CHANGES:
            clear, set_bits = COMMAND_BYTE_CHANGES[value]
            self._set_command_byte((self.command_byte & ~clear) | set_bits)
        elif value == 0xAA:
            if not state.output_full:
                state.ram[0] |= CB_SYSTEM
            self._controller_output(SELF_TEST_OK)
        elif value == 0xD0:
            self._controller_output(self._read_output_port())
        elif value in (0xDD, 0xDF):
            self._write_output_port((state.output_port & ~OUT_A20) | (value & OUT_A20))
        elif value >= 0xF0:
            if not value & OUT_RESET:
                self.machine.request_reset("reset-line")
        else:
            log.info("i8042: unsupported command %#04x ignored", value)

    # ------------------------------------------------------------------ the BIOS's side
    def aux_command(self, *data: int) -> Optional[List[int]]:
        """Send bytes to the mouse and take its whole reply at once (None: no mouse).
        The BIOS's PS/2 mouse services (int 15h C2h) use this where a real BIOS
        polls the controller with interrupts off: the reply never reaches the
        output buffer, so no IRQ 12 is raised for it."""
        if self.mouse is None:
            return None
        reply: List[int] = []
        for value in data:
            self.mouse.receive(value)
            while self.mouse.has_data():
                reply.append(self.mouse.pop())
        return reply

    def set_aux_enabled(self, enabled: bool) -> None:
        """Command byte: the aux port's clock and its interrupt on (or both off), as
        the BIOS sets them when the mouse is enabled (disabled)."""
        value = self.command_byte & ~(CB_AUX_INT | CB_AUX_DISABLE)
        self._set_command_byte(value | (CB_AUX_INT if enabled else CB_AUX_DISABLE))

    # ------------------------------------------------------------------ registers
    def _set_command_byte(self, value: int) -> None:
        self.state.ram[0] = value & 0xFF
        self._update_irq()
        self._schedule_transfer()

    def _read_output_port(self) -> int:
        """Bits 4/5 are the IRQ1/IRQ12 outputs, low whenever the controller can answer
        (its output buffer must be empty)."""
        return self.state.output_port & ~(OUT_KBD_OBF | OUT_AUX_OBF)

    def _write_output_port(self, value: int) -> None:
        self.state.output_port = value & 0xFF
        self.bus.set_a20("i8042", bool(value & OUT_A20))
        if not value & OUT_RESET:
            self.machine.request_reset("reset-line")

    def _write_to_mouse(self, value: int) -> None:
        if self.mouse is None:
            # Nothing answers on the aux port: the controller times out (Bochs: 0xFE).
            self.state.timeout = True
            self._controller_output(0xFE)
            return
        self.mouse.receive(value)

    # ------------------------------------------------------------------ device -> buffer
    def _device_ready(self) -> Optional[PS2Device]:
        """The device whose next byte may move into the output buffer (keyboard first)."""
        if self.keyboard.has_data() and not self.command_byte & CB_KBD_DISABLE:
            return self.keyboard
        mouse = self.mouse
        if mouse is not None and mouse.has_data() and (
                not self.command_byte & CB_AUX_DISABLE or mouse.state.replying):
            return mouse
        return None

    def _schedule_transfer(self) -> None:
        if self.state.output_full or self.state.transfer_deadline >= 0:
            return
        if self._device_ready() is None:
            return
        deadline = self.clock.now() + self.transfer_delay_ns
        self.state.transfer_deadline = deadline
        self._transfer_event = self.clock.schedule(deadline, self._transfer_due)

    def _cancel_transfer(self) -> None:
        if self._transfer_event is not None:
            self._transfer_event.cancel()
            self._transfer_event = None
        self.state.transfer_deadline = -1

    def _transfer_due(self) -> None:
        """Clock event: move one byte from a device into the empty output buffer."""
        self._transfer_event = None
        self.state.transfer_deadline = -1
        if self.state.output_full:
            return
        device = self._device_ready()
        if device is self.keyboard:
            self._keyboard_byte(device.pop())
        elif device is not None:
            self._fill_output(device.pop(), aux=True)
        self._schedule_transfer()

    def _keyboard_byte(self, value: int) -> None:
        """Translation (command byte bit 6): 0xF0 is held back and sets bit 7 of the
        next translated byte; everything else goes through the set 2 -> set 1 table."""
        state = self.state
        if not self.command_byte & CB_TRANSLATE:
            self._fill_output(value)
        elif value == 0xF0:
            state.translate_break = True
        else:
            translated = keymap.TRANSLATION_8042[value]
            if state.translate_break:
                translated |= 0x80
                state.translate_break = False
            self._fill_output(translated)

    # ------------------------------------------------------------------ host inputs
    def _key_input(self, data: Dict[str, Any]) -> bool:
        """Apply one ``"key"`` input; False (retry later) while the FIFO is too full."""
        name = keymap.key_name(data["key"])
        pressed = bool(data["pressed"])
        codes = self.keyboard.key_event(name, pressed)
        if codes is None:
            return False
        if self.machine.hooks.key_input:
            self.machine.hooks.call.key_input(machine=self.machine, key=name,
                                              pressed=pressed, scancodes=codes)
        return True

    def _mouse_input(self, data: Dict[str, Any]) -> bool:
        """Apply one ``"mouse"`` input ``{"dx", "dy", "buttons"}`` (and ``"dz"``)."""
        return self.mouse.motion(int(data.get("dx", 0)), int(data.get("dy", 0)),
                                 int(data.get("dz", 0)), int(data.get("buttons", 0)))
