"""The interactive terminal console (`machine run` on a terminal, like QEMU's
`-display curses`): the guest's text screen drawn with its colours and cursor, and
the host keyboard, in raw mode, sent to the guest's PS/2 keyboard.

prompt_toolkit does the terminal work: its VT100 parser decodes the keys (arrows,
F-keys, Home/End/PgUp/PgDn, Ins/Del, Ctrl and Alt combinations as far as the
terminal reports them) and its output object writes the escape sequences.  Each
decoded key becomes a `--type` key group (`{up}`, `{ctrl+c}`, `{alt+x}`) posted
through `machine.keyboard`, so keys from the terminal are recorded and replayed
like scripted ones.

Ctrl+A is the escape key, as in QEMU: Ctrl+A X quits, Ctrl+A S writes a PNG
screenshot, Ctrl+A A sends Ctrl+A to the guest, Ctrl+A H shows the keys on the
status line.  The terminal is restored on every way out: a normal end, Ctrl+A X,
an exception in a plugin, SIGTERM or SIGHUP.
"""

import os
import signal
import sys
from typing import Any, Callable, Dict, List, Optional

import trio
from prompt_toolkit.input.vt100 import raw_mode
from prompt_toolkit.input.vt100_parser import Vt100Parser
from prompt_toolkit.key_binding.key_processor import KeyPress
from prompt_toolkit.output.color_depth import ColorDepth
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.styles import Attrs

from .display import screen_lines
from .errors import UserError

#: VGA colour index (IRGB order) -> prompt_toolkit ANSI colour name
VGA_COLORS = ("ansiblack", "ansiblue", "ansigreen", "ansicyan", "ansired", "ansimagenta",
              "ansiyellow", "ansigray", "ansibrightblack", "ansibrightblue", "ansibrightgreen",
              "ansibrightcyan", "ansibrightred", "ansibrightmagenta", "ansibrightyellow", "ansiwhite")
#: prompt_toolkit key names -> our key names (plugins/i8042/keymap.py)
NAMED_KEYS = {"escape": "esc", "delete": "del", "insert": "ins", "pageup": "pgup",
              "pagedown": "pgdn", "home": "home", "end": "end", "up": "up", "down": "down",
              "left": "left", "right": "right", "c-i": "tab", "c-m": "enter", "c-h": "backspace",
              "s-tab": "shift+tab", "c-\\": "ctrl+backslash", "c-]": "ctrl+rbracket",
              "c-@": "ctrl+space", "c-^": "ctrl+6", "c-_": "ctrl+minus"}
NAMED_KEYS.update({f"f{n}": f"f{n}" for n in range(1, 13)})
MODIFIERS = {"c": "ctrl", "s": "shift"}
ESCAPE_KEY = "c-a"
HELP = "Ctrl+A then: X quit, C monitor, S screenshot, A send Ctrl+A, H this help"


def key_group(key: str, data: str) -> Optional[str]:
    """The `--type` text for one decoded key ('a', '{{', '{up}', '{ctrl+shift+left}'),
    or None for what a PC keyboard cannot type (mouse reports, non-ASCII)."""
    if key in NAMED_KEYS:
        return "{" + NAMED_KEYS[key] + "}"
    if len(key) == 1:
        if key == "{":
            return "{{"
        return key if " " <= key <= "~" else None
    parts = key.split("-")
    if len(parts) >= 2 and all(part in MODIFIERS for part in parts[:-1]):
        base = parts[-1]
        base = NAMED_KEYS.get(base, base)
        if len(base) == 1 and not base.isalnum():
            return None
        return "{" + "+".join(MODIFIERS[part] for part in parts[:-1]) + "+" + base + "}"
    return None


