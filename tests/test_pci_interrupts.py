"""PCI interrupts and QEMU's edu device: INTx# through the host bridge's PIRQ lines
and the PIIX3's routing registers to ISA IRQs (plugins/pci), the BIOS's routing
at POST and the tables that describe it (plugins/bios), and the edu device's
registers, factorial and DMA engines (plugins/pci/edu.py), driven through its
BAR and by a guest of our own (tests/guests/pci/edu.asm)."""

import struct
from typing import List

import pytest

from bios_support import PortE9Capture
from pcmachine.machine import Machine

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
WITH_EDU = [FIXED_RTC, "edu.plugin=edu"]
CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
EDU = 0xFEB00000
EDU_DEVICE = 3                     # INTA# of device 3: PIRQ C, routed to IRQ 11
EDU_IRQ = 11
STATUS, COMMAND = 0x06, 0x04


def config_write(machine: Machine, device: int, function: int, register: int, value: int,
                 size: int = 4) -> None:
    machine.bus.io_write(CONFIG_ADDRESS, 4, 0x80000000 | device << 11 | function << 8 | register & 0xFC)
    machine.bus.io_write(CONFIG_DATA + (register & 3), size, value)


def config_read(machine: Machine, device: int, function: int, register: int, size: int = 4) -> int:
    machine.bus.io_write(CONFIG_ADDRESS, 4, 0x80000000 | device << 11 | function << 8 | register & 0xFC)
    return machine.bus.io_read(CONFIG_DATA + (register & 3), size)


def edu_machine(overrides: List[str] = ()) -> Machine:
    """pc.yaml with an edu device, configured but not powered on: PIRQs unrouted."""
    return Machine.from_profile("pc.yaml", WITH_EDU + list(overrides))


def mmio_read(machine: Machine, offset: int, size: int = 4) -> int:
    return machine.bus.read(EDU + offset, size)


def mmio_write(machine: Machine, offset: int, value: int, size: int = 4) -> None:
    machine.bus.write(EDU + offset, size, value)


def skip(machine: Machine, delay_ns: int) -> None:
    machine.clock.skip_to(machine.clock.now() + delay_ns)
    machine.clock.run_due()


# ---------------------------------------------------------------- routing
def test_intx_reaches_the_isa_irq_its_pirq_is_routed_to():
    machine = edu_machine()
    levels = machine.bus.irq_levels
    mmio_write(machine, 0x60, 0x1)                          # raise: INTA# asserted
    assert config_read(machine, EDU_DEVICE, 0, STATUS, 2) & 0x0008   # Interrupt Status
    assert levels[EDU_IRQ] == 0                             # PIRQ C still unrouted (80h)
    config_write(machine, 1, 0, 0x62, 0x0B, 1)              # PIRQRC[C] = IRQ 11
    assert levels[EDU_IRQ] == 1
    config_write(machine, 1, 0, 0x62, 0x05, 1)              # moved: 11 drops, 5 rises
    assert (levels[EDU_IRQ], levels[5]) == (0, 1)
    config_write(machine, 1, 0, 0x62, 0x0D, 1)              # 13 is reserved: routes nowhere
    assert (levels[5], levels[13]) == (0, 0)
    config_write(machine, 1, 0, 0x62, 0x0B, 1)
    config_write(machine, EDU_DEVICE, 0, COMMAND, 0x0402, 2)   # Interrupt Disable
    assert levels[EDU_IRQ] == 0
    assert config_read(machine, EDU_DEVICE, 0, STATUS, 2) & 0x0008   # still requested
    config_write(machine, EDU_DEVICE, 0, COMMAND, 0x0002, 2)
    assert levels[EDU_IRQ] == 1
    mmio_write(machine, 0x64, 0x1)                          # acknowledge: INTA# drops
    assert levels[EDU_IRQ] == 0
    assert not config_read(machine, EDU_DEVICE, 0, STATUS, 2) & 0x0008
    machine.close()


