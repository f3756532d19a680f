"""Realtek RTL8139C Fast Ethernet controller (PCI 10EC:8139 rev 20h, as QEMU's
`rtl8139`), attached to the deterministic user-mode network of `usernet.py`.

Sources: the RTL8139D datasheet (registers, receive ring, transmit descriptors),
the RTL8139 programming guide, QEMU's `hw/net/rtl8139.c` for what drivers see on
QEMU (reset values, the TCR hardware version of an 8139C+, CAPR off by 16, the
ring overflow rule), and the OSDev wiki driver.

BAR0 is 256 bytes of I/O and BAR1 256 bytes of memory; both decode the same
registers (I/O while the command register's I/O bit is set, memory while its
memory bit is set) and both move when the BAR is rewritten.  The register map is
REGISTERS below; an access wider or narrower than a register is split and merged
per register, as QEMU does; offsets no register holds read 0 and drop writes.

Receive: a frame accepted by RCR (AAP all, APM our MAC, AM multicast through the
MAR hash, AB broadcast) is padded to 60 bytes and written at RBSTART + CBR as a
4-byte header (status: ROK, and BAR/PAM/MAR for broadcast, physical match,
multicast; length including the 4-byte CRC), the frame and its CRC; CBR then
moves to the next dword.  Without RCR.WRAP a frame that reaches the ring's end
continues at its start; with WRAP it runs on past the end (the driver leaves
1.5 KiB there).  The driver writes CAPR = its read offset - 16 (QEMU and the
chip keep the read pointer 16 bytes ahead of CAPR).  A frame that does not fit
(size + 8 bytes or more than the free space, QEMU's rule) sets ISR.RXOVW and
counts in MPC when IMR enables RXOVW; otherwise it waits on the wire until CAPR
frees space (QEMU's queue).  Transmit: writing TSDn with OWN clear hands the
descriptor to the chip; descriptors go out in round-robin order from the one
after the last sent (a written descriptor waits for its turn), read by DMA from
TSADn, and end with OWN and TOK set and ISR.TOK.  DMA in either direction waits
while the PCI command register's bus master bit is clear (a warning is logged
once).  INTA# is asserted while ISR & IMR is not zero.

The 93C46 EEPROM behind 9346CR (mode 10b, bit-banged EECS/EESK/EEDI/EEDO;
`eeprom.py`) holds 8129h, the IDs, and the MAC at words 7-9, as QEMU's; Linux's
8139too reads the MAC from it.  A software reset (CR.RST, or 9346CR mode 01b auto-load) takes no
time: it empties the ring, hands all descriptors to the host, clears ISR and
IMR, and keeps IDR0-5, MAR0-7 and RCR (datasheet 5.13; QEMU reloads the MAC).

Not modelled: C+ mode (CpCmd, descriptor rings, offloads), early receive and
transmit thresholds, the PCS timer interrupt (TCTR counts at 33 MHz of virtual
time; TimerInt is stored only), power management and wake-up, the MII's
auto-negotiation (link up, 100 Mb/s full duplex from reset), receive errors,
collisions and FIFO underruns (TSD's error bits stay 0).
"""

import dataclasses
import functools
import struct
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

from pcmachine.bus import MMIORegion
from pcmachine.component import Option, dict_to_state, state_to_dict

from pcmachine.plugins.pci.function import (BAR0, COMMAND, COMMAND_IO, COMMAND_MEMORY, REVISION_ID, STATUS,
                                            STATUS_INTERRUPT, Bar, function_options)

from .card import NetworkCard, network_options
from .eeprom import Eeprom93C46

