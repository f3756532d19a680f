"""Virtual time from the instruction count, the event queue and HLT time skips."""

from pcmachine.clock import Clock


def test_time_follows_instruction_count():
    clock = Clock(ips=10_000_000)
    clock.icount = 25
    assert clock.now() == 2500
    assert clock.icount_at(2500) == 25
    assert clock.icount_at(2501) == 26


def test_events_fire_in_deadline_order_and_lower_the_stop_point():
    clock = Clock(ips=1_000_000)
    fired = []
    clock.plan_stop(1_000_000)
    clock.schedule(5_000, lambda: fired.append("b"))
    clock.schedule(2_000, lambda: fired.append("a"))
    cancelled = clock.schedule(3_000, lambda: fired.append("x"))
    cancelled.cancel()
    assert clock.stop_icount == 2
    clock.icount = 2
    clock.run_due()
    assert fired == ["a"]
    assert clock.plan_stop(1_000_000) == 5
    clock.icount = 5
    clock.run_due()
    assert fired == ["a", "b"]


def test_skip_to_moves_time_without_instructions():
    clock = Clock(ips=1_000_000)
    clock.icount = 10
    clock.skip_to(50_000)
    assert clock.now() == 50_000 and clock.icount == 10
    clock.icount = 11
    assert clock.now() == 51_000


def test_snapshot_round_trip():
    clock = Clock(ips=3_000_000)
    clock.icount = 1234
    clock.skip_to(10**9)
    state = clock.snapshot()
    other = Clock()
    other.restore(state)
    assert other.snapshot() == state and other.now() == clock.now()
