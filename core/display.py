"""Showing the guest's screen in a terminal.

`screen_text()` gives the plain text a headless run prints and `--wait` searches;
`TerminalDisplay` redraws the text screen live with ANSI colours (a simple
full-screen renderer; the interactive console comes later).
"""

import sys
from typing import Any, List, Optional, TextIO

# VGA colour index -> ANSI colour index (VGA is BGR-ordered, ANSI RGB-ordered).
VGA_TO_ANSI = [0, 4, 2, 6, 1, 5, 3, 7]


def find_screen(machine: Any) -> Optional[Any]:
    """The component that shows the screen (anything with `text_lines()`)."""
    for component in machine.components.values():
        if hasattr(component, "text_lines") and hasattr(component, "mode_info"):
            return component
    return None


def screen_lines(screen: Any) -> List[str]:
    """The visible text, one string per row (a placeholder line in graphics modes)."""
    info = screen.mode_info()
    if info.get("kind") != "text":
        return [f"[graphics mode {info.get('width')}x{info.get('height')}]"]
    return list(screen.text_lines())


def screen_text(screen: Any) -> str:
    """The screen as printed on exit: rows without trailing blanks, no trailing empty rows."""
    lines = [line.rstrip() for line in screen_lines(screen)]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _sgr(attribute: int) -> str:
    foreground = attribute & 0x0F
    background = (attribute >> 4) & 0x07
    fg = (90 if foreground & 8 else 30) + VGA_TO_ANSI[foreground & 7]
    bg = 40 + VGA_TO_ANSI[background]
    return f"\x1b[{fg};{bg}m"


class TerminalDisplay:
    """Full-screen redraw of the guest's text screen on an ANSI terminal."""

    def __init__(self, screen: Any, stream: TextIO = sys.stdout) -> None:
        self.screen = screen
        self.stream = stream
        self.drawn_generation = -1

    def start(self) -> None:
        self.stream.write("\x1b[?25l\x1b[2J")
        self.stream.flush()

    def refresh(self) -> None:
        """Redraw if the screen changed since the last draw."""
        generation = self.screen.generation
        if generation == self.drawn_generation:
            return
        self.drawn_generation = generation
        out = ["\x1b[H"]
        info = self.screen.mode_info()
        if info.get("kind") == "text":
            lines = self.screen.text_lines()
            for row, cells in enumerate(self.screen.cells()):
                attribute = None
                text = lines[row]
                for col, (_, attr) in enumerate(cells):
                    if attr != attribute:
                        out.append(_sgr(attr))
                        attribute = attr
                    out.append(text[col] if col < len(text) else " ")
                out.append("\x1b[0m\x1b[K\n")
            row, col, visible = self.screen.cursor()
            if visible:
                out.append(f"\x1b[{row + 1};{col + 1}H\x1b[?25h")
            else:
                out.append("\x1b[?25l")
        else:
            out.append(f"[graphics mode {info.get('width')}x{info.get('height')}]\x1b[J")
        self.stream.write("".join(out))
        self.stream.flush()

    def stop(self) -> None:
        rows = self.screen.mode_info().get("rows", 25) or 25
        self.stream.write(f"\x1b[0m\x1b[{rows + 1};1H\x1b[?25h\n")
        self.stream.flush()
