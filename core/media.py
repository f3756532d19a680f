"""Disk images: raw files read and written by sector, shared by the BIOS and ATA.

A `Disk` is one medium (`fda`, `fdb`, `hda` ... `hdd`) opened from a raw image file.
Writes go straight to the file (flushed to the device on `flush()` and on close)
unless the disk is read-only (writes are refused) or has a copy-on-write overlay
(written sectors are kept in memory, the base image is never modified).  Nothing is
ever written past the end of the image.

Crash safety: the image is used through its file descriptor with no buffering in
this process, one `pwrite` per run of whole sectors, so every sector a write
command completed is in the host's page cache at once and survives the emulator
being killed (`kill -9`); a sector never spans a page, so none is ever torn.  The
guest's FLUSH CACHE (and stop, close) makes it durable with `fsync`.

A writable image is locked (`lockf`, exclusive) while it is open, read-only and
overlay images share a lock: a second run that would write an image another run
uses stops with one line, as QEMU's "Failed to get write lock" does.  The locks are
POSIX record locks, held per process: one process (a test) may open an image twice,
and closing any descriptor of a file drops the process's locks on it, so a medium
swapped for another descriptor of the same file takes its lock again (`relock`).

Images in another format (qcow2, VMDK, VDI, VHD) are refused with a hint to
convert them; a floppy image whose size is no standard format gets the 1.44M
geometry when it is smaller (QEMU's choice) and the 2.88M geometry up to that
size; anything larger is refused.  A short floppy image is the start of a whole
medium: sectors past its end (and the rest of a last partial sector) read as
zeros, as in QEMU (hw/block/fdc.c, "image size is too small") and Bochs
(floppy.cc, "partial read() on floppy image"), so boot loaders that read whole
tracks past an unpadded kernel image (Linux 0.11's bootsect) work; writes there
are refused, since nothing is written past the end of an image.
"""

import fcntl
import hashlib
import os
from typing import Callable, Dict, List, Optional

from .errors import MediaError

SECTOR_SIZE = 512

#: Standard floppy geometries by image size: (cylinders, heads, sectors per track,
#: BIOS type) -- the formats Bochs knows, DMF 1.68M/1.72M in a 1.44M drive
FLOPPY_GEOMETRIES = {
    163840: (40, 1, 8, 1),
    184320: (40, 1, 9, 1),
    327680: (40, 2, 8, 1),
    368640: (40, 2, 9, 1),       # 360K
    737280: (80, 2, 9, 3),       # 720K
    1228800: (80, 2, 15, 2),     # 1.2M
    1474560: (80, 2, 18, 4),     # 1.44M
    1720320: (80, 2, 21, 4),     # 1.68M DMF
    1763328: (82, 2, 21, 4),     # 1.72M
    2949120: (80, 2, 36, 5),     # 2.88M
}
FLOPPY_144M, FLOPPY_288M = 1474560, 2949120
#: names a user may give a floppy drive (QEMU's monitor says floppy0, DOS says A:)
FLOPPY_DRIVE_NAMES = {"a": "fda", "b": "fdb", "fda": "fda", "fdb": "fdb",
                      "floppy0": "fda", "floppy1": "fdb"}


def floppy_drive(text: str) -> str:
    """`A`, `a:`, `fda` or `floppy0` -> the medium name `fda`; MediaError otherwise."""
    name = FLOPPY_DRIVE_NAMES.get(text.strip().rstrip(":").lower())
    if name is None:
        raise MediaError(f"{text!r} is not a floppy drive (use A, B, fda or fdb)")
    return name

#: (offset, magic, format name, qemu-img format name); a negative offset counts from the end
FOREIGN_FORMATS = (
    (0, b"QFI\xfb", "qcow2", "qcow2"),
    (0, b"KDMV", "VMDK", "vmdk"),
    (0, b"# Disk DescriptorFile", "VMDK descriptor", "vmdk"),
    (0x40, b"\x7f\x10\xda\xbe", "VirtualBox VDI", "vdi"),
    (0, b"conectix", "VHD (dynamic)", "vpc"),
    (-512, b"conectix", "VHD", "vpc"),
)


