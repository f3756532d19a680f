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
