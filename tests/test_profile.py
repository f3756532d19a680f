"""Profile loading and validation: every bad input is one line naming file and key,
with exit status 2 from the CLI."""

import os
import textwrap

import pytest

from pcmachine.cli import main
from pcmachine.errors import ProfileError
from pcmachine.profile import Profile


def write(folder, name: str, text: str) -> str:
    path = os.path.join(str(folder), name)
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(text))
    return path


BASE = """
    description: test machine
    machine: {ips: 1000000}
    ram: {plugin: ram, size: 2M}
"""


def run_cli(capsys, *argv: str):
    status = main(["run", *argv, "--headless", "--max-instructions", "10"])
    captured = capsys.readouterr()
    return status, captured.err.strip().splitlines()


def test_extends_and_set_override(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """
        extends: base.yaml
        ram: {size: 4M}
    """)
    profile = Profile.load(child, ["machine.ips=5000000"])
    assert profile.components()["ram"]["options"]["size"] == 4 << 20
    assert profile.machine_settings()["ips"] == 5_000_000
    assert profile.data["description"] == "test machine"


@pytest.mark.parametrize("text, argv, expected", [
    (BASE + "    ram2: {plugin: ram, sise: 4M}\n", [], ["p.yaml", "ram2.sise", "unknown key"]),
    (BASE + "    bogus: {plugin: nosuchplugin}\n", [], ["p.yaml", "bogus.plugin", "unknown plugin"]),
    (BASE, ["--set", "ram.size=lots"], ["--set", "ram.size", "expected a size"]),
    (BASE, ["--set", "machine.ips=fast"], ["--set", "machine.ips", "expected an integer"]),
    (BASE + "    media: {fda: missing.img}\n", [], ["p.yaml", "media.fda.image", "image not found"]),
    (BASE, ["--fda", "/nonexistent/disk.img"], ["--fda", "media.fda.image", "image not found"]),
    (BASE + "    machine: {ips: 1000000, turbo: true}\n", [], ["p.yaml", "machine.turbo", "unknown key"]),
    (BASE + "    machine: {on_triple_fault: explode}\n", [], ["machine.on_triple_fault", "expected one of"]),
    (BASE, ["--plugin", "no_such_module:Thing"], ["unknown plugin", "no_such_module"]),
    (BASE, ["--set", "ram.size=100K"], ["--set", "ram.size", "at least 1M"]),
    (BASE + "  oops: [\n", [], ["p.yaml", "invalid YAML"]),
])
def test_bad_input_is_one_line_with_status_2(tmp_path, capsys, text, argv, expected):
    path = write(tmp_path, "p.yaml", text)
    status, lines = run_cli(capsys, path, *argv)
    assert status == 2
    assert len(lines) == 1, lines
    for fragment in expected:
        assert fragment in lines[0]


@pytest.mark.parametrize("size, problem", [(0, "image is empty"), (100, "smaller than one 512-byte sector")])
def test_unusable_image_is_one_line_with_status_2(tmp_path, capsys, size, problem):
    image = tmp_path / "tiny.img"
    image.write_bytes(b"\0" * size)
    status, lines = run_cli(capsys, write(tmp_path, "p.yaml", BASE), "--fda", str(image))
    assert status == 2 and len(lines) == 1 and problem in lines[0]


def test_missing_profile(capsys):
    status, lines = run_cli(capsys, "/nonexistent/profile.yaml")
    assert status == 2 and len(lines) == 1 and "profile not found" in lines[0]


def test_unknown_cli_option_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "pc.yaml", "--frobnicate"])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_profile_error_names_file_and_key():
    error = ProfileError("a.yaml", "cpu.model", "expected one of x")
    assert str(error) == "a.yaml: cpu.model: expected one of x"


def test_bundled_profile_found_by_name():
    from pcmachine.profile import find_profile
    assert find_profile("pc.yaml").endswith(os.path.join("machines", "pc.yaml"))
    assert find_profile("pc") == find_profile("pc.yaml")


def test_component_with_another_plugin_starts_afresh_and_paths_follow_the_file(tmp_path, monkeypatch):
    """`bios: {plugin: rom, image: ...}` over pc.yaml drops the HLE BIOS's options, and
    the image paths are relative to the profile that names them."""
    (tmp_path / "bios.rom").write_bytes(b"\xf4" * 65536)
    child = write(tmp_path, "rom.yaml", """
        extends: pc.yaml
        bios: {plugin: rom, image: bios.rom, option_roms: [vga.rom]}
    """)
    monkeypatch.chdir("/")
    profile = Profile.load(child)
    entry = profile.components()["bios"]
    assert entry["plugin"] == "rom"
    assert entry["options"] == {"image": str(tmp_path / "bios.rom"),       # and the rom's own default
                                "option_roms": [str(tmp_path / "vga.rom")],
                                "boot": ["floppy", "hdd", "cdrom"]}
    overridden = Profile.load("pc.yaml", ["bios.plugin=rom", f"bios.image={tmp_path / 'bios.rom'}"])
    assert overridden.components()["bios"]["options"]["image"] == str(tmp_path / "bios.rom")


@pytest.mark.parametrize("setting, problem", [
    ("machine.ips=0", "expected at least 1000"),
    ("pit.irq=99", "expected at most 15"),
    ("com1.base=0x10000", "expected at most 65528"),
    ("ram.size=100G", "expected at most 3584M"),
    ("cmos.start=2026-13-01", "ISO time"),
])
def test_out_of_range_options_are_one_line(capsys, setting, problem):
    status, lines = run_cli(capsys, "pc.yaml", "--set", setting)
    assert status == 2 and len(lines) == 1 and problem in lines[0], lines


def test_one_image_cannot_be_two_drives(tmp_path, capsys):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 1474560)
    status, lines = run_cli(capsys, "pc.yaml", "--fda", str(image), "--hda", str(image))
    assert status == 2 and len(lines) == 1 and "cannot be two drives" in lines[0]


def test_plugin_reference_must_name_a_class(capsys):
    status, lines = run_cli(capsys, "pc.yaml", "--plugin", "os:path")
    assert status == 2 and lines == ["machine: error: plugin 'os:path' is not a class"]


def test_two_components_on_the_same_ports_are_refused(tmp_path, capsys):
    """A second UART at 0x3F8 would silently shadow COM1: the profile is refused,
    naming both components and the ports."""
    profile = write(tmp_path, "two.yaml", """
        extends: pc.yaml
        com3: {plugin: uart, base: 0x3f8, irq: 4}
    """)
    status, err = run_cli(capsys, profile)
    assert status == 2
    assert len(err) == 1
    assert "com3" in err[0] and "'com1'" in err[0] and "0x3f8-0x3ff" in err[0]


def test_two_components_on_the_same_memory_are_refused(tmp_path, capsys):
    profile = write(tmp_path, "two_vga.yaml", """
        extends: pc.yaml
        vga2: {plugin: vga}
    """)
    status, err = run_cli(capsys, profile)
    assert status == 2 and len(err) == 1
    assert "vga2" in err[0] and "'vga'" in err[0] and "memory 0xa0000" in err[0]
