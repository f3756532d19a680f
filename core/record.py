"""Recording, replay and snapshots.

A recording (`machine run ... --record FILE.rec`) is a gzip-compressed JSON-lines file
(format in docs/recording.md):

1. a header: format name and version, the resolved profile, every medium's path and
   SHA-256, the checkpoint interval;
2. `input` records: each host input with the instruction count and virtual time at
   which it took effect (from the `machine_input` hook); a floppy swap's names the
   image and its SHA-256, and a replay refuses an image whose contents differ;
3. `checkpoint` records every N instructions: a state digest (see statefile.py);
4. `journal` records: the original contents of disk sectors the guest overwrote, so a
   replay can rebuild the image the recording started from;
5. an `end` record: why and where the run ended, the final digest and screen.

`machine replay FILE.rec` rebuilds the machine, re-applies the inputs at the same
stamps, verifies every checkpoint and the end, and names the first component and
fields that differ.  Media are opened copy-on-write during a replay, so replaying
never modifies an image.

A snapshot (`--snapshot-at N --snapshot FILE`, `--restore FILE`) is the same container
holding a header, one full machine state without its RAM, then the RAM as `ram`
records of 1 MiB (all-zero ones left out), so that neither writing nor reading a
snapshot holds the whole RAM as one JSON text: a 128 MiB guest took over 1 GB to
restore when it did.
"""

import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .bus import zeroed
from .display import find_screen, screen_text
from .errors import MediaError, UserError
from .hookspecs import hookimpl
from .machine import Machine
from .profile import Profile
from .progress import StatusLine, run_with_status
from .removable import check_recorded
from . import statefile

RECORDING_FORMAT = "pcmachine-recording"
SNAPSHOT_FORMAT = "pcmachine-snapshot"
FORMAT_VERSION = 2
#: Snapshot files: version 3 keeps the RAM in `ram` records (2 had it in the state).
SNAPSHOT_VERSION = 3
SNAPSHOT_VERSIONS = (2, 3)
RAM_RECORD_SIZE = 1 << 20
DEFAULT_CHECKPOINT_INTERVAL = 50_000_000


def machine_digest(machine: Machine) -> Dict[str, Any]:
    """The machine's state digest.  Overlay sectors are left out: replays run on
    overlays, and disk contents are compared through the media hashes instead."""
    state = machine.snapshot(ram_copy=False)
    flat = {"clock": state["clock"], "memory": state["ram"],
            "bus": {"a20": state["a20"], "irq_levels": state["irq_levels"]}}
    for name, entry in state["components"].items():
        flat[name] = entry["state"]
    return statefile.digest(flat)


def _screen(machine: Machine) -> str:
    screen = find_screen(machine)
    return screen_text(screen) if screen is not None else ""


def media_header(machine: Machine) -> Dict[str, Dict[str, Any]]:
    return {name: {"path": disk.path, "sha256": disk.content_hash()}
            for name, disk in machine.media.items()}


class SectorJournal:
    """From now on, keeps the current contents of every sector the guest overwrites
    on a writable medium (the first time it is overwritten), so the media as they are
    now can be rebuilt later from the images and this journal.  A medium is named
    by its drive; an image a floppy swap brings in later (`swapped_in`), by its
    absolute path, unless it is one of the first ones."""

    def __init__(self, machine: Machine) -> None:
        self.sectors: Dict[str, Dict[int, bytes]] = {}
        #: real path of each image -> its journal's name
        self.names: Dict[str, str] = {}
        for name, disk in machine.media.items():
            if disk.writable:
                self.names[os.path.realpath(disk.path)] = name
                disk.before_write.append(self._keeper(name, disk))

    def swapped_in(self, disk: Any) -> None:
        if disk is not None and disk.writable:
            name = self.names.setdefault(os.path.realpath(disk.path), os.path.abspath(disk.path))
            disk.before_write.append(self._keeper(name, disk))

    def _keeper(self, name: str, disk: Any) -> Any:
        originals = self.sectors.setdefault(name, {})

        def keep_originals(lba: int, count: int) -> None:
            for sector in range(lba, lba + count):
                if sector not in originals:
                    originals[sector] = disk.read(sector, 1)
        return keep_originals

    def dump(self, writer: statefile.RecordWriter) -> None:
        for name, sectors in self.sectors.items():
            if sectors:
                writer.dump({"type": "journal", "medium": name, "sectors": dict(sectors)})


