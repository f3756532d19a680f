"""The VGA adapter as PCI function 00:02.0: the Bochs/QEMU standard VGA identity
(1234:1111, class 0300) that drivers for the Bochs VBE interface
(Linux `bochs-drm`, `vesafb` probes) look for, with BAR0 describing the VBE linear
framebuffer of the profile's `vga` component.

BAR0 is a 32-bit prefetchable memory BAR whose size is the video memory rounded
up to a power of two, at the VGA component's `lfb_address` (which must be aligned
to that size).  Sizing works as on any BAR (write all ones, read the size mask
back), but the framebuffer cannot be moved: any other value written to BAR0
puts `lfb_address` back, so an OS that reassigns BARs keeps the firmware's
placement.  The legacy VGA ports and the A0000 window decode whatever the command
register says, as a VGA's do.  QEMU's BAR2 (DISPI registers as MMIO) is not
provided (hence revision 0, as QEMU's `qemu-extended-regs=off`): the DISPI ports
0x1CE/0x1CF and the HLE BIOS's VBE services serve the same purpose.

`rom` names a VGA BIOS image for the expansion ROM BAR, where firmware built for
QEMU looks for it (SeaBIOS with QEMU's `vgabios-stdvga.bin`, docs/bios.md); the
HLE BIOS has its own video services and needs none.
"""

import os
from typing import Any, Dict, List, Optional

from pcmachine.component import Option
from pcmachine.errors import ProfileError
from pcmachine.hookspecs import hookimpl

from .function import COMMAND_IO, COMMAND_MEMORY, Bar, PCIFunction, function_options, power_of_two_at_least


#: the largest expansion ROM a BAR can describe here
MAX_ROM = 16 << 20


class PCIVGA(PCIFunction):
    """The `vga` component's PCI face: IDs, class and the framebuffer BAR."""

    OPTIONS: Dict[str, Option] = dict(
        function_options(device=2),
        vga=Option("str", "vga", "the VGA component whose framebuffer BAR0 describes"),
        rom=Option("path", None, "VGA BIOS image for the expansion ROM BAR (firmware built "
                   "for QEMU runs it from there; the HLE BIOS needs none)"))
    #: revision 0: QEMU's revision 2 announces its extended registers in BAR2
    VENDOR, DEVICE, REVISION = 0x1234, 0x1111, 0x00
    CLASS_CODE = 0x030000          # display, VGA compatible
    COMMAND_RESET = COMMAND_IO | COMMAND_MEMORY

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self._rom: Optional[bytes] = None
        path = options["rom"]
        if path:
            if not os.path.isfile(path):
                raise ProfileError("component", f"{name}.rom", f"ROM image not found: {path}")
            with open(path, "rb") as handle:
                data = handle.read(MAX_ROM + 1)
            if len(data) > MAX_ROM or data[:2] != b"\x55\xAA":
                raise ProfileError("component", f"{name}.rom",
                                   f"{path} is not an option ROM (55h AAh, up to 16 MiB)")
            self._rom = data

    def rom_image(self) -> Optional[bytes]:
        return self._rom

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        super().machine_configure(machine)
        vga = machine.components.get(self.options["vga"])
        if vga is None:
            raise ProfileError("component", f"{self.name}.vga",
                               f"there is no component {self.options['vga']!r} "
                               f"(without a VGA, remove this one too: {self.name}=null)")
        if not hasattr(vga, "vbe_lfb_address"):
            raise ProfileError("component", f"{self.name}.vga",
                               f"{self.options['vga']!r} is not a VGA component")
        bar = self._framebuffer(vga)
        if bar is not None and bar.address % bar.size:
            raise ProfileError("component", f"{vga.name}.lfb_address",
                               f"{bar.address:#x} is not aligned to the {bar.size >> 20} MiB "
                               "PCI BAR of the framebuffer")

    @staticmethod
    def _framebuffer(vga: Any) -> Optional[Bar]:
        address = vga.vbe_lfb_address
        if address is None:
            return None
        return Bar(power_of_two_at_least(vga.options["vram"]), prefetchable=True, address=address)

    def bars(self) -> List[Optional[Bar]]:
        return [self._framebuffer(self.machine.components[self.options["vga"]])]

    def config_write(self, offset: int, size: int, value: int) -> None:
        """BAR0 takes the sizing pattern; anything else leaves it at the framebuffer."""
        super().config_write(offset, size, value)
        self.keep_bar0_in_place(offset, size)
