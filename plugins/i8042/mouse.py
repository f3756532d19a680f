"""PS/2 mouse (with the IntelliMouse wheel extension) on the 8042's auxiliary port.

Follows the PS/2 mouse protocol as documented by OSDev ("PS/2 Mouse", "Mouse Input")
and Adam Chapweske's "The PS/2 Mouse Interface", cross-checked with Bochs
(`iodev/keyboard.cc`, `kbd_ctrl_to_mouse`):

* reset 0xFF answers 0xFA 0xAA 0x00; identify 0xF2 answers 0xFA and the device
  id (0, or 3 after the sample-rate sequence 200, 100, 80 switches on the wheel);
* stream (0xEA) and remote (0xF0) modes, reporting on/off (0xF4/0xF5), defaults
  (0xF6), sample rate (0xF3 n), resolution (0xE8 n), scaling 1:1/2:1 (0xE6/0xE7),
  status request (0xE9), read data (0xEB), wrap mode (0xEE/0xEC), resend (0xFE);
* every command empties the mouse's output FIFO and its reply may pass even while
  the controller holds the aux clock disabled, as Bochs delivers replies.

Movement comes from the host as ``"mouse"`` inputs ``{"dx", "dy", "dz", "buttons"}``
(dy positive = up, buttons bit 0 left, 1 right, 2 middle).  In stream mode with
reporting on, each input becomes one packet; the input waits while the FIFO has
no room for it.  In remote mode movement accumulates until 0xEB reads it.
The sample rate and resolution are stored and reported, not used: the host
decides when movement happens and in what counts.
"""

import dataclasses

from pcmachine.plugins.i8042.keyboard import ACK, RESEND, PS2Device

BAT_OK = 0xAA
ID_STANDARD = 0x00
ID_WHEEL = 0x03
WHEEL_SEQUENCE = (200, 100, 80)

MODE_STREAM = 0
MODE_REMOTE = 1
MODE_WRAP = 2

DEFAULT_RATE = 100
DEFAULT_RESOLUTION = 2      # 4 counts per millimetre

CMD_SCALING_1_1 = 0xE6
CMD_SCALING_2_1 = 0xE7
CMD_RESOLUTION = 0xE8
CMD_STATUS = 0xE9
CMD_STREAM = 0xEA
CMD_READ_DATA = 0xEB
CMD_RESET_WRAP = 0xEC
CMD_WRAP = 0xEE
CMD_REMOTE = 0xF0
CMD_IDENTIFY = 0xF2
CMD_SAMPLE_RATE = 0xF3
CMD_ENABLE = 0xF4
CMD_DISABLE = 0xF5
CMD_DEFAULTS = 0xF6
CMD_RESEND = 0xFE
CMD_RESET = 0xFF

#: 2:1 scaling of small movements (larger ones are doubled).
SCALING_2_1 = {0: 0, 1: 1, 2: 1, 3: 3, 4: 6, 5: 9}


@dataclasses.dataclass
class MouseState:
    fifo: bytearray = dataclasses.field(default_factory=bytearray)
    last_sent: int = 0
    replying: bool = False      # the FIFO holds a command reply
    mode: int = MODE_STREAM
    saved_mode: int = MODE_STREAM
    reporting: bool = False
    sample_rate: int = DEFAULT_RATE
    resolution: int = DEFAULT_RESOLUTION
    scaling_2_1: bool = False
    expecting: int = 0          # 0xF3 or 0xE8 waiting for its parameter
    device_id: int = ID_STANDARD
    recent_rates: list = dataclasses.field(default_factory=list)
    buttons: int = 0
    pending_dx: int = 0         # remote mode: movement not yet read
    pending_dy: int = 0
    pending_dz: int = 0


