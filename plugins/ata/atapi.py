"""The packet commands of the ATAPI CD-ROM drive (`plugins/ata/channel.py` carries
them over the ATA task file): the SCSI/MMC command set a CD-ROM answers, over a
read-only image of 2048-byte blocks (an ISO 9660 file).

Follows SPC-3 (INQUIRY, REQUEST SENSE with fixed-format sense data, TEST UNIT
READY, MODE SENSE(6)/(10)) and MMC-3 (READ CAPACITY, READ(10)/(12), READ CD with
user data only, SEEK(10), READ TOC formats 0 and 1 in LBA or MSF form, READ
SUB-CHANNEL, GET CONFIGURATION, GET EVENT STATUS NOTIFICATION polled, MECHANISM
STATUS, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL), with the answers QEMU's
`hw/ide/atapi.c` gives where the standards leave a choice: one data track, a
drive that is always ready (no UNIT ATTENTION after reset, no tray), 4x speed.
Any other command is CHECK CONDITION with ILLEGAL REQUEST / invalid command
operation code (20h); a block past the end, ILLEGAL REQUEST / LBA out of range
(21h); a field this drive does not support, ILLEGAL REQUEST / invalid field in
CDB (24h).
"""

import struct
from typing import Any, Callable, Dict, List, Optional, Tuple

from .identify import ata_string, offer_dma

BLOCK_SIZE = 2048
#: a 512-byte disk sector per this many of a CD block
SECTORS_PER_BLOCK = BLOCK_SIZE // 512
#: blocks read from the image at a time for a long READ
READ_CHUNK_BLOCKS = 16

# sense keys and additional sense codes (SPC-3 4.5.6, annex D)
ILLEGAL_REQUEST = 0x5
ASC_INVALID_OPCODE, ASC_LBA_OUT_OF_RANGE, ASC_INVALID_FIELD = 0x20, 0x21, 0x24
ASC_SAVING_NOT_SUPPORTED = 0x39

MODEL = "PCMACHINE CD-ROM"
FIRMWARE = "1.0"
#: MMC-3 profile 0008h: CD-ROM
PROFILE_CD_ROM = 0x0008
#: MSF addresses count from 00:02:00 (150 frames of lead-in)
MSF_OFFSET = 150
#: 706 KB/s: 4x, the speed MODE SENSE page 2Ah reports
SPEED_KBS = 706


class CheckCondition(Exception):
    """A packet command failed: the sense key and additional sense code it leaves."""

    def __init__(self, key: int, asc: int, ascq: int = 0) -> None:
        super().__init__(f"sense {key:X}/{asc:02X}/{ascq:02X}")
        self.key, self.asc, self.ascq = key, asc, ascq


class Reply:
    """What a packet command returns: bytes to send now, and blocks of the image
    to send after them (READ)."""

    def __init__(self, data: bytes = b"", lba: int = 0, blocks: int = 0) -> None:
        self.data = data
        self.lba = lba
        self.blocks = blocks


def identify_packet_page(serial: str, dma_mode: Optional[int] = None) -> bytes:
    """The 256 IDENTIFY PACKET DEVICE words (ATA/ATAPI-6 table 30), as QEMU fills
    them: a removable CD-ROM with 12-byte packets; DMA with `dma_mode` selected
    behind a bus master, else PIO only."""
    words = [0] * 256
    words[0] = 0x85C0            # ATAPI, CD-ROM (05h), removable, 50 us DRQ, 12-byte packets
    words[10:20] = ata_string(serial, 20)
    words[20] = 3                # obsolete: buffer type
    words[21] = 512              # obsolete: buffer size
    words[23:27] = ata_string(FIRMWARE, 8)
    words[27:47] = ata_string(MODEL, 40)
    words[48] = 1                # 32-bit data transfers
    words[49] = 1 << 9           # LBA; no overlap
    words[53] = 0x0003           # words 64-70 valid
    words[64] = 0x0003           # PIO modes 3 and 4
    words[65:69] = [120, 120, 120, 120]
    words[71] = 30               # typical time from PACKET to bus release (ns), as QEMU
    words[72] = 30
    words[80] = 0x001E           # ATA/ATAPI-1 .. -4
    words[82] = (1 << 14) | (1 << 9) | (1 << 4)   # NOP, DEVICE RESET, PACKET
    words[83] = 1 << 14
    words[84] = 1 << 14
    words[85] = (1 << 14) | (1 << 9) | (1 << 4)
    words[86] = 0
    words[87] = 1 << 14
    words[93] = (1 << 14) | (1 << 13) | 1
    if dma_mode is not None:
        offer_dma(words, dma_mode)
    return b"".join(word.to_bytes(2, "little") for word in words)


