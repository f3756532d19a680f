"""Removable media: inserting, swapping and ejecting a floppy while the machine runs.

What QEMU's monitor does with `change floppy0 FILE` and `eject floppy0`.  A change
is a host input (kind ``"medium"``): it takes effect at a slice boundary, stamped
with the instruction count, and recording stores it like a key press.  Its data is
plain: the drive, the image's absolute path and SHA-256 and the read-only / overlay
options, so a replay opens the same image at the same instruction and refuses a
file whose contents differ (`check_recorded`).  Recording journals the sectors the
guest overwrites on a swapped-in writable image, as on the first media, and a
replay, which runs every image copy-on-write, puts them back when the image goes
in and keeps its own writes with the image across swaps.

The drive keeps existing while it is empty: `machine.media` then lacks it (the
BIOS's int 13h answers "timeout", the controller finds no medium) and `empty`
holds its name.  Components learn of a change through the `medium_change` hook;
the floppy controller raises the drive's disk-change line (DIR bit 7), which the
BIOS's int 13h AH=16h reads, as on a real PC.

The swapped-in image is locked like any medium (media.py); the old one is closed,
which releases its lock.  Which image is in which drive is part of a snapshot.
"""

import os
from typing import Any, Dict, List, Optional, Set, Tuple

from .errors import MediaError
from .media import FLOPPY_144M, FLOPPY_GEOMETRIES, Disk, floppy_drive


class RemovableDrives:
    """The machine's floppy drives and the host input that changes their media."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        #: drives with no medium: ejected, or given empty (`fda: empty`)
        self.empty: Set[str] = set()
        #: replays open every medium copy-on-write, so a replay never writes an image;
        #: the sectors written to an image then stay with it across swaps (real path
        #: -> overlay sectors)
        self.copy_on_write = False
        self.kept: Dict[str, Dict[int, bytes]] = {}
        #: each drive's type (FLOPPY_GEOMETRIES' BIOS type), fixed by its first medium
        self.types: Dict[str, int] = {}
        machine.register_input("medium", self._apply)

    def add_empty(self, name: str) -> None:
        """A drive with no disk from the start (`fda: empty`): a 1.44 MB drive, the
        type QEMU's pc gives its floppy drive."""
        self.empty.add(name)
        self.types[name] = FLOPPY_GEOMETRIES[FLOPPY_144M][3]

    def drive_type(self, name: str) -> int:
        """The drive's BIOS/CMOS type (0: no such drive): a drive keeps the type of
        the medium it was built with, whatever is in it now."""
        disk = self.machine.media.get(name)
        return self.types.get(name) or (disk.floppy_type if disk is not None and disk.kind == "floppy" else 0)

    def names(self) -> List[str]:
        """The floppy drives: those with a medium and the empty ones."""
        media = self.machine.media
        return sorted({name for name, disk in media.items() if disk.kind == "floppy"} | self.empty)

    # ------------------------------------------------------------------ requests
    def request(self, drive: str, path: Optional[str], readonly: Optional[bool] = None,
                overlay: Optional[bool] = None) -> Dict[str, Any]:
        """Check a change now (MediaError, one line) and queue it as a host input;
        `path` None ejects.  Read-only and overlay default to the drive's profile
        options.  Returns the input's data."""
        data = self.check(drive, path, readonly, overlay)
        self.machine.post_input("medium", data)
        return data

    def check(self, drive: str, path: Optional[str], readonly: Optional[bool] = None,
              overlay: Optional[bool] = None) -> Dict[str, Any]:
        """The input's data for a change, after checking the drive and the image."""
        name = floppy_drive(drive)
        if name not in self.names():
            raise MediaError(f"this machine has no floppy drive {name} "
                             f"(give it one with --{name} IMAGE or --{name} empty)")
        data: Dict[str, Any] = {"drive": name, "path": None, "sha256": None, "readonly": False, "overlay": False}
        if path is not None:
            defaults = self._profile_options(name)
            data["readonly"] = defaults["readonly"] if readonly is None else bool(readonly)
            data["overlay"] = defaults["overlay"] if overlay is None else bool(overlay)
            data["path"] = os.path.abspath(path)
            data["sha256"] = self._image_digest(name, data["path"], data["readonly"], data["overlay"])
        return data

    def _profile_options(self, name: str) -> Dict[str, bool]:
        profile = self.machine.profile
        spec = profile.media().get(name, {}) if profile is not None else {}
        return {"readonly": bool(spec.get("readonly")), "overlay": bool(spec.get("overlay"))}

    def _image_digest(self, name: str, path: str, readonly: bool, overlay: bool) -> str:
        """Open the image as the drive will (size, format, lock) and return its SHA-256."""
        for other, disk in self.machine.media.items():
            if other != name and os.path.isfile(path) and os.path.samefile(disk.path, path):
                raise MediaError(f"{name}: {path} is already the image of {other}; "
                                 "one image file cannot be two drives")
        disk = Disk(name, path, "floppy", readonly=readonly, overlay=overlay)
        try:
            return disk.content_hash()
        finally:
            disk.close()
            self._relock(path)

    def _relock(self, path: str) -> None:
        """Closing a descriptor dropped this process's locks on `path`: take them again."""
        for disk in self.machine.media.values():
            if os.path.isfile(disk.path) and os.path.samefile(disk.path, path):
                disk.relock()

    # ------------------------------------------------------------------ changes
    def _apply(self, data: Dict[str, Any]) -> bool:
        """The input handler: swap the medium, then tell the components."""
        name = data["drive"]
        self.swap(name, data["path"], data["readonly"], data["overlay"])
        self.machine.plugin_manager.hook.medium_change(machine=self.machine, drive=name, path=data["path"])
        return True

    def keep(self, path: str, sectors: Dict[int, bytes]) -> None:
        """Copy-on-write: the image at `path` holds these sectors when it goes in."""
        self.kept[os.path.realpath(path)] = dict(sectors)

    def swap(self, name: str, path: Optional[str], readonly: bool, overlay: bool) -> None:
        """Put the image at `path` (None: nothing) in drive `name`."""
        if self.copy_on_write:
            readonly, overlay = False, True
        new = Disk(name, path, "floppy", readonly=readonly, overlay=overlay) if path is not None else None
        if new is not None and self.copy_on_write:
            new.load_overlay_state(self.kept.get(os.path.realpath(path), {}))
        old = self.machine.media.pop(name, None)
        if old is not None:
            self.types.setdefault(name, old.floppy_type)
            if self.copy_on_write:
                self.keep(old.path, old.overlay_state())
            old.close()
        if new is None:
            self.empty.add(name)
            return
        new.relock()
        self.machine.media[name] = new
        self.empty.discard(name)

    # ------------------------------------------------------------------ state
    def snapshot(self) -> Dict[str, Any]:
        """Which image is in each floppy drive (None: empty)."""
        media = self.machine.media
        return {name: None if name in self.empty else
                {"path": media[name].path, "readonly": media[name].readonly, "overlay": media[name].overlay}
                for name in self.names()}

    def type_snapshot(self) -> Dict[str, int]:
        """Each drive's type: fixed by its first medium, so a snapshot taken after a
        swap must carry it (the restored machine is built around the later medium)."""
        return {name: self.drive_type(name) for name in self.names()}

    def restore(self, drives: Dict[str, Any], types: Dict[str, int]) -> None:
        """Put back the media a snapshot had (no disk-change: the components' own
        state holds their change lines) and the drives' types."""
        for name, info in drives.items():
            current = self.machine.media.get(name)
            if info is None:
                if current is not None or name not in self.empty:
                    self.swap(name, None, False, False)
            elif current is None or current.path != info["path"]:
                self.swap(name, info["path"], info["readonly"], info["overlay"])
        self.types.update(types)


