"""Int 19h boot paths: a FAT12 floppy whose boot sector finds and loads LOADER.BIN
through its cluster chain, MBRs loading a multi-sector loader with AH=42h and with
AH=02h, the boot order, the 55AAh check and the "No bootable device" screen."""

from typing import Dict, List

import pytest

from bios_support import BiosCallLog, build_guest, cpu_kind, make_machine, run_guest, screen_text

SECTOR = 512
FLOPPY_SECTORS = 2880
RESERVED, FATS, SECTORS_PER_FAT, ROOT_ENTRIES = 1, 2, 9, 224
ROOT_LBA = RESERVED + FATS * SECTORS_PER_FAT
DATA_LBA = ROOT_LBA + ROOT_ENTRIES * 32 // SECTOR
END_OF_CHAIN = 0xFFF


def fat12_table(chains: List[List[int]]) -> bytes:
    """A FAT12 table (media F0h) linking each chain of clusters."""
    entries: Dict[int, int] = {0: 0xFF0, 1: 0xFFF}
    for chain in chains:
        for cluster, following in zip(chain, chain[1:] + [END_OF_CHAIN]):
            entries[cluster] = following
    table = bytearray(SECTORS_PER_FAT * SECTOR)
    for cluster, value in entries.items():
        offset = cluster * 3 // 2
        if cluster & 1:
            table[offset] = (table[offset] & 0x0F) | ((value << 4) & 0xF0)
            table[offset + 1] = (value >> 4) & 0xFF
        else:
            table[offset] = value & 0xFF
            table[offset + 1] = (table[offset + 1] & 0xF0) | (value >> 8)
    return bytes(table)


def directory_entry(name: bytes, first_cluster: int, size: int) -> bytes:
    entry = bytearray(32)
    entry[0:11] = name
    entry[11] = 0x20                                   # archive
    entry[26:28] = first_cluster.to_bytes(2, "little")
    entry[28:32] = size.to_bytes(4, "little")
    return bytes(entry)


def fat12_floppy(path: str, boot_sector: bytes, files: Dict[bytes, tuple]) -> str:
    """A 1.44M FAT12 image: `files` maps 8.3 names to (data, cluster chain)."""
    image = bytearray(FLOPPY_SECTORS * SECTOR)
    image[0:SECTOR] = boot_sector
    table = fat12_table([chain for _, chain in files.values()])
    for copy in range(FATS):
        start = (RESERVED + copy * SECTORS_PER_FAT) * SECTOR
        image[start:start + len(table)] = table
    root = bytearray()
    for name, (data, chain) in files.items():
        root += directory_entry(name, chain[0], len(data))
        for index, cluster in enumerate(chain):
            piece = data[index * SECTOR:(index + 1) * SECTOR]
            offset = (DATA_LBA + cluster - 2) * SECTOR
            image[offset:offset + len(piece)] = piece
    image[ROOT_LBA * SECTOR:ROOT_LBA * SECTOR + len(root)] = root
    with open(path, "wb") as handle:
        handle.write(image)
    return path


def hard_disk(path: str, mbr: bytes, loader: bytes, sectors: int = 4096) -> str:
    with open(path, "wb") as handle:
        handle.write((mbr + loader).ljust(sectors * SECTOR, b"\0"))
    return path


def test_fat12_boot_sector_loads_loader_through_cluster_chain(tmp_path, cpu_kind):
    loader = build_guest("loader")
    readme = b"Not the loader.\r\n" * 40
    image = fat12_floppy(str(tmp_path / "fat12.img"), build_guest("fat12boot"), {
        b"README  TXT": (readme, [2, 3]),
        b"LOADER  BIN": (loader, [7, 4, 12, 5]),       # fragmented, out of order
    })
    machine = make_machine({"fda": image}, cpu=cpu_kind)
    calls = BiosCallLog()
    machine.add_plugin(calls)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    assert screen_text(machine, 20).startswith("Loader OK")
    assert "FAT12 boot" in "".join(screen_text(machine, row) for row in range(25))
    # one AH=02h per sector: 14 of root directory, 9 of FAT, 4 of LOADER.BIN
    assert calls.calls.count((0x13, 0x02)) == 14 + 9 + 4


