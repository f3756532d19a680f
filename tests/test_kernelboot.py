"""Direct kernel boot (`--kernel`, `--initrd`, `--append`; plugins/bios/kernelboot.py)
with test kernels of our own (tests/guests/linuxboot): a bzImage-format kernel reads
back the setup header the loader filled (Documentation/x86/boot.rst) and a multiboot
kernel the machine state and information structure (Multiboot 0.6.96), both on
port E9h; bad kernels and initrds get one line and exit status 2."""

import os
import struct
import subprocess
import sys

import pytest

from pcmachine.cli import main

GUESTS = os.path.join(os.path.dirname(__file__), "guests", "linuxboot")
MACHINE = [sys.executable, "-c", "import sys; from pcmachine.cli import main; sys.exit(main())"]
INITRD = b"INITRD-CONTENTS-" + bytes(range(256)) * 40


def boot(tmp_path, kernel, *extra):
    """Boot `kernel` to its final HLT; return what it wrote to port E9h."""
    log = tmp_path / "e9.txt"
    status = main(["run", "pc.yaml", "--kernel", kernel, "--headless", "--quiet",
                   "--debugcon", f"file:{log}", "--max-instructions", "2000000", *extra])
    assert status == 0
    return log.read_text(encoding="latin-1")


@pytest.fixture
def initrd(tmp_path):
    path = tmp_path / "initrd.img"
    path.write_bytes(INITRD)
    return str(path)


def test_a_bzimage_gets_the_setup_header_fields_the_protocol_asks_for(tmp_path, initrd):
    text = boot(tmp_path, os.path.join(GUESTS, "bzimage.bin"), "--initrd", initrd,
                "--append", "console=ttyS0 root=/dev/ram0")
    # Setup code at 10000h (protocol >= 2.02): CS = seg + 20h, stack at the heap's end.
    top = 16 << 20                                   # pc.yaml's 16 MiB, under initrd_addr_max
    ramdisk = (top - len(INITRD)) & ~0xFFF
    assert text.splitlines() == [
        "cs=1020", "ss=1000", "sp=E000",
        "type_of_loader=FF",                          # no assigned loader id
        "loadflags=81",                               # LOADED_HIGH | CAN_USE_HEAP
        "heap_end_ptr=DE00",                          # heap_end - 200h
        "vid_mode=FFFF",                              # NORMAL_VGA
        "cmd_line_ptr=0001E000",                      # base + heap_end
        f"ramdisk_image={ramdisk:08X}",
        f"ramdisk_size={len(INITRD):08X}",
        'cmdline="console=ttyS0 root=/dev/ram0"',
        "e820_entries=0005",                          # the BIOS's int 15h E820 map
        "protected mode at 100000h",
        f"initrd_sum={sum(INITRD):08X}",
        "initrd_head=INITRD-C",
    ]


def test_the_initrd_stays_below_initrd_addr_max(tmp_path, initrd):
    text = boot(tmp_path, os.path.join(GUESTS, "bzimage.bin"), "--initrd", initrd, "--set", "ram.size=256M",
                "--append", "vga=ext")
    # The kernel says initrd_addr_max = 7FFFFFFh: the initrd ends below 128 MiB.
    assert f"ramdisk_image={(0x8000000 - len(INITRD)) & ~0xFFF:08X}" in text.splitlines()
    assert "vid_mode=FFFE" in text.splitlines()       # vga=ext


@pytest.mark.parametrize("kernel", ["multiboot.elf", "multiboot_aout.bin"])
def test_a_multiboot_kernel_gets_the_machine_state_and_information(tmp_path, initrd, kernel):
    path = os.path.join(GUESTS, kernel)
    text = boot(tmp_path, path, "--initrd", initrd, "--append", "debug=1")
    elf = kernel.endswith(".elf")
    sections = []
    if elf:
        # GRUB's ELF section header table (flag 5): the guest finds .symtab by its
        # type, its name through .shstrtab and `start` (the entry) through .strtab.
        with open(path, "rb") as handle:
            header = handle.read(52)
        entry, = struct.unpack_from("<I", header, 0x18)
        shnum, shstrndx = struct.unpack_from("<HH", header, 0x30)
        sections = ["sections, shstrndx=", f"{shnum:08X}", f"{shstrndx:08X}",
                    "symbol table: .symtab", f"start={entry:08X}"]
    assert text.splitlines() == [
        "eax=2BADB002",
        "cs ds ss=", "0008", "0010", "0010",          # flat segments of the loader's GDT
        "cr0.pg.pe=00000001",                          # protected mode, no paging
        "a20 byte at 112345h=0000005A",               # A20 enabled
        "bss=00000000",
        # memory, cmdline, mods, mmap, loader name; the ELF section headers
        f"flags={0x26D if elf else 0x24D:08X}",
        "mem_lower=0000027F",                          # 639 KiB below the EBDA
        "mem_upper=00003C00",                          # 15 MiB above 1 MiB
        f'cmdline="{kernel} debug=1"',                 # the kernel's name, then --append
        "mods_count=00000001",
        "module page offset, length, head, string=",
        "00000000", f"{len(INITRD):08X}", "INITRD-C", initrd,  # the module's string: its path
        "mmap entries, usable bytes above 1 MiB=",
        "00000005", "00F00000",
        "boot_loader_name=pcmachine",
    ] + sections