class Recorder:
    """Plugin that writes a recording while the machine runs."""

    def __init__(self, machine: Machine, path: str, interval: int = DEFAULT_CHECKPOINT_INTERVAL) -> None:
        if interval <= 0:
            raise UserError("--checkpoint-interval must be positive")
        self.machine = machine
        self.path = path
        self.interval = interval
        try:
            self.writer = statefile.RecordWriter(path)
        except OSError as error:
            raise UserError(f"cannot write recording {path}: {error.strerror}") from None
        self.writer.dump({
            "type": "header", "format": RECORDING_FORMAT, "version": FORMAT_VERSION,
            "profile": machine.machine_profile(),
            "profile_source": machine.profile.path if machine.profile else None,
            "media": media_header(machine), "checkpoint_interval": interval,
            "start": {"icount": machine.clock.icount, "time_ns": machine.clock.now()},
        })
        self.journal = SectorJournal(machine)
        machine.at_icount(machine.clock.icount + interval, self.checkpoint)

    def checkpoint(self) -> None:
        machine = self.machine
        flat = machine_digest(machine)
        self.writer.dump({
            "type": "checkpoint", "icount": machine.clock.icount, "time_ns": machine.clock.now(),
            "hash": statefile.digest_hash(flat), "digest": flat})
        machine.at_icount(machine.clock.icount + self.interval, self.checkpoint)

    @hookimpl
    def medium_change(self, machine: Machine, drive: str) -> None:
        self.journal.swapped_in(machine.media.get(drive))

    @hookimpl
    def machine_input(self, kind: str, data: Any, icount: int, time_ns: int) -> None:
        self.writer.dump({"type": "input", "icount": icount, "time_ns": time_ns,
                                            "kind": kind, "data": data})

    @hookimpl
    def machine_stop(self, machine: Machine, reason: str) -> None:
        self.journal.dump(self.writer)
        flat = machine_digest(machine)
        self.writer.dump({
            "type": "end", "reason": reason, "icount": machine.clock.icount,
            "time_ns": machine.clock.now(), "hash": statefile.digest_hash(flat), "digest": flat,
            "screen": _screen(machine),
            "media": {name: disk.content_hash() for name, disk in machine.media.items()}})
        self.writer.close()


# ---------------------------------------------------------------------- reading
def read_state_file(path: str, file_format: str, what: str,
                    versions: Tuple[int, ...] = (FORMAT_VERSION,)) -> Iterator[Dict[str, Any]]:
    """The records of a recording or snapshot file one by one, the header checked
    for its format and version; UserError with a one-line message otherwise."""
    if not os.path.isfile(path):
        raise UserError(f"{what} not found: {path}")
    records = statefile.read_records(path)
    try:
        header = next(records, None)
        if header is None or header.get("format") != file_format:
            raise UserError(f"{path}: not a pcmachine {what}")
        version = header.get("version")
        if version not in versions:
            raise UserError(f"{path}: {what} format version {version} is not supported "
                            f"(this pcmachine reads version {versions[-1]})")
        yield header
        yield from records
    except ValueError as error:
        raise UserError(str(error)) from None


class Recording:
    """A recording file, read whole (inputs and checkpoints are small)."""

    def __init__(self, path: str) -> None:
        records = list(read_state_file(path, RECORDING_FORMAT, "recording"))
        self.path = path
        self.header = records[0]
        self.inputs = [r for r in records if r["type"] == "input"]
        self.checkpoints = [r for r in records if r["type"] == "checkpoint"]
        self.journal = journal_records(records)
        ends = [r for r in records if r["type"] == "end"]
        if not ends:
            raise UserError(f"{path}: the recording has no end record (the recording run was cut off)")
        self.end = ends[0]


def journal_records(records: List[Dict[str, Any]]) -> Dict[str, Dict[int, bytes]]:
    """The sector journal of a recording or snapshot file, by medium."""
    journal: Dict[str, Dict[int, bytes]] = {}
    for record in records:
        if record["type"] == "journal":
            sectors = journal.setdefault(record["medium"], {})
            for lba, data in record["sectors"].items():
                sectors.setdefault(int(lba), data)
    return journal


