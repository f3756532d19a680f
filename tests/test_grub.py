"""GRUB 2, the boot loader of the OSDev "Bare Bones" workflow: `grub-mkrescue` makes an
ISO around a multiboot kernel, which users boot as a CD (`qemu-system-i386 -cdrom
os.iso`) or, since the ISO is hybrid, as a hard disk.  Debian's own GRUB
(grub-pc-bin, grub-common, xorriso: tests/run.sh installs them) builds the ISO
around our multiboot test kernel (tests/guests/linuxboot), which reports what the
loader handed over on port E9h.  The expected report is QEMU 7.2's with the same
ISO, except the firmware's memory map (SeaBIOS reserves 512 KiB more below 16 MiB
and reports one more E820 entry than our BIOS)."""

import os
import shutil
import subprocess

import pytest

from pcmachine.cli import main
from requirements import require_grub
from runtimes import slow_except_on

GUESTS = os.path.join(os.path.dirname(__file__), "guests", "linuxboot")
MODULE = b"INITRD-CONTENTS-0123456789"
CONFIG = """set timeout=0
set default=0
menuentry "test kernel" {
  multiboot /boot/kernel.elf debug=1
  module /boot/module.bin modarg
  boot
}
"""

# A GRUB boot is 25-70 s of CPU on CPython and 7-20 s on PyPy (tests/runtimes.py).
pytestmark = [pytest.mark.guests] + slow_except_on("PyPy")


@pytest.fixture(scope="module")
def iso(tmp_path_factory):
    """The ISO grub-mkrescue makes around the test kernel and a module."""
    require_grub()
    root = tmp_path_factory.mktemp("grub")
    tree = root / "tree"
    (tree / "boot" / "grub").mkdir(parents=True)
    shutil.copy(os.path.join(GUESTS, "multiboot.elf"), tree / "boot" / "kernel.elf")
    (tree / "boot" / "module.bin").write_bytes(MODULE)
    (tree / "boot" / "grub" / "grub.cfg").write_text(CONFIG)
    image = root / "os.iso"
    result = subprocess.run(["grub-mkrescue", "-o", str(image), str(tree)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return str(image)


@pytest.mark.heavy(45)
@pytest.mark.parametrize("drive", ["--cdrom", "--hda"])
def test_a_grub_rescue_iso_boots_the_multiboot_kernel(tmp_path, iso, drive):
    log = tmp_path / "e9.txt"
    extra = ["--set", "media.hda.readonly=true"] if drive == "--hda" else []
    status = main(["run", "pc.yaml", drive, iso, *extra, "--headless", "--quiet",
                   "--debugcon", f"file:{log}", "--max-instructions", "2000000000"])
    assert status == 0
    lines = log.read_text(encoding="latin-1").splitlines()
    loader = [line for line in lines if line.startswith("boot_loader_name=")]
    assert loader and loader[0].startswith("boot_loader_name=GRUB 2."), lines
    assert lines == [
        "eax=2BADB002",
        "cs ds ss=", "0010", "0018", "0018",           # GRUB 2's flat segments
        "cr0.pg.pe=00000001",
        "a20 byte at 112345h=0000005A",
        "bss=00000000",
        "flags=00001A6F",                              # as under QEMU
        "mem_lower=0000027F",
        "mem_upper=00003C00",                          # QEMU (SeaBIOS): 00003B80
        'cmdline="debug=1"',                           # GRUB 2 passes the arguments only
        "mods_count=00000001",
        "module page offset, length, head, string=",
        "00000000", f"{len(MODULE):08X}", "INITRD-C", "modarg",
        "mmap entries, usable bytes above 1 MiB=",
        "00000005", "00F00000",                        # QEMU (SeaBIOS): 00000006, 00EE0000
        loader[0],
        "sections, shstrndx=", "00000006", "00000005",
        "symbol table: .symtab", "start=0010000C",
    ]