REGISTER_SPACE = 256
# CR (37h)
CR_RST, CR_RE, CR_TE, CR_BUFE = 0x10, 0x08, 0x04, 0x01
# ISR / IMR (3Eh / 3Ch)
ISR_ROK, ISR_RER, ISR_TOK, ISR_TER, ISR_RXOVW = 0x0001, 0x0002, 0x0004, 0x0008, 0x0010
ISR_PUN_LINKCHG, ISR_FOVW, ISR_LENCHG, ISR_TIMEOUT, ISR_SERR = 0x0020, 0x0040, 0x2000, 0x4000, 0x8000
INTERRUPT_BITS = 0xE07F
# TSD0-3 (10h-1Fh)
TSD_SIZE, TSD_OWN, TSD_TUN, TSD_TOK = 0x1FFF, 0x2000, 0x4000, 0x8000
TSD_TABT, TSD_CRS = 0x40000000, 0x80000000
TSD_STATUS_BITS = 0xFF00C000        # cleared by a write (the chip sets them)
TSD_RESERVED = 0x00C00000
# TCR (40h): the hardware version bits read-only, as QEMU's RTL-8139C+
TCR_HWVERID = 0x74800000
TCR_WRITABLE = 0x030F07F0
TCR_LOOPBACK = 0x00060000
# RCR (44h)
RCR_AAP, RCR_APM, RCR_AM, RCR_AB = 0x01, 0x02, 0x04, 0x08
RCR_WRAP = 0x80
RCR_WRITABLE = 0x0F03FFBF
RCR_RBLEN_SHIFT = 11
# the receive header's status word
RX_ROK, RX_BAR, RX_PAM, RX_MAR = 0x0001, 0x2000, 0x4000, 0x8000
RX_MINIMUM = 60
RX_ROOM = 1514                      # QEMU takes a frame while this much is free
CAPR_OFFSET = 16
# 9346CR (50h)
EEM_MASK, EEM_AUTOLOAD, EEM_PROGRAM, EEM_CONFIG_WRITE = 0xC0, 0x40, 0x80, 0xC0
EE_CS, EE_SK, EE_DI, EE_DO = 0x08, 0x04, 0x02, 0x01
# reset values (QEMU)
CONFIG1_RESET = 0x0C                # I/O and memory mapped registers
CONFIG3_RESET = 0x01                # fast back-to-back
BMCR_RESET = 0x1000                 # auto-negotiation enabled
BMSR_RESET = 0x782D                 # 100/10 full/half, auto-negotiation complete, link up
ANAR_RESET = ANLPAR_RESET = 0x05E1
ANER_RESET = 0x0001
CSCR_RESET = 0x0340
MSR_LINK_UP = 0xD0                  # TXFCE, RXFCE, AUX; LINKB and SPEED_10 clear
#: the revision Linux's 8139too accepts (it leaves 20h and above, C+ chips, to 8139cp)
LINUX_8139TOO_REVISION = 0x10
PCI_CLOCK_HZ = 33_000_000
#: where the HLE BIOS leaves BAR0 and BAR1 (the IDE bus master block holds 0xC000)
IO_BASE, MMIO_BASE = 0xC100, 0xFEA00000

#: registers that read a constant (the PHY's fixed link, the revision)
CONSTANTS = {"MSR": MSR_LINK_UP, "BMCR": BMCR_RESET, "BMSR": BMSR_RESET,
             "ANLPAR": ANLPAR_RESET, "ANER": ANER_RESET}
#: registers that only store: state field, writable bits, writable only in 9346CR mode 11b
STORED = {"RBSTART": ("rbstart", 0xFFFFFFFF, False), "TimerInt": ("timer_int", 0xFFFFFFFF, False),
          "MULINT": ("mulint", 0x0FFF, False), "ANAR": ("anar", 0xFFFF, False),
          "CSCR": ("cscr", 0xFFFF, False), "CONFIG0": ("config0", 0x07, True),
          "CONFIG1": ("config1", 0xF3, True), "CONFIG3": ("config3", 0x70, True),
          "CONFIG4": ("config4", 0xF5, True), "CONFIG5": ("config5", 0x7F, False)}

