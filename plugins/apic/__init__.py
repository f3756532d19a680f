"""Local APIC (one per processor) and the 82093AA I/O APIC with the IMCR; see
docs/devices.md.  `lapic.py` and `ioapic.py` are the components."""

from .ioapic import IOAPIC
from .lapic import LocalAPIC

__all__ = ["IOAPIC", "LocalAPIC"]
