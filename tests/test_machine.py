"""The machine's run loop: realtime pacing for interactive runs.

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


def test_paced_run_keeps_virtual_time_within_host_time(monkeypatch):
    machine = bare_machine()
    machine.run_headless(500_000)                    # half a virtual second, unpaced
    host = FakeHost(machine)
    host.install(monkeypatch)
    machine.realtime = True
    virtual_start, host_start = machine.clock.now() / 1e9, host.now
    assert machine.run_headless(2_000_000) == "instruction-limit"
    paced = [(virtual - virtual_start, after - host_start)
             for seconds, virtual, after in host.sleeps if seconds > 0]
    assert paced, "a paced run on a fast host must wait for host time"
    for virtual, after in paced:                     # after each wait, host has caught up
        assert virtual - after <= 0.002 + 1e-9
    virtual_total = machine.clock.now() / 1e9 - virtual_start
    assert virtual_total >= 1.5
    # the host slept as long as virtual time ran, less at most the final slice
    assert virtual_total - 0.2 - 0.002 <= host.now - host_start <= virtual_total + 1e-9


def test_paced_run_forgives_a_slow_host_instead_of_bursting(monkeypatch):
    machine = bare_machine()
    host = FakeHost(machine, step=1.0)               # every clock read costs a host second
    host.install(monkeypatch)
    machine.realtime = True
    switch: List[float] = []

    def host_gets_fast() -> None:
        if not switch and machine.clock.now() >= 5 * 10 ** 8:
            host.step = 0.0
            switch.extend((machine.clock.now() / 1e9, host.now, len(host.sleeps)))
        return None

    assert trio.run(machine.run, 2_000_000, host_gets_fast) == "instruction-limit"
    virtual_switch, host_switch, sleeps_before = switch
    assert all(seconds == 0 for seconds, _, _ in host.sleeps[:sleeps_before])
    # once the host is fast again, pacing resumes at once: no burst to catch up the lag
    virtual_after = machine.clock.now() / 1e9 - virtual_switch
    assert virtual_after >= 1.0
    assert virtual_after - 0.2 - RealtimePacer.MAX_LAG <= host.now - host_switch <= virtual_after + 1e-9
