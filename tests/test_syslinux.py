"""SYSLINUX, ISOLINUX and MEMDISK, Debian's own (packages syslinux, syslinux-common,
isolinux and mtools: tests/run.sh installs them), as users run them in QEMU:
`syslinux --install` on a FAT12 floppy whose syslinux.cfg loads a Linux-protocol
kernel and its initrd (`qemu-system-i386 -fda`), the same from an ISOLINUX CD
(`-cdrom`), the Hardware Detection Tool (a COM32 module: 32-bit code that reaches
the BIOS through SYSLINUX's switches to real mode) and MEMDISK booting a floppy
image from memory (`qemu-system-i386 -kernel memdisk -initrd floppy.img`).

The kernel is our test bzImage (tests/guests/linuxboot), which reports on port E9h
what the loader handed over.  The expected report is QEMU 7.2's with the same
floppy, except where SeaBIOS's memory map differs (it keeps 128 KiB more at the top
of memory, so SYSLINUX puts the initrd lower, and reports one more E820 entry)."""

import os
import shutil
import subprocess

import pytest

from bios_support import build_guest, make_machine, run_guest, screen_text
from pcmachine.cli import main
from requirements import require_grub, require_syslinux
from runtimes import default_run_on
from test_bios_boot import fat12_floppy

pytestmark = pytest.mark.guests

KERNEL = os.path.join(os.path.dirname(__file__), "guests", "linuxboot", "bzimage.bin")
INITRD = bytes(range(256)) * 16
MODULES = "/usr/lib/syslinux/modules/bios"
CONFIG = """PROMPT 0
DEFAULT test
LABEL test
  LINUX bzimage.bin
  INITRD initrd.bin
  APPEND hello=world
"""


def syslinux_floppy(folder, files):
    """A 1.44 MB FAT12 floppy made by mtools, SYSLINUX installed on it by its own
    installer, and `files` ({name: bytes}) copied onto it."""
    image = os.path.join(str(folder), "syslinux.img")
    subprocess.run(["mformat", "-i", image, "-f", "1440", "-C", "::"], check=True)
    subprocess.run(["syslinux", "--install", image], check=True)
    for name, data in files.items():
        path = os.path.join(str(folder), name)
        with open(path, "wb") as handle:
            handle.write(data)
        subprocess.run(["mcopy", "-i", image, path, "::" + name], check=True)
    return image


def check_kernel_report(tmp_path, *media):
    """Boot `media` (--fda IMAGE or --cdrom ISO): the test kernel's report is QEMU
    7.2's, but for the memory map."""
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", *media, "--headless", "--quiet",
                   "--debugcon", f"file:{log}", "--max-instructions", "100000000"])
    assert status == 0
    assert log.read_text(encoding="latin-1").splitlines() == [
        "cs=1020", "ss=1000", "sp=FFF0",
        "type_of_loader=30",                       # SYSLINUX's loader id
        "loadflags=81",                            # LOADED_HIGH | CAN_USE_HEAP
        "heap_end_ptr=FE00",
        "vid_mode=0000",
        "cmd_line_ptr=00020000",
        "ramdisk_image=00FFF000",                  # QEMU (SeaBIOS): 00FDF000
        "ramdisk_size=00001000",
        'cmdline="BOOT_IMAGE=bzimage.bin hello=world initrd=initrd.bin"',
        "e820_entries=0005",                       # QEMU (SeaBIOS): 0006
        "protected mode at 100000h",
        f"initrd_sum={sum(INITRD):08X}",
        "initrd_head=" + INITRD[:8].decode("latin-1"),
    ]


@default_run_on("PyPy")       # 18 s on CPython (tests/runtimes.py)
def test_syslinux_floppy_loads_a_linux_kernel_and_its_initrd(tmp_path):
    require_syslinux()
    with open(KERNEL, "rb") as handle:
        kernel = handle.read()
    image = syslinux_floppy(tmp_path, {"syslinux.cfg": CONFIG.encode(), "bzimage.bin": kernel,
                                       "initrd.bin": INITRD})
    check_kernel_report(tmp_path, "--fda", image)


