"""The disk half of going backwards: the sectors a guest overwrote, so that the
images can be put back to what they held at an earlier snapshot.

RAM and device state come back with a snapshot; the disk images are host files
written as the guest goes.  While the debugger keeps history, every write first
saves the sectors it replaces (in write order).  Each history snapshot notes how
long the journal was when it was taken; going back to it writes the saved
sectors back, newest first, down to that length, so the guest re-executing from
there reads what it read the first time, and writes again what it wrote.

A floppy swapped in while the debugger runs is journalled too (`medium_change`);
one swapped out since has been closed, so its sectors are written back through the
image file (`write_back`).
"""

import os
from typing import Any, List, Optional, Tuple

from pcmachine.hookspecs import hookimpl
from pcmachine.media import Disk


class SectorJournal:
    """The replaced sectors of every writable disk of one machine, in write order."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.entries: List[Tuple[Any, int, bytes]] = []      # (disk, lba, old sectors)
        self._undoing = False
        self.disks: List[Any] = []
        for disk in machine.media.values():
            self.watch(disk)

    def watch(self, disk: Any) -> None:
        if not disk.readonly and disk not in self.disks:
            self.disks.append(disk)
            disk.before_write.append(self._saver(disk))

    @hookimpl
    def medium_change(self, drive: str, path: Optional[str]) -> None:
        disk = self.machine.media.get(drive)
        if disk is not None:
            self.watch(disk)

    def _saver(self, disk: Any) -> Any:
        def save(lba: int, count: int) -> None:
            if not self._undoing:
                self.entries.append((disk, lba, disk.read(lba, count)))
        return save

    def mark(self) -> int:
        """The position to give `undo_to` to return the disks to their present contents."""
        return len(self.entries)

    def undo_to(self, position: int) -> None:
        """Write back the sectors saved after `position`, newest first."""
        self._undoing = True
        try:
            while len(self.entries) > position:
                disk, lba, old = self.entries.pop()
                if disk.closed:
                    self.write_back(disk, lba, old)
                else:
                    disk.write(lba, old)
        finally:
            self._undoing = False

    def write_back(self, closed: Any, lba: int, old: bytes) -> None:
        """Put sectors back into the image of a disk swapped out since (an overlay's
        sectors went with it: its image was never written)."""
        if closed.overlay:
            return
        disk = Disk(closed.name, closed.path, closed.kind)
        try:
            disk.write(lba, old)
        finally:
            disk.close()
            for current in self.machine.media.values():     # the close dropped this process's locks
                if os.path.samefile(current.path, closed.path):
                    current.relock()
