"""What every BIOS service group shares: the BIOS Data Area layout, the calling
convention of an interrupt entered through the IVT, and port helpers that degrade
when a device is absent."""

from typing import Any, Dict

# ---------------------------------------------------------------- BIOS Data Area (0040:xxxx)
BDA = 0x400
BDA_COM_PORTS = 0x00          # 4 words
BDA_LPT_PORTS = 0x08          # 3 words
BDA_EBDA_SEGMENT = 0x0E
BDA_EQUIPMENT = 0x10
BDA_MEMORY_KB = 0x13
BDA_KBD_FLAGS1 = 0x17
BDA_KBD_FLAGS2 = 0x18
BDA_ALT_KEYPAD = 0x19
BDA_KBD_HEAD = 0x1A
BDA_KBD_TAIL = 0x1C
BDA_KBD_BUFFER = 0x1E         # 16 words, 0x1E..0x3D
BDA_FLOPPY_RECAL = 0x3E
BDA_FLOPPY_MOTOR = 0x3F
BDA_FLOPPY_MOTOR_COUNT = 0x40
BDA_FLOPPY_STATUS = 0x41
BDA_VIDEO_MODE = 0x49
BDA_VIDEO_COLUMNS = 0x4A
BDA_VIDEO_PAGE_SIZE = 0x4C
BDA_VIDEO_PAGE_START = 0x4E
BDA_CURSOR_POS = 0x50         # 8 words: (row << 8) | column per page
BDA_CURSOR_SHAPE = 0x60       # word: end line (low), start line (high)
BDA_ACTIVE_PAGE = 0x62
BDA_CRTC_BASE = 0x63
BDA_MODE_CONTROL = 0x65
BDA_PALETTE = 0x66
BDA_TICKS = 0x6C
BDA_MIDNIGHT = 0x70
BDA_BREAK = 0x71
BDA_RESET_FLAG = 0x72
BDA_HD_STATUS = 0x74
BDA_HD_COUNT = 0x75
BDA_LPT_TIMEOUT = 0x78
BDA_COM_TIMEOUT = 0x7C
BDA_KBD_START = 0x80
BDA_KBD_END = 0x82
BDA_VIDEO_ROWS = 0x84         # rows - 1
BDA_CHAR_HEIGHT = 0x85        # word
BDA_VIDEO_CONTROL = 0x87
BDA_VIDEO_SWITCHES = 0x88
BDA_VGA_FLAGS = 0x89
BDA_FLOPPY_MEDIA = 0x90       # media state, drives 0 and 1
BDA_KBD_MODE = 0x96
BDA_KBD_LEDS = 0x97
BDA_WAIT_FLAG = 0xA0
BDA_VIDEO_SAVE_PTR = 0xA8     # dword

WARM_BOOT_MAGIC = 0x1234
TICKS_PER_DAY = 0x1800B0

# ---------------------------------------------------------------- FLAGS bits
FLAG_CF = 0x0001
FLAG_ZF = 0x0040
FLAG_IF = 0x0200

REGISTER_NAMES = ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ds", "es")


class BiosContext:
    """The machine as a BIOS routine sees it: memory, ports, the BDA."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.bus = machine.bus

    # -------------------------------------------------------- memory
    def read8(self, address: int) -> int:
        return self.bus.read_byte(address)

    def read16(self, address: int) -> int:
        return self.bus.read_byte(address) | (self.bus.read_byte(address + 1) << 8)

    def read32(self, address: int) -> int:
        return self.read16(address) | (self.read16(address + 2) << 16)

    def write8(self, address: int, value: int) -> None:
        self.bus.write_byte(address, value & 0xFF)

    def write16(self, address: int, value: int) -> None:
        self.bus.write_byte(address, value & 0xFF)
        self.bus.write_byte(address + 1, (value >> 8) & 0xFF)

    def write32(self, address: int, value: int) -> None:
        self.write16(address, value & 0xFFFF)
        self.write16(address + 2, (value >> 16) & 0xFFFF)

    def bda8(self, offset: int) -> int:
        return self.read8(BDA + offset)

    def bda16(self, offset: int) -> int:
        return self.read16(BDA + offset)

    def set_bda8(self, offset: int, value: int) -> None:
        self.write8(BDA + offset, value)

    def set_bda16(self, offset: int, value: int) -> None:
        self.write16(BDA + offset, value)

    # -------------------------------------------------------- ports
    def inb(self, port: int) -> int:
        return self.bus.io_read(port, 1)

    def outb(self, port: int, value: int) -> None:
        self.bus.io_write(port, 1, value & 0xFF)

    def inw(self, port: int) -> int:
        return self.bus.io_read(port, 2)

    def outw(self, port: int, value: int) -> None:
        self.bus.io_write(port, 2, value & 0xFFFF)

    def port_present(self, port: int) -> bool:
        """A device claims the port (an absent one reads 0xFF and is unclaimed)."""
        return self.bus.port_name(port) != "unclaimed"


def linear(segment: int, offset: int) -> int:
    return ((segment & 0xFFFF) << 4) + (offset & 0xFFFF)


def registers(cpu: Any) -> Dict[str, int]:
    """The registers the `bios_call` hook reports."""
    return {name: cpu.get_reg(name) for name in REGISTER_NAMES}


def set_return_flags(cpu: Any, cf: Any = None, zf: Any = None) -> None:
    """Set CF/ZF in the FLAGS image the service's IRET will pop (at SS:SP+4), so the
    caller's IF and TF survive and the result flags reach it.  The live flags are set
    too, for ROM code that runs before the IRET."""
    sp = cpu.get_reg("sp")
    image = cpu.read_mem("ss", (sp + 4) & 0xFFFF, 2)
    if cf is not None:
        image = (image | FLAG_CF) if cf else (image & ~FLAG_CF)
        cpu.set_flag("cf", bool(cf))
    if zf is not None:
        image = (image | FLAG_ZF) if zf else (image & ~FLAG_ZF)
        cpu.set_flag("zf", bool(zf))
    cpu.write_mem("ss", (sp + 4) & 0xFFFF, 2, image & 0xFFFF)


def set_ah(cpu: Any, value: int) -> None:
    cpu.set_reg("ah", value & 0xFF)


def fail(cpu: Any, status: int) -> None:
    """The usual error return: AH = status, CF = 1."""
    set_ah(cpu, status)
    set_return_flags(cpu, cf=True)


def succeed(cpu: Any, status: int = 0) -> None:
    set_ah(cpu, status)
    set_return_flags(cpu, cf=False)