class PS2Mouse(PS2Device):
    """A two/three-button PS/2 mouse that becomes a wheel mouse on request."""

    STATE = MouseState

    def pop(self) -> int:
        byte = super().pop()
        if not self.state.fifo:
            self.state.replying = False
        return byte

    def _reply(self, *data: int) -> None:
        self.state.replying = True
        self.send(*data)

    # ------------------------------------------------------------ host -> mouse
    def receive(self, value: int) -> None:
        state = self.state
        if state.mode == MODE_WRAP and value not in (CMD_RESET, CMD_RESET_WRAP):
            self._reply(value)
            return
        state.fifo = bytearray()
        if state.expecting:
            command, state.expecting = state.expecting, 0
            self._parameter(command, value)
            return
        self._command(value)

    def _parameter(self, command: int, value: int) -> None:
        state = self.state
        if command == CMD_SAMPLE_RATE:
            state.sample_rate = value
            state.recent_rates = (state.recent_rates + [value])[-len(WHEEL_SEQUENCE):]
            if tuple(state.recent_rates) == WHEEL_SEQUENCE:
                state.device_id = ID_WHEEL
        elif value <= 3:
            state.resolution = value
        else:
            self._reply(RESEND)
            state.expecting = command
            return
        self._reply(ACK)

    def _command(self, value: int) -> None:
        state = self.state
        if value in (CMD_SAMPLE_RATE, CMD_RESOLUTION):
            state.expecting = value
            self._reply(ACK)
        elif value in (CMD_SCALING_1_1, CMD_SCALING_2_1):
            state.scaling_2_1 = value == CMD_SCALING_2_1
            self._reply(ACK)
        elif value == CMD_STATUS:
            self._reply(ACK, self._status_byte(), state.resolution, state.sample_rate)
        elif value in (CMD_STREAM, CMD_REMOTE):
            state.mode = MODE_STREAM if value == CMD_STREAM else MODE_REMOTE
            self._reply(ACK)
        elif value == CMD_READ_DATA:
            self._reply(ACK, *self._packet(state.pending_dx, state.pending_dy, state.pending_dz))
            state.pending_dx = state.pending_dy = state.pending_dz = 0
        elif value == CMD_WRAP:
            state.saved_mode, state.mode = state.mode, MODE_WRAP
            self._reply(ACK)
        elif value == CMD_RESET_WRAP:
            if state.mode == MODE_WRAP:
                state.mode = state.saved_mode
            self._reply(ACK)
        elif value == CMD_IDENTIFY:
            self._reply(ACK, state.device_id)
        elif value in (CMD_ENABLE, CMD_DISABLE):
            state.reporting = value == CMD_ENABLE
            self._reply(ACK)
        elif value == CMD_DEFAULTS:
            self._set_defaults()
            self._reply(ACK)
        elif value == CMD_RESEND:
            self._reply(state.last_sent)
        elif value == CMD_RESET:
            self._set_defaults()
            state.mode = MODE_STREAM
            state.device_id = ID_STANDARD
            self._reply(ACK, BAT_OK, ID_STANDARD)
        else:
            self._reply(RESEND)

    def _set_defaults(self) -> None:
        state = self.state
        state.sample_rate = DEFAULT_RATE
        state.resolution = DEFAULT_RESOLUTION
        state.scaling_2_1 = False
        state.reporting = False
        state.recent_rates = []

    def _status_byte(self) -> int:
        """Status request byte 1: remote mode, reporting, 2:1 scaling, and the
        buttons as left (bit 2), middle (bit 1), right (bit 0)."""
        state = self.state
        buttons = state.buttons
        return ((0x40 if state.mode == MODE_REMOTE else 0) | (0x20 if state.reporting else 0)
                | (0x10 if state.scaling_2_1 else 0) | ((buttons & 1) << 2)
                | ((buttons >> 2) & 1) << 1 | ((buttons >> 1) & 1))

    # ------------------------------------------------------------ movement
    def _packet(self, dx: int, dy: int, dz: int) -> bytes:
        """One movement packet: 3 bytes, or 4 with the wheel switched on."""
        flags = 0x08 | (self.state.buttons & 0x07)
        if dx < -256 or dx > 255:
            flags |= 0x40
            dx = max(-256, min(255, dx))
        if dy < -256 or dy > 255:
            flags |= 0x80
            dy = max(-256, min(255, dy))
        flags |= (0x10 if dx < 0 else 0) | (0x20 if dy < 0 else 0)
        packet = bytes([flags, dx & 0xFF, dy & 0xFF])
        if self.state.device_id == ID_WHEEL:
            packet += bytes([max(-8, min(7, dz)) & 0xFF])
        return packet

    def _scale(self, delta: int) -> int:
        if not self.state.scaling_2_1:
            return delta
        magnitude = abs(delta)
        scaled = SCALING_2_1.get(magnitude, 2 * magnitude)
        return -scaled if delta < 0 else scaled

    def motion(self, dx: int, dy: int, dz: int, buttons: int) -> bool:
        """Apply host movement; False while the FIFO has no room for its packet."""
        state = self.state
        if state.mode == MODE_REMOTE:
            state.buttons = buttons & 0x07
            state.pending_dx += dx
            state.pending_dy += dy
            state.pending_dz += dz
            return True
        if state.mode != MODE_STREAM or not state.reporting:
            state.buttons = buttons & 0x07
            return True
        size = 4 if state.device_id == ID_WHEEL else 3
        if self.room() < size:
            return False
        state.buttons = buttons & 0x07
        state.fifo.extend(self._packet(self._scale(dx), self._scale(dy), dz))
        self.on_data()
        return True
