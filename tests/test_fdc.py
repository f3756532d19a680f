"""The 82077AA floppy controller and the 8237A DMA controllers, driven through their
ports as a driver does (reset and the four ready-changed reports, SPECIFY,
RECALIBRATE/SEEK with IRQ 6 and SENSE INTERRUPT STATUS, READ/WRITE DATA by DMA
channel 2 against the host image, multi-track, READ ID, FORMAT TRACK, VERSION,
DUMPREG, LOCK, disk change, invalid commands), and the same machine snapshotted in
the middle of a command."""

import pytest

from pcmachine import Machine
from pcmachine.media import Disk
from pcmachine.plugins.chipset.i8237 import DMAController
from pcmachine.plugins.floppy.controller import FloppyController

DOR, MSR, FIFO, DIR = 0x3F2, 0x3F4, 0x3F5, 0x3F7
BUFFER = 0x8000
FLOPPY = 1474560


def pattern(lba: int) -> bytes:
    return bytes((lba * 7 + i) & 0xFF for i in range(512))


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "floppy.img"
    path.write_bytes(b"".join(pattern(lba) for lba in range(FLOPPY // 512)))
    return str(path)


@pytest.fixture
def machine(image):
    machine = Machine.bare()
    machine.bus.attach_ram(1 << 20)
    machine.media["fda"] = Disk("fda", image, "floppy")
    machine.add_component(DMAController, "dma", {})
    machine.add_component(FloppyController, "fdc", {"dma": "dma"})
    yield machine
    machine.close()


def out(machine, port, value):
    machine.bus.io_write(port, 1, value)


def inp(machine, port):
    return machine.bus.io_read(port, 1)


def settle(machine, ns=50_000_000):
    """Let the controller finish what it is doing (seek, transfer)."""
    clock = machine.clock
    clock.skip_to(clock.now() + ns)
    clock.run_due()


def command(machine, *values):
    for value in values:
        assert inp(machine, MSR) & 0xC0 == 0x80, "controller not ready for a command byte"
        out(machine, FIFO, value)


def results(machine):
    values = []
    while inp(machine, MSR) & 0xD0 == 0xD0:          # RQM, DIO, busy: a result byte waits
        values.append(inp(machine, FIFO))
    return values


def irq6(machine):
    return machine.bus.irq_levels[6]


def reset_controller(machine):
    out(machine, DOR, 0x00)
    out(machine, DOR, 0x1C)                           # motor A, DMA/IRQ on, out of reset, drive 0
    settle(machine)
    assert irq6(machine)
    sense = []
    for _ in range(4):
        command(machine, 0x08)
        sense.append(results(machine))
    assert sense == [[0xC0 | drive, 0] for drive in range(4)]
    assert not irq6(machine)


def program_dma(machine, mode, address, length):
    out(machine, 0x0A, 0x06)                          # mask channel 2
    out(machine, 0x0C, 0)                             # clear the flip-flop
    out(machine, 0x0B, mode | 2)
    out(machine, 0x04, address & 0xFF)
    out(machine, 0x04, (address >> 8) & 0xFF)
    out(machine, 0x81, address >> 16)
    out(machine, 0x05, (length - 1) & 0xFF)
    out(machine, 0x05, (length - 1) >> 8)
    out(machine, 0x0A, 0x02)                          # unmask


def seek(machine, cylinder, head=0):
    command(machine, 0x0F, head << 2, cylinder)
    settle(machine)
    assert irq6(machine)
    command(machine, 0x08)
    assert results(machine) == [0x20 | (head << 2), cylinder]


def test_reset_specify_recalibrate_seek(machine):
    reset_controller(machine)
    command(machine, 0x03, 0xDF, 0x02)                # SPECIFY: no result
    assert results(machine) == []
    assert inp(machine, DIR) & 0x80                   # disk change since power-on
    command(machine, 0x07, 0x00)                      # RECALIBRATE
    assert inp(machine, MSR) & 0x10                   # busy until the heads arrive
    settle(machine)
    command(machine, 0x08)
    assert results(machine) == [0x20, 0]
    assert inp(machine, DIR) & 0x80                   # already on track 0: no step, still set
    seek(machine, 40)
    assert not inp(machine, DIR) & 0x80               # a step with a disk in clears it
    command(machine, 0x04, 0x00)                      # SENSE DRIVE STATUS: ready, two sides
    assert results(machine) == [0x28]


def test_read_data_by_dma_matches_the_image(machine):
    reset_controller(machine)
    seek(machine, 1)
    program_dma(machine, 0x44, BUFFER, 1024)          # write to memory, single mode, two sectors
    command(machine, 0xE6, 0x00, 1, 0, 3, 2, 18, 0x1B, 0xFF)   # READ DATA C1 H0 R3
    settle(machine)
    assert irq6(machine)
    assert results(machine) == [0x00, 0x00, 0x00, 1, 0, 5, 2]  # stopped at terminal count: next is R5
    assert not irq6(machine)
    lba = (1 * 2 + 0) * 18 + 2
    assert machine.bus.read_bytes(BUFFER, 1024) == pattern(lba) + pattern(lba + 1)
    assert inp(machine, 0x08) & 0x04                  # DMA status: channel 2 reached TC


def test_multi_track_read_crosses_to_head_1(machine):
    reset_controller(machine)
    program_dma(machine, 0x44, BUFFER, 3 * 512)
    command(machine, 0xE6, 0x00, 0, 0, 17, 2, 18, 0x1B, 0xFF)  # R17, R18 of head 0, then R1 of head 1
    settle(machine)
    assert results(machine) == [0x04, 0x00, 0x00, 0, 1, 2, 2]
    assert machine.bus.read_bytes(BUFFER, 1536) == pattern(16) + pattern(17) + pattern(18)


def test_write_data_reaches_the_image(machine, image):
    reset_controller(machine)
    data = bytes(range(256)) * 2
    machine.bus.write_bytes(BUFFER, data)
    program_dma(machine, 0x48, BUFFER, 512)           # read from memory
    command(machine, 0xC5, 0x04, 2, 1, 7, 2, 18, 0x1B, 0xFF)   # WRITE DATA C2 H1 R7
    settle(machine)
    assert results(machine)[:3] == [0x04, 0x00, 0x00]
    machine.flush_media()
    lba = (2 * 2 + 1) * 18 + 6
    with open(image, "rb") as handle:
        handle.seek(lba * 512)
        assert handle.read(512) == data


def test_a_first_sector_the_track_lacks_is_not_found(machine):
    """A loader asks the Bochs BIOS for sector 36 of an 18-sector track, which
    passes it on as R = EOT = 36: No Data, as on the chip and in QEMU (it then
    reads sector by sector).  A transfer from sector 1 with that EOT runs on to
    head 1 at the end of the track, as in Bochs and QEMU."""
    reset_controller(machine)
    program_dma(machine, 0x44, BUFFER, 512)
    command(machine, 0xE6, 0x00, 0, 0, 36, 2, 36, 0x1B, 0xFF)  # C0 H0 R36
    settle(machine)
    st0, st1 = results(machine)[:2]
    assert (st0 & 0xC0, st1) == (0x40, 0x04)
    program_dma(machine, 0x44, BUFFER, 36 * 512)
    command(machine, 0xE6, 0x00, 0, 0, 1, 2, 36, 0x1B, 0xFF)   # C0 H0 R1, EOT 36
    settle(machine)
    assert results(machine)[:6] == [0x00, 0x00, 0x00, 1, 0, 1]  # terminal count: next C1 H0 R1
    assert machine.bus.read_bytes(BUFFER, 36 * 512) == b"".join(pattern(i) for i in range(36))


def test_the_interrupt_line_drops_at_each_sense_and_rises_again_for_a_seek(machine):
    """The Bochs BIOS senses once after its reset, then recalibrates and waits for
    IRQ 6: the first sense must drop the line, or the seek's end makes no edge."""
    out(machine, DOR, 0x00)
    out(machine, DOR, 0x1C)
    settle(machine)
    assert irq6(machine)
    command(machine, 0x08)
    assert results(machine) == [0xC0, 0] and not irq6(machine)
    command(machine, 0x07, 0x00)                      # RECALIBRATE
    settle(machine)
    assert irq6(machine)
    command(machine, 0x08)                            # the reset reports left are gone
    assert results(machine) == [0x20, 0] and not irq6(machine)
    command(machine, 0x08)
    assert results(machine) == [0x80]


def test_read_past_the_track_ends_with_end_of_cylinder(machine):
    reset_controller(machine)
    program_dma(machine, 0x44, BUFFER, 4 * 512)
    command(machine, 0x66, 0x00, 0, 0, 18, 2, 18, 0x1B, 0xFF)  # no MT: R18 then end of track
    settle(machine)
    st0, st1 = results(machine)[:2]
    assert st0 & 0xC0 == 0x40 and st1 == 0x80
    assert machine.bus.read_bytes(BUFFER, 512) == pattern(17)


def test_read_id_format_and_identity_commands(machine, image):
    reset_controller(machine)
    seek(machine, 3)
    command(machine, 0x4A, 0x00)                      # READ ID
    settle(machine)
    assert results(machine) == [0x00, 0x00, 0x00, 3, 0, 1, 2]
    ids = b"".join(bytes((3, 0, r, 2)) for r in range(1, 19))
    machine.bus.write_bytes(BUFFER, ids)
    program_dma(machine, 0x48, BUFFER, len(ids))
    command(machine, 0x4D, 0x00, 2, 18, 0x54, 0xE5)   # FORMAT TRACK, filler E5
    settle(machine)
    assert results(machine)[:3] == [0x00, 0x00, 0x00]
    machine.flush_media()
    with open(image, "rb") as handle:
        handle.seek(3 * 2 * 18 * 512)
        assert handle.read(18 * 512) == b"\xe5" * (18 * 512)
    command(machine, 0x10)
    assert results(machine) == [0x90]                 # VERSION: 82077AA
    command(machine, 0x94)
    assert results(machine) == [0x10]                 # LOCK on
    command(machine, 0x0E)
    dump = results(machine)
    assert len(dump) == 10 and dump[3 - 3] == 3 and dump[7] & 0x80
    command(machine, 0x1F)
    assert results(machine) == [0x80]                 # invalid command
    command(machine, 0x08)
    assert results(machine) == [0x80]                 # no interrupt pending


def test_medium_change_raises_the_disk_change_line(machine, tmp_path):
    """A swap raises DIR bit 7; a seek to the same cylinder leaves it, one to
    another clears it; an empty drive keeps it set and its reads fail."""
    reset_controller(machine)
    seek(machine, 1)
    assert not inp(machine, DIR) & 0x80
    other = tmp_path / "720k.img"
    other.write_bytes(b"\x5a" * 737280)
    machine.drives.request("A", str(other))
    assert not inp(machine, DIR) & 0x80               # a host input: applied at the slice boundary
    machine.run_slice()
    assert inp(machine, DIR) & 0x80
    assert machine.media["fda"].spt == 9
    seek(machine, 1)
    assert inp(machine, DIR) & 0x80                   # no step pulse
    seek(machine, 2)
    assert not inp(machine, DIR) & 0x80
    machine.drives.request("fda", None)
    machine.run_slice()
    assert "fda" not in machine.media and inp(machine, DIR) & 0x80
    seek(machine, 5)
    assert inp(machine, DIR) & 0x80                   # no medium: the line stays active
    program_dma(machine, 0x46, 0x1000, 512)
    command(machine, 0x46, 0x00, 5, 0, 1, 2, 18, 0x1B, 0xFF)
    settle(machine)
    assert results(machine)[:2] == [0x40, 0x01]       # abnormal end, no address mark


def test_snapshot_in_the_middle_of_a_read(machine, image, tmp_path):
    """Restored into a fresh machine, a read in flight completes the same way."""
    reset_controller(machine)
    program_dma(machine, 0x44, BUFFER, 512)
    command(machine, 0xE6, 0x04, 0, 1, 5, 2, 18, 0x1B, 0xFF)   # head 1, R5
    state = machine.snapshot()
    other = Machine.bare()
    other.bus.attach_ram(1 << 20)
    other.media["fda"] = Disk("fda", image, "floppy")
    other.add_component(DMAController, "dma", {})
    other.add_component(FloppyController, "fdc", {"dma": "dma"})
    other.restore(state)
    for m in (machine, other):
        settle(m)
    assert results(machine) == results(other) == [0x04, 0, 0, 0, 1, 6, 2]
    assert other.bus.read_bytes(BUFFER, 512) == machine.bus.read_bytes(BUFFER, 512) == pattern(18 + 4)
    other.close()


def test_dma_registers_read_back_and_page_registers(machine):
    program_dma(machine, 0x44, 0x123456, 0x200)
    out(machine, 0x0C, 0)
    assert (inp(machine, 0x04), inp(machine, 0x04)) == (0x56, 0x34)
    assert (inp(machine, 0x05), inp(machine, 0x05)) == (0xFF, 0x01)
    assert inp(machine, 0x81) == 0x12
    out(machine, 0x0D, 0)                             # master clear masks every channel
    assert inp(machine, 0x0F) & 0x0F == 0x0F


def test_short_image_reads_zeros_past_its_end(tmp_path):
    """A floppy image shorter than its format (1.44M geometry, 20 sectors here) is
    the start of a whole medium: a read that runs past the file's end gets zeros
    and ends normally (QEMU's fdc.c and Bochs' floppy.cc zero-fill), a write there
    ends with ST1 no data, and FORMAT TRACK leaves what is not in the file alone."""
    path = tmp_path / "short.img"
    path.write_bytes(b"".join(pattern(lba) for lba in range(20)))
    machine = Machine.bare()
    machine.bus.attach_ram(1 << 20)
    machine.media["fda"] = Disk("fda", str(path), "floppy")
    machine.add_component(DMAController, "dma", {})
    machine.add_component(FloppyController, "fdc", {"dma": "dma"})
    reset_controller(machine)
    machine.bus.write_bytes(BUFFER + 1024, b"\xFF" * 1024)
    program_dma(machine, 0x44, BUFFER, 4 * 512)
    command(machine, 0xE6, 0x04, 0, 1, 1, 2, 18, 0x1B, 0xFF)   # H1 R1..R4: LBA 18..21
    settle(machine)
    st0, st1 = results(machine)[:2]
    assert st0 & 0xC0 == 0 and st1 == 0                # normal end at terminal count
    assert machine.bus.read_bytes(BUFFER, 2048) == pattern(18) + pattern(19) + bytes(1024)
    program_dma(machine, 0x48, BUFFER, 512)
    command(machine, 0xC5, 0x04, 0, 1, 3, 2, 18, 0x1B, 0xFF)   # WRITE DATA H1 R3: LBA 20
    settle(machine)
    st0, st1 = results(machine)[:2]
    assert st0 & 0xC0 == 0x40 and st1 == 0x04          # abnormal end, no data
    seek(machine, 1)
    machine.bus.write_bytes(BUFFER, b"".join(bytes((1, 0, sector, 2)) for sector in range(1, 19)))
    program_dma(machine, 0x48, BUFFER, 18 * 4)
    command(machine, 0x4D, 0x00, 2, 18, 0x1B, 0xE5)      # FORMAT TRACK C1 H0: all past the end
    settle(machine)
    assert results(machine)[0] & 0xC0 == 0
    machine.close()
    assert path.read_bytes() == b"".join(pattern(lba) for lba in range(20))


def test_a_host_write_error_is_an_equipment_check(machine):
    def full(lba, data):
        raise OSError(28, "No space left on device")
    machine.media["fda"].write = full
    reset_controller(machine)
    program_dma(machine, 0x48, BUFFER, 512)
    command(machine, 0xC5, 0x00, 0, 0, 1, 2, 18, 0x1B, 0xFF)   # WRITE DATA C0 H0 R1
    settle(machine)
    st0, st1 = results(machine)[:2]
    assert st0 & 0xD0 == 0x50 and st1 == 0x04                   # abnormal end, equipment check