@default_run_on("PyPy")       # 19 s on CPython (tests/runtimes.py)
def test_isolinux_cd_loads_a_linux_kernel_and_its_initrd(tmp_path):
    """An El Torito no-emulation CD made with xorriso (`-boot-info-table`, which
    ISOLINUX reads back), booted from the ATAPI drive."""
    require_syslinux()
    require_grub()                                  # xorriso
    tree = tmp_path / "tree" / "isolinux"
    tree.mkdir(parents=True)
    shutil.copy("/usr/lib/ISOLINUX/isolinux.bin", tree)
    shutil.copy(os.path.join(MODULES, "ldlinux.c32"), tree)
    shutil.copy(KERNEL, tree / "bzimage.bin")
    (tree / "initrd.bin").write_bytes(INITRD)
    (tree / "isolinux.cfg").write_text(CONFIG)
    iso = tmp_path / "test.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-b", "isolinux/isolinux.bin",
                    "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
                    str(tmp_path / "tree")], check=True, capture_output=True)
    check_kernel_report(tmp_path, "--cdrom", str(iso))


@default_run_on("PyPy")       # 40 s on CPython, 9 s on PyPy (tests/runtimes.py)
def test_hardware_detection_tool_reads_the_cpu_and_the_smbios_tables(tmp_path, capsys):
    """HDT's command line (`nomenu`): `show cpu` and, in its DMI mode, `show system`
    (QEMU shows the same lines with its own CPU and SMBIOS strings)."""
    require_syslinux()
    files = {"syslinux.cfg": b"PROMPT 0\nDEFAULT hdt\nLABEL hdt\n  COM32 hdt.c32\n  APPEND nomenu\n"}
    for module in ("hdt", "libcom32", "libgpl", "libmenu", "libutil"):
        with open(os.path.join(MODULES, module + ".c32"), "rb") as handle:
            files[module + ".c32"] = handle.read()
    image = syslinux_floppy(tmp_path, files)
    status = main(["run", "pc.yaml", "--fda", image, "--headless", "--quiet",
                   "--wait", "hdt>", "--type", "show cpu\n", "--wait", "hdt>",
                   "--type", "dmi\n", "--wait", "dmi>", "--type", "show system\n", "--wait", "dmi>",
                   "--max-instructions", "3000000000"])
    assert status == 0
    screen = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert "Hardware Detection Tool 0.5.2 (Manon)" in screen
    assert [line for line in screen if line.startswith((" Manufacturer", " Product"))] == [
        " Manufacturer : Intel",                   # CPUID
        " Product      : pentiumpro",              # SMBIOS type 4 (QEMU: its CPUID brand string)
        " Manufacturer : pcmachine",               # SMBIOS type 1: bios.smbios_manufacturer
        " Product Name : Standard PC",             # bios.smbios_product
    ]


def test_memdisk_boots_a_floppy_image_from_memory(tmp_path):
    """MEMDISK (the Linux-protocol kernel) copies the image to the top of memory,
    hooks INT 13h and INT 15h and boots the image's boot sector, which loads its
    loader sector by sector through MEMDISK's INT 13h, as from a real drive."""
    require_syslinux()
    image = fat12_floppy(str(tmp_path / "fat12.img"), build_guest("fat12boot"), {
        b"LOADER  BIN": (build_guest("loader"), [7, 4, 12, 5]),
    })
    machine = make_machine(overrides=["bios.kernel=/usr/lib/syslinux/memdisk", f"bios.initrd={image}"])
    capture = run_guest(machine, 60_000_000)
    assert capture.text == "PASS\n"
    rows = [screen_text(machine, row) for row in range(25)]
    assert any(row.startswith("Disk is fd0, 1440 K, C/H/S = 80/2/18") for row in rows), rows
    assert any("FAT12 boot" in row for row in rows)
    assert rows[20].startswith("Loader OK")
