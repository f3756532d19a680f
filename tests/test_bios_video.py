"""Int 10h, checked by a guest booted from a floppy (tests/guests/bios/video.asm)."""

from bios_support import build_guest, cpu_kind, floppy_image, make_machine, run_guest, screen_text


def test_video_services_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("video"))}, cpu=cpu_kind)
    capture = run_guest(machine)
    assert capture.text == "PASS\n"


def test_post_banner_shows_memory_size(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("video"))}, ram="8M", cpu=cpu_kind)
    machine.run_headless(5)           # the reset jump, POST and int 19h only
    assert screen_text(machine, 0).startswith("pcmachine HLE BIOS")
    assert screen_text(machine, 1).startswith("Memory: 640K base, 7168K extended")


def test_text_modes_pages_and_8x8_font_guest(tmp_path, cpu_kind):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("videomodes"))}, cpu=cpu_kind)
    assert run_guest(machine).text == "PASS\n"


def test_banner_can_be_turned_off(tmp_path):
    machine = make_machine({"fda": floppy_image(tmp_path, build_guest("video"))},
                           overrides=["bios.banner=false"])
    machine.run_headless(5)
    assert screen_text(machine, 0).strip() == ""