def patched(tmp_path, offset, data, name="kernel.bin"):
    image = bytearray(open(os.path.join(GUESTS, "bzimage.bin"), "rb").read())
    image[offset:offset + len(data)] = data
    path = tmp_path / name
    path.write_bytes(bytes(image))
    return str(path)


def run_cli(*argv):
    result = subprocess.run(MACHINE + ["run", "pc.yaml", "--headless", "--max-instructions", "1000", *argv],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stderr.strip()


def test_the_module_string_is_the_initrd_path_as_given(tmp_path, initrd, monkeypatch):
    """As QEMU's -initrd: the multiboot module's string is the path as typed,
    relative or not, while the file is read wherever it is (Fiwix finds its
    initrd by comparing the string with its `initrd=` parameter)."""
    monkeypatch.chdir(tmp_path)
    text = boot(tmp_path, os.path.join(GUESTS, "multiboot.elf"), "--initrd", "initrd.img")
    lines = text.splitlines()
    module = lines.index("module page offset, length, head, string=")
    assert lines[module + 2:module + 5] == [f"{len(INITRD):08X}", "INITRD-C", "initrd.img"]


@pytest.mark.parametrize("case, expected", [
    ("missing", "No such file"),
    ("not a kernel", "neither a Linux bzImage"),
    ("old protocol", "boot protocol 1.05 is too old"),
    ("zImage", "a zImage (loaded low) is not supported"),
    ("initrd too large", "do not fit in RAM beside the kernel"),
    ("command line too long", "this kernel takes at most 64"),
    ("initrd alone", "--initrd and --append need --kernel"),
    ("multiboot video", "requires a video mode"),
])
def test_bad_kernels_get_one_line_and_status_2(tmp_path, case, expected):
    bzimage = os.path.join(GUESTS, "bzimage.bin")
    small = tmp_path / "small.img"
    small.write_bytes(b"x" * 100)
    big = tmp_path / "big.img"
    big.write_bytes(bytes(3 << 20))
    argv = {
        "missing": ["--kernel", str(tmp_path / "none")],
        "not a kernel": ["--kernel", str(small)],
        "old protocol": ["--kernel", patched(tmp_path, 0x206, struct.pack("<H", 0x0105), "old.bin")],
        "zImage": ["--kernel", patched(tmp_path, 0x211, b"\x00", "zimage.bin")],
        "initrd too large": ["--kernel", bzimage, "--initrd", str(big), "--set", "ram.size=2M"],
        "command line too long": ["--kernel", bzimage, "--append", "x" * 65],
        "initrd alone": ["--initrd", str(small)],
        "multiboot video": ["--kernel", multiboot_with_flags(tmp_path, 0x00000004)],
    }[case]
    status, stderr = run_cli(*argv)
    assert status == 2
    assert len(stderr.splitlines()) == 1 and expected in stderr, stderr


def multiboot_with_flags(tmp_path, flags):
    magic = 0x1BADB002
    header = struct.pack("<III", magic, flags, (-(magic + flags)) & 0xFFFFFFFF)
    path = tmp_path / "video.elf"
    path.write_bytes(open(os.path.join(GUESTS, "multiboot.elf"), "rb").read()[:0x1000] + header)
    return str(path)


def test_profile_keys_boot_a_kernel_with_a_path_relative_to_the_profile(tmp_path, initrd):
    os.symlink(os.path.join(GUESTS, "multiboot.elf"), tmp_path / "kernel.elf")
    (tmp_path / "linux.yaml").write_text("extends: pc.yaml\n"
                                         "bios: {kernel: kernel.elf, initrd: initrd.img, append: quiet}\n")
    log = tmp_path / "e9.txt"
    assert main(["run", str(tmp_path / "linux.yaml"), "--headless", "--quiet", "--debugcon", f"file:{log}",
                 "--max-instructions", "2000000"]) == 0
    assert 'cmdline="kernel.elf quiet"' in log.read_text().splitlines()
