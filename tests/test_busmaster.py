"""Bus master IDE DMA on the PIIX3 IDE function, driven through PCI configuration
cycles, the bus master registers at BAR4 and the ATA ports as a driver does
(SFF-8038i; Intel 82371FB/SB datasheet 290550; Linux's libata-sff BMDMA order:
PRD table, direction, command, Start).  QEMU's behaviour is the reference where
the datasheet leaves a choice (PRDs longer or shorter than the request)."""

import random
import struct

import pytest

from pcmachine import Machine
from pcmachine.plugins.ata.busmaster import TRANSFER_DELAY_NS
from pcmachine.plugins.ata.channel import ATAChannel
from pcmachine.media import Disk

from test_ata import (SECTORS, advance, file_sector, identify, issue_lba28, issue_lba48, make_image, make_machine,
                      sector_pattern)

CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
IDE_FUNCTION = 0x80000000 | 1 << 11 | 1 << 8       # 00:01.1
BAR4, COMMAND_REGISTER = 0x20, 0x04
BMIBA = 0xC000
START, TO_MEMORY = 0x01, 0x08
ACTIVE, ERROR, INTERRUPT = 0x01, 0x02, 0x04
TABLE = 0x10000
READ_DMA, WRITE_DMA, READ_DMA_EXT = 0xC8, 0xCA, 0x25
IDLE, DATA_REQUEST = 0x50, 0x58


def config_write(machine, register, size, value):
    machine.bus.io_write(CONFIG_ADDRESS, 4, IDE_FUNCTION | register)
    machine.bus.io_write(CONFIG_DATA, size, value)


def config_read(machine, register, size=4):
    machine.bus.io_write(CONFIG_ADDRESS, 4, IDE_FUNCTION | register)
    return machine.bus.io_read(CONFIG_DATA, size)


@pytest.fixture
def image(tmp_path):
    return make_image(tmp_path)


@pytest.fixture
def pc(image):
    """pc.yaml with the test image as hda and the IDE function allowed to master."""
    machine = Machine.from_profile("pc.yaml", [], {"hda": image})
    config_write(machine, COMMAND_REGISTER, 2, 0x0005)
    yield machine
    machine.close()


def prd_table(machine, regions, at=TABLE):
    """Write PRDs for (address, byte count) regions, the last one marked."""
    entries = b"".join(struct.pack("<II", address, (count & 0xFFFF) | (0x80000000 if i == len(regions) - 1 else 0))
                       for i, (address, count) in enumerate(regions))
    machine.bus.write_bytes(at, entries)


def dma_command(machine, command, lba, count, to_memory, start=True, base=BMIBA):
    """The libata order: table, status cleared, direction, the ATA command, Start."""
    bus = machine.bus
    bus.io_write(base + 4, 4, TABLE)
    bus.io_write(base + 2, 1, ERROR | INTERRUPT)
    bus.io_write(base, 1, TO_MEMORY if to_memory else 0)
    issue_lba28(machine, command, lba, count)
    if start:
        bus.io_write(base, 1, (TO_MEMORY if to_memory else 0) | START)


def bm_status(machine, base=BMIBA):
    return machine.bus.io_read(base + 2, 1)


def test_identify_offers_multiword_and_ultra_dma_only_behind_a_bus_master(pc, image):
    words, _ = identify(pc)
    assert words[49] & 0x0100 and words[53] & 0x0004
    assert (words[63], words[88]) == (0x0007, 0x203F)        # Ultra DMA 5 selected, as QEMU
    bare = make_machine(("hda", Disk("hda", image, "hdd")))
    words, _ = identify(bare)
    assert not words[49] & 0x0100 and words[63] == 0 and words[88] == 0
    dma_command(bare, READ_DMA, 0, 1, True, start=False)
    advance(bare)
    assert bare.bus.io_read(0x1F7, 1) == IDLE | 0x01 and bare.bus.io_read(0x1F1, 1) == 0x04  # ABRT
    bare.close()


