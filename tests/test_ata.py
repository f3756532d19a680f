"""ATA/IDE channel: driven through its ports as a guest driver does, with temporary
raw images, checking status, task file registers, data and IRQ 14/15 levels."""

import os
import random
import struct

import pytest

from pcmachine import Machine, hookimpl
from pcmachine.errors import ProfileError
from pcmachine.media import Disk
from pcmachine.plugins.ata.channel import COMMAND_DELAY_NS, ATAChannel
from pcmachine.plugins.ata.taskfile import (ERROR_ABRT, ERROR_IDNF, STATUS_BSY, STATUS_DRDY,
                                            STATUS_DF, STATUS_DRQ, STATUS_DSC, STATUS_ERR)

DATA, ERROR, COUNT, LBA_LOW, LBA_MID, LBA_HIGH, DEVICE, STATUS = range(0x1F0, 0x1F8)
FEATURES, COMMAND = ERROR, STATUS
CONTROL, DRIVE_ADDRESS = 0x3F6, 0x3F7
IDLE = STATUS_DRDY | STATUS_DSC
CYLINDERS, HEADS, SPT = 20, 16, 63
SECTORS = CYLINDERS * HEADS * SPT
GUEST_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "ata", "ata_rw.bin")


def sector_pattern(lba):
    """Recognisable contents of sector `lba` of a fresh test image."""
    return struct.pack("<I", lba) * 128


def make_image(folder, name="disk.img", sectors=SECTORS):
    path = str(folder / name)
    with open(path, "wb") as handle:
        for lba in range(sectors):
            handle.write(sector_pattern(lba))
    return path


def file_sector(path, lba):
    with open(path, "rb") as handle:
        handle.seek(lba * 512)
        return handle.read(512)


def make_machine(*disks, options=None):
    """A bare machine with an ATA channel; `disks` are (medium name, Disk)."""
    machine = Machine.bare()
    for medium, disk in disks:
        machine.media[medium] = disk
    machine.add_component(ATAChannel, "ide0", dict(options or {}))
    return machine


@pytest.fixture
def image(tmp_path):
    return make_image(tmp_path)


@pytest.fixture
def machine(image):
    machine = make_machine(("hda", Disk("hda", image, "hdd")))
    yield machine
    machine.close()


def outb(machine, port, value):
    machine.bus.io_write(port, 1, value)


def inb(machine, port):
    return machine.bus.io_read(port, 1)


def advance(machine, ns=COMMAND_DELAY_NS):
    """Let virtual time pass and fire what is due."""
    clock = machine.clock
    clock.skip_to(clock.now() + ns)
    clock.run_due()


def wait_not_busy(machine):
    assert inb(machine, CONTROL) & STATUS_BSY
    advance(machine)
    status = inb(machine, CONTROL)
    assert not status & STATUS_BSY
    return status


def read_words(machine, count, port=DATA):
    return b"".join(machine.bus.io_read(port, 2).to_bytes(2, "little") for _ in range(count))


def write_words(machine, data):
    for offset in range(0, len(data), 2):
        machine.bus.io_write(DATA, 2, int.from_bytes(data[offset:offset + 2], "little"))


def issue_lba28(machine, command, lba, count, device=0):
    outb(machine, DEVICE, 0xE0 | (device << 4) | ((lba >> 24) & 0x0F))
    outb(machine, COUNT, count & 0xFF)
    outb(machine, LBA_LOW, lba & 0xFF)
    outb(machine, LBA_MID, (lba >> 8) & 0xFF)
    outb(machine, LBA_HIGH, (lba >> 16) & 0xFF)
    outb(machine, COMMAND, command)


def issue_lba48(machine, command, lba, count):
    outb(machine, DEVICE, 0x40)
    for port, shift in ((COUNT, 8), (LBA_LOW, 24), (LBA_MID, 32), (LBA_HIGH, 40)):
        outb(machine, port, ((count if port == COUNT else lba) >> shift) & 0xFF)
    for port, shift in ((COUNT, 0), (LBA_LOW, 0), (LBA_MID, 8), (LBA_HIGH, 16)):
        outb(machine, port, ((count if port == COUNT else lba) >> shift) & 0xFF)
    outb(machine, COMMAND, command)


def issue_chs(machine, command, cylinder, head, sector, count):
    outb(machine, DEVICE, 0xA0 | head)
    outb(machine, COUNT, count)
    outb(machine, LBA_LOW, sector)
    outb(machine, LBA_MID, cylinder & 0xFF)
    outb(machine, LBA_HIGH, cylinder >> 8)
    outb(machine, COMMAND, command)


def identify(machine):
    outb(machine, COMMAND, 0xEC)
    assert wait_not_busy(machine) & STATUS_DRQ
    data = read_words(machine, 256)
    return list(struct.unpack("<256H", data)), data


def ata_text(words):
    return b"".join(struct.pack(">H", word) for word in words).decode("ascii")


# ---------------------------------------------------------------------- IDENTIFY


