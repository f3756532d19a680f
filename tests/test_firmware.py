"""Real firmware in place of the HLE BIOS (`bios: {plugin: rom}`): the Bochs BIOS
and the LGPL VGA BIOS from Debian's `bochsbios` and `vgabios` packages, as Bochs
runs them, boot the corpus's FreeDOS floppy and run EMM386.  The BIOS drives the
82077AA itself (reset, one SENSE INTERRUPT STATUS, RECALIBRATE and READ DATA by
DMA with EOT = sector + count - 1), the VGA BIOS programs the VGA and the Bochs
VBE registers, and FreeDOS calls both through int 13h, 10h and 16h.

The same BIOS boots a hard disk through its own ATA driver (presence test with
55h/AAh in the task file, SRST, IDENTIFY DEVICE, READ SECTORS): our
`tests/guests/disk/ata_stream` boot sector then writes the disk by ATA PIO.

The packages are fetched with `apt-get download` into ~/.cache/pcmachine/firmware
(a few hundred KB), as the corpus's build.sh fetches the Debian kernel.

SeaBIOS from Debian's `seabios` package, built for QEMU, takes its VGA BIOS
(QEMU's `vgabios-stdvga.bin`, same package) from the PCI VGA's expansion ROM BAR
and boots the same floppy."""

import os
from typing import Dict

import pytest

from requirements import debian_files, require_shared
from runtimes import default_run_on

ATA_STREAM = os.path.join(os.path.dirname(__file__), "guests", "disk", "ata_stream.bin")
HELLO = os.path.join(os.path.dirname(__file__), "guests", "boot", "hello_int10.bin")

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "pcmachine", "firmware")
#: Debian package -> the file of it the tests use
FIRMWARE = {"bochsbios": "usr/share/bochs/BIOS-bochs-legacy",
            "vgabios": "usr/share/vgabios/vgabios.bin",
            "seabios": "usr/share/seabios/bios-256k.bin"}


def debian_firmware() -> Dict[str, str]:
    """{package: path of its firmware file}, downloaded and unpacked once."""
    return debian_files(CACHE, FIRMWARE)


@default_run_on("PyPy")       # 40-60 s on CPython, 20 s on PyPy (tests/runtimes.py)
@pytest.mark.heavy(70)        # beside the other suites of tests/run.sh
def test_the_bochs_bios_and_vga_bios_boot_freedos_with_emm386(pc):
    floppy = require_shared("guests", "freedos-fdstd144", "fdstd144.img")
    firmware = debian_firmware()
    m = pc.boot(overrides=["bios.plugin=rom", f"bios.image={firmware['bochsbios']}",
                           f"bios.option_roms={firmware['vgabios']}"], fda=floppy)
    m.wait_text("Bochs VBE Display Adapter enabled")      # the VGA BIOS ran from C0000
    m.wait_text("Booting from Floppy")
    for question, answer in (("DOS=HIGH", "y"), ("HIMEM", "y"), ("EMM386", "y"), ("UMBPCI", "n")):
        m.wait_text(question, timeout=120)
        m.type(answer)
    m.wait_text("A:\\>", timeout=120)
    m.type("dir fdos\n")
    m.wait_text("XCOPY", timeout=120)
    assert m.machine.cpu.cr[0] & 0x80000001 == 0x80000001       # EMM386: protected mode, paging


@default_run_on("PyPy")       # 40-60 s on CPython, 20 s on PyPy (tests/runtimes.py)
@pytest.mark.heavy(50)
def test_seabios_runs_the_vga_bios_from_the_rom_bar_and_boots_freedos(pc):
    floppy = require_shared("guests", "freedos-fdstd144", "fdstd144.img")
    seabios = debian_firmware()["seabios"]
    stdvga = os.path.join(os.path.dirname(seabios), "vgabios-stdvga.bin")
    m = pc.boot(overrides=["bios.plugin=rom", f"bios.image={seabios}", f"vga_pci.rom={stdvga}"],
                fda=floppy)
    m.wait_text("SeaBIOS (version", timeout=120)     # its VGA BIOS ran: text on the screen
    m.wait_text("Booting from Floppy", timeout=120)
    m.wait_text("DOS=HIGH", timeout=120)


@default_run_on("PyPy")       # 11 s on CPython (tests/runtimes.py)
def test_the_bochs_bios_boots_an_el_torito_cd_from_the_atapi_drive(pc, tmp_path):
    """The Bochs BIOS finds the CD-ROM on the secondary channel with its own ATAPI
    code (IDENTIFY PACKET DEVICE, READ(10) of the boot record and catalog) and
    runs the no-emulation boot image: our hello_int10 boot sector."""
    from test_bios_boot import el_torito_iso

    with open(HELLO, "rb") as handle:
        iso = el_torito_iso(str(tmp_path / "cd.iso"), handle.read().ljust(2048, b"\0"))
    firmware = debian_firmware()
    m = pc.boot(overrides=["bios.plugin=rom", f"bios.image={firmware['bochsbios']}",
                           f"bios.option_roms={firmware['vgabios']}", "bios.boot=[cdrom]"], cdrom=iso)
    m.wait_text("Hello, world!", timeout=60)


@default_run_on("PyPy")       # 10 s on CPython (tests/runtimes.py)
def test_the_bochs_bios_boots_an_ata_hard_disk(pc, tmp_path):
    disk = tmp_path / "hd.img"
    with open(ATA_STREAM, "rb") as handle:
        disk.write_bytes(handle.read().ljust(4 << 20, b"\0"))
    firmware = debian_firmware()
    m = pc.boot(overrides=["bios.plugin=rom", f"bios.image={firmware['bochsbios']}",
                           f"bios.option_roms={firmware['vgabios']}", "bios.boot=[hdd]"], hda=str(disk))
    debugcon = m.machine.components["debugcon"]
    m.run_until(lambda: "1 9\n" in debugcon.text, 60, False, "the boot sector's second ATA write")
    assert debugcon.text.startswith("1 1\n1 9\n")