def foreign_format(path: str, size: int) -> Optional[tuple]:
    """(format name, qemu-img name) when the file carries another format's magic."""
    with open(path, "rb") as handle:
        head = handle.read(0x48)
        tail = b""
        if size >= 1024:
            handle.seek(size - 512)
            tail = handle.read(8)
    for offset, magic, name, qemu_name in FOREIGN_FORMATS:
        found = tail if offset < 0 else head[offset:offset + len(magic)]
        if found.startswith(magic):
            return name, qemu_name
    return None


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
        self.size = os.path.getsize(path)
        self._check_contents()
        writable = not (readonly or overlay)
        try:
            self._fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        except OSError as error:
            hint = " (give it readonly: true or overlay: true)" if writable else ""
            raise MediaError(f"{name}: cannot open image {path}: {error.strerror}{hint}") from None
        self._lock(writable)
        self.sectors = self.size // SECTOR_SIZE
        self.cylinders, self.heads, self.spt = geometry or self._default_geometry()
        #: sectors a read may address: a floppy's whole medium (module docstring),
        #: otherwise the image's whole sectors
        self.readable_sectors = self.sectors
        if kind == "floppy":
            self.readable_sectors = max(self.sectors, self.cylinders * self.heads * self.spt)
        self.floppy_type = FLOPPY_GEOMETRIES[self._floppy_format()][3]

    def _check_contents(self) -> None:
        """Refuse what cannot be a raw image of this kind of drive (one line each)."""
        if self.size < SECTOR_SIZE:
            what = "empty" if self.size == 0 else f"smaller than one {SECTOR_SIZE}-byte sector"
            raise MediaError(f"{self.name}: image is {what}: {self.path}")
        try:
            foreign = foreign_format(self.path, self.size)
        except OSError as error:
            raise MediaError(f"{self.name}: cannot read image {self.path}: {error.strerror}") from None
        if foreign is not None:
            raise MediaError(f"{self.name}: {self.path} is a {foreign[0]} image, not a raw one; convert it "
                             f"with: qemu-img convert -f {foreign[1]} -O raw {self.path} disk.img")
        if self.kind == "floppy" and self.size > FLOPPY_288M:
            raise MediaError(f"{self.name}: {self.path} is {self.size} bytes, larger than any floppy "
                             f"format (2.88M is {FLOPPY_288M}); give it as a hard disk (--hda)")

    @property
    def closed(self) -> bool:
        return self._fd < 0

    @property
    def writable(self) -> bool:
        """The image file itself is written (neither read-only nor an overlay)."""
        return not (self.readonly or self.overlay)

    def relock(self) -> None:
        """Take the lock again after another descriptor of this file was closed."""
        if self._fd >= 0:
            self._lock(self.writable)

    def _lock(self, writable: bool) -> None:
        """An exclusive lock for a writer, a shared one for readers (see the module
        docstring); released when the descriptor is closed."""
        try:
            fcntl.lockf(self._fd, (fcntl.LOCK_EX if writable else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = -1
            if writable:
                problem = "is in use by another run (cannot get the write lock)"
            else:
                problem = "is being written by another run (cannot get a shared lock)"
            raise MediaError(f"{self.name}: image {self.path} {problem}; stop that run "
                             "or open this one with overlay: true on a copy") from None

    def _floppy_format(self) -> int:
        """The standard floppy size this image is taken as (module docstring)."""
        if self.size in FLOPPY_GEOMETRIES:
            return self.size
        return FLOPPY_144M if self.size < FLOPPY_144M else FLOPPY_288M

    def _default_geometry(self) -> tuple:
        if self.kind == "floppy":
            return FLOPPY_GEOMETRIES[self._floppy_format()][:3]
        # Hard disk: the usual 16 heads, 63 sectors per track physical geometry.
        heads, spt = 16, 63
        cylinders = max(1, min(65535, self.sectors // (heads * spt)))
        return (cylinders, heads, spt)

    # ---------------------------------------------------------------- sectors
    def chs_to_lba(self, cylinder: int, head: int, sector: int) -> int:
        return (cylinder * self.heads + head) * self.spt + (sector - 1)

    def read(self, lba: int, count: int) -> bytes:
        """Read `count` sectors from `lba` (zeros past the end of a short floppy
        image); raises ValueError when out of range."""
        if lba < 0 or count < 0 or lba + count > self.readable_sectors:
            raise ValueError(f"sectors {lba}+{count} beyond end of {self.name}")
        data = bytearray(os.pread(self._fd, count * SECTOR_SIZE, lba * SECTOR_SIZE))
        data.extend(bytes(count * SECTOR_SIZE - len(data)))
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
        view = memoryview(bytes(data))
        offset = lba * SECTOR_SIZE
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written
        self._dirty = True

    def flush(self) -> None:
        """Make the written sectors durable (fsync)."""
        if self._dirty and self._fd >= 0:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = -1

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
