"""Bus master IDE: DMA between the ATA channels' disks and memory, driven by
Physical Region Descriptor tables (SFF-8038i; the PIIX3's BMIBA registers,
Intel 82371FB/SB datasheet 290550, "Bus Master IDE I/O Registers").

Sixteen I/O ports, wherever the controller's BAR puts them: the primary
channel's registers at +0, the secondary's at +8:

* +0 command: bit 0 Start/Stop Bus Master, bit 3 direction (1: the device
  writes memory, as in READ DMA); the other bits read 0;
* +2 status: bit 0 active (read-only: set by Start, cleared when the last PRD
  is done or by Stop), bit 1 error and bit 2 interrupt (write 1 to clear; the
  interrupt bit is set by every rising edge of the channel's IRQ line, DMA or
  not), bits 5-6 drive 0 / 1 DMA capable (kept for the driver), bit 7 simplex
  (0: both channels may transfer at once);
* +4 to +7: the PRD table's physical address (bits 1-0 read 0).

A PRD is two dwords: a region's physical address (bit 0 is 0) and its byte
count in bits 15-0 (0 means 64 KiB) with bit 31 marking the table's last entry.

A transfer runs once the command's Start bit is set, the PCI command register
lets the controller master the bus, and a device has a DMA command ready
(READ/WRITE DMA, their EXT forms, or a PACKET command with its DMA bit:
`channel.py`), in whichever order those come; it completes TRANSFER_DELAY_NS
later, on the clock.  With the Bus Master bit clear nothing moves and the
device keeps waiting, as on the chip, which starts no PCI cycles then (Bochs
transfers anyway; QEMU completes the command but the data reaches neither
memory nor disk); a warning in the log says so once.  The whole request then
moves at once (a disk's in whole sectors) in the direction of the device's
command (the direction bit is only stored, as QEMU does).  As in QEMU's
`hw/ide/core.c`: PRDs longer than the request leave the active bit set (the
driver clears Start); PRDs too short for it move what fits and leave the device
ready without an interrupt and the bus master inactive.  DMA writes memory through the
bus, so decoded code there is dropped as for any other write.
"""

import dataclasses
import logging
from typing import Any, Callable, List, Optional, Tuple

from pcmachine.clock import Event
from pcmachine.component import dict_to_state, state_to_dict

log = logging.getLogger("pcmachine.ata")

CHANNEL_STRIDE = 8
REGISTER_COUNT = 16
# command register (+0)
COMMAND_START = 0x01
COMMAND_TO_MEMORY = 0x08
# status register (+2)
STATUS_ACTIVE = 0x01
STATUS_ERROR = 0x02
STATUS_INTERRUPT = 0x04
STATUS_WRITABLE = 0x60           # drive 0 / 1 DMA capable
STATUS_WRITE_ONE_TO_CLEAR = STATUS_ERROR | STATUS_INTERRUPT
COMMAND_OFFSET, STATUS_OFFSET, TABLE_OFFSET = 0, 2, 4
PRD_SIZE = 8
PRD_END_OF_TABLE = 0x80000000
#: a PRD table may not cross a 64 KiB boundary: at most this many entries
MAX_PRDS = 0x10000 // PRD_SIZE
#: virtual time from the moment a transfer can start to its completion
TRANSFER_DELAY_NS = 5_000


@dataclasses.dataclass
class BusMasterState:
    """Both channels' registers, and when a started transfer completes."""

    command: List[int] = dataclasses.field(default_factory=lambda: [0, 0])
    status: List[int] = dataclasses.field(default_factory=lambda: [0, 0])
    table: List[int] = dataclasses.field(default_factory=lambda: [0, 0])
    #: virtual ns at which each channel's transfer completes, 0 when none is under way
    deadline: List[int] = dataclasses.field(default_factory=lambda: [0, 0])


