"""Public systems that exist only as source, built by hand on the tester's machine
(docs/compat/manual.md says from which repository and commit, and how): their code
and images never enter this repository, so each test reads the built images from
an environment variable and skips, saying which, when it is not set.

* PCMACHINE_LINUX011_DIR: `Image` (the Linux 0.11 boot floppy, unpadded, root
  device 0x301) and `hd.img` (a hard disk whose first partition holds the 0.11
  root file system); `rootimage-0.11` (the 1.44 MB root floppy) for the run with
  the root on fdb.
* PCMACHINE_MICHALOS_DIR: `michalos.flp` (MichalOS's `make noboot`, never booted:
  the first boot runs its setup).
* PCMACHINE_MIKEOS_DIR: `mikeos.flp` (MikeOS 4.6.1's floppy: its boot sector, kernel
  and programs assembled with nasm, copied onto an mformat'ed image with mcopy).
* PCMACHINE_CLYOS_DIR: `hd60M.img` (MBR, loader at LBA 2, ELF kernel at LBA 9 of
  a 121/16/63 disk) and `hd80M.img` (a 162/16/63 disk with one empty primary
  partition, which the kernel formats on its first boot).
* PCMACHINE_OSTUTORIAL_DIR: `os-image.bin` (cfenollosa/os-tutorial lesson 23,
  unpadded).
* PCMACHINE_XV6_DIR: `xv6.img` and `fs.img` (mit-pdos/xv6-public, `make xv6.img
  fs.img`).
* PCMACHINE_CSTACKOS_DIR: `kernel.elf` and `built_file_system` (cstack/osdev, a
  littleosbook kernel, and its GRUB module).
* PCMACHINE_SNOWDROP_DIR: `snowdrop.img` (Snowdrop OS's 1.44 MB FAT12 floppy).
* PCMACHINE_JAMESM_DIR: `kernel` and `initrd.img` (JamesM's kernel tutorial, the
  user-mode chapter, and its initrd).
* PCMACHINE_PINTOS_DIR: `alarm-multiple.dsk` and `args-single.dsk` (Stanford
  Pintos disks as its `pintos` script builds them for QEMU: the loader in the MBR,
  the kernel, and for the userprog kernel a file system and a scratch partition
  holding `args-single`; each disk holds its kernel command line).
* PCMACHINE_UCORE_DIR: `ucore.img`, `swap.img` and `sfs.img` (Tsinghua's ucore,
  lab 8's reference answer, `make` in `labcodes_answer/lab8_result`).
* PCMACHINE_FIWIX_DIR: `fiwix` (the Fiwix 1.7.0 kernel, `make`) and `initrd.img`
  (an ext2 revision 0 file system with /dev nodes, /etc/motd and a small static
  /sbin/init: docs/compat/manual.md).
* PCMACHINE_JOS_DIR: `kernel.img` and `fs.img` (MIT 6.828's JOS with lab 5 done,
  `make` with the host's gcc; the file system image as built, copied before each
  run).
* PCMACHINE_EMBOX_DIR: `embox` (Embox's `x86/qemu` template, `make
  confload-x86/qemu && make`: the multiboot ELF `build/base/bin/embox`).
* PCMACHINE_NANOCHESS_DIR: `os.img`, `basic.img` and `doom.img` (nanochess's
  bootOS, bootBASIC and cubicDoom boot sectors, `nasm -f bin`, padded to 1.44 MB).
* PCMACHINE_LINUX_E1000_DIR: `vmlinuz` (Debian 12's linux-image-6.1.0-50-686) and
  `initrd.gz` (busybox with that package's e1000.ko and an /init that loads it,
  runs udhcpc and pings the gateway; docs/compat/manual.md).  About 20 host
  minutes on PyPy.
* PCMACHINE_DEBIAN_SYSTEM_DIR: `vmlinuz`, `initrd.img` and `disk.img` (a Debian 12
  i386 debootstrap with systemd, udev and linux-image-686: the kernel and the
  initramfs-tools initrd from its /boot, the root as a whole-disk ext4 image with
  root's password empty and an autologin on ttyS0; docs/compat/manual.md).  The
  test copies `disk.img`.
"""

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.guests, pytest.mark.slow]


