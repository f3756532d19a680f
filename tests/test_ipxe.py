"""iPXE, the network boot firmware QEMU ships as its PXE ROMs: Debian's build of
it (package `ipxe`, `ipxe.lkrn`, fetched with `apt-get download` into the guest
cache) booted as a kernel through the Linux boot protocol.  It decompresses
itself in 16-bit protected mode, moves between real and protected mode for every
BIOS call (saving the FPU with FXSAVE: it needs a Pentium II), takes the timer
interrupt in protected mode and reflects it to the real-mode BIOS through an
`int n` whose vector it patches just before running it, then finds no network
card and gives the boot back to the BIOS.  QEMU 7.2 (`-kernel ipxe.lkrn -net
none`) shows the same lines before its SeaBIOS tries the next boot device.

With QEMU's default network card and a TFTP folder (`-netdev
user,tftp=...,bootfile=...`) it boots over the network instead: a DHCP lease
from the user-mode network, the boot file by TFTP from 10.0.2.2, then the
multiboot kernel of tests/guests/linuxboot, which reports what iPXE handed it
on port E9h, as under QEMU 7.2 (`-kernel ipxe.lkrn -netdev
user,id=n,tftp=DIR,bootfile=multiboot_aout.bin -device e1000,netdev=n`) but for
the RAM size.  (iPXE refuses the ELF build of that kernel with "Invalid
argument", on QEMU too: the a.out-kludge build is the one it boots.)"""


import os
import shutil

import pytest

from pcmachine.cli import main
from pcmachine.compat import guest_cache
from requirements import debian_files
from runtimes import default_run_on

KERNEL = os.path.join(os.path.dirname(__file__), "guests", "linuxboot", "multiboot_aout.bin")

pytestmark = [pytest.mark.guests]


def ipxe() -> str:
    return debian_files(guest_cache("ipxe"), {"ipxe": "boot/ipxe.lkrn"})["ipxe"]


@pytest.mark.slow                 # the network boot below starts iPXE the same way
def test_ipxe_starts_finds_no_network_card_and_returns(pc):
    kernel = ipxe()
    m = pc.boot(overrides=["cpu.model=pentium2", f"bios.kernel={kernel}"], copy_media=False)
    m.wait_text("iPXE initialising devices...ok", timeout=300)
    m.wait_text("Open Source Network Boot Firmware", timeout=300)
    m.wait_text("No more network devices", timeout=300)   # after its 2 s Ctrl-B prompt


# About 30 s of CPU on PyPy, most of an hour on CPython.
@default_run_on("PyPy")
@pytest.mark.heavy(45)
def test_ipxe_boots_a_multiboot_kernel_by_dhcp_and_tftp(tmp_path):
    folder = tmp_path / "tftp"
    folder.mkdir()
    shutil.copy(KERNEL, folder / "kernel.bin")
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", "--kernel", ipxe(), "--set", "cpu.model=pentium2",
                   "--set", "nic.plugin=e1000", "--set", f"nic.tftp={folder}",
                   "--set", "nic.bootfile=kernel.bin", "--headless", "--quiet",
                   "--debugcon", f"file:{log}", "--max-instructions", "1500000000"])
    assert status == 0
    assert log.read_text(encoding="latin-1").splitlines() == [
        "eax=2BADB002",
        "cs ds ss=", "0018", "0020", "0020",           # iPXE's flat segments
        "cr0.pg.pe=00000001",
        "a20 byte at 112345h=0000005A",
        "bss=00000000",
        "flags=0000024D",                              # as under QEMU
        "mem_lower=0000027F",
        "mem_upper=00003C00",                          # QEMU -m 32: 00007B80
        'cmdline="tftp://10.0.2.2/kernel.bin"',        # iPXE passes the image's URI
        "mods_count=00000000",
        "mmap entries, usable bytes above 1 MiB=",
        "00000002", "00F00000",                        # QEMU -m 32: 00000002, 01EE0000
        "boot_loader_name=iPXE 1.0.0+git-20190125.36a4c85",
    ]
