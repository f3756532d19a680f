"""Int 13h, checked by a guest (tests/guests/bios/disk.asm) on a floppy and a hard
disk whose sectors are numbered, plus the images after the guest's writes."""

import os
import types

import pytest

from pcmachine.plugins.bios.disk import translated_geometry

from bios_support import build_guest, cpu_kind, make_machine, run_guest

SECTOR = 512


def numbered_image(path: str, sectors: int, first_sector: bytes = b"") -> str:
    """Every sector starts with its LBA as a little-endian word."""
    with open(path, "wb") as handle:
        for lba in range(sectors):
            data = first_sector if (lba == 0 and first_sector) else lba.to_bytes(2, "little")
            handle.write(data[:SECTOR].ljust(SECTOR, b"\0"))
    return path


def test_disk_services_guest(tmp_path, cpu_kind):
    guest = build_guest("disk")
    floppy = numbered_image(str(tmp_path / "fd.img"), 2880)
    with open(floppy, "r+b") as handle:       # the guest occupies the first sectors
        handle.write(guest)
    hard_disk = numbered_image(str(tmp_path / "hd.img"), 4096)
    machine = make_machine({"fda": floppy, "hda": hard_disk}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    machine.close()
    with open(floppy, "rb") as handle:
        handle.seek(100 * SECTOR)
        assert handle.read(SECTOR) == b"\x34\x12" * 256
        handle.seek(((5 * 2 + 1) * 18) * SECTOR)           # the formatted track
        assert handle.read(18 * SECTOR) == b"\xF6" * (18 * SECTOR)
    with open(hard_disk, "rb") as handle:
        handle.seek(3000 * SECTOR)
        assert handle.read(2) == b"\xEF\xBE"
    assert os.path.getsize(hard_disk) == 4096 * SECTOR


@pytest.mark.parametrize("size, drive_type, cylinders, heads, sectors", [
    (368640, 1, 40, 2, 9),          # 360K
    (737280, 3, 80, 2, 9),          # 720K
    (1228800, 2, 80, 2, 15),        # 1.2M
    (1474560, 4, 80, 2, 18),        # 1.44M
    (2949120, 5, 80, 2, 36),        # 2.88M
])
def test_floppy_parameters_per_format(tmp_path, size, drive_type, cylinders, heads, sectors):
    image = str(tmp_path / "fd.img")
    with open(image, "wb") as handle:
        handle.write(build_guest("geometry").ljust(size, b"\0"))
    machine = make_machine({"fda": image})
    result = run_guest(machine).data
    cf, ah, bl, ch, cl, dh, dl = result
    assert (cf, ah, bl, dh, dl) == (0, 0, drive_type, heads - 1, 1)
    assert ch | ((cl & 0xC0) << 2) == cylinders - 1
    assert cl & 0x3F == sectors


@pytest.mark.parametrize("megabytes, geometry", [
    (2, (4, 16, 63)),
    (504, (1024, 16, 63)),
    (1000, (1015, 32, 63)),
    (4000, (1015, 128, 63)),
    (8032, (1023, 255, 63)),
    (65536, (1024, 255, 63)),
])
def test_hard_disk_translation(megabytes, geometry):
    """LBA-assisted translation: 63 sectors, the fewest heads that keep the
    cylinders within 1024, at most 1024 cylinders."""
    disk = types.SimpleNamespace(sectors=megabytes * 2048)
    assert translated_geometry(disk) == geometry


# (size in MiB, BIOS geometry of the LBA-assisted translation, ATA default geometry)
# worked out by hand from the Phoenix/T13 EDD "LBA assist" table -- 63 sectors per
# track; 16 heads up to 1024*16*63 sectors, then 32, 64, 128, 255; at most 1024
# cylinders -- and from ATA IDENTIFY's default geometry (16 heads, 63 sectors, at
# most 16383 cylinders), which EDD's AH=48h reports as the physical geometry.
BIG_DISKS = [
    (150, (304, 16, 63), (304, 16, 63)),          # more than 255 cylinders
    (1000, (1015, 32, 63), (2031, 16, 63)),       # more than 1024 physical cylinders
    (8032, (1023, 255, 63), (16318, 16, 63)),
    (10240, (1024, 255, 63), (16383, 16, 63)),    # beyond CHS: the extensions only
]


def marked_sparse_image(path, sectors, marked):
    """A sparse image whose sectors in `marked` hold their LBA in their first dword."""
    with open(path, "wb") as handle:
        handle.truncate(sectors * SECTOR)
        for lba in marked:
            handle.seek(lba * SECTOR)
            handle.write(lba.to_bytes(4, "little"))
    return path


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, count):
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk

    def number(self, count):
        return int.from_bytes(self.take(count), "little")