@pytest.mark.parametrize("mode, word63, word88", [(0x22, 0x0407, 0x003F), (0x20, 0x0107, 0x003F),
                                                  (0x42, 0x0007, 0x043F)])
def test_set_features_selects_the_dma_mode(pc, mode, word63, word88):
    pc.bus.io_write(0x1F1, 1, 0x03)
    pc.bus.io_write(0x1F2, 1, mode)
    pc.bus.io_write(0x1F7, 1, 0xEF)
    advance(pc)
    assert pc.bus.io_read(0x1F7, 1) == IDLE
    words, _ = identify(pc)
    assert (words[63], words[88]) == (word63, word88)


@pytest.mark.parametrize("start_first", [False, True])
def test_read_dma_scatters_sectors_over_the_prds_and_interrupts(pc, start_first):
    prd_table(pc, [(0x20000, 512), (0x30000, 1024)])
    if start_first:                       # Start before the command: the transfer waits for it
        pc.bus.io_write(BMIBA + 4, 4, TABLE)
        pc.bus.io_write(BMIBA, 1, TO_MEMORY | START)
    dma_command(pc, READ_DMA, 5, 3, True)
    assert bm_status(pc) == ACTIVE
    advance(pc)                            # the command delay: the device asks for DMA
    assert pc.bus.io_read(0x3F6, 1) == DATA_REQUEST and not pc.bus.irq_levels[14]
    advance(pc, TRANSFER_DELAY_NS)
    assert pc.bus.read_bytes(0x20000, 512) == sector_pattern(5)
    assert pc.bus.read_bytes(0x30000, 1024) == sector_pattern(6) + sector_pattern(7)
    assert bm_status(pc) == INTERRUPT               # the table ended exactly: inactive
    assert pc.bus.irq_levels[14] == 1
    assert pc.bus.io_read(0x1F7, 1) == IDLE and pc.bus.irq_levels[14] == 0
    pc.bus.io_write(BMIBA + 2, 1, INTERRUPT)
    assert bm_status(pc) == 0
    assert [pc.bus.io_read(0x1F0 + offset, 1) for offset in (2, 3)] == [0, 8]  # count, next LBA


def test_write_dma_gathers_the_prds_into_the_image(pc, image):
    data = bytes(range(256)) * 6
    pc.bus.write_bytes(0x40000, data[:1024])
    pc.bus.write_bytes(0x50000, data[1024:])
    prd_table(pc, [(0x40000, 1024), (0x50000, 512)])
    dma_command(pc, WRITE_DMA, 100, 3, False)
    advance(pc)
    advance(pc, TRANSFER_DELAY_NS)
    assert pc.bus.io_read(0x1F7, 1) == IDLE and bm_status(pc) == INTERRUPT
    pc.flush_media()
    assert b"".join(file_sector(image, lba) for lba in (100, 101, 102)) == data
    assert file_sector(image, 103) == sector_pattern(103)


def test_lba48_read_dma_ext(pc):
    prd_table(pc, [(0x20000, 1024)])
    bus = pc.bus
    bus.io_write(BMIBA + 4, 4, TABLE)
    issue_lba48(pc, READ_DMA_EXT, 0x10, 2)
    bus.io_write(BMIBA, 1, TO_MEMORY | START)
    advance(pc)
    advance(pc, TRANSFER_DELAY_NS)
    assert bus.read_bytes(0x20000, 1024) == sector_pattern(0x10) + sector_pattern(0x11)
    assert bus.io_read(0x1F7, 1) == IDLE


def test_prds_longer_than_the_request_stay_active_until_stop(pc):
    prd_table(pc, [(0x20000, 4096)])
    dma_command(pc, READ_DMA, 7, 1, True)
    advance(pc)
    advance(pc, TRANSFER_DELAY_NS)
    assert bm_status(pc) == ACTIVE | INTERRUPT and pc.bus.io_read(0x1F7, 1) == IDLE
    pc.bus.io_write(BMIBA, 1, TO_MEMORY)
    assert bm_status(pc) == INTERRUPT


