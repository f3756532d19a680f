"""Int 11h, 12h, 14h and 15h, checked by a guest (tests/guests/bios/system.asm)."""

from bios_support import PortE9Capture, build_guest, cpu_kind, floppy_image, make_machine, run_guest


def test_system_services_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("system"))}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    assert machine.bus.read_bytes(0x200000, 4) == b"\x00\x5A\x01\x5A"


def test_apm_connects_and_powers_off(tmp_path, cpu_kind):
    """Int 15h AH=53h (tests/guests/bios/apm.asm): the calls a boot sector makes to
    shut the PC down; "off" is the chipset's ACPI S5."""
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("apm"))}, cpu=cpu_kind)
    capture = PortE9Capture()
    machine.add_plugin(capture)
    assert machine.run_headless(5_000_000) == "poweroff"
    assert capture.text == "PASS\n"


def test_apm_off_without_acpi_cannot_enter_the_state(tmp_path):
    """Without the ACPI PM registers there is nothing to switch the power off with:
    the off call fails with 60h and the guest halts."""
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("apm"))},
                           overrides=["acpi=null"])
    capture = PortE9Capture()
    machine.add_plugin(capture)
    assert machine.run_headless(5_000_000) != "poweroff"
    assert capture.text == "PASS\n"
