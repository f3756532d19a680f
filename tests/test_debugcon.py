"""Debug console port 0xE9."""

import pytest

from pcmachine import Machine, UserError, hookimpl
from pcmachine.plugins.debug.debugcon import DebugConsole


class DebugconProbe:
    def __init__(self) -> None:
        self.values = []

    @hookimpl
    def debugcon_byte(self, value):
        self.values.append(value)


def build(**options):
    machine = Machine.bare()
    probe = machine.add_plugin(DebugconProbe())
    console = machine.add_component(DebugConsole, "debugcon", options)
    machine.configure()
    return machine, console, probe


def write_text(machine: Machine, text: bytes, port: int = 0xE9) -> None:
    for byte in text:
        machine.bus.io_write(port, 1, byte)


def test_bytes_go_to_a_file_and_to_text_and_fire_the_hook(tmp_path):
    path = tmp_path / "e9.log"
    machine, console, probe = build(output=f"file:{path}")
    write_text(machine, b"PASS: boot\n\xff")
    assert path.read_bytes() == b"PASS: boot\n\xff"     # unbuffered: visible at once
    assert console.text == "PASS: boot\n\xff"
    assert console.data == b"PASS: boot\n\xff"
    assert probe.values == list(b"PASS: boot\n\xff")
    machine.close()
    write_text(machine, b"after close")                 # a closed sink drops bytes
    assert path.read_bytes() == b"PASS: boot\n\xff"


def test_read_returns_0xe9_and_word_writes_split_into_bytes():
    machine, console, _ = build()
    assert machine.bus.io_read(0xE9, 1) == 0xE9
    machine.bus.io_write(0xE9, 2, 0x4B4F)               # ISA splits: 'O' to 0xE9, 'K' to 0xEA
    assert console.text == "O"


def test_stdio_sink_writes_to_standard_output(capfd):
    machine, _, _ = build(output="stdio")
    write_text(machine, b"hello\n")
    assert capfd.readouterr().out == "hello\n"


def test_other_port_and_bad_specs(tmp_path):
    machine, console, _ = build(port=0x402)
    write_text(machine, b"x", port=0x402)
    assert console.text == "x"
    with pytest.raises(UserError, match="debugcon.output"):
        build(output="file:")
    with pytest.raises(UserError, match="debugcon.output: cannot open"):
        build(output=f"file:{tmp_path}/missing/dir/e9.log")


def test_text_survives_reset_and_save_restore():
    machine, console, _ = build()
    write_text(machine, b"before ")
    machine.reset("reset-line")
    snapshot = machine.snapshot()
    write_text(machine, b"after")
    expected = console.snapshot()

    restored, restored_console, _ = build()
    restored.restore(snapshot)
    assert restored_console.text == "before "
    write_text(restored, b"after")
    assert restored_console.snapshot() == expected
    assert restored_console.text == "before after"
