"""Snapshots checked by behaviour: a machine restored from a snapshot must do what
the machine that was never stopped does.

For each device guest (tests/guests/devices/), run A boots it on pc.yaml and takes
snapshots at chosen instruction counts N; each is restored into a fresh machine B,
which runs to the same end M.  Compared from N on: everything the guest can
observe - every port read with its value, every port write, IRQ line edges,
interrupts delivered, each with its instruction count and virtual time - and at M
the whole machine state and the clock's pending events.  A component's own digest
agreeing is not enough: a restore that forgets to re-arm a timer keeps its fields
right and goes silent (the mutation "UART restore forgets the receive timeout" is
caught here, docs/testing.md).

The N are spread over the run and include the moments the device is busy: bytes
waiting in the UART's receive FIFO with the character timeout pending, a
periodic RTC interrupt or an ATA command in flight, the PIT counting, the printer
on LPT1 between a strobe and its acknowledge with IRQ7 up.
"""

from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import trio

from conftest import guest_path
from pcmachine import hookimpl
from pcmachine.machine import Machine

PROFILE = "pc.yaml"
FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
LIMIT = 3_000_000
#: a restored run may go this far past the end of the uninterrupted one (a restored
#: machine that waits for an event it lost runs into the limit instead of hanging)
MARGIN = 1000
MARGIN_NS = 1_000_000_000
FLOPPY = 1474560


class GuestView:
    """What a guest can observe, stamped with instruction count and virtual time."""

    def __init__(self) -> None:
        self.events: List[Tuple[Any, ...]] = []

    def _add(self, machine: Any, *event: Any) -> None:
        self.events.append((machine.clock.icount, machine.clock.now()) + event)

    @hookimpl
    def io_read(self, machine: Any, port: int, size: int, value: int) -> None:
        self._add(machine, "in", port, size, value)

    @hookimpl
    def io_write(self, machine: Any, port: int, size: int, value: int) -> None:
        self._add(machine, "out", port, size, value)

    @hookimpl
    def irq_raised(self, machine: Any, line: int) -> None:
        self._add(machine, "irq+", line)

    @hookimpl
    def irq_lowered(self, machine: Any, line: int) -> None:
        self._add(machine, "irq-", line)

    @hookimpl
    def interrupt(self, machine: Any, vector: int, kind: str, cs: int, eip: int) -> None:
        self._add(machine, "int", vector, kind, cs, eip)


def pending_events(machine: Machine) -> List[Tuple[int, str]]:
    """The clock's queue as (deadline, component.method)."""
    return sorted((event.deadline, f"{getattr(event.callback.__self__, 'name', '?')}."
                                   f"{event.callback.__name__}")
                  for event in machine.clock._queue if not event.cancelled)


def component(machine: Machine, kind: str) -> Any:
    return next(c for c in machine.components.values() if type(c).__name__ == kind)


class Guest:
    """A guest image with its media, and what makes a moment worth a snapshot."""

    def __init__(self, name: str, busy: Callable[[Machine], bool], disk: bool = False) -> None:
        self.name, self.busy, self.disk = name, busy, disk

    def media(self, folder: Any) -> Dict[str, str]:
        with open(guest_path("devices", self.name + ".bin"), "rb") as handle:
            boot = handle.read()
        floppy = folder / (self.name + ".img")
        floppy.write_bytes(boot.ljust(FLOPPY, b"\0"))
        media = {"fda": str(floppy)}
        if self.disk:
            disk = folder / "hd.img"
            if not disk.exists():
                disk.write_bytes(bytes((i * 7) & 0xFF for i in range(512)) * 2048)
            media["hda"] = str(disk)
        return media

    def machine(self, folder: Any, view: Optional[GuestView] = None) -> Machine:
        setup = None if view is None else (lambda machine: machine.add_plugin(view))
        return Machine.from_profile(PROFILE, [FIXED_RTC], self.media(folder), setup=setup)


def uart_timeout_pending(machine: Machine) -> bool:
    state = component(machine, "UART16550").state
    return state.timeout_ns >= 0


def rtc_periodic_pending(machine: Machine) -> bool:
    """The RTC's periodic interrupt is scheduled (the UART sends without delay by
    default: uart.tx_timing instant)."""
    return any(name.startswith("cmos") for _, name in pending_events(machine))


def ata_busy(machine: Machine) -> bool:
    return any(name.startswith("ide") or "ata" in name for _, name in pending_events(machine))


def printer_busy(machine: Machine) -> bool:
    """LPT1's printer is between a strobe and the end of its acknowledge, or its
    interrupt request is up."""
    state = component(machine, "ParallelPort").state
    return not state.status & 0x80 or state.irq_pending


