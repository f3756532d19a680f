"""The disk half of going backwards: the sectors a guest overwrote, so that the
images can be put back to what they held at an earlier snapshot.

RAM and device state come back with a snapshot; the disk images are host files
written as the guest goes.  While the debugger keeps history, every write first
saves the sectors it replaces (in write order).  Each history snapshot notes how
long the journal was when it was taken; going back to it writes the saved
sectors back, newest first, down to that length, so the guest re-executing from
there reads what it read the first time, and writes again what it wrote.
"""

from typing import Any, List, Tuple


class SectorJournal:
    """The replaced sectors of every writable disk of one machine, in write order."""

    def __init__(self, machine: Any) -> None:
        self.entries: List[Tuple[Any, int, bytes]] = []      # (disk, lba, old sectors)
        self._undoing = False
        self.disks = [disk for disk in machine.media.values() if not disk.readonly]
        for disk in self.disks:
            disk.before_write.append(self._saver(disk))

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
                disk.write(lba, old)
        finally:
            self._undoing = False
