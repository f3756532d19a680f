"""Execution control for the monitor and the gdb stub: stop the machine, step it,
continue to breakpoints and watchpoints, and go backwards.

The machine's run loop hands every stop reason to `Debugger.stopped()`, which holds
the run (awaiting commands from its front end) until it is told to go on.  Nothing
here costs the guest anything while no breakpoint is set, and none of them steps
the CPU: address breakpoints are checked by the decoded instructions at their page
offsets (`CPU.set_address_breaks`), event breakpoints hook only the events asked
for, and watchpoints make only their own physical pages take the bus's slow path,
where a hit sends the accessing instruction back to run alone so that the stop
lands right after it (`CPU.run_access_alone`).

Going backwards rests on determinism: the debugger keeps a snapshot every
`interval` instructions (by default 10,000,000, or more where a snapshot would
cost over HISTORY_SHARE of the host time since the last: a 16 MiB machine's takes
some 10-20 ms, and PyPy runs 10,000,000 instructions in 60 ms; RAM is copied in
pieces shared with the previous copy, `RamCopies`) and a log of the host inputs;
to reach instruction count
N it restores the last snapshot before N and re-executes, inputs re-applied at
their recorded counts, to exactly N, with the disk images put back to what they
held at that snapshot (`SectorJournal`).  `reverse_continue` searches the
intervals from the newest back for the last breakpoint or watchpoint hit.
"""

import gc
import platform
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

from pcmachine.hookspecs import hookimpl

from .inspect import translate
from .ramcopies import RamCopies
from .sectorjournal import SectorJournal

#: stop reasons that end the run rather than pause it
FINAL_REASONS = ("quit", "killed", "terminated", "interrupted")
SNAPSHOT_INTERVAL = 10_000_000
#: with the default interval, the share of host time snapshots may take
HISTORY_SHARE = 0.03
MAX_SNAPSHOTS = 64
#: bound on the RAM kept for going backwards (pieces shared between copies count
#: once: `RamCopies`), kept to as long as more than MIN_SNAPSHOTS remain
SNAPSHOT_MEMORY = 1 << 30
MIN_SNAPSHOTS = 4
#: collect the garbage when a snapshot is dropped (PyPy; CPython frees it at once)
COLLECT_DROPPED = platform.python_implementation() == "PyPy"


class InstructionBreaker:
    """The per-instruction hook, registered only while watchpoints exist or a step
    runs an interrupt handler through (address breakpoints are checked by the
    CPU's decoded code: `CPU.set_address_breaks`)."""

    def __init__(self, debugger: "Debugger") -> None:
        self.debugger = debugger

    @hookimpl
    def instruction(self, machine: Any, cs: int, eip: int, linear: int, cpu: Any) -> None:
        if self.debugger.interrupted_at is not None:
            self.debugger.check_return(cpu, cs, eip)


class InterruptStepper:
    """Registered only during a step with `step_interrupts == "over"`: notes the
    return point of a hardware interrupt (or NMI) taken before the stepped
    instruction, so the step runs the handler through to its return."""

    def __init__(self, debugger: "Debugger") -> None:
        self.debugger = debugger

    @hookimpl
    def interrupt(self, machine: Any, vector: int, kind: str, cs: int, eip: int) -> None:
        debugger = self.debugger
        if kind in ("hardware", "nmi") and debugger.interrupted_at is None \
                and debugger.recording_hits is None:
            cpu = machine.cpu
            debugger.interrupted_at = (cs, eip, cpu.get_reg("ss"), cpu.get_reg("esp"))


class EventBreaker:
    """Hooks for `break int N`, `break exc N`, `break mode`, `break io PORT`."""

    def __init__(self, debugger: "Debugger") -> None:
        self.debugger = debugger

    @hookimpl
    def interrupt(self, machine: Any, vector: int, kind: str, cs: int, eip: int) -> None:
        if vector in self.debugger.int_breaks and kind != "exception":
            self.debugger.hit(f"int {vector:#x} ({kind})")

    @hookimpl
    def cpu_exception(self, machine: Any, vector: int, error_code: Optional[int], cs: int, eip: int) -> None:
        if vector in self.debugger.exception_breaks:
            code = "" if error_code is None else f" error code {error_code:#x}"
            self.debugger.hit(f"exception {vector}{code} at {cs:04x}:{eip:08x}")

    @hookimpl
    def cpu_mode_change(self, machine: Any, what: str, old: int, new: int) -> None:
        if self.debugger.linear_watches:
            self.debugger._resolve_watches()
        if self.debugger.mode_break:
            self.debugger.hit(f"mode change: {what} {old} -> {new}")

    @hookimpl
    def io_read(self, machine: Any, port: int, size: int, value: int) -> None:
        if port in self.debugger.io_breaks:
            self.debugger.hit(f"in from port {port:#x} = {value:#x}")

    @hookimpl
    def io_write(self, machine: Any, port: int, size: int, value: int) -> None:
        if port in self.debugger.io_breaks:
            self.debugger.hit(f"out to port {port:#x} = {value:#x}")