@pytest.mark.parametrize("megabytes, bios, physical", BIG_DISKS)
def test_hard_disks_of_real_sizes(tmp_path, megabytes, bios, physical):
    """tests/guests/bios/bigdisk.asm converts LBA to CHS from AH=08h as a boot
    loader does, reads and writes through AH=02h/03h (cylinder bits 8-9 in CL bits
    6-7), then through AH=42h/43h at the end of the disk; AH=48h reports the size."""
    total = megabytes * 2048
    cylinders, heads, spt = bios
    last_chs = cylinders * heads * spt - 1
    last_cylinder = (cylinders - 1) * heads * spt
    cylinder_256 = (256 * heads + 1) * spt
    marked = [last_chs, last_cylinder, total - 1] + ([cylinder_256] if cylinders > 256 else [])
    hard_disk = marked_sparse_image(str(tmp_path / "hd.img"), total, marked)
    floppy = str(tmp_path / "fd.img")
    with open(floppy, "wb") as handle:
        handle.write(build_guest("bigdisk").ljust(1474560, b"\0"))
    machine = make_machine({"fda": floppy, "hda": hard_disk})
    out = Reader(run_guest(machine).data)
    machine.close()
    cf, ah, cl, ch, dh, dl = out.take(6)
    assert (cf, ah, dh, dl) == (0, 0, heads - 1, 1)
    assert (ch | (cl & 0xC0) << 2, cl & 0x3F) == (cylinders - 1, spt)
    for lba in marked[:2] + marked[3:]:                   # the AH=02h reads
        assert tuple(out.take(3)) == (0, 0, 1)
        assert out.number(4) == lba
    assert tuple(out.take(3)) == (0, 0, 1)                 # AH=03h at (Cmax, 1, 2)
    if cylinders < 1024:
        assert tuple(out.take(3)) == (1, 0x04, 0)           # cylinder Cmax+1: sector not found
    assert tuple(out.take(2)) == (0, 0)                    # AH=48h
    params = Reader(out.take(0x1A))
    assert params.number(2) == 0x1A and params.number(2) == 0x0002
    assert (params.number(4), params.number(4), params.number(4)) == physical
    assert params.number(8) == total and params.number(2) == SECTOR
    assert tuple(out.take(3)) == (0, 0, 1) and out.number(4) == total - 1     # AH=42h
    assert tuple(out.take(3)) == (0, 0, 1)                                      # AH=43h
    assert tuple(out.take(3)) == (1, 0x04, 0)                                   # AH=42h past the end
    assert out.take(3) == b"END"
    with open(hard_disk, "rb") as handle:
        handle.seek((((cylinders - 1) * heads + 1) * spt + 1) * SECTOR)
        assert handle.read(8) == b"CHSW" + (0x12345678).to_bytes(4, "little")
        handle.seek((total - 2) * SECTOR)
        assert handle.read(4) == b"EXTW"
    assert os.path.getsize(hard_disk) == total * SECTOR


def test_a_host_write_error_is_a_controller_failure_not_a_crash(tmp_path):
    """A write the host refuses (a full disk under a sparse image) gives AH=20h."""
    hard_disk = numbered_image(str(tmp_path / "hd.img"), 4096)
    machine = make_machine({"hda": hard_disk})

    def full(lba, data):
        raise OSError(28, "No space left on device")
    machine.media["hda"].write = full
    services = machine.components["bios"].disk
    assert services.transfer(0x80, machine.media["hda"], "write", 5, 2, 0x7000) == (0, 0x20)
    assert services.transfer(0x80, machine.media["hda"], "read", 5, 1, 0x7000) == (1, 0)
    machine.close()


def test_a_short_floppy_image_reads_as_zeros_past_its_end(tmp_path, cpu_kind):
    """tests/guests/bios/shortfloppy.asm: reads past the end of an unpadded floppy
    image (and the tail of its partial last sector) give zeros and no error, as in
    QEMU and Bochs; a write there fails and the file keeps its size."""
    image = str(tmp_path / "short.img")
    contents = build_guest("shortfloppy").ljust(2 * SECTOR, b"\0") + b"\xA5" * SECTOR + b"\x5A" * 100
    with open(image, "wb") as handle:
        handle.write(contents)
    machine = make_machine({"fda": image}, cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"
    machine.close()
    with open(image, "rb") as handle:
        assert handle.read() == contents
