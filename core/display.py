"""The guest's screen as text: `screen_text()` gives what a headless run prints and
`--wait` searches.  The live terminal console is `console.py`."""

from typing import Any, List, Optional


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
