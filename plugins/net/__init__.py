"""Networking: the Realtek RTL8139 (`rtl8139.py`) and Intel 82540EM (`e1000.py`)
PCI Ethernet controllers, what they share (`card.py`), and the deterministic
user-mode network they are attached to (`usernet.py`)."""

from .e1000 import E1000
from .rtl8139 import RTL8139
from .usernet import UserNet

__all__ = ["E1000", "RTL8139", "UserNet"]
