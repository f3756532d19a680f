"""Disk images: raw files read and written by sector, shared by the BIOS and ATA.

A `Disk` is one medium (`fda`, `fdb`, `hda` ... `hdd`) opened from a raw image file.
Writes go straight to the file (flushed on `flush()` and on close) unless the disk is
read-only (writes are refused) or has a copy-on-write overlay (written sectors are
kept in memory, the base image is never modified).  Nothing is ever written past
the end of the image.
"""

import hashlib
import os
from typing import BinaryIO, Callable, Dict, List, Optional

from .errors import MediaError

SECTOR_SIZE = 512

#: Standard floppy geometries by image size: (cylinders, heads, sectors per track, BIOS type)
FLOPPY_GEOMETRIES = {
    163840: (40, 1, 8, 1),
    184320: (40, 1, 9, 1),
    327680: (40, 2, 8, 1),
    368640: (40, 2, 9, 1),       # 360K
    737280: (80, 2, 9, 3),       # 720K
    1228800: (80, 2, 15, 2),     # 1.2M
    1474560: (80, 2, 18, 4),     # 1.44M
    2949120: (80, 2, 36, 5),     # 2.88M
}


class Disk:
    """One raw disk image with CHS geometry, read-only and overlay modes."""

    def __init__(self, name: str, path: str, kind: str, readonly: bool = False,
                 overlay: bool = False, geometry: Optional[tuple] = None) -> None:
        self.name = name
        self.path = path
        self.kind = kind  # "floppy", "hdd" or "cdrom"
        self.readonly = readonly
        self.overlay = overlay
        self._overlay_sectors: Dict[int, bytes] = {}
        self._dirty = False
        #: called with (lba, count) before sectors are overwritten (recording keeps
        #: the original sectors so a replay can rebuild the image it started from)
        self.before_write: List[Callable[[int, int], None]] = []
        if not os.path.isfile(path):
            raise MediaError(f"{name}: image not found: {path}")
        mode = "rb" if (readonly or overlay) else "r+b"
        try:
            self._file: BinaryIO = open(path, mode)
        except OSError as error:
            raise MediaError(f"{name}: cannot open image {path}: {error.strerror}") from None
        self.size = os.path.getsize(path)
        if self.size < SECTOR_SIZE:
            self._file.close()
            what = "empty" if self.size == 0 else f"smaller than one {SECTOR_SIZE}-byte sector"
            raise MediaError(f"{name}: image is {what}: {path}")
        self.sectors = self.size // SECTOR_SIZE
        self.cylinders, self.heads, self.spt = geometry or self._default_geometry()
        self.floppy_type = FLOPPY_GEOMETRIES.get(self.size, (0, 0, 0, 4))[3]

    def _default_geometry(self) -> tuple:
        if self.kind == "floppy":
            if self.size in FLOPPY_GEOMETRIES:
                return FLOPPY_GEOMETRIES[self.size][:3]
            return (80, 2, 18)
        # Hard disk: the usual 16 heads, 63 sectors per track physical geometry.
        heads, spt = 16, 63
        cylinders = max(1, min(65535, self.sectors // (heads * spt)))
        return (cylinders, heads, spt)

    # ---------------------------------------------------------------- sectors
    def chs_to_lba(self, cylinder: int, head: int, sector: int) -> int:
        return (cylinder * self.heads + head) * self.spt + (sector - 1)

    def read(self, lba: int, count: int) -> bytes:
        """Read `count` sectors from `lba`; raises ValueError when out of range."""
        if lba < 0 or count < 0 or lba + count > self.sectors:
            raise ValueError(f"sectors {lba}+{count} beyond end of {self.name}")
        self._file.seek(lba * SECTOR_SIZE)
        data = bytearray(self._file.read(count * SECTOR_SIZE))
        for index in range(count):
            sector = self._overlay_sectors.get(lba + index)
            if sector is not None:
                data[index * SECTOR_SIZE:(index + 1) * SECTOR_SIZE] = sector
        return bytes(data)

    def write(self, lba: int, data: bytes) -> None:
        """Write whole sectors at `lba`; raises PermissionError when read-only and
        ValueError when out of range."""
        if self.readonly:
            raise PermissionError(f"{self.name} is read-only")
        count = len(data) // SECTOR_SIZE
        if len(data) % SECTOR_SIZE or lba < 0 or lba + count > self.sectors:
            raise ValueError(f"sectors {lba}+{count} beyond end of {self.name}")
        for listener in self.before_write:
            listener(lba, count)
        if self.overlay:
            for index in range(count):
                self._overlay_sectors[lba + index] = bytes(data[index * SECTOR_SIZE:(index + 1) * SECTOR_SIZE])
            return
        self._file.seek(lba * SECTOR_SIZE)
        self._file.write(data)
        self._dirty = True

    def flush(self) -> None:
        if self._dirty and not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._dirty = False

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    # ---------------------------------------------------------------- identity
    def content_hash(self) -> str:
        """SHA-256 of the image as the guest sees it (overlay included)."""
        digest = hashlib.sha256()
        for lba in range(0, self.sectors, 2048):
            digest.update(self.read(lba, min(2048, self.sectors - lba)))
        return digest.hexdigest()

    def overlay_state(self) -> Dict[int, bytes]:
        return dict(self._overlay_sectors)

    def load_overlay_state(self, sectors: Dict[int, bytes]) -> None:
        self._overlay_sectors = {int(k): bytes(v) for k, v in sectors.items()}
