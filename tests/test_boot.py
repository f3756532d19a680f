"""First boots: the two classic boot sectors from a 1.44 MB floppy through the CLI,
screen dumps, the demo disk, and a dotted-path plugin counting events via hooks."""

import subprocess
import sys

from pcmachine.cli import main


def run(capsys, *argv):
    status = main(["run", "pc.yaml", "--headless", "--timeout", "60", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_boot_sector_writing_vga_memory(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/vga_direct.bin")
    dump = str(tmp_path / "screen.txt")
    status, out, err = run(capsys, "--fda", image, "--wait", "Hello from VGA memory!",
                           "--screen-dump", dump)
    assert status == 0, err
    assert "Hello from VGA memory!" in out
    with open(dump, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 25
    assert lines[0].startswith("OK")
    assert lines[2][10:32] == "Hello from VGA memory!"
    with open(dump + ".attr") as handle:
        attributes = handle.read().splitlines()
    assert attributes[0][:4].upper() == "2F2F"
    assert attributes[2][20:24].upper() == "1E1F"   # colours step per character


def test_boot_sector_hello_world_via_int10(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    dump = str(tmp_path / "screen.txt")
    status, out, err = run(capsys, "--fda", image, "--wait", "Hello, world!", "--screen-dump", dump)
    assert status == 0, err
    with open(dump, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[12][33:46] == "Hello, world!"


def test_halt_with_interrupts_disabled_ends_the_run(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/vga_direct.bin")
    status, out, err = run(capsys, "--fda", image)
    assert status == 0
    assert "halted with interrupts disabled at 0000:" in err


def test_wait_for_text_that_never_appears_fails_with_screen(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/vga_direct.bin")
    status, out, err = run(capsys, "--fda", image, "--wait", "never shown")
    assert status == 1
    assert "Hello from VGA memory!" in out
    assert "step not reached" in err


def test_instruction_limit(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/vga_direct.bin")
    status, out, err = run(capsys, "--fda", image, "--wait", "never shown", "--max-instructions", "30")
    assert status == 1 and "instruction limit" in err


def test_demo_disk_boots_without_media(capsys):
    status, out, err = run(capsys, "--wait", "pcmachine demo disk")
    assert status == 0, err


def test_dotted_path_plugin_counts_port_and_vga_writes(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    status, out, err = run(capsys, "--fda", image, "--plugin", "countingplugin:WriteCounter")
    assert status == 0, err
    from countingplugin import WriteCounter
    counter = WriteCounter.last
    # The boot sector writes 13 characters via int 10h; the BIOS puts each into VGA
    # memory and moves the cursor through the CRTC ports 0x3D4/0x3D5.
    assert counter.vga_writes >= 13
    assert {0x3D4, 0x3D5} <= counter.ports
    assert f"port writes: {counter.port_writes}, VGA memory writes: {counter.vga_writes}" in out


def test_demo_disk_runs_beside_another_demo_run(capsys):
    """The demo disk is booted copy-on-write, so demo runs share it: one goes on
    while another process has it open as a demo run does (two test suites on
    two runtimes did collide on its write lock)."""
    from pcmachine.runner import demo_image
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pcmachine.media import Disk\n"
         "disk = Disk('fda', sys.argv[1], 'floppy', overlay=True)\nprint('held', flush=True)\ntime.sleep(120)",
         demo_image()], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        status, out, err = run(capsys, "--wait", "pcmachine demo disk")
    finally:
        holder.kill()
        holder.wait()
    assert status == 0, err