def test_pirq_lines_are_shared_by_the_devices_wired_to_them():
    """Device 3's INTA# and device 2's INTB# are both PIRQ C (QEMU's swizzle): the
    line stays up until neither requests."""
    machine = edu_machine(["edu2.plugin=edu", "edu2.device=2", "edu2.address=0xFEA00000",
                           "vga_pci=null"])
    other = machine.component("edu2")
    other.INTERRUPT_PIN = 2                                 # INTB#, as a two-pin card would
    config_write(machine, 1, 0, 0x62, 0x0B, 1)
    mmio_write(machine, 0x60, 0x1)
    other.set_interrupt(True)
    mmio_write(machine, 0x64, 0x1)
    assert machine.bus.irq_levels[EDU_IRQ] == 1
    other.set_interrupt(False)
    assert machine.bus.irq_levels[EDU_IRQ] == 0
    machine.close()


def test_bios_routes_pirqs_sets_level_mode_and_interrupt_lines(tmp_path, floppy_from):
    machine = Machine.from_profile("pc.yaml", WITH_EDU, {"fda": floppy_from(tmp_path, "pci/edu.bin")})
    machine.run_headless(2_000_000)
    assert config_read(machine, 1, 0, 0x60) == 0x0B0B0A0A               # PIRQ A-D: 10, 10, 11, 11
    assert machine.bus.io_read(0x4D1, 1) & 0x0C == 0x0C                 # IRQ 10, 11 level
    assert config_read(machine, EDU_DEVICE, 0, 0x3C, 2) == 0x0100 | EDU_IRQ   # pin INTA#, line 11
    machine.close()


# ---------------------------------------------------------------- tables
def mp_entries(machine: Machine) -> List[bytes]:
    memory = machine.bus.memory
    area = bytes(memory[0xF0000:0x100000])
    floating = next(offset for offset in range(0, len(area), 16) if area[offset:offset + 4] == b"_MP_")
    table = struct.unpack_from("<I", area, floating + 4)[0]
    count = struct.unpack_from("<H", memory, table + 34)[0]
    entries, offset = [], table + 44
    for _ in range(count):
        length = 20 if memory[offset] == 0 else 8
        entries.append(bytes(memory[offset:offset + length]))
        offset += length
    return entries


def test_mp_table_has_pci_bus_0_and_an_entry_per_intx_pin():
    machine = edu_machine()
    entries = mp_entries(machine)
    machine.close()
    assert [entry[1:8] for entry in entries if entry[0] == 1] == [b"\x00PCI   ", b"\x01ISA   "]
    [ioapic] = [entry[1] for entry in entries if entry[0] == 2]
    interrupts = [struct.unpack("<BBHBBBB", entry)[2:] for entry in entries if entry[0] == 3]
    # PCI: flags 1 (active high, level as the bus says), bus 0, IRQ = device << 2 | INTA#
    assert interrupts[0] == (1, 0, EDU_DEVICE << 2, ioapic, EDU_IRQ)
    isa = [(irq, pin) for flags, bus, irq, _, pin in interrupts if bus == 1]
    assert isa == [(0, 2), (1, 1)] + [(irq, irq) for irq in range(3, 16) if irq not in (10, 11)]
    local = [entry for entry in entries if entry[0] == 4]
    assert [entry[4] for entry in local] == [1, 1]                      # source bus: ISA


def test_mp_table_without_pci_keeps_the_isa_bus_as_bus_0():
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC, "pci=null", "isa_bridge=null", "ide_pci=null",
                                               "vga_pci=null"])
    entries = mp_entries(machine)
    machine.close()
    assert [entry[1:8] for entry in entries if entry[0] == 1] == [b"\x00ISA   "]
    assert len([entry for entry in entries if entry[0] == 3]) == 15


