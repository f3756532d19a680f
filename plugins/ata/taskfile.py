"""The ATA task file: register bits, per-device and per-channel state, and the
address arithmetic shared by the commands of `plugins/ata/channel.py`.

Addresses follow ATA/ATAPI-6 section 6.2: CHS (cylinder in LBA mid/high, head in the
device register, sector number from 1 in LBA low) through the current translation,
LBA28 (bits 27-24 in the device register) and LBA48 (each of LBA low/mid/high and the
sector count is a two-byte FIFO; the previous byte is the high-order one).
"""

import dataclasses
from typing import Optional

from .identify import DEFAULT_DMA_MODE, LBA28_MAX_SECTORS, Translation

# Status register bits
STATUS_BSY = 0x80
STATUS_DRDY = 0x40
STATUS_DF = 0x20
STATUS_DSC = 0x10
STATUS_DRQ = 0x08
STATUS_ERR = 0x01
STATUS_IDLE = STATUS_DRDY | STATUS_DSC

# Error register bits
ERROR_DIAGNOSTIC_PASSED = 0x01   # diagnostic code after reset and EXECUTE DEVICE DIAGNOSTIC
ERROR_ABRT = 0x04
ERROR_IDNF = 0x10

# Device control register bits
CONTROL_NIEN = 0x02
CONTROL_SRST = 0x04
CONTROL_HOB = 0x80

# Device/head register bits
DEVICE_OBSOLETE_ONES = 0xA0
DEVICE_LBA = 0x40
DEVICE_DEV = 0x10
DEVICE_HEAD = 0x0F

#: LBA mid and high of a packet (ATAPI) device's signature
PACKET_SIGNATURE = (0x14, 0xEB)

#: Task file fields behind offsets 1-5 (each with a `hob_` copy: the LBA48 FIFO).
TASKFILE_FIELDS = {1: "features", 2: "count", 3: "lba_low", 4: "lba_mid", 5: "lba_high"}


@dataclasses.dataclass
class DeviceState:
    """One device's task file, status, settings and PIO transfer progress."""

    features: int = 0
    hob_features: int = 0
    count: int = 1
    hob_count: int = 0
    lba_low: int = 1
    hob_lba_low: int = 0
    lba_mid: int = 0
    hob_lba_mid: int = 0
    lba_high: int = 0
    hob_lba_high: int = 0
    head: int = 0                    # device register bits 3-0
    lba_mode: bool = False           # device register bit 6
    status: int = STATUS_IDLE
    error: int = ERROR_DIAGNOSTIC_PASSED
    intrq: bool = False              # interrupt pending
    command: int = 0                 # data transfer command in progress, 0 if none
    addressing: str = "chs"          # of the command in progress: chs, lba28, lba48
    next_lba: int = 0                # sector transferred next
    sectors_left: int = 0            # sectors not yet moved to or from the buffer
    buffer: bytearray = dataclasses.field(default_factory=bytearray)
    buffer_index: int = 0
    multiple: int = 0                # SET MULTIPLE MODE block size, 0 = disabled
    logical_heads: int = 0           # INITIALIZE DEVICE PARAMETERS, 0 = default translation
    logical_spt: int = 0
    write_cache: bool = True
    look_ahead: bool = True
    revert_defaults: bool = False    # SET FEATURES CCh: SRST reverts the settings
    dma_mode: int = DEFAULT_DMA_MODE  # SET FEATURES 03h value of the selected DMA mode
    pending: str = ""                # completion scheduled on the clock
    pending_deadline: int = 0
    # ATAPI (`atapi.py`): the PACKET command in progress and the sense data
    packet_stage: str = ""           # "command" (12 bytes awaited), "data", ""
    packet_dma: bool = False         # the PACKET command's data moves by DMA
    byte_limit: int = 0              # byte count limit of the PACKET command
    reply: bytearray = dataclasses.field(default_factory=bytearray)   # bytes not yet in a DRQ block
    sense_key: int = 0
    sense_asc: int = 0
    sense_ascq: int = 0


@dataclasses.dataclass
class ChannelState:
    """What the two devices share: the DEV selection and the device control bits."""

    selected: int = 0
    nien: bool = False
    srst: bool = False
    hob: bool = False


def addressing_mode(device: DeviceState, lba48: bool) -> str:
    """How a command addresses sectors: "lba48", "lba28" or "chs" (device register bit 6)."""
    if lba48:
        return "lba48"
    return "lba28" if device.lba_mode else "chs"


def requested_count(device: DeviceState) -> int:
    """The sector count register(s); zero means 256 (65536 for LBA48)."""
    if device.addressing == "lba48":
        return ((device.hob_count << 8) | device.count) or 0x10000
    return device.count or 0x100


def start_lba(device: DeviceState, geometry: Translation) -> Optional[int]:
    """The task file's address as an LBA; None for an impossible CHS address."""
    if device.addressing == "lba48":
        return ((device.hob_lba_high << 40) | (device.hob_lba_mid << 32) | (device.hob_lba_low << 24)
                | (device.lba_high << 16) | (device.lba_mid << 8) | device.lba_low)
    if device.addressing == "lba28":
        return (device.head << 24) | (device.lba_high << 16) | (device.lba_mid << 8) | device.lba_low
    cylinder = (device.lba_high << 8) | device.lba_mid
    if not (1 <= device.lba_low <= geometry.spt and device.head < geometry.heads
            and cylinder < geometry.cylinders):
        return None
    return geometry.to_lba(cylinder, device.head, device.lba_low)


def address_limit(device: DeviceState, total_sectors: int, geometry: Translation) -> int:
    """One past the last sector the command's addressing mode reaches."""
    if device.addressing == "lba28":
        return min(total_sectors, LBA28_MAX_SECTORS)
    if device.addressing == "chs":
        return min(total_sectors, geometry.capacity)
    return total_sectors


def store_address(device: DeviceState, lba: int, geometry: Translation) -> None:
    """Write `lba` back into the task file in the command's addressing mode."""
    if device.addressing == "chs":
        cylinder, head, sector = geometry.to_chs(lba)
        device.lba_low = sector & 0xFF
        device.lba_mid = cylinder & 0xFF
        device.lba_high = (cylinder >> 8) & 0xFF
        device.head = head & DEVICE_HEAD
        return
    device.lba_low = lba & 0xFF
    device.lba_mid = (lba >> 8) & 0xFF
    device.lba_high = (lba >> 16) & 0xFF
    if device.addressing == "lba48":
        device.hob_lba_low = (lba >> 24) & 0xFF
        device.hob_lba_mid = (lba >> 32) & 0xFF
        device.hob_lba_high = (lba >> 40) & 0xFF
    else:
        device.head = (lba >> 24) & DEVICE_HEAD


def drop_command(device: DeviceState) -> None:
    """Forget the data transfer in progress (its buffer and remaining sectors)."""
    device.command = 0
    device.sectors_left = 0
    device.buffer = bytearray()
    device.buffer_index = 0
    device.packet_stage = ""
    device.packet_dma = False
    device.reply = bytearray()


def sign(device: DeviceState, present: bool = True, packet: bool = False) -> None:
    """The ATA device signature (cylinder 0, or EB14h for a packet device) and the
    diagnostic code 'passed'; for an absent device the registers a reset leaves
    (cylinder FFFFh, QEMU's "no device")."""
    device.count = 1
    device.lba_low = 1
    if packet:
        device.lba_mid, device.lba_high = PACKET_SIGNATURE
    else:
        device.lba_mid = device.lba_high = 0 if present else 0xFF
    device.head = 0
    device.lba_mode = False
    device.error = ERROR_DIAGNOSTIC_PASSED
