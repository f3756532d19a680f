"""Int 19h (bootstrap loader) and int 18h (boot failure).

Int 19h tries the devices of the profile's boot order (`bios.boot`): it reads
sector 0 of the first floppy (`fda`) or hard disk (`hda`) to 0000:7C00 and jumps
there with DL = the BIOS drive number and interrupts enabled, as IBM's BIOS does
(its int 19h begins with STI: the diskette read waits for IRQ 6) and SeaBIOS
(QEMU) does; Bochs' BIOS leaves IF clear, and a boot sector whose first HLT
waits for the timer tick would stop there for ever.  A
hard disk must end its sector with 55h AAh; a floppy boots without the signature,
as IBM's BIOS and Bochs (with its signature check off) do.  A CD-ROM (`cdrom`)
boots by El Torito in no-emulation mode: the boot record volume descriptor at
sector 17 points to the boot catalog, whose initial entry gives the load segment
(0 means 07C0h), the count of 512-byte sectors and the image's 2048-byte LBA; the
image starts at load-segment:0000 with DL = E0h.  A floppy emulation image
(`mkisofs -b floppy.img` without `-no-emul-boot`) becomes drive 00h (`disk.py`):
its first sectors load the same way, with DL = 00h.  A hard-disk emulation image
(`-hard-disk-boot`) becomes drive 80h and boots with DL = 80h, as under SeaBIOS;
one whose first partition gives no geometry is skipped.

With `bios.kernel` set (`--kernel`), int 19h loads that kernel instead of a boot
sector (kernelboot.py: the Linux boot protocol or multiboot).

With nothing to boot the screen says so and the CPU waits in the ROM's
`STI; HLT` loop; each wake-up retries, so media attached later still boot.
"""

from typing import Any, Dict, NamedTuple, Optional

from pcmachine.errors import UserError

from . import common as c
from .disk import CDROM_DRIVE, CD_SECTOR, EMULATED_FLOPPIES, EMULATED_HARD_DISK, SECTOR, partition_geometry
from .kernelboot import Loaded, load_kernel
from .rom import IRET, RomBuilder

BOOT_SEGMENT = 0x0000
BOOT_OFFSET = 0x7C00
BOOT_SIGNATURE = b"\x55\xAA"
DEVICE_DRIVES = {"floppy": 0x00, "hdd": 0x80, "cdrom": CDROM_DRIVE}
BOOT_RECORD_LBA = 17
EL_TORITO_ID = b"\x00CD001\x01EL TORITO SPECIFICATION"
CATALOG_HEADER_ID, CATALOG_KEY = 0x01, b"\x55\xAA"
BOOTABLE = 0x88
NO_EMULATION = 0x00
DEFAULT_LOAD_SEGMENT = 0x07C0
#: El Torito boot media type (the entry's byte 1, bits 0-3) this BIOS does not offer


class BootImage(NamedTuple):
    drive: int
    first_sector: int       # 512-byte LBA on the medium, for the disk_transfer hook
    data: bytes
    segment: int
    offset: int


def el_torito_entry(disk: Any) -> Optional[bytes]:
    """The 32-byte initial entry of a CD's El Torito boot catalog when it is
    bootable, whatever its emulation; None without a valid catalog."""
    if disk.sectors < (BOOT_RECORD_LBA + 1) * 4:
        return None
    record = disk.read(BOOT_RECORD_LBA * 4, 4)
    if record[:len(EL_TORITO_ID)] != EL_TORITO_ID:
        return None
    catalog_lba = int.from_bytes(record[0x47:0x4B], "little")
    if (catalog_lba + 1) * 4 > disk.sectors:
        return None
    catalog = disk.read(catalog_lba * 4, 4)
    validation = catalog[:32]
    checksum = sum(int.from_bytes(validation[i:i + 2], "little") for i in range(0, 32, 2)) & 0xFFFF
    if validation[0] != CATALOG_HEADER_ID or validation[30:32] != CATALOG_KEY or checksum:
        return None
    entry = catalog[32:64]
    return bytes(entry) if entry[0] == BOOTABLE else None