# ---------------------------------------------------------------- the edu device
def test_edu_identification_liveness_and_access_sizes():
    machine = edu_machine()
    assert config_read(machine, EDU_DEVICE, 0, 0x00) == 0x11E81234
    assert config_read(machine, EDU_DEVICE, 0, 0x08) == 0x00FF0010      # class 00FFh, revision 10h
    assert mmio_read(machine, 0x00) == 0x010000ED
    mmio_write(machine, 0x04, 0x12345678)
    assert mmio_read(machine, 0x04) == 0xEDCBA987
    assert mmio_read(machine, 0x00, 2) == 0xFFFF                        # dword accesses only
    mmio_write(machine, 0x04, 0x1, 1)
    assert mmio_read(machine, 0x04) == 0xEDCBA987
    config_write(machine, EDU_DEVICE, 0, COMMAND, 0x0000, 2)            # memory decode off
    assert mmio_read(machine, 0x00) == 0xFFFFFFFF
    machine.close()


def test_bar0_sizes_as_one_mebibyte_and_stays_put():
    machine = edu_machine()
    config_write(machine, EDU_DEVICE, 0, 0x10, 0xFFFFFFFF)
    assert config_read(machine, EDU_DEVICE, 0, 0x10) == 0xFFF00000
    config_write(machine, EDU_DEVICE, 0, 0x10, 0xC0000000)
    assert config_read(machine, EDU_DEVICE, 0, 0x10) == EDU
    machine.close()


@pytest.mark.parametrize("n, expected", [(0, 1), (1, 1), (10, 3628800), (13, 6227020800 % 2**32),
                                         (40, 0)])
def test_factorial_is_computed_after_a_delay_and_wraps_at_32_bits(n, expected):
    machine = edu_machine()
    mmio_write(machine, 0x08, n)
    assert mmio_read(machine, 0x20) & 1                     # computing
    mmio_write(machine, 0x08, 99)                           # ignored while busy
    skip(machine, 1_000)
    assert mmio_read(machine, 0x20) & 1 == 0
    assert mmio_read(machine, 0x08) == expected
    assert mmio_read(machine, 0x24) == 0                    # no interrupt asked for
    machine.close()


def load_dma(machine: Machine, source: int, destination: int, count: int, command: int) -> None:
    mmio_write(machine, 0x80, source)
    mmio_write(machine, 0x88, destination)
    mmio_write(machine, 0x90, count)
    mmio_write(machine, 0x98, command)


def test_dma_round_trip_takes_100_ms_and_raises_its_interrupt():
    machine = edu_machine()
    config_write(machine, EDU_DEVICE, 0, COMMAND, 0x0006, 2)            # memory + bus master
    machine.bus.write_bytes(0x20000, bytes(range(64)))
    load_dma(machine, 0x20000, 0x40010, 64, 0x1 | 0x4)
    skip(machine, 99_999_999)
    assert mmio_read(machine, 0x98) & 1                     # still running
    mmio_write(machine, 0x98, 0x0)                          # ignored while running
    skip(machine, 1)
    assert mmio_read(machine, 0x98) == 0x4
    assert mmio_read(machine, 0x24) == 0x100
    load_dma(machine, 0x40010, 0x30000, 64, 0x1 | 0x2)
    skip(machine, 100_000_000)
    assert machine.bus.read_bytes(0x30000, 64) == bytes(range(64))
    machine.close()


