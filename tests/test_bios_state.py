"""BIOS state save/restore: save -> load -> save gives identical data, the bell's
clock event comes back, and a machine restored in the middle of an int 15h/86h
wait finishes exactly like the original."""

from bios_support import PortE9Capture, build_guest, floppy_image, make_machine

PORT_B = 0x61
SPEAKER = 0x03


def test_snapshot_round_trip_and_bell_event(tmp_path):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("video"))})
    machine.run_headless(5)
    bios = machine.components["bios"]
    bios.video.bell()
    assert machine.bus.io_read(PORT_B, 1) & SPEAKER == SPEAKER
    first = bios.snapshot()
    bios.restore(first)
    assert bios.snapshot() == first
    assert first["speaker_off_ns"] > machine.clock.now()
    machine.clock.skip_to(first["speaker_off_ns"])
    machine.clock.run_due()
    assert machine.bus.io_read(PORT_B, 1) & SPEAKER == 0
    assert bios.snapshot()["speaker_off_ns"] == 0


def test_restore_during_wait_finishes_like_the_original(tmp_path):
    image = floppy_image(tmp_path, build_guest("timer"))
    original = make_machine({"fda": image})
    bios = original.components["bios"]
    for _ in range(10_000):
        if bios.state.wait_deadline_ns:
            break
        original.run_slice()
    assert bios.state.wait_deadline_ns, "the guest never reached int 15h/86h"
    saved = original.snapshot()

    copy = make_machine({"fda": image})
    copy.restore(saved)
    assert copy.components["bios"].snapshot() == bios.snapshot()
    results = []
    for machine in (original, copy):
        capture = PortE9Capture()
        machine.add_plugin(capture)
        machine.run_headless(5_000_000)
        results.append((capture.text, machine.clock.icount, machine.clock.now()))
    assert results[0] == results[1]
    assert results[0][0] == "PASS\n"