def drive_and_path(text: str) -> Tuple[str, str]:
    """`A:disk.img` (or `fdb:disk.img`) -> ("A", "disk.img"); MediaError otherwise."""
    drive, sep, path = text.partition(":")
    if not sep or not path:
        raise MediaError(f"{text!r}: give a drive and an image, as in A:disk.img")
    return drive, path


def check_recorded(inputs: List[Dict[str, Any]], journal: Dict[str, Dict[int, bytes]],
                   media: Dict[str, Dict[str, Any]], what: str) -> None:
    """Every image a recording swapped in is there with the contents it had when it
    first went in (its file, with the sectors the run overwrote put back from the
    journal); MediaError (one line) otherwise.  The first media, and later
    insertions of an image, hold what the replay itself makes of them."""
    seen = {os.path.realpath(info["path"]) for info in media.values()}
    for record in inputs:
        data = record["data"]
        if record["kind"] != "medium" or data["path"] is None or os.path.realpath(data["path"]) in seen:
            continue
        seen.add(os.path.realpath(data["path"]))
        try:
            disk = Disk(data["drive"], data["path"], "floppy", overlay=True)
        except MediaError as error:
            raise MediaError(f"{what}: {error}") from None
        try:
            disk.load_overlay_state(journal.get(data["path"], {}))
            if disk.content_hash() != data["sha256"]:
                raise MediaError(f"{what}: {data['path']}, put in {data['drive']} at instruction "
                                 f"{record['icount']}, has changed since it was recorded; "
                                 "refusing to run on different media")
        finally:
            disk.close()