class RawTerminal:
    """The terminal in raw mode for the length of a run, Ctrl+A commands, and the
    terminal put back however the run ends (`stop()`, SIGHUP; SIGTERM ends the run
    through the runner, which then calls `stop()`)."""

    def __init__(self, machine: Any, screenshot: Callable[[str], Any],
                 stdin: Any = None, stdout: Any = None) -> None:
        self.machine = machine
        self.screenshot = screenshot
        self.stdin = stdin or sys.stdin
        self.output = Vt100_Output.from_pty(stdout or sys.stdout, term=os.environ.get("TERM"))
        self.status = HELP
        self.escape_pending = False
        self.shots = 0
        self._raw: Any = None
        self._old_handlers: Dict[int, Any] = {}
        #: set by the runner: Ctrl+A C stops the machine into the monitor
        self.open_monitor: Optional[Callable[[], Any]] = None
        #: while the monitor has the terminal, typed lines go to it, not the guest
        self.monitor_active = False
        self._pending_text = ""
        self._lines_in, self._lines_out = trio.open_memory_channel(64)

    def start(self) -> None:
        self._raw = raw_mode(self.stdin.fileno())
        self._raw.__enter__()
        self._old_handlers[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_signal)

    def stop(self) -> None:
        if self._raw is None:
            return
        self._raw.__exit__(None, None, None)
        self._raw = None
        for number, handler in self._old_handlers.items():
            signal.signal(number, handler)

    def _on_signal(self, number: int, frame: Any) -> None:
        self.stop()
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)

    def refresh(self) -> None:
        """Called after every slice (the step runner's display hook)."""

    async def read_input(self, handle: Callable[[bytes], None]) -> None:
        """Host task: every chunk the terminal sends, to `handle`."""
        stream = trio.lowlevel.FdStream(os.dup(self.stdin.fileno()))
        async with stream:
            while True:
                try:
                    data = await stream.receive_some(1024)
                except (OSError, trio.ClosedResourceError):
                    return
                if not data:
                    return
                if self.monitor_active:
                    self._lines_in.send_nowait(data)
                else:
                    handle(data)

    async def monitor_line(self) -> Optional[str]:
        """The next line typed while the monitor has the terminal."""
        while "\n" not in self._pending_text:
            data = await self._lines_out.receive()
            self._pending_text += data.decode("utf-8", "replace")
        line, self._pending_text = self._pending_text.split("\n", 1)
        return line

    def escape_command(self, key: str) -> bool:
        """The key after Ctrl+A; False for Ctrl+A A (send Ctrl+A to the guest)."""
        command = key.lower() if len(key) == 1 else key
        if command == "x":
            self.machine.request_stop("quit")
        elif command == "c" and self.open_monitor is not None:
            self.open_monitor()
        elif command == "s":
            self.shots += 1
            path = f"pcmachine-screenshot-{self.shots}.png"
            self.screenshot(path)
            self.status = f"screenshot written to {path}"
        elif command in ("a", ESCAPE_KEY, "\x01"):
            return False
        else:
            self.status = HELP
        return True


class SerialConsole(RawTerminal):
    """`--serial stdio` on a terminal (QEMU's -nographic): COM1's output is the
    terminal's output (the UART's stdio sink writes it), and the bytes typed go to
    COM1's receiver unchanged, Ctrl+C and line editing keys included.  Ctrl+A
    commands as on the screen console; status messages go to standard error."""

    def start(self) -> None:
        super().start()
        sys.stderr.write(f"pcmachine: serial console on COM1; {HELP}\r\n")

    def stop(self) -> None:
        if self._raw is not None:
            sys.stderr.write("\r\n")
        super().stop()

    async def read_keys(self) -> None:
        await self.read_input(self.handle)

    def handle(self, data: bytes) -> None:
        send = bytearray()
        for byte in data:
            if self.escape_pending:
                self.escape_pending = False
                if self.escape_command(chr(byte)):
                    sys.stderr.write(f"\r\npcmachine: {self.status}\r\n")
                    continue
            elif byte == 0x01:
                self.escape_pending = True
                continue
            send.append(byte)
        if send:
            self.machine.post_input("serial", {"port": "com1", "bytes": list(send)})


