"""Virtual time and the event queue.

Virtual time is a pure function of the machine's inputs: it is derived from the
count of executed instructions (`icount` mode), `ips` instructions per virtual
second, plus the time skipped while the CPU waited in HLT.  Devices never read host
time; they schedule a callback at a virtual deadline and work out their state from
`now()` when a guest reads them.

The CPU runs until `stop_icount`; scheduling an event earlier than that lowers it,
so a device that schedules a near event during an I/O instruction is served on
time (the CPU re-reads `stop_icount` after every slow-path access).

Events are (deadline, sequence, callback).  The queue itself is not saved: each
component saves its next deadlines as plain data and schedules them again when it
is restored (as QEMU's `pit_post_load` does).
"""

import heapq
from typing import Any, Callable, Dict, List, Optional

NS_PER_SECOND = 1_000_000_000
FAR_FUTURE = 1 << 62


class Event:
    """A scheduled callback; `cancel()` it to drop it from the queue."""

    __slots__ = ("deadline", "seq", "callback", "cancelled")

    def __init__(self, deadline: int, seq: int, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: "Event") -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """Instruction count, virtual nanoseconds, and the heap of pending events."""

    def __init__(self, ips: int = 20_000_000) -> None:
        if ips <= 0:
            raise ValueError("ips must be positive")
        self.ips = ips
        self.icount = 0
        self.offset_ns = 0          # virtual time skipped in HLT (and restored runs)
        self.stop_icount = FAR_FUTURE
        self._queue: List[Event] = []
        self._seq = 0

    # -------------------------------------------------------------- time
    def now(self) -> int:
        """Current virtual time in nanoseconds."""
        return self.offset_ns + self.icount * NS_PER_SECOND // self.ips

    def icount_at(self, time_ns: int) -> int:
        """The first instruction count at which `now()` >= time_ns."""
        delta = time_ns - self.offset_ns
        if delta <= 0:
            return 0
        return -(-delta * self.ips // NS_PER_SECOND)

    def skip_to(self, time_ns: int) -> None:
        """Let virtual time pass without instructions (HLT with interrupts enabled)."""
        now = self.now()
        if time_ns > now:
            self.offset_ns += time_ns - now

    def skip_within(self, delay_ns: int) -> None:
        """In the middle of a CPU batch, let up to `delay_ns` of virtual time pass
        without instructions, never beyond the next event: reaching it ends the
        batch (the event then fires before the next block), else the batch's stop
        moves earlier with the event's instruction count."""
        now = self.now()
        deadline = self.next_deadline()
        target = now + delay_ns
        if deadline is not None and deadline <= target:
            target = max(deadline, now)
            self.stop_icount = self.icount
        self.offset_ns += target - now
        if deadline is not None and target < deadline:
            self.stop_icount = min(self.stop_icount, max(self.icount_at(deadline), self.icount))

    def ticks_since(self, offset_ns: int) -> int:
        """Instruction-rate ticks (the TSC's) in the virtual time skipped since
        `offset_ns` was the skipped total: whole ticks of the totals, so the
        rounding of many small skips never adds up."""
        return (self.offset_ns * self.ips // NS_PER_SECOND
                - offset_ns * self.ips // NS_PER_SECOND)

    # -------------------------------------------------------------- events
    def schedule(self, deadline_ns: int, callback: Callable[[], None]) -> Event:
        """Call `callback()` once virtual time reaches `deadline_ns`."""
        self._seq += 1
        event = Event(deadline_ns, self._seq, callback)
        heapq.heappush(self._queue, event)
        stop = self.icount_at(deadline_ns)
        if stop < self.stop_icount:
            self.stop_icount = max(stop, self.icount)
        return event

    def schedule_in(self, delay_ns: int, callback: Callable[[], None]) -> Event:
        return self.schedule(self.now() + delay_ns, callback)

    def next_deadline(self) -> Optional[int]:
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0].deadline if self._queue else None

    def run_due(self) -> int:
        """Fire every event whose deadline has passed, in deadline order."""
        fired = 0
        now = self.now()
        while self._queue:
            event = self._queue[0]
            if event.cancelled:
                heapq.heappop(self._queue)
                continue
            if event.deadline > now:
                break
            heapq.heappop(self._queue)
            event.cancelled = True
            event.callback()
            fired += 1
        return fired

    def plan_stop(self, limit_icount: int) -> int:
        """Set `stop_icount` for the next CPU batch: the earlier of the next event
        and `limit_icount`; returns it."""
        deadline = self.next_deadline()
        stop = limit_icount
        if deadline is not None:
            stop = min(stop, max(self.icount_at(deadline), self.icount))
        self.stop_icount = stop
        return stop

    # -------------------------------------------------------------- save/restore
    def snapshot(self) -> Dict[str, Any]:
        """Time only: each component saves its own next-event deadlines and schedules
        them again in its `restore()`, so it keeps the handles it may cancel.  (Events
        with equal deadlines then fire in component order after a restore.)"""
        return {"version": 1, "ips": self.ips, "icount": self.icount, "offset_ns": self.offset_ns}

    def restore(self, state: Dict[str, Any]) -> None:
        """Load time and empty the queue; components re-schedule afterwards."""
        self.ips = state["ips"]
        self.icount = state["icount"]
        self.offset_ns = state["offset_ns"]
        self._queue = []
        self.stop_icount = FAR_FUTURE