def test_identify_reports_geometry_strings_capacity_and_checksum(machine):
    outb(machine, DEVICE, 0xA0)
    assert inb(machine, STATUS) == IDLE
    words, raw = identify(machine)
    assert inb(machine, STATUS) == IDLE            # all 512 bytes read: DRQ off
    assert words[0] == 0x0040
    assert (words[1], words[3], words[6]) == (CYLINDERS, HEADS, SPT)
    assert (words[54], words[55], words[56]) == (CYLINDERS, HEADS, SPT)
    assert words[57] | words[58] << 16 == SECTORS
    assert words[60] | words[61] << 16 == SECTORS
    assert sum(words[100 + i] << (16 * i) for i in range(4)) == SECTORS
    assert ata_text(words[27:47]).rstrip() == "PCMACHINE HARDDISK"
    assert raw[54:62] == b"CPAMHCNI"                        # "PCMACHIN", each pair swapped
    assert ata_text(words[23:27]).rstrip() == "1.0"
    serial = ata_text(words[10:20])
    assert len(serial) == 20 and serial.strip() and serial.isascii()
    assert words[47] == 0x8000 | 16 and words[59] == 0      # multiple: max 16, not set
    assert words[49] & (1 << 9)                             # LBA supported
    assert words[48] == 1                                   # 32-bit I/O
    assert words[83] & (1 << 10) and words[86] & (1 << 10)  # LBA48
    assert words[83] & (3 << 12)                            # FLUSH CACHE (EXT)
    assert words[255] & 0xFF == 0xA5 and sum(raw) & 0xFF == 0


def test_identify_packet_and_unknown_commands_abort(machine):
    for command in (0xA1, 0xA0, 0x00, 0x08, 0xFF, 0xC8):
        outb(machine, COMMAND, command)
        status = wait_not_busy(machine)
        assert status == IDLE | STATUS_ERR, hex(command)
        assert inb(machine, ERROR) == ERROR_ABRT


def test_identify_with_32bit_reads(machine):
    outb(machine, COMMAND, 0xEC)
    wait_not_busy(machine)
    data = b"".join(machine.bus.io_read(DATA, 4).to_bytes(4, "little") for _ in range(128))
    assert inb(machine, STATUS) == IDLE
    outb(machine, COMMAND, 0xEC)
    wait_not_busy(machine)
    assert read_words(machine, 256) == data


# ---------------------------------------------------------------------- reads


def test_status_is_busy_until_the_command_completes_on_the_clock(machine):
    issue_lba28(machine, 0x20, 5, 1)
    assert inb(machine, CONTROL) == STATUS_BSY
    assert machine.bus.io_read(DATA, 2) == 0                # no DRQ yet
    machine.clock.icount += 1                               # far less than the delay
    machine.clock.run_due()
    assert inb(machine, CONTROL) == STATUS_BSY
    advance(machine)
    assert inb(machine, CONTROL) == IDLE | STATUS_DRQ


