"""Determinism end to end, from the CLI, on real guests: identical traces for
identical input, a recorded interactive session replays exactly (with a user's
plugin file seeing the same events), and a snapshot restored mid-boot ends in the
identical state."""

import os
import textwrap

from pcmachine import Machine
from pcmachine.cli import main
from pcmachine import statefile
from pcmachine.record import load_snapshot, machine_digest, save_snapshot

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
TYPED = "Hello, World!\nsecond line."

COUNTER_PLUGIN = textwrap.dedent('''
    from pcmachine import hookimpl

    class Counter:
        """Counts port writes, BIOS calls and keys; prints them when the run stops."""
        def __init__(self):
            self.ports, self.bios, self.keys = 0, [], 0

        @hookimpl
        def io_write(self, port):
            self.ports += 1

        @hookimpl
        def bios_call(self, vector, function):
            self.bios.append((vector, function))

        @hookimpl
        def machine_input(self, kind):
            self.keys += kind == "key"

        @hookimpl
        def machine_stop(self, machine):
            print(f"COUNTER icount={machine.clock.icount} ports={self.ports} "
                  f"bios={len(self.bios)} keys={self.keys} last={self.bios[-3:]}")
''')


def cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def interactive_run(capsys, image, *extra):
    return cli(capsys, "run", "pc.yaml", "--fda", image, "--headless", "--timeout", "60",
               "--set", FIXED_RTC, "--wait", "end with a dot>", "--type", TYPED, "--wait", "Bye.", *extra)


def test_same_input_gives_byte_identical_traces(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/echo_int16.bin")
    traces = []
    for name in ("a.trace", "b.trace"):
        path = str(tmp_path / name)
        status, out, err = interactive_run(capsys, image, "--trace", path,
                                           "--trace-events", "io,irq,int,bios,key,input,mode,exc")
        assert status == 0, err
        with open(path, "rb") as handle:
            traces.append(handle.read())
    assert traces[0] == traces[1]
    assert b"bios" in traces[0] and b"key" in traces[0]
    status, out, err = cli(capsys, "trace", "diff", str(tmp_path / "a.trace"), str(tmp_path / "b.trace"))
    assert status == 0


def test_recorded_session_replays_with_user_plugin(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/echo_int16.bin")
    plugin = tmp_path / "counter.py"
    plugin.write_text(COUNTER_PLUGIN)
    rec = str(tmp_path / "session.rec")
    trace = tmp_path / "recorded.trace"
    status, out, err = interactive_run(capsys, image, "--record", rec, "--checkpoint-interval", "20000",
                                       "--plugin", f"{plugin}:Counter", "--trace", str(trace))
    assert status == 0, err
    header = next(statefile.read_records(rec))
    assert "trace" not in header["profile"]   # observers are not part of the recorded machine
    recorded = [line for line in out.splitlines() if line.startswith("COUNTER")]
    assert "keys=" in recorded[0] and "keys=0" not in recorded[0]
    status, out, err = cli(capsys, "replay", rec, "--plugin", f"{plugin}:Counter")
    assert status == 0, err
    assert "replay matched" in out
    assert "Bye." in out                      # the final screen
    replayed = [line for line in out.splitlines() if line.startswith("COUNTER")]
    assert replayed == recorded


def test_snapshot_mid_boot_restores_to_identical_final_state(tmp_path, floppy_from):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    snap = str(tmp_path / "mid.snap")
    straight = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": image})
    straight.at_icount(60, lambda: save_snapshot(straight, snap))
    assert straight.run_headless(5_000_000) == "halted"
    header, state, journal = load_snapshot(snap)
    assert state["clock"]["icount"] == 60
    restored = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": image})
    restored.restore(state)
    assert restored.run_headless(5_000_000) == "halted"
    assert machine_digest(restored) == machine_digest(straight)
    straight.close()
    restored.close()


def test_restore_from_the_cli(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    snap = str(tmp_path / "mid.snap")
    status, out, err = cli(capsys, "run", "pc.yaml", "--fda", image, "--headless", "--set", FIXED_RTC,
                           "--snapshot-at", "60", "--snapshot", snap)
    assert status == 0 and os.path.exists(snap)
    status, out, err = cli(capsys, "run", "--restore", snap, "--headless", "--wait", "Hello, world!")
    assert status == 0, err
    assert "Hello, world!" in out


def test_event_locations_do_not_depend_on_the_traced_kinds(tmp_path, capsys, floppy_from):
    """An `int` or `io` event is located at the same CS:EIP whether or not the
    instruction trace (the CPU's stepping loop) is on."""
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    located = []
    for kinds in ("io,int", "io,int,insn"):
        path = tmp_path / f"{kinds}.trace"
        status, out, err = cli(capsys, "run", "pc.yaml", "--fda", image, "--headless", "--set", FIXED_RTC,
                               "--trace", str(path), "--trace-events", kinds)
        assert status == 0, err
        located.append([line.split()[2:5] for line in path.read_text().splitlines()
                        if " insn " not in line])
    assert located[0] == located[1]
    assert any(fields[2] == "int" for fields in located[0])
