"""Floppy swaps at run time: the `--change-floppy` / `--eject-floppy` steps, the
monitor's `change` / `eject`, the pytest plugin's `change_floppy` / `eject_floppy`,
recording and replay, snapshots, and bad input.

The guest (tests/guests/devices/floppyswap.asm) reads cylinder 1, head 0, sector 1
through int 13h and through the 82077AA by DMA, waits for a change by polling DIR
bit 7, then for an ejection with int 13h AH=16h, then for a new disk with int 13h
reads, and reports each step on port 0xE9.  Every sector of the test's disks
starts with "diskN:LBA ", so the reports show which disk and which sector was
read, and the geometry follows each disk (a 720K after a 1.44M).
"""

import os
from typing import List

import pytest

from bios_support import PortE9Capture
from conftest import guest_path
from pcmachine import compat
from pcmachine.cli import main
from pcmachine.debugger.control import Debugger
from pcmachine.debugger.monitor import Monitor
from pcmachine.machine import Machine
from pcmachine.record import load_snapshot, save_snapshot
from pcmachine.runner import RunOptions, build_machine
from pcmachine.steps import ScreenWatcher

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
FLOPPY_144, FLOPPY_720 = 1474560, 737280
MAX_INSTRUCTIONS = "60000000"

BEFORE = ["floppyswap: start", "geometry 80/2/18", "bios disk1:0036", "fdc disk1:0036 st0=00", "dir=00",
          "READY-1"]
SWAPPED = ["changed dir=80", "ah16=06", "ah16=00",      # a change is reported once
           "geometry 80/2/9", "bios disk2:0018", "fdc disk2:0018 st0=00", "dir=00",
           "bios write ah=00", "READY-2"]
EJECTED = ["ah16=80",
           "geometry 80/2/18",                             # empty: the 1.44 MB drive's largest format
           "bios ah=80",                                   # no medium: not ready
           "dir=80",                                       # a seek to another cylinder leaves it set
           "fdc st0=40 st1=01", "READY-3"]
INSERTED = ["read ah=06",                                  # the first read after the change
            "geometry 80/2/18", "bios disk3:0036", "fdc disk3:0036 st0=00", "dir=00", "DONE"]
EXPECTED = BEFORE + SWAPPED + EJECTED + INSERTED


