"""A real BIOS ROM image instead of the HLE BIOS (`bios: {plugin: rom, image: PATH}`).

The image is mapped as read-only memory at the top of the first megabyte (its last
128 KiB at most, E0000-FFFFF for a 128 KiB image, F0000-FFFFF for 64 KiB) and,
whole, just below 4 GiB, where a 386 or later fetches its first instruction after
reset (FFFFFFF0).  The CPU then starts from its own reset state, as on hardware:
this is all a firmware image or a CPU test ROM that replaces the BIOS needs.  The
`boot` option is the boot order the CMOS holds for the firmware (registers 3Dh and
38h, as QEMU writes its -boot order there).

`option_roms` maps option ROM images from C0000 up, each at the next 4 KiB
boundary, where the firmware's scan for the 55h AAh signature finds and runs them:
a VGA BIOS first (the Bochs BIOS scans C0000-C7FFF for it before the others), as
QEMU loads `vgabios-stdvga.bin` there.  With the Debian packages `bochsbios` and
`vgabios`, `BIOS-bochs-legacy` and `vgabios.bin` boot floppies and disks as in
Bochs (docs/bios.md).

The chipset's PAM registers (`pci/shadow.py`) move these pages to shadow DRAM
when the firmware asks.  Not done yet: QEMU's fw_cfg, which firmware built for
QEMU may need.
"""

import os
from typing import Any, Dict, List

from pcmachine.component import Component, Option
from pcmachine.errors import ProfileError
from pcmachine.plugins.bios import BOOT_DEVICES

FIRST_MEGABYTE = 0x100000
FOUR_GIB = 1 << 32
#: the part of an image visible below 1 MiB (the legacy E and F segments)
LOW_WINDOW = 0x20000
#: where the firmware's option ROM scan starts (the VGA BIOS's place)
OPTION_ROM_BASE = 0xC0000
ALIGNMENT = 0x1000
MAX_IMAGE = 0x1000000


class ROMBIOS(Component):
    """Maps a firmware image; the CPU's reset vector does the rest."""

    OPTIONS = {
        "image": Option("path", None, "BIOS image file (64K, 128K, ... up to 16M, 4K-aligned)"),
        "option_roms": Option("paths", [], "option ROM images (a VGA BIOS first) mapped from "
                              "C0000 up at 4K boundaries, where the firmware's scan finds them"),
        "boot": Option("list", ["floppy", "hdd", "cdrom"], "boot order the CMOS holds (registers "
                       "3Dh and 38h, where the Bochs BIOS and SeaBIOS read it; QEMU's -boot)",
                       choices=BOOT_DEVICES),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        path = options["image"]
        if not path:
            raise ProfileError("profile", f"{name}.image", "a BIOS image path is required")
        if not os.path.isfile(path):
            raise ProfileError("profile", f"{name}.image", f"image not found: {path}")
        with open(path, "rb") as handle:
            data = handle.read()
        if not data or len(data) % ALIGNMENT or len(data) > MAX_IMAGE:
            raise ProfileError("profile", f"{name}.image",
                               f"expected a multiple of 4K up to 16M, got {len(data)} bytes")
        self.image = data
        low = data[-LOW_WINDOW:]
        self.bus.map_rom(FIRST_MEGABYTE - len(low), low, name)
        self.bus.map_rom(FOUR_GIB - len(data), data, name + "-alias")
        self._map_option_roms(name, options["option_roms"], FIRST_MEGABYTE - len(low))

    def _map_option_roms(self, name: str, paths: List[str], end: int) -> None:
        """Each image (55h AAh first, padded to 4K) at the next 4K boundary from
        C0000, all below the BIOS's own window."""
        address = OPTION_ROM_BASE
        for index, path in enumerate(paths):
            key = f"{name}.option_roms"
            if not os.path.isfile(path):
                raise ProfileError("profile", key, f"option ROM not found: {path}")
            with open(path, "rb") as handle:
                data = handle.read()
            if data[:2] != b"\x55\xAA":
                raise ProfileError("profile", key, f"{path}: no option ROM signature (55h AAh)")
            data += bytes(-len(data) % ALIGNMENT)
            if address + len(data) > end:
                raise ProfileError("profile", key, f"{path}: option ROMs reach past {end:X}h")
            self.bus.map_rom(address, data, f"{name}-option{index}")
            address += len(data)

    def reset(self) -> None:
        """The image is constant; the CPU's reset puts it at F000:FFF0."""
