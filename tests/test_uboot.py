"""Das U-Boot as the machine's firmware: Debian's `u-boot-qemu` build for QEMU's
i440FX PC (`qemu-x86/u-boot.rom`, fetched with `apt-get download`), from the
reset vector.  It sizes the RAM from CMOS, scans the PCI bus, runs the VGA
BIOS (QEMU's `vgabios-stdvga.bin` from Debian's `seabios`) in real mode to set
VBE mode 144h (1024x768x32), prints on COM1 and the screen, resets the IDE
channels, reads the RTC, drives the e1000 (its EEPROM behind the SWSM
semaphore QEMU keeps; DHCP and ping on the user-mode network, whose TFTP
refusal ends the boot file's load at once, as slirp's does), and resets the
machine through the PIIX3's reset control register at 0xCF9.  QEMU 7.2 with
`-bios u-boot.rom -m 128` prints the same lines but for its CPU's brand string,
its CD-ROM drive and the framebuffer's address (docs/compat/manual.md)."""

import os

import pytest

from requirements import debian_files
from test_firmware import CACHE

# 15 s on PyPy, several minutes on CPython: under -m slow, to keep the default run short.
pytestmark = [pytest.mark.guests, pytest.mark.slow]

FIRMWARE = {"u-boot-qemu": "usr/lib/u-boot/qemu-x86/u-boot.rom",
            "seabios": "usr/share/seabios/bios-256k.bin"}


def test_uboot_reaches_its_prompt_gets_a_lease_lists_pci_and_resets_through_0xcf9(pc):
    files = debian_files(CACHE, FIRMWARE)
    stdvga = os.path.join(os.path.dirname(files["seabios"]), "vgabios-stdvga.bin")
    m = pc.boot(overrides=["bios.plugin=rom", f"bios.image={files['u-boot-qemu']}", "ram.size=128M",
                           f"vga_pci.rom={stdvga}", "nic.plugin=e1000"])
    m.serial.wait("Model: QEMU x86 (I440FX)", timeout=60, virtual=True)
    m.serial.wait("Hit any key to stop autoboot", timeout=60, virtual=True)
    m.serial.type(" ")
    m.serial.wait("=> ", timeout=60, virtual=True)
    serial = m.serial.text()
    assert "DRAM:  128 MiB" in serial and "Video: 1024x768x32" in serial
    assert "Net:   e1000: 52:54:00:12:34:56" in serial
    m.serial.type("dhcp\n")
    m.serial.wait("=> ", after_input=True, timeout=60, virtual=True)
    for line in ("DHCP client bound to address 10.0.2.15", "TFTP from server 10.0.2.2",
                 "TFTP error: 'Access violation' (2)"):
        assert line in m.serial.text()
    m.serial.type("ping 10.0.2.2\n")
    m.serial.wait("host 10.0.2.2 is alive", after_input=True, timeout=60, virtual=True)
    m.serial.type("pci\n")
    m.serial.wait("Network controller", after_input=True, timeout=60, virtual=True)
    for line in ("00.00.00   0x8086     0x1237     Bridge device",
                 "00.01.01   0x8086     0x7010     Mass storage controller",
                 "00.02.00   0x1234     0x1111     Display controller",
                 "00.03.00   0x8086     0x100e     Network controller"):
        assert line in m.serial.text()
    m.serial.type("reset\n")
    m.serial.wait("resetting ...", after_input=True, timeout=60, virtual=True)
    m.serial.wait("DRAM:", after_input=True, timeout=60, virtual=True)   # booted again
    assert "System reset not supported" not in m.serial.text()