#: The register map: offset, width in bytes, name (the datasheet's), access.
#: "r": read-only, "rw": read/write, "w1c": write one to clear.
REGISTERS: List[Tuple[int, int, str, str]] = (
    [(index, 1, f"IDR{index}", "rw") for index in range(6)]
    + [(0x08 + index, 1, f"MAR{index}", "rw") for index in range(8)]
    + [(0x10 + 4 * index, 4, f"TSD{index}", "rw") for index in range(4)]
    + [(0x20 + 4 * index, 4, f"TSAD{index}", "rw") for index in range(4)]
    + [(0x30, 4, "RBSTART", "rw"), (0x37, 1, "CR", "rw"), (0x38, 2, "CAPR", "rw"),
       (0x3A, 2, "CBR", "r"), (0x3C, 2, "IMR", "rw"), (0x3E, 2, "ISR", "w1c"),
       (0x40, 4, "TCR", "rw"), (0x44, 4, "RCR", "rw"), (0x48, 4, "TCTR", "rw"),
       (0x4C, 4, "MPC", "rw"), (0x50, 1, "9346CR", "rw"), (0x51, 1, "CONFIG0", "rw"),
       (0x52, 1, "CONFIG1", "rw"), (0x54, 4, "TimerInt", "rw"), (0x58, 1, "MSR", "r"),
       (0x59, 1, "CONFIG3", "rw"), (0x5A, 1, "CONFIG4", "rw"), (0x5C, 2, "MULINT", "rw"),
       (0x5E, 1, "RERID", "r"), (0x60, 2, "TSAD", "r"), (0x62, 2, "BMCR", "rw"),
       (0x64, 2, "BMSR", "r"), (0x66, 2, "ANAR", "rw"), (0x68, 2, "ANLPAR", "r"),
       (0x6A, 2, "ANER", "r"), (0x74, 2, "CSCR", "rw"), (0xD8, 1, "CONFIG5", "rw")])


def multicast_index(destination: bytes) -> int:
    """The MAR bit a multicast address selects: the top 6 bits of its big-endian
    Ethernet CRC (QEMU's compute_mcast_idx)."""
    crc = 0xFFFFFFFF
    for byte in destination:
        for bit in range(8):
            carry = (crc >> 31) ^ ((byte >> bit) & 1)
            crc = (crc << 1) & 0xFFFFFFFF
            if carry:
                crc = (crc ^ 0x04C11DB6) | carry
    return crc >> 26


@dataclasses.dataclass
class RTL8139State:
    """The chip's registers and internal pointers (guest-visible state only)."""

    idr: bytearray = dataclasses.field(default_factory=lambda: bytearray(6))
    mar: bytearray = dataclasses.field(default_factory=lambda: bytearray(8))
    tsd: List[int] = dataclasses.field(default_factory=lambda: [TSD_OWN] * 4)
    tsad: List[int] = dataclasses.field(default_factory=lambda: [0] * 4)
    #: the descriptor the transmitter sends next
    tx_next: int = 0
    rbstart: int = 0
    #: CR's RE and TE bits
    cr: int = 0
    #: the ring's read pointer (CAPR + 16) and write pointer (CBR), its size
    rx_read: int = 0
    rx_write: int = 0
    rx_size: int = 8192
    imr: int = 0
    isr: int = 0
    tcr: int = TCR_HWVERID
    rcr: int = 0
    mpc: int = 0
    #: virtual ns at which TCTR was 0
    tctr_base_ns: int = 0
    timer_int: int = 0
    cfg9346: int = 0
    config0: int = 0
    config1: int = CONFIG1_RESET
    config3: int = CONFIG3_RESET
    config4: int = 0
    config5: int = 0
    mulint: int = 0
    anar: int = ANAR_RESET
    cscr: int = CSCR_RESET