def test_prds_too_short_move_what_fits_without_an_interrupt(pc):
    pc.bus.write_bytes(0x20200, b"\x34\x12")
    prd_table(pc, [(0x20000, 700)])
    dma_command(pc, READ_DMA, 9, 2, True)
    advance(pc)
    advance(pc, TRANSFER_DELAY_NS)
    assert pc.bus.read_bytes(0x20000, 512) == sector_pattern(9)
    assert pc.bus.read_bytes(0x20200, 2) == b"\x34\x12"     # no part of a sector
    assert bm_status(pc) == 0 and pc.bus.io_read(0x3F6, 1) == IDLE and not pc.bus.irq_levels[14]


def test_without_the_bus_master_bit_the_transfer_waits_for_it(pc):
    config_write(pc, COMMAND_REGISTER, 2, 0x0001)
    prd_table(pc, [(0x20000, 512)])
    dma_command(pc, READ_DMA, 3, 1, True)
    for _ in range(5):
        advance(pc)
    assert pc.bus.io_read(0x3F6, 1) == DATA_REQUEST and bm_status(pc) == ACTIVE
    assert pc.bus.read_bytes(0x20000, 4) == bytes(4)
    config_write(pc, COMMAND_REGISTER, 2, 0x0005)
    advance(pc, TRANSFER_DELAY_NS)
    assert pc.bus.read_bytes(0x20000, 512) == sector_pattern(3) and bm_status(pc) == INTERRUPT


def test_stop_aborts_and_a_new_start_finishes_the_transfer(pc):
    prd_table(pc, [(0x20000, 512)])
    dma_command(pc, READ_DMA, 4, 1, True)
    advance(pc)
    pc.bus.io_write(BMIBA, 1, TO_MEMORY)            # Stop before the transfer completes
    advance(pc, 2 * TRANSFER_DELAY_NS)
    assert pc.bus.io_read(0x3F6, 1) == DATA_REQUEST and bm_status(pc) == 0
    pc.bus.io_write(BMIBA, 1, TO_MEMORY | START)
    advance(pc, TRANSFER_DELAY_NS)
    assert pc.bus.read_bytes(0x20000, 512) == sector_pattern(4) and bm_status(pc) == INTERRUPT


def test_registers_read_back_with_their_masks(pc):
    bus = pc.bus
    bus.io_write(BMIBA, 1, 0xFF)
    assert bus.io_read(BMIBA, 1) == START | TO_MEMORY
    bus.io_write(BMIBA, 1, 0)
    bus.io_write(BMIBA + 2, 1, 0xFF)
    assert bus.io_read(BMIBA + 2, 1) == 0x60                 # drive DMA capable bits only
    bus.io_write(BMIBA + 0xC, 4, 0x12345677)
    assert bus.io_read(BMIBA + 0xC, 4) == 0x12345674
    assert bus.io_read(BMIBA + 1, 1) == 0 and bus.io_read(BMIBA + 3, 1) == 0
    assert bus.io_read(BMIBA + 8, 4) == 0                    # the secondary channel's block


def test_any_rising_irq_edge_sets_the_interrupt_bit(pc):
    identify(pc)                                             # a PIO command's interrupt
    assert bm_status(pc) == INTERRUPT