def pit_counting(machine: Machine) -> bool:
    return any(name.startswith("pit") for _, name in pending_events(machine))


GUESTS = {
    "uartrx": Guest("uartrx", uart_timeout_pending),
    "rtcserial": Guest("rtcserial", rtc_periodic_pending),
    "timer": Guest("timer", pit_counting),
    "atadisk": Guest("atadisk", ata_busy, disk=True),
    "parallel": Guest("parallel", printer_busy),
}
#: snapshots per guest in the default run (each costs a machine build and the rest of
#: the run; timer.asm runs 102 PIT ticks: slow only); `-m slow` takes 12 of each
SNAPSHOTS = {"uartrx": 4, "rtcserial": 1, "atadisk": 2, "parallel": 4}


#: the probe run looks whether the device is busy at every instruction count up to
#: PROBE_DENSE (short guests are busy for a few instructions, in HLT), then every PROBE_STEP
PROBE_DENSE, PROBE_STEP = 2000, 97


def choose_points(guest: Guest, folder: Any, count: int) -> Tuple[List[int], int]:
    """Instruction counts to snapshot at: half where the device is busy, half spread
    evenly over the run; and the count where the run ends (one probe run)."""
    probe = guest.machine(folder)
    busy: List[int] = []
    try:
        for n in list(range(1, PROBE_DENSE)) + list(range(PROBE_DENSE, LIMIT, PROBE_STEP)):
            probe.at_icount(n, lambda n=n: busy.append(n) if guest.busy(probe) else None)
        probe.run_headless(LIMIT)
        end = probe.clock.icount
    finally:
        probe.close()
    assert busy, f"{guest.name}: the device was never busy at a probe point"
    # The last busy point of each stretch: the device is left to itself from there
    # (the guest has, say, sent its burst and is about to wait in HLT).
    busy = [n for n in busy if n + 1 not in busy] if len(busy) > 1 else busy
    half = max(1, count // 2)
    picked = [busy[i * len(busy) // half] for i in range(half)]
    picked += [end * (i + 1) // (count - half + 1) for i in range(count - half)]
    return sorted(set(picked)), end


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_a_restored_machine_behaves_as_the_one_never_stopped(tmp_path: Any, name: str) -> None:
    check_snapshots(tmp_path, GUESTS[name], SNAPSHOTS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GUESTS))
def test_many_restored_machines_behave_as_the_one_never_stopped(tmp_path: Any, name: str) -> None:
    check_snapshots(tmp_path, GUESTS[name], 12)


def check_snapshots(tmp_path: Any, guest: Guest, count: int) -> None:
    name = guest.name
    points, end = choose_points(guest, tmp_path, count)
    view = GuestView()
    whole = guest.machine(tmp_path, view)
    taken: Dict[int, Tuple[Dict[str, Any], int, bool]] = {}

    def take(n: int) -> None:
        taken[n] = (whole.snapshot(), len(view.events), guest.busy(whole))
    try:
        for n in points:
            whole.at_icount(n, lambda n=n: take(n))
        reason = whole.run_headless(LIMIT)
        final, final_pending = whole.snapshot(), pending_events(whole)
        final_time = whole.clock.now()
    finally:
        whole.close()
    assert whole.clock.icount == end and sorted(taken) == points
    assert any(busy for _, _, busy in taken.values()), "no snapshot caught the device busy"
    for n, (state, seen, _) in sorted(taken.items()):
        resumed_view = GuestView()
        resumed = guest.machine(tmp_path, resumed_view)
        try:
            resumed.restore(state)
            resumed_view.events.clear()         # what building the machine did before
            late = final_time + MARGIN_NS        # nor wait in HLT for ever

            def too_late(machine: Machine = resumed) -> Optional[str]:
                return "time-limit" if machine.clock.now() > late else None
            resumed_reason = trio.run(resumed.run, end + MARGIN, too_late)
            resumed_final, resumed_pending = resumed.snapshot(), pending_events(resumed)
        finally:
            resumed.close()
        after = view.events[seen:]
        first = next((i for i, (a, b) in enumerate(zip(after, resumed_view.events)) if a != b),
                     min(len(after), len(resumed_view.events)))
        assert resumed_view.events == after, (
            f"{name}: restored at {n}, the guest sees something else from event {first}: "
            f"{after[first:first + 3]} != {resumed_view.events[first:first + 3]}")
        assert resumed_reason == reason
        assert resumed_pending == final_pending, f"{name}: restored at {n}: pending events differ"
        assert resumed_final == final, f"{name}: restored at {n}: the state at the end differs"
