"""A VNC server (RFB 3.8, RFC 6143) showing the guest's screen: `--vnc HOST:PORT`.

Any number of viewers at once, each on its own trio task.  A frame is rendered from
video memory only when a viewer has asked for an update and the screen's change
counter moved (the guest pays nothing per write); each viewer gets the rows that
differ from what it last received.  Encodings: Raw, and ZRLE (zlib-compressed 64x64
tiles, solid tiles sent as one pixel), plus the DesktopSize pseudo-encoding so a
mode change resizes the viewer.  The viewer's pixel format is honoured (any
true-colour format of 8, 16 or 32 bits).

Keys arrive as X11 keysyms and go to the PS/2 keyboard as presses and releases of
the key that makes the symbol (the viewer sends Shift itself); pointer motion goes
to the PS/2 mouse as relative movement and buttons.  Both are machine inputs, so
they are recorded and replayed like any other.  No authentication: the server
listens on the loopback interface unless an address is given.
"""

import struct
import zlib
from typing import Any, Dict, List, Optional, Tuple

import trio

from .display import find_screen
from .errors import UserError
from .screenshot import screen_image

RFB_VERSION = b"RFB 003.008\n"
ENCODING_RAW, ENCODING_ZRLE, ENCODING_DESKTOP_SIZE = 0, 16, -223
SECURITY_NONE = 1
TILE = 64
#: X11 keysyms of the keys that are not characters -> our key names
KEYSYMS: Dict[int, str] = {
    0xFF08: "backspace", 0xFF09: "tab", 0xFF0D: "enter", 0xFF1B: "esc", 0xFF50: "home",
    0xFF51: "left", 0xFF52: "up", 0xFF53: "right", 0xFF54: "down", 0xFF55: "pgup",
    0xFF56: "pgdn", 0xFF57: "end", 0xFF63: "ins", 0xFFFF: "del", 0xFF8D: "kpenter",
    0xFFE1: "lshift", 0xFFE2: "rshift", 0xFFE3: "lctrl", 0xFFE4: "rctrl", 0xFFE9: "lalt",
    0xFFEA: "ralt", 0xFFE7: "lalt", 0xFFE8: "ralt", 0xFFEB: "lwin", 0xFFEC: "rwin",
    0xFF67: "menu", 0xFFE5: "capslock", 0xFF7F: "numlock", 0xFF14: "scrolllock",
    0xFF13: "pause", 0xFF61: "prtsc", 0xFE03: "ralt",
}
KEYSYMS.update({0xFFBE + n: f"f{n + 1}" for n in range(12)})


