"""SMBIOS (DMI) tables (plugins/bios/smbios.py): found where the specification says
an OS searches (a `_SM_` entry point on a 16-byte boundary in F0000-FFFFF, both
checksums right), and decoded by dmidecode, the reference decoder, from a dump of
what a guest reads there: the values must describe the assembled machine."""

import re
import struct
import subprocess

import pytest

from requirements import require_dmidecode
from pcmachine.machine import Machine

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"


def entry_point_and_table(machine: Machine) -> bytes:
    """The entry point and structure table as a guest finds them, in dmidecode's
    --dump-bin layout (entry point at 0 pointing at the table at 20h)."""
    segment = machine.bus.read_bytes(0xF0000, 0x10000)
    anchors = [offset for offset in range(0, len(segment), 16) if segment[offset:offset + 4] == b"_SM_"]
    assert len(anchors) == 1, anchors
    entry = bytearray(segment[anchors[0]:anchors[0] + 0x1F])
    assert entry[5] == 0x1F and sum(entry) & 0xFF == 0 and sum(entry[0x10:0x1F]) & 0xFF == 0
    assert entry[0x10:0x15] == b"_DMI_"
    length, address = struct.unpack_from("<HI", entry, 0x16)
    table = machine.bus.read_bytes(address, length)
    struct.pack_into("<I", entry, 0x18, 0x20)
    entry[0x15] = 0
    entry[0x15] = -sum(entry[0x10:0x1F]) & 0xFF
    entry[4] = 0
    entry[4] = -sum(entry) & 0xFF
    return bytes(entry) + b"\0" + table


def decode(tmp_path, profile: str, *overrides: str) -> str:
    dmidecode = require_dmidecode()
    machine = Machine.from_profile(profile, [FIXED_RTC, *overrides])
    try:
        dump = entry_point_and_table(machine)
    finally:
        machine.close()
    (tmp_path / "dmi.bin").write_bytes(dump)
    result = subprocess.run([dmidecode, "--from-dump", str(tmp_path / "dmi.bin")], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout


def field(text: str, name: str, structure: str = "") -> list:
    """The values of `name` in every structure (or those whose title is `structure`)."""
    sections = [part for part in text.split("\nHandle ") if not structure or f"\n{structure}\n" in part]
    return [value for part in sections for value in re.findall(rf"^\t{re.escape(name)}: (.*)$", part, re.M)]


def test_the_pc_is_described_as_assembled(tmp_path):
    out = decode(tmp_path, "pc.yaml", "cpu.count=2", "ram.size=32M")
    assert "SMBIOS 2.4 present.\n11 structures occupying" in out
    assert not re.search(r"(?i)invalid|wrong|truncated|out of spec|unknown type", out), out
    assert field(out, "Vendor") == ["pcmachine"]
    assert field(out, "Manufacturer")[:3] == ["pcmachine"] * 3          # system, board, chassis
    assert field(out, "Product Name") == ["Standard PC", "Standard PC"]
    assert field(out, "Address") == ["0xF0000"] and field(out, "ROM Size") == ["64 kB"]
    for service in ("ISA is supported", "PCI is supported", "EDD is supported", "ACPI is supported",
                    "Boot from CD is supported", "BIOS boot specification is supported"):
        assert f"\t\t{service}\n" in out, service
    # one processor structure per CPU, as CPUID leaf 1 describes it
    assert field(out, "Socket Designation") == ["CPU 0", "CPU 1"]
    assert field(out, "Family", "Processor Information") == ["Pentium Pro"] * 2
    assert field(out, "Signature") == ["Type 0, Family 6, Model 1, Stepping 9"] * 2
    assert out.count("APIC (On-chip APIC hardware supported)") == 2
    assert out.count("CMOV (Conditional move instruction supported)") == 2
    assert field(out, "Current Speed") == ["20 MHz"] * 2            # machine.ips, as the TSC counts
    assert field(out, "Status", "Processor Information") == ["Populated, Enabled"] * 2
    # memory: one array and one device of the RAM's size, mapped from 0
    assert field(out, "Maximum Capacity") == ["32 MB"] and field(out, "Size") == ["32 MB"]
    assert field(out, "Starting Address") == ["0x00000000000"]
    assert field(out, "Ending Address") == ["0x00001FFFFFF"]
    assert field(out, "Range Size") == ["32 MB"]
    assert "System Boot Information\n\tStatus: No errors detected" in out
    assert "End Of Table" in out


def test_an_isa_386_has_no_pci_acpi_or_cpuid(tmp_path):
    out = decode(tmp_path, "isapc.yaml", "cpu.model=80386")
    assert "\t\tISA is supported\n" in out
    assert "PCI is supported" not in out and "ACPI is supported" not in out
    assert field(out, "Family", "Processor Information") == ["80386"]
    assert field(out, "ID", "Processor Information") == ["00 00 00 00 00 00 00 00"]


@pytest.mark.parametrize("model, family", [("80486", "80486"), ("pentium", "Pentium"),
                                           ("pentium2", "Pentium II"), ("pentium4", "Pentium 4")])
def test_the_processor_family_follows_the_model(tmp_path, model, family):
    out = decode(tmp_path, "pc.yaml", f"cpu.model={model}")
    assert field(out, "Family", "Processor Information") == [family]


def test_the_names_are_options(tmp_path):
    out = decode(tmp_path, "pc.yaml", "bios.smbios_manufacturer=ACME", "bios.smbios_product=Board 9")
    assert field(out, "Manufacturer")[:3] == ["ACME"] * 3
    assert field(out, "Product Name") == ["Board 9", "Board 9"]