def test_the_registers_follow_bar4_and_the_io_enable_bit(pc):
    config_write(pc, BAR4, 4, 0xD000)
    assert config_read(pc, BAR4) == 0xD001
    assert pc.bus.io_read(BMIBA + 4, 4) == 0xFFFFFFFF       # nothing at the old place
    pc.bus.io_write(0xD004, 4, 0x1000)
    assert pc.bus.io_read(0xD004, 4) == 0x1000
    config_write(pc, COMMAND_REGISTER, 2, 0x0004)           # I/O decoding off
    assert pc.bus.io_read(0xD004, 4) == 0xFFFFFFFF
    config_write(pc, COMMAND_REGISTER, 2, 0x0005)
    config_write(pc, BAR4, 4, 0x1F0)                        # onto the ATA ports: not decoded
    assert "bus master" not in pc.bus.port_name(0x1F0)
    assert pc.bus.io_read(0x1F7, 1) == IDLE
    prd_table(pc, [(0x20000, 512)])
    config_write(pc, BAR4, 4, 0xD000)
    dma_command(pc, READ_DMA, 2, 1, True, base=0xD000)
    advance(pc)
    advance(pc, TRANSFER_DELAY_NS)
    assert pc.bus.read_bytes(0x20000, 512) == sector_pattern(2)


def test_snapshot_mid_transfer_restores_identically(pc, image, tmp_path):
    prd_table(pc, [(0x20000, 1024)])
    dma_command(pc, READ_DMA, 20, 2, True)
    advance(pc)
    state = pc.snapshot()
    copy = Machine.from_profile("pc.yaml", [], {"hda": image})
    copy.restore(state)
    for machine in (pc, copy):
        advance(machine, TRANSFER_DELAY_NS)
        assert machine.bus.read_bytes(0x20000, 1024) == sector_pattern(20) + sector_pattern(21)
        assert bm_status(machine) == INTERRUPT and machine.bus.irq_levels[14] == 1
    copy.close()


def test_machine_reset_clears_the_bus_master(pc):
    pc.bus.io_write(BMIBA + 4, 4, TABLE)
    pc.bus.io_write(BMIBA, 1, START)
    pc.reset()
    assert [pc.bus.io_read(BMIBA + offset, 1) for offset in (0, 2, 4)] == [0, 0, 0]


def test_a_channel_without_the_piix_has_no_bus_master(image):
    machine = make_machine(("hda", Disk("hda", image, "hdd")))
    channel = next(c for c in machine.components.values() if isinstance(c, ATAChannel))
    assert channel.bus_master is None
    machine.close()


# ---------------------------------------------------------------- ATAPI: PACKET with DMA
SECONDARY = BMIBA + 8


def packet_dma(machine, cdb):
    """PACKET with the features' DMA bit, the 12 command bytes, then Start on the
    secondary channel's bus master with the PRD table at TABLE."""
    bus = machine.bus
    bus.io_write(SECONDARY + 4, 4, TABLE)
    bus.io_write(SECONDARY, 1, TO_MEMORY)
    bus.io_write(0x176, 1, 0xA0)
    bus.io_write(0x171, 1, 0x01)                            # features: DMA
    bus.io_write(0x177, 1, 0xA0)
    assert bus.io_read(0x376, 1) & DATA_REQUEST == DATA_REQUEST and bus.io_read(0x172, 1) == 0x01
    cdb = bytes(cdb).ljust(12, b"\0")
    for offset in range(0, 12, 2):
        bus.io_write(0x170, 2, int.from_bytes(cdb[offset:offset + 2], "little"))
    bus.io_write(SECONDARY, 1, TO_MEMORY | START)


@pytest.fixture
def cd_pc(tmp_path):
    iso = tmp_path / "cd.iso"
    iso.write_bytes(b"".join(bytes((lba * 7 + i) & 0xFF for i in range(2048)) for lba in range(16)))
    machine = Machine.from_profile("pc.yaml", [], {"cdrom": str(iso)})
    config_write(machine, COMMAND_REGISTER, 2, 0x0005)
    yield machine, iso.read_bytes()
    machine.close()


def test_identify_packet_device_offers_dma_behind_the_bus_master(cd_pc):
    machine, _ = cd_pc
    machine.bus.io_write(0x176, 1, 0xA0)
    machine.bus.io_write(0x177, 1, 0xA1)
    advance(machine)
    words = struct.unpack("<256H", b"".join(machine.bus.io_read(0x170, 2).to_bytes(2, "little")
                                            for _ in range(256)))
    assert words[49] & 0x0100 and (words[63], words[88]) == (0x0007, 0x203F)