class TerminalConsole(RawTerminal):
    """Draws the text screen on the terminal and turns terminal keys into PS/2 keys."""

    def __init__(self, machine: Any, screen: Any, screenshot: Callable[[str], Any],
                 stdin: Any = None, stdout: Any = None) -> None:
        super().__init__(machine, screenshot, stdin, stdout)
        self.screen = screen
        self.drawn_generation = -1
        self.status_drawn = ""
        self._attrs: Dict[int, Attrs] = {}
        #: set by the runner: Ctrl+A C stops the machine into the monitor

    def pause_for_monitor(self) -> None:
        """The monitor takes the terminal: cooked mode, typed lines to the monitor."""
        self.stop()
        self.monitor_active = True

    def resume(self) -> None:
        """Back from the monitor: raw mode and a full redraw."""
        self.monitor_active = False
        self.start()
        self.drawn_generation = -1
        self.status_drawn = ""
        self.refresh()

    def start(self) -> None:
        """Raw keyboard, alternate screen, hidden cursor; restored by `stop()`."""
        super().start()
        self.output.enter_alternate_screen()
        self.output.erase_screen()
        self.output.hide_cursor()
        self.output.flush()

    def stop(self) -> None:
        if self._raw is None:
            return
        self.output.reset_attributes()
        self.output.show_cursor()
        self.output.quit_alternate_screen()
        self.output.flush()
        super().stop()

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw when video memory or registers changed, and the status line."""
        generation = self.screen.generation
        if generation != self.drawn_generation:
            self.drawn_generation = generation
            self._draw_screen()
        if self.status != self.status_drawn:
            self._draw_status()
        self.output.flush()

    def _attributes(self, attribute: int, blink_enabled: bool) -> Attrs:
        key = attribute | (0x100 if blink_enabled else 0)
        attrs = self._attrs.get(key)
        if attrs is None:
            background = (attribute >> 4) & (0x07 if blink_enabled else 0x0F)
            attrs = self._attrs[key] = Attrs(
                color=VGA_COLORS[attribute & 0x0F], bgcolor=VGA_COLORS[background],
                bold=False, underline=False, strike=False, italic=False,
                blink=bool(blink_enabled and attribute & 0x80), reverse=False, hidden=False,
                dim=False)
        return attrs

    def _draw_screen(self) -> None:
        out = self.output
        info = self.screen.mode_info()
        out.hide_cursor()
        if info.get("kind") != "text":
            out.reset_attributes()
            out.erase_screen()
            out.cursor_goto(1, 1)
            out.write(f"[graphics mode {info.get('width')}x{info.get('height')}: the terminal "
                      "shows text modes only; use --screenshot or Ctrl+A S for a picture]")
            return
        blink_enabled = self.screen.blink_enabled()
        lines = screen_lines(self.screen)
        for row, (chars, attrs) in enumerate(self.screen.text_rows(info)):
            out.cursor_goto(row + 1, 1)
            text = lines[row]
            start = 0
            for col in range(1, len(attrs) + 1):
                if col == len(attrs) or attrs[col] != attrs[start]:
                    out.set_attributes(self._attributes(attrs[start], blink_enabled), ColorDepth.DEPTH_4_BIT)
                    out.write(text[start:col])
                    start = col
        out.reset_attributes()
        row, col, visible = self.screen.cursor()
        if visible:
            out.cursor_goto(row + 1, col + 1)
            out.show_cursor()

    def _draw_status(self) -> None:
        rows = self.screen.mode_info().get("rows") or 25
        out = self.output
        out.hide_cursor()
        out.reset_attributes()
        out.cursor_goto(rows + 1, 1)
        out.write("pcmachine: " + self.status)
        out.erase_end_of_line()
        self.status_drawn = self.status
        self.drawn_generation = -1          # put the guest's cursor back on the next draw

    # ------------------------------------------------------------------ keyboard
    async def read_keys(self) -> None:
        """Host task: decode terminal input and hand it to the guest."""
        presses: List[KeyPress] = []
        parser = Vt100Parser(presses.append)

        def decode(data: bytes) -> None:
            parser.feed(data.decode("utf-8", "replace"))
            parser.flush()      # a terminal writes each key's sequence whole
            self.handle(presses)
            presses.clear()
            self.refresh()

        await self.read_input(decode)

    def handle(self, presses: List[KeyPress]) -> None:
        """Keys decoded from one read: an Escape directly followed by a key is Alt+key."""
        index = 0
        while index < len(presses):
            key = presses[index].key
            key = key.value if hasattr(key, "value") else key
            alt = key == "escape" and index + 1 < len(presses)
            if alt:
                index += 1
                key = presses[index].key
                key = key.value if hasattr(key, "value") else key
            self._key(key, presses[index].data, alt)
            index += 1

    def _key(self, key: str, data: str, alt: bool) -> None:
        if self.escape_pending:
            self.escape_pending = False
            if self.escape_command(key):
                self.status_drawn = ""
                return
            key = ESCAPE_KEY
        elif key == ESCAPE_KEY and not alt:
            self.escape_pending = True
            return
        group = key_group(key, data)
        if group is None:
            return
        if alt and group != "{{":
            group = "{alt+" + (group[1:-1] if group.startswith("{") else group) + "}"
        try:
            self.machine.keyboard.type(group)
        except UserError as error:      # a chord the keymap cannot type: say so, keep running
            self.status = str(error)