def built(variable: str, *names: str) -> list:
    """The paths of NAMES in the folder named by VARIABLE, or a skip."""
    folder = os.environ.get(variable)
    if not folder:
        pytest.skip(f"set {variable} to the folder of the hand-built images (docs/compat/manual.md)")
    paths = [os.path.join(folder, name) for name in names]
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        pytest.skip(f"{variable}: {missing[0]} is missing")
    return paths


def test_linux_011_reaches_its_shell_and_lists_the_root(pc):
    """The bootsect reads whole tracks past the end of its unpadded Image (zeros,
    as in QEMU and Bochs); the kernel mounts its root from the ATA disk."""
    image, disk = built("PCMACHINE_LINUX011_DIR", "Image", "hd.img")
    m = pc.boot("pc.yaml", fda=image, hda=disk)
    m.wait_text("[/usr/root]#", timeout=600)
    m.type("ls -l /\n")
    m.wait_text("usr", timeout=120, after_input=True)


def test_linux_011_mounts_its_root_from_the_second_floppy(pc, tmp_path):
    """Root device 0x21D (fdb): after Enter the floppy driver resets the controller
    and recalibrates; its IRQ 6 must come although a reset report went unsensed."""
    image, root = built("PCMACHINE_LINUX011_DIR", "Image", "rootimage-0.11")
    patched = tmp_path / "Image.fdb"
    data = bytearray(pathlib.Path(image).read_bytes())
    data[508:510] = (0x21D).to_bytes(2, "little")       # the boot sector's ROOT_DEV word
    patched.write_bytes(bytes(data))
    m = pc.boot("pc.yaml", overrides=["ram.size=16M"], fda=str(patched), fdb=root)
    m.wait_text("Insert root floppy and press ENTER", timeout=300)
    m.type("\n")
    m.wait_text("[/usr/root]#", timeout=300, after_input=True)
    m.type("ls -l /bin\n")
    m.wait_text("mkswap", timeout=120, after_input=True)


def test_michalos_sets_up_and_reaches_its_desktop(pc):
    """A real-mode OS on its FAT12 floppy: the first-boot setup (which writes its
    settings back to the floppy), the login screen and the desktop."""
    image, = built("PCMACHINE_MICHALOS_DIR", "michalos.flp")
    m = pc.boot("pc.yaml", fda=image)
    for wait, keys in (("press A to skip", "a"), ("Which sound", "\n"), ("enter your name", "bob\n"),
                       ("set up a password", "{right}\n"), ("Changes have been saved", "\n"),
                       ("Setup has finished", "\n"), ("Press any key to log in", "\n")):
        m.wait_text(wait, timeout=300)
        m.type(keys)
    m.wait_text("MichalOS Desktop", timeout=300)
    m.type(" ")
    m.wait_text("Power off", timeout=120)


