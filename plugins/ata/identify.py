"""IDENTIFY DEVICE data and CHS translation for the ATA disk model (`plugins/ata/channel.py`).

The 256-word IDENTIFY page follows ATA/ATAPI-6 (T13 1410D) section 8.15, with the
values Bochs' `identify_drive()` reports where the standard leaves a choice: a fixed
disk, PIO modes 0-4 and, when the controller has a bus master (`busmaster.py`),
multiword DMA 0-2 and Ultra DMA 0-5 as QEMU's disks offer, 32-bit data transfers,
up to 16 sectors per READ/WRITE MULTIPLE block, LBA28 and LBA48, FLUSH CACHE (EXT),
write cache and look-ahead switchable through SET FEATURES.  Strings are stored as
ATA specifies: each word holds two characters, the first one in the high byte.
Word 255 carries the integrity signature (A5h) and checksum.
"""

from typing import List, NamedTuple, Optional

SECTOR_SIZE = 512
#: Largest block READ/WRITE MULTIPLE may use (IDENTIFY word 47).
MAX_MULTIPLE_SECTORS = 16
#: LBA28 commands address at most this many sectors (IDENTIFY words 60-61).
LBA28_MAX_SECTORS = 0x0FFFFFFF
#: Default-translation cylinders are capped here (IDENTIFY word 1).
MAX_DEFAULT_CYLINDERS = 16383
#: CHS addressing reaches at most 16,514,064 sectors (16383 x 16 x 63).
CHS_MAX_SECTORS = 16383 * 16 * 63
#: IDENTIFY word 255 low byte: the checksum in the high byte is valid.
INTEGRITY_SIGNATURE = 0xA5

#: SET FEATURES 03h transfer modes: multiword DMA 0-2 (20h-22h), Ultra DMA 0-5 (40h-45h)
DMA_MODES = frozenset(range(0x20, 0x23)) | frozenset(range(0x40, 0x46))
#: the mode selected at power-on: Ultra DMA 5, as on QEMU's disks
DEFAULT_DMA_MODE = 0x45

MODEL = "PCMACHINE HARDDISK"
FIRMWARE = "1.0"


class Translation(NamedTuple):
    """A CHS view of the disk: cylinders, heads, sectors per track."""

    cylinders: int
    heads: int
    spt: int

    @property
    def capacity(self) -> int:
        return self.cylinders * self.heads * self.spt

    def to_lba(self, cylinder: int, head: int, sector: int) -> int:
        return (cylinder * self.heads + head) * self.spt + sector - 1

    def to_chs(self, lba: int) -> tuple:
        cylinder, rest = divmod(lba, self.heads * self.spt)
        head, sector = divmod(rest, self.spt)
        return cylinder, head, sector + 1


def default_translation(cylinders: int, heads: int, spt: int) -> Translation:
    """The power-on translation: the medium's geometry with cylinders capped as
    IDENTIFY word 1 requires."""
    return Translation(min(cylinders, MAX_DEFAULT_CYLINDERS), heads, spt)


