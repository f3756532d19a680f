"""ACPI: the PM registers and timer through their ports (plugins/chipset/acpipm.py),
the BIOS's tables (plugins/bios/acpitables.py) found and walked by a guest of our
own (tests/guests/devices/acpi.asm), and power-off through \\_S5."""

import re
import struct
import subprocess
from typing import Any, Dict, List, Tuple

import pytest

from bios_support import PortE9Capture
from requirements import require_iasl
from pcmachine.cli import main
from pcmachine.machine import Machine
from pcmachine.plugins.chipset.acpipm import ACPIPowerManagement

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
PM_BASE = 0x600
PM1_STS, PM1_EN, PM1_CNT, PM_TMR = PM_BASE, PM_BASE + 2, PM_BASE + 4, PM_BASE + 8
PM_TIMER_HZ = 3_579_545
SCI = 9


def pm_machine() -> Machine:
    machine = Machine.bare()
    machine.add_component(ACPIPowerManagement, "acpi", {})
    machine.configure()
    return machine


def ticks_to_ns(ticks: int) -> int:
    return -(-ticks * 1_000_000_000 // PM_TIMER_HZ)


def skip(machine: Machine, time_ns: int) -> None:
    machine.clock.skip_to(time_ns)
    machine.clock.run_due()


# ---------------------------------------------------------------- registers
def test_pm_timer_counts_at_3_579545_mhz_in_24_bits():
    machine = pm_machine()
    io = machine.bus
    skip(machine, 1_000_000_000)
    assert io.io_read(PM_TMR, 4) == PM_TIMER_HZ & 0xFFFFFF
    skip(machine, 5_000_000_000)                   # 17.9 M ticks: wrapped past 2^24
    assert io.io_read(PM_TMR, 4) == (5 * PM_TIMER_HZ) & 0xFFFFFF
    assert io.io_read(PM_TMR, 2) == (5 * PM_TIMER_HZ) & 0xFFFF
    assert io.io_read(PM_TMR + 3, 1) == 0            # the top byte of a 24-bit timer


def test_sci_en_reads_set_and_stays_set():
    machine = pm_machine()
    io = machine.bus
    assert io.io_read(PM1_CNT, 2) & 1
    io.io_write(PM1_CNT, 2, 0x0000)
    assert io.io_read(PM1_CNT, 2) == 0x0001
    io.io_write(PM1_CNT, 2, 0x1C02)                  # BM_RLD kept; SLP_TYP 7 without SLP_EN
    assert io.io_read(PM1_CNT, 2) == 0x1C03


def test_timer_status_sets_at_bit_23_and_is_write_one_to_clear():
    machine = pm_machine()
    io = machine.bus
    boundary = ticks_to_ns(1 << 23)
    skip(machine, boundary - 1000)
    assert io.io_read(PM1_STS, 2) & 1 == 0
    skip(machine, boundary)
    assert io.io_read(PM1_STS, 2) & 1 == 1
    io.io_write(PM1_STS, 2, 0x0000)                  # writing 0 changes nothing
    assert io.io_read(PM1_STS, 2) & 1 == 1
    io.io_write(PM1_STS, 2, 0x0001)
    assert io.io_read(PM1_STS, 2) & 1 == 0
    assert machine.bus.irq_levels[SCI] == 0         # not enabled: no SCI


def test_timer_enable_raises_the_sci_at_each_change_of_bit_23():
    machine = pm_machine()
    io = machine.bus
    io.io_write(PM1_EN, 2, 0xFFFF)                   # GBL_EN and the others read back
    assert io.io_read(PM1_EN, 2) == 0x4721
    io.io_write(PM1_EN, 2, 0x0001)
    first = ticks_to_ns(1 << 23)
    skip(machine, first - 1)
    assert machine.bus.irq_levels[SCI] == 0
    skip(machine, first)
    assert machine.bus.irq_levels[SCI] == 1
    io.io_write(PM1_STS, 2, 0x0001)
    assert machine.bus.irq_levels[SCI] == 0
    skip(machine, ticks_to_ns(2 << 23))
    assert machine.bus.irq_levels[SCI] == 1
    io.io_write(PM1_EN, 2, 0x0000)                   # disabled: the level drops
    assert machine.bus.irq_levels[SCI] == 0


def test_snapshot_keeps_the_pending_timer_interrupt():
    machine = pm_machine()
    machine.bus.io_write(PM1_EN, 2, 0x0001)
    skip(machine, 1_000_000)
    state = machine.snapshot()
    restored = pm_machine()
    restored.restore(state)
    skip(restored, ticks_to_ns(1 << 23))
    assert restored.bus.irq_levels[SCI] == 1
    assert restored.bus.io_read(PM1_STS, 2) & 1


@pytest.mark.parametrize("value, stops", [(0x2000, True), (0x2400, False), (0x0000, False)])
def test_sleep_enable_with_the_s5_type_powers_off(value, stops):
    machine = pm_machine()
    machine.bus.io_write(PM1_CNT, 2, value)
    assert (machine.run_slice() == "poweroff") == stops
    assert machine.bus.io_read(PM1_CNT, 2) & 0x2000 == 0   # SLP_EN reads 0


# ---------------------------------------------------------------- tables
def find_tables(memory: bytes) -> Dict[bytes, bytes]:
    """Signature -> table, from the RSDP found as an OS finds it; checksums checked."""
    area = bytes(memory[0xE0000:0x100000])
    rsdp = next(offset for offset in range(0, len(area), 16)
                if area[offset:offset + 8] == b"RSD PTR " and sum(area[offset:offset + 20]) % 256 == 0)
    rsdt_address = struct.unpack_from("<I", area, rsdp + 16)[0]

    def read(address: int) -> bytes:
        length = struct.unpack_from("<I", memory, address + 4)[0]
        data = bytes(memory[address:address + length])
        assert sum(data) % 256 == 0, data[:4]
        return data

    rsdt = read(rsdt_address)
    tables = {b"RSDT": rsdt}
    for offset in range(36, len(rsdt), 4):
        data = read(struct.unpack_from("<I", rsdt, offset)[0])
        tables[data[:4]] = data
    fadt = tables[b"FACP"]
    tables[b"DSDT"] = read(struct.unpack_from("<I", fadt, 40)[0])
    facs = struct.unpack_from("<I", fadt, 36)[0]
    assert facs % 64 == 0 and bytes(memory[facs:facs + 4]) == b"FACS"
    return tables


def madt_entries(madt: bytes) -> List[Tuple[int, bytes]]:
    entries, offset = [], 44
    while offset < len(madt):
        kind, length = madt[offset], madt[offset + 1]
        entries.append((kind, madt[offset + 2:offset + length]))
        offset += length
    return entries


def test_tables_describe_three_processors_the_ioapic_and_the_pm_block():
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC, "cpu.count=3"])
    tables = find_tables(machine.bus.memory)
    machine.close()
    assert sorted(tables) == [b"APIC", b"DSDT", b"FACP", b"RSDT"]
    fadt = tables[b"FACP"]
    assert struct.unpack_from("<H", fadt, 46)[0] == SCI
    assert struct.unpack_from("<III", fadt, 56)[0] == PM_BASE
    assert struct.unpack_from("<I", fadt, 64)[0] == PM_BASE + 4
    assert struct.unpack_from("<I", fadt, 76)[0] == PM_BASE + 8
    assert fadt[88:92] == bytes([4, 2, 0, 4])
    assert struct.unpack_from("<I", fadt, 48)[0] == 0            # no SMI_CMD: always ACPI mode
    # WBINVD, PROC_C1 and SLP_BUTTON (no sleep button); PWR_BUTTON (bit 4) clear: the
    # power button is the fixed feature of the PM1 block (tests/test_powerbtn.py)
    assert struct.unpack_from("<I", fadt, 112)[0] == 0x0025
    madt = tables[b"APIC"]
    assert struct.unpack_from("<II", madt, 36) == (0xFEE00000, 1)
    entries = madt_entries(madt)
    assert [body for kind, body in entries if kind == 0] == [
        bytes([uid, uid, 1, 0, 0, 0]) for uid in range(3)]
    assert [body for kind, body in entries if kind == 1] == [struct.pack("<BBII", 3, 0, 0xFEC00000, 0)]
    overrides = [struct.unpack("<BBIH", body) for kind, body in entries if kind == 2]
    assert overrides == [(0, 0, 2, 0), (0, SCI, SCI, 0x000D),        # and the PCI IRQs, as QEMU says
                         (0, 10, 10, 0x000D), (0, 11, 11, 0x000D)]
    assert [body for kind, body in entries if kind == 4] == [bytes([0xFF, 0, 0, 1])]
    assert b"_S5_\x12\x06\x04\x00" in tables[b"DSDT"]


