"""Nothing lost on disk (issue 18 item 6): a guest writing sectors through ATA is
killed with SIGKILL, and the image holds every sector of every completed write
command, no torn sector; read-only and overlay images are left as they were; two
runs cannot write one image at once.  The emulator runs as a user runs it: the
`machine` command in a separate process."""

import os
import re
import signal
import struct
import subprocess
import sys
import time

import pytest

GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "disk", "ata_stream.bin")
MACHINE = [sys.executable, "-c", "import sys; from pcmachine.cli import main; sys.exit(main())"]
SECTOR = 512
COUNT = 8                      # sectors per command (ata_stream.asm)
FIRST, LAST = 1, 1 + 8 * 128   # the LBAs the guest writes: FIRST .. LAST-1


def stream_image(tmp_path) -> str:
    image = str(tmp_path / "hd.img")
    with open(image, "wb") as handle:
        with open(GUEST, "rb") as guest:
            handle.write(guest.read())
    os.truncate(image, 1 << 20)
    return image


def start(image, log, *extra):
    return subprocess.Popen(MACHINE + ["run", "pc.yaml", "--hda", image, "--headless", "--quiet",
                                       "--debugcon", f"file:{log}", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def reports(log):
    """The completed commands the guest reported: [(generation, first LBA)]."""
    try:
        with open(log, "rb") as handle:
            text = handle.read().decode("latin-1")
    except FileNotFoundError:
        return []
    assert "ERR" not in text
    lines = text.split("\n")[:-1]              # the last line may be cut off
    return [tuple(int(field) for field in line.split()) for line in lines]


def wait_for_reports(process, log, count, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = reports(log)
        if len(done) >= count:
            return done
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.02)
    raise AssertionError(f"the guest reported {len(reports(log))} commands in {timeout} s")


def test_sigkill_keeps_every_completed_write_and_tears_no_sector(tmp_path):
    image, log = stream_image(tmp_path), str(tmp_path / "e9.txt")
    process = start(image, log)
    # into the second generation, so sectors are overwritten as well as written
    wait_for_reports(process, log, (LAST - FIRST) // COUNT + 20)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()
    done = reports(log)
    expected = {}                              # LBA -> generation of its last completed write
    for generation, first in done:
        for lba in range(first, first + COUNT):
            expected[lba] = generation
    last_generation, last_first = done[-1]
    in_flight = last_first + COUNT if last_first + COUNT < LAST else FIRST
    with open(image, "rb") as handle:
        data = handle.read()
    assert len(data) == 1 << 20
    for lba in range(FIRST, LAST):
        sector = data[lba * SECTOR:(lba + 1) * SECTOR]
        pairs = set(struct.iter_unpack("<II", sector))
        assert len(pairs) == 1, f"LBA {lba} is torn: {sorted(pairs)[:4]}"
        written_lba, generation = pairs.pop()
        if generation == 0:
            assert written_lba == 0 and lba not in expected, f"LBA {lba}: completed write lost"
            continue
        assert written_lba == lba, f"LBA {lba} holds the data of LBA {written_lba}"
        want = expected.get(lba, 0)
        if in_flight <= lba < in_flight + COUNT:
            # the command that was running at the kill may have reached any sector of it
            assert generation in (want, want + 1), (lba, generation, want)
        else:
            assert generation == want, f"LBA {lba}: generation {generation}, completed {want}"


@pytest.mark.parametrize("mode", ["readonly", "overlay"])
def test_readonly_and_overlay_leave_the_image_and_its_mtime_alone(tmp_path, mode):
    image, log = stream_image(tmp_path), str(tmp_path / "e9.txt")
    old = os.stat(image)
    os.utime(image, ns=(old.st_atime_ns, old.st_mtime_ns - 10**9))   # a visibly older mtime
    before = os.stat(image).st_mtime_ns
    with open(image, "rb") as handle:
        content = handle.read()
    result = subprocess.run(MACHINE + ["run", "pc.yaml", "--hda", image, "--headless", "--quiet",
                                       "--debugcon", f"file:{log}", "--set", f"media.hda.{mode}=true",
                                       "--max-instructions", "3000000"],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr
    written = open(log, "rb").read()
    if mode == "readonly":
        assert written == b"ERR\n"             # the drive refused the write (ABRT)
    else:
        assert written.count(b"\n") >= 5 and b"ERR" not in written
    assert os.stat(image).st_mtime_ns == before
    with open(image, "rb") as handle:
        assert handle.read() == content


def test_a_second_run_cannot_open_an_image_in_use(tmp_path):
    image, log = stream_image(tmp_path), str(tmp_path / "e9.txt")
    first = start(image, log)
    try:
        wait_for_reports(first, log, 1)        # the first run holds the image
        for extra in ([], ["--set", "media.hda.readonly=true"]):
            second = subprocess.run(MACHINE + ["run", "pc.yaml", "--hda", image, "--headless", "--quiet",
                                               "--max-instructions", "1000", *extra],
                                    capture_output=True, text=True, timeout=120)
            assert second.returncode == 2
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and re.match(r"machine: error: hda: image .*hd\.img is", lines[0]), lines
            assert "another run" in lines[0]
        assert first.poll() is None            # the refused runs left the first one alone
    finally:
        first.kill()
        first.wait(timeout=30)
        first.stderr.close()
    again = subprocess.run(MACHINE + ["run", "pc.yaml", "--hda", image, "--headless", "--quiet",
                                      "--max-instructions", "1000"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr


def test_debugcon_reaches_a_pipe_as_it_is_written(tmp_path):
    """Port 0xE9 to standard output on a pipe: each report arrives while the
    emulator runs (no buffering held back until exit)."""
    image = stream_image(tmp_path)
    process = subprocess.Popen(MACHINE + ["run", "pc.yaml", "--hda", image, "--headless", "--quiet",
                                          "--debugcon", "stdio"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines == [b"1 1\n", b"1 9\n", b"1 17\n"]
        assert process.poll() is None
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
