"""Int 09h and int 16h with keys typed through the 8042 and the PS/2 keyboard
(tests/guests/bios/keyboard.asm): buffer functions, key codes with modifiers and
grey keys, shift state, Ctrl+Break through int 1Bh, Pause ignored, and
Ctrl+Alt+Del's warm boot."""

from bios_support import PortE9Capture, build_guest, cpu_kind, floppy_image, make_machine


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
