"""Int 13h: floppy and hard-disk services on the machine's media (`machine.media`).

Drive numbers: 00h/01h are `fda`/`fdb`, 80h/81h... are `hda`..`hdd` in order of
presence, E0h is the `cdrom` (2048-byte sectors, extensions only, read-only).  CHS requests use the drive's BIOS geometry: the standard geometry of the
floppy format, and for hard disks the LBA-assisted translation of the EDD
specification's table (63 sectors per track; 16 heads up to 1024 x 16 x 63
sectors, then 32, 64, 128 and 255; at most 1024 cylinders, so sectors past
1024 x 255 x 63 are reached through the extensions only), reported through
AH=08h with cylinder bits 8-9 in CL bits 6-7.  (SeaBIOS and Bochs' LBA mode pick
the head count from sectors / 63 / 1024 rounded down, which differs from the
table only in the last 1/17 of each size band; both may also choose the "large"
bit-shift translation.)  The extensions (AH=41h-48h) address sectors by LBA;
AH=48h reports the physical (ATA default) geometry.

Disk change (RBIL int 13h AH=16h; the IBM AT BIOS): the floppy controller's
disk-change line (DIR bit 7) is the one truth, read as a BIOS reads DIR.  AH=16h
answers 06h when the line is active and resets it (a step out and back, as the
BIOS's seek does), so a change is reported once; with the drive empty the line
cannot be reset and the answer is 80h (not ready).  A read, write, verify or
format with the line active fails once with 06h (media changed) and resets it,
so DOS-style callers re-read their view of the disk; the next call sees the new
medium and its geometry.  POST steps every floppy drive with a disk in, as the
AT's drive seek test does, so a freshly booted guest sees no change.  A drive
that no controller serves has no line: AH=16h answers 06h always, as SeaBIOS
and Bochs do.  An ejected or empty drive still exists (AH=15h 02h; AH=08h counts it
and answers with its CMOS type's largest format, as Bochs and SeaBIOS do); its
transfers time out (80h).

A CD booted in El Torito floppy emulation (`boot.py`) becomes drive 00h: the
boot image's sectors as a read-only floppy of the format the catalog names,
without a change line; the machine's `fda` moves to 01h and `fdb` is hidden, as
the El Torito specification and SeaBIOS have it, until AH=4Bh AL=00h ends the
emulation.  A CD booted in hard-disk emulation becomes drive 80h the same way,
read-only, with the geometry of the end of its first partition (as SeaBIOS
reads it: sectors per track and cylinders from the ending CHS, heads = ending
head + 1); the machine's hard disks move up one number and the BDA's count
includes the emulated one while the emulation lasts.
Transfers are copied straight between the image and guest memory, so a buffer that
crosses a 64 KiB boundary works (no AH=09h "DMA boundary" error, unlike an ISA DMA
floppy controller); a transfer that would run past the end of the 1 MiB + 64 KiB
real-mode space with CHS wraps within the segment as the offset does.
"""

from typing import Any, Dict, Optional, Tuple

from pcmachine.plugins.floppy.controller import FloppyController

from . import common as c
from .rom import OFFSET_DISKETTE_TABLE, IRET, RomBuilder

SECTOR = 512
CD_SECTOR = 2048
CDROM_DRIVE = 0xE0
EMULATION_STATUS_SIZE = 0x13
FLOPPY_DRIVES = ("fda", "fdb")
HARD_DRIVES = ("hda", "hdb", "hdc", "hdd")

# AH status codes
OK = 0x00
BAD_COMMAND = 0x01
ADDRESS_MARK_NOT_FOUND = 0x02
WRITE_PROTECTED = 0x03
SECTOR_NOT_FOUND = 0x04
MEDIA_CHANGED = 0x06
MEDIA_TYPE_NOT_FOUND = 0x0C
CONTROLLER_FAILURE = 0x20
NOT_READY = 0xAA
TIMEOUT = 0x80

