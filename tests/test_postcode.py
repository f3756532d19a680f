"""POST-code port (plugins/debug/postcode.py) and the test386 profile built on it."""

import pytest

from pcmachine import Machine, UserError
from pcmachine.plugins.debug.postcode import PostCodePort


def build(**options):
    machine = Machine.bare()
    post = machine.add_component(PostCodePort, "post", options)
    machine.configure()
    return machine, post


def test_latches_the_last_code_and_reads_it_back():
    machine, post = build(port=0x190)
    assert post.code is None and machine.bus.io_read(0x190, 1) == 0xFF
    for code in (0x01, 0x12, 0xFF):
        machine.bus.io_write(0x190, 1, code)
    assert (post.code, post.state.count) == (0xFF, 3)
    assert machine.bus.io_read(0x190, 1) == 0xFF
    machine.bus.io_write(0x80, 1, 0x42)                 # another port: not ours
    assert post.code == 0xFF


def test_survives_reset_and_snapshot():
    machine, post = build()
    machine.bus.io_write(0x80, 1, 0x1A)
    machine.reset("reset-line")
    snapshot = machine.snapshot()
    restored, restored_post = build()
    restored.restore(snapshot)
    assert (restored_post.code, restored_post.state.count) == (0x1A, 1)


def test_reports_at_stop_when_asked(capsys):
    machine, _ = build(report=True)
    machine.bus.io_write(0x80, 1, 0x0C)
    machine.hooks.call.machine_stop(machine=machine, reason="test")
    assert "post: last POST code 0x0C (1 written)" in capsys.readouterr().out


def test_test386_profile_needs_an_image(tmp_path):
    with pytest.raises(UserError, match="bios.image"):
        Machine.from_profile("test386.yaml")
    rom = tmp_path / "rom.bin"
    rom.write_bytes(b"\xF4" * 0x10000)                  # HLT everywhere
    machine = Machine.from_profile("test386.yaml", [f"bios.image={rom}"])
    assert machine.component("cpu").model.name == "80386"
    assert machine.component("post").options["port"] == 0x190
