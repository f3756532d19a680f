"""Several processors on one bus: they take turns in fixed instruction quanta.

One host thread runs every processor.  The machine's instruction count is shared:
processor k runs from the current count up to the next multiple of `QUANTUM` (or
until it halts, or sends another processor an IPI), then the next one takes over.
Where the turns change is therefore a function of the instruction count and the
guest's own instructions, not of where a slice of the run loop happened to end,
so a run, its recording's replay and a run restored from a snapshot interleave
the processors identically.  An instruction never
straddles a turn, so LOCKed and XCHG read-modify-writes are atomic.

A PAUSE (the hint of a spin-wait loop) ends its processor's turn, and the next
processor then has a short turn (`SPIN_QUANTUM`): a spinner does not burn a whole
quantum while the lock's holder waits for its turn, nor miss the moments the
holder's lock is free (a kernel that drops and retakes a test-and-set lock within
one quantum starved the others: JOS with two CPUs ran 50 times slower).

Virtual time follows the shared count (as QEMU's icount mode with one TCG
thread): with two busy processors each one advances at half the profile's `ips`.
"""

from typing import Any, List

#: instructions a processor runs before the next one takes its turn
QUANTUM = 10_000
#: the turn of a processor after another one's PAUSE ends at the next multiple of
#: this: the spinner looks at its lock again soon, as a real one polls it all the
#: time, instead of after a whole quantum of the holder (which may have dropped
#: and retaken the lock meanwhile)
SPIN_QUANTUM = 500


class Processors:
    """The processors of a machine and whose turn it is."""

    def __init__(self) -> None:
        self.cpus: List[Any] = []
        self.turn = 0
        self._yielded = False
        #: the current turn began at another processor's PAUSE (a short turn)
        self.spin_turn = False
        self._paused = False

    def add(self, cpu: Any) -> None:
        self.cpus.append(cpu)

    @property
    def current(self) -> Any:
        return self.cpus[self.turn]

    def yield_turn(self, clock: Any, cpu: Any) -> None:
        """The running processor `cpu` is sending an interrupt to another one (an
        IPI; called before it is delivered): end its turn right after this
        instruction, so that the other one answers now rather than after the sender
        has spun out its quantum waiting for the answer (Linux waits so for every
        cross-CPU call).  The sender's instruction decides it, and inside a block
        the instruction first restarts alone (`run_access_alone`), so the turn ends
        at the same count whether the processor runs blocks or single-steps (an
        `instruction` hook during a replay): runs and replays agree."""
        if len(self.cpus) > 1:
            cpu.run_access_alone()
            self._yielded = True
            clock.stop_icount = clock.icount

    def end_turn(self, clock: Any) -> None:
        """The running processor executed PAUSE (the instruction ends its block):
        the next processor takes its turn after it, when one can run (a delay
        loop of PAUSEs while the others sleep in HLT keeps its turn)."""
        current = self.cpus[self.turn]
        if any(cpu is not current and cpu.runnable() for cpu in self.cpus):
            self._yielded = self._paused = True
            clock.stop_icount = clock.icount

    def all_halted(self) -> bool:
        return all(cpu.halted for cpu in self.cpus)

    def run(self, machine: Any, limit: int) -> None:
        """Run the processors in turn until the instruction count reaches `limit`,
        the machine is asked to stop or reset, or every processor is halted with
        no interrupt to wake one.  Due clock events fire between turns and
        whenever a device ended a batch early, exactly where they fire with one
        processor."""
        clock = machine.clock
        cpus = self.cpus
        while clock.icount < limit and not machine.stop_pending():
            cpu = cpus[self.turn]
            machine.cpu = cpu
            quantum_end = (clock.icount // QUANTUM + 1) * QUANTUM
            if self.spin_turn:
                quantum_end = min(quantum_end, (clock.icount // SPIN_QUANTUM + 1) * SPIN_QUANTUM)
            clock.plan_stop(min(limit, quantum_end))
            cpu.stop_requested = False
            self._yielded = self._paused = False
            cpu.run()
            if cpu.halted or clock.icount >= quantum_end or self._yielded:
                self.turn = (self.turn + 1) % len(cpus)
                self.spin_turn = self._paused
            clock.run_due()
            if not any(cpu.runnable() for cpu in cpus):
                return

    def reset(self) -> None:
        self.turn = 0
        self.spin_turn = False
