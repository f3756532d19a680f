"""Int 11h, 12h, 14h and 15h, checked by a guest (tests/guests/bios/system.asm)."""

from bios_support import build_guest, cpu_kind, floppy_image, make_machine, run_guest


def test_system_services_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("system"))}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"
    assert machine.bus.read_bytes(0x200000, 4) == b"\x00\x5A\x01\x5A"
