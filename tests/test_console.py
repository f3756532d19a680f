"""The interactive terminal console, driven in a pseudo-terminal as a user would:
`machine run` draws the guest's text screen with its colours (read back through
pyte, a terminal emulator), every key class typed on the terminal reaches the
guest as the scan codes a PS/2 keyboard sends (the guest copies them to port E9h),
Ctrl+A X quits, and the terminal is left as it was after a signal or a crash."""

import os
import sys
import time

from requirements import require_module

pexpect = require_module("pexpect")
pyte = require_module("pyte")

from pcmachine.plugins.i8042.keymap import codes_for, parse_type  # noqa: E402

MACHINE = os.path.join(os.path.dirname(sys.executable), "machine")
COLUMNS, ROWS = 100, 30

#: what the terminal sends -> the key group the guest must receive
KEY_CLASSES = [
    ("a", "a"), ("Z", "Z"), ("7", "7"), ("%", "%"), ("{", "{{"), ("\r", "{enter}"),
    ("\x7f", "{backspace}"), ("\t", "{tab}"), ("\x1b", "{esc}"),
    ("\x1b[A", "{up}"), ("\x1b[B", "{down}"), ("\x1b[D", "{left}"), ("\x1b[C", "{right}"),
    ("\x1b[H", "{home}"), ("\x1b[F", "{end}"), ("\x1b[5~", "{pgup}"), ("\x1b[6~", "{pgdn}"),
    ("\x1b[2~", "{ins}"), ("\x1b[3~", "{del}"),
    ("\x1bOP", "{f1}"), ("\x1b[15~", "{f5}"), ("\x1b[24~", "{f12}"),
    ("\x03", "{ctrl+c}"), ("\x1a", "{ctrl+z}"), ("\x1bx", "{alt+x}"), ("\x1b[1;5C", "{ctrl+right}"),
]


class Terminal:
    """`machine run` in a pseudo-terminal, its output fed to a pyte screen."""

    def __init__(self, argv, tmp_path) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(argv[0], argv[1:], dimensions=(ROWS, COLUMNS), cwd=str(tmp_path),
                                   env=dict(os.environ, TERM="xterm-256color"))

    def pump(self, until, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.1))
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                return until()
            if until():
                return True
        return False


def boot(tmp_path, floppy_from, *shell_after):
    image = floppy_from(tmp_path, "display/scancodes.bin")
    log = tmp_path / "e9.bin"
    argv = [MACHINE, "run", "pc.yaml", "--fda", image, "--debugcon", f"file:{log}"]
    if shell_after:
        command = " ".join(f"'{a}'" for a in argv) + "; " + " ".join(shell_after)
        argv = ["/bin/bash", "-c", command]
    term = Terminal(argv, tmp_path)
    assert term.pump(lambda: "READY" in term.screen.display[0]), term.screen.display
    return term, log


def received(log) -> bytes:
    return log.read_bytes() if log.exists() else b""


def test_screen_colours_cursor_and_status_line(tmp_path, floppy_from):
    term, _ = boot(tmp_path, floppy_from)
    ready, blink = term.screen.buffer[0][0], term.screen.buffer[1][0]
    assert (ready.data, ready.fg, ready.bg, ready.blink) == ("R", "brightbrown", "blue", False)
    assert (blink.data, blink.fg, blink.bg, blink.blink) == ("B", "brightred", "black", True)
    # The status line is drawn by its own task: on a busy host it may follow READY.
    assert term.pump(lambda: term.screen.display[25].startswith("pcmachine: Ctrl+A then: X quit")), \
        term.screen.display[25]
    term.child.send("\x01x")
    term.child.expect(pexpect.EOF, timeout=30)
    term.child.close()
    assert term.child.exitstatus == 0


def test_every_key_class_reaches_the_guest_as_scan_codes(tmp_path, floppy_from):
    term, log = boot(tmp_path, floppy_from)
    expected = b""
    for sent, group in KEY_CLASSES:
        expected += codes_for(parse_type(group), 2, translate=True)
        term.child.send(sent)
        assert term.pump(lambda: len(received(log)) >= len(expected), timeout=30), (group, received(log).hex())
        assert received(log) == expected, group
    term.child.send("\x01x")
    term.child.expect(pexpect.EOF, timeout=30)


def _terminal_is_sane(term) -> str:
    term.child.expect(pexpect.EOF, timeout=60)
    settings = term.child.before.decode("utf-8", "replace")
    assert " icanon" in settings and " echo " in settings, settings[-600:]
    return settings


def test_terminal_restored_after_sigterm(tmp_path, floppy_from):
    term, _ = boot(tmp_path, floppy_from, "stty -a")
    os.system(f"pkill -TERM -f 'machine run pc.yaml --fda {tmp_path}'")
    _terminal_is_sane(term)


def test_terminal_restored_after_a_crash_in_a_plugin(tmp_path, floppy_from):
    (tmp_path / "crash.py").write_text(
        "from pcmachine import hookimpl\n"
        "class Crash:\n"
        "    @hookimpl\n"
        "    def key_input(self, machine, key, pressed, scancodes):\n"
        "        raise RuntimeError('plugin bug')\n")
    image = floppy_from(tmp_path, "display/scancodes.bin")
    command = f"'{MACHINE}' run pc.yaml --fda '{image}' --plugin ./crash.py:Crash; stty -a"
    term = Terminal(["/bin/bash", "-c", command], tmp_path)
    assert term.pump(lambda: "READY" in term.screen.display[0])
    term.child.send("a")
    settings = _terminal_is_sane(term)
    assert "plugin bug" in settings


def test_serial_console_is_raw_and_two_way(tmp_path, floppy_from):
    """`--serial stdio` on a terminal: typed bytes go to COM1 unechoed (the guest
    sends each back incremented), Ctrl+C is a byte for the guest, not a signal,
    and Ctrl+A X quits."""
    image = floppy_from(tmp_path, "boot/serial_echo.bin")
    child = pexpect.spawn(MACHINE, ["run", "pc.yaml", "--fda", image, "--serial", "stdio"],
                          dimensions=(ROWS, COLUMNS), cwd=str(tmp_path))
    child.expect("serial console on COM1", timeout=60)
    child.send("HAL")
    child.expect("IBM", timeout=60)
    child.send("\x03")
    child.expect("\x04", timeout=60)
    child.send("\x01x")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 0
    assert b"HAL" not in child.before
