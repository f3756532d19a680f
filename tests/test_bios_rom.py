"""The `rom` plugin: a real firmware image mapped below 1 MiB and below 4 GiB, run
from the CPU's reset vector (tests/guests/bios/testrom.asm)."""

import pytest

from pcmachine import Machine
from pcmachine.errors import ProfileError
from pcmachine.plugins.ram import RAM
from pcmachine.plugins.rom import ROMBIOS

from bios_support import PortE9Capture, UnicornCPU, build_guest, cpu_kind  # noqa: F401


def rom_machine(path: str, cpu_kind: str) -> Machine:
    from pcmachine.plugins.cpu import CPU
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": "4M"})
    machine.add_component(CPU if cpu_kind == "cpu" else UnicornCPU, "cpu", {})
    machine.add_component(ROMBIOS, "bios", {"image": path})
    machine.configure()
    return machine


def test_rom_image_runs_from_reset_vector(tmp_path, cpu_kind):
    path = tmp_path / "bios.bin"
    path.write_bytes(build_guest("testrom"))
    machine = rom_machine(str(path), cpu_kind)
    capture = PortE9Capture()
    machine.add_plugin(capture)
    assert machine.run_headless(10_000) == "halted"
    assert capture.text == "ROM OK\n"


def test_image_is_mapped_at_both_addresses(tmp_path):
    image = bytes(range(256)) * 512                      # 128 KiB
    path = tmp_path / "bios.bin"
    path.write_bytes(image)
    machine = rom_machine(str(path), "cpu")
    bus = machine.bus
    assert bus.read_bytes(0xE0000, 0x20000) == image
    assert bus.read_bytes(0xFFFE0000, 0x20000) == image
    assert bus.read(0xFFFFFFF0, 4) == int.from_bytes(image[-16:-12], "little")
    bus.write(0xF0000, 1, 0x55)                          # ROM ignores writes
    assert bus.read(0xF0000, 1) == image[0x10000]


def test_large_image_shows_its_top_128k_below_1m(tmp_path):
    image = bytes(0x40000 - 1) + b"\xAB"                 # 256 KiB
    path = tmp_path / "bios.bin"
    path.write_bytes(image)
    machine = rom_machine(str(path), "cpu")
    assert machine.bus.read(0xFFFFF, 1) == 0xAB
    assert machine.bus.read(0xFFFFFFFF, 1) == 0xAB
    assert machine.bus.read(0xFFFC0000, 1) == 0


@pytest.mark.parametrize("order, register_3d, register_38", [(None, 0x21, 0x30),
                                                               (["cdrom", "floppy"], 0x13, 0x00)])
def test_the_cmos_holds_the_boot_order_for_the_firmware(tmp_path, order, register_3d, register_38):
    """As QEMU writes -boot into CMOS 3Dh (first and second device) and 38h bits 4-7
    (third): 1 floppy, 2 hard disk, 3 CD-ROM; the Bochs BIOS boots nothing without it."""
    (tmp_path / "bios.bin").write_bytes(bytes(0x10000))
    profile = tmp_path / "firmware.yaml"
    profile.write_text(f"extends: pc.yaml\nbios: {{plugin: rom, image: {tmp_path / 'bios.bin'}}}\n")
    overrides = ["bios.boot=[" + ", ".join(order) + "]"] if order else []
    machine = Machine.from_profile(str(profile), overrides)
    try:
        values = []
        for register in (0x3D, 0x38):
            machine.bus.io_write(0x70, 1, register)
            values.append(machine.bus.io_read(0x71, 1))
        assert values == [register_3d, register_38]
    finally:
        machine.close()


@pytest.mark.parametrize("content, problem", [(None, "image not found"),
                                              (b"\0" * 1000, "multiple of 4K")])
def test_bad_images_are_profile_errors(tmp_path, content, problem):
    path = tmp_path / "bios.bin"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ProfileError, match=problem):
        rom_machine(str(path), "cpu")


def option_rom_machine(tmp_path, *roms: bytes) -> Machine:
    from pcmachine.plugins.cpu import CPU
    (tmp_path / "bios.bin").write_bytes(bytes(0x10000))
    paths = []
    for index, data in enumerate(roms):
        paths.append(str(tmp_path / f"option{index}.rom"))
        (tmp_path / f"option{index}.rom").write_bytes(data)
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": "4M"})
    machine.add_component(CPU, "cpu", {})
    machine.add_component(ROMBIOS, "bios", {"image": str(tmp_path / "bios.bin"), "option_roms": paths})
    machine.configure()
    return machine


def test_option_roms_follow_each_other_from_c0000_at_4k_steps(tmp_path):
    vga = b"\x55\xAA\x0B" + bytes(range(253)) * 20 + b"\xCB"     # 5,064 bytes: two pages
    other = b"\x55\xAA\x01" + b"\x90" * 509
    machine = option_rom_machine(tmp_path, vga, other)
    bus = machine.bus
    assert bus.read_bytes(0xC0000, len(vga)) == vga
    assert bus.read_bytes(0xC2000, len(other)) == other
    assert bus.read_bytes(0xC1000 + len(vga) - 0x1000, 0x1000 - (len(vga) - 0x1000)) == bytes(
        0x1000 - (len(vga) - 0x1000))                          # padded with zeros to 4K
    bus.write(0xC0000, 1, 0)                                    # read-only
    assert bus.read(0xC0000, 1) == 0x55


@pytest.mark.parametrize("roms, problem", [([b"\x00\x00" + bytes(510)], "no option ROM signature"),
                                           ([b"\x55\xAA" + bytes(0x30000)], "reach past F0000h")])
def test_bad_option_roms_are_profile_errors(tmp_path, roms, problem):
    with pytest.raises(ProfileError, match=problem):
        option_rom_machine(tmp_path, *roms)