#: What the DSDT of machines/pc.yaml (16 MiB) must say, in ACPI source language;
#: iasl compiles it into the reference bytes.  PIRQ A-D are routed to IRQ 10, 10,
#: 11, 11 by the BIOS; INTA# of device d is on PIRQ (d - 1) mod 4.
PC_DSDT_SOURCE = """
DefinitionBlock ("", "DSDT", 1, "PCMACH", "PCMACHIN", 1)
{
    Name (\\_S5, Package () { 0, 0, 0, 0 })
    Scope (\\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_ADR, 0)
            Name (_UID, 0)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
                IO (Decode16, 0xCF8, 0xCF8, 1, 8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0, 0, 0xCF7, 0, 0xCF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0, 0xD00, 0xFFFF, 0, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                             0, 0xA0000, 0xBFFFF, 0, 0x20000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                             0, 0x1000000, 0xFEBFFFFF, 0, 0xFDC00000)
            })
            Name (_PRT, Package () {
                Package () { 0x0001FFFF, 0, LNKA, 0 }, Package () { 0x0001FFFF, 1, LNKB, 0 },
                Package () { 0x0001FFFF, 2, LNKC, 0 }, Package () { 0x0001FFFF, 3, LNKD, 0 },
                Package () { 0x0002FFFF, 0, LNKB, 0 }, Package () { 0x0002FFFF, 1, LNKC, 0 },
                Package () { 0x0002FFFF, 2, LNKD, 0 }, Package () { 0x0002FFFF, 3, LNKA, 0 },
            })
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_CRS, ResourceTemplate () {
                        IO (Decode16, 0x60, 0x60, 1, 1)
                        IO (Decode16, 0x64, 0x64, 1, 1)
                        IRQNoFlags () {1} })
                }
                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_CRS, ResourceTemplate () { IRQNoFlags () {12} })
                }
                Device (FDC)
                {
                    Name (_HID, EisaId ("PNP0700"))
                    Name (_CRS, ResourceTemplate () {
                        IO (Decode16, 0x3F0, 0x3F0, 1, 6)
                        IO (Decode16, 0x3F7, 0x3F7, 1, 1)
                        IRQNoFlags () {6}
                        DMA (Compatibility, NotBusMaster, Transfer8) {2} })
                }
                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, 1)
                    Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8) IRQNoFlags () {4} })
                }
                Device (COM2)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, 2)
                    Name (_CRS, ResourceTemplate () { IO (Decode16, 0x2F8, 0x2F8, 1, 8) IRQNoFlags () {3} })
                }
                Device (LPT1)
                {
                    Name (_HID, EisaId ("PNP0400"))
                    Name (_UID, 1)
                    Name (_CRS, ResourceTemplate () { IO (Decode16, 0x378, 0x378, 1, 8) IRQNoFlags () {7} })
                }
                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 1, 2) IRQNoFlags () {8} })
                }
            }
        }
        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0)
            Name (_PRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 10 } })
            Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 10 } })
            Method (_SRS, 1) { }
        }
        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 1)
            Name (_PRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 10 } })
            Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 10 } })
            Method (_SRS, 1) { }
        }
        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 2)
            Name (_PRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 11 } })
            Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 11 } })
            Method (_SRS, 1) { }
        }
        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 3)
            Name (_PRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 11 } })
            Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 11 } })
            Method (_SRS, 1) { }
        }
    }
}
"""


