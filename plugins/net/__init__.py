"""Networking: the Realtek RTL8139 PCI Ethernet controller (`rtl8139.py`) and the
deterministic user-mode network it is attached to (`usernet.py`)."""

from .rtl8139 import RTL8139
from .usernet import UserNet

__all__ = ["RTL8139", "UserNet"]
