"""The `machine` command as a user runs it: a separate process, Ctrl+C, listings."""

import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import time

import pytest

from pcmachine.cli import PYPY_NURSERY, main

READY_PLUGIN = """
from pcmachine import hookimpl

class Ready:
    @hookimpl
    def bios_call(self, vector, function):
        if vector == 0x16:                  # the guest now waits for a key
            open({marker!r}, "w").close()
"""

MACHINE = [sys.executable, "-c", "import sys; from pcmachine.cli import main; sys.exit(main())"]


def test_ctrl_c_ends_a_run_cleanly_with_status_130(tmp_path, floppy_from):
    image = floppy_from(tmp_path, "boot/echo_int16.bin")   # waits for keys forever
    marker = tmp_path / "waiting"
    plugin = tmp_path / "ready.py"
    plugin.write_text(READY_PLUGIN.format(marker=str(marker)))
    # SIGINT as a terminal delivers it (a shell's background job inherits it ignored).
    process = subprocess.Popen(MACHINE + ["run", "pc.yaml", "--fda", image, "--headless",
                                          "--plugin", f"{plugin}:Ready"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not marker.exists():
            time.sleep(0.1)
        assert marker.exists()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err


def test_profiles_and_plugins_listings(capsys):
    assert main(["profiles"]) == 0
    assert "pc.yaml" in capsys.readouterr().out
    assert main(["plugins"]) == 0
    listing = capsys.readouterr().out
    for name in ("cpu", "bios", "vga", "i8259", "i8254", "i8042", "ata", "cmos", "uart", "trace"):
        assert f"\n{name} " in "\n" + listing
    version = importlib.metadata.version("pcmachine")
    assert "pcmachine.plugins.cpu:CPU (pcmachine %s)" % version in listing


def test_plugin_options_listing(capsys):
    assert main(["plugins", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "model" in out and "80486" in out and "pentium" in out


def test_profile_by_bundled_name_from_any_directory(tmp_path, capsys, monkeypatch, floppy_from):
    image = floppy_from(tmp_path, "boot/vga_direct.bin")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "machines/pc.yaml", "--fda", image, "--headless"]) == 0
    assert "Hello from VGA memory!" in capsys.readouterr().out


def test_type_as_the_last_step_ends_once_the_guest_has_read_every_key(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/echo_int16.bin")
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "60",
                 "--type", "hi there"]) == 0
    assert "dot> hi there" in capsys.readouterr().out


def test_type_needs_a_keyboard_and_known_keys(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/echo_int16.bin")
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--type", "a{nosuchkey}"]) == 2
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--set", "kbc=null", "--type", "a"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "unknown key 'nosuchkey'" in errors[0] and "keyboard" in errors[1]


def test_serial_stdio_takes_piped_input_and_prints_output(tmp_path, floppy_from):
    image = floppy_from(tmp_path, "boot/serial_echo.bin")
    result = subprocess.run(MACHINE + ["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "60",
                                       "--serial", "stdio"],
                            input=b"HAL.", capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert b"IBM" in result.stdout


@pytest.mark.parametrize("chosen", [None, "16MB"])
def test_the_command_sizes_pypys_nursery_unless_the_user_did(tmp_path, chosen):
    """PyPy sizes its nursery from the cache the CPU reports (240 MB on a VM with a
    480 MiB L3): the `machine` script restarts itself with PYPY_GC_NURSERY set.
    The bench's runtime line shows the nursery the figures were taken with."""
    script = tmp_path / "machine"
    script.write_text("import sys\nfrom pcmachine.cli import main\n"     # as pip writes it
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    env = {key: value for key, value in os.environ.items() if key != "PYPY_GC_NURSERY"}
    if chosen is not None:
        env["PYPY_GC_NURSERY"] = chosen
    result = subprocess.run([sys.executable, str(script), "bench", "--instructions", "1000", "realmode"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    runtime = result.stdout.splitlines()[0]
    if platform.python_implementation() == "PyPy":
        assert runtime.endswith(f"GC nursery {chosen or PYPY_NURSERY}"), runtime
    else:
        assert runtime == f"runtime: cpython {platform.python_version()}", runtime


@pytest.mark.skipif(platform.python_implementation() != "CPython", reason="CPython's collector")
def test_the_command_collects_cpythons_oldest_generation_less_often():
    """A full collection walks all of a machine's decoded code: the command
    spaces them (cli.CPYTHON_FULL_COLLECTION_EVERY, docs/performance.md)."""
    code = ("import gc; from pcmachine.cli import main; before = gc.get_threshold(); "
            "main(['profiles']); print(before, gc.get_threshold())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.splitlines()[-1].split(") (")
    assert after.rstrip(")") == before.lstrip("(").rsplit(",", 1)[0] + ", 100"
