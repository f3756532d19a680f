"""Record/replay and snapshot machinery on a CPU-less machine: inputs re-applied at
the same stamps, checkpoints verified, mismatches named, media checks, snapshots."""

import gzip
import json

import pytest
import trio

from pcmachine import Machine
from pcmachine.errors import MediaError, UserError
from pcmachine.record import Recorder, load_snapshot, replay, save_snapshot
from pcmachine import statefile

PROFILE = """
machine: {ips: 1000000}
ram: {plugin: ram, size: 1M}
poker: {plugin: "pokedevice:Poker", period_ns: 3000}
"""


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "poke.yaml"
    path.write_text(PROFILE)
    return str(path)


def record_run(profile, path, pokes, media=None, interval=50_000):
    machine = Machine.from_profile(
        profile, media=media,
        setup=lambda m: m.add_plugin(Recorder(m, path, interval), name="recorder"))

    def inject(step=[0]):
        # inputs arrive from the "host" at slice boundaries
        if step[0] < len(pokes):
            machine.post_input("poke", pokes[step[0]])
            step[0] += 1
        return None

    trio.run(machine.run, 400_000, inject)
    machine.close()
    return machine


def test_replay_matches(profile, tmp_path, capsys):
    rec = str(tmp_path / "run.rec")
    record_run(profile, rec, [{"address": 0x500 + i, "value": i} for i in range(5)])
    assert replay(rec, []) == 0
    out = capsys.readouterr().out
    assert "replay matched" in out and "checkpoints" in out


def test_tampered_input_is_reported_with_component_and_field(profile, tmp_path, capsys):
    rec = str(tmp_path / "run.rec")
    record_run(profile, rec, [{"address": 0x500, "value": 7}])
    records = list(statefile.read_records(rec))
    for record in records:
        if record["type"] == "input":
            record["data"]["value"] = 8
    with statefile.RecordWriter(rec) as writer:
        for record in records:
            writer.dump(record)
    assert replay(rec, []) == 1
    err = capsys.readouterr().err
    assert "replay diverged between instruction" in err
    assert "memory[0x00000000]" in err


def test_recording_is_compressed_versioned_json_lines(profile, tmp_path):
    rec = str(tmp_path / "run.rec")
    record_run(profile, rec, [])
    with gzip.open(rec, "rt") as handle:
        header = json.loads(handle.readline())
    assert header["format"] == "pcmachine-recording" and header["version"] == 2
    assert header["profile"]["poker"]["period_ns"] == 3000


def test_changed_media_are_refused_and_written_media_rebuilt(profile, tmp_path, capsys):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\x11" * 1474560)
    rec = str(tmp_path / "run.rec")
    machine = Machine.from_profile(profile, media={"fda": str(image)})
    machine.add_plugin(Recorder(machine, rec, 50_000), name="recorder")
    machine.media["fda"].write(3, b"\x22" * 512)   # the recorded run writes the disk
    trio.run(machine.run, 100_000)
    machine.close()
    assert image.read_bytes()[3 * 512] == 0x22
    assert replay(rec, []) == 0                    # the journal rebuilds the start image
    assert image.read_bytes()[3 * 512] == 0x22     # and replaying never writes the image
    data = bytearray(image.read_bytes())
    data[0] = 0
    image.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="changed since it was saved"):
        replay(rec, [])


def test_snapshot_restore_continues_identically(profile, tmp_path):
    snap = str(tmp_path / "mid.snap")
    straight = Machine.from_profile(profile)
    straight.at_icount(120_000, lambda: save_snapshot(straight, snap))
    straight.run_headless(300_000)
    header, state, journal = load_snapshot(snap)
    assert state["clock"]["icount"] == 120_000
    resumed = Machine.from_profile(profile)
    resumed.restore(state)
    resumed.run_headless(300_000)
    assert statefile.digest(resumed.snapshot()) == statefile.digest(straight.snapshot())


