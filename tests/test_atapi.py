"""The ATAPI CD-ROM drive on the secondary IDE channel, driven through its ports as a
guest driver does (ATA/ATAPI-6 section 9, MMC-3): signature, IDENTIFY PACKET
DEVICE, the PACKET protocol with its interrupt reasons and byte count limits,
the commands a BIOS and Linux send, CHECK CONDITION with REQUEST SENSE, a
snapshot in the middle of a reply, and the medium's placement in a profile."""

import hashlib
import os
import struct

import pytest

from pcmachine import Machine
from pcmachine.errors import ProfileError
from pcmachine.media import Disk
from pcmachine.plugins.ata.channel import ATAChannel
from pcmachine.plugins.ata.taskfile import STATUS_BSY, STATUS_DRDY, STATUS_DRQ, STATUS_DSC, STATUS_ERR
from test_ata import advance, inb, outb

BASE, CONTROL = 0x170, 0x376
DATA, ERROR, COUNT, LBA_LOW, LBA_MID, LBA_HIGH, DEVICE, COMMAND = range(BASE, BASE + 8)
BLOCKS = 40
CD_IRQ = 15
GUESTS = os.path.join(os.path.dirname(__file__), "guests", "disk")


def block_pattern(lba):
    return bytes((lba * 7 + i) & 0xFF for i in range(2048))


@pytest.fixture
def iso(tmp_path):
    path = tmp_path / "cd.iso"
    path.write_bytes(b"".join(block_pattern(lba) for lba in range(BLOCKS)))
    return str(path)


@pytest.fixture
def machine(iso):
    machine = Machine.bare()
    machine.media["cdrom"] = Disk("cdrom", iso, "cdrom", readonly=True)
    machine.add_component(ATAChannel, "ide1", {"channel": "secondary"})
    yield machine
    machine.close()


def irq(machine):
    return machine.bus.irq_levels[CD_IRQ]


