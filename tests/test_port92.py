"""Port 0x92 (system control port A): fast A20 and fast reset, through the port."""

from typing import List

import pytest

from pcmachine import Machine, hookimpl
from pcmachine.bus import A20_DISABLED_MASK, A20_ENABLED_MASK
from pcmachine.plugins.chipset.port92 import FastA20Port

PORT = 0x92


class ResetProbe:
    def __init__(self) -> None:
        self.causes: List[str] = []

    @hookimpl
    def machine_reset(self, cause: str) -> None:
        self.causes.append(cause)


@pytest.fixture
def machine() -> Machine:
    machine = Machine.bare()
    machine.add_component(FastA20Port, "port92", {})
    machine.probe = ResetProbe()
    machine.add_plugin(machine.probe)
    machine.configure()
    machine.probe.causes.clear()
    return machine


def finish_slice(machine: Machine) -> None:
    machine.run_slice(machine.clock.icount + 10)


def test_power_on_reads_zero_and_a20_is_off(machine):
    assert machine.bus.io_read(PORT, 1) == 0x00
    assert machine.bus.a20_mask == A20_DISABLED_MASK


def test_bit1_switches_a20(machine):
    machine.bus.io_write(PORT, 1, 0x02)
    assert machine.bus.a20_mask == A20_ENABLED_MASK
    machine.bus.io_write(PORT, 1, 0x00)
    assert machine.bus.a20_mask == A20_DISABLED_MASK


def test_other_bits_read_back(machine):
    machine.bus.io_write(PORT, 1, 0xCA)
    assert machine.bus.io_read(PORT, 1) == 0xCA
    finish_slice(machine)
    assert machine.probe.causes == []


def test_rising_edge_of_bit0_requests_reset(machine):
    machine.bus.io_write(PORT, 1, 0x03)
    finish_slice(machine)
    assert machine.probe.causes == ["reset-line"]
    # the reset cleared the port, A20 is off again
    assert machine.bus.io_read(PORT, 1) == 0x00
    assert machine.bus.a20_mask == A20_DISABLED_MASK


def test_only_the_rising_edge_requests_reset(machine, monkeypatch):
    requests = []
    monkeypatch.setattr(machine, "request_reset", requests.append)
    machine.bus.io_write(PORT, 1, 0x01)
    machine.bus.io_write(PORT, 1, 0x03)       # bit 0 stays high: no new pulse
    machine.bus.io_write(PORT, 1, 0x02)
    machine.bus.io_write(PORT, 1, 0x01)
    assert requests == ["reset-line", "reset-line"]


def test_save_restore(machine):
    machine.bus.io_write(PORT, 1, 0x42)
    state = machine.component("port92").snapshot()
    other = Machine.bare()
    other.add_component(FastA20Port, "port92", {})
    other.configure()
    other.component("port92").restore(state)
    assert other.component("port92").snapshot() == state
    assert other.bus.io_read(PORT, 1) == 0x42
    assert other.bus.a20_mask == A20_ENABLED_MASK
