"""Das U-Boot as the machine's firmware: Debian's `u-boot-qemu` build for QEMU's
i440FX PC (`qemu-x86/u-boot.rom`, fetched with `apt-get download`), from the
reset vector.  It sizes the RAM from CMOS, scans the PCI bus, runs the VGA
BIOS (QEMU's `vgabios-stdvga.bin` from Debian's `seabios`) in real mode to set
VBE mode 144h (1024x768x32), prints on COM1 and the screen, resets the IDE
channels, reads the RTC, and resets the machine through the PIIX3's reset
control register at 0xCF9.  QEMU 7.2 with `-bios u-boot.rom -m 128` prints the
same lines but for its CPU's brand string, its e1000 and CD-ROM drive, and the
framebuffer's address (docs/compat/manual.md)."""

import os

import pytest

from requirements import debian_files
from test_firmware import CACHE

# A few minutes of CPU on PyPy (the run is long on any runtime).
pytestmark = [pytest.mark.guests, pytest.mark.slow]

FIRMWARE = {"u-boot-qemu": "usr/lib/u-boot/qemu-x86/u-boot.rom",
            "seabios": "usr/share/seabios/bios-256k.bin"}


def test_uboot_reaches_its_prompt_lists_pci_and_resets_through_0xcf9(pc):
    files = debian_files(CACHE, FIRMWARE)
    stdvga = os.path.join(os.path.dirname(files["seabios"]), "vgabios-stdvga.bin")
    m = pc.boot(overrides=["bios.plugin=rom", f"bios.image={files['u-boot-qemu']}", "ram.size=128M",
                           f"vga_pci.rom={stdvga}"])
    m.serial.wait("Model: QEMU x86 (I440FX)", timeout=60, virtual=True)
    m.serial.wait("Hit any key to stop autoboot", timeout=60, virtual=True)
    m.serial.type(" ")
    m.serial.wait("=> ", timeout=60, virtual=True)
    serial = m.serial.text()
    assert "DRAM:  128 MiB" in serial and "Video: 1024x768x32" in serial
    m.serial.type("pci\n")
    m.serial.wait("Display controller", after_input=True, timeout=60, virtual=True)
    for line in ("00.00.00   0x8086     0x1237     Bridge device",
                 "00.01.01   0x8086     0x7010     Mass storage controller",
                 "00.02.00   0x1234     0x1111     Display controller"):
        assert line in m.serial.text()
    m.serial.type("reset\n")
    m.serial.wait("resetting ...", after_input=True, timeout=60, virtual=True)
    m.serial.wait("DRAM:", after_input=True, timeout=60, virtual=True)   # booted again
    assert "System reset not supported" not in m.serial.text()