def el_torito_image(disk: Any) -> Optional[tuple]:
    """(image LBA, load segment, 512-byte sector count, media type) of a bootable
    El Torito CD in no-emulation (media type 0), floppy emulation (1-3) or
    hard-disk emulation (4, with a geometry in its partition table), or None."""
    entry = el_torito_entry(disk)
    if entry is None:
        return None
    media = entry[1] & 0x0F
    segment = int.from_bytes(entry[2:4], "little") or DEFAULT_LOAD_SEGMENT
    count = int.from_bytes(entry[6:8], "little")
    lba = int.from_bytes(entry[8:12], "little")
    if media in EMULATED_FLOPPIES:
        cylinders, heads, spt, _ = EMULATED_FLOPPIES[media]
        size = cylinders * heads * spt
    elif media in (NO_EMULATION, EMULATED_HARD_DISK):
        size = count
    else:
        return None
    if count == 0 or (lba * CD_SECTOR + max(count, size) * SECTOR) > disk.sectors * SECTOR:
        return None
    if media == EMULATED_HARD_DISK and partition_geometry(disk.read(lba * (CD_SECTOR // SECTOR), 1)) is None:
        return None
    return lba, segment, count, media


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

    def check_kernel(self) -> None:
        """Read and check `bios.kernel` at start-up, so a bad file is a one-line
        error before the machine runs, not at int 19h."""
        self.load_kernel()

    def load_kernel(self) -> Optional[Loaded]:
        options = self.bios.options
        if not options["kernel"]:
            if options["initrd"]:
                raise UserError("--initrd needs --kernel")
            return None
        return load_kernel(options["kernel"], options["initrd"], options["append"],
                           self.ctx.bus.ram_size, self.bios.system.memory_map(),
                           options["initrd_name"])

    def boot_kernel(self, cpu: Any, loaded: Loaded) -> None:
        bus = self.ctx.bus
        for address, data in loaded.pieces:
            bus.write_bytes(address, data)
        for address, length in loaded.zeroed:
            bus.write_bytes(address, bytes(length))
        for name in ("ax", "bx", "cx", "dx", "si", "di", "bp"):
            cpu.set_reg(name, 0)
        for name in ("ds", "es", "fs", "gs", "ss"):
            cpu.set_reg(name, loaded.segment)
        cpu.set_reg("sp", loaded.stack)
        cpu.set_flag("if", False)
        if loaded.segment:
            cpu.set_reg("cs", loaded.segment + 0x20)        # Linux: setup entry at seg+20h:0
            cpu.set_reg("ip", 0)
        else:
            cpu.set_reg("cs", 0)
            cpu.set_reg("ip", loaded.offset)

    def find_boot_image(self) -> Optional[BootImage]:
        """The first bootable device in the boot order, with what to load where."""
        disks = self.bios.disk
        for device in self.bios.boot_order():
            number = DEVICE_DRIVES[device]
            disk = disks.drive(number)
            if disk is None or disk.sectors == 0:
                continue
            if number == CDROM_DRIVE:
                found = el_torito_image(disk)
                if found is None:
                    continue
                lba, segment, count, media = found
                self.bios.state.cd_boot = [lba, segment, count, media]
                if media == EMULATED_HARD_DISK:
                    # the emulated disk is drive 80h from now on: the BDA counts it
                    self.ctx.set_bda8(c.BDA_HD_COUNT, disks.hard_disk_count())
                    number = 0x80
                elif media:
                    # the emulated floppy is drive 00h from now on: the equipment word counts it
                    self.ctx.set_bda16(c.BDA_EQUIPMENT, self.bios.post.equipment_word())
                    number = 0x00
                return BootImage(number, lba * 4, disk.read(lba * 4, count), segment, 0)
            sector = disk.read(0, 1)
            if number >= 0x80 and sector[510:512] != BOOT_SIGNATURE:
                continue
            return BootImage(number, 0, sector, BOOT_SEGMENT, BOOT_OFFSET)
        return None

    def boot(self, cpu: Any) -> bool:
        loaded = self.load_kernel()
        if loaded is not None:
            self.boot_kernel(cpu, loaded)
            return True
        image = self.find_boot_image()
        if image is None:
            return False
        self.ctx.bus.write_bytes(c.linear(image.segment, image.offset), image.data)
        hooks = self.bios.machine.hooks
        if hooks.disk_transfer:
            disk = self.bios.disk.drive(image.drive)
            hooks.call.disk_transfer(machine=self.bios.machine, drive=disk.name, operation="read",
                                     lba=image.first_sector, count=len(image.data) // 512)
        for name in ("ax", "bx", "cx", "si", "di", "bp", "ds", "es"):
            cpu.set_reg(name, 0)
        cpu.set_reg("dx", image.drive)
        cpu.set_flag("if", True)
        cpu.set_reg("cs", image.segment)
        cpu.set_reg("ip", image.offset)
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