def test_packet_read_10_moves_its_blocks_by_dma(cd_pc):
    machine, image = cd_pc
    prd_table(machine, [(0x20000, 2048), (0x30000, 4096)])
    packet_dma(machine, [0x28, 0, 0, 0, 0, 3, 0, 0, 3])    # READ(10) LBA 3, 3 blocks
    advance(machine)                                        # the packet's execution
    assert machine.bus.io_read(0x376, 1) == DATA_REQUEST and machine.bus.io_read(0x172, 1) == 0x02
    advance(machine, TRANSFER_DELAY_NS)
    assert machine.bus.read_bytes(0x20000, 2048) == image[3 * 2048:4 * 2048]
    assert machine.bus.read_bytes(0x30000, 4096) == image[4 * 2048:6 * 2048]
    assert bm_status(machine, SECONDARY) == INTERRUPT and machine.bus.irq_levels[15]
    assert machine.bus.io_read(0x172, 1) == 0x03                # reason: IO and CoD, done
    assert machine.bus.io_read(0x177, 1) == IDLE


def test_packet_inquiry_by_dma_moves_the_short_reply(cd_pc):
    machine, _ = cd_pc
    prd_table(machine, [(0x20000, 512)])
    packet_dma(machine, [0x12, 0, 0, 0, 36, 0])             # INQUIRY, 36 bytes
    advance(machine)
    advance(machine, TRANSFER_DELAY_NS)
    reply = machine.bus.read_bytes(0x20000, 36)
    assert reply[0] == 0x05 and reply[8:16] == b"pcmachin"     # a CD-ROM; the vendor
    assert bm_status(machine, SECONDARY) == ACTIVE | INTERRUPT   # the PRD was longer
    assert machine.bus.io_read(0x172, 1) == 0x03


def test_random_driver_traffic_never_breaks_the_machine(pc):
    """Random bus master register writes, PRD tables anywhere (beyond RAM, across
    4 GiB, zero-length entries, no end mark), DMA and PIO commands and Stop at
    any moment: no exception, and the invariants a driver relies on hold."""
    rng = random.Random(1234)
    bus = pc.bus
    for step in range(3000):
        choice = rng.randrange(8)
        if choice == 0:
            bus.io_write(BMIBA + rng.randrange(16), rng.choice((1, 2, 4)), rng.getrandbits(32))
        elif choice == 1:
            table = rng.choice((TABLE, 0xFFFFFFF8, 0x7FF0000, rng.getrandbits(32) & ~3))
            bus.io_write(BMIBA + 4, 4, table)
            if table < 0x100000:
                entries = [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(rng.randrange(1, 6))]
                bus.write_bytes(table, b"".join(struct.pack("<II", *entry) for entry in entries))
        elif choice == 2:
            issue_lba28(pc, rng.choice((READ_DMA, WRITE_DMA, 0x20, 0xEC)), rng.randrange(SECTORS + 4),
                        rng.randrange(4))
        elif choice == 3:
            bus.io_write(BMIBA, 1, rng.choice((0, START, TO_MEMORY | START)))
        elif choice == 4:
            config_write(pc, COMMAND_REGISTER, 2, rng.choice((0x0001, 0x0005)))
        elif choice == 5:
            bus.io_write(0x3F6, 1, rng.choice((0, 2, 4)))
        elif choice == 6:
            bus.io_read(0x1F7, 1)
        else:
            advance(pc, rng.choice((1_000, TRANSFER_DELAY_NS, 50_000)))
        status = bm_status(pc)
        assert status & 0x98 == 0                               # reserved and simplex bits
        if not bus.io_read(BMIBA, 1) & START:
            assert not status & ACTIVE                          # active only while started
