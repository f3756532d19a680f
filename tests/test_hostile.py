"""Hostile files, fed to the `machine` command as a user would (issue 18 item 5):
corrupt, truncated, empty and foreign-format disk images, odd floppy sizes,
profiles that are no mapping or extend themselves in a loop, recordings and
snapshots that are cut off, edited or of another version, traces that would fill
the disk.  Every one ends with one line on stderr and exit status 2 (never a
traceback), and no input file is changed."""

import gzip
import hashlib
import json
import os

import pytest

from pcmachine import statefile
from pcmachine.cli import main

FLOPPY = 1474560


def fingerprint(path):
    """Bytes and modification time: what a refused run must leave alone."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest(), os.stat(path).st_mtime_ns


def refused(capsys, argv, *inputs):
    """Run `machine ARGV`: exit 2 with one line on stderr; the inputs unchanged."""
    before = [fingerprint(path) for path in inputs]
    status = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("machine"), captured.err
    assert "Traceback" not in captured.err
    assert [fingerprint(path) for path in inputs] == before
    return lines[0]


def run_args(*extra):
    return ["run", "pc.yaml", "--headless", "--quiet", "--max-instructions", "1000", *extra]


# ---------------------------------------------------------------- disk images
def image_with(tmp_path, name, size, *patches):
    path = tmp_path / name
    data = bytearray(size)
    for offset, magic in patches:
        data[offset:offset + len(magic)] = magic
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("patches, size, name, converter", [
    ([(0, b"QFI\xfb\x00\x00\x00\x03")], 1 << 20, "qcow2", "-f qcow2"),
    ([(0, b"KDMV\x01\x00\x00\x00")], 1 << 20, "VMDK", "-f vmdk"),
    ([(0, b"# Disk DescriptorFile\n")], 4096, "VMDK descriptor", "-f vmdk"),
    ([(0, b"<<< Oracle VM VirtualBox Disk Image >>>\n"), (0x40, b"\x7f\x10\xda\xbe")], 1 << 20,
     "VirtualBox VDI", "-f vdi"),
    ([((1 << 20) - 512, b"conectix")], 1 << 20, "VHD", "-f vpc"),
    ([(0, b"conectix"), ((1 << 20) - 512, b"conectix")], 1 << 20, "VHD (dynamic)", "-f vpc"),
])
@pytest.mark.parametrize("drive", ["hda", "fda"])
def test_foreign_image_formats_get_a_conversion_hint(tmp_path, capsys, patches, size, name, converter, drive):
    image = image_with(tmp_path, "disk.bin", size, *patches)
    line = refused(capsys, run_args(f"--{drive}", image), image)
    assert f"is a {name} image, not a raw one" in line
    assert f"qemu-img convert {converter} -O raw" in line


@pytest.mark.parametrize("size, problem", [(0, "image is empty"),
                                           (100, "smaller than one 512-byte sector")])
def test_empty_and_truncated_images(tmp_path, capsys, size, problem):
    image = image_with(tmp_path, "disk.img", size)
    assert problem in refused(capsys, run_args("--hda", image), image)


def test_missing_image_and_a_directory(tmp_path, capsys):
    assert "image not found" in refused(capsys, run_args("--hda", str(tmp_path / "nothing.img")))
    assert "not a regular file" in refused(capsys, run_args("--hda", str(tmp_path)))
    assert "not a regular file" in refused(capsys, run_args("--hda", os.devnull))


def test_floppy_larger_than_any_format_is_refused(tmp_path, capsys):
    image = image_with(tmp_path, "big.img", 4 << 20)
    line = refused(capsys, run_args("--fda", image), image)
    assert "larger than any floppy format" in line and "--hda" in line


GEOMETRY_GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "bios", "geometry.bin")


@pytest.mark.parametrize("size, geometry", [
    (512 * 100, (80, 2, 18, 4)),        # shorter than 1.44M: QEMU's 1.44M guess
    (1720320, (80, 2, 21, 4)),          # DMF 1.68M
    (2000000 // 512 * 512, (80, 2, 36, 5)),   # between 1.44M and 2.88M: the 2.88M format
])
def test_non_standard_floppy_sizes_get_the_documented_geometry(tmp_path, capsys, size, geometry):
    """int 13h AH=08h (tests/guests/bios/geometry.asm) reports the geometry used."""
    image = str(tmp_path / "odd.img")
    with open(GEOMETRY_GUEST, "rb") as guest:
        data = guest.read()
    with open(image, "wb") as handle:
        handle.write(data.ljust(size, b"\0"))
    log = tmp_path / "e9"
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--fda", image, "--debugcon", f"file:{log}",
                   "--max-instructions", "2000000"])
    capsys.readouterr()
    assert status in (0, 1)
    cf, ah, bl, ch, cl, dh, dl = log.read_bytes()[:7]
    cylinders, heads, sectors, drive_type = geometry
    assert (cf, ah, bl, dh) == (0, 0, drive_type, heads - 1)
    assert (ch | ((cl & 0xC0) << 2), cl & 0x3F) == (cylinders - 1, sectors)


# ---------------------------------------------------------------- profiles
@pytest.mark.parametrize("text, problem", [
    ("- a\n- b\n", "expected a mapping at the top level"),
    ("42\n", "expected a mapping at the top level"),
    ("cpu: [1, 2\n", "invalid YAML"),
    ("extends: [pc.yaml]\n", "expected the name or path of a profile"),
    ("extends: nowhere.yaml\n", "profile not found"),
    ("extends: pc.yaml\nmedia: [fda]\n", "expected a mapping of drive names"),
    ("extends: pc.yaml\ncpu: 5\n", "expected a mapping of component options"),
    ("extends: me.yaml\n", "profiles extend each other in a loop"),
])
def test_bad_profiles(tmp_path, capsys, text, problem):
    profile = tmp_path / "me.yaml"
    profile.write_text(text)
    line = refused(capsys, ["run", str(profile), "--headless", "--max-instructions", "10"], str(profile))
    assert problem in line and "me.yaml" in line


def test_profiles_that_extend_each_other_in_a_loop(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: c.yaml\n")
    (tmp_path / "c.yaml").write_text("extends: a.yaml\n")
    line = refused(capsys, ["run", str(tmp_path / "a.yaml"), "--headless"], str(tmp_path / "a.yaml"))
    assert "extend each other in a loop" in line


def test_binary_garbage_as_a_profile(tmp_path, capsys):
    profile = tmp_path / "junk.yaml"
    profile.write_bytes(bytes(range(256)) * 4)
    assert "junk.yaml" in refused(capsys, ["run", str(profile), "--headless"], str(profile))


# ---------------------------------------------------------------- recordings and snapshots
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A recording and a snapshot of a short run of a guest that writes its disk
    (tests/guests/disk/ata_stream.asm), so the files hold sector journals too."""
    folder = tmp_path_factory.mktemp("saved")
    rec, snap, image = str(folder / "run.rec"), str(folder / "mid.snap"), folder / "hd.img"
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "disk", "ata_stream.bin"),
              "rb") as guest:
        image.write_bytes(guest.read().ljust(1 << 20, b"\0"))
    assert main(["run", "pc.yaml", "--headless", "--quiet", "--hda", str(image), "--record", rec,
                 "--checkpoint-interval", "50000", "--snapshot-at", "100000", "--snapshot", snap,
                 "--max-instructions", "200000"]) == 0
    return rec, snap