class MagicBreaker:
    """Registered only while `break magic` is set: the CPU then decodes Bochs' magic
    breakpoint, `xchg bx, bx`, and the machine stops after it."""

    def __init__(self, debugger: "Debugger") -> None:
        self.debugger = debugger

    @hookimpl
    def magic_breakpoint(self, machine: Any, cs: int, eip: int) -> None:
        self.debugger.hit(f"magic breakpoint (xchg bx, bx); next {cs:04x}:{eip:08x}")


class InputLog:
    """Host inputs with their instruction counts, to re-apply them when re-executing.
    After a rewind the logged future is scheduled again; as each entry comes back it
    is recognised and not logged twice."""

    def __init__(self) -> None:
        self.inputs: List[Tuple[int, int, str, Any]] = []
        self.pending: List[Tuple[int, int, str, Any]] = []

    def rewind(self, start: int) -> List[Tuple[int, int, str, Any]]:
        """The inputs from instruction `start` on, expected to come back in order."""
        self.pending = [entry for entry in self.inputs if entry[0] >= start]
        return list(self.pending)

    @hookimpl
    def machine_input(self, machine: Any, kind: str, data: Any, icount: int, time_ns: int) -> None:
        entry = (icount, time_ns, kind, data)
        if self.pending and self.pending[0] == entry:
            self.pending.pop(0)
            return
        self.inputs.append(entry)