class BusMaster:
    """The DMA engine of an IDE controller with two channels.

    `may_master()` says whether the PCI command register lets it use the bus;
    `attach` wires the channel components (primary, secondary; None for a
    missing one), which then announce DMA commands and IRQ edges to it."""

    def __init__(self, bus: Any, clock: Any, may_master: Callable[[], bool]) -> None:
        self.bus = bus
        self.clock = clock
        self.may_master = may_master
        self.channels: List[Any] = [None, None]
        self.state = BusMasterState()
        self._events: List[Optional[Event]] = [None, None]
        self._warned = False

    def attach(self, channels: List[Any]) -> None:
        self.channels = channels
        for channel in channels:
            if channel is not None:
                channel.bus_master = self

    # ------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self._cancel_events()
        self.state = BusMasterState()

    def snapshot(self) -> dict:
        return state_to_dict(self.state)

    def restore(self, data: dict) -> None:
        self._cancel_events()
        self.state = dict_to_state(BusMasterState, data)
        for number, deadline in enumerate(self.state.deadline):
            if deadline:
                self._events[number] = self.clock.schedule(deadline, self._completer(number))

    def _cancel_events(self) -> None:
        for number, event in enumerate(self._events):
            if event is not None:
                event.cancel()
                self._events[number] = None

    # ------------------------------------------------------------ registers
    def read(self, offset: int) -> int:
        """One byte of the register block."""
        number, register = divmod(offset, CHANNEL_STRIDE)
        state = self.state
        if register == COMMAND_OFFSET:
            return state.command[number]
        if register == STATUS_OFFSET:
            return state.status[number]
        if register >= TABLE_OFFSET:
            return (state.table[number] >> (8 * (register - TABLE_OFFSET))) & 0xFF
        return 0

    def write(self, offset: int, value: int) -> None:
        number, register = divmod(offset, CHANNEL_STRIDE)
        state = self.state
        if register == COMMAND_OFFSET:
            self._write_command(number, value & (COMMAND_START | COMMAND_TO_MEMORY))
        elif register == STATUS_OFFSET:
            status = state.status[number]
            status = (status & ~STATUS_WRITABLE) | (value & STATUS_WRITABLE)
            state.status[number] = status & ~(value & STATUS_WRITE_ONE_TO_CLEAR)
        elif register >= TABLE_OFFSET:
            shift = 8 * (register - TABLE_OFFSET)
            table = (state.table[number] & ~(0xFF << shift)) | (value << shift)
            state.table[number] = table & 0xFFFFFFFC

    def _write_command(self, number: int, value: int) -> None:
        state = self.state
        started = value & COMMAND_START and not state.command[number] & COMMAND_START
        stopped = state.command[number] & COMMAND_START and not value & COMMAND_START
        state.command[number] = value
        if started:
            state.status[number] |= STATUS_ACTIVE
            self.try_start(number)
        elif stopped:
            # Stop aborts a transfer under way; the device keeps waiting with DRQ.
            state.status[number] &= ~STATUS_ACTIVE
            state.deadline[number] = 0
            event = self._events[number]
            if event is not None:
                event.cancel()
                self._events[number] = None

    # ------------------------------------------------------------ from the channels
    def device_ready(self, channel: Any) -> None:
        """A device of `channel` has a DMA command waiting for the bus master."""
        self.try_start(self.channels.index(channel))

    def interrupt_raised(self, channel: Any) -> None:
        """The channel's IRQ line went high."""
        self.state.status[self.channels.index(channel)] |= STATUS_INTERRUPT

    def try_start(self, number: int) -> None:
        """Schedule the channel's transfer if everything it needs is there."""
        state = self.state
        channel = self.channels[number]
        if (channel is None or state.deadline[number] or not state.command[number] & COMMAND_START
                or not state.status[number] & STATUS_ACTIVE or channel.dma_device() is None):
            return
        if not self.may_master():
            if not self._warned:
                self._warned = True
                log.warning("IDE DMA waits: the controller's PCI command register has Bus "
                            "Master (bit 2) clear")
            return
        state.deadline[number] = self.clock.now() + TRANSFER_DELAY_NS
        self._events[number] = self.clock.schedule(state.deadline[number], self._completer(number))

    def _completer(self, number: int) -> Callable[[], None]:
        return lambda: self._transfer(number)

    # ------------------------------------------------------------ the transfer
    def _transfer(self, number: int) -> None:
        state = self.state
        state.deadline[number] = 0
        self._events[number] = None
        channel = self.channels[number]
        index = channel.dma_device()
        if index is None:
            return
        wanted, unit, to_memory = channel.dma_request(index)
        regions, table_done = self._regions(number, wanted)
        size = sum(length for _, length in regions) // unit * unit
        if size:
            if to_memory:
                data = channel.dma_read(index, size)
                if data is None:                   # host I/O error: the device failed
                    state.status[number] &= ~STATUS_ACTIVE
                    return
                scatter(self.bus, regions, data)
            elif not channel.dma_write(index, gather(self.bus, regions, size)):
                state.status[number] &= ~STATUS_ACTIVE
                return
        if table_done or size < wanted:
            state.status[number] &= ~STATUS_ACTIVE
        channel.dma_end(index)

    def _regions(self, number: int, wanted: int) -> Tuple[List[Tuple[int, int]], bool]:
        """The PRD table's regions, cut at `wanted` bytes, and whether the table
        ends exactly there (its last entry used up)."""
        regions: List[Tuple[int, int]] = []
        total = 0
        address = self.state.table[number]
        for _ in range(MAX_PRDS):
            base = self.bus.read(address, 4) & 0xFFFFFFFE
            control = self.bus.read(address + 4, 4)
            length = control & 0xFFFE or 0x10000
            last = bool(control & PRD_END_OF_TABLE)
            take = min(length, wanted - total)
            regions.append((base, take))
            total += take
            if total >= wanted:
                return regions, last and take == length
            if last:
                return regions, True
            address += PRD_SIZE
        return regions, True


def scatter(bus: Any, regions: List[Tuple[int, int]], data: bytes) -> None:
    """Write `data` into the regions in order (what does not fit is dropped)."""
    done = 0
    for base, length in regions:
        if done >= len(data):
            return
        bus.write_bytes(base, data[done:done + length])
        done += length


def gather(bus: Any, regions: List[Tuple[int, int]], size: int) -> bytes:
    """The first `size` bytes of the regions."""
    parts = []
    left = size
    for base, length in regions:
        if left <= 0:
            break
        take = min(length, left)
        parts.append(bus.read_bytes(base, take))
        left -= take
    return b"".join(parts)