def copy_of(tmp_path, path, transform=None):
    with open(path, "rb") as handle:
        data = handle.read()
    target = tmp_path / os.path.basename(path)
    target.write_bytes(transform(data) if transform else data)
    return str(target)


def rewritten(transform):
    """Decompress, change the JSON text, compress again: what an editing user does."""
    def apply(data):
        return gzip.compress(transform(gzip.decompress(data).decode("utf-8")).encode("utf-8"))
    return apply


def replay_args(path):
    return ["replay", path, "--quiet"]


def restore_args(path):
    return ["run", "--restore", path, "--headless", "--quiet", "--max-instructions", "1000"]


def test_the_saved_files_are_good(saved, capsys):
    rec, snap = saved
    assert main(replay_args(rec)) == 0
    assert main(restore_args(snap)) == 0
    capsys.readouterr()


@pytest.mark.parametrize("which, args", [(0, replay_args), (1, restore_args)])
def test_cut_off_files(saved, tmp_path, capsys, which, args):
    path = copy_of(tmp_path, saved[which], lambda data: data[:len(data) // 2])
    line = refused(capsys, args(path), path)
    assert "cut off" in line or "damaged" in line


@pytest.mark.parametrize("which, args", [(0, replay_args), (1, restore_args)])
def test_empty_and_garbage_files(tmp_path, capsys, which, args):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(3000))
    assert "not a pcmachine" in refused(capsys, args(str(empty)), str(empty))
    assert "not a pcmachine" in refused(capsys, args(str(garbage)), str(garbage))


def test_edited_recording_is_found_and_located(saved, tmp_path, capsys):
    def edit(text):
        lines = text.split("\n")
        lines[2] = lines[2].replace('"icount":', '"icount":1', 1)     # a checkpoint's count
        return "\n".join(lines)
    path = copy_of(tmp_path, saved[0], rewritten(edit))
    line = refused(capsys, replay_args(path), path)
    assert "record 3 (checkpoint) does not match its checksum" in line


def test_a_dropped_record_is_found(saved, tmp_path, capsys):
    def drop(text):
        lines = text.split("\n")
        del lines[2]
        return "\n".join(lines)
    path = copy_of(tmp_path, saved[0], rewritten(drop))
    assert "record 3" in refused(capsys, replay_args(path), path)


def test_edited_snapshot_is_found(saved, tmp_path, capsys):
    def edit(text):
        lines = text.split("\n")
        assert '"icount":' in lines[1]
        lines[1] = lines[1].replace('"icount":', '"icount":7', 1)   # the clock's count
        return "\n".join(lines)
    path = copy_of(tmp_path, saved[1], rewritten(edit))
    assert "record 2 (state) does not match its checksum" in refused(capsys, restore_args(path), path)


def test_files_of_another_version(saved, tmp_path, capsys):
    def version(number, checksums):
        def apply(data):
            records = [statefile.decode(json.loads(line))
                       for line in gzip.decompress(data).decode("utf-8").splitlines()]
            records[0]["version"] = number
            for record in records:
                record.pop("sum")
            if checksums:
                out = tmp_path / "rewritten"
                with statefile.RecordWriter(str(out)) as writer:
                    for record in records:
                        writer.dump(record)
                return out.read_bytes()
            return gzip.compress("".join(json.dumps(statefile.encode(r)) + "\n" for r in records).encode())
        return apply
    newer = copy_of(tmp_path, saved[0], version(99, True))
    assert "format version 99 is not supported" in refused(capsys, replay_args(newer), newer)
    older = copy_of(tmp_path, saved[1], version(1, False))
    assert "format version 1" in refused(capsys, restore_args(older), older)


def test_snapshot_of_a_component_of_another_build(saved, tmp_path, capsys):
    def apply(data):
        records = [statefile.decode(json.loads(line)) for line in gzip.decompress(data).decode("utf-8").splitlines()]
        for record in records:
            record.pop("sum")
        records[1]["state"]["components"]["pit"]["version"] = 7
        out = tmp_path / "rewritten"
        with statefile.RecordWriter(str(out)) as writer:
            for record in records:
                writer.dump(record)
        return out.read_bytes()
    path = copy_of(tmp_path, saved[1], apply)
    assert "state version 7 of component 'pit'" in refused(capsys, restore_args(path), path)


# ---------------------------------------------------------------- traces
def test_trace_max_size_keeps_the_file_under_the_limit(tmp_path, capsys):
    trace = tmp_path / "insn.trace"
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--trace", str(trace), "--trace-events", "insn",
                   "--trace-max-size", "64K", "--max-instructions", "100000"])
    err = capsys.readouterr().err
    assert status == 0
    assert 60 * 1024 < trace.stat().st_size <= 64 * 1024
    assert trace.read_text().splitlines()[-1].split()[4] == "trace.stopped"
    assert "trace stopped at instruction" in err and "--trace-max-size" in err


def test_trace_on_a_full_disk_stops_tracing_not_the_run(capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this host")
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--trace", "/dev/full", "--trace-events", "insn",
                   "--max-instructions", "100000"])
    err = capsys.readouterr().err
    assert status == 0
    assert "trace stopped" in err and "No space left on device" in err and "Traceback" not in err


def test_bad_trace_max_size(capsys):
    assert "expected a size" in refused(capsys, run_args("--trace", "-", "--trace-max-size", "lots"))
