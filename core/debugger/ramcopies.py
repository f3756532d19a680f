"""The RAM copies of the debugger's history, in pieces shared between copies.

Going backwards needs a copy of RAM with every snapshot.  Whole copies made a
512 MiB guest (xv6, a Linux kernel) keep four snapshots at most, at 2 GiB, and
spend most of a second on each.  Between two snapshots a guest changes little of
its RAM, so a copy is kept as pieces of PIECE bytes: a piece whose bytes are what
the previous copy holds there is that copy's piece, and every piece of zeros is
one object.  Comparing a piece in place (`bytearray.startswith` at an offset) is a
`memcmp`, several times cheaper than copying it.
"""

from typing import Dict, Optional, Tuple

PIECE = 64 << 10
ZEROS = bytes(PIECE)

RamCopy = Tuple[bytes, ...]


class RamCopies:
    """Makes and releases RAM copies, counting the bytes of the pieces the copies
    still held hold (`held`: each shared piece once)."""

    def __init__(self) -> None:
        self.held = 0
        #: id of a piece -> the copies holding it (the copies keep it alive)
        self._holders: Dict[int, int] = {}

    def copy(self, memory: bytearray, previous: Optional[RamCopy]) -> RamCopy:
        """A copy of `memory`, sharing the pieces of `previous` that still match."""
        pieces = []
        for index, start in enumerate(range(0, len(memory), PIECE)):
            old = previous[index] if previous is not None and index < len(previous) else None
            if old is not None and len(old) == min(PIECE, len(memory) - start) and \
                    memory.startswith(old, start):
                pieces.append(old)
            elif len(memory) - start >= PIECE and memory.startswith(ZEROS, start):
                pieces.append(ZEROS)
            else:
                pieces.append(bytes(memory[start:start + PIECE]))
        for piece in pieces:
            count = self._holders.get(id(piece), 0)
            if count == 0:
                self.held += len(piece)
            self._holders[id(piece)] = count + 1
        return tuple(pieces)

    def release(self, copy: RamCopy) -> None:
        """Forget a copy: its pieces no other copy holds stop counting."""
        for piece in copy:
            count = self._holders[id(piece)] - 1
            if count == 0:
                del self._holders[id(piece)]
                self.held -= len(piece)
            else:
                self._holders[id(piece)] = count

    @staticmethod
    def joined(copy: RamCopy) -> bytes:
        return b"".join(copy)
