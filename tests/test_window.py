"""The SDL window (`--display window`) under a virtual X server (Xvfb): it opens at
the guest's resolution, key events sent through SDL reach the guest, and the
window's pixels equal the machine's screenshot in text mode and mode 13h."""

import os
import shutil
import subprocess
import time

import pytest

from requirements import STRICT, require_module
import trio

from pcmachine.display import find_screen, screen_text
from pcmachine.machine import Machine
from pcmachine.profile import Profile
from pcmachine.screenshot import screen_image

XVFB = shutil.which("Xvfb")
pytestmark = pytest.mark.skipif(XVFB is None and not (os.environ.get("CI") or STRICT),
                                reason="Xvfb is not installed (apt-get install xvfb)")
sdl2 = require_module("sdl2")

from pcmachine.window import SDLWindow  # noqa: E402


@pytest.fixture(scope="module")
def x_display():
    assert XVFB is not None, "CI needs Xvfb (tests/run.sh installs it)"
    number = 90 + os.getpid() % 9
    server = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                              stderr=subprocess.DEVNULL)
    socket_path = f"/tmp/.X11-unix/X{number}"
    deadline = time.monotonic() + 20
    while not os.path.exists(socket_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    yield
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old
    server.terminate()
    server.wait()


def boot(image: str) -> Machine:
    return Machine.from_profile(Profile.load("pc.yaml", [], {"fda": image}))


def run_until(machine: Machine, window: SDLWindow, done, limit: int = 20_000_000) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(window.run)
            await machine.run(limit, lambda: "done" if done() else None)
            await trio.sleep(0.1)            # one more frame
            nursery.cancel_scope.cancel()
    trio.run(main)


def push_key(scancode: int, down: bool) -> None:
    event = sdl2.SDL_Event()
    event.type = sdl2.SDL_KEYDOWN if down else sdl2.SDL_KEYUP
    event.key.keysym.scancode = scancode
    event.key.state = sdl2.SDL_PRESSED if down else sdl2.SDL_RELEASED
    assert sdl2.SDL_PushEvent(event) == 1


def test_keys_through_sdl_reach_the_guest_and_pixels_match(tmp_path, floppy_from, x_display):
    machine = boot(floppy_from(tmp_path, "boot/echo_int16.bin"))
    window = SDLWindow(machine)
    window.open()
    try:
        screen = find_screen(machine)
        run_until(machine, window, lambda: "end with a dot>" in screen_text(screen))
        for scancode in (sdl2.SDL_SCANCODE_LSHIFT, sdl2.SDL_SCANCODE_H):
            push_key(scancode, True)
        for scancode in (sdl2.SDL_SCANCODE_H, sdl2.SDL_SCANCODE_LSHIFT):
            push_key(scancode, False)
        push_key(sdl2.SDL_SCANCODE_I, True)
        push_key(sdl2.SDL_SCANCODE_I, False)
        run_until(machine, window, lambda: "> Hi" in screen_text(screen))
        assert "> Hi" in screen_text(screen)
        assert window.window_pixels() == screen_image(machine)
        assert window.window_pixels()[:2] == (720, 400)
    finally:
        window.close()
        machine.close()


def test_mode_13h_window_pixels_equal_the_screenshot(tmp_path, floppy_from, x_display):
    machine = boot(floppy_from(tmp_path, "display/mode13_idle.bin"))
    window = SDLWindow(machine)
    window.open()
    try:
        run_until(machine, window, lambda: machine.cpu.get_reg("eflags") & 0x200 and
                  screen_image(machine)[:2] == (320, 200) and any(screen_image(machine)[2][-3000:]))
        width, height, rgb = window.window_pixels()
        assert (width, height) == (320, 200)
        assert rgb == screen_image(machine)[2]
    finally:
        window.close()
        machine.close()


def test_display_option_errors_are_one_line(capsys):
    from pcmachine.cli import main
    assert main(["run", "pc.yaml", "--display", "windows", "--max-instructions", "10"]) == 2
    assert capsys.readouterr().err.strip() == \
        "machine: error: --display windows: expected window, window,scale=N or none"