def logical_translation(total_sectors: int, heads: int, spt: int) -> Translation:
    """The translation INITIALIZE DEVICE PARAMETERS asks for: as many whole
    cylinders as fit in the disk's CHS-addressable sectors."""
    usable = min(total_sectors, CHS_MAX_SECTORS)
    return Translation(min(0xFFFF, usable // (heads * spt)), heads, spt)


def ata_string(text: str, length: int) -> List[int]:
    """`text` padded with spaces to `length` characters, as IDENTIFY words
    (first character of each pair in the high byte)."""
    raw = text.encode("ascii")[:length].ljust(length, b" ")
    return [(raw[i] << 8) | raw[i + 1] for i in range(0, length, 2)]


class IdentifySettings(NamedTuple):
    """The device's current settings that IDENTIFY DEVICE reports."""

    total_sectors: int
    default: Translation
    current: Translation
    multiple: int
    write_cache: bool
    look_ahead: bool
    serial: str
    #: the selected DMA mode (a SET FEATURES 03h value), None without DMA
    dma_mode: Optional[int] = None


def identify_words(settings: IdentifySettings) -> List[int]:
    """The 256 IDENTIFY DEVICE words (ATA/ATAPI-6 table 27)."""
    words = [0] * 256
    default = settings.default
    total = settings.total_sectors
    words[0] = 0x0040                               # fixed, non-removable ATA device
    words[1] = default.cylinders
    words[3] = default.heads
    words[4] = (SECTOR_SIZE * default.spt) & 0xFFFF  # obsolete: bytes per track
    words[5] = SECTOR_SIZE                          # obsolete: bytes per sector
    words[6] = default.spt
    words[10:20] = ata_string(settings.serial, 20)
    words[20] = 3                                   # obsolete: buffer type
    words[21] = 512                                 # obsolete: buffer size (sectors)
    words[22] = 4                                   # obsolete: ECC bytes
    words[23:27] = ata_string(FIRMWARE, 8)
    words[27:47] = ata_string(MODEL, 40)
    words[47] = 0x8000 | MAX_MULTIPLE_SECTORS
    words[48] = 1                                   # 32-bit data transfers
    words[49] = 1 << 9                              # LBA
    words[50] = 1 << 14
    words[51] = 0x0200                              # obsolete: PIO timing mode 2
    words[53] = 0x0003                              # words 54-58 and 64-70 valid
    current = settings.current
    words[54] = current.cylinders
    words[55] = current.heads
    words[56] = current.spt
    capacity = current.capacity
    words[57] = capacity & 0xFFFF
    words[58] = capacity >> 16
    if settings.multiple:
        words[59] = 0x0100 | settings.multiple
    lba28 = min(total, LBA28_MAX_SECTORS)
    words[60] = lba28 & 0xFFFF
    words[61] = lba28 >> 16
    words[64] = 0x0003                              # PIO modes 3 and 4
    if settings.dma_mode is not None:
        offer_dma(words, settings.dma_mode)
    words[65:69] = [120, 120, 120, 120]             # cycle times (ns)
    words[80] = 0x007E                              # ATA-1 .. ATA/ATAPI-6
    # NOP, look-ahead, write cache, the Power Management feature set
    words[82] = (1 << 14) | (1 << 6) | (1 << 5) | (1 << 3)
    words[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10)  # FLUSH (EXT), LBA48
    words[84] = 1 << 14
    words[85] = ((1 << 14) | (settings.look_ahead << 6) | (settings.write_cache << 5)
                 | (1 << 3))                        # power management is always enabled
    words[86] = (1 << 13) | (1 << 12) | (1 << 10)
    words[87] = 1 << 14
    words[93] = (1 << 14) | (1 << 13) | 1           # hardware reset result, device 0
    for index in range(4):
        words[100 + index] = (total >> (16 * index)) & 0xFFFF
    words[255] = INTEGRITY_SIGNATURE
    checksum = -sum((word & 0xFF) + (word >> 8) for word in words) & 0xFF
    words[255] = (checksum << 8) | INTEGRITY_SIGNATURE
    return words


def offer_dma(words: List[int], mode: int) -> None:
    """IDENTIFY words for a device behind a bus master: DMA supported (49), word
    88 valid (53), multiword DMA 0-2 (63) and Ultra DMA 0-5 (88) supported, with
    `mode` (a SET FEATURES 03h value) selected."""
    words[49] |= 1 << 8
    words[53] |= 1 << 2
    selected = 1 << (8 + (mode & 7))
    words[63] = 0x0007 | (selected if mode < 0x40 else 0)
    words[88] = 0x003F | (selected if mode >= 0x40 else 0)


def identify_page(settings: IdentifySettings) -> bytes:
    """IDENTIFY DEVICE data as the 512 bytes the data port returns (little-endian words)."""
    return b"".join(word.to_bytes(2, "little") for word in identify_words(settings))