def test_snapshot_ram_is_stored_in_records_of_a_mebibyte_without_the_zero_ones(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(PROFILE.replace("size: 1M", "size: 4M"))
    machine = Machine.from_profile(str(path))
    machine.bus.memory[0x1FFFFF] = 0x5A            # the end of the second MiB
    machine.bus.memory[0x300000:0x300004] = b"\x01\x02\x03\x04"
    snap = str(tmp_path / "ram.snap")
    save_snapshot(machine, snap)
    records = list(statefile.read_records(snap))
    assert records[0]["version"] == 3
    assert "ram" not in records[1]["state"] and records[1]["state"]["ram_size"] == 4 << 20
    assert [r["offset"] for r in records[2:] if r["type"] == "ram"] == [1 << 20, 3 << 20]
    _, state, _ = load_snapshot(snap)
    assert state["ram"] == machine.bus.memory
    restored = Machine.from_profile(str(path))
    restored.restore(state)
    assert restored.bus.memory == machine.bus.memory


def test_a_version_2_snapshot_with_the_ram_in_its_state_still_restores(profile, tmp_path):
    machine = Machine.from_profile(profile)
    machine.run_headless(50_000)
    old = str(tmp_path / "v2.snap")
    with statefile.RecordWriter(old) as writer:
        writer.dump({"type": "header", "format": "pcmachine-snapshot", "version": 2,
                     "profile": machine.machine_profile(), "media": {}})
        writer.dump({"type": "state", "state": machine.snapshot()})
    _, state, _ = load_snapshot(old)
    restored = Machine.from_profile(profile)
    restored.restore(state)
    assert statefile.digest(restored.snapshot()) == statefile.digest(machine.snapshot())


def test_a_ram_record_outside_the_ram_is_refused(profile, tmp_path):
    machine = Machine.from_profile(profile)
    snap = str(tmp_path / "bad.snap")
    save_snapshot(machine, snap)
    records = list(statefile.read_records(snap))
    records.append({"type": "ram", "offset": len(machine.bus.memory), "data": b"x"})
    with statefile.RecordWriter(snap) as writer:
        for record in records:
            writer.dump(record)
    with pytest.raises(UserError, match="a RAM record lies outside the snapshot's RAM"):
        load_snapshot(snap)


def test_a_snapshot_without_its_last_ram_records_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(PROFILE.replace("size: 1M", "size: 4M"))
    machine = Machine.from_profile(str(path))
    machine.bus.memory[0x300000] = 1
    snap = str(tmp_path / "cut.snap")
    save_snapshot(machine, snap)
    records = list(statefile.read_records(snap))
    with statefile.RecordWriter(snap) as writer:       # a valid chain, one record short
        for record in records[:-1]:
            writer.dump(record)
    with pytest.raises(UserError, match="holds 0 of its 1 RAM records"):
        load_snapshot(snap)


def test_not_a_recording(tmp_path):
    bogus = tmp_path / "x.rec"
    bogus.write_text("hello")
    with pytest.raises(UserError, match="not a pcmachine state file"):
        replay(str(bogus), [])


def test_other_format_version_is_refused(profile, tmp_path):
    rec = str(tmp_path / "run.rec")
    record_run(profile, rec, [])
    records = list(statefile.read_records(rec))
    records[0]["version"] = 99
    with statefile.RecordWriter(rec) as writer:
        for record in records:
            writer.dump(record)
    with pytest.raises(UserError, match="format version 99 is not supported"):
        replay(rec, [])


def test_snapshot_restores_after_the_run_wrote_its_disk(profile, tmp_path, capsys):
    """Sectors overwritten after the snapshot are journalled into the snapshot file,
    so a restore rebuilds the disk as it was, copy-on-write, and the image file keeps
    what the run wrote."""
    from pcmachine.runner import RunOptions, build_machine
    image = tmp_path / "disk.img"
    image.write_bytes(b"\x11" * 1474560)
    snap = str(tmp_path / "mid.snap")
    machine = Machine.from_profile(profile, media={"fda": str(image)})
    disk = machine.media["fda"]
    machine.at_icount(100_000, lambda: save_snapshot(machine, snap))
    machine.at_icount(200_000, lambda: disk.write(3, b"\x22" * 512))
    machine.run_headless(300_000)
    machine.close()
    assert image.read_bytes()[3 * 512] == 0x22
    header, state, journal = load_snapshot(snap)
    assert journal["fda"][3] == b"\x11" * 512
    restored = build_machine(RunOptions(profile=None, restore=snap))
    assert "copy-on-write overlay" in capsys.readouterr().err
    assert restored.media["fda"].read(3, 1) == b"\x11" * 512
    restored.run_headless(300_000)
    restored.close()
    assert image.read_bytes()[3 * 512] == 0x22
