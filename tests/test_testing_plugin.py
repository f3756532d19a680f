"""The pytest plugin (`pc` fixture, pcmachine.testing) and the step engine it shares
with the CLI: waits that report the screen when they fail, waits after typing that
ignore earlier text, serial waits and typing, screenshots, the snapshot cache, and
the fixture used from a separate project."""

import os
import subprocess
import sys
import textwrap

import pytest

from pcmachine.cli import main
from pcmachine.screenshot import read_png
from pcmachine.testing import GuestTimeout

ECHO = "boot/echo_int16.bin"


def test_failing_wait_reports_the_screen_and_events(pc, tmp_path, floppy_from):
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, ECHO))
    with pytest.raises(GuestTimeout) as failure:
        m.wait_text("never on this screen", timeout=3, virtual=True)
    message = str(failure.value)
    assert message.startswith("timeout after 3 virtual seconds waiting for 'never on this screen'")
    assert "--- screen ---" in message and "Type, and end with a dot>" in message


def test_after_input_waits_ignore_earlier_text(pc, tmp_path, floppy_from):
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, ECHO))
    m.wait_text("end with a dot>")
    m.type("dot")
    m.wait_text("dot", after_input=True)
    with pytest.raises(GuestTimeout):
        m.wait_text("with a", after_input=True, timeout=2, virtual=True)   # only before the keys
    m.wait_text("with a")                                                  # anywhere: there
    assert "> dot" in m.screen_text()


def test_screenshot_is_a_png_of_the_screen(pc, tmp_path, floppy_from):
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, ECHO))
    m.wait_text("end with a dot>")
    width, height, rgb = read_png(m.screenshot(tmp_path / "shot.png"))
    assert (width, height) == (720, 400) and len(rgb) == 720 * 400 * 3 and any(rgb)


def test_serial_wait_and_type(pc, tmp_path, floppy_from):
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, "boot/serial_echo.bin"))
    m.serial.type("HAL")
    m.serial.wait("IBM", after_input=True)
    m.serial.type("{ctrl+c}")
    m.serial.wait("\x04", after_input=True)
    assert m.serial.text() == "IBM\x04"


def test_snapshot_cache_boots_once(pc, tmp_path, floppy_from):
    image = floppy_from(tmp_path, ECHO)
    cache = str(tmp_path / "cache")
    first = pc.boot("pc.yaml", fda=image, snapshot_cache=cache, ready="end with a dot>")
    ready_at = first.machine.clock.icount
    assert len(os.listdir(cache)) == 1
    second = pc.boot("pc.yaml", fda=image, snapshot_cache=cache, ready="end with a dot>")
    assert second.machine.clock.icount == ready_at         # restored, not booted again
    second.type("ok.")
    second.wait_text("Bye.", after_input=True)


def test_cli_wait_after_type_sees_only_new_text(tmp_path, floppy_from, capsys):
    image = floppy_from(tmp_path, ECHO)
    base = ["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "20", "--wait", "dot>", "--type", "a"]
    # "dot>" was there before the key: the second wait times out, after the echo
    assert main(base + ["--wait", "dot>", "--timeout", "4"]) == 1
    out, err = capsys.readouterr()
    assert "dot> a" in out and "step not reached: --wait 'dot>'" in err
    assert main(base + ["--wait-anywhere", "dot>"]) == 0
    assert main(base + ["--wait", "a"]) == 0               # the echoed key, after the mark


def test_cli_serial_steps(tmp_path, floppy_from):
    image = floppy_from(tmp_path, "boot/serial_echo.bin")
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "20",
                 "--type-serial", "HAL", "--wait-serial", "IBM"]) == 0
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--type-serial", "{nosuch}"]) == 2


def test_fixture_from_a_separate_project(tmp_path, floppy_from):
    """A project that only installed pcmachine uses the fixture in its own tests."""
    project = tmp_path / "myos"
    (project / "tests").mkdir(parents=True)
    image = floppy_from(tmp_path, ECHO)
    (project / "tests" / "test_boot.py").write_text(textwrap.dedent(f"""
        def test_prompt_and_echo(pc):
            m = pc.boot("pc.yaml", fda={image!r})
            m.wait_text("end with a dot>", timeout=60)
            m.type("hi")
            m.wait_text("hi", after_input=True)
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                            cwd=str(project), capture_output=True, timeout=300)
    assert result.returncode == 0, result.stdout.decode()[-2000:]
    assert b"1 passed" in result.stdout


def test_a_wait_searches_the_screen_again_only_when_it_changed(pc, tmp_path, floppy_from):
    """A wait reads the screen once, then only after something on it changed
    (the screen's generation), not after every slice of the run."""
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, ECHO))
    m.wait_text("end with a dot>")
    searched = []
    rows = m.watcher.rows
    m.watcher.rows = lambda: searched.append(m.machine.clock.icount) or rows()
    with pytest.raises(GuestTimeout):
        m.wait_text("never on this screen", timeout=2, virtual=True)
    assert len(searched) == 1
    m.wait_text("end with a dot>")          # another text: searched at once
    m.type("dot")
    m.wait_text("dot", after_input=True)    # the echo is seen
    assert 2 < len(searched) < 10


def test_a_wait_sees_text_written_just_before_the_cpu_halts_for_good(pc, tmp_path, floppy_from):
    """The guest prints and halts with interrupts off in one slice: the wait's
    last look at the (unchanged since) screen still finds the text."""
    m = pc.boot("pc.yaml", fda=floppy_from(tmp_path, "boot/hello_int10.bin"))
    m.wait_text("Hello, world!", timeout=30)
    m.wait_text("Hello, world!", timeout=30)        # asked again: still there
    assert m.machine.cpu.halted


def test_events_false_leaves_out_the_mode_change_log(pc, tmp_path, floppy_from):
    """`pc.boot(..., events=False)` (the timing runs of `machine compat`) registers
    no hook on CPU mode changes, so the CPU calls none at each switch; by default
    they are logged for failure reports (this guest enters protected mode and
    triple-faults, again and again)."""
    image = floppy_from(tmp_path, "pm/triple.bin")
    for events in (True, False):
        m = pc.boot("pc.yaml", fda=image, events=events)
        assert bool(m.machine.components["cpu"].hooks.cpu_mode_change) is events
        with pytest.raises(GuestTimeout) as failure:
            m.wait_text("never on this screen", timeout=2)
        message = str(failure.value)
        assert ("mode pe: 0 -> 1" in message) is events
        assert ("--- last events ---" in message) is events
