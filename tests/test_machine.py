"""The machine's run loop: realtime pacing for interactive runs."""

import time

from pcmachine import Machine
from pcmachine.plugins.ram import RAM


def test_realtime_pacing_keeps_virtual_time_from_running_ahead():
    machine = Machine.bare(ips=1_000_000)
    machine.add_component(RAM, "ram", {"size": "1M"})
    start = time.monotonic()
    machine.run_headless(500_000)                    # half a virtual second, unpaced
    unpaced = time.monotonic() - start
    machine.realtime = True
    start = time.monotonic()
    machine.run_headless(1_000_000)                  # another half second, paced
    paced = time.monotonic() - start
    assert unpaced < 0.2
    assert 0.4 <= paced < 2.0