@pytest.mark.parametrize("mode", ["chs", "lba28", "lba48"])
def test_polled_multi_sector_read_is_readable_back_to_back(machine, mode):
    lba, count = 1000, 5
    if mode == "chs":
        cylinder, rest = divmod(lba, HEADS * SPT)
        issue_chs(machine, 0x20, cylinder, rest // SPT, rest % SPT + 1, count)
    elif mode == "lba28":
        issue_lba28(machine, 0x20, lba, count)
    else:
        issue_lba48(machine, 0x24, lba, count)
    assert wait_not_busy(machine) == IDLE | STATUS_DRQ
    data = read_words(machine, 256 * count)                 # one `rep insw` over all sectors
    assert data == b"".join(sector_pattern(lba + i) for i in range(count))
    assert inb(machine, STATUS) == IDLE
    assert inb(machine, COUNT) == 0
    end = lba + count                                       # the task file names the next sector
    if mode == "chs":
        cylinder, rest = divmod(end, HEADS * SPT)
        assert (inb(machine, LBA_HIGH) << 8 | inb(machine, LBA_MID)) == cylinder
        assert inb(machine, DEVICE) & 0x0F == rest // SPT
        assert inb(machine, LBA_LOW) == rest % SPT + 1
    else:
        assert inb(machine, LBA_LOW) | inb(machine, LBA_MID) << 8 | inb(machine, LBA_HIGH) << 16 == end


def test_lba48_count_and_address_use_the_hob_register_pairs(machine):
    issue_lba48(machine, 0x24, 3, 0x0101)                   # 257 sectors: needs the high count byte
    wait_not_busy(machine)
    data = read_words(machine, 256 * 257)
    assert data[-512:] == sector_pattern(3 + 256)
    assert inb(machine, STATUS) == IDLE
    outb(machine, CONTROL, 0x80)                            # HOB: read the previous bytes
    assert [inb(machine, port) for port in (COUNT, LBA_LOW, LBA_MID, LBA_HIGH)] == [0, 0, 0, 0]
    outb(machine, CONTROL, 0x00)
    assert inb(machine, LBA_LOW) | inb(machine, LBA_MID) << 8 == 3 + 257
    issue_lba48(machine, 0x24, 1 << 32, 1)                  # bits 32-39 come from the HOB byte
    wait_not_busy(machine)
    assert inb(machine, STATUS) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF


def test_hob_bit_reads_the_previous_register_value_and_any_write_clears_it(machine):
    outb(machine, LBA_MID, 0x12)
    outb(machine, LBA_MID, 0x34)
    outb(machine, CONTROL, 0x80)
    assert inb(machine, LBA_MID) == 0x12
    outb(machine, COUNT, 7)
    assert inb(machine, LBA_MID) == 0x34                    # the write cleared HOB


def test_32bit_data_port_reads_and_writes(machine, image):
    issue_lba28(machine, 0x20, 7, 2)
    wait_not_busy(machine)
    data = b"".join(machine.bus.io_read(DATA, 4).to_bytes(4, "little") for _ in range(256))
    assert data == sector_pattern(7) + sector_pattern(8)
    payload = bytes(range(256)) * 4
    issue_lba28(machine, 0x30, 40, 2)
    assert inb(machine, STATUS) == IDLE | STATUS_DRQ
    for offset in range(0, len(payload), 4):
        machine.bus.io_write(DATA, 4, int.from_bytes(payload[offset:offset + 4], "little"))
    advance(machine)
    assert inb(machine, STATUS) == IDLE
    outb(machine, COMMAND, 0xE7)
    wait_not_busy(machine)
    assert file_sector(image, 40) + file_sector(image, 41) == payload


def test_read_multiple_transfers_blocks_and_set_multiple_validates(machine):
    issue_lba28(machine, 0xC4, 0, 4)                        # multiple mode not set yet
    assert wait_not_busy(machine) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_ABRT
    for bad in (0, 3, 32):
        outb(machine, COUNT, bad)
        outb(machine, COMMAND, 0xC6)
        assert wait_not_busy(machine) & STATUS_ERR, bad
    outb(machine, COUNT, 4)
    outb(machine, COMMAND, 0xC6)
    assert wait_not_busy(machine) == IDLE
    words, _ = identify(machine)
    assert words[59] == 0x0104
    inb(machine, STATUS)                                    # acknowledge IDENTIFY's interrupt
    levels = []
    machine.bus.connect_irq(14, levels.append)
    issue_lba28(machine, 0xC4, 100, 10)                     # blocks of 4, 4, 2
    wait_not_busy(machine)
    for first, block in ((100, 4), (104, 4), (108, 2)):
        assert machine.bus.irq_levels[14] == 1
        assert inb(machine, STATUS) == IDLE | STATUS_DRQ    # acknowledges the block's interrupt
        assert machine.bus.irq_levels[14] == 0
        assert read_words(machine, 256 * block) == b"".join(sector_pattern(first + i) for i in range(block))
    assert inb(machine, STATUS) == IDLE and machine.bus.irq_levels[14] == 0
    assert levels == [1, 0, 1, 0, 1, 0]


def test_read_verify_and_seek_and_recalibrate(machine):
    issue_lba28(machine, 0x40, 10, 20)
    assert wait_not_busy(machine) == IDLE
    issue_lba28(machine, 0x40, SECTORS - 5, 20)
    assert wait_not_busy(machine) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF
    issue_lba48(machine, 0x42, SECTORS - 20, 20)
    assert wait_not_busy(machine) == IDLE
    issue_chs(machine, 0x70, 3, 2, 1, 0)
    assert wait_not_busy(machine) == IDLE
    issue_chs(machine, 0x70, CYLINDERS, 0, 1, 0)
    assert wait_not_busy(machine) & STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF
    issue_chs(machine, 0x10, 5, 1, 1, 0)
    assert wait_not_busy(machine) == IDLE
    assert inb(machine, LBA_MID) == 0 and inb(machine, LBA_HIGH) == 0


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("address", [
    ("lba28", SECTORS, 1),            # first sector past the end
    ("chs", 0, 0, 0),                 # sector numbers start at 1
    ("chs", 0, 0, SPT + 1),
    ("chs", CYLINDERS, 0, 1),
])
def test_out_of_range_sectors_fail_with_idnf(machine, address):
    if address[0] == "lba28":
        issue_lba28(machine, 0x20, address[1], address[2])
    else:
        issue_chs(machine, 0x20, address[1], address[2], address[3], 1)
    assert wait_not_busy(machine) == IDLE | STATUS_ERR
    assert inb(machine, ERROR) == ERROR_IDNF
    assert machine.bus.io_read(DATA, 2) == 0


def test_read_running_off_the_end_transfers_the_good_sectors_then_idnf(machine):
    issue_lba28(machine, 0x20, SECTORS - 2, 4)
    wait_not_busy(machine)
    assert read_words(machine, 512) == sector_pattern(SECTORS - 2) + sector_pattern(SECTORS - 1)
    assert inb(machine, STATUS) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF
    assert inb(machine, LBA_LOW) | inb(machine, LBA_MID) << 8 | inb(machine, LBA_HIGH) << 16 == SECTORS


def test_a_multiple_block_crossing_the_end_names_the_first_missing_sector(machine):
    outb(machine, COUNT, 8)
    outb(machine, COMMAND, 0xC6)
    wait_not_busy(machine)
    issue_lba28(machine, 0xC4, SECTORS - 3, 8)
    assert wait_not_busy(machine) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF
    assert inb(machine, LBA_LOW) | inb(machine, LBA_MID) << 8 | inb(machine, LBA_HIGH) << 16 == SECTORS
    issue_lba28(machine, 0xC5, SECTORS - 1, 2)              # the same for a write
    assert inb(machine, STATUS) == STATUS_BSY
    advance(machine)
    assert inb(machine, STATUS) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF
    assert inb(machine, LBA_LOW) | inb(machine, LBA_MID) << 8 | inb(machine, LBA_HIGH) << 16 == SECTORS


def test_commands_while_busy_are_ignored(machine):
    issue_lba28(machine, 0x20, 1, 1)
    outb(machine, COMMAND, 0xEC)
    advance(machine)
    assert read_words(machine, 256) == sector_pattern(1)


# ---------------------------------------------------------------------- writes


@pytest.mark.parametrize("mode", ["chs", "lba28", "lba48"])
def test_polled_write_reaches_the_image_file(machine, image, mode):
    payload = b"".join(bytes([0x40 + i]) * 512 for i in range(3))
    lba = 2000
    if mode == "chs":
        cylinder, rest = divmod(lba, HEADS * SPT)
        issue_chs(machine, 0x30, cylinder, rest // SPT, rest % SPT + 1, 3)
    elif mode == "lba28":
        issue_lba28(machine, 0x30, lba, 3)
    else:
        issue_lba48(machine, 0x34, lba, 3)
    assert inb(machine, STATUS) == IDLE | STATUS_DRQ        # DRQ at once, as Bochs
    write_words(machine, payload)                           # one `rep outsw`
    assert inb(machine, STATUS) == STATUS_BSY               # final completion pending
    advance(machine)
    assert inb(machine, STATUS) == IDLE
    outb(machine, COMMAND, 0xEA if mode == "lba48" else 0xE7)
    assert wait_not_busy(machine) == IDLE
    for i in range(3):
        assert file_sector(image, lba + i) == payload[i * 512:(i + 1) * 512]
    assert file_sector(image, lba + 3) == sector_pattern(lba + 3)
    issue_lba28(machine, 0x20, lba, 3)
    wait_not_busy(machine)
    assert read_words(machine, 768) == payload


def test_write_interrupts_per_sector_and_after_the_last(machine):
    levels = []
    machine.bus.connect_irq(14, levels.append)
    issue_lba28(machine, 0x30, 50, 2)
    assert machine.bus.irq_levels[14] == 0                  # no interrupt before the first sector
    write_words(machine, b"\x11" * 512)
    assert machine.bus.irq_levels[14] == 1 and inb(machine, STATUS) == IDLE | STATUS_DRQ
    write_words(machine, b"\x22" * 512)
    assert machine.bus.irq_levels[14] == 0
    advance(machine)
    assert machine.bus.irq_levels[14] == 1
    assert inb(machine, STATUS) == IDLE and levels == [1, 0, 1, 0]


def test_write_multiple_and_sectors_reach_the_disk_one_by_one(machine):
    outb(machine, COUNT, 2)
    outb(machine, COMMAND, 0xC6)
    wait_not_busy(machine)
    disk = machine.media["hda"]
    issue_lba28(machine, 0xC5, 300, 3)
    write_words(machine, b"\x31" * 512)
    assert disk.read(300, 1) == b"\x31" * 512               # written before the block is complete
    write_words(machine, b"\x32" * 512)
    assert machine.bus.irq_levels[14] == 1                  # block of 2 done: next block requested
    assert inb(machine, STATUS) == IDLE | STATUS_DRQ
    write_words(machine, b"\x33" * 512)
    advance(machine)
    assert inb(machine, STATUS) == IDLE
    assert disk.read(300, 3) == b"\x31" * 512 + b"\x32" * 512 + b"\x33" * 512
    issue_lba48(machine, 0x39, 400, 2)
    write_words(machine, b"\x44" * 1024)
    advance(machine)
    assert inb(machine, STATUS) == IDLE and disk.read(400, 2) == b"\x44" * 1024


def test_write_to_a_readonly_medium_aborts(tmp_path, image):
    machine = make_machine(("hda", Disk("hda", image, "hdd", readonly=True)))
    issue_lba28(machine, 0x30, 9, 1)
    write_words(machine, b"\xEE" * 512)
    assert inb(machine, STATUS) == IDLE | STATUS_ERR and inb(machine, ERROR) == ERROR_ABRT
    machine.close()
    assert file_sector(image, 9) == sector_pattern(9)


def test_overlay_keeps_the_base_image_unchanged(image):
    machine = make_machine(("hda", Disk("hda", image, "hdd", overlay=True)))
    issue_lba28(machine, 0x30, 12, 1)
    write_words(machine, b"\x5A" * 512)
    advance(machine)
    outb(machine, COMMAND, 0xE7)
    wait_not_busy(machine)
    issue_lba28(machine, 0x20, 12, 1)
    wait_not_busy(machine)
    assert read_words(machine, 256) == b"\x5A" * 512
    machine.close()
    assert file_sector(image, 12) == sector_pattern(12)


# ---------------------------------------------------------------------- interrupts


def test_irq_driven_read_status_read_acknowledges_alternate_status_does_not(machine):
    levels = []
    machine.bus.connect_irq(14, levels.append)
    issue_lba28(machine, 0x20, 20, 2)
    assert machine.bus.irq_levels[14] == 0
    advance(machine)
    assert machine.bus.irq_levels[14] == 1
    assert inb(machine, CONTROL) == IDLE | STATUS_DRQ
    assert machine.bus.irq_levels[14] == 1                  # alternate status leaves it pending
    assert inb(machine, STATUS) == IDLE | STATUS_DRQ
    assert machine.bus.irq_levels[14] == 0
    assert read_words(machine, 256) == sector_pattern(20)
    assert machine.bus.irq_levels[14] == 1                  # second sector ready at once
    inb(machine, STATUS)
    assert read_words(machine, 256) == sector_pattern(21)
    assert machine.bus.irq_levels[14] == 0 and levels == [1, 0, 1, 0]


def test_writing_the_command_register_clears_a_pending_interrupt(machine):
    outb(machine, COMMAND, 0xE7)
    advance(machine)
    assert machine.bus.irq_levels[14] == 1
    outb(machine, COMMAND, 0xE7)
    assert machine.bus.irq_levels[14] == 0


def test_nien_masks_intrq_and_a_pending_interrupt_shows_when_cleared(machine):
    outb(machine, CONTROL, 0x02)
    issue_lba28(machine, 0x20, 1, 1)
    advance(machine)
    assert machine.bus.irq_levels[14] == 0
    assert inb(machine, CONTROL) == IDLE | STATUS_DRQ
    outb(machine, CONTROL, 0x00)
    assert machine.bus.irq_levels[14] == 1
    outb(machine, CONTROL, 0x02)
    assert machine.bus.irq_levels[14] == 0
    inb(machine, STATUS)
    outb(machine, CONTROL, 0x00)
    assert machine.bus.irq_levels[14] == 0


# ---------------------------------------------------------------------- reset and diagnostics


def test_srst_resets_both_devices_to_the_signature(machine):
    outb(machine, COUNT, 4)
    outb(machine, COMMAND, 0xC6)                            # multiple mode on
    advance(machine)
    issue_lba28(machine, 0x20, 0x123456, 3)
    advance(machine)
    assert machine.bus.irq_levels[14] == 1
    outb(machine, CONTROL, 0x04)                            # SRST
    assert inb(machine, CONTROL) == STATUS_BSY
    assert machine.bus.irq_levels[14] == 0
    advance(machine)
    assert inb(machine, CONTROL) == STATUS_BSY              # held while SRST stays set
    outb(machine, CONTROL, 0x00)
    assert inb(machine, CONTROL) == STATUS_BSY
    advance(machine)
    assert inb(machine, STATUS) == IDLE
    assert machine.bus.irq_levels[14] == 0                  # no interrupt after a reset
    assert [inb(machine, port) for port in (ERROR, COUNT, LBA_LOW, LBA_MID, LBA_HIGH, DEVICE)] == \
        [0x01, 0x01, 0x01, 0x00, 0x00, 0xA0]
    assert machine.bus.io_read(DATA, 2) == 0
    issue_lba28(machine, 0xC4, 0, 4)                        # SRST turned multiple mode off (Bochs)
    assert wait_not_busy(machine) & STATUS_ERR


def test_srst_leaves_the_no_device_signature_in_absent_device_1(machine):
    """Device 1's registers read back what was written (the register file is
    shared); a reset leaves count = LBA low = 1 and cylinder FFFFh there, as QEMU
    signs a drive-less slot, while its status stays 0."""
    outb(machine, DEVICE, 0xB0)
    outb(machine, COUNT, 0x55)
    outb(machine, LBA_LOW, 0xAA)
    assert (inb(machine, COUNT), inb(machine, LBA_LOW)) == (0x55, 0xAA)
    outb(machine, CONTROL, 0x04)
    outb(machine, CONTROL, 0x00)
    advance(machine)
    outb(machine, DEVICE, 0xB0)
    assert [inb(machine, port) for port in (COUNT, LBA_LOW, LBA_MID, LBA_HIGH, STATUS)] == \
        [0x01, 0x01, 0xFF, 0xFF, 0x00]
    outb(machine, DEVICE, 0xA0)
    assert [inb(machine, port) for port in (COUNT, LBA_LOW, LBA_MID, LBA_HIGH, STATUS)] == \
        [0x01, 0x01, 0x00, 0x00, IDLE]


def test_execute_device_diagnostic_signs_and_selects_device_0(tmp_path, image):
    slave = make_image(tmp_path, "slave.img", 100)
    machine = make_machine(("hda", Disk("hda", image, "hdd")), ("hdb", Disk("hdb", slave, "hdd")))
    outb(machine, DEVICE, 0xB0)
    outb(machine, LBA_MID, 0x55)
    outb(machine, COMMAND, 0x90)
    assert inb(machine, DEVICE) & 0x10 == 0
    assert wait_not_busy(machine) == IDLE
    assert machine.bus.irq_levels[14] == 1
    assert (inb(machine, ERROR), inb(machine, COUNT), inb(machine, LBA_LOW), inb(machine, LBA_MID)) == (1, 1, 1, 0)
    outb(machine, DEVICE, 0xB0)
    assert inb(machine, STATUS) == IDLE and inb(machine, LBA_MID) == 0
    machine.close()


# ---------------------------------------------------------------------- two devices


def test_master_and_slave_are_selected_by_dev_and_absent_devices_read_zero(tmp_path, image):
    slave_path = make_image(tmp_path, "slave.img", 200)
    machine = make_machine(("hda", Disk("hda", image, "hdd")), ("hdb", Disk("hdb", slave_path, "hdd")))
    outb(machine, DEVICE, 0xB0)
    words, _ = identify(machine)
    assert words[60] == 200
    issue_lba28(machine, 0x20, 150, 1, device=1)
    wait_not_busy(machine)
    assert read_words(machine, 256) == sector_pattern(150)
    assert inb(machine, DRIVE_ADDRESS) & 0x03 == 0x01       # nDS1 active
    machine.close()

    only_master = make_machine(("hda", Disk("hda", image, "hdd")))
    outb(only_master, DEVICE, 0xB0)
    assert inb(only_master, STATUS) == 0 and inb(only_master, CONTROL) == 0
    outb(only_master, COMMAND, 0xEC)                        # ignored: no device 1
    advance(only_master)
    assert inb(only_master, STATUS) == 0 and only_master.bus.irq_levels[14] == 0
    outb(only_master, DEVICE, 0xA0)
    assert inb(only_master, STATUS) == IDLE
    only_master.close()


def test_a_channel_without_devices_reads_zero_and_ignores_commands():
    machine = make_machine()
    assert [inb(machine, port) for port in (ERROR, COUNT, LBA_LOW, STATUS, CONTROL)] == [0] * 5
    outb(machine, COMMAND, 0xEC)
    outb(machine, COMMAND, 0x90)
    advance(machine)
    assert inb(machine, STATUS) == 0 and machine.bus.irq_levels[14] == 0


def test_secondary_channel_defaults(tmp_path, image):
    disk = Disk("hdc", image, "hdd")
    machine = make_machine(("hdc", disk), options={"channel": "secondary"})
    machine.bus.io_write(0x176, 1, 0xE0)
    machine.bus.io_write(0x177, 1, 0xEC)
    advance(machine)
    assert machine.bus.irq_levels[15] == 1 and machine.bus.irq_levels[14] == 0
    assert machine.bus.io_read(0x177, 1) == IDLE | STATUS_DRQ
    assert machine.bus.io_read(0x376, 1) == IDLE | STATUS_DRQ
    assert machine.bus.io_read(0x170, 2) == 0x0040
    assert inb(machine, STATUS) == 0xFF                     # primary ports left unclaimed
    machine.close()


def test_a_non_disk_medium_is_refused(tmp_path):
    path = str(tmp_path / "floppy.img")
    with open(path, "wb") as handle:
        handle.write(bytes(1474560))
    with pytest.raises(ProfileError):
        make_machine(("hda", Disk("hda", path, "floppy")))


# ---------------------------------------------------------------------- settings


def test_initialize_device_parameters_sets_the_chs_translation(machine):
    outb(machine, DEVICE, 0xA0 | 3)                         # 4 heads
    outb(machine, COUNT, 17)                                # 17 sectors per track
    outb(machine, COMMAND, 0x91)
    assert wait_not_busy(machine) == IDLE
    words, _ = identify(machine)
    assert (words[54], words[55], words[56]) == (SECTORS // (4 * 17), 4, 17)
    assert (words[1], words[3], words[6]) == (CYLINDERS, HEADS, SPT)
    issue_chs(machine, 0x20, 2, 3, 5, 1)                    # (2 * 4 + 3) * 17 + 4
    wait_not_busy(machine)
    assert read_words(machine, 256) == sector_pattern(191)
    issue_chs(machine, 0x20, 0, 4, 1, 1)                    # head 4 does not exist now
    assert wait_not_busy(machine) & STATUS_ERR and inb(machine, ERROR) == ERROR_IDNF
    outb(machine, COUNT, 0)
    outb(machine, COMMAND, 0x91)
    assert wait_not_busy(machine) & STATUS_ERR and inb(machine, ERROR) == ERROR_ABRT


def test_set_features_write_cache_look_ahead_and_transfer_mode(machine):
    def set_feature(feature, count=0):
        outb(machine, FEATURES, feature)
        outb(machine, COUNT, count)
        outb(machine, COMMAND, 0xEF)
        return wait_not_busy(machine)

    words, _ = identify(machine)
    assert words[85] & (1 << 5) and words[85] & (1 << 6)
    assert set_feature(0x82) == IDLE and set_feature(0x55) == IDLE
    words, _ = identify(machine)
    assert not words[85] & (1 << 5) and not words[85] & (1 << 6)
    assert set_feature(0x03, 0x0C) == IDLE                  # PIO mode 4
    assert set_feature(0x03, 0x22) & STATUS_ERR             # multiword DMA: not here
    assert set_feature(0x77) & STATUS_ERR and inb(machine, ERROR) == ERROR_ABRT


def test_with_write_cache_disabled_writes_reach_the_file_without_flush_cache(machine, image):
    outb(machine, FEATURES, 0x82)
    outb(machine, COMMAND, 0xEF)
    wait_not_busy(machine)
    issue_lba28(machine, 0x30, 66, 1)
    write_words(machine, b"\x77" * 512)
    advance(machine)
    assert inb(machine, STATUS) == IDLE
    assert file_sector(image, 66) == b"\x77" * 512


def test_a_host_io_error_is_a_device_fault(machine, monkeypatch):
    def failing_write(lba, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(machine.media["hda"], "write", failing_write)
    issue_lba28(machine, 0x30, 5, 2)
    write_words(machine, bytes(512))
    assert inb(machine, STATUS) == IDLE | STATUS_DF | STATUS_ERR
    assert inb(machine, ERROR) == ERROR_ABRT
    assert machine.bus.io_read(DATA, 2) == 0


def test_ports_are_named_by_register(machine):
    assert machine.bus.port_name(0x1F0) == "ide0 data"
    assert machine.bus.port_name(0x1F1) == "ide0 error/features"
    assert machine.bus.port_name(0x1F7) == "ide0 status/command"
    assert machine.bus.port_name(0x3F6) == "ide0 alternate status"
    assert machine.bus.port_name(0x3F7) == "ide0 drive address"


def test_drive_address_register_shows_the_selected_device_and_head(machine):
    outb(machine, DEVICE, 0xA5)
    assert inb(machine, DRIVE_ADDRESS) == 0x80 | 0x40 | ((~5 & 0x0F) << 2) | 0x02
    issue_lba28(machine, 0x30, 1, 1)
    assert not inb(machine, DRIVE_ADDRESS) & 0x40           # nWTG: write in progress


def test_srst_reverts_settings_only_after_set_features_cch(machine):
    def command(value, features=0, count=0):
        outb(machine, FEATURES, features)
        outb(machine, COUNT, count)
        outb(machine, COMMAND, value)
        return wait_not_busy(machine)

    def srst():
        outb(machine, CONTROL, 0x04)
        outb(machine, CONTROL, 0x00)
        advance(machine)

    command(0xEF, features=0x82)                            # write cache off
    srst()
    words, _ = identify(machine)
    assert not words[85] & (1 << 5)                         # kept (revert disabled)
    command(0xEF, features=0xCC)
    srst()
    words, _ = identify(machine)
    assert words[85] & (1 << 5)                             # reverted to the default


def test_a_sector_count_of_zero_means_256_sectors(machine):
    issue_lba28(machine, 0x20, 1, 0)
    wait_not_busy(machine)
    data = read_words(machine, 256 * 256)
    assert data[-512:] == sector_pattern(256) and inb(machine, STATUS) == IDLE


def test_machine_reset_returns_to_power_on_state(machine):
    outb(machine, COUNT, 8)
    outb(machine, COMMAND, 0xC6)
    advance(machine)
    issue_lba28(machine, 0x20, 1, 1)
    assert machine.bus.irq_levels[14] == 0
    advance(machine)
    assert machine.bus.irq_levels[14] == 1
    machine.reset("reset-line")
    assert machine.bus.irq_levels[14] == 0
    assert inb(machine, STATUS) == IDLE and machine.bus.io_read(DATA, 2) == 0
    words, _ = identify(machine)
    assert words[59] == 0


def test_disk_transfer_hook_reports_reads_writes_and_verifies(machine):
    seen = []

    class Recorder:
        @hookimpl
        def disk_transfer(self, drive, operation, lba, count):
            seen.append((drive, operation, lba, count))

    machine.add_plugin(Recorder())
    issue_lba28(machine, 0x20, 3, 2)
    advance(machine)
    read_words(machine, 512)
    issue_lba28(machine, 0x30, 8, 1)
    write_words(machine, bytes(512))
    advance(machine)
    issue_lba28(machine, 0x40, 1, 4)
    advance(machine)
    assert seen == [("hda", "read", 3, 1), ("hda", "read", 4, 1), ("hda", "write", 8, 1),
                    ("hda", "verify", 1, 4)]


# ---------------------------------------------------------------------- save and restore


def test_save_load_save_gives_identical_data(machine):
    issue_lba28(machine, 0x20, 30, 3)
    advance(machine)
    read_words(machine, 100)
    first = machine.snapshot()
    machine.restore(first)
    assert machine.snapshot() == first


def run_script(machine, steps):
    """Continue a transfer the same way on any machine; returns what the guest saw."""
    seen = []
    for step in steps:
        if step == "advance":
            advance(machine)
        elif step == "status":
            seen.append(inb(machine, STATUS))
        else:
            seen.append(read_words(machine, step))
        seen.append(machine.bus.irq_levels[14])
    seen.append([inb(machine, port) for port in (ERROR, COUNT, LBA_LOW, LBA_MID, LBA_HIGH, DEVICE, CONTROL)])
    return seen


@pytest.mark.parametrize("stop_after", ["busy", "mid-sector"])
def test_restore_mid_transfer_resumes_identically(image, tmp_path, stop_after):
    original = make_machine(("hda", Disk("hda", image, "hdd")))
    outb(original, COUNT, 2)
    outb(original, COMMAND, 0xC6)
    advance(original)
    inb(original, STATUS)
    issue_lba28(original, 0xC4, 60, 5)
    if stop_after == "mid-sector":
        advance(original)
        read_words(original, 300)
    saved = original.snapshot()
    steps = ["advance", "status", 212 if stop_after == "mid-sector" else 512, "status", 512,
             "advance", "status", 256 if stop_after == "mid-sector" else 512, "status"]
    expected = run_script(original, steps)

    copy = make_machine(("hda", Disk("hda", make_image(tmp_path, "copy.img"), "hdd")))
    copy.restore(saved)
    assert run_script(copy, steps) == expected
    original.close()
    copy.close()


def test_restore_reschedules_a_pending_completion(image):
    machine = make_machine(("hda", Disk("hda", image, "hdd")))
    issue_lba28(machine, 0x20, 77, 1)
    saved = machine.snapshot()
    advance(machine)
    machine.restore(saved)                                  # the clock queue is emptied by restore
    assert inb(machine, STATUS) == STATUS_BSY
    advance(machine)
    assert inb(machine, STATUS) == IDLE | STATUS_DRQ
    assert read_words(machine, 256) == sector_pattern(77)
    machine.close()


# ---------------------------------------------------------------------- robustness


IMPLEMENTED_COMMANDS = (0x20, 0x24, 0x30, 0x34, 0x40, 0x70, 0x10, 0x91, 0xC4, 0xC5, 0xC6, 0xE7,
                        0xEC, 0xEF)


def check_channel_invariants(machine, nien):
    """ATA through the ports: BSY and DRQ never both set; INTRQ (IRQ 14) is up only
    with nIEN clear and BSY clear; reading Status (not Alternate Status) shows the
    same value and acknowledges the interrupt."""
    level = machine.bus.irq_levels[14]
    alternate = inb(machine, CONTROL)
    assert alternate & (STATUS_BSY | STATUS_DRQ) != STATUS_BSY | STATUS_DRQ
    if level:
        assert not nien and not alternate & STATUS_BSY
    assert machine.bus.irq_levels[14] == level
    assert inb(machine, STATUS) == alternate
    assert not machine.bus.irq_levels[14]


def test_random_register_traffic_keeps_busy_drq_and_intrq_consistent(machine):
    rng = random.Random(5)
    ports = list(range(0x1F0, 0x1F8)) + [CONTROL, DRIVE_ADDRESS]
    nien = False
    for _ in range(3000):
        port = rng.choice(ports)
        size = rng.choice((1, 2, 4)) if port == DATA else 1
        if rng.random() < 0.5:
            value = rng.getrandbits(8 * size)
            if port == COMMAND and rng.random() < 0.5:       # a command the disk implements
                value = rng.choice(IMPLEMENTED_COMMANDS)
            if port == CONTROL:
                value &= ~0x04 if rng.random() < 0.8 else 0xFF
                nien = bool(value & 0x02)
            machine.bus.io_write(port, size, value)
        else:
            machine.bus.io_read(port, size)
        if rng.random() < 0.05:
            advance(machine)
        check_channel_invariants(machine, nien)


# ---------------------------------------------------------------------- a guest driver


class DebugconSink:
    def __init__(self):
        self.data = bytearray()

    @hookimpl
    def debugcon_byte(self, value):
        self.data.append(value)


def test_guest_reads_and_writes_sectors_polled_and_irq14_driven(image):
    """tests/guests/ata/ata_rw.asm on a CPU with both 8259As: a polled write and
    read-back of LBA 10, then an IRQ14-driven two-sector read."""
    from pcmachine.plugins.cpu import CPU
    from pcmachine.plugins.debug.debugcon import DebugConsole
    from pcmachine.plugins.chipset.i8259 import PIC
    from pcmachine.plugins.ram import RAM

    machine = Machine.bare()
    machine.media["hda"] = Disk("hda", image, "hdd")
    machine.add_component(RAM, "ram", {"size": "1M"})
    machine.add_component(CPU, "cpu", {})
    machine.add_component(PIC, "pic_master", {"ports": 0x20, "irq_base": 0, "cascade_inputs": [2]})
    machine.add_component(PIC, "pic_slave", {"ports": 0xA0, "irq_base": 8, "output": "pic_master:2"})
    machine.add_component(ATAChannel, "ide0", {})
    machine.add_component(DebugConsole, "debugcon", {})
    sink = DebugconSink()
    machine.add_plugin(sink)
    machine.configure()
    with open(GUEST_PROGRAM, "rb") as handle:
        program = handle.read()
    machine.bus.memory[0x7C00:0x7C00 + len(program)] = program
    machine.cpu.set_reg("cs", 0)
    machine.cpu.set_reg("eip", 0x7C00)
    reason = None
    for _ in range(1000):
        reason = machine.run_slice(machine.clock.icount + 100_000)
        if reason is not None:
            break
    assert reason == "halted"
    assert bytes(sink.data) == b"PI01"
    machine.flush_media()
    assert file_sector(image, 10) == bytes((i & 0xFF) ^ 0x5A for i in range(512))
    machine.close()


def test_power_management_commands_complete_and_the_device_stays_ready(machine):
    """The Power Management feature set is mandatory without PACKET (ATA/ATAPI-6;
    IDENTIFY word 82 bit 3).  Linux sends STANDBY IMMEDIATE (E0h) at power-off
    ("sd: Stopping disk"); it used to end with ABRT, which libata reported as
    "device reported invalid CHS sector 0" and "Start/Stop Unit failed"."""
    outb(machine, DEVICE, 0xA0)
    words, _ = identify(machine)
    assert words[82] & (1 << 3) and words[85] & (1 << 3)
    for command in (0xE0, 0xE1, 0xE2, 0xE3):                  # STANDBY/IDLE (IMMEDIATE)
        outb(machine, COUNT, 0)
        outb(machine, COMMAND, command)
        assert inb(machine, STATUS) & STATUS_BSY
        assert wait_not_busy(machine) == IDLE, hex(command)
    outb(machine, COMMAND, 0xE5)                              # CHECK POWER MODE
    assert wait_not_busy(machine) == IDLE and inb(machine, COUNT) == 0xFF
    outb(machine, COUNT, 1)                                   # and it still reads
    outb(machine, LBA_LOW, 0)
    outb(machine, DEVICE, 0xE0)                               # LBA 0
    outb(machine, COMMAND, 0x20)
    assert wait_not_busy(machine) & 0x08                      # DRQ
