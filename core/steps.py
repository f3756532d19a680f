"""Waiting for text, typing keys and pressing the power button: the one
implementation behind the CLI steps (`--wait`, `--type`, `--wait-serial`,
`--type-serial`, `--powerdown`, `--screenshot-step`) and the pytest plugin
(`pcmachine.testing`).

A wait that follows typed keys matches only text that appeared after them: on the
screen, text at or after the place where the cursor was when the typing began
(followed as the screen scrolls); on a serial port, bytes received after the typed
ones were sent.  That is the default for `--wait` after a `--type` (and
`after_input=True` in the plugin); `--wait-anywhere` matches the whole screen.
"""

import re
from typing import Any, Dict, List, Optional, Tuple

from .display import find_screen
from .errors import UserError

#: the host input that presses the ACPI power button (taken by the `acpi` component)
POWER_BUTTON_INPUT = "power-button"

#: serial key names -> the bytes a terminal sends for them
SERIAL_KEYS = {"enter": b"\r", "tab": b"\t", "esc": b"\x1b", "bs": b"\x7f", "backspace": b"\x7f",
               "up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C", "left": b"\x1b[D",
               "home": b"\x1b[H", "end": b"\x1b[F", "del": b"\x1b[3~", "ins": b"\x1b[2~",
               "pgup": b"\x1b[5~", "pgdn": b"\x1b[6~"}
SERIAL_KEYS.update({f"f{n}": code for n, code in zip(range(1, 13), (
    b"\x1bOP", b"\x1bOQ", b"\x1bOR", b"\x1bOS", b"\x1b[15~", b"\x1b[17~", b"\x1b[18~",
    b"\x1b[19~", b"\x1b[20~", b"\x1b[21~", b"\x1b[23~", b"\x1b[24~"))})


def serial_bytes(keys: str) -> bytes:
    """`--type-serial` text -> bytes: characters as themselves, `\\n` (or a real
    newline) as Enter (CR, what a terminal sends), `{name}` keys as their escape
    sequences, `{ctrl+c}` as the control byte, `{{` as a brace."""
    keys = keys.replace("\\n", "\n")
    out = bytearray()
    index = 0
    while index < len(keys):
        char = keys[index]
        if keys.startswith("{{", index):
            out += b"{"
            index += 2
            continue
        if char == "{":
            end = keys.find("}", index)
            if end < 0:
                raise UserError(f"unclosed {{ in {keys!r}: write {{{{ for a literal brace")
            name = keys[index + 1:end].lower()
            match = re.fullmatch(r"ctrl\+([a-z@\[\\\]^_])", name)
            if match:
                out.append(ord(match.group(1).upper()) & 0x1F)
            elif name in SERIAL_KEYS:
                out += SERIAL_KEYS[name]
            else:
                raise UserError(f"unknown serial key {{{name}}}: use enter, tab, esc, bs, arrows, "
                                "home/end, pgup/pgdn, ins/del, f1-f12 or ctrl+LETTER")
            index = end + 1
            continue
        if char == "\n":
            out += b"\r"
        elif ord(char) < 128:
            out.append(ord(char))
        else:
            out += char.encode("utf-8")
        index += 1
    return bytes(out)


class SerialCapture:
    """Everything a UART sent (`serial_byte` "tx" events), for serial waits."""

    def __init__(self, port: str = "com1") -> None:
        self.port = port
        self.data = bytearray()
        self.mark = 0                      # where output after the last typing starts

    def serial_byte(self, machine: Any, port: str, direction: str, value: int) -> None:
        if port == self.port and direction == "tx":
            self.data.append(value)

    def text(self, after_input: bool = False) -> str:
        data = self.data[self.mark:] if after_input else self.data
        return bytes(data).decode("utf-8", "replace")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


def _attach_hook(capture: SerialCapture) -> Any:
    """A pluggy plugin object forwarding `serial_byte` to the capture."""
    from .hookspecs import hookimpl

    class SerialHook:
        @hookimpl
        def serial_byte(self, machine: Any, port: str, direction: str, value: int) -> None:
            capture.serial_byte(machine, port, direction, value)
    return SerialHook()


class ScreenMark:
    """The screen and cursor when typing began: later text is found at or after
    that place, following the rows the screen has scrolled since."""

    def __init__(self, rows: List[str], cursor: Tuple[int, int]) -> None:
        self.rows = rows
        self.cursor = cursor

    def text_after(self, rows: List[str]) -> str:
        row, col = self.cursor
        scrolled = _scrolled_by(self.rows[:row], rows)
        start_row = row - scrolled
        if start_row < 0:
            return "\n".join(rows)        # the typing place scrolled away: all is new
        if start_row >= len(rows):
            return ""
        return rows[start_row][col:] + "\n" + "\n".join(rows[start_row + 1:])