def fat12_file(image: bytes, name: bytes) -> bytes:
    """The contents of the root-directory file NAME (8+3, space-padded) of a 1.44 MB
    FAT12 floppy, following its cluster chain."""
    for entry in range(19 * 512, 33 * 512, 32):
        if image[entry:entry + 11] == name:
            cluster = int.from_bytes(image[entry + 26:entry + 28], "little")
            size = int.from_bytes(image[entry + 28:entry + 32], "little")
            break
    else:
        raise AssertionError(f"{name!r} is not in the root directory")
    data = b""
    while 2 <= cluster < 0xFF8:
        data += image[(31 + cluster) * 512:(32 + cluster) * 512]
        pair = int.from_bytes(image[512 + cluster * 3 // 2:514 + cluster * 3 // 2], "little")
        cluster = pair >> 4 if cluster & 1 else pair & 0xFFF
    return data[:size]


def test_mikeos_cli_writes_its_floppy_and_minicom_talks_on_com1(pc, tmp_path):
    """A real-mode OS on BIOS services only: int 13h writes (its CLI's COPY and DEL
    reach the image) and int 14h (its minicom program, both directions)."""
    image, = built("PCMACHINE_MIKEOS_DIR", "mikeos.flp")
    floppy = tmp_path / "mikeos.flp"
    shutil.copyfile(image, floppy)
    m = pc.boot("pc.yaml", copy_media=False, fda=str(floppy))
    m.wait_text("Cancel for command line", timeout=120)
    m.type("{right}\n")
    m.wait_text("Commands: DIR", timeout=60, after_input=True)
    for command in ("copy calc.bas new.bas\n", "del testapp.bin\n"):
        m.type(command)
        m.wait_text(">", timeout=60, after_input=True)
    m.type("serial\n")
    m.wait_text("Cancel", timeout=60, after_input=True)
    m.type("\n")
    m.wait_text("Press F8 to quit", timeout=60)
    m.serial.type("hello from COM1\n")
    m.wait_text("hello from COM1", timeout=60)
    m.type("abc")
    m.serial.wait("abc", timeout=60)
    data = floppy.read_bytes()
    assert fat12_file(data, b"NEW     BAS") == fat12_file(data, b"CALC    BAS")
    assert b"TESTAPP BIN" not in data[19 * 512:33 * 512]


def test_clyos_formats_its_disk_and_runs_shell_commands(pc):
    """A 《操作系统真象还原》 kernel: the MBR reads 4 sectors after one DRQ wait
    (Bochs' ATA behaviour), protected mode, paging, an ELF kernel, threads, user
    processes, IDE, its own file system and shell.  Its shell prints a prompt before
    the kernel has formatted and mounted sdb1 (then clears the screen and prints
    it again): the test waits for that before typing, the guest's own race."""
    system, data = built("PCMACHINE_CLYOS_DIR", "hd60M.img", "hd80M.img")
    m = pc.boot("pc.yaml", hda=system, hdb=data)
    m.wait_text("[cly@localhost /]$", timeout=600)
    m.run_for(2)
    m.type("ls -l\n")
    m.wait_text("total:", timeout=120, after_input=True)
    m.type("ps\n")
    m.wait_text("init_fork", timeout=120, after_input=True)


def test_os_tutorial_kernel_answers_its_commands(pc):
    """A boot sector that reads 31 sectors past the end of its unpadded image, a
    32-bit kernel with IRQs, a keyboard driver and a two-command shell."""
    image, = built("PCMACHINE_OSTUTORIAL_DIR", "os-image.bin")
    m = pc.boot("pc.yaml", fda=image)
    m.wait_text("Type END", timeout=120)
    m.type("page\n")
    m.wait_text("physical address: 0x11000", timeout=60, after_input=True)
    m.type("end\n")
    m.wait_text("Stopping the CPU", timeout=60, after_input=True)


def test_cstackos_reads_its_symbols_and_runs_its_user_shell(pc):
    """A littleosbook kernel booted as a multiboot ELF with its file system as
    module 0: it reads its own symbols through the ELF section header table (flag
    5) for stack traces, then runs its shell in user mode on that module."""
    kernel, module = built("PCMACHINE_CSTACKOS_DIR", "kernel.elf", "built_file_system")
    m = pc.boot("pc.yaml", overrides=[f"bios.kernel={kernel}", f"bios.initrd={module}"])
    m.serial.wait("REGISTER_INPUT_HANDLER", timeout=120)
    assert "0xc0100067 : higher_half_loader" in m.serial.text()
    m.type("ls -l\n")
    m.wait_text("test.txt (12 bytes)", timeout=120, after_input=True)


def test_snowdrop_os_loads_its_drivers_and_runs_apps(pc):
    """A real-mode OS with its own PIT, keyboard, PS/2 mouse and serial drivers: it
    finds the mouse through the BIOS equipment word, then its shell runs apps."""
    image, = built("PCMACHINE_SNOWDROP_DIR", "snowdrop.img")
    m = pc.boot("pc.yaml", fda=image)
    m.wait_text("[Snowdrop OS snowshell]:", timeout=300)
    assert ".PS/2 mouse driver (IRQ12)" in m.screen_text()
    m.type("hello\n")
    m.wait_text("Hello, world!", timeout=120, after_input=True)
    m.type("flist\n")
    m.wait_text("SNOWDROP MBR", timeout=120, after_input=True)


def test_jamesm_tutorial_kernel_reaches_user_mode(pc):
    """JamesM's tutorial kernel: paging, a heap, the initrd as multiboot module
    0, task switching, then user mode printing through a system call."""
    kernel, initrd = built("PCMACHINE_JAMESM_DIR", "kernel", "initrd.img")
    m = pc.boot("pc.yaml", overrides=[f"bios.kernel={kernel}", f"bios.initrd={initrd}"])
    m.wait_text("Hello, user world!", timeout=300)


def run_pintos(pc, disk: str):
    """Boot a Pintos disk as its `pintos` script runs QEMU (`-hda DISK -m 4 -device
    isa-debug-exit`) until Pintos powers off through the debug-exit port (status
    63h, the script's clean exit); returns the serial output."""
    m = pc.boot("pc.yaml", overrides=["ram.size=4M", "debugexit.plugin=debugexit"], hda=disk)
    m.run_until(lambda: m.machine.exit_status is not None, 900, False, "Pintos to power off")
    assert m.machine.exit_status == 0x63
    return m.serial.text()


def test_pintos_threads_kernel_passes_alarm_multiple(pc):
    """The threads project's kernel, unmodified: it calibrates its busy-wait loop
    against the PIT at 100 Hz (about 8 instructions a loop at 20 M instructions a
    second) and the alarm test's 35 wake-ups come in the order its checker wants."""
    disk, = built("PCMACHINE_PINTOS_DIR", "alarm-multiple.dsk")
    output = run_pintos(pc, disk)
    assert "Calibrating timer...  2,496,000 loops/s." in output
    products = [int(product) for product in re.findall(r"product=(\d+)", output)]
    assert len(products) == 35 and products == sorted(products)
    assert "(alarm-multiple) end" in output


def test_pintos_userprog_kernel_formats_and_fills_its_file_system(pc):
    """The userprog kernel, unmodified: it probes both IDE channels (SRST, device
    signatures, IDENTIFY), formats the file system partition and copies the test
    program in from the scratch partition with IRQ-driven sector reads and writes,
    in 59 timer ticks (QEMU: 60); before the ATA and HLT fixes it took 3,451."""
    disk, = built("PCMACHINE_PINTOS_DIR", "args-single.dsk")
    output = run_pintos(pc, disk)
    assert 'hda: 5,040 sectors (2 MB), model "PCM01F00"' in output
    assert "Putting 'args-single' into the file system..." in output
    assert "Execution of 'args-single onearg' complete." in output
    ticks = int(re.search(r"Timer: (\d+) ticks", output).group(1))
    assert ticks < 100


@pytest.mark.parametrize("cpus", [1, 2])
def test_xv6_runs_its_shell_commands(pc, cpus):
    """xv6 reads the MP table, starts the other processors with INIT-SIPI-SIPI,
    routes IRQs through the I/O APIC and runs its scheduler on every CPU; it
    frees pages up to 224 MiB (PHYSTOP), so the machine needs 512 MiB as in its
    Makefile.  Commands are typed on the keyboard; xv6 prints to the CGA screen
    and to COM1."""
    boot, root = built("PCMACHINE_XV6_DIR", "xv6.img", "fs.img")
    m = pc.boot("pc.yaml", overrides=["ram.size=512M", f"cpu.count={cpus}"], hda=boot, hdb=root)
    m.serial.wait("init: starting sh", timeout=300)
    if cpus == 2:
        assert "cpu1: starting 1" in m.serial.text()
    for command, answer in (("echo hi > f\n", "$ "), ("cat f\n", "hi"),
                            ("forktest\n", "fork test OK"), ("ls\n", "usertests")):
        m.type(command)
        m.wait_text(answer, timeout=300, after_input=True)


def test_xv6_on_two_cpus_runs_the_same_twice_and_replays(tmp_path):
    """Issue 13's check: two identical runs of a 2-CPU xv6 session (boot, typed
    commands that write a file and read it back: the keys are typed before the
    shell prompts, so "hi" follows its second prompt) give identical event traces,
    and the recording of one replays with every state hash equal."""
    boot, root = built("PCMACHINE_XV6_DIR", "xv6.img", "fs.img")
    machine = os.path.join(os.path.dirname(sys.executable), "machine")
    traces = []
    for run in range(2):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        disks = [shutil.copy(path, folder) for path in (boot, root)]
        trace, recording = folder / "trace.txt", folder / "session.pcrec"
        result = subprocess.run(
            [machine, "run", "pc.yaml", "--hda", disks[0], "--hdb", disks[1], "--set", "ram.size=512M",
             "--set", "cpu.count=2", "--headless", "--quiet", "--wait-serial", "init: starting sh",
             "--type", "echo hi > f\\ncat f\\n", "--wait-serial", "$ hi", "--trace", str(trace),
             "--trace-events", "irq,io,int", "--trace-ports", "0x1f0-0x1f7", "--record", str(recording)],
            capture_output=True, timeout=1800)
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        traces.append(trace.read_bytes())
    assert traces[0] == traces[1] and b"irq.raise" in traces[0]
    replay = subprocess.run([machine, "replay", "--quiet", str(tmp_path / "run0" / "session.pcrec")],
                            capture_output=True, timeout=1800)
    assert replay.returncode == 0, replay.stderr.decode()[-2000:]


def test_ucore_lab8_runs_user_programs_from_its_file_system(pc):
    """ucore's lab 8: the kernel on hda, its swap disk on hdb and its SFS file
    system on hdc (PIO IDE on both channels), paging with pages swapped out to
    disk, kernel threads (the dining philosophers, with semaphores and condition
    variables) beside ring-3 processes that its shell loads from SFS; commands
    typed on the keyboard (IRQ 1), the answers on COM1."""
    kernel, swap, sfs = built("PCMACHINE_UCORE_DIR", "ucore.img", "swap.img", "sfs.img")
    m = pc.boot("pc.yaml", overrides=["ram.size=128M"], hda=kernel, hdb=swap, hdc=sfs)
    m.serial.wait("user sh is running", timeout=600)
    assert "check_swap() succeeded!" in m.serial.text()
    assert "sfs: mount: 'simple file system'" in m.serial.text()
    for command, answer in (("hello\n", "hello pass."), ("forktest\n", "forktest pass."),
                            ("ls\n", "sfs_filetest1")):
        start = len(m.serial.text())
        m.type(command)
        m.run_until(lambda: answer in m.serial.text()[start:], 600, False, f"{answer!r} on COM1")


@pytest.mark.parametrize("cpus", [1, 2])
def test_jos_lab5_runs_its_shell_from_its_file_system(pc, tmp_path, cpus):
    """MIT 6.828's JOS with lab 5 done: its file system server is a user
    environment reading the second IDE disk, `fork` is copy-on-write through
    user-level page-fault handlers, and the shell spawns each command from the
    file system; commands typed on COM1.  Built with Debian's gcc, whose 32-bit
    libgcc starts `__udivdi3` with ENDBR32: it reset at its first printed number
    until the P6's reserved NOPs were decoded.  With two processors its big
    kernel lock is taken with XCHG and PAUSE: each command took some 50 virtual
    seconds until a PAUSE ended its processor's turn (now each one must answer
    within 20 virtual seconds)."""
    kernel, fs = built("PCMACHINE_JOS_DIR", "kernel.img", "fs.img")
    fs = shutil.copy(fs, tmp_path)
    m = pc.boot("pc.yaml", overrides=["ram.size=128M", f"cpu.count={cpus}"], hda=kernel, hdb=fs)
    m.serial.wait("init: starting sh", timeout=300)
    assert "file rewrite is good" in m.serial.text()
    for command, answer in (("echo hello\n", "hello"), ("ls\n", "testpteshare"),
                            ("cat lorem\n", "id est laborum."), ("forktree\n", "I am '111'")):
        start = len(m.serial.text())
        m.serial.type(command)
        m.run_until(lambda: answer in m.serial.text()[start:], 20, True, f"{answer!r} on COM1")


def test_fiwix_mounts_its_initrd_and_runs_init_on_the_serial_console(pc):
    """Fiwix, a UNIX-like i386 kernel, as a multiboot kernel with its initrd as
    module 0, found by the module's string (`initrd=initrd.img`, the path as given,
    as QEMU passes it); its console on COM1, whose boot-time output enables the
    THR-empty interrupt and waits for IRQ 4 without writing MCR (POST leaves OUT2
    set, as under QEMU); init's commands typed on COM1."""
    kernel, initrd = built("PCMACHINE_FIWIX_DIR", "fiwix", "initrd.img")
    m = pc.boot("pc.yaml", overrides=[
        "ram.size=256M", f"bios.kernel={kernel}", f"bios.initrd={initrd}", "bios.initrd_name=initrd.img",
        "bios.append=root=/dev/ram0 ramdisksize=4096 initrd=initrd.img console=/dev/ttyS0"])
    m.serial.wait("mini-init: started", timeout=600)
    text = m.serial.text()
    assert "type=16550A FIFO=yes" in text and "mounted root device (ext2 filesystem)." in text
    for command, answer in (("cat /etc/motd\n", "hello from a file on the initrd"), ("uname\n", "Fiwix")):
        start = len(m.serial.text())
        m.serial.type(command)
        m.run_until(lambda: answer in m.serial.text()[start:], 120, False, f"{answer!r} on COM1")


def test_embox_reaches_its_shell_answers_and_powers_off(pc):
    """Embox's x86 QEMU template as a multiboot kernel (linked for 256 MiB): its
    console on COM1 at 38400 baud, PCI probing, ACPICA reading our ACPI tables,
    the tish shell's commands typed on COM1; `shutdown -p` enters S5 through
    ACPICA's interpretation of the DSDT's \\_S5 package."""
    (kernel,) = built("PCMACHINE_EMBOX_DIR", "embox")
    m = pc.boot("pc.yaml", overrides=["ram.size=256M", f"bios.kernel={kernel}"])
    m.serial.wait("root@embox:/#", timeout=900)
    assert "Default IO device[ttyS0]" in m.serial.text()
    for command, answer in (("lspci\n", "Intel 82371SB (PIIX3) IDE"),
                            ("cat /network\n", "hwaddress aa:bb:cc:dd:ee:02"),
                            ("thread -s\n", "Total 5 threads")):
        m.serial.type(command)
        m.serial.wait(answer, timeout=300, after_input=True)
    m.serial.type("shutdown -p\n")
    m.run_until(lambda: m.powered_off, 120, False, "the ACPI power-off")


def test_bootos_formats_its_floppy_and_runs_a_program_typed_in_hex(pc):
    """The README's session: `format`, `enter` the "Hello, world" program in hex,
    save it as `hello` (a sector on track 1), list it and run it."""
    image, = built("PCMACHINE_NANOCHESS_DIR", "os.img")
    m = pc.boot("pc.yaml", fda=image)
    m.wait_text("$", timeout=60)
    m.type("format\nenter\n")
    for line in ("bb 17 7c 8a 07 84 c0 74 0c 53 b4 0e bb 0f 00 cd",
                 "10 5b 43 eb ee cd 20 48 65 6c 6c 6f 2c 20 77 6f", "72 6c 64 0d 0a 00", ""):
        m.type(line + "\n")
    m.type("hello\ndir\nhello\n")
    m.wait_text("Hello, world", timeout=60, after_input=True)


def test_bootbasic_runs_a_program(pc):
    image, = built("PCMACHINE_NANOCHESS_DIR", "basic.img")
    m = pc.boot("pc.yaml", fda=image)
    m.wait_text(">", timeout=60)
    for line in ("10 a=1", "20 print a", "30 a=a*3+1", "40 if a-1093 goto 20", "50 print 7/2*5-(3-10)", "run"):
        m.type(line + "\n")
    m.wait_text("364", timeout=60, after_input=True)
    m.wait_text("22", timeout=60, after_input=True)


def test_cubicdoom_first_frame_is_the_start_view(pc, tmp_path):
    """cubicDoom moves its cubes on frames whose BIOS tick count is a multiple of
    32; at 12:34:56 (tick 0C956Ah) its first frames show the maze as generated
    (its PIT seed pinned to 0 here), byte for byte as QEMU 7.2 draws it.  When the
    BIOS started the count at 0, the first frame moved every cube (a cube filled
    the screen)."""
    image, = built("PCMACHINE_NANOCHESS_DIR", "doom.img")
    data = bytearray(pathlib.Path(image).read_bytes())
    seed = data.find(bytes((0x51, 0xE5, 0x40)))       # push cx; in ax,40h
    data[seed + 1:seed + 3] = bytes((0x31, 0xC0))      # xor ax,ax
    pinned = tmp_path / "doom-seed0.img"
    pinned.write_bytes(bytes(data))
    m = pc.boot("pc.yaml", overrides=["cmos.start=2026-01-01T12:34:56"], fda=str(pinned))
    m.run_for(0.1)
    frame = bytes(m.machine.bus.read_bytes(0xA0000, 64000))
    assert hashlib.sha256(frame).hexdigest() == \
        "f014f48f61e1804f05f4b2475750a22cba743287676e2823feba3454f6b1ee5a"


def test_linux_e1000_driver_gets_a_lease_and_pings_the_gateway(pc):
    """Debian's Linux 6.1 with its e1000 module on the 82540EM (`nic.plugin=e1000`):
    the driver's probe (CTRL.RST through IODATA, the EEPROM through EECD, the M88
    PHY through MDIC), link up at 1000 Mb/s, busybox udhcpc's lease from the
    user-mode network and two answered pings, the card's interrupts on IRQ 11."""
    kernel, initrd = built("PCMACHINE_LINUX_E1000_DIR", "vmlinuz", "initrd.gz")
    m = pc.boot("pc.yaml", overrides=[
        "ram.size=128M", f"bios.kernel={kernel}", f"bios.initrd={initrd}", "bios.append=console=ttyS0",
        "nic.plugin=e1000", "cmos.start=2026-01-01T00:00:00"])
    m.serial.wait("pcmachine nic test done", timeout=3600)
    text = m.serial.text()
    assert "e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) 52:54:00:12:34:56" in text
    assert "eth0 NIC Link is Up 1000 Mbps Full Duplex" in text
    assert "lease of 10.0.2.15 obtained from 10.0.2.2, lease time 86400" in text
    assert "2 packets transmitted, 2 packets received, 0% packet loss" in text
    assert re.search(r"11:\s+\d+\s+IO-APIC\s+11-fasteoi\s+eth0", text)


def test_debian_system_boots_systemd_from_ide_and_powers_off_clean(pc, tmp_path):
    """A real Debian 12 i386 userland: the initramfs loads ata_piix, sd_mod and
    ext4 through udev, mounts the root from the IDE disk, and systemd starts its
    units to the serial getty's autologin; no unit fails, a file written and
    synced is on the disk, and `poweroff` ends in ACPI S5 with the ext4 file
    system clean (`e2fsck -fn`)."""
    kernel, initrd, disk = built("PCMACHINE_DEBIAN_SYSTEM_DIR", "vmlinuz", "initrd.img", "disk.img")
    search = os.pathsep.join((os.environ.get("PATH", ""), "/sbin", "/usr/sbin"))
    e2fsck, debugfs = (shutil.which(tool, path=search) for tool in ("e2fsck", "debugfs"))
    if e2fsck is None or debugfs is None:
        pytest.skip("e2fsck and debugfs (e2fsprogs) are needed to check the disk")
    copy = str(tmp_path / "disk.img")
    shutil.copyfile(disk, copy)
    m = pc.boot("pc.yaml", copy_media=False, hda=copy, overrides=[
        "ram.size=512M", f"bios.kernel={kernel}", f"bios.initrd={initrd}",
        "bios.append=root=/dev/sda console=ttyS0"])
    m.serial.wait("root@", timeout=3600)
    text = m.serial.text()
    assert "ata1.00: ATA-" in text and "[sda] Attached SCSI disk" in text
    assert "EXT4-fs (sda): mounted filesystem" in text and "Debian GNU/Linux 12 (bookworm)" in text
    assert "FAILED" not in text
    m.serial.type("systemctl --failed --no-pager; echo written > /root/pcmachine.txt; sync; echo DONE-$((6*7))\n")
    m.serial.wait("DONE-42", timeout=600, after_input=True)
    assert "0 loaded units listed." in m.serial.text()
    m.serial.type("poweroff\n")
    m.run_until(lambda: m.powered_off, 900, False, "the ACPI power-off")
    check = subprocess.run([e2fsck, "-fn", copy], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    written = subprocess.run([debugfs, "-R", "cat /root/pcmachine.txt", copy], capture_output=True, text=True)
    assert written.stdout == "written\n"
