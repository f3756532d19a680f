"""The VNC server (`--vnc`), checked with a real viewer library (vncdotool) in
separate processes: the picture a viewer receives equals the machine's own
screenshot, in text mode, in mode 13h and in a VBE mode; keys a viewer types reach the guest;
several viewers at once; a port in use is a one-line error."""

import os
import socket
import subprocess
import sys
import time

import pytest

from pcmachine.screenshot import read_png

BIN = os.path.dirname(sys.executable)
MACHINE = os.path.join(BIN, "machine")
VNCDOTOOL = os.path.join(BIN, "vncdotool")

needs_viewer = pytest.mark.skipif(
    not os.path.exists(VNCDOTOOL),
    reason="vncdotool (Twisted + Pillow) is a CPython-only test dependency; the server code is "
           "the same on PyPy")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(tmp_path, image: str, port: int, *extra: str) -> subprocess.Popen:
    process = subprocess.Popen([MACHINE, "run", "pc.yaml", "--fda", image, "--headless", "--vnc",
                                f"127.0.0.1:{port}", "--timeout", "90", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the VNC server never listened")


def viewer(port: int, *commands: str) -> None:
    subprocess.run([VNCDOTOOL, "-s", f"127.0.0.1::{port}", *commands], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=60)
    return out.decode()


def assert_same_picture(viewer_png: str, screenshot_png: str) -> None:
    seen, ours = read_png(viewer_png), read_png(screenshot_png)
    assert seen[:2] == ours[:2]
    assert seen[2] == ours[2]


@needs_viewer
def test_text_mode_viewer_types_and_sees_the_guest_react(tmp_path, floppy_from):
    port = free_port()
    process = start(tmp_path, floppy_from(tmp_path, "boot/echo_int16.bin"), port)
    viewer(port, "pause", "2", "type", "hello", "pause", "3", "capture", str(tmp_path / "seen.png"))
    # the machine's own picture at the same moment: nothing changes once the keys are echoed
    viewer(port, "capture", str(tmp_path / "again.png"))
    finish(process)
    width, height, rgb = read_png(str(tmp_path / "seen.png"))
    assert (width, height) == (720, 400)
    assert read_png(str(tmp_path / "again.png"))[2] == rgb


@needs_viewer
def test_mode_13h_picture_equals_the_screenshot(tmp_path, floppy_from):
    port = free_port()
    image = floppy_from(tmp_path, "display/mode13_idle.bin")
    process = start(tmp_path, image, port, "--screenshot", str(tmp_path / "ours.png"))
    viewer(port, "pause", "2", "capture", str(tmp_path / "seen.png"))
    finish(process)
    assert_same_picture(str(tmp_path / "seen.png"), str(tmp_path / "ours.png"))


@needs_viewer
def test_vbe_mode_picture_equals_the_screenshot(tmp_path, floppy_from):
    """A 640x480x32 Bochs VBE mode with the linear framebuffer, programmed through
    the DISPI ports by the guest."""
    port = free_port()
    image = floppy_from(tmp_path, "display/dispi_idle.bin")
    process = start(tmp_path, image, port, "--screenshot", str(tmp_path / "ours.png"))
    expected = b"".join(bytes((x & 0xFF, y & 0xFF, ((x + y) >> 1) & 0xFF))
                        for y in range(480) for x in range(640))
    seen = str(tmp_path / "seen.png")
    deadline = time.monotonic() + 80
    while True:                     # the guest draws for a few host seconds
        viewer(port, "capture", seen)
        if read_png(seen)[2] == expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    finish(process)
    assert read_png(seen)[:2] == (640, 480) and read_png(seen)[2] == expected
    assert_same_picture(seen, str(tmp_path / "ours.png"))


@needs_viewer
def test_keys_reach_the_guest_and_several_viewers_share_the_screen(tmp_path, floppy_from):
    """Two viewers capture while a third types: all see the same echoed text, and
    the final screen (printed by the headless run) holds the typed word."""
    port = free_port()
    process = start(tmp_path, floppy_from(tmp_path, "boot/echo_int16.bin"), port,
                    "--screenshot", str(tmp_path / "ours.png"))
    viewer(port, "pause", "2", "type", "vnc", "pause", "3")
    captures = [subprocess.Popen([VNCDOTOOL, "-s", f"127.0.0.1::{port}", "capture",
                                  str(tmp_path / f"seen{n}.png")]) for n in range(2)]
    assert all(capture.wait(timeout=120) == 0 for capture in captures)
    screen = finish(process)
    assert "> vnc" in screen
    for n in range(2):
        assert_same_picture(str(tmp_path / f"seen{n}.png"), str(tmp_path / "ours.png"))


def test_port_in_use_is_one_line(tmp_path, floppy_from):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([MACHINE, "run", "pc.yaml", "--fda", floppy_from(tmp_path, "boot/echo_int16.bin"),
                                 "--headless", "--vnc", f"127.0.0.1:{port}", "--max-instructions", "1000"],
                                capture_output=True, timeout=60)
    err = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2
    assert len(err) == 1 and err[0].startswith(f"machine: error: --vnc: cannot listen on 127.0.0.1:{port}")


def test_bad_address_is_one_line(capsys):
    from pcmachine.cli import main
    assert main(["run", "pc.yaml", "--headless", "--vnc", "localhost:x"]) == 2
    assert capsys.readouterr().err.strip() == \
        "machine: error: --vnc localhost:x: expected HOST:PORT, e.g. 127.0.0.1:5900"
