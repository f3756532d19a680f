"""PCI: configuration mechanism #1 and the host bridge (`host.py`), the base class
of a PCI function (`function.py`), the PIIX3 ISA bridge and IDE functions
(`piix.py`), the VGA's PCI function (`vga.py`) and QEMU's educational device
(`edu.py`)."""

from .edu import EduDevice
from .function import Bar, PCIFunction, function_options
from .host import PCIHost
from .piix import PIIX3IDE, PIIX3ISABridge
from .vga import PCIVGA

__all__ = ["Bar", "EduDevice", "PCIFunction", "function_options", "PCIHost", "PIIX3IDE", "PIIX3ISABridge", "PCIVGA"]