def parse_address(spec: str) -> Tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT` (loopback); a number below 5900 is a display
    number as in QEMU (`:1` is port 5901)."""
    host, _, port_text = spec.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise UserError(f"--vnc {spec}: expected HOST:PORT, e.g. 127.0.0.1:5900") from None
    if port < 5900:
        port += 5900
    if not 0 < port < 65536:
        raise UserError(f"--vnc {spec}: port {port} is out of range")
    return host or "127.0.0.1", port


def key_for_keysym(keysym: int) -> Optional[str]:
    """The PS/2 key that produces `keysym`, or None for symbols a US keyboard lacks."""
    from pcmachine.plugins.i8042.keymap import CHARACTERS
    if keysym in KEYSYMS:
        return KEYSYMS[keysym]
    if 0x20 <= keysym <= 0x7E:
        entry = CHARACTERS.get(chr(keysym))
        return entry[0] if entry else None
    return None


class PixelFormat:
    """A viewer's true-colour pixel format (RFB 7.4)."""

    def __init__(self, data: bytes) -> None:
        (self.bits, self.depth, big_endian, true_colour, self.red_max, self.green_max,
         self.blue_max, self.red_shift, self.green_shift, self.blue_shift) = \
            struct.unpack(">BBBBHHHBBB3x", data)
        if not true_colour or self.bits not in (8, 16, 32):
            raise ValueError("only true-colour formats of 8, 16 or 32 bits are served")
        self.order = "big" if big_endian else "little"
        self.size = self.bits // 8
        #: ZRLE's compact pixel: 3 bytes when the colour fits the low (or high) three
        self.compact = 3 if self.bits == 32 and self.depth <= 24 and max(
            self.red_shift, self.green_shift, self.blue_shift) <= 16 else self.size
        self.compact_slice = slice(1, 4) if self.compact == 3 and self.order == "big" else slice(0, self.compact)

    @staticmethod
    def default() -> "PixelFormat":
        return PixelFormat(struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))

    def pack(self) -> bytes:
        return struct.pack(">BBBBHHHBBB3x", self.bits, self.depth, self.order == "big", 1, self.red_max,
                           self.green_max, self.blue_max, self.red_shift, self.green_shift, self.blue_shift)

    def convert(self, rgb: bytes) -> bytes:
        """RGB bytes -> pixels in this format."""
        if (self.bits, self.red_shift, self.green_shift, self.blue_shift, self.order,
                self.red_max, self.green_max, self.blue_max) == (32, 16, 8, 0, "little", 255, 255, 255):
            out = bytearray(len(rgb) // 3 * 4)   # B, G, R, 0: the common case, sliced
            out[0::4], out[1::4], out[2::4] = rgb[2::3], rgb[1::3], rgb[0::3]
            return bytes(out)
        cache: Dict[bytes, bytes] = {}
        out_parts = []
        for at in range(0, len(rgb), 3):
            colour = rgb[at:at + 3]
            pixel = cache.get(colour)
            if pixel is None:
                value = (((colour[0] * self.red_max + 127) // 255) << self.red_shift
                         | ((colour[1] * self.green_max + 127) // 255) << self.green_shift
                         | ((colour[2] * self.blue_max + 127) // 255) << self.blue_shift)
                pixel = cache[colour] = value.to_bytes(self.size, self.order)
            out_parts.append(pixel)
        return b"".join(out_parts)


class Viewer:
    """One connected viewer: its pixel format, encodings and what it has seen."""

    def __init__(self, server: "VNCServer", stream: trio.SocketStream) -> None:
        self.server = server
        self.stream = stream
        self.buffer = bytearray()
        self.format = PixelFormat.default()
        self.encodings: List[int] = [ENCODING_RAW]
        self.sent: Optional[Tuple[int, int, bytes]] = None     # (width, height, rgb) last sent
        self.wants_update = False
        self.incremental = False
        self.zlib = zlib.compressobj(6)
        self.buttons = 0
        self.pointer: Optional[Tuple[int, int]] = None

    async def read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            data = await self.stream.receive_some(65536)
            if not data:
                raise trio.EndOfChannel()
            self.buffer += data
        data, self.buffer = bytes(self.buffer[:count]), self.buffer[count:]
        return data

    async def handshake(self, name: str, width: int, height: int) -> None:
        await self.stream.send_all(RFB_VERSION)
        await self.read(12)                                # the viewer's version
        await self.stream.send_all(bytes((1, SECURITY_NONE)))
        await self.read(1)
        await self.stream.send_all(struct.pack(">I", 0))   # SecurityResult: OK
        await self.read(1)                                 # ClientInit (shared flag)
        encoded = name.encode()
        await self.stream.send_all(struct.pack(">HH", width, height) + self.format.pack()
                                   + struct.pack(">I", len(encoded)) + encoded)

    async def serve(self) -> None:
        """Read the viewer's messages until it goes away."""
        while True:
            kind = (await self.read(1))[0]
            if kind == 0:                                  # SetPixelFormat
                data = await self.read(19)
                try:
                    self.format = PixelFormat(data[3:])
                except ValueError:
                    return
                self.sent = None
            elif kind == 2:                                # SetEncodings
                count = struct.unpack(">xH", await self.read(3))[0]
                self.encodings = list(struct.unpack(f">{count}i", await self.read(4 * count)))
            elif kind == 3:                                # FramebufferUpdateRequest
                incremental = (await self.read(9))[0]
                self.wants_update = True
                self.incremental = bool(incremental)
                if not incremental:
                    self.sent = None
                self.server.wake.set()
            elif kind == 4:                                # KeyEvent
                down, keysym = struct.unpack(">B2xI", await self.read(7))
                self.server.key(keysym, bool(down))
            elif kind == 5:                                # PointerEvent
                buttons, x, y = struct.unpack(">BHH", await self.read(5))
                self.pointer_event(buttons, x, y)
            elif kind == 6:                                # ClientCutText: ignored
                length = struct.unpack(">3xI", await self.read(7))[0]
                await self.read(length)
            else:
                return

    def pointer_event(self, buttons: int, x: int, y: int) -> None:
        dx = dy = 0
        if self.pointer is not None:
            dx, dy = x - self.pointer[0], self.pointer[1] - y    # PS/2: y grows upwards
        self.pointer = (x, y)
        wheel = -1 if buttons & 8 else 1 if buttons & 16 else 0
        mouse_buttons = (buttons & 1) | ((buttons & 4) >> 1) | ((buttons & 2) << 1)
        if dx or dy or wheel or mouse_buttons != self.buttons:
            self.buttons = mouse_buttons
            self.server.mouse(dx, dy, wheel, mouse_buttons)

    async def send_update(self, width: int, height: int, rgb: bytes) -> None:
        """The rectangle of rows that changed since the last update (all of it first)."""
        if self.sent is not None and self.sent[2] is rgb:
            return                       # the same frame object: nothing was drawn since
        rects = []
        if self.sent is not None and self.sent[:2] != (width, height):
            if ENCODING_DESKTOP_SIZE in self.encodings:
                rects.append(struct.pack(">HHHHi", 0, 0, width, height, ENCODING_DESKTOP_SIZE))
            self.sent = None
        first, last = 0, height
        if self.sent is not None:
            stride, old = width * 3, self.sent[2]
            rows = [y for y in range(height) if rgb[y * stride:(y + 1) * stride] != old[y * stride:(y + 1) * stride]]
            if not rows and not rects:
                return
            first, last = (rows[0], rows[-1] + 1) if rows else (0, 0)
        if last > first:
            part = rgb[first * width * 3:last * width * 3]
            rects.append(self.encode(0, first, width, last - first, part))
        self.sent = (width, height, rgb)
        self.wants_update = False
        await self.stream.send_all(struct.pack(">BxH", 0, len(rects)) + b"".join(rects))

    def encode(self, x: int, y: int, width: int, height: int, rgb: bytes) -> bytes:
        pixels = self.format.convert(rgb)
        if ENCODING_ZRLE in self.encodings:
            data = self.zlib.compress(self.zrle_tiles(width, height, pixels)) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
            return struct.pack(">HHHHiI", x, y, width, height, ENCODING_ZRLE, len(data)) + data
        return struct.pack(">HHHHi", x, y, width, height, ENCODING_RAW) + pixels

    def zrle_tiles(self, width: int, height: int, pixels: bytes) -> bytes:
        """ZRLE tiles, left to right, top to bottom: solid (1) or raw (0) CPIXELs."""
        size, compact, part = self.format.size, self.format.compact, self.format.compact_slice
        out = []
        for top in range(0, height, TILE):
            for left in range(0, width, TILE):
                tile_width = min(TILE, width - left)
                rows = [pixels[((top + row) * width + left) * size:((top + row) * width + left + tile_width) * size]
                        for row in range(min(TILE, height - top))]
                first = rows[0][:size]
                if all(row == first * tile_width for row in rows):
                    out.append(b"\x01" + first[part])
                    continue
                out.append(b"\x00")
                for row in rows:
                    if compact == size:
                        out.append(row)
                    else:
                        out.append(b"".join(row[at:at + size][part] for at in range(0, len(row), size)))
        return b"".join(out)


class VNCServer:
    """Serves the machine's screen to VNC viewers and feeds their input to it."""

    def __init__(self, machine: Any, spec: str) -> None:
        self.machine = machine
        self.host, self.port = parse_address(spec)
        self.screen = find_screen(machine)
        if self.screen is None:
            raise UserError("--vnc: this machine has no display component")
        self.viewers: List[Viewer] = []
        self.wake = trio.Event()
        self.generation = -1
        self.frame: Optional[Tuple[int, int, bytes]] = None

    async def open(self) -> None:
        """Listen before the guest starts (a port in use is a one-line error), then
        accept viewers in a host task until the run ends."""
        try:
            listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        except OSError as error:
            raise UserError(f"--vnc: cannot listen on {self.host}:{self.port}: {error.strerror}") from None
        trio.lowlevel.spawn_system_task(self._serve, listeners)

    async def _serve(self, listeners: List[trio.SocketListener]) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._push_updates)
            await trio.serve_listeners(self._serve_viewer, listeners, handler_nursery=nursery)

    def current_frame(self) -> Tuple[int, int, bytes]:
        """Render only when video memory or registers changed since the last frame."""
        generation = self.screen.generation
        if self.frame is None or generation != self.generation:
            self.frame = screen_image(self.machine)
            self.generation = generation
        return self.frame

    async def _serve_viewer(self, stream: trio.SocketStream) -> None:
        viewer = Viewer(self, stream)
        width, height, _ = self.current_frame()
        try:
            await viewer.handshake(self.name(), width, height)
            self.viewers.append(viewer)
            await viewer.serve()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel):
            pass
        finally:
            if viewer in self.viewers:
                self.viewers.remove(viewer)
            await stream.aclose()

    async def _push_updates(self) -> None:
        """Answer update requests at up to 30 frames per host second."""
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            while any(viewer.wants_update for viewer in self.viewers):
                width, height, rgb = self.current_frame()
                for viewer in list(self.viewers):
                    if viewer.wants_update:
                        try:
                            await viewer.send_update(width, height, rgb)
                        except (trio.BrokenResourceError, trio.ClosedResourceError):
                            self.viewers.remove(viewer)
                await trio.sleep(1 / 30)

    def name(self) -> str:
        profile = getattr(self.machine, "profile", None)
        description = profile.data.get("description") if profile is not None else None
        return f"pcmachine: {description}" if description else "pcmachine"

    def key(self, keysym: int, down: bool) -> None:
        keyboard = self.machine.keyboard
        name = key_for_keysym(keysym)
        if keyboard is None or name is None:
            return
        (keyboard.press if down else keyboard.release)(name)

    def mouse(self, dx: int, dy: int, wheel: int, buttons: int) -> None:
        try:
            self.machine.post_input("mouse", {"dx": dx, "dy": dy, "dz": wheel, "buttons": buttons})
        except UserError:
            pass                 # a machine without a PS/2 mouse ignores the pointer