def prepare_media(profile_data: Dict[str, Any], media: Dict[str, Dict[str, Any]],
                  journal: Dict[str, Dict[int, bytes]], what: str,
                  always_overlay: bool = True) -> Dict[str, Dict[int, bytes]]:
    """Point the profile at the recorded media and check their contents: an image is
    accepted when it is as it was then, or as a later run left it and the journal
    can rebuild it; a rebuilt medium runs copy-on-write (the image is never
    modified), and with `always_overlay` (replays) every medium does.  Returns the
    overlay sectors to load per medium."""
    from .media import Disk
    section = profile_data.setdefault("media", {})
    overlays: Dict[str, Dict[int, bytes]] = {}
    for name, info in media.items():
        spec = section.get(name)
        spec = dict(spec) if isinstance(spec, dict) else {}
        spec["image"] = info["path"]
        if always_overlay:
            spec.update({"overlay": True, "readonly": False})
        section[name] = spec
        try:
            disk = Disk(name, info["path"], "floppy" if name.startswith("fd") else "hdd", overlay=True)
        except MediaError as error:
            raise MediaError(f"{what}: {error}") from None
        try:
            if disk.content_hash() == info["sha256"]:
                continue
            sectors = journal.get(name, {})
            if sectors:
                disk.load_overlay_state(sectors)
                if disk.content_hash() == info["sha256"]:
                    overlays[name] = dict(sectors)
                    spec.update({"overlay": True, "readonly": False})
                    continue
            raise MediaError(f"{what}: medium {name} ({info['path']}) has changed since it was saved; "
                             "refusing to run on different media")
        finally:
            disk.close()
    return overlays


class ReplayVerifier:
    """Checks each recorded checkpoint at its instruction count."""

    def __init__(self, machine: Machine, recording: Recording) -> None:
        self.machine = machine
        self.recording = recording
        self.verified = 0
        self.mismatch: Optional[Tuple[int, int, Dict[str, tuple]]] = None
        self.previous_icount = recording.header["start"]["icount"]
        for checkpoint in recording.checkpoints:
            machine.at_icount(checkpoint["icount"], self._verifier(checkpoint))

    def _verifier(self, checkpoint: Dict[str, Any]) -> Any:
        def verify() -> None:
            if self.mismatch is not None:
                return
            self.compare(checkpoint)
            self.previous_icount = checkpoint["icount"]
        return verify

    def compare(self, record: Dict[str, Any]) -> bool:
        flat = machine_digest(self.machine)
        diff = statefile.differences(record["digest"], flat)
        if self.machine.clock.icount != record["icount"] or self.machine.clock.now() != record["time_ns"]:
            diff["clock.position"] = ((record["icount"], record["time_ns"]),
                                      (self.machine.clock.icount, self.machine.clock.now()))
        if diff:
            self.mismatch = (self.previous_icount, record["icount"], diff)
            self.machine.request_stop("replay-mismatch")
            return False
        self.verified += 1
        return True

    def report(self) -> str:
        start, end, diff = self.mismatch
        components = sorted({key.split(".")[0].split("[")[0] for key in diff})
        lines = [f"replay diverged between instruction {start} and {end}: "
                 f"state differs in {', '.join(components)}"]
        for key, (expected, actual) in list(diff.items())[:20]:
            lines.append(f"  {key}: recorded {_show(expected)}, replayed {_show(actual)}")
        if len(diff) > 20:
            lines.append(f"  ... and {len(diff) - 20} more fields")
        return "\n".join(lines)