# Diskette parameter table (int 1Eh) for 1.44M drives: step rate/head unload, head
# load/DMA, motor-off delay, 512-byte sectors, 18 sectors per track, gap length, data
# length, format gap, fill byte, head settle, motor start.
DISKETTE_TABLE = bytes((0xAF, 0x02, 0x25, 0x02, 0x12, 0x1B, 0xFF, 0x6C, 0xF6, 0x0F, 0x08))
FLOPPY_CMOS_TYPES = {1: 0x01, 2: 0x02, 3: 0x03, 4: 0x04, 5: 0x05}
#: each CMOS drive type's largest format (cylinders, heads, sectors per track)
DRIVE_TYPE_GEOMETRY = {1: (40, 2, 9), 2: (80, 2, 15), 3: (80, 2, 9), 4: (80, 2, 18), 5: (80, 2, 36)}
#: El Torito floppy emulation media types -> (cylinders, heads, sectors per track, floppy type)
EMULATED_FLOPPIES = {1: (80, 2, 15, 2), 2: (80, 2, 18, 4), 3: (80, 2, 36, 5)}
#: the El Torito media type of hard-disk emulation
EMULATED_HARD_DISK = 4
#: where the MBR's first partition entry keeps its ending head, sector and cylinder
PARTITION_END = 0x1BE + 5
EDD_VERSION = 0x30
EDD_SUPPORT = 0x0005          # fixed-disk access (42h-44h, 47h, 48h) and EDD (48h)
EBDA_FDPT0, EBDA_FDPT1 = 0x3D, 0x4D
ATA_MAX_CYLINDERS = 16383


def fixed_disk_table(cylinders: int, heads: int, spt: int) -> bytes:
    """The int 41h/46h fixed-disk parameter table (16 bytes, AT layout)."""
    table = bytearray(16)
    table[0:2] = min(cylinders, 0xFFFF).to_bytes(2, "little")
    table[2] = heads & 0xFF
    table[5:7] = b"\xFF\xFF"                 # write precompensation: none
    table[8] = 0x08 if heads > 8 else 0x00   # control byte: more than 8 heads
    table[12:14] = min(cylinders, 0xFFFF).to_bytes(2, "little")  # landing zone
    table[14] = spt
    return bytes(table)