def msf(lba: int) -> bytes:
    """A logical block as the four bytes of an MSF address (0, minute, second, frame)."""
    frames = lba + MSF_OFFSET
    return bytes((0, frames // (75 * 60), (frames // 75) % 60, frames % 75))


def cd_address(lba: int, as_msf: bool) -> bytes:
    return msf(lba) if as_msf else struct.pack(">I", lba)


def fits(data: bytes, allocation: int) -> Reply:
    """The reply cut to the CDB's allocation length."""
    return Reply(data[:allocation])


class PacketCommands:
    """The command set over one image: `run(cdb)` gives the reply or raises
    CheckCondition."""

    def __init__(self, disk: Any) -> None:
        self.disk = disk
        self.blocks = disk.size // BLOCK_SIZE
        self.handlers: Dict[int, Callable[[bytes], Reply]] = {
            0x00: self.test_unit_ready, 0x12: self.inquiry, 0x1A: self.mode_sense, 0x5A: self.mode_sense,
            0x1B: self.no_data, 0x1E: self.no_data, 0x25: self.read_capacity,
            0x28: self.read, 0xA8: self.read, 0xBE: self.read_cd, 0x2B: self.seek,
            0x43: self.read_toc, 0x42: self.read_sub_channel, 0x46: self.get_configuration,
            0x4A: self.get_event_status, 0xBD: self.mechanism_status,
        }

    def run(self, cdb: bytes) -> Reply:
        handler = self.handlers.get(cdb[0])
        if handler is None:
            raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_OPCODE)
        return handler(cdb)

    def read_blocks(self, lba: int, count: int) -> bytes:
        """`count` blocks of the image from `lba` (the caller checked the range)."""
        return self.disk.read(lba * SECTORS_PER_BLOCK, count * SECTORS_PER_BLOCK)

    # ------------------------------------------------------------------ commands
    def test_unit_ready(self, cdb: bytes) -> Reply:
        return Reply()

    def no_data(self, cdb: bytes) -> Reply:
        """START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL: nothing to do without a tray."""
        return Reply()

    def inquiry(self, cdb: bytes) -> Reply:
        if cdb[1] & 0x01:                        # EVPD: no vital product data pages
            raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_FIELD)
        data = (bytes((0x05, 0x80, 0x00, 0x21, 31, 0, 0, 0)) + b"pcmachin" +
                b"CD-ROM".ljust(16) + FIRMWARE.encode().ljust(4))
        return fits(data, (cdb[3] << 8) | cdb[4])

    def mode_pages(self, page: int, changeable: bool) -> bytes:
        error_recovery = bytes((0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0))
        capabilities = bytes((0x2A, 0x12, 0x00, 0x00, 0x71, 0x60, 0x29, 0x00)) + struct.pack(
            ">HHHH", SPEED_KBS, 0x00FF, 512, SPEED_KBS) + bytes(4)
        pages = {0x01: error_recovery, 0x2A: capabilities}
        chosen = list(pages.values()) if page == 0x3F else [pages[page]] if page in pages else None
        if chosen is None:
            raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_FIELD)
        if changeable:                           # nothing can be changed
            chosen = [item[:2] + bytes(len(item) - 2) for item in chosen]
        return b"".join(chosen)

    def mode_sense(self, cdb: bytes) -> Reply:
        control, page = cdb[2] >> 6, cdb[2] & 0x3F
        if control == 3:
            raise CheckCondition(ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED)
        body = self.mode_pages(page, control == 1)
        if cdb[0] == 0x1A:                       # MODE SENSE(6): 4-byte header
            return fits(bytes((3 + len(body), 0x01, 0x00, 0)) + body, cdb[4])
        header = struct.pack(">HBBHH", 6 + len(body), 0x01, 0x00, 0, 0)
        return fits(header + body, (cdb[7] << 8) | cdb[8])

    def read_capacity(self, cdb: bytes) -> Reply:
        return Reply(struct.pack(">II", max(self.blocks - 1, 0), BLOCK_SIZE))

    def checked_range(self, lba: int, count: int) -> Reply:
        if lba + count > self.blocks:
            raise CheckCondition(ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE)
        return Reply(lba=lba, blocks=count)

    def read(self, cdb: bytes) -> Reply:
        """READ(10) (16-bit count) and READ(12) (32-bit count)."""
        lba = struct.unpack(">I", cdb[2:6])[0]
        count = struct.unpack(">H", cdb[7:9])[0] if cdb[0] == 0x28 else struct.unpack(">I", cdb[6:10])[0]
        return self.checked_range(lba, count)

    def read_cd(self, cdb: bytes) -> Reply:
        """READ CD: the user data of mode 1 (or any-type) sectors, or nothing."""
        lba = struct.unpack(">I", cdb[2:6])[0]
        count = int.from_bytes(cdb[6:9], "big")
        sector_type = (cdb[1] >> 2) & 0x07
        if sector_type not in (0, 2) or cdb[9] not in (0x00, 0x10):
            raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_FIELD)
        reply = self.checked_range(lba, count)
        if cdb[9] == 0x00:                       # no fields selected: no data
            return Reply()
        return reply

    def seek(self, cdb: bytes) -> Reply:
        self.checked_range(struct.unpack(">I", cdb[2:6])[0], 1)
        return Reply()

    def read_toc(self, cdb: bytes) -> Reply:
        as_msf = bool(cdb[1] & 0x02)
        form = cdb[2] & 0x0F or cdb[9] >> 6      # the old (SFF-8020) place of the format
        track = cdb[6]
        allocation = (cdb[7] << 8) | cdb[8]
        if form == 0:
            if track > 1 and track != 0xAA:
                raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_FIELD)
            entries = b""
            if track <= 1:
                entries += bytes((0, 0x14, 1, 0)) + cd_address(0, as_msf)
            entries += bytes((0, 0x16, 0xAA, 0)) + cd_address(self.blocks, as_msf)
            return fits(struct.pack(">HBB", 2 + len(entries), 1, 1) + entries, allocation)
        if form == 1:                            # multi-session information: one session
            entry = bytes((0, 0x14, 1, 0)) + cd_address(0, as_msf)
            return fits(struct.pack(">HBB", 2 + len(entry), 1, 1) + entry, allocation)
        raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_FIELD)

    def read_sub_channel(self, cdb: bytes) -> Reply:
        """No audio: the header with audio status 15h (no current audio status)."""
        return fits(bytes((0, 0x15, 0, 0)), (cdb[7] << 8) | cdb[8])

    def get_configuration(self, cdb: bytes) -> Reply:
        """The feature header (current profile CD-ROM) with the profile list and the
        core feature, from the starting feature number on (RT 0 and 1), or that
        feature alone (RT 2)."""
        request, start = cdb[1] & 0x03, (cdb[2] << 8) | cdb[3]
        features: List[Tuple[int, bytes]] = [
            (0x0000, struct.pack(">HBB", 0x0000, 0x03, 4) + struct.pack(">HBB", PROFILE_CD_ROM, 0x01, 0)),
            (0x0001, struct.pack(">HBB", 0x0001, 0x0B, 8) + struct.pack(">IBBH", 2, 0, 0, 0)),
        ]
        chosen = [body for number, body in features
                  if (number == start if request == 2 else number >= start)]
        body = b"".join(chosen)
        header = struct.pack(">IHH", 4 + len(body), 0, PROFILE_CD_ROM)
        return fits(header + body, (cdb[7] << 8) | cdb[8])

    def get_event_status(self, cdb: bytes) -> Reply:
        """Polled only; the media class reports a medium present, no change."""
        if not cdb[1] & 0x01:
            raise CheckCondition(ILLEGAL_REQUEST, ASC_INVALID_FIELD)
        allocation = (cdb[7] << 8) | cdb[8]
        if cdb[4] & 0x10:
            return fits(struct.pack(">HBB", 6, 0x04, 0x10) + bytes((0, 0x02, 0, 0)), allocation)
        return fits(struct.pack(">HBB", 2, 0x80, 0x10), allocation)

    def mechanism_status(self, cdb: bytes) -> Reply:
        return fits(bytes(8), (cdb[8] << 8) | cdb[9])


def sense_data(key: int, asc: int, ascq: int) -> bytes:
    """REQUEST SENSE: fixed-format sense data (SPC-3 4.5.3), current errors."""
    data = bytearray(18)
    data[0] = 0x70
    data[2] = key
    data[7] = 10
    data[12], data[13] = asc, ascq
    return bytes(data)


def reply_for(commands: PacketCommands, cdb: bytes, sense: Tuple[int, int, int]) -> Reply:
    """The reply to `cdb`; REQUEST SENSE reads `sense`, which the caller clears."""
    if cdb[0] == 0x03:
        return fits(sense_data(*sense), cdb[4])
    return commands.run(cdb)
