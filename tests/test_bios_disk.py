"""Int 13h, checked by a guest (tests/guests/bios/disk.asm) on a floppy and a hard
disk whose sectors are numbered, plus the images after the guest's writes."""

import os

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
    with open(hard_disk, "rb") as handle:
        handle.seek(3000 * SECTOR)
        assert handle.read(2) == b"\xEF\xBE"
    assert os.path.getsize(hard_disk) == 4096 * SECTOR