def _scrolled_by(before: List[str], after: List[str]) -> int:
    """How many rows the screen scrolled: the smallest k for which the rows above
    the typing place, moved up k rows, are still on the screen."""
    if not before:
        return 0
    for k in range(len(before) + 1):
        moved = before[k:]
        if all(index < len(after) and after[index] == line for index, line in enumerate(moved)):
            return k
    return len(before)


class ScreenWatcher:
    """Finds text on the machine's screen (text modes), whole or after a mark."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.screen = find_screen(machine)
        self.mark: Optional[ScreenMark] = None
        #: the last search: (generation, mark, text) and whether it found the text
        self.checked: Tuple[int, Optional[ScreenMark], str] = (-1, None, "")
        self.found = False

    def rows(self) -> List[str]:
        if self.screen is None or self.screen.mode_info().get("kind") != "text":
            return []
        return list(self.screen.text_lines())

    def set_mark(self) -> None:
        """Typing begins now: later after-input waits look after this place."""
        if self.screen is None:
            return
        row, col, _ = self.screen.cursor()
        self.mark = ScreenMark(self.rows(), (row, col))

    def shows(self, text: str, after_input: bool = False, changed_only: bool = False) -> bool:
        """`text` is on the screen (after the mark when `after_input`).  With
        `changed_only`, the same search on an unchanged screen answers as it did
        without searching again."""
        if self.screen is None:
            return False
        key = (self.screen.generation, self.mark if after_input else None, text)
        if changed_only and self.checked == key:
            return self.found
        self.checked = key
        rows = self.rows()
        if after_input and self.mark is not None:
            region = self.mark.text_after(rows)
            self.found = text in region or text in region.replace("\n", "")
        else:
            self.found = any(text in line for line in rows) or text in "".join(rows)
        return self.found


def add_serial_capture(machine: Any, port: str = "com1") -> SerialCapture:
    """Capture what `port` sends from now on."""
    capture = SerialCapture(port)
    machine.add_plugin(_attach_hook(capture), name=f"serial-capture-{port}-{id(capture)}")
    return capture


def post_serial(machine: Any, keys: str, port: str = "com1") -> None:
    machine.post_input("serial", {"port": port, "bytes": list(serial_bytes(keys))})


def describe_step(kind: str, value: str) -> str:
    """A step as it was given on the command line (`--powerdown` takes no value)."""
    return f"--{kind} {value!r}" if kind != "powerdown" else "--powerdown"


def mouse_motion(value: str) -> Dict[str, int]:
    """A `--mouse DX,DY[,BUTTONS]` step as the PS/2 mouse's input: DX right and DY
    down in mouse counts (screen directions, as QEMU's monitor `mouse_move`; the
    PS/2 packet counts up), BUTTONS the buttons held afterwards as QEMU's
    `mouse_button` mask (1 left, 2 right, 4 middle; default 0)."""
    parts = value.split(",")
    try:
        numbers = [int(part, 0) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not all(-255 <= n <= 255 for n in numbers[:2]) or \
            (len(numbers) == 3 and not 0 <= numbers[2] <= 7):
        raise UserError(f"--mouse {value!r}: expected DX,DY or DX,DY,BUTTONS (DX, DY from -255 "
                        "to 255, DY down; BUTTONS 1 left + 2 right + 4 middle)")
    return {"dx": numbers[0], "dy": -numbers[1], "dz": 0, "buttons": numbers[2] if len(numbers) == 3 else 0}


def check_mouse(machine: Any) -> None:
    """UserError (one line) unless the machine has a PS/2 mouse."""
    if not machine.accepts_input("mouse"):
        raise UserError("--mouse needs a PS/2 mouse (an i8042 component), and this profile has none")


def check_power_button(machine: Any) -> None:
    """UserError (one line) unless the machine has an ACPI power button."""
    if not machine.accepts_input(POWER_BUTTON_INPUT):
        raise UserError("this machine has no ACPI power button (its profile has no acpi component)")


def press_power_button(machine: Any) -> None:
    """Press the ACPI fixed power button, as QEMU's `system_powerdown` does: a host
    input, taken at the next slice boundary (and recorded); an ACPI OS answers it
    by shutting down."""
    check_power_button(machine)
    machine.post_input(POWER_BUTTON_INPUT, {})
