"""PNG screenshots of what the guest's screen shows, in any mode.

The picture comes from the display component's `framebuffer_rgb()` (the VGA renders
text with the font the guest has in plane 2, and graphics through the DAC), made
only when a screenshot is asked for; pypng (pure Python, so it runs on CPython and
PyPy) writes the file.  Used by `machine run --screenshot`, the `--screenshot-step`
step, the pytest plugin and the monitor.
"""

from typing import Any, Tuple

import png

from .display import find_screen
from .errors import UserError


def screen_image(machine: Any) -> Tuple[int, int, bytes]:
    """(width, height, RGB bytes) of the machine's screen; UserError without one."""
    screen = find_screen(machine)
    if screen is None or not hasattr(screen, "framebuffer_rgb"):
        raise UserError("screenshot: this machine has no display component")
    return screen.framebuffer_rgb()


def write_png(path: str, width: int, height: int, rgb: bytes) -> None:
    """Write 8-bit RGB pixels (rows top to bottom) as a PNG file."""
    if width <= 0 or height <= 0:
        raise UserError(f"screenshot {path}: the screen shows nothing (display off)")
    stride = width * 3
    rows = (rgb[y * stride:(y + 1) * stride] for y in range(height))
    try:
        with open(path, "wb") as handle:
            png.Writer(width, height, greyscale=False, bitdepth=8).write(handle, rows)
    except OSError as error:
        raise UserError(f"cannot write screenshot {path}: {error.strerror}") from None


def save_screenshot(machine: Any, path: str) -> Tuple[int, int]:
    """Write the machine's screen to `path` as PNG; returns (width, height)."""
    width, height, rgb = screen_image(machine)
    write_png(path, width, height, rgb)
    return width, height


def read_png(path: str) -> Tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a PNG file (tests and tools compare pictures)."""
    width, height, rows, info = png.Reader(filename=path).asRGB8()
    return width, height, b"".join(bytes(row) for row in rows)