def read_data(machine, count):
    return b"".join(machine.bus.io_read(DATA, 2).to_bytes(2, "little") for _ in range(count // 2))


def send_packet(machine, cdb, limit=0xFFFE):
    """PACKET with a byte count limit, then the 12 command bytes once DRQ asks
    for them (interrupt reason CoD); returns when the device is no longer busy."""
    outb(machine, DEVICE, 0xA0)
    outb(machine, ERROR, 0)                         # features: PIO
    outb(machine, LBA_MID, limit & 0xFF)
    outb(machine, LBA_HIGH, limit >> 8)
    outb(machine, COMMAND, 0xA0)
    assert inb(machine, CONTROL) & (STATUS_BSY | STATUS_DRQ) == STATUS_DRQ
    assert inb(machine, COUNT) & 0x03 == 0x01       # CoD: command bytes wanted
    cdb = bytes(cdb).ljust(12, b"\0")
    for offset in range(0, 12, 2):
        machine.bus.io_write(DATA, 2, int.from_bytes(cdb[offset:offset + 2], "little"))
    assert inb(machine, CONTROL) & STATUS_BSY
    advance(machine)


def receive(machine):
    """Every DRQ block of the reply: checks the interrupt reason, the byte count and
    INTRQ for each, and the completion's reason; returns (data, block sizes)."""
    data, sizes = b"", []
    while True:
        assert irq(machine)
        status = inb(machine, COMMAND)                # acknowledges INTRQ
        reason = inb(machine, COUNT) & 0x03
        if not status & STATUS_DRQ:
            assert reason == 0x03 and not irq(machine)  # IO + CoD: status phase
            return data, sizes, status
        assert reason == 0x02                           # IO: data to the host
        size = inb(machine, LBA_MID) | inb(machine, LBA_HIGH) << 8
        sizes.append(size)
        data += read_data(machine, size)


def command(machine, cdb, limit=0xFFFE):
    send_packet(machine, cdb, limit)
    data, sizes, status = receive(machine)
    assert not status & STATUS_ERR, inb(machine, ERROR)
    return data


def sense(machine):
    data = command(machine, [0x03, 0, 0, 0, 18, 0])
    return data[2] & 0x0F, data[12], data[13]


def test_signature_and_identify_device_aborts_leaving_it(machine):
    """Power-on signature 14h/EBh; IDENTIFY DEVICE aborts with the signature in
    place (the probe that tells a driver it found ATAPI)."""
    outb(machine, DEVICE, 0xA0)
    assert (inb(machine, COUNT), inb(machine, LBA_LOW), inb(machine, LBA_MID),
            inb(machine, LBA_HIGH)) == (1, 1, 0x14, 0xEB)
    outb(machine, LBA_MID, 0)
    outb(machine, COMMAND, 0xEC)
    advance(machine)
    assert inb(machine, COMMAND) & STATUS_ERR and inb(machine, ERROR) & 0x04
    assert (inb(machine, LBA_MID), inb(machine, LBA_HIGH)) == (0x14, 0xEB)


def test_reset_leaves_the_packet_device_not_ready(machine):
    """SRST, DEVICE RESET and EXECUTE DEVICE DIAGNOSTIC leave status 00h (DRDY
    clear, as QEMU): a driver that waits for DRDY before IDENTIFY DEVICE (basekernel's
    ata_probe) times out instead of sending it, then IDENTIFY PACKET DEVICE works
    and sets DRDY again."""
    outb(machine, CONTROL, 0x04)                    # SRST
    outb(machine, CONTROL, 0x00)
    assert inb(machine, CONTROL) == STATUS_BSY
    advance(machine)
    outb(machine, DEVICE, 0xA0)
    assert inb(machine, COMMAND) == 0x00
    assert (inb(machine, ERROR), inb(machine, COUNT), inb(machine, LBA_LOW),
            inb(machine, LBA_MID), inb(machine, LBA_HIGH)) == (1, 1, 1, 0x14, 0xEB)
    assert not irq(machine)
    outb(machine, COMMAND, 0xA1)                    # accepted without DRDY
    advance(machine)
    assert inb(machine, COMMAND) == STATUS_DRDY | STATUS_DSC | STATUS_DRQ
    read_data(machine, 512)
    assert inb(machine, COMMAND) == STATUS_DRDY | STATUS_DSC
    outb(machine, COMMAND, 0x08)                    # DEVICE RESET
    advance(machine)
    assert inb(machine, COMMAND) == 0x00 and (inb(machine, LBA_MID), inb(machine, LBA_HIGH)) == (0x14, 0xEB)
    outb(machine, COMMAND, 0xA1)
    advance(machine)
    read_data(machine, 512)
    outb(machine, COMMAND, 0x90)                    # EXECUTE DEVICE DIAGNOSTIC
    advance(machine)
    assert inb(machine, COMMAND) == 0x00 and inb(machine, ERROR) == 0x01


def test_identify_packet_device(machine):
    outb(machine, DEVICE, 0xA0)
    outb(machine, COMMAND, 0xA1)
    advance(machine)
    assert irq(machine) and inb(machine, COMMAND) & STATUS_DRQ
    words = struct.unpack("<256H", read_data(machine, 512))
    assert words[0] == 0x85C0                       # ATAPI, CD-ROM, removable, 12-byte packets
    model = b"".join(struct.pack(">H", word) for word in words[27:47]).decode().strip()
    assert model == "PCMACHINE CD-ROM"
    assert words[49] & (1 << 9) and not words[49] & (1 << 8)     # LBA, no DMA
    assert not inb(machine, COMMAND) & STATUS_DRQ


def test_read_10_in_blocks_of_the_byte_count_limit(machine):
    """READ(10) of three blocks with a 0x1000-byte limit: DRQ blocks of 4096,
    and the last 2048, each with its size in LBA mid/high and an interrupt."""
    cdb = [0x28, 0, 0, 0, 0, 5, 0, 0, 3, 0]
    send_packet(machine, cdb, limit=0x1000)
    data, sizes, status = receive(machine)
    assert sizes == [4096, 2048]
    assert data == block_pattern(5) + block_pattern(6) + block_pattern(7)
    assert not status & STATUS_ERR


def test_read_12_and_an_odd_limit(machine):
    data = command(machine, [0xA8, 0, 0, 0, 0, BLOCKS - 1, 0, 0, 0, 1], limit=0x0801)
    assert data == block_pattern(BLOCKS - 1)


def test_read_capacity_inquiry_and_toc(machine):
    assert command(machine, [0x25]) == struct.pack(">II", BLOCKS - 1, 2048)
    inquiry = command(machine, [0x12, 0, 0, 0, 36, 0])
    assert inquiry[0] == 0x05 and inquiry[1] & 0x80 and len(inquiry) == 36
    toc = command(machine, [0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0])
    assert toc == (struct.pack(">HBB", 18, 1, 1) + bytes((0, 0x14, 1, 0)) + struct.pack(">I", 0)
                   + bytes((0, 0x16, 0xAA, 0)) + struct.pack(">I", BLOCKS))
    msf_toc = command(machine, [0x43, 0x02, 0, 0, 0, 0, 0xAA, 0, 100, 0])
    frames = BLOCKS + 150
    assert msf_toc[4:] == bytes((0, 0x16, 0xAA, 0, 0, frames // 4500, frames // 75 % 60, frames % 75))


def test_mode_sense_configuration_and_events(machine):
    capabilities = command(machine, [0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 255, 0])
    assert capabilities[8] == 0x2A and len(capabilities) == 8 + 20
    all_pages = command(machine, [0x1A, 0, 0x3F, 0, 255, 0])
    assert all_pages[0] == len(all_pages) - 1 and all_pages[4] == 0x01
    configuration = command(machine, [0x46, 0, 0, 0, 0, 0, 0, 0, 255, 0])
    assert struct.unpack(">H", configuration[6:8])[0] == 0x0008    # current profile: CD-ROM
    events = command(machine, [0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0])
    assert events[2] == 0x04 and events[5] == 0x02                  # media class: present
    assert command(machine, [0x00]) == b"" and command(machine, [0x1E, 0, 0, 0, 1]) == b""


@pytest.mark.parametrize("cdb, key, asc", [
    ([0xFF], 5, 0x20),                                 # no such command
    ([0x28, 0, 0, 0, 0, BLOCKS - 1, 0, 0, 2, 0], 5, 0x21),     # past the last block
    ([0x2B, 0, 0, 0, 0, BLOCKS], 5, 0x21),             # SEEK to the block after the last
    ([0x4A, 0, 0, 0, 0x10], 5, 0x24),                  # asynchronous event status
])
def test_check_condition_and_request_sense(machine, cdb, key, asc):
    send_packet(machine, cdb)
    data, sizes, status = receive(machine)
    assert status & STATUS_ERR and not data
    assert inb(machine, ERROR) >> 4 == key
    assert sense(machine) == (key, asc, 0)
    assert sense(machine) == (0, 0, 0)                 # read once: then no sense


def test_dma_packets_abort(machine):
    outb(machine, DEVICE, 0xA0)
    outb(machine, ERROR, 0x01)
    outb(machine, COMMAND, 0xA0)
    advance(machine)
    assert inb(machine, COMMAND) & STATUS_ERR and inb(machine, ERROR) & 0x04


def test_snapshot_in_the_middle_of_a_reply(machine, iso):
    """A snapshot between two DRQ blocks restores into a fresh machine that
    delivers the rest of the same reply."""
    send_packet(machine, [0x28, 0, 0, 0, 0, 2, 0, 0, 4, 0], limit=2048)
    assert inb(machine, COMMAND) & STATUS_DRQ
    first = read_data(machine, 2048)
    state = machine.snapshot()
    rest, sizes, _ = receive(machine)
    other = Machine.bare()
    other.media["cdrom"] = Disk("cdrom", iso, "cdrom", readonly=True)
    other.add_component(ATAChannel, "ide1", {"channel": "secondary"})
    try:
        other.restore(state)
        again, _, _ = receive(other)
    finally:
        other.close()
    assert first + rest == b"".join(block_pattern(lba) for lba in range(2, 6))
    assert again == rest and sizes == [2048, 2048, 2048]


def test_the_image_is_never_written(machine, iso):
    before = hashlib.sha256(open(iso, "rb").read()).hexdigest()
    outb(machine, DEVICE, 0xE0)
    outb(machine, COUNT, 1)
    outb(machine, COMMAND, 0x30)                     # WRITE SECTORS: not for a CD-ROM
    advance(machine)
    assert inb(machine, COMMAND) & STATUS_ERR
    command(machine, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    assert hashlib.sha256(open(iso, "rb").read()).hexdigest() == before


def test_the_cdrom_is_the_secondary_master_unless_hdc_is_there(iso, tmp_path):
    disk = tmp_path / "hd.img"
    disk.write_bytes(bytes(512 * 64))
    machine = Machine.from_profile("pc.yaml", [], {"cdrom": iso})
    try:
        channel = machine.components["ide1"]
        assert channel.disks[0].kind == "cdrom" and channel.packet[0] is not None
    finally:
        machine.close()
    with pytest.raises(ProfileError, match="hdc and cdrom"):
        Machine.from_profile("pc.yaml", [], {"cdrom": iso, "hdc": str(disk)})
    machine = Machine.from_profile("pc.yaml", ["ide1.slave=cdrom"], {"cdrom": iso, "hdc": str(disk)})
    try:
        assert [d.kind for d in machine.components["ide1"].disks] == ["hdd", "cdrom"]
    finally:
        machine.close()


def test_a_boot_sector_reads_the_cd_by_polling(tmp_path):
    """tests/guests/disk/atapi_read: a hobby driver's polling PACKET READ(10) of the
    ISO's volume descriptor, booted from a floppy beside a --cdrom."""
    from test_bios_boot import el_torito_iso

    with open(os.path.join(GUESTS, "atapi_read.bin"), "rb") as handle:
        floppy = tmp_path / "boot.img"
        floppy.write_bytes(handle.read().ljust(1474560, b"\0"))
    iso = el_torito_iso(str(tmp_path / "cd.iso"), bytes(2048))
    machine = Machine.from_profile("pc.yaml", [], {"fda": str(floppy), "cdrom": iso})
    try:
        machine.run_headless(5_000_000)
        assert machine.components["debugcon"].text == "CD001\n"
    finally:
        machine.close()