def test_fat12_boot_reports_missing_loader(tmp_path, cpu_kind):
    image = fat12_floppy(str(tmp_path / "fat12.img"), build_guest("fat12boot"),
                         {b"README  TXT": (b"x" * 100, [2])})
    machine = make_machine({"fda": image}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == ""
    assert any(screen_text(machine, row).startswith("E:N") for row in range(25))


@pytest.mark.parametrize("mbr, function", [("mbr_lba", 0x42), ("mbr_chs", 0x02)])
def test_mbr_loads_multi_sector_loader(tmp_path, mbr, function, cpu_kind):
    image = hard_disk(str(tmp_path / "hd.img"), build_guest(mbr), build_guest("hdloader"))
    machine = make_machine({"hda": image}, boot=["floppy", "hdd"], cpu=cpu_kind)
    calls = BiosCallLog()
    machine.add_plugin(calls)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    assert (0x13, function) in calls.calls
    assert calls.calls[:2] == [(0xFF, 0x00), (0x19, 0x00)]


def test_boot_order_prefers_first_listed_device(tmp_path, cpu_kind):
    disk = hard_disk(str(tmp_path / "hd.img"), build_guest("mbr_chs"), build_guest("hdloader"))
    floppy = str(tmp_path / "fd.img")
    with open(floppy, "wb") as handle:          # a floppy that would fail loudly
        handle.write((b"\xB0\x46\xE6\xE9\xFA\xF4").ljust(FLOPPY_SECTORS * SECTOR, b"\0"))
    machine = make_machine({"fda": floppy, "hda": disk}, boot=["hdd", "floppy"], cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"
    machine = make_machine({"fda": floppy, "hda": disk}, boot=["floppy", "hdd"], cpu=cpu_kind)
    assert run_guest(machine).text == "F"


def test_boot_sector_entry_state(tmp_path, cpu_kind, floppy_from):
    """DL = drive, CS:IP = 0000:7C00 and IF = 1 at the boot sector's first
    instruction (tests/guests/boot/entry_if.asm: a HLT there ends at the timer tick)."""
    machine = make_machine({"fda": floppy_from(tmp_path, "boot/entry_if.bin")}, cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"
    assert machine.cpu.get_reg("cs") == 0


def test_hard_disk_without_signature_is_not_booted(tmp_path, cpu_kind):
    mbr = bytearray(build_guest("mbr_chs"))
    mbr[510:512] = b"\0\0"
    disk = hard_disk(str(tmp_path / "hd.img"), bytes(mbr), build_guest("hdloader"))
    machine = make_machine({"hda": disk}, boot=["hdd"], cpu=cpu_kind)
    for _ in range(3):
        machine.run_slice()
    rows = [screen_text(machine, row) for row in range(25)]
    assert any(row.startswith("No bootable device.") for row in rows)
    assert machine.cpu.halted and machine.cpu.get_flag("if")


def test_no_media_shows_no_bootable_device_then_boots_when_media_appear(tmp_path, cpu_kind):
    from pcmachine.media import Disk
    from bios_support import PortE9Capture
    machine = make_machine({}, cpu=cpu_kind)
    capture = PortE9Capture()
    machine.add_plugin(capture)
    for _ in range(3):
        machine.run_slice()
    rows = [screen_text(machine, row) for row in range(25)]
    assert any(row.startswith("No bootable device.") for row in rows)
    assert any("Boot order: floppy, hdd, cdrom." in row for row in rows)
    assert machine.cpu.halted and machine.cpu.get_flag("if")
    disk = hard_disk(str(tmp_path / "hd.img"), build_guest("mbr_lba"), build_guest("hdloader"))
    machine.media["hda"] = Disk("hda", disk, "hdd")
    # The next timer tick ends the HLT and the retry finds the disk.
    machine.run_headless(1_000_000)
    assert capture.text == "PASS\n"


def test_cli_trace_lists_the_services_a_boot_used(tmp_path, capsys):
    from pcmachine.cli import main
    image = fat12_floppy(str(tmp_path / "fat12.img"), build_guest("fat12boot"),
                         {b"LOADER  BIN": (build_guest("loader"), [3, 2, 4, 5])})
    trace = tmp_path / "trace.txt"
    status = main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "30",
                   "--wait", "Loader OK", "--trace", str(trace), "--trace-events", "bios"])
    assert status == 0, capsys.readouterr().err
    lines = trace.read_text().splitlines()
    services = [(line.split("vector=")[1][:4], line.split("function=")[1][:4]) for line in lines]
    assert services[:2] == [("0xFF", "0x00"), ("0x19", "0x00")]
    assert services.count(("0x13", "0x02")) == 14 + 9 + 4
    assert ("0x10", "0x13") in services and ("0x10", "0x0E") in services


def test_boots_with_absent_devices(tmp_path):
    """Without VGA (and its PCI function), CMOS, 8042, port 92h and UARTs the BIOS
    skips what is missing (their ports read FFh) and still boots; text goes to plain
    memory at B8000h."""
    image = hard_disk(str(tmp_path / "hd.img"), build_guest("mbr_lba"), build_guest("hdloader"))
    absent = ["vga=null", "vga_pci=null", "cmos=null", "kbc=null", "port92=null", "com1=null",
              "com2=null"]
    machine = make_machine({"hda": image}, overrides=absent)
    assert run_guest(machine).text == "PASS\n"
    assert screen_text(machine, 0).startswith("pcmachine HLE BIOS")
    assert screen_text(machine, 20).startswith("Loader OK")
    assert machine.bus.read_bytes(0x400, 8) == bytes(8)       # no serial ports found


def el_torito_iso(path: str, boot_image: bytes, load_segment: int = 0, media_type: int = 0) -> str:
    """A minimal ISO 9660 image with an El Torito boot entry (no emulation unless
    `media_type` says otherwise): volume descriptors at 16-18, the boot catalog at
    19, the boot image at 20."""
    cd_sector = 2048
    image = bytearray(max(32, 21 + len(boot_image) // cd_sector) * cd_sector)

    def put(lba: int, data: bytes) -> None:
        image[lba * cd_sector:lba * cd_sector + len(data)] = data

    put(16, b"\x01CD001\x01")
    record = bytearray(b"\x00CD001\x01EL TORITO SPECIFICATION".ljust(0x47, b"\0"))
    put(17, bytes(record) + (19).to_bytes(4, "little"))
    put(18, b"\xFFCD001\x01")
    validation = bytearray(32)
    validation[0] = 0x01
    validation[4:4 + 9] = b"pcmachine"
    validation[30:32] = b"\x55\xAA"
    total = sum(int.from_bytes(validation[i:i + 2], "little") for i in range(0, 32, 2))
    validation[28:30] = ((-total) & 0xFFFF).to_bytes(2, "little")
    entry = bytes((0x88, media_type)) + load_segment.to_bytes(2, "little") + bytes(2) \
        + (1 if media_type else len(boot_image) // 512).to_bytes(2, "little") + (20).to_bytes(4, "little")
    put(19, bytes(validation) + entry)
    put(20, boot_image)
    with open(path, "wb") as handle:
        handle.write(image)
    return path


def loader_boot_drive(machine, loader: bytes, base: int) -> int:
    """The DL the loader (loaded at linear `base`) found on entry: it keeps it in
    its last variable, after its failure message."""
    message = b"FAIL loader incomplete\n\0"
    return machine.bus.read_bytes(base + loader.index(message) + len(message), 1)[0]


def test_el_torito_cd_boot_and_cd_services(tmp_path, cpu_kind):
    iso = el_torito_iso(str(tmp_path / "cd.iso"), build_guest("cdboot"))
    machine = make_machine({"cdrom": iso}, boot=["floppy", "cdrom", "hdd"], cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"


def test_cd_without_boot_record_is_skipped(tmp_path):
    iso = el_torito_iso(str(tmp_path / "cd.iso"), build_guest("cdboot"))
    with open(iso, "r+b") as handle:
        handle.seek(17 * 2048 + 7)
        handle.write(b"NOT TORITO")
    disk = hard_disk(str(tmp_path / "hd.img"), build_guest("mbr_chs"), build_guest("hdloader"))
    machine = make_machine({"cdrom": iso, "hda": disk}, boot=["cdrom", "hdd"])
    assert run_guest(machine).text == "PASS\n"          # the hard disk's loader
    assert machine.cpu.get_reg("cs") == 0


def test_floppy_emulation_cd_boots_its_image_as_drive_00h(tmp_path, cpu_kind):
    """A floppy-emulation CD (`mkisofs -b floppy.img` without `-no-emul-boot`, as
    basekernel's ISO): its FAT12 image boots as drive 00h and loads LOADER.BIN
    through int 13h; the machine's own floppy moves to 01h and the equipment word
    counts both; AH=4Bh reports the emulation and AL=00h ends it."""
    floppy = fat12_floppy(str(tmp_path / "fat12.img"), build_guest("fat12boot"),
                          {b"LOADER  BIN": (build_guest("loader"), [2, 3, 4, 5])})
    with open(floppy, "rb") as handle:
        iso = el_torito_iso(str(tmp_path / "cd.iso"), handle.read(), media_type=2)
    other = str(tmp_path / "other.img")
    with open(other, "wb") as handle:
        handle.write(bytes(FLOPPY_SECTORS * SECTOR))
    machine = make_machine({"cdrom": iso, "fda": other}, boot=["cdrom", "floppy"], cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"
    assert screen_text(machine, 20).startswith("Loader OK")
    assert loader_boot_drive(machine, build_guest("loader"), 0x10000) == 0x00
    disks = machine.component("bios").disk
    assert disks.drive(0).read(0, 1) == build_guest("fat12boot")[:SECTOR]
    assert disks.drive(1) is machine.media["fda"]
    assert machine.bus.read_bytes(0x410, 2)[0] & 0xC1 == 0x41          # two floppies
    assert disks.floppy_count() == 2
    cpu = machine.cpu
    for al, emulating in ((0x01, True), (0x00, True), (0x01, False)):   # status, terminate, status
        for name, value in (("ah", 0x4B), ("al", al), ("dl", 0x00 if emulating else 0xE0),
                            ("ds", 0), ("si", 0x600)):
            cpu.set_reg(name, value)
        disks.int13(cpu)
        packet = machine.bus.read_bytes(0x600, 0x13)
        assert cpu.get_reg("ah") == 0 and packet[0] == 0x13
        assert (packet[1], packet[2]) == ((2, 0x00) if emulating else (0, 0xE0))
    assert disks.drive(0) is machine.media["fda"] and disks.floppy_count() == 1


def partitioned_disk(mbr: bytes, loader: bytes, geometry: tuple) -> bytes:
    """A hard disk image whose first partition ends at its last sector of
    `geometry` (cylinders, heads, sectors per track), with MBR and loader."""
    cylinders, heads, spt = geometry
    image = bytearray((mbr + loader).ljust(cylinders * heads * spt * SECTOR, b"\0"))
    last = cylinders - 1
    image[0x1BE:0x1CE] = bytes((0x80, 1, 1, 0, 0x06, heads - 1, spt | (last >> 2 & 0xC0), last & 0xFF)) \
        + spt.to_bytes(4, "little") + (cylinders * heads * spt - spt).to_bytes(4, "little")
    return bytes(image)


def test_hard_disk_emulation_cd_boots_its_image_as_drive_80h(tmp_path, cpu_kind):
    """A hard-disk-emulation CD (`mkisofs -hard-disk-boot`): its image boots as
    drive 80h with the geometry of its first partition's end (as SeaBIOS reads
    it), its MBR loads the loader with AH=02h; the machine's disk moves to 81h;
    writes are refused; AH=4Bh reports the emulation and AL=00h ends it."""
    geometry = (20, 4, 17)
    image = partitioned_disk(build_guest("mbr_chs"), build_guest("hdloader"), geometry)
    iso = el_torito_iso(str(tmp_path / "cd.iso"), image, media_type=4)
    disk = hard_disk(str(tmp_path / "hd.img"), build_guest("mbr_lba"), build_guest("hdloader"))
    machine = make_machine({"cdrom": iso, "hda": disk}, boot=["cdrom", "hdd"], cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"
    assert screen_text(machine, 20).startswith("Loader OK")
    assert loader_boot_drive(machine, build_guest("hdloader"), 0x8000) == 0x80
    disks = machine.component("bios").disk
    assert disks.drive(0x80).read(0, 1) == image[:SECTOR]
    assert disks.drive(0x81) is machine.media["hda"] and disks.drive(0x82) is None
    assert machine.bus.read_bytes(0x475, 1)[0] == 2
    cpu = machine.cpu

    def int13(**registers: int) -> None:
        for name, value in registers.items():
            cpu.set_reg(name, value)
        disks.int13(cpu)

    int13(ah=0x08, dl=0x80)
    assert (cpu.get_reg("ah"), cpu.get_reg("ch"), cpu.get_reg("cl"), cpu.get_reg("dh"), cpu.get_reg("dl")) \
        == (0, 19, 17, 3, 2)
    int13(ah=0x03, al=1, cx=0x0001, dh=0, dl=0x80, es=0, bx=0x600)
    assert cpu.get_reg("ah") == 0x03                                   # write protected
    for al, emulating in ((0x01, True), (0x00, True), (0x01, False)):   # status, terminate, status
        int13(ah=0x4B, al=al, dl=0x80 if emulating else 0xE0, ds=0, si=0x600)
        packet = machine.bus.read_bytes(0x600, 0x13)
        assert cpu.get_reg("ah") == 0 and packet[0] == 0x13
        assert (packet[1], packet[2]) == ((4, 0x80) if emulating else (0, 0xE0))
    assert disks.drive(0x80) is machine.media["hda"] and disks.drive(0x81) is None
    assert machine.bus.read_bytes(0x475, 1)[0] == 1


def test_hard_disk_emulation_cd_without_a_partition_is_skipped(tmp_path):
    iso = el_torito_iso(str(tmp_path / "cd.iso"), build_guest("mbr_chs"), media_type=4)
    disk = hard_disk(str(tmp_path / "hd.img"), build_guest("mbr_lba"), build_guest("hdloader"))
    machine = make_machine({"cdrom": iso, "hda": disk}, boot=["cdrom", "hdd"])
    assert run_guest(machine).text == "PASS\n"          # the hard disk's loader
    assert machine.component("bios").disk.drive(0x80) is machine.media["hda"]


def test_unknown_boot_device_is_a_profile_error():
    from pcmachine.errors import ProfileError
    with pytest.raises(ProfileError, match="bios.boot"):
        make_machine({}, boot=["floppy", "tape"])