@pytest.mark.parametrize("command, source, destination", [
    (0x0002, 0x20000, 0x40000),        # bus master off: nothing moves
    (0x0006, 0x20000, 0x40FF0),        # past the buffer's end: dropped
    (0x0006, 0x20000, 0x3FFF0),        # before its start: dropped
])
def test_dma_that_cannot_happen_moves_nothing(command, source, destination):
    machine = edu_machine()
    config_write(machine, EDU_DEVICE, 0, COMMAND, command, 2)
    machine.bus.write_bytes(0x20000, b"\xAA" * 32)
    machine.bus.write_bytes(0x30000, b"\x55" * 32)
    load_dma(machine, source, destination, 32, 0x1)
    skip(machine, 100_000_000)
    assert mmio_read(machine, 0x98) & 1 == 0                # the transfer ends all the same
    load_dma(machine, 0x40000, 0x30000, 32, 0x1 | 0x2)     # the buffer back to RAM
    skip(machine, 100_000_000)
    # without bus master RAM keeps its bytes; else the untouched (zero) buffer arrives
    assert machine.bus.read_bytes(0x30000, 32) == (bytes(32) if command & 4 else b"\x55" * 32)
    machine.close()


def test_dma_addresses_are_masked_to_28_bits():
    machine = edu_machine()
    config_write(machine, EDU_DEVICE, 0, COMMAND, 0x0006, 2)
    machine.bus.write_bytes(0x20000, b"masked")
    load_dma(machine, 0x10020000, 0x40000, 6, 0x1)
    skip(machine, 100_000_000)
    load_dma(machine, 0x40000, 0x30000, 6, 0x3)
    skip(machine, 100_000_000)
    assert machine.bus.read_bytes(0x30000, 6) == b"masked"
    machine.close()


def test_snapshot_mid_transfer_finishes_the_same_with_the_interrupt_pending():
    machine = edu_machine()
    config_write(machine, 1, 0, 0x62, 0x0B, 1)
    config_write(machine, EDU_DEVICE, 0, COMMAND, 0x0006, 2)
    machine.bus.write_bytes(0x20000, b"snapshot")
    mmio_write(machine, 0x20, 0x80)
    mmio_write(machine, 0x08, 5)
    load_dma(machine, 0x20000, 0x40000, 8, 0x1 | 0x4)
    skip(machine, 50_000_000)                               # factorial done, DMA half way
    state = machine.snapshot()
    restored = edu_machine()
    restored.restore(state)
    machine.close()
    assert restored.bus.irq_levels[EDU_IRQ] == 1            # the factorial's interrupt
    assert mmio_read(restored, 0x24) == 0x1
    assert mmio_read(restored, 0x08) == 120
    mmio_write(restored, 0x64, 0x1)
    assert restored.bus.irq_levels[EDU_IRQ] == 0
    skip(restored, 50_000_000)
    assert mmio_read(restored, 0x24) == 0x100
    assert restored.bus.irq_levels[EDU_IRQ] == 1
    load_dma(restored, 0x40000, 0x30000, 8, 0x3)
    skip(restored, 100_000_000)
    assert restored.bus.read_bytes(0x30000, 8) == b"snapshot"
    restored.close()


# ---------------------------------------------------------------- the guest
def test_guest_drives_the_edu_device_with_its_interrupt(tmp_path, floppy_from):
    console = PortE9Capture()
    machine = Machine.from_profile("pc.yaml", WITH_EDU, {"fda": floppy_from(tmp_path, "pci/edu.bin")},
                                   setup=lambda m: m.add_plugin(console))
    reason = machine.run_headless(30_000_000)
    machine.close()
    assert reason == "halted"
    assert console.text.splitlines() == [
        "edu: 00:03.0 bar0=FEB00000 line=0B pin=01",
        "id=010000ED live=EDCBA987",
        "irr: raised=1 acked=0",
        "disable: irr=0 enable: irr=1",
        "fact=00375F00 irqs=1 status=00000001",
        "dma: copy=ok irqs=3 status=00000100",
        "edu: done"]


def test_guest_without_the_device_says_so(tmp_path, floppy_from):
    console = PortE9Capture()
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC], {"fda": floppy_from(tmp_path, "pci/edu.bin")},
                                   setup=lambda m: m.add_plugin(console))
    machine.run_headless(5_000_000)
    machine.close()
    assert console.text.splitlines() == ["edu: none"]
