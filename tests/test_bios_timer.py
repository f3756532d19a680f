"""Int 08h, 1Ch, 1Ah and int 15h AH=86h on the virtual clock, checked by a guest
(tests/guests/bios/timer.asm)."""

from bios_support import build_guest, cpu_kind, floppy_image, make_machine, run_guest

NS_PER_TICK = 1_000_000_000 * 65536 // 1193182


def test_timer_services_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("timer"))}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    # about 1 + 3 + 1 ticks of HLT waits plus the 365 ms wait: virtual time passed
    assert machine.clock.now() > 5 * NS_PER_TICK + 364_000_000