class Debugger:
    """Breakpoints, watchpoints, stepping and reverse execution for one machine."""

    def __init__(self, machine: Any, history: bool = True, interval: Optional[int] = None) -> None:
        self.machine = machine
        self.breakpoints: Set[int] = set()           # linear addresses
        self.physical_breakpoints: Set[int] = set()
        self.int_breaks: Set[int] = set()
        self.exception_breaks: Set[int] = set()
        self.io_breaks: Set[int] = set()
        self.mode_break = False
        self.magic_break = False
        #: (linear, length) -> r|w|a, as set; resolved to physical bytes in `watchpoints`
        self.linear_watches: Dict[Tuple[int, int], str] = {}
        self.watchpoints: Dict[int, Tuple[str, int]] = {}    # physical byte -> (kind, linear)
        self.stop_message = ""
        self.last_hit: Optional[Dict[str, Any]] = None
        self.recording_hits: Optional[List[Tuple[int, str, Dict[str, Any]]]] = None
        self._resume_icount: Optional[int] = None      # do not stop again before this insn
        #: "into": a step may stop inside an interrupt handler (gdb's and Bochs's
        #: default); "over": a hardware interrupt taken on the way runs to its return
        self.step_interrupts = "into"
        #: (cs, eip, ss, esp) a stepped-over interrupt returns to
        self.interrupted_at: Optional[Tuple[int, int, int, int]] = None
        self._interrupt_stepper: Optional[InterruptStepper] = None
        self._steps_left = 0
        self._instruction_breaker: Optional[InstructionBreaker] = None
        self._event_breaker: Optional[EventBreaker] = None
        self._magic_breaker: Optional[MagicBreaker] = None
        self.interval = SNAPSHOT_INTERVAL if interval is None else interval
        self.adaptive = interval is None
        self._last_snapshot: Optional[Tuple[int, float]] = None     # (icount, host time after it)
        self.snapshots: List[Tuple[int, Dict[str, Any]]] = []
        self.sector_journal = SectorJournal(machine)
        self._journal_marks: Dict[int, int] = {}      # snapshot icount -> journal length
        self.input_log = InputLog()
        self.command_handler: Optional[Callable[[str], Awaitable[Optional[str]]]] = None
        self.on_triple_fault = ""
        self.ram_copies = RamCopies()
        machine.add_plugin(self.input_log, name="debugger-inputs")
        machine.add_plugin(self.sector_journal, name="debugger-sectors")
        machine.add_plugin(self, name="debugger")
        machine.debugger = self
        if history:
            self._snapshot_now()

    # ------------------------------------------------------------------ breakpoints
    def _sync_hooks(self) -> None:
        """Register exactly the hook objects the current breakpoints need."""
        offsets = frozenset(address & 0xFFF for address in self.breakpoints | self.physical_breakpoints)
        for cpu in self.machine.all_cpus():
            if cpu.break_offsets != offsets:
                cpu.set_address_breaks(offsets, self.check_address if offsets else None)
        want_insn = self.interrupted_at is not None
        if want_insn and self._instruction_breaker is None:
            self._instruction_breaker = InstructionBreaker(self)
            self.machine.add_plugin(self._instruction_breaker, name="debugger-insn")
        elif not want_insn and self._instruction_breaker is not None:
            self.machine.remove_plugin(self._instruction_breaker)
            self._instruction_breaker = None
        want_events = bool(self.int_breaks or self.exception_breaks or self.io_breaks or self.mode_break
                           or self.linear_watches)
        if want_events and self._event_breaker is None:
            self._event_breaker = EventBreaker(self)
            self.machine.add_plugin(self._event_breaker, name="debugger-events")
        elif not want_events and self._event_breaker is not None:
            self.machine.remove_plugin(self._event_breaker)
            self._event_breaker = None
        if self.magic_break and self._magic_breaker is None:
            self._magic_breaker = MagicBreaker(self)
            self.machine.add_plugin(self._magic_breaker, name="debugger-magic")
        elif not self.magic_break and self._magic_breaker is not None:
            self.machine.remove_plugin(self._magic_breaker)
            self._magic_breaker = None

    def add_breakpoint(self, address: int, physical: bool = False) -> None:
        (self.physical_breakpoints if physical else self.breakpoints).add(address)
        self._sync_hooks()

    def remove_breakpoint(self, address: int, physical: bool = False) -> bool:
        found = address in (self.physical_breakpoints if physical else self.breakpoints)
        (self.physical_breakpoints if physical else self.breakpoints).discard(address)
        self._sync_hooks()
        return found

    def add_event_break(self, kind: str, value: Optional[int] = None) -> None:
        if kind == "int":
            self.int_breaks.add(value)
        elif kind == "exc":
            self.exception_breaks.add(value)
        elif kind == "io":
            self.io_breaks.add(value)
        elif kind == "mode":
            self.mode_break = True
        elif kind == "magic":
            self.magic_break = True
        self._sync_hooks()

    def clear_all(self) -> None:
        self.breakpoints.clear()
        self.physical_breakpoints.clear()
        self.int_breaks.clear()
        self.exception_breaks.clear()
        self.io_breaks.clear()
        self.mode_break = False
        self.magic_break = False
        self.linear_watches.clear()
        self._resolve_watches()

    def add_watchpoint(self, linear: int, length: int, kind: str) -> None:
        """Watch linear bytes for reads (r), writes (w) or both (a).  The bytes are
        watched where they are mapped now, and again after every mode change and
        every stop (paging turned on, a new CR3)."""
        self.linear_watches[(linear, length)] = kind
        self._resolve_watches()

    def remove_watchpoint(self, linear: int, length: int) -> bool:
        found = self.linear_watches.pop((linear, length), None) is not None
        self._resolve_watches()
        return found

    def _resolve_watches(self) -> None:
        """Physical bytes of each linear watchpoint; the bus watches their pages."""
        bus = self.machine.bus
        self.watchpoints = {}
        for (linear, length), kind in self.linear_watches.items():
            for offset in range(length):
                mapped = translate(self.machine, linear + offset)
                if mapped is not None and mapped[0] < bus.ram_size:
                    self.watchpoints[mapped[0]] = (kind, linear)
        pages = {address >> 12 for address in self.watchpoints}
        for page in list(bus.data_watchers):
            if page not in pages:
                bus.unwatch_data(page)
        for page in pages:
            bus.watch_data(page, self._memory_access)
        self._sync_hooks()

    def _memory_access(self, address: int, size: int, write: bool, value: int) -> None:
        """A load or store on a watched page.  A hit inside a decoded block first
        sends the accessing instruction back to run again alone
        (`CPU.run_access_alone`), so that the stop lands right after it and the
        hit is counted once, at the same count as when stepping."""
        for byte in range(address, address + size):
            watch = self.watchpoints.get(byte)
            if watch is not None and (watch[0] == "a" or (watch[0] == "w") == write):
                for cpu in self.machine.all_cpus():
                    cpu.run_access_alone()
                verb = "write" if write else "read"
                self.hit(f"watchpoint {watch[1]:#x} ({verb} of {size} byte(s) at physical {address:#x}, "
                         f"value {value:#x})", {"watch": watch[0], "address": watch[1], "write": write})
                return

    def check_address(self, linear: int) -> bool:
        """Called before an instruction at a breakpoint's page offset (the CPU
        asks: `CPU.set_address_breaks`); True when the machine stops there."""
        if linear in self.breakpoints:
            return self.hit(f"breakpoint at linear {linear:#010x}", {"breakpoint": linear})
        if self.physical_breakpoints:
            mapped = translate(self.machine, linear)
            if mapped is not None and mapped[0] in self.physical_breakpoints:
                return self.hit(f"breakpoint at physical {mapped[0]:#010x}", {"breakpoint": linear})
        return False

    def hit(self, message: str, detail: Optional[Dict[str, Any]] = None) -> bool:
        """A breakpoint or event matched: stop before the instruction (address
        breakpoints) or after the one that caused the event.  True when the
        machine is asked to stop."""
        icount = self.machine.clock.icount
        if self._resume_icount is not None and icount == self._resume_icount and detail \
                and "breakpoint" in detail:
            return False                  # the instruction we stopped at: step over it
        if self.recording_hits is not None:
            # An address breakpoint's check and the stepping loop see the count
            # before the instruction, so `icount` is where the machine stops either
            # way: before a breakpoint's instruction, after a watched access's.
            self.recording_hits.append((icount, message, detail or {}))
            return False
        self.stop_message = message
        self.last_hit = detail or {}
        self.machine.request_stop("debug")
        return True

    # ------------------------------------------------------------------ run control
    async def stopped(self, reason: str) -> Optional[str]:
        """The run loop stopped with `reason`: hold it for the front end.  Returns
        None to go on running, or the reason that ends the run."""
        if reason in FINAL_REASONS or self.command_handler is None:
            return reason
        if reason == "triple-fault" or reason.startswith("reset"):
            self.stop_message = self.stop_message or reason
        elif reason != "debug":
            self.stop_message = reason
            self.last_hit = {}
        self._resume_icount = None
        result = await self.command_handler(reason)
        self.stop_message = ""
        self._resume_icount = self.machine.clock.icount
        if self.linear_watches:
            self._resolve_watches()          # CR3 may have changed while stopped
        return result

    def step(self, count: int = 1) -> None:
        """Before resuming: stop again after `count` instructions (with
        `step_interrupts == "over"`, not counting hardware interrupt handlers)."""
        if self.step_interrupts == "over":
            if self._interrupt_stepper is None:
                self._interrupt_stepper = InterruptStepper(self)
                self.machine.add_plugin(self._interrupt_stepper, name="debugger-interrupt-step")
            self._steps_left, count = count - 1, 1
        self._schedule_step(count)

    def _schedule_step(self, count: int) -> None:
        target = self.machine.clock.icount + count
        self.machine.at_icount(target, lambda: self._step_done(target))

    def _step_done(self, target: int) -> None:
        if self.recording_hits is not None:
            return
        if self.interrupted_at is not None:
            self._sync_hooks()            # run on to the handler's return (check_return)
            return
        if self.machine.clock.icount == target and not self.stop_message:
            if self._steps_left:
                self._steps_left -= 1
                self._schedule_step(1)
                return
            if self._interrupt_stepper is not None:
                self.machine.remove_plugin(self._interrupt_stepper)
                self._interrupt_stepper = None
            self.stop_message = "step"
            self.last_hit = {"step": True}
            self.machine.request_stop("debug")

    def check_return(self, cpu: Any, cs: int, eip: int) -> None:
        """Per instruction while an interrupt is stepped over: back at the
        interrupted instruction with its stack, step that instruction."""
        if self.recording_hits is None and self.interrupted_at == \
                (cs, eip, cpu.get_reg("ss"), cpu.get_reg("esp")):
            self.interrupted_at = None
            self._sync_hooks()
            self._schedule_step(1)

    # ------------------------------------------------------------------ history
    def _snapshot_now(self) -> None:
        icount = self.machine.clock.icount
        if self.recording_hits is not None:
            return                        # re-executing: the snapshots exist already
        started = time.perf_counter()
        if not self.snapshots or icount > self.snapshots[-1][0]:
            state = self.machine.snapshot(ram_copy=False)
            state["ram"] = self.ram_copies.copy(state["ram"], self.snapshots[-1][1]["ram"] if self.snapshots
                                                else None)
            self.snapshots.append((icount, state))
            self._journal_marks[icount] = self.sector_journal.mark()
            dropped_any = False
            while len(self.snapshots) > MAX_SNAPSHOTS or (
                    self.ram_copies.held > SNAPSHOT_MEMORY and len(self.snapshots) > MIN_SNAPSHOTS):
                dropped, old = self.snapshots.pop(1)    # the first one marks where history begins
                self.ram_copies.release(old["ram"])
                del self._journal_marks[dropped]
                dropped_any = True
            if dropped_any and COLLECT_DROPPED:
                # PyPy frees the dropped RAM pieces only at its next major
                # collection, which lets the heap grow to some 1.8 times the
                # history's bound first; the collection's time counts as the
                # snapshot's (`_next_interval`).
                gc.collect()
        self.machine.at_icount(icount + self._next_interval(icount, started), self._snapshot_now)

    def _next_interval(self, icount: int, started: float) -> int:
        """Instructions to the next snapshot: the interval, stretched (default
        interval only) so that this snapshot's cost is HISTORY_SHARE of the host
        time the instructions take at the rate since the last one.  Only the
        history's granularity depends on the host: what the guest does does not."""
        now = time.perf_counter()
        interval = self.interval
        last = self._last_snapshot
        if self.adaptive and last is not None and icount > last[0] and started > last[1]:
            rate = (icount - last[0]) / (started - last[1])
            interval = max(interval, int(rate * (now - started) / HISTORY_SHARE))
        self._last_snapshot = (icount, now)
        return interval

    def history_start(self) -> int:
        return self.snapshots[0][0] if self.snapshots else self.machine.clock.icount

    def _replay(self, start: int, end: int) -> List[Tuple[int, str, Dict[str, Any]]]:
        """Restore the snapshot taken at `start`, re-execute to instruction `end`
        with the logged inputs, and return the breakpoint/watchpoint hits on the way
        (as instruction counts to stop at)."""
        machine = self.machine
        state = dict(self.snapshots)[start]
        self.sector_journal.undo_to(self._journal_marks[start])
        machine.restore(dict(state, ram=RamCopies.joined(state["ram"])))
        machine.replace_scheduled_inputs(self.input_log.rewind(start))
        self.recording_hits = []
        try:
            while machine.clock.icount < end:
                reason = machine.run_slice(end)
                if reason not in (None, "instruction-limit", "debug"):
                    break
            return self.recording_hits
        finally:
            self.recording_hits = None

    def _snapshot_before(self, target: int) -> int:
        return max(icount for icount, _ in self.snapshots if icount <= target)

    def reverse_step(self, count: int = 1) -> bool:
        """Go back `count` instructions; False (at the start of history) when the
        history does not reach that far."""
        now = self.machine.clock.icount
        target = max(self.history_start(), now - count)
        self._replay(self._snapshot_before(target), target)
        self.stop_message, self.last_hit = "reverse step", {"step": True}
        return target == now - count

    def reverse_continue(self) -> bool:
        """Go back to the last breakpoint/watchpoint hit before now; False (and the
        start of history) when there is none."""
        now = self.machine.clock.icount
        starts = sorted(icount for icount, _ in self.snapshots if icount < now)
        for index in range(len(starts) - 1, -1, -1):
            end = starts[index + 1] if index + 1 < len(starts) else now
            hits = [hit for hit in self._replay(starts[index], end) if hit[0] < now]
            if hits:
                stop_at, message, detail = max(hits, key=lambda hit: hit[0])
                self._replay(self._snapshot_before(stop_at), stop_at)
                self.stop_message, self.last_hit = message, detail
                return True
        start = self.history_start()
        self._replay(start, start)
        self.stop_message, self.last_hit = "start of history", {"history_start": True}
        return False

    # ------------------------------------------------------------------ faults
    @hookimpl
    def triple_fault(self, machine: Any, report: str) -> None:
        """With a debugger attached, a triple fault stops here instead of resetting."""
        self.stop_message = "triple fault:\n" + report
        self.last_hit = {"triple_fault": True}