def test_dsdt_is_what_iasl_compiles_from_the_reference_source(tmp_path):
    """The AML names the PCI root bridge (Linux finds PCI devices only below a PNP0A03
    when ACPI is on) and the ISA devices, byte for byte as the ACPI compiler would."""
    iasl = require_iasl()
    (tmp_path / "dsdt.asl").write_text(PC_DSDT_SOURCE)
    subprocess.run([iasl, "-p", str(tmp_path / "reference"), str(tmp_path / "dsdt.asl")],
                   check=True, capture_output=True)
    reference = (tmp_path / "reference.aml").read_bytes()
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC])
    dsdt = find_tables(machine.bus.memory)[b"DSDT"]
    machine.close()
    assert dsdt[36:] == reference[36:]
    assert dsdt[:9] + dsdt[10:24] == reference[:9] + reference[10:24]   # iasl names itself the creator


def test_pci_memory_window_starts_at_the_top_of_ram():
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC, "ram.size=512M"])
    dsdt = find_tables(machine.bus.memory)[b"DSDT"]
    machine.close()
    window = struct.pack("<IIIII", 0, 0x20000000, 0xFEBFFFFF, 0, 0xDEC00000)
    assert dsdt.count(window) == 1


# ---------------------------------------------------------------- the guest
def boot_guest(floppy: str, profile: str, count: int = 1) -> Tuple[str, List[str]]:
    console = PortE9Capture()
    machine = Machine.from_profile(profile, [FIXED_RTC, f"cpu.count={count}"], {"fda": floppy},
                                   setup=lambda m: m.add_plugin(console))
    reason = machine.run_headless(20_000_000)
    machine.close()
    return reason, console.text.splitlines()


def test_guest_walks_the_tables_and_powers_off(tmp_path, floppy_from):
    reason, lines = boot_guest(floppy_from(tmp_path, "devices/acpi.bin"), "pc.yaml", 2)
    assert reason == "poweroff"
    assert re.fullmatch(r"rsdp=000F[0-9A-F]{3}0  rev=00", lines[1])
    assert lines[:1] + lines[2:] == [
        "acpi: start", "table RSDT", "table FACP", "fadt: pm1a_cnt=0604 pm_tmr=0608 sci=0009",
        "table DSDT", "s5: slp_typ=0000", "table APIC", "madt: cpus=2 ioapic=FEC00000 overrides=4",
        "pm timer +3580", "s5"]                 # 20,002 instructions at 20 MIPS: 1.0001 ms


def test_isa_profile_has_no_acpi(tmp_path, floppy_from):
    reason, lines = boot_guest(floppy_from(tmp_path, "devices/acpi.bin"), "isapc.yaml")
    assert (reason, lines) == ("halted", ["acpi: start", "rsdp: none"])


def test_poweroff_ends_a_cli_run_successfully(tmp_path, floppy_from, capsys):
    floppy = floppy_from(tmp_path, "devices/acpi.bin")
    status = main(["run", "pc.yaml", "--headless", "--quiet", "--fda", floppy, "--set", FIXED_RTC,
                   "--max-instructions", "20000000"])
    assert status == 0
    assert "powered the machine off (ACPI S5)" in capsys.readouterr().err
