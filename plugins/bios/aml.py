"""An encoder for the small part of ACPI Machine Language the DSDT needs (ACPI
specification 6.5, chapter 20: names, integers, packages, buffers, scopes,
devices; chapter 6.4: the resource descriptors of `_CRS`).

The encodings are the ones `iasl` chooses for the same ASL (the smallest integer
prefix, `Zero`/`One` opcodes, a DWord for `EisaId`), so tests can compare our
bytes with iasl's output for a reference ASL source.
"""

import struct
from typing import Iterable

ZERO_OP, ONE_OP, BYTE_PREFIX, WORD_PREFIX, DWORD_PREFIX = 0x00, 0x01, 0x0A, 0x0B, 0x0C
NAME_OP, SCOPE_OP, BUFFER_OP, PACKAGE_OP, METHOD_OP = 0x08, 0x10, 0x11, 0x12, 0x14
EXT_OP_PREFIX, DEVICE_OP = 0x5B, 0x82

# resource descriptors (6.4)
IRQ_NO_FLAGS, DMA_DESCRIPTOR, IO_DESCRIPTOR, END_TAG = 0x22, 0x2A, 0x47, 0x79
DWORD_ADDRESS, WORD_ADDRESS, EXTENDED_INTERRUPT = 0x87, 0x88, 0x89
IO_DECODE_16 = 0x01
ADDRESS_MEMORY, ADDRESS_IO, ADDRESS_BUS = 0, 1, 2
#: general flags of an address space descriptor: producer, positive decode,
#: minimum and maximum fixed
PRODUCER_FIXED = 0x0C
IO_ENTIRE_RANGE = 0x03
MEMORY_READ_WRITE, MEMORY_CACHEABLE = 0x01, 0x02
#: extended interrupt flags: consumer, level-triggered, active high, shared
INTERRUPT_CONSUMER_LEVEL_HIGH_SHARED = 0x09


def pkg_length(body_length: int) -> bytes:
    """PkgLength (20.2.4) for a body of `body_length` bytes; it counts itself."""
    if body_length + 1 < 0x40:
        return bytes([body_length + 1])
    for extra in (1, 2, 3):
        total = body_length + 1 + extra
        if total < 1 << (4 + 8 * extra):
            return bytes([(extra << 6) | (total & 0x0F)]) + (total >> 4).to_bytes(extra, "little")
    raise ValueError(f"AML package of {body_length} bytes is too long")


def name_seg(name: str) -> bytes:
    """A 4-character NameSeg, padded with underscores (`ISA` -> `ISA_`)."""
    if not 1 <= len(name) <= 4:
        raise ValueError(f"AML name {name!r} must have 1-4 characters")
    return name.encode("ascii").ljust(4, b"_")


def integer(value: int) -> bytes:
    """An integer constant in its shortest encoding."""
    if value in (0, 1):
        return bytes([ZERO_OP if value == 0 else ONE_OP])
    for prefix, size in ((BYTE_PREFIX, 1), (WORD_PREFIX, 2), (DWORD_PREFIX, 4)):
        if value < 1 << (8 * size):
            return bytes([prefix]) + value.to_bytes(size, "little")
    raise ValueError(f"AML integer {value:#x} needs more than 32 bits")


def eisa_id(text: str) -> bytes:
    """`EisaId ("PNP0A03")`: three letters of five bits and four hex digits, stored
    big-endian in a DWord."""
    letters = [ord(char) - 0x40 for char in text[:3]]
    value = (letters[0] << 26) | (letters[1] << 21) | (letters[2] << 16) | int(text[3:], 16)
    return bytes([DWORD_PREFIX]) + value.to_bytes(4, "big")


def name(seg: str, data: bytes) -> bytes:
    """`Name (seg, data)`."""
    return bytes([NAME_OP]) + name_seg(seg) + data


def package(elements: Iterable[bytes]) -> bytes:
    items = list(elements)
    body = bytes([len(items)]) + b"".join(items)
    return bytes([PACKAGE_OP]) + pkg_length(len(body)) + body


def buffer(data: bytes) -> bytes:
    body = integer(len(data)) + data
    return bytes([BUFFER_OP]) + pkg_length(len(body)) + body


def scope(seg: str, *terms: bytes) -> bytes:
    body = name_seg(seg) + b"".join(terms)
    return bytes([SCOPE_OP]) + pkg_length(len(body)) + body


def method(seg: str, argument_count: int, *terms: bytes) -> bytes:
    """`Method (seg, argument_count, NotSerialized) {terms}`."""
    body = name_seg(seg) + bytes([argument_count]) + b"".join(terms)
    return bytes([METHOD_OP]) + pkg_length(len(body)) + body


def device(seg: str, *terms: bytes) -> bytes:
    body = name_seg(seg) + b"".join(terms)
    return bytes([EXT_OP_PREFIX, DEVICE_OP]) + pkg_length(len(body)) + body


# ---------------------------------------------------------------- _CRS
def resource_template(*descriptors: bytes) -> bytes:
    """`ResourceTemplate () {...}`: a buffer ending with the end tag (checksum 0:
    the sum is not checked)."""
    return buffer(b"".join(descriptors) + bytes([END_TAG, 0]))


def io_ports(base: int, count: int) -> bytes:
    """`IO (Decode16, base, base, 1, count)`: fixed ports."""
    return struct.pack("<BBHHBB", IO_DESCRIPTOR, IO_DECODE_16, base, base, 1, count)


def irq(number: int) -> bytes:
    """`IRQNoFlags () {number}`: edge-triggered, active high, exclusive."""
    return struct.pack("<BH", IRQ_NO_FLAGS, 1 << number)


def shared_level_interrupt(number: int) -> bytes:
    """`Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) {number}`."""
    return struct.pack("<BHBBI", EXTENDED_INTERRUPT, 6, INTERRUPT_CONSUMER_LEVEL_HIGH_SHARED, 1,
                       number)


def dma_channel(channel: int) -> bytes:
    """`DMA (Compatibility, NotBusMaster, Transfer8) {channel}`."""
    return struct.pack("<BBB", DMA_DESCRIPTOR, 1 << channel, 0)


def word_bus_numbers(first: int, last: int) -> bytes:
    """`WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)`."""
    return _word_address(ADDRESS_BUS, 0, first, last)


def word_io(first: int, last: int) -> bytes:
    """`WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)`."""
    return _word_address(ADDRESS_IO, IO_ENTIRE_RANGE, first, last)


def dword_memory(first: int, last: int, cacheable: bool) -> bytes:
    """`DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable or
    NonCacheable, ReadWrite, ...)`."""
    flags = MEMORY_READ_WRITE | (MEMORY_CACHEABLE if cacheable else 0)
    return struct.pack("<BHBBBIIIII", DWORD_ADDRESS, 0x17, ADDRESS_MEMORY, PRODUCER_FIXED, flags,
                       0, first, last, 0, last - first + 1)


def _word_address(kind: int, type_flags: int, first: int, last: int) -> bytes:
    return struct.pack("<BHBBBHHHHH", WORD_ADDRESS, 0x0D, kind, PRODUCER_FIXED, type_flags,
                       0, first, last, 0, last - first + 1)