class RTL8139(NetworkCard):
    """The RTL8139 as a PCI function with INTA#, on a user-mode network."""

    OPTIONS: Dict[str, Option] = dict(
        function_options(device=3),
        **network_options(),
        io_base=Option("int", IO_BASE, "where the firmware placed BAR0 (256 bytes of I/O)",
                       minimum=0x100, maximum=0xFF00),
        mmio_address=Option("int", MMIO_BASE, "where the firmware placed BAR1 (256 bytes of memory)",
                            minimum=0, maximum=0xFFFFFF00),
        revision=Option("int", LINUX_8139TOO_REVISION, "the PCI revision ID (and RERID): 10h, "
                        "which Linux's 8139too drives; QEMU's 20h makes Linux leave the card "
                        "to 8139cp (C+ mode, not modelled)", minimum=0, maximum=0xFF))
    VENDOR, DEVICE, REVISION = 0x10EC, 0x8139, LINUX_8139TOO_REVISION
    COMMAND_RESET = COMMAND_IO | COMMAND_MEMORY
    STATE_VERSION = 1

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.nic = RTL8139State()
        self.eeprom = Eeprom93C46(self.eeprom_words())
        self._ports: Optional[int] = None
        self._mmio: Optional[MMIORegion] = None
        self._registers: Dict[int, Tuple[int, str, Callable[[], int], Callable[[int], None]]] = {}
        self._owner: List[Optional[int]] = [None] * REGISTER_SPACE
        for offset, width, name_, access in REGISTERS:
            read, write = self._handlers(name_)
            self._registers[offset] = (width, access, read, write)
            for byte in range(offset, offset + width):
                self._owner[byte] = offset

    def _handlers(self, name: str) -> Tuple[Callable[[], int], Callable[[int], None]]:
        """The read and write functions of register `name` (IDRn and the like by index)."""
        for prefix in ("IDR", "MAR", "TSD", "TSAD"):
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                index = int(name[len(prefix):])
                return (functools.partial(getattr(self, f"_read_{prefix.lower()}"), index),
                        functools.partial(getattr(self, f"_write_{prefix.lower()}"), index))
        if name in CONSTANTS:
            return functools.partial(int, CONSTANTS[name]), self._ignore
        if name in STORED:
            field, writable, locked = STORED[name]
            return (functools.partial(self._read_stored, field),
                    functools.partial(self._write_stored, field, writable, locked))
        key = {"9346CR": "cfg9346", "TSAD": "tsad_summary"}.get(name, name.lower())
        return getattr(self, f"_read_{key}"), getattr(self, f"_write_{key}", self._ignore)

    # ------------------------------------------------------------ PCI
    def bars(self) -> List[Optional[Bar]]:
        return [Bar(REGISTER_SPACE, io=True, address=self.options["io_base"]),
                Bar(REGISTER_SPACE, address=self.options["mmio_address"])]

    def power_on_config(self) -> bytearray:
        config = super().power_on_config()
        config[REVISION_ID] = self.options["revision"]
        return config

    def config_write(self, offset: int, size: int, value: int) -> None:
        super().config_write(offset, size, value)
        if offset <= COMMAND < offset + size or BAR0 <= offset < BAR0 + 8:
            self._map_registers()
            self._transmit()            # the bus master bit may have been set
            self._deliver()

    def _map_registers(self) -> None:
        """Decode the registers where BAR0 (I/O) and BAR1 (memory) say, while enabled."""
        command = self.config_read(COMMAND, 2)
        base: Optional[int] = None
        if command & COMMAND_IO:
            base = self.config_read(BAR0, 4) & 0xFF00 or None
        self._ports = self.move_io_ports(self._ports, base, REGISTER_SPACE, self._io_read, self._io_write,
                                         f"{self.name} registers", sizes=(1, 2, 4))
        address: Optional[int] = None
        if command & COMMAND_MEMORY:
            address = self.config_read(BAR0 + 4, 4) & 0xFFFFFF00 or None
        mapped = None if self._mmio is None else self._mmio.base
        if address != mapped:
            if self._mmio is not None:
                self.bus.unmap_region(self._mmio)
                self._mmio = None
            if address is not None:
                self._mmio = MMIORegion(address, REGISTER_SPACE, f"{self.name} registers",
                                        self._mmio_read, self._mmio_write)
                self.bus.map_guest_region(self._mmio)

    def _update_irq(self) -> None:
        asserted = bool(self.nic.isr & self.nic.imr)
        if asserted != bool(self.config_read(STATUS, 2) & STATUS_INTERRUPT):
            self.set_interrupt(asserted)

    # ------------------------------------------------------------ register access
    def _io_read(self, port: int, size: int) -> int:
        return self.read_register(port - self._ports, size)

    def _io_write(self, port: int, size: int, value: int) -> None:
        self.write_register(port - self._ports, size, value)

    def _mmio_read(self, address: int, size: int) -> int:
        offset = address - self._mmio.base
        return self.read_register(offset, size) if offset < REGISTER_SPACE else (1 << 8 * size) - 1

    def _mmio_write(self, address: int, size: int, value: int) -> None:
        offset = address - self._mmio.base
        if offset < REGISTER_SPACE:
            self.write_register(offset, size, value)

    def _pieces(self, offset: int, size: int):
        """(register offset or None, byte offset in it, bytes, shift in the access)
        for each part of an access of `size` bytes at `offset`."""
        at, end = offset, min(offset + size, REGISTER_SPACE)
        while at < end:
            start = self._owner[at]
            if start is None:
                yield None, 0, 1, 8 * (at - offset)
                at += 1
                continue
            take = min(start + self._registers[start][0], end) - at
            yield start, at - start, take, 8 * (at - offset)
            at += take

    def read_register(self, offset: int, size: int) -> int:
        """`size` bytes of the register space at `offset`, as the guest reads them."""
        value = 0
        for start, inner, count, shift in self._pieces(offset, size):
            if start is not None:
                register = self._registers[start][2]()
                value |= (register >> (8 * inner) & ((1 << 8 * count) - 1)) << shift
        return value

    def write_register(self, offset: int, size: int, value: int) -> None:
        for start, inner, count, shift in self._pieces(offset, size):
            if start is None:
                continue
            width, access, read, write = self._registers[start]
            part = value >> shift & ((1 << 8 * count) - 1)
            if count < width:                   # merge a partial write
                mask = ((1 << 8 * count) - 1) << 8 * inner
                old = 0 if access == "w1c" else read()
                part = (old & ~mask) | (part << 8 * inner)
            write(part)

    def _ignore(self, value: int) -> None:
        """A read-only register: writes are dropped."""

    def _read_stored(self, field: str) -> int:
        return getattr(self.nic, field)

    def _write_stored(self, field: str, writable: int, locked: bool, value: int) -> None:
        """A register that only holds what is written to its writable bits (while
        9346CR is in configuration-write mode, for the `locked` ones)."""
        nic = self.nic
        if not locked or nic.cfg9346 & EEM_MASK == EEM_CONFIG_WRITE:
            setattr(nic, field, getattr(nic, field) & ~writable | value & writable)

    # ------------------------------------------------------------ registers
    def _read_idr(self, index: int) -> int:
        return self.nic.idr[index]

    def _write_idr(self, index: int, value: int) -> None:
        self.nic.idr[index] = value

    def _read_mar(self, index: int) -> int:
        return self.nic.mar[index]

    def _write_mar(self, index: int, value: int) -> None:
        self.nic.mar[index] = value

    def _read_tsd(self, index: int) -> int:
        return self.nic.tsd[index]

    def _write_tsd(self, index: int, value: int) -> None:
        old = self.nic.tsd[index]
        self.nic.tsd[index] = (value & ~TSD_STATUS_BITS & ~TSD_RESERVED) | (old & TSD_RESERVED)
        self._transmit()

    def _read_tsad(self, index: int) -> int:
        return self.nic.tsad[index]

    def _write_tsad(self, index: int, value: int) -> None:
        self.nic.tsad[index] = value

    def _read_cr(self) -> int:
        nic = self.nic
        return nic.cr | (CR_BUFE if nic.rx_read == nic.rx_write else 0)

    def _write_cr(self, value: int) -> None:
        if value & CR_RST:
            self.software_reset()
        self.nic.cr = value & (CR_RE | CR_TE)
        self._transmit()
        self._deliver()

    def _read_capr(self) -> int:
        return (self.nic.rx_read - CAPR_OFFSET) & 0xFFFF

    def _write_capr(self, value: int) -> None:
        self.nic.rx_read = (value + CAPR_OFFSET) % self.nic.rx_size
        self._deliver()

    def _read_cbr(self) -> int:
        return self.nic.rx_write & 0xFFFF

    def _read_imr(self) -> int:
        return self.nic.imr

    def _write_imr(self, value: int) -> None:
        self.nic.imr = value & INTERRUPT_BITS
        self._update_irq()
        self._deliver()                     # RXOVW in IMR lets a waiting frame in

    def _read_isr(self) -> int:
        return self.nic.isr

    def _write_isr(self, value: int) -> None:
        self.nic.isr &= ~value
        self._update_irq()

    def _read_tcr(self) -> int:
        return self.nic.tcr

    def _write_tcr(self, value: int) -> None:
        if self.nic.cr & CR_TE:             # QEMU drops TCR writes while TE is clear
            self.nic.tcr = (self.nic.tcr & ~TCR_WRITABLE) | (value & TCR_WRITABLE)

    def _read_rcr(self) -> int:
        return self.nic.rcr

    def _write_rcr(self, value: int) -> None:
        nic = self.nic
        nic.rcr = (nic.rcr & ~RCR_WRITABLE) | (value & RCR_WRITABLE)
        nic.rx_size = 8192 << (nic.rcr >> RCR_RBLEN_SHIFT & 3)
        nic.rx_read = nic.rx_write = 0      # as QEMU: a new ring starts empty
        self._deliver()

    def _read_tctr(self) -> int:
        return (self.clock.now() - self.nic.tctr_base_ns) * PCI_CLOCK_HZ // 1_000_000_000 & 0xFFFFFFFF

    def _write_tctr(self, value: int) -> None:
        self.nic.tctr_base_ns = self.clock.now()

    def _read_mpc(self) -> int:
        return self.nic.mpc

    def _write_mpc(self, value: int) -> None:
        self.nic.mpc = 0

    def _read_rerid(self) -> int:
        return self.options["revision"]

    def _read_tsad_summary(self) -> int:
        summary = 0
        for index, tsd in enumerate(self.nic.tsd):
            summary |= ((tsd & TSD_TOK and 1 << 12) | (tsd & TSD_TUN and 1 << 8)
                        | (tsd & TSD_TABT and 1 << 4) | (tsd & TSD_OWN and 1)) << index
        return summary

    # ------------------------------------------------------------ 9346CR and the EEPROM
    def eeprom_words(self) -> List[int]:
        """8129h, the IDs, and the MAC at words 7-9, as QEMU's EEPROM holds them."""
        return [0x8129, self.VENDOR, self.DEVICE, 0, 0, 0, 0] + list(struct.unpack("<3H", self.mac))

    def _read_cfg9346(self) -> int:
        value = self.nic.cfg9346 & ~EE_DO
        if self.nic.cfg9346 & EEM_MASK == EEM_PROGRAM and self.eeprom.data_out():
            value |= EE_DO
        return value

    def _write_cfg9346(self, value: int) -> None:
        mode = value & EEM_MASK
        if mode == EEM_AUTOLOAD:
            self.software_reset()
            self.nic.cfg9346 = 0
            return
        self.nic.cfg9346 = value & 0xCE
        if mode == EEM_PROGRAM:
            self.eeprom.wires(bool(value & EE_CS), bool(value & EE_SK), value & EE_DI)

    # ------------------------------------------------------------ transmit
    def _transmit(self) -> None:
        """Send the descriptors the host handed over, in round-robin order."""
        nic = self.nic
        sent = False
        while nic.cr & CR_TE and not nic.tsd[nic.tx_next] & TSD_OWN and self._may_master():
            index = nic.tx_next
            frame = self.bus.read_bytes(nic.tsad[index], nic.tsd[index] & TSD_SIZE)
            nic.tsd[index] |= TSD_OWN | TSD_TOK
            nic.tx_next = (index + 1) % 4
            nic.isr |= ISR_TOK
            sent = True
            if nic.tcr & TCR_LOOPBACK == TCR_LOOPBACK:
                self._receive(frame)
            elif frame:
                self._send(frame)
        if sent:
            self._update_irq()

    # ------------------------------------------------------------ receive
    def _can_receive(self) -> bool:
        """QEMU's rule: a frame comes in while the ring is empty, has 1514 bytes
        free, or IMR enables RXOVW (then one that does not fit is counted lost)."""
        nic = self.nic
        if not nic.cr & CR_RE:
            return True                     # taken off the wire and dropped
        free = (nic.rx_size + nic.rx_read - nic.rx_write) % nic.rx_size
        return free == 0 or free >= RX_ROOM or bool(nic.imr & ISR_RXOVW)

    def _ready(self) -> bool:
        return self._can_receive() and (not self.nic.cr & CR_RE or self._may_master())

    def _accepts(self, frame: bytes) -> Optional[int]:
        """The header's address bits if RCR accepts `frame`, else None."""
        nic = self.nic
        destination = frame[:6]
        if destination == b"\xff" * 6:
            kind, accept = RX_BAR, RCR_AB
        elif destination[0] & 1:
            index = multicast_index(destination)
            kind = RX_MAR
            accept = RCR_AM if nic.mar[index >> 3] >> (index & 7) & 1 else 0
        elif destination == bytes(nic.idr):
            kind, accept = RX_PAM, RCR_APM
        else:
            kind, accept = 0, 0
        if nic.rcr & accept or nic.rcr & RCR_AAP:
            return kind
        return None

    def _receive(self, frame: bytes) -> None:
        nic = self.nic
        if not nic.cr & CR_RE or len(frame) < 14:
            return
        kind = self._accepts(frame)
        if kind is None:
            return
        frame = frame.ljust(RX_MINIMUM, b"\0")
        free = (nic.rx_size + nic.rx_read - nic.rx_write) % nic.rx_size
        if free and len(frame) + 8 >= free:
            nic.isr |= ISR_RXOVW
            nic.mpc = (nic.mpc + 1) & 0xFFFFFF
            self._update_irq()
            return
        header = RX_ROK | kind | (len(frame) + 4) << 16
        self._ring_write(struct.pack("<I", header))
        self._ring_write(frame)
        self._ring_write(struct.pack("<I", zlib.crc32(frame)))
        nic.rx_write = ((nic.rx_write + 3) & ~3) % nic.rx_size
        nic.isr |= ISR_ROK
        self._update_irq()

    def _ring_write(self, data: bytes) -> None:
        """Store at the write pointer: past the end with WRAP, else from the start."""
        nic = self.nic
        end = nic.rx_write + len(data)
        if end > nic.rx_size and end % nic.rx_size and not (nic.rcr & RCR_WRAP and nic.rx_size < 65536):
            head = nic.rx_size - nic.rx_write
            if head > 0:
                self.bus.write_bytes(nic.rbstart + nic.rx_write, data[:head])
            self.bus.write_bytes(nic.rbstart, data[head:])
            nic.rx_write = len(data) - head
            return
        self.bus.write_bytes(nic.rbstart + nic.rx_write, data)
        nic.rx_write = end

    # ------------------------------------------------------------ lifecycle
    def software_reset(self) -> None:
        """CR.RST: everything but the station and multicast addresses and RCR."""
        old = self.nic
        self.nic = RTL8139State(idr=old.idr, mar=old.mar, rcr=old.rcr, cfg9346=old.cfg9346,
                                tctr_base_ns=self.clock.now())
        self._update_irq()

    def reset(self) -> None:
        super().reset()
        self.nic = RTL8139State(idr=bytearray(self.mac))
        self.eeprom = Eeprom93C46(self.eeprom_words())
        self._map_registers()

    def snapshot(self) -> Dict[str, Any]:
        return dict(super().snapshot(), nic=state_to_dict(self.nic), eeprom=self.eeprom.snapshot())

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state)
        self.nic = dict_to_state(RTL8139State, state["nic"])
        self.eeprom.restore(state["eeprom"])
        self._map_registers()
        self._schedule()
