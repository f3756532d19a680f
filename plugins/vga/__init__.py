"""The VGA adapter: the device (ports, planes, memory window), its register layouts
and mode tables, and rendering of what the screen shows."""

from .device import VGA

__all__ = ["VGA"]
