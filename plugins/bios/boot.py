"""Int 19h (bootstrap loader) and int 18h (boot failure).

Int 19h tries the devices of the profile's boot order (`bios.boot`): it reads
sector 0 of the first floppy (`fda`) or hard disk (`hda`) to 0000:7C00 and jumps
there with DL = the BIOS drive number and interrupts disabled (the `INT 19h` that
got here cleared IF, and the boot sector inherits that, as with Bochs' BIOS).  A
hard disk must end its sector with 55h AAh; a floppy boots without the signature,
as IBM's BIOS and Bochs (with its signature check off) do.  CD-ROM (El Torito)
boot is not implemented: the device is skipped.

With nothing to boot the screen says so and the CPU waits in the ROM's
`STI; HLT` loop; each wake-up retries, so media attached later still boot.
"""

from typing import Any, Dict, Optional, Tuple

from . import common as c
from .rom import IRET, RomBuilder

BOOT_SEGMENT = 0x0000
BOOT_OFFSET = 0x7C00
BOOT_SIGNATURE = b"\x55\xAA"
DEVICE_DRIVES = {"floppy": 0x00, "hdd": 0x80}


class BootServices:
    """int 19h and int 18h."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        int19 = rom.hostcall(self.int19, IRET, "int19")
        int18 = rom.hostcall(self.int18, IRET, "int18")
        self.wait_offset = self.bios.wait_loop(rom, self.retry, "boot_wait")
        return {0x19: int19, 0x18: int18}

    def find_boot_sector(self) -> Optional[Tuple[int, bytes]]:
        """(drive number, sector) of the first bootable device in the boot order."""
        disks = self.bios.disk
        for device in self.bios.boot_order():
            number = DEVICE_DRIVES.get(device)
            if number is None:
                continue
            disk = disks.drive(number)
            if disk is None or disk.sectors == 0:
                continue
            sector = disk.read(0, 1)
            if number >= 0x80 and sector[510:512] != BOOT_SIGNATURE:
                continue
            return number, sector
        return None

    def boot(self, cpu: Any) -> bool:
        found = self.find_boot_sector()
        if found is None:
            return False
        number, sector = found
        self.ctx.bus.write_bytes((BOOT_SEGMENT << 4) + BOOT_OFFSET, sector)
        hooks = self.bios.machine.hooks
        if hooks.disk_transfer:
            disk = self.bios.disk.drive(number)
            hooks.call.disk_transfer(machine=self.bios.machine, drive=disk.name,
                                     operation="read", lba=0, count=1)
        for name in ("ax", "bx", "cx", "si", "di", "bp", "ds", "es"):
            cpu.set_reg(name, 0)
        cpu.set_reg("dx", number)
        cpu.set_flag("if", False)
        cpu.set_reg("cs", BOOT_SEGMENT)
        cpu.set_reg("ip", BOOT_OFFSET)
        return True

    def int19(self, cpu: Any) -> None:
        self.bios.call_hook(cpu, 0x19, cpu.get_reg("ah"))
        if not self.boot(cpu):
            self.no_bootable_device(cpu)

    def int18(self, cpu: Any) -> None:
        self.bios.call_hook(cpu, 0x18, cpu.get_reg("ah"))
        self.no_bootable_device(cpu)

    def no_bootable_device(self, cpu: Any) -> None:
        state = self.bios.state
        if not state.boot_failure_shown:
            state.boot_failure_shown = True
            video = self.bios.video
            video.print_text("No bootable device.\r\n")
            names = ", ".join(self.bios.boot_order()) or "none"
            video.print_text(f"Boot order: {names}. Attach a disk image (--fda/--hda).\r\n")
        self.bios.jump_rom(cpu, self.wait_offset)

    def retry(self, cpu: Any) -> None:
        if self.boot(cpu):
            self.bios.state.boot_failure_shown = False