def translated_geometry(disk: Any) -> Tuple[int, int, int]:
    """(cylinders, heads, sectors per track) the BIOS reports for a hard disk."""
    total = disk.sectors
    spt = 63
    for heads in (16, 32, 64, 128, 255):
        if total <= 1024 * heads * spt:
            break
    cylinders = max(1, min(1024, total // (heads * spt)))
    return cylinders, heads, spt


def physical_geometry(disk: Any) -> Tuple[int, int, int]:
    """The drive's default (ATA IDENTIFY) geometry: 16 heads, 63 sectors per track,
    at most 16383 cylinders."""
    return min(ATA_MAX_CYLINDERS, max(1, disk.sectors // (16 * 63))), 16, 63


def partition_geometry(mbr: bytes) -> Optional[Tuple[int, int, int]]:
    """(cylinders, heads, sectors per track) of a disk whose first partition ends
    at its last sector, from the partition's ending CHS, as SeaBIOS sizes an El
    Torito hard-disk image; None when the entry has no ending sector."""
    if len(mbr) < SECTOR:
        return None
    head, sector, cylinder = mbr[PARTITION_END:PARTITION_END + 3]
    if not sector & 0x3F:
        return None
    return ((sector << 2) & 0x300) + cylinder + 1, head + 1, sector & 0x3F


class EmulatedDrive:
    """The drive a CD's El Torito boot image stands for: its sectors, read-only."""

    readonly = True

    def __init__(self, cd: Any, image_lba: int, geometry: Tuple[int, int, int]) -> None:
        self.cd = cd
        self.name = cd.name
        self.first = image_lba * (CD_SECTOR // SECTOR)
        self.cylinders, self.heads, self.spt = geometry
        self.sectors = self.cylinders * self.heads * self.spt
        self.readable_sectors = max(0, min(self.sectors, cd.sectors - self.first))

    def read(self, lba: int, count: int) -> bytes:
        return self.cd.read(self.first + lba, count)

    def chs_to_lba(self, cylinder: int, head: int, sector: int) -> int:
        return (cylinder * self.heads + head) * self.spt + sector - 1


class EmulatedFloppy(EmulatedDrive):
    """Floppy emulation: drive 00h, of the format the catalog's media type names."""

    kind = "floppy"

    def __init__(self, cd: Any, image_lba: int, media_type: int) -> None:
        cylinders, heads, spt, self.floppy_type = EMULATED_FLOPPIES[media_type]
        super().__init__(cd, image_lba, (cylinders, heads, spt))


class EmulatedHardDisk(EmulatedDrive):
    """Hard-disk emulation: drive 80h, as large as its first partition says."""

    kind = "hdd"


class DiskServices:
    """Drive lookup, CHS/LBA transfers and the int 13h dispatcher."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        rom.place(OFFSET_DISKETTE_TABLE, DISKETTE_TABLE, "diskette_table")
        entry = rom.hostcall(self.int13, IRET, "int13")
        # int 40h: the diskette service a hard-disk BIOS relocates; here the same.
        return {0x1E: OFFSET_DISKETTE_TABLE, 0x13: entry, 0x40: entry}

    # ------------------------------------------------------------ drives
    def media(self) -> Dict[str, Any]:
        return self.bios.machine.media

    def hard_disks(self) -> list:
        return [name for name in HARD_DRIVES if name in self.media()]

    def hard_disk_count(self) -> int:
        """Hard disks int 13h numbers, the emulated one included."""
        return len(self.hard_disks()) + (self.emulated_hard_disk() is not None)

    def floppy_count(self) -> int:
        """Floppy drives, with or without a medium."""
        drives = self.bios.machine.drives.names()
        count = sum(1 for name in FLOPPY_DRIVES if name in drives)
        return min(2, count + 1) if self.emulated_floppy() is not None else count

    def floppy_controller(self, name: str) -> Optional[FloppyController]:
        """The controller serving floppy drive `name`, if any (the change line's owner)."""
        for component in self.bios.machine.components.values():
            if isinstance(component, FloppyController) and component.change_line(name) is not None:
                return component
        return None

    def emulated_floppy(self) -> Optional[EmulatedFloppy]:
        """Drive 00h while a CD booted in El Torito floppy emulation, else None."""
        boot = self.bios.state.cd_boot
        cd = self.media().get("cdrom")
        if len(boot) < 4 or boot[3] not in EMULATED_FLOPPIES or cd is None:
            return None
        return EmulatedFloppy(cd, boot[0], boot[3])

    def emulated_hard_disk(self) -> Optional[EmulatedHardDisk]:
        """Drive 80h while a CD booted in El Torito hard-disk emulation, else None."""
        boot = self.bios.state.cd_boot
        cd = self.media().get("cdrom")
        if len(boot) < 4 or boot[3] != EMULATED_HARD_DISK or cd is None:
            return None
        geometry = partition_geometry(cd.read(boot[0] * (CD_SECTOR // SECTOR), 1))
        return EmulatedHardDisk(cd, boot[0], geometry) if geometry is not None else None

    def floppy_name(self, number: int) -> Optional[str]:
        """The machine's floppy drive behind int 13h drive `number` (0 or 1); None
        for the emulated drive and for `fdb` while the emulation holds 00h."""
        if self.emulated_floppy() is None:
            return FLOPPY_DRIVES[number]
        return FLOPPY_DRIVES[number - 1] if number else None

    def media_change(self, number: int) -> int:
        """The change line of floppy `number`: OK when inactive; otherwise reset it
        and answer MEDIA_CHANGED, or TIMEOUT when it stays active (no medium)."""
        name = self.floppy_name(number)
        if name is None:
            return OK
        fdc = self.floppy_controller(name)
        if fdc is None or not fdc.change_line(name):
            return OK
        return TIMEOUT if fdc.step_out_and_back(name) else MEDIA_CHANGED

    def floppy_cmos_type(self, name: str) -> int:
        drive_type = self.bios.machine.drives.drive_type(name)
        return FLOPPY_CMOS_TYPES.get(drive_type, 4) if drive_type else 0

    def drive(self, number: int) -> Optional[Any]:
        if number == CDROM_DRIVE:
            return self.media().get("cdrom")
        if number < 0x80:
            if number >= 2:
                return None
            name = self.floppy_name(number)
            return self.emulated_floppy() if name is None and number == 0 else self.media().get(name)
        disks = self.hard_disks()
        index = number - 0x80
        emulated = self.emulated_hard_disk()
        if emulated is not None:
            if index == 0:
                return emulated
            index -= 1
        return self.media()[disks[index]] if index < len(disks) else None

    def geometry(self, number: int, disk: Any) -> Tuple[int, int, int]:
        if number < 0x80 or isinstance(disk, EmulatedHardDisk):
            return disk.cylinders, disk.heads, disk.spt
        return translated_geometry(disk)

    def post(self) -> None:
        """Drive counts and media state in the BDA; the fixed-disk parameter tables
        of the first two hard disks in the EBDA (as Bochs keeps them), pointed to by
        int 41h and 46h."""
        ctx = self.ctx
        ctx.set_bda8(c.BDA_HD_COUNT, len(self.hard_disks()))
        for name in FLOPPY_DRIVES:
            fdc = self.floppy_controller(name)
            if fdc is not None:
                fdc.step_out_and_back(name)          # the drive seek test
        for index, name in enumerate(FLOPPY_DRIVES):
            # media established (bit 4), 500 kbit/s, 1.44M in 1.44M drive.
            ctx.set_bda8(c.BDA_FLOPPY_MEDIA + index, 0x17 if name in self.media() else 0)
        ebda = ctx.bda16(c.BDA_EBDA_SEGMENT)
        for number, vector, offset in ((0x80, 0x41, EBDA_FDPT0), (0x81, 0x46, EBDA_FDPT1)):
            disk = self.drive(number)
            geometry = translated_geometry(disk) if disk is not None else (0, 0, 0)
            ctx.bus.write_bytes((ebda << 4) + offset, fixed_disk_table(*geometry))
            ctx.write16(vector * 4, offset)
            ctx.write16(vector * 4 + 2, ebda)

    def set_status(self, number: int, status: int) -> None:
        self.ctx.set_bda8(c.BDA_FLOPPY_STATUS if number < 0x80 else c.BDA_HD_STATUS, status)

    def finish(self, cpu: Any, number: int, status: int) -> None:
        self.set_status(number, status)
        if status == OK:
            c.succeed(cpu)
        else:
            c.fail(cpu, status)

    # ------------------------------------------------------------ dispatcher
    def int13(self, cpu: Any) -> None:
        function = cpu.get_reg("ah")
        self.bios.call_hook(cpu, 0x13, function)
        number = cpu.get_reg("dl")
        disk = self.drive(number)
        if function == 0x01:
            status = self.ctx.bda8(c.BDA_FLOPPY_STATUS if number < 0x80 else c.BDA_HD_STATUS)
            cpu.set_reg("ah", status)
            self.set_status(number, OK)
            c.set_return_flags(cpu, cf=status != OK)
            return
        if number == CDROM_DRIVE and function not in CD_FUNCTIONS:
            self.finish(cpu, number, WRITE_PROTECTED if function in (0x03, 0x43) else BAD_COMMAND)
            return
        if function == 0x15:
            self.drive_type(cpu, number, disk)
            return
        if function == 0x08:
            self.parameters(cpu, number, disk)
            return
        if disk is None:
            self.finish(cpu, number, TIMEOUT if number < 0x80 else BAD_COMMAND)
            return
        handler = self.HANDLERS.get(function)
        if handler is None:
            self.finish(cpu, number, BAD_COMMAND)
            return
        if number < 2 and function in MEDIUM_FUNCTIONS:
            status = self.media_change(number)
            if status != OK:
                cpu.set_reg("al", 0)
                self.finish(cpu, number, status)
                return
        handler(self, cpu, number, disk)

    # ------------------------------------------------------------ functions
    def reset(self, cpu: Any, number: int, disk: Any) -> None:
        self.finish(cpu, number, OK)

    def chs_transfer(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=02h read, 03h write, 04h verify: AL sectors from CH/CL cylinder and
        sector, DH head, to/from ES:BX.  AL returns the sectors done."""
        function = cpu.get_reg("ah")
        count = cpu.get_reg("al")
        cx = cpu.get_reg("cx")
        cylinder = (cx >> 8) | ((cx & 0xC0) << 2)
        sector = cx & 0x3F
        head = cpu.get_reg("dh")
        cylinders, heads, spt = self.geometry(number, disk)
        if count == 0 or sector == 0 or sector > spt or head >= heads or cylinder >= cylinders:
            cpu.set_reg("al", 0)
            self.finish(cpu, number, SECTOR_NOT_FOUND if count else BAD_COMMAND)
            return
        lba = (cylinder * heads + head) * spt + sector - 1
        buffer = c.linear(cpu.get_reg("es"), cpu.get_reg("bx"))
        done, status = self.transfer(number, disk, {0x02: "read", 0x03: "write", 0x04: "verify"}[function],
                                     lba, count, buffer)
        cpu.set_reg("al", done)
        self.finish(cpu, number, status)

    def set_media_type(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=17h / 18h before formatting a floppy: accepted when the media type
        matches the inserted medium (18h: CH/CL maximum track and sectors; ES:DI
        = the diskette parameter table), else AH=0Ch."""
        if number >= 0x80:
            self.finish(cpu, number, BAD_COMMAND)
            return
        if cpu.get_reg("ah") == 0x18:
            cx = cpu.get_reg("cx")
            tracks = ((cx >> 8) | ((cx & 0xC0) << 2)) + 1
            if tracks != disk.cylinders or cx & 0x3F != disk.spt:
                self.finish(cpu, number, MEDIA_TYPE_NOT_FOUND)
                return
            cpu.set_reg("es", 0xF000)
            cpu.set_reg("di", OFFSET_DISKETTE_TABLE)
        self.finish(cpu, number, OK)

    def format_track(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=05h: floppies fill each sector named by the AL address fields (C, H,
        R, N) at ES:BX with the fill byte of the diskette parameter table; hard
        disks (whose tracks IDE formats itself) report success."""
        if number >= 0x80:
            self.finish(cpu, number, OK)
            return
        if disk.readonly:
            self.finish(cpu, number, WRITE_PROTECTED)
            return
        fields = c.linear(cpu.get_reg("es"), cpu.get_reg("bx"))
        fill = bytes((DISKETTE_TABLE[8],)) * SECTOR
        for index in range(cpu.get_reg("al")):
            cylinder, head, sector = (self.ctx.read8(fields + 4 * index + i) for i in range(3))
            if not (cylinder < disk.cylinders and head < disk.heads and 1 <= sector <= disk.spt):
                self.finish(cpu, number, SECTOR_NOT_FOUND)
                return
            lba = disk.chs_to_lba(cylinder, head, sector)
            if lba >= disk.sectors:                   # past the end of a short image
                self.finish(cpu, number, SECTOR_NOT_FOUND)
                return
            try:
                disk.write(lba, fill)
            except OSError:
                self.finish(cpu, number, CONTROLLER_FAILURE)
                return
            hooks = self.bios.machine.hooks
            if hooks.disk_transfer:
                hooks.call.disk_transfer(machine=self.bios.machine, drive=disk.name,
                                         operation="write", lba=lba, count=1)
        self.finish(cpu, number, OK)

    def transfer(self, number: int, disk: Any, operation: str, lba: int, count: int,
                 buffer: int) -> Tuple[int, int]:
        """Move blocks (512 bytes, 2048 on the CD-ROM); returns (blocks done, status)."""
        scale = CD_SECTOR // SECTOR if number == CDROM_DRIVE else 1
        end = disk.sectors if operation == "write" else disk.readable_sectors
        available = max(0, min(count, end // scale - lba))
        status = OK if available == count else SECTOR_NOT_FOUND
        if operation == "write" and disk.readonly:
            return 0, WRITE_PROTECTED
        if available:
            first, sectors = lba * scale, available * scale
            try:
                if operation == "read":
                    self.ctx.bus.write_bytes(buffer, disk.read(first, sectors))
                elif operation == "write":
                    disk.write(first, self.ctx.bus.read_bytes(buffer, sectors * SECTOR))
            except OSError:
                return 0, CONTROLLER_FAILURE      # the host cannot read or write the image (full disk)
            hooks = self.bios.machine.hooks
            if hooks.disk_transfer:
                hooks.call.disk_transfer(machine=self.bios.machine, drive=disk.name,
                                         operation=operation, lba=first, count=sectors)
        return available, status

    def parameters(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=08h: geometry in CX/DH, drive count in DL; floppies also BL = type
        and ES:DI = the diskette parameter table."""
        if disk is None and number >= 2:
            self.finish(cpu, number, BAD_COMMAND)
            return
        if disk is None:
            # An empty drive answers with its type's largest format, as Bochs'
            # rombios and SeaBIOS do from CMOS; no drive at all: zeros.
            name = self.floppy_name(number)
            drive_type = self.floppy_cmos_type(name) if name is not None else 0
            if drive_type not in DRIVE_TYPE_GEOMETRY:
                for name in ("ax", "bx", "cx", "dx", "di", "es"):
                    cpu.set_reg(name, 0)
                cpu.set_reg("dl", self.floppy_count())
                self.finish(cpu, number, OK)
                return
            cylinders, heads, spt = DRIVE_TYPE_GEOMETRY[drive_type]
        else:
            drive_type = FLOPPY_CMOS_TYPES.get(disk.floppy_type, 4) if number < 0x80 else 0
            cylinders, heads, spt = self.geometry(number, disk)
        max_cylinder = cylinders - 1
        cpu.set_reg("ch", max_cylinder & 0xFF)
        cpu.set_reg("cl", (spt & 0x3F) | ((max_cylinder >> 2) & 0xC0))
        cpu.set_reg("dh", heads - 1)
        if number < 0x80:
            cpu.set_reg("dl", self.floppy_count())
            cpu.set_reg("bl", drive_type)
            cpu.set_reg("bh", 0)
            cpu.set_reg("es", 0xF000)
            cpu.set_reg("di", OFFSET_DISKETTE_TABLE)
        else:
            cpu.set_reg("dl", self.hard_disk_count())
        cpu.set_reg("al", 0)
        self.finish(cpu, number, OK)

    def drive_type(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=15h: AH = 00h none, 01h floppy without change line, 02h floppy with
        change line, 03h hard disk with CX:DX sectors."""
        if number < 2 and self.floppy_name(number) in self.bios.machine.drives.empty:
            cpu.set_reg("ah", 0x02)                # an empty drive still has its change line
            self.set_status(number, OK)
            c.set_return_flags(cpu, cf=False)
            return
        if disk is None:
            cpu.set_reg("ah", 0)
            c.set_return_flags(cpu, cf=number >= 0x80)
            return
        if number < 0x80:
            # 360K drives have no change line (as Bochs reports them), nor the emulated one
            cpu.set_reg("ah", 0x01 if disk.floppy_type == 1 or self.floppy_name(number) is None else 0x02)
        else:
            cylinders, heads, spt = self.geometry(number, disk)
            sectors = cylinders * heads * spt
            cpu.set_reg("cx", sectors >> 16)
            cpu.set_reg("dx", sectors & 0xFFFF)
            cpu.set_reg("ah", 0x03)
        self.set_status(number, OK)
        c.set_return_flags(cpu, cf=False)

    def change_line(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=16h: 00h no change, 06h changed (reported once), 80h no medium; a
        drive without a controller's change line always reports 06h."""
        if number >= 0x80:
            self.finish(cpu, number, BAD_COMMAND)
        elif self.floppy_name(number) is None:
            self.finish(cpu, number, OK)
        elif self.floppy_controller(self.floppy_name(number)) is None:
            self.finish(cpu, number, MEDIA_CHANGED)
        else:
            self.finish(cpu, number, self.media_change(number))

    def extensions_check(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=41h BX=55AAh: BX=AA55h, AH = EDD version, CX = supported subsets."""
        if number < 0x80 or cpu.get_reg("bx") != 0x55AA:
            self.finish(cpu, number, BAD_COMMAND)
            return
        cpu.set_reg("bx", 0xAA55)
        cpu.set_reg("cx", EDD_SUPPORT)
        self.set_status(number, OK)
        cpu.set_reg("ah", EDD_VERSION)
        c.set_return_flags(cpu, cf=False)

    def extended_transfer(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=42h read, 43h write, 44h verify with the disk address packet at DS:SI:
        size, 0, block count (updated to the blocks done), buffer seg:off, LBA (64
        bits), and, when the packet is 18h bytes and the buffer FFFF:FFFF, a 64-bit
        flat buffer address."""
        if number < 0x80:
            self.finish(cpu, number, BAD_COMMAND)
            return
        ctx = self.ctx
        packet = c.linear(cpu.get_reg("ds"), cpu.get_reg("si"))
        size = ctx.read8(packet)
        count = ctx.read16(packet + 2)
        offset, segment = ctx.read16(packet + 4), ctx.read16(packet + 6)
        lba = ctx.read32(packet + 8) | (ctx.read32(packet + 12) << 32)
        if size < 0x10:
            self.finish(cpu, number, BAD_COMMAND)
            return
        buffer = c.linear(segment, offset)
        if size >= 0x18 and offset == 0xFFFF and segment == 0xFFFF:
            buffer = ctx.read32(packet + 0x10)
        operation = {0x42: "read", 0x43: "write", 0x44: "verify"}[cpu.get_reg("ah")]
        blocks = disk.sectors // (CD_SECTOR // SECTOR) if number == CDROM_DRIVE else disk.sectors
        if lba >= blocks:
            ctx.write16(packet + 2, 0)
            self.finish(cpu, number, SECTOR_NOT_FOUND)
            return
        done, status = self.transfer(number, disk, operation, lba, count, buffer)
        ctx.write16(packet + 2, done)
        self.finish(cpu, number, status)

    def extended_parameters(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=48h: the result buffer at DS:SI (1Ah bytes, or 1Eh with a DPTE pointer
        of FFFF:FFFF meaning none).  Its cylinders, heads and sectors are the drive's
        physical geometry (EDD: "use AH=08h for the logical one"), as SeaBIOS and
        Bochs report the ATA default geometry there."""
        if number < 0x80:
            self.finish(cpu, number, BAD_COMMAND)
            return
        ctx = self.ctx
        buffer = c.linear(cpu.get_reg("ds"), cpu.get_reg("si"))
        size = ctx.read16(buffer)
        if size < 0x1A:
            self.finish(cpu, number, BAD_COMMAND)
            return
        data = bytearray(0x1E if size >= 0x1E else 0x1A)
        data[0:2] = len(data).to_bytes(2, "little")
        if number == CDROM_DRIVE:
            data[2:4] = (0x0004).to_bytes(2, "little")   # removable, no CHS
            data[16:24] = (disk.sectors // 4).to_bytes(8, "little")
            data[24:26] = CD_SECTOR.to_bytes(2, "little")
        else:
            emulated = isinstance(disk, EmulatedHardDisk)
            cylinders, heads, spt = self.geometry(number, disk) if emulated else physical_geometry(disk)
            data[2:4] = (0x0002).to_bytes(2, "little")   # CHS information valid
            data[4:8] = cylinders.to_bytes(4, "little")
            data[8:12] = heads.to_bytes(4, "little")
            data[12:16] = spt.to_bytes(4, "little")
            data[16:24] = disk.sectors.to_bytes(8, "little")
            data[24:26] = SECTOR.to_bytes(2, "little")
        if len(data) == 0x1E:
            data[26:30] = b"\xFF\xFF\xFF\xFF"
        ctx.bus.write_bytes(buffer, bytes(data))
        self.finish(cpu, number, OK)

    def emulated_drive_number(self) -> Optional[int]:
        """00h or 80h while a CD's boot image stands for that drive, else None."""
        if self.emulated_floppy() is not None:
            return 0x00
        return 0x80 if self.emulated_hard_disk() is not None else None

    def emulation_status(self, cpu: Any, number: int, disk: Any) -> None:
        """AH=4Bh AL=00h/01h, for the CD or the emulated drive: the El Torito
        specification packet at DS:SI; AL=00h also ends the emulation (the hard
        disks then take their own numbers and count again)."""
        boot = self.bios.state.cd_boot
        emulated = self.emulated_drive_number()
        if number not in (CDROM_DRIVE, emulated) or cpu.get_reg("al") > 1 or not boot:
            self.finish(cpu, number, BAD_COMMAND)
            return
        lba, segment, count, media = boot
        packet = bytearray(EMULATION_STATUS_SIZE)
        packet[0] = EMULATION_STATUS_SIZE
        packet[1] = media if emulated is not None else 0
        packet[2] = CDROM_DRIVE if emulated is None else emulated
        packet[4:8] = lba.to_bytes(4, "little")
        packet[0x0C:0x0E] = segment.to_bytes(2, "little")
        packet[0x0E:0x10] = count.to_bytes(2, "little")
        self.ctx.bus.write_bytes(c.linear(cpu.get_reg("ds"), cpu.get_reg("si")), bytes(packet))
        if cpu.get_reg("al") == 0 and emulated is not None:
            boot[3] = 0
            self.ctx.set_bda8(c.BDA_HD_COUNT, self.hard_disk_count())
        self.finish(cpu, number, OK)

    HANDLERS = {
        0x00: reset, 0x02: chs_transfer, 0x03: chs_transfer, 0x04: chs_transfer,
        0x05: format_track, 0x0C: reset, 0x0D: reset, 0x10: reset, 0x11: reset,
        0x16: change_line, 0x17: set_media_type, 0x18: set_media_type, 0x41: extensions_check, 0x42: extended_transfer,
        0x43: extended_transfer, 0x44: extended_transfer, 0x47: extended_transfer,
        0x48: extended_parameters, 0x4B: emulation_status,
    }


#: floppy functions that touch the medium, and so report a change first
MEDIUM_FUNCTIONS = (0x02, 0x03, 0x04, 0x05)
#: what int 13h offers on the CD-ROM drive
CD_FUNCTIONS = (0x00, 0x01, 0x0D, 0x10, 0x11, 0x41, 0x42, 0x44, 0x47, 0x48, 0x4B)
