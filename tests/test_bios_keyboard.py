"""Int 09h and int 16h with keys typed through the 8042 and the PS/2 keyboard
(tests/guests/bios/keyboard.asm): buffer functions, key codes with modifiers and
grey keys, shift state, Ctrl+Break through int 1Bh, Pause ignored, and
Ctrl+Alt+Del's warm boot."""

from bios_support import PortE9Capture, build_guest, cpu_kind, floppy_image, make_machine, run_guest


def run_until(machine, capture, text, limit=400):
    for _ in range(limit):
        if text in capture.text:
            return True
        machine.run_slice()
    return text in capture.text


def test_keyboard_services_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("keyboard"))}, cpu=cpu_kind)
    capture = PortE9Capture()
    machine.add_plugin(capture)
    assert run_until(machine, capture, "K"), capture.text
    machine.keyboard.type("aB1\n{ctrl+c}{f1}{alt+x}{up}{up}{kp5}{kpenter}")
    machine.keyboard.press("lshift")
    machine.keyboard.type("x")
    assert run_until(machine, capture, "B"), capture.text
    machine.keyboard.release("lshift")
    machine.keyboard.type("{ctrl+scrolllock}{pause}p")
    assert run_until(machine, capture, "PASS\n"), capture.text
    assert capture.text == "KBPASS\n"
    machine.keyboard.type("{ctrl+alt+del}")
    assert run_until(machine, capture, "WARM\n"), capture.text
    assert capture.text == "KBPASS\nWARM\n"


def test_an_int16_poll_loop_skips_virtual_time_to_the_next_tick(tmp_path):
    """Four ticks (220 ms) of int 16h AH=01h polling cost a few thousand
    instructions with the idle skip (each poll after the third in a row jumps to
    the next timer event), and all 220 ms of instructions without it (1 MIPS
    here to keep the test short)."""
    image = floppy_image(tmp_path, build_guest("idlepoll"))
    counts = []
    for skip in ("true", "false"):
        machine = make_machine({"fda": image}, overrides=["machine.ips=1000000", f"bios.idle_skip={skip}"])
        capture = run_guest(machine, 2_000_000)
        assert capture.text == "PASS\n"
        counts.append(machine.clock.icount)
    with_skip, without = counts
    assert with_skip < 20_000
    assert without > 150_000


def test_polls_between_other_work_do_not_skip_virtual_time(tmp_path):
    """Polls that are not a wait (tests/guests/bios/breakpoll.asm): a Ctrl+C
    check before each of 200 characters, as DOS prints, and 200 polls with the
    same registers but another caller frame on the stack each must all pass
    within one timer tick; the old rule (three polls under 2,000 instructions
    apart) made each of them wait for a tick (FreeDOS's output, 55 ms a
    character).  The guest's last step, a real 4-tick wait, is still skipped:
    the whole guest runs in a few tens of thousands of instructions at 1 MIPS."""
    image = floppy_image(tmp_path, build_guest("breakpoll"))
    machine = make_machine({"fda": image}, overrides=["machine.ips=1000000"])
    capture = run_guest(machine, 2_000_000)
    assert capture.text == "PASS\n"
    assert machine.clock.icount < 40_000
