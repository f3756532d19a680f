"""The 8042 keyboard controller with the PS/2 keyboard and mouse behind it, and the
key-name / scan-code tables they share."""

from .controller import KeyboardController

__all__ = ["KeyboardController"]