def disk(path, label: str, size: int, boot: bytes = b"") -> str:
    data = bytearray(b"".join(f"{label}:{lba:04d} ".encode().ljust(512, b".") for lba in range(size // 512)))
    data[:len(boot)] = boot
    path.write_bytes(bytes(data))
    return str(path)


@pytest.fixture
def disks(tmp_path) -> List[str]:
    with open(guest_path("devices", "floppyswap.bin"), "rb") as handle:
        boot = handle.read()
    return [disk(tmp_path / "disk1.img", "disk1", FLOPPY_144, boot),
            disk(tmp_path / "disk2.img", "disk2", FLOPPY_720),
            disk(tmp_path / "disk3.img", "disk3", FLOPPY_144)]


def lines(path) -> List[str]:
    with open(path, encoding="latin-1") as handle:
        return handle.read().splitlines()


def run_cli(capsys, *args: str):
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--set", FIXED_RTC,
                   "--max-instructions", MAX_INSTRUCTIONS, *args])
    out, err = capsys.readouterr()
    return status, out, err


def swap_steps(disks: List[str]) -> List[str]:
    return ["--wait", "READY-1", "--change-floppy", f"A:{disks[1]}", "--wait", "READY-2",
            "--eject-floppy", "A", "--wait", "READY-3", "--change-floppy", f"A:{disks[2]}", "--wait", "DONE"]


def test_steps_swap_eject_and_insert(disks, tmp_path, capsys):
    log = tmp_path / "e9.txt"
    status, out, err = run_cli(capsys, "--fda", disks[0], "--debugcon", f"file:{log}", *swap_steps(disks))
    assert status == 0, err
    assert lines(log) == EXPECTED
    with open(disks[1], "rb") as handle:
        assert handle.read()[19 * 512:][:11] == b"guest:0019 "     # the guest wrote the swapped-in disk


def test_a_step_that_the_run_does_not_reach_fails(disks, tmp_path, capsys):
    status, out, err = run_cli(capsys, "--fda", disks[0], "--max-instructions", "3000000",
                               "--wait", "NEVER", "--eject-floppy", "A")
    assert status == 1 and "step not reached: --wait 'NEVER'" in err


@pytest.mark.parametrize("step, problem", [
    ("--change-floppy=A:{missing}", "image not found"),
    ("--change-floppy=B:{disk2}", "no floppy drive fdb"),
    ("--change-floppy=A:{big}", "larger than any floppy format"),
    ("--change-floppy=A", "give a drive and an image"),
    ("--eject-floppy=C", "not a floppy drive"),
])
def test_bad_changes_stop_with_one_line(disks, tmp_path, capsys, step, problem):
    big = tmp_path / "big.img"
    big.write_bytes(bytes(3 * 1024 * 1024))
    step = step.format(missing=tmp_path / "missing.img", disk2=disks[1], big=big)
    status, out, err = run_cli(capsys, "--fda", disks[0], step)
    assert status == 2
    assert problem in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_empty_drive_from_the_start_takes_a_disk_later(disks, tmp_path, capsys):
    """`--fda empty` (QEMU's pc has an empty floppy drive): a guest booted from the
    hard disk (tests/guests/devices/emptyfloppy.asm) sees drive A, 1.44 MB in CMOS,
    with a change line and no disk (reads time out), then reads the disk the host
    puts in.  AH=08h answers with the drive type's largest format without a disk,
    as Bochs' rombios and SeaBIOS do from CMOS (QEMU's empty drive is a 2.88 MB
    one: cx=4F24 there)."""
    with open(guest_path("devices", "emptyfloppy.bin"), "rb") as handle:
        hard_disk = tmp_path / "hd.img"
        hard_disk.write_bytes(handle.read().ljust(1 << 20, b"\0"))
    log = tmp_path / "e9.txt"
    status, out, err = run_cli(capsys, "--hda", str(hard_disk), "--fda", "empty", "--debugcon", f"file:{log}",
                               "--wait", "READY-1", "--change-floppy", f"A:{disks[2]}", "--wait", "DONE")
    assert status == 0, err
    assert lines(log) == ["emptyfloppy: start",
                          "equipment=0001",          # one floppy drive
                          "cmos10=40",               # drive A: 1.44 MB
                          "type ah=02",              # a floppy drive with a change line
                          "drive bl=04 cx=4F12 dh=01",   # 80 cylinders, 18 sectors, 2 heads
                          "bios ah=80",              # no disk: timeout
                          "READY-1",
                          "ah16=06",                 # the disk went in
                          "bios disk3:0000", "DONE"]


@pytest.mark.parametrize("media, problem", [
    ("{hda: empty}", "media.hda.empty: only a floppy drive (fda, fdb) can be empty"),
    ("{fda: {image: disk.img, empty: true}}", "media.fda.empty: give an image or empty: true, not both"),
])
def test_bad_empty_drives_stop_with_one_line(disks, tmp_path, capsys, media, problem):
    (tmp_path / "disk.img").write_bytes(bytes(FLOPPY_144))
    profile = tmp_path / "machine.yaml"
    profile.write_text(f"extends: pc.yaml\nmedia: {media}\n")
    status = main(["run", str(profile), "--headless", "--quiet", "--max-instructions", "1000"])
    err = capsys.readouterr().err
    assert status == 2 and problem in err and len(err.strip().splitlines()) == 1


def test_the_pytest_plugin_boots_with_an_empty_drive(pc, disks, tmp_path):
    with open(guest_path("devices", "emptyfloppy.bin"), "rb") as handle:
        hard_disk = tmp_path / "hd.img"
        hard_disk.write_bytes(handle.read().ljust(1 << 20, b"\0"))
    m = pc.boot("pc.yaml", hda=str(hard_disk), fda="empty")
    m.wait_text("READY-1", timeout=60)
    m.change_floppy("A", disks[2])
    m.wait_text("DONE", timeout=60)


def test_an_empty_drive_in_a_profile_is_in_snapshots(tmp_path):
    profile = tmp_path / "machine.yaml"
    profile.write_text("extends: pc.yaml\nmedia: {fda: empty, fdb: {empty: true}}\n")
    machine = build_machine(RunOptions(profile=str(profile), headless=True))
    try:
        assert machine.drives.names() == ["fda", "fdb"] and not machine.media
        assert machine.drives.snapshot() == {"fda": None, "fdb": None}
        assert [machine.drives.drive_type(name) for name in ("fda", "fdb")] == [4, 4]
    finally:
        machine.close()


def test_the_pytest_plugin_swaps_floppies(pc, disks, tmp_path):
    log = tmp_path / "e9.txt"
    m = pc.boot("pc.yaml", fda=disks[0], overrides=[FIXED_RTC, f"debugcon.output=file:{log}"])
    m.wait_text("READY-1")
    m.change_floppy("A", disks[1])
    m.wait_text("READY-2")
    m.eject_floppy("A")
    m.wait_text("READY-3")
    m.change_floppy("fda", disks[2], readonly=True)
    m.wait_text("DONE")
    m.machine.flush_media()
    assert lines(log) == EXPECTED
    assert m.machine.media["fda"].readonly
    assert m.machine.media["fda"].path != disks[2]                # a copy in the test folder


class Booted:
    """The guest booted in-process, port 0xE9 captured, run slice by slice."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.e9 = PortE9Capture()
        machine.add_plugin(self.e9)
        self.watcher = ScreenWatcher(machine)

    def run_until(self, text: str) -> None:
        for _ in range(500):
            if self.watcher.shows(text):
                return
            assert self.machine.run_slice() in (None, "halted")
        raise AssertionError(f"{text!r} never appeared; port 0xE9: {self.e9.text!r}")


def booted(disks: List[str]) -> Booted:
    return Booted(Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": disks[0]}))


def test_monitor_change_and_eject(disks, tmp_path):
    run = booted(disks)
    try:
        monitor = Monitor(run.machine, Debugger(run.machine, history=False))
        run.run_until("READY-1")
        text, action = monitor.execute(f"change fdb {disks[1]}")
        assert text.startswith("error: this machine has no floppy drive fdb") and action is None
        assert monitor.execute(f"change A {tmp_path / 'missing.img'}")[0].startswith("error: fda: image not found")
        assert monitor.execute("change A")[0] == "error: usage: change DRIVE FILE [readonly|overlay]"
        assert "goes in when the machine runs on" in monitor.execute(f"change floppy0 {disks[1]}")[0]
        run.run_until("READY-2")
        assert monitor.execute("eject A")[0] == "fda: ejected when the machine runs on"
        run.run_until("READY-3")
        monitor.execute(f"change a: {disks[2]} overlay")
        run.run_until("DONE")
        assert run.e9.text.splitlines() == EXPECTED
        assert run.machine.media["fda"].overlay
        assert "change DRIVE FILE" in monitor.execute("help")[0]
    finally:
        run.machine.close()


def test_snapshots_keep_the_disk_in_the_drive_or_its_absence(disks, tmp_path):
    run = booted(disks)
    swapped, empty = str(tmp_path / "swapped.snap"), str(tmp_path / "empty.snap")
    try:
        run.run_until("READY-1")
        run.machine.drives.request("A", disks[1])
        run.run_until("READY-2")
        save_snapshot(run.machine, swapped)
        run.machine.drives.request("A", None)
        run.run_until("READY-3")
        save_snapshot(run.machine, empty)
    finally:
        run.machine.close()
    assert load_snapshot(swapped)[1]["drives"] == {"fda": {"path": disks[1], "readonly": False, "overlay": False}}
    assert load_snapshot(empty)[1]["drives"] == {"fda": None}
    # the drive stays the 1.44 MB one it was built as, with the 720K disk in it too
    assert load_snapshot(swapped)[1]["drive_types"] == load_snapshot(empty)[1]["drive_types"] == {"fda": 4}

    restored = Booted(build_machine(RunOptions(profile=None, restore=swapped)))
    try:
        assert restored.machine.media["fda"].path == disks[1]
        assert restored.machine.media["fda"].spt == 9
        restored.machine.drives.request("A", None)
        restored.run_until("READY-3")
        assert restored.e9.text.splitlines() == EJECTED
    finally:
        restored.machine.close()

    restored = Booted(build_machine(RunOptions(profile=None, restore=empty)))
    try:
        assert "fda" not in restored.machine.media and restored.machine.drives.empty == {"fda"}
        restored.machine.drives.request("A", disks[2])
        restored.run_until("DONE")
        assert restored.e9.text.splitlines() == INSERTED
        # an in-process restore puts the medium back too
        restored.machine.restore(load_snapshot(swapped)[1])
        assert restored.machine.media["fda"].path == disks[1]
    finally:
        restored.machine.close()


def test_a_recording_replays_the_swaps_and_refuses_a_changed_image(disks, tmp_path, capsys):
    recording = str(tmp_path / "swap.rec")
    status, out, err = run_cli(capsys, "--fda", disks[0], "--record", recording, *swap_steps(disks))
    assert status == 0, err
    # the guest wrote to disk 2 while it was in the drive: the recording's journal
    # holds the sector as it was, so the replay still finds the disk it swapped in
    with open(disks[1], "rb") as handle:
        written = handle.read()
    assert written[19 * 512:][:11] == b"guest:0019 "
    assert main(["replay", "--quiet", recording]) == 0
    out, err = capsys.readouterr()
    assert "replay matched" in out
    with open(disks[1], "rb") as handle:
        assert handle.read() == written                    # a replay writes no image
    with open(disks[1], "r+b") as handle:
        handle.seek(18 * 512)
        handle.write(b"other")
    assert main(["replay", "--quiet", recording]) == 2
    out, err = capsys.readouterr()
    assert f"{disks[1]}, put in fda at instruction" in err and "has changed since it was recorded" in err
    assert len(err.strip().splitlines()) == 1


def test_a_swap_releases_the_old_lock_and_takes_the_new(disks, tmp_path):
    """Writable images are locked while in the drive: after the swap another
    process can lock the old image, not the new one."""
    import fcntl

    def lockable(path: str) -> bool:
        pid = os.fork()
        if pid == 0:
            with open(path, "r+b") as handle:
                try:
                    fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os._exit(1)
                os._exit(0)
        return os.waitpid(pid, 0)[1] == 0

    run = booted(disks)
    try:
        assert not lockable(disks[0]) and lockable(disks[1])
        run.machine.drives.request("A", disks[1])
        run.machine.run_slice()
        assert lockable(disks[0]) and not lockable(disks[1])
        run.machine.drives.request("A", disks[1])        # the same image again: still locked
        run.machine.run_slice()
        assert not lockable(disks[1])
        run.machine.drives.request("A", None)
        run.machine.run_slice()
        assert lockable(disks[1])
    finally:
        run.machine.close()


def test_manifest_steps_swap_floppies(pc, disks, tmp_path):
    """`machine compat`'s manifest steps change_floppy / eject_floppy."""
    folder = tmp_path / "shared" / "guests" / "swapper"
    folder.mkdir(parents=True)
    for path in disks:
        os.rename(path, folder / os.path.basename(path))
    entry = {"name": "swapper", "media": {"fda": "disk1.img"},
             "steps": [{"wait": "READY-1"}, {"change_floppy": "A:disk2.img"}, {"wait": "READY-2"},
                       {"eject_floppy": "A"}, {"wait": "READY-3"}, {"change_floppy": "A:disk3.img"},
                       {"wait": "DONE"}]}
    result = compat.boot_guest(pc, entry, str(tmp_path / "shared"), timeout=60)
    assert result["status"] == "pass", result.get("cause")
    assert list(result["markers"]) == ["READY-1", "READY-2", "READY-3", "DONE"]


def test_going_backwards_over_a_swap_puts_the_first_disk_back(disks):
    """Reverse execution restores the medium that was in the drive then, and
    running forward again swaps at the same instruction."""
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": disks[0]})
    try:
        debugger = Debugger(machine, interval=100_000)
        run = Booted(machine)
        run.run_until("READY-1")
        swapped_at = machine.clock.icount
        machine.drives.request("A", disks[1])
        run.run_until("READY-2")
        later = machine.clock.icount
        assert debugger.reverse_step(later - (swapped_at - 1000))
        assert machine.media["fda"].path == disks[0]
        assert not machine.components["fdc"].state.disk_changed[0]
        while machine.clock.icount < later:
            assert machine.run_slice(later) in (None, "instruction-limit")
        assert machine.media["fda"].path == disks[1]
        assert run.e9.text.endswith("\n".join(SWAPPED) + "\n")
    finally:
        machine.close()


def test_going_backwards_undoes_writes_to_a_disk_swapped_out_since(disks):
    """The debugger's sector journal follows swaps: sectors written to a disk that
    has left the drive since are put back into its image."""
    with open(disks[1], "rb") as handle:
        original = handle.read()
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": disks[0]})
    try:
        debugger = Debugger(machine, interval=10_000)
        run = Booted(machine)
        run.run_until("READY-1")
        start = machine.clock.icount

        def run_to(count):
            while machine.clock.icount < count:
                assert machine.run_slice(count) in (None, "instruction-limit")

        machine.drives.request("A", disks[1])
        run_to(start + 1000)
        machine.media["fda"].write(18, b"written!" * 64)
        machine.drives.request("A", disks[2])
        run_to(start + 2000)
        with open(disks[1], "rb") as handle:
            assert handle.read() != original
        assert debugger.reverse_step(machine.clock.icount - (start - 500))
        with open(disks[1], "rb") as handle:
            assert handle.read() == original
        assert machine.media["fda"].path == disks[0]
    finally:
        machine.close()


def test_a_drive_keeps_its_type_after_a_swap_and_a_reboot(disks):
    """CMOS 10h and the equipment word describe the drive, not the disk in it:
    after an eject and a reset, drive A is still a 1.44M drive."""
    run = booted(disks)
    machine = run.machine
    try:
        run.run_until("READY-1")
        machine.drives.request("A", disks[1])
        machine.run_slice()
        machine.drives.request("A", None)
        machine.run_slice()
        machine.reset("reset-line")
        for _ in range(5):
            machine.run_slice()
        machine.bus.io_write(0x70, 1, 0x10)
        assert machine.bus.io_read(0x71, 1) == 0x40                 # 1.44M drive A, no drive B
        machine.bus.io_write(0x70, 1, 0x14)
        assert machine.bus.io_read(0x71, 1) & 0xC1 == 0x01           # one floppy drive
        assert machine.drives.drive_type("fda") == 4 and machine.drives.drive_type("fdb") == 0
    finally:
        machine.close()