def _show(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def replay(path: str, plugins: List[str], extra_components: Optional[Dict[str, Dict[str, Any]]] = None,
           quiet: bool = False) -> int:
    """Replay a recording; returns the exit status (0 when everything matched)."""
    recording = Recording(path)
    check_recorded(recording.inputs, recording.journal, recording.header["media"], path)
    data = dict(recording.header["profile"])
    overlays = prepare_media(data, recording.header["media"], recording.journal, path)
    for name, entry in (extra_components or {}).items():
        data[name] = entry
    profile = Profile.from_data(data, source=path)
    machine = Machine.from_profile(profile, extra_plugins=plugins)
    try:
        machine.drives.copy_on_write = True
        for name, sectors in recording.journal.items():
            if name not in recording.header["media"]:     # an image swapped in later
                machine.drives.keep(name, sectors)
        for name, sectors in overlays.items():
            machine.media[name].load_overlay_state(sectors)
        for record in recording.inputs:
            machine.schedule_input(record["icount"], record["time_ns"], record["kind"], record["data"])
        verifier = ReplayVerifier(machine, recording)
        end = recording.end
        machine.stop_at = (end["icount"], end["time_ns"])
        import trio
        trio.run(run_with_status, machine, StatusLine(quiet=quiet))
        if verifier.mismatch is None:
            verifier.compare(end)
        if verifier.mismatch is not None:
            print(verifier.report(), file=sys.stderr)
            return 1
        screen = _screen(machine)
        if screen != end["screen"]:
            print("replay diverged: the final screen differs from the recording", file=sys.stderr)
            return 1
        print(f"replay matched: {verifier.verified - 1} checkpoints and the final state at instruction "
              f"{end['icount']} verified, state hash {end['hash'][:16]}")
        if screen:
            print(screen)
        return 0
    finally:
        machine.close()


# ---------------------------------------------------------------------- snapshots
def save_snapshot(machine: Machine, path: str) -> None:
    """Write the whole machine state (and what it was built from) to `path`.  Sectors
    the run overwrites afterwards are appended to the file when it stops, so the
    snapshot can still be restored once the images have moved on."""
    machine.flush_media()
    header = {"type": "header", "format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION,
              "profile": machine.machine_profile(),
              "media": media_header(machine)}
    state = machine.snapshot()
    ram = state.pop("ram")
    offsets = [offset for offset in range(0, len(ram), RAM_RECORD_SIZE)     # counted in place
               if ram.count(0, offset, offset + RAM_RECORD_SIZE) != min(RAM_RECORD_SIZE, len(ram) - offset)]
    state["ram_size"] = len(ram)
    state["ram_records"] = len(offsets)     # the checksum chain cannot see records cut off at the end
    try:
        with statefile.RecordWriter(path) as writer:
            writer.dump(header)
            writer.dump({"type": "state", "state": state})
            for offset in offsets:
                writer.dump({"type": "ram", "offset": offset, "data": ram[offset:offset + RAM_RECORD_SIZE]})
    except OSError as error:
        raise UserError(f"cannot write snapshot {path}: {error.strerror}") from None
    machine.add_plugin(SnapshotJournal(machine, path, writer.last_sum))


class SnapshotJournal:
    """Plugin added by `save_snapshot`: appends the snapshot-time contents of the
    sectors the run overwrites after the snapshot to the snapshot file at stop."""

    def __init__(self, machine: Machine, path: str, last_sum: str) -> None:
        self.path = path
        self.last_sum = last_sum
        self.journal = SectorJournal(machine)

    @hookimpl
    def medium_change(self, machine: Machine, drive: str) -> None:
        self.journal.swapped_in(machine.media.get(drive))

    @hookimpl
    def machine_stop(self) -> None:
        if any(self.journal.sectors.values()):
            with statefile.RecordWriter(self.path, append=True, last_sum=self.last_sum) as writer:
                self.journal.dump(writer)


def load_snapshot(path: str) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Dict[int, bytes]]]:
    """(header, state, sector journal) of a snapshot file; UserError when it is not one.
    The RAM records are copied into the state's RAM as they are read."""
    records = read_state_file(path, SNAPSHOT_FORMAT, "snapshot", SNAPSHOT_VERSIONS)
    header = next(records)
    state_record = next(records, None)
    if state_record is None or state_record.get("type") != "state":
        raise UserError(f"{path}: snapshot is incomplete")
    state = state_record["state"]
    expected = state.pop("ram_records", None)
    if "ram_size" in state:
        state["ram"] = zeroed(state.pop("ram_size"))
    ram = state.get("ram")
    journal: List[Dict[str, Any]] = []
    found = 0
    for record in records:
        if record.get("type") == "ram":
            found += 1
            offset, data = record.get("offset"), record.get("data")
            if not isinstance(ram, bytearray) or not isinstance(offset, int) or \
                    not isinstance(data, bytes) or not 0 <= offset <= len(ram) - len(data):
                raise UserError(f"{path}: a RAM record lies outside the snapshot's RAM")
            ram[offset:offset + len(data)] = data
        else:
            journal.append(record)
    if expected is not None and found != expected:
        raise UserError(f"{path}: the snapshot holds {found} of its {expected} RAM records (cut off?)")
    return header, state, journal_records(journal)

