"""The machine's run loop: realtime pacing for interactive runs (idle time waits
for the host, busy time never does).

The pacing tests replace the host's clock and trio's sleep with a fake host whose
time moves only when the machine sleeps (an infinitely fast host) or by a fixed
step per clock read (a slow, busy host), so they do not depend on the test
machine's speed."""

from typing import List, Tuple

import pytest
import trio

import pcmachine.machine as machine_module
from pcmachine import Machine
from pcmachine.machine import RealtimePacer
from pcmachine.plugins.ram import RAM


class FakeHost:
    """A host clock for `pcmachine.machine.time` and a recorder for `trio.sleep`."""

    def __init__(self, machine: Machine, step: float = 0.0) -> None:
        self.machine = machine
        self.step = step                 # host seconds each clock read costs
        self.now = 100.0
        self.sleeps: List[Tuple[float, float, float]] = []   # (seconds, virtual, host after)
        self.real_sleep = trio.sleep

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps.append((seconds, self.machine.clock.now() / 1e9, self.now))
        await self.real_sleep(0)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(machine_module, "time", self)
        monkeypatch.setattr(trio, "sleep", self.sleep)


def bare_machine() -> Machine:
    machine = Machine.bare(ips=1_000_000)
    machine.add_component(RAM, "ram", {"size": "1M"})
    return machine


def test_unpaced_run_never_sleeps_for_host_time(monkeypatch):
    machine = bare_machine()
    host = FakeHost(machine)
    host.install(monkeypatch)
    assert machine.run_headless(1_000_000) == "instruction-limit"   # a virtual second
    assert machine.clock.now() >= 10 ** 9
    assert all(seconds == 0 for seconds, _, _ in host.sleeps)
    assert host.now == 100.0


class TickingGuest:
    """A stand-in CPU: after each timer tick it runs `busy` instructions, then waits
    in HLT for the next tick (as an idle kernel does)."""

    def __init__(self, machine: Machine, busy: int, tick_ns: int = 10_000_000) -> None:
        self.clock = machine.clock
        self.busy = busy
        self.tick_ns = tick_ns
        self.remaining = busy
        self.halted = False
        self.check_irq = False
        self.stop_requested = False
        self.clock.schedule_in(tick_ns, self.tick)

    def tick(self) -> None:
        self.halted = False
        self.remaining = self.busy
        self.clock.schedule_in(self.tick_ns, self.tick)

    def can_wake(self) -> bool:
        return True

    def run(self) -> None:
        ran = min(self.remaining, self.clock.stop_icount - self.clock.icount)
        self.clock.icount += ran
        self.remaining -= ran
        self.halted = self.remaining == 0


def idle_seconds(machine: Machine) -> float:
    return machine.clock.offset_ns / 1e9


def test_paced_run_waits_out_the_guests_idle_time(monkeypatch):
    machine = bare_machine()                         # ips 1M: 1,000 instructions are 1 ms
    machine.cpu = TickingGuest(machine, busy=1_000)  # 1 ms busy, 9 ms in HLT per tick
    machine.run_headless(100_000)                    # some virtual time, unpaced
    host = FakeHost(machine)
    host.install(monkeypatch)
    machine.realtime = True
    virtual_start, idle_start, host_start = machine.clock.now() / 1e9, idle_seconds(machine), host.now
    assert machine.run_headless(machine.clock.icount + 200_000) == "instruction-limit"
    virtual = machine.clock.now() / 1e9 - virtual_start
    idle = idle_seconds(machine) - idle_start
    assert virtual >= 1.9 and 0.85 * virtual <= idle <= 0.95 * virtual
    waits = [(seconds, after) for seconds, _, after in host.sleeps if seconds > 0]
    assert waits, "a paced run must wait out the guest's HLT time in host time"
    # the host waited as long as the guest idled (the busy time took no host time here)
    assert idle - 0.01 <= host.now - host_start <= idle + 1e-9


def test_paced_run_never_slows_a_busy_guest(monkeypatch):
    machine = bare_machine()                         # no CPU: every slice is busy
    host = FakeHost(machine)
    host.install(monkeypatch)
    machine.realtime = True                          # as with --gdb or a screen
    assert machine.run_headless(2_000_000) == "instruction-limit"   # two virtual seconds
    assert all(seconds == 0 for seconds, _, _ in host.sleeps)
    assert host.now == 100.0


def test_paced_run_forgives_a_slow_host_instead_of_bursting(monkeypatch):
    machine = bare_machine()
    machine.cpu = TickingGuest(machine, busy=1_000)
    host = FakeHost(machine, step=1.0)               # every clock read costs a host second
    host.install(monkeypatch)
    machine.realtime = True
    switch: List[float] = []

    def host_gets_fast() -> None:
        if not switch and machine.clock.now() >= 5 * 10 ** 8:
            host.step = 0.0
            switch.extend((idle_seconds(machine), host.now, len(host.sleeps)))
        return None

    assert trio.run(machine.run, 200_000, host_gets_fast) == "instruction-limit"
    idle_switch, host_switch, sleeps_before = switch
    assert all(seconds == 0 for seconds, _, _ in host.sleeps[:sleeps_before])
    # once the host is fast again, pacing resumes at once: no burst to catch up the lag
    idle_after = idle_seconds(machine) - idle_switch
    assert idle_after >= 1.0
    assert idle_after - 0.01 - RealtimePacer.MAX_LAG <= host.now - host_switch <= idle_after + 1e-9
