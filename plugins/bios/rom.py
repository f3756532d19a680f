"""The 64 KiB ROM image of the HLE BIOS at F000:0000, built in Python.

The image holds what real-mode software expects to find in the system BIOS: the
interrupt entry points, the tables some programs read directly (int 1Eh diskette
parameters at F000:EFC7, the int 15h/C0h configuration table at F000:E6F5, the 8x8
font at F000:FA6E as on the IBM PC), the reset vector at F000:FFF0, the BIOS date at
F000:FFF5 and the model byte at F000:FFFE.

An entry point is a *host call* address followed by the few instructions the service
returns through; the Python routine registered for that address runs when the CPU
reaches it (see docs/internals.md "CPU").  `RomBuilder` lays out code and data,
remembers labels, and records which offsets are host calls.
"""

from typing import Callable, Dict, List, Optional, Tuple

ROM_SEGMENT = 0xF000
ROM_BASE = 0xF0000
ROM_SIZE = 0x10000
#: the alias of the top 64 KiB below 4 GiB, where a 386 fetches its first instruction
ROM_HIGH_ALIAS = 0xFFFF0000

# Fixed offsets of the IBM PC/AT BIOS that programs rely on.
OFFSET_CONFIG_TABLE = 0xE6F5
OFFSET_DISKETTE_TABLE = 0xEFC7
OFFSET_FONT8X8 = 0xFA6E
OFFSET_DUMMY_IRET = 0xFF53
OFFSET_RESET = 0xFFF0
OFFSET_DATE = 0xFFF5
OFFSET_MODEL = 0xFFFE

BIOS_DATE = b"11/21/26"
MODEL_AT = 0xFC
SUBMODEL_AT = 0x01

# Instruction bytes the ROM code is written in (real mode, 16-bit operands).
STI = b"\xFB"
CLI = b"\xFA"
HLT = b"\xF4"
IRET = b"\xCF"
PUSH_AX = b"\x50"
POP_AX = b"\x58"
MOV_AL_20 = b"\xB0\x20"
OUT_20_AL = b"\xE6\x20"
OUT_A0_AL = b"\xE6\xA0"


def int_n(vector: int) -> bytes:
    return bytes((0xCD, vector))


def jmp_far(segment: int, offset: int) -> bytes:
    return bytes((0xEA,)) + offset.to_bytes(2, "little") + segment.to_bytes(2, "little")


def jmp_near(from_offset: int, to_offset: int) -> bytes:
    """A 3-byte `JMP rel16` placed at `from_offset`."""
    return b"\xE9" + ((to_offset - (from_offset + 3)) & 0xFFFF).to_bytes(2, "little")


HostCall = Callable[[object], None]


class RomBuilder:
    """Lays out the ROM: fixed-address items with `place()`, the rest with `emit()`
    from an allocation cursor; `hostcall()` marks the next emitted byte as a host
    call.  `labels` maps names to offsets within segment F000."""

    def __init__(self, start: int = 0x2000) -> None:
        self.image = bytearray(b"\xFF" * ROM_SIZE)
        self.cursor = start
        self.labels: Dict[str, int] = {}
        self.hostcalls: List[Tuple[int, HostCall]] = []
        self._used: List[Tuple[int, int]] = []

    def _claim(self, offset: int, length: int) -> None:
        end = offset + length
        if offset < 0 or end > ROM_SIZE:
            raise ValueError(f"ROM item at {offset:#x}+{length} outside the ROM")
        for first, last in self._used:
            if offset < last and first < end:
                raise ValueError(f"ROM item at {offset:#x}+{length} overlaps {first:#x}-{last:#x}")
        self._used.append((offset, end))

    def place(self, offset: int, data: bytes, label: Optional[str] = None) -> int:
        self._claim(offset, len(data))
        self.image[offset:offset + len(data)] = data
        if label:
            self.labels[label] = offset
        return offset

    def emit(self, data: bytes, label: Optional[str] = None) -> int:
        """Append at the cursor, skipping fixed items."""
        while True:
            end = self.cursor + len(data)
            clash = [last for first, last in self._used if self.cursor < last and first < end]
            if not clash:
                break
            self.cursor = max(clash)
        offset = self.place(self.cursor, data, label)
        self.cursor += len(data)
        return offset

    def hostcall(self, function: HostCall, code: bytes, label: Optional[str] = None) -> int:
        """Emit `code` whose first instruction is preceded by the host call `function`."""
        offset = self.emit(code, label)
        self.hostcalls.append((offset, function))
        return offset

    def checksum_fix(self) -> None:
        """Make the bytes sum to zero modulo 256 with the last byte, F000:FFFF, as
        the IBM BIOS does for its ROM checksum test."""
        self.place(ROM_SIZE - 1, b"\0", "checksum")
        self.image[ROM_SIZE - 1] = (-sum(self.image)) & 0xFF

    def bytes(self) -> bytes:
        return bytes(self.image)
