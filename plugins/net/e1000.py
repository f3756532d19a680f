"""Intel 82540EM Gigabit Ethernet controller (PCI 8086:100E rev 03h, subsystem
1AF4:1100 as QEMU's `e1000`), attached to the deterministic user-mode network
of `usernet.py`.

Sources: the PCI/PCI-X Family of Gigabit Ethernet Controllers Software
Developer's Manual (8254x SDM: chapter 3 for the descriptors, the TCP/IP
context and TCP segmentation, 5 for the EEPROM, 13 for the registers) and QEMU's `hw/net/e1000.c` wherever the manual leaves a choice
(reset values, the PHY, the EEPROM contents, when a frame waits and when it is
dropped, how offloaded checksums are inserted).  The register map and bits are
in `e1000regs.py`.

BAR0 is 128 KiB of memory holding the registers, dwords that drivers access
as dwords (the manual asks for it); a narrower read returns its bytes of the
dword, a narrower write stores its bytes with the others 0 (QEMU, whose
registers take only 4-byte accesses, widens them its own way).
BAR1 is 64 bytes of I/O: IOADDR (00h) selects a register and IODATA (04h)
reads or writes it (the manual's I/O-mapped access); QEMU's I/O BAR reads 0 and drops writes, so
Linux's CTRL.RST through it (e1000_reset_hw on an 82540) resets the card here
and not on QEMU.  Registers no one models read 0 and drop writes.

CTRL.RST resets every register but the PHY's and reloads the MAC address from
the EEPROM into RAL0/RAH0 (with AV); STATUS reads link up at 1000 Mb/s full
duplex.  The EEPROM (64 words: the MAC at 0-2, QEMU's template, the checksum
word 3Fh making the sum BABAh) is read through EERD or bit by bit through
EECD's SK/CS/DI/DO as a 93C46 (`eeprom.py`), as Linux's e1000 does on an 82540.
MDIC reaches the M88E1011 PHY at address 1 (ID 0141h/0C20h; link up and
auto-negotiation complete from reset; QEMU's register set: the others answer
with MDIC.ERROR).

Interrupts: ICR collects the causes (reading it clears it; writing clears the
bits written), ICS sets causes and reads as ICR, IMS/IMC set and clear the
mask; INTA# is asserted while ICR & IMS is not 0.  ITR, RDTR, RADV, TIDV and
TADV are stored only: no interrupt moderation (QEMU moderates by ITR).

Transmit (TCTL.EN; at a TDT or TCTL write): the descriptors from TDH to TDT
are read by DMA: legacy descriptors (length, EOP; IFCS, the CSO/CSS fields
ignored as on QEMU), TCP/IP context descriptors (IPCSS/IPCSO/IPCSE,
TUCSS/TUCSO/TUCSE, MSS, HDRLEN, PAYLEN, TSE) and data descriptors (POPTS IXSM
and TXSM: the IP and TCP/UDP checksums are computed and inserted as QEMU's
putsum; TSE: TCP segmentation into MSS-sized frames with the IP length and
identification, the TCP sequence number and the PSH/FIN flags fixed up per
segment, as QEMU).  A descriptor with RS (or RPS) gets DD written back; the
pass ends with ICR.TXQE, and TXDW when a descriptor was written back.

Receive (RCTL.EN, the link up and the bus master bit): a frame the filter
accepts (BAM broadcast, UPE/MPE any unicast/multicast, RAL/RAH entries with
AV, the MTA hash by RCTL.MO) is padded to 60 bytes, dropped if longer than
1518 bytes without LPE (16380 with it), and stored with its FCS (4 bytes, not
with SECRC) in the buffers of the descriptors from RDH, BSIZE/BSEX bytes each;
each descriptor gets its length and status DD, and the last EOP and IXSM (no
receive checksum offload).  ICR.RXT0 follows, and RXDMT0 when the free
descriptors are at most RDLEN/2, /4 or /8 (RCTL.RDMTS).  While RDH equals RDT
a frame waits on the wire; one that needs more buffers than are free is
dropped with ICR.RXO and counted in MPC and RNBC (QEMU's rules).

Statistics (4000h-40FCh) count as QEMU does and clear when read (the 64-bit
octet counters when their high half is read).  Not modelled: VLAN tagging and
filtering (VET, VFTA stored), interrupt moderation, legacy-descriptor checksum
insertion (CSO/CSS), receive checksum offload, flow control (stored), wake-up
and manageability (stored), link changes, the PHY's auto-negotiation delay
(QEMU: link down 500 ms after BMCR.ANRESTART), QEMU's one-second receive pause
after an RCTL write, the flash (FLASH BAR), MSI.
"""

import dataclasses
import functools
import struct
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

from pcmachine.bus import MMIORegion
from pcmachine.component import Option, dict_to_state, state_to_dict

from pcmachine.plugins.pci.function import (BAR0, COMMAND, COMMAND_IO, COMMAND_MEMORY, STATUS,
                                            STATUS_INTERRUPT, Bar, function_options)

from . import e1000regs as r
from .card import NetworkCard, network_options
from .e1000tx import TxState, Transmitter
from .eeprom import Eeprom93C46

#: where the firmware leaves BAR0 (128 KiB aligned, below the I/O APIC) and BAR1
MMIO_BASE, IO_BASE = 0xFEA00000, 0xC100


@dataclasses.dataclass
class E1000State:
    """The MAC's registers (guest-visible state only)."""

    ctrl: int = r.CTRL_RESET
    status: int = r.STATUS_RESET
    eecd: int = 0
    eerd: int = 0
    mdic: int = 0
    icr: int = 0
    ims: int = 0
    rctl: int = 0
    rdh: int = 0
    rdt: int = 0
    tctl: int = 0
    tdh: int = 0
    tdt: int = 0
    ioaddr: int = 0
    #: the registers that only store, by name (STORED in e1000regs.py)
    stored: List[int] = dataclasses.field(
        default_factory=lambda: [r.STORED_RESET.get(name, 0) for name in r.STORED])
    ra: List[int] = dataclasses.field(default_factory=lambda: [0] * r.RA_COUNT)
    mta: List[int] = dataclasses.field(default_factory=lambda: [0] * r.MTA_COUNT)
    vfta: List[int] = dataclasses.field(default_factory=lambda: [0] * r.VFTA_COUNT)
    stats: List[int] = dataclasses.field(default_factory=lambda: [0] * 64)
    phy: List[int] = dataclasses.field(default_factory=r.phy_reset_values)


STORED_INDEX = {name: index for index, name in enumerate(r.STORED)}


class E1000(NetworkCard):
    """The 82540EM as a PCI function with INTA#, on a user-mode network."""

    OPTIONS: Dict[str, Option] = dict(
        function_options(device=3),
        **network_options(),
        mmio_address=Option("int", MMIO_BASE, "where the firmware placed BAR0 (128 KiB of memory, "
                            "128 KiB aligned)", minimum=0, maximum=0xFFFE0000),
        io_base=Option("int", IO_BASE, "where the firmware placed BAR1 (64 bytes of I/O)",
                       minimum=0x100, maximum=0xFFC0))
    VENDOR, DEVICE, REVISION = 0x8086, 0x100E, 0x03
    COMMAND_RESET = COMMAND_IO | COMMAND_MEMORY
    STATE_VERSION = 1

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.nic = E1000State()
        self.eeprom = Eeprom93C46(r.eeprom_words(self.mac, self.DEVICE))
        self.tx = Transmitter(self)
        self._ports: Optional[int] = None
        self._mmio: Optional[MMIORegion] = None
        self._registers: Dict[int, Tuple[Callable[[], int], Callable[[int], None]]] = {}
        for offset, name_ in REGISTER_NAMES.items():
            self._registers[offset] = self._handlers(name_)

    def _handlers(self, name: str) -> Tuple[Callable[[], int], Callable[[int], None]]:
        """The read and write functions of register `name`."""
        for prefix, array in (("RA", "ra"), ("MTA", "mta"), ("VFTA", "vfta")):
            if name.startswith(prefix + "[") and name.endswith("]"):
                index = int(name[len(prefix) + 1:-1])
                return (functools.partial(self._read_array, array, index),
                        functools.partial(self._write_array, array, index))
        if name in r.STAT:
            return functools.partial(self._read_statistic, r.STAT[name]), self._ignore
        if name in r.STORED:
            index = STORED_INDEX[name]
            return (functools.partial(self._read_stored, index),
                    functools.partial(self._write_stored, index, r.STORED[name][1]))
        return getattr(self, f"_read_{name.lower()}"), getattr(self, f"_write_{name.lower()}", self._ignore)

    # ------------------------------------------------------------ PCI
    def bars(self) -> List[Optional[Bar]]:
        return [Bar(r.MMIO_SIZE, address=self.options["mmio_address"]),
                Bar(r.IO_SIZE, io=True, address=self.options["io_base"])]

    def config_write(self, offset: int, size: int, value: int) -> None:
        super().config_write(offset, size, value)
        if offset <= COMMAND < offset + size or BAR0 <= offset < BAR0 + 8:
            self._map_registers()
            self.tx.run()               # the bus master bit may have been set
            self._deliver()

    def _map_registers(self) -> None:
        """Decode BAR0 (memory) and BAR1 (I/O) where they point, while enabled."""
        command = self.config_read(COMMAND, 2)
        address: Optional[int] = None
        if command & COMMAND_MEMORY:
            address = self.config_read(BAR0, 4) & ~(r.MMIO_SIZE - 1) & 0xFFFFFFFF or None
        mapped = None if self._mmio is None else self._mmio.base
        if address != mapped:
            if self._mmio is not None:
                self.bus.unmap_region(self._mmio)
                self._mmio = None
            if address is not None:
                self._mmio = MMIORegion(address, r.MMIO_SIZE, f"{self.name} registers",
                                        self._mmio_read, self._mmio_write)
                self.bus.map_guest_region(self._mmio)
        base: Optional[int] = None
        if command & COMMAND_IO:
            base = self.config_read(BAR0 + 4, 4) & ~(r.IO_SIZE - 1) & 0xFFFF or None
        self._ports = self.move_io_ports(self._ports, base, r.IO_SIZE, self._io_read, self._io_write,
                                         f"{self.name} IOADDR/IODATA", sizes=(1, 2, 4))

    def _update_irq(self) -> None:
        asserted = bool(self.nic.icr & self.nic.ims)
        if asserted != bool(self.config_read(STATUS, 2) & STATUS_INTERRUPT):
            self.set_interrupt(asserted)

    def raise_cause(self, causes: int) -> None:
        """Set interrupt causes in ICR (ICS's write)."""
        self.nic.icr |= causes
        self._update_irq()

    # ------------------------------------------------------------ register access
    def read_register(self, offset: int) -> int:
        """The dword register at `offset` (0 for one not modelled)."""
        handlers = self._registers.get(offset)
        return handlers[0]() if handlers is not None else 0

    def write_register(self, offset: int, value: int) -> None:
        handlers = self._registers.get(offset)
        if handlers is not None:
            handlers[1](value & 0xFFFFFFFF)

    def _mmio_read(self, address: int, size: int) -> int:
        offset = address - self._mmio.base
        value = self.read_register(offset & ~3)
        return value >> 8 * (offset & 3) & ((1 << 8 * size) - 1)

    def _mmio_write(self, address: int, size: int, value: int) -> None:
        offset = address - self._mmio.base
        self.write_register(offset & ~3, value << 8 * (offset & 3))

    def _io_read(self, port: int, size: int) -> int:
        offset = port - self._ports
        if offset & ~3 == r.IOADDR:
            value = self.nic.ioaddr
        elif offset & ~3 == r.IODATA:
            value = self.read_register(self.nic.ioaddr & (r.MMIO_SIZE - 4))
        else:
            return 0
        return value >> 8 * (offset & 3) & ((1 << 8 * size) - 1)

    def _io_write(self, port: int, size: int, value: int) -> None:
        offset = port - self._ports
        value = value << 8 * (offset & 3) & 0xFFFFFFFF
        if offset & ~3 == r.IOADDR:
            self.nic.ioaddr = value & (r.MMIO_SIZE - 4)
        elif offset & ~3 == r.IODATA:
            self.write_register(self.nic.ioaddr, value)

    def _ignore(self, value: int) -> None:
        """A read-only register: writes are dropped."""

    def _read_stored(self, index: int) -> int:
        return self.nic.stored[index]

    def _write_stored(self, index: int, writable: int, value: int) -> None:
        self.nic.stored[index] = value & writable

    def stored(self, name: str) -> int:
        return self.nic.stored[STORED_INDEX[name]]

    def _read_array(self, array: str, index: int) -> int:
        return getattr(self.nic, array)[index]

    def _write_array(self, array: str, index: int, value: int) -> None:
        getattr(self.nic, array)[index] = value

    def _read_statistic(self, index: int) -> int:
        stats = self.nic.stats
        value = stats[index]
        stats[index] = 0
        if index in r.STAT_HIGH:
            stats[index - 1] = 0
        return value

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a 32-bit statistics counter, which stops at its maximum."""
        index = r.STAT[name]
        self.nic.stats[index] = min(self.nic.stats[index] + amount, 0xFFFFFFFF)

    def count_octets(self, low: str, amount: int) -> None:
        """Add to a 64-bit counter held as a low and a high register."""
        stats, index = self.nic.stats, r.STAT[low]
        total = min((stats[index + 1] << 32 | stats[index]) + amount, (1 << 64) - 1)
        stats[index], stats[index + 1] = total & 0xFFFFFFFF, total >> 32

    # ------------------------------------------------------------ general registers
    def _read_ctrl(self) -> int:
        return self.nic.ctrl

    def _write_ctrl(self, value: int) -> None:
        if value & r.CTRL_RST:
            self.software_reset()
        if value & r.CTRL_PHY_RST:
            self.nic.phy = r.phy_reset_values()
        self.nic.ctrl = value & ~r.CTRL_RST

    def _read_status(self) -> int:
        return self.nic.status

    def _read_eecd(self) -> int:
        data_out = r.EECD_DO if self.eeprom.data_out() else 0
        return r.EECD_PRES | r.EECD_GNT | self.nic.eecd | data_out

    def _write_eecd(self, value: int) -> None:
        self.nic.eecd = value & r.EECD_STORED
        self.eeprom.wires(bool(value & r.EECD_CS), bool(value & r.EECD_SK), value & r.EECD_DI)

    def _read_eerd(self) -> int:
        value = self.nic.eerd
        if not value & r.EERD_START:
            return value
        value &= ~r.EERD_START
        address = value >> r.EERD_ADDR_SHIFT & 0xFF
        if address >= r.EEPROM_WORDS:
            return value | r.EERD_DONE
        return value | r.EERD_DONE | self.eeprom.contents[address] << r.EERD_DATA_SHIFT

    def _write_eerd(self, value: int) -> None:
        self.nic.eerd = value

    def _read_mdic(self) -> int:
        return self.nic.mdic

    def _write_mdic(self, value: int) -> None:
        """A PHY register read or write, done at once (QEMU's set_mdic)."""
        phy = self.nic.phy
        register = value >> r.MDIC_REG_SHIFT & 0x1F
        readable, writable = r.PHY_ACCESS.get(register, (False, False))
        if value >> r.MDIC_PHY_SHIFT & 0x1F != r.PHY_ADDRESS:
            value = self.nic.mdic | r.MDIC_ERROR
        elif value & r.MDIC_OP_READ:
            value = value & ~r.MDIC_DATA | phy[register] if readable else value | r.MDIC_ERROR
        elif value & r.MDIC_OP_WRITE:
            if not writable:
                value |= r.MDIC_ERROR
            elif register == r.BMCR:        # reserved bits 0-5, reset and restart self-clear
                phy[register] = value & 0xFFFF & ~(0x3F | r.BMCR_RESET_BIT | r.BMCR_ANRESTART)
            else:
                phy[register] = value & r.MDIC_DATA
        self.nic.mdic = value | r.MDIC_READY
        if value & r.MDIC_INT_EN:
            self.raise_cause(r.ICR_MDAC)

    # ------------------------------------------------------------ interrupts
    def _read_icr(self) -> int:
        value = self.nic.icr
        self.nic.icr = 0
        self._update_irq()
        return value

    def _write_icr(self, value: int) -> None:
        self.nic.icr &= ~value
        self._update_irq()

    def _read_ics(self) -> int:
        return self.nic.icr             # as QEMU and the hardware: ICS reads as ICR, not cleared

    def _write_ics(self, value: int) -> None:
        self.raise_cause(value & r.ICR_BITS)

    def _read_ims(self) -> int:
        return self.nic.ims

    def _write_ims(self, value: int) -> None:
        self.nic.ims |= value & r.ICR_BITS
        self._update_irq()

    def _write_imc(self, value: int) -> None:
        self.nic.ims &= ~value
        self._update_irq()

    def _read_imc(self) -> int:
        return 0

    # ------------------------------------------------------------ receive registers
    def _read_rctl(self) -> int:
        return self.nic.rctl

    def _write_rctl(self, value: int) -> None:
        self.nic.rctl = value
        self._deliver()

    def _read_rdh(self) -> int:
        return self.nic.rdh

    def _write_rdh(self, value: int) -> None:
        self.nic.rdh = value & 0xFFFF

    def _read_rdt(self) -> int:
        return self.nic.rdt

    def _write_rdt(self, value: int) -> None:
        self.nic.rdt = value & 0xFFFF
        self._deliver()

    # ------------------------------------------------------------ transmit registers
    def _read_tctl(self) -> int:
        return self.nic.tctl

    def _write_tctl(self, value: int) -> None:
        self.nic.tctl = value
        self.tx.run()

    def _read_tdh(self) -> int:
        return self.nic.tdh

    def _write_tdh(self, value: int) -> None:
        self.nic.tdh = value & 0xFFFF

    def _read_tdt(self) -> int:
        return self.nic.tdt

    def _write_tdt(self, value: int) -> None:
        self.nic.tdt = value & 0xFFFF
        self.tx.run()

    def loopback(self) -> bool:
        """The PHY loops frames back (BMCR bit 14), as QEMU's e1000_send_packet."""
        return bool(self.nic.phy[r.BMCR] & r.BMCR_LOOPBACK)

    # ------------------------------------------------------------ receive
    def _rx_buffer_size(self) -> int:
        size = self.nic.rctl >> r.RCTL_BSIZE_SHIFT & 3
        if self.nic.rctl & r.RCTL_BSEX and size:
            return 2048 << (4 - size)   # 16384, 8192, 4096
        return 2048 >> size             # 2048, 1024, 512, 256

    def _ring_size(self) -> int:
        return self.stored("RDLEN") // r.DESCRIPTOR_SIZE

    def _free_buffers(self) -> int:
        nic = self.nic
        return (nic.rdt - nic.rdh) % self._ring_size() if self._ring_size() else 0

    def _ready(self) -> bool:
        """QEMU's e1000_can_receive: enabled, link up, bus master, a free descriptor."""
        nic = self.nic
        return (bool(nic.rctl & r.RCTL_EN) and bool(nic.status & r.STATUS_LU)
                and nic.rdh != nic.rdt and self._may_master())

    def _accepts(self, destination: bytes) -> bool:
        """The receive filter (the manual's packet filtering; QEMU's e1000x_rx_group_filter)."""
        rctl = self.nic.rctl
        if destination == b"\xff" * 6:
            if rctl & r.RCTL_BAM:
                return True
        elif destination[0] & 1:
            if rctl & r.RCTL_MPE:
                return True
        elif rctl & r.RCTL_UPE:
            return True
        ra = self.nic.ra
        for index in range(0, r.RA_COUNT, 2):
            if ra[index + 1] & 0x80000000 and destination == struct.pack("<IH", ra[index],
                                                                          ra[index + 1] & 0xFFFF):
                return True
        shift = (4, 3, 2, 0)[rctl >> r.RCTL_MO_SHIFT & 3]
        bit = (destination[5] << 8 | destination[4]) >> shift & 0xFFF
        return bool(self.nic.mta[bit >> 5] >> (bit & 31) & 1)

    def _receive(self, frame: bytes) -> None:
        nic = self.nic
        if len(frame) < 14:
            return
        frame = frame.ljust(r.RX_MINIMUM, b"\0")
        limit = r.MAX_LONG_FRAME if nic.rctl & r.RCTL_LPE else r.MAX_FRAME
        if len(frame) > limit and not nic.rctl & r.RCTL_SBP:
            self.count("ROC")
            return
        if not self._accepts(frame[:6]):
            return
        data = frame if nic.rctl & r.RCTL_SECRC else frame + struct.pack("<I", zlib.crc32(frame))
        buffer_size = self._rx_buffer_size()
        needed = -(-len(data) // buffer_size)
        if needed > self._free_buffers():
            self.count("RNBC")
            self.count("MPC")
            self.raise_cause(r.ICR_RXO)
            return
        base = self.stored("RDBAH") << 32 | self.stored("RDBAL")
        for start in range(0, len(data), buffer_size):
            chunk = data[start:start + buffer_size]
            descriptor = base + r.DESCRIPTOR_SIZE * nic.rdh
            address = struct.unpack("<Q", self.bus.read_bytes(descriptor, 8))[0]
            status = r.RXD_DD
            if start + buffer_size >= len(data):
                status |= r.RXD_EOP | r.RXD_IXSM
            if address:                 # a null buffer address: skipped, as the manual says
                self.bus.write_bytes(address, chunk)
            self.bus.write_bytes(descriptor + 8, struct.pack("<HHBBH", len(chunk), 0, status, 0, 0))
            nic.rdh = (nic.rdh + 1) % self._ring_size()
        self._count_received(frame, len(data))
        causes = r.ICR_RXT0
        threshold = self.stored("RDLEN") >> ((nic.rctl >> r.RCTL_RDMTS_SHIFT & 3) + 1)
        if self._free_buffers() * r.DESCRIPTOR_SIZE <= threshold:
            causes |= r.ICR_RXDMT0
        self.raise_cause(causes)

    def _count_received(self, frame: bytes, stored: int) -> None:
        name = r.size_counter(r.PRC_SIZES, stored)
        if name:
            self.count(name)
        self.count("TPR")
        self.count("GPRC")
        self.count_octets("TORL", len(frame) + 4)
        self.count_octets("GORCL", len(frame) + 4)
        if frame[:6] == b"\xff" * 6:
            self.count("BPRC")
        elif frame[0] & 1:
            self.count("MPRC")

    # ------------------------------------------------------------ lifecycle
    def _load_mac(self) -> None:
        """RAL0/RAH0 from the EEPROM's MAC words, address valid."""
        words = self.eeprom.contents
        self.nic.ra[0] = words[0] | words[1] << 16
        self.nic.ra[1] = words[2] | 0x80000000

    def software_reset(self) -> None:
        """CTRL.RST: every MAC register to its reset value (the PHY keeps its own)."""
        self.nic = E1000State(phy=self.nic.phy)
        self.eeprom = Eeprom93C46(self.eeprom.contents)
        self.tx.state = TxState()
        self._load_mac()
        self._update_irq()

    def reset(self) -> None:
        super().reset()
        self.nic = E1000State()
        self.eeprom = Eeprom93C46(r.eeprom_words(self.mac, self.DEVICE))
        self.tx.state = TxState()
        self._load_mac()
        self._map_registers()

    def snapshot(self) -> Dict[str, Any]:
        return dict(super().snapshot(), nic=state_to_dict(self.nic), eeprom=self.eeprom.snapshot(),
                    tx=state_to_dict(self.tx.state))

    def restore(self, state: Dict[str, Any]) -> None:
        super().restore(state)
        self.nic = dict_to_state(E1000State, state["nic"])
        self.eeprom.restore(state["eeprom"])
        self.tx.state = dict_to_state(TxState, state["tx"])
        self._map_registers()
        self._schedule()


def _register_names() -> Dict[int, str]:
    """Every register the card decodes, by offset (the manual's register summary)."""
    names = {r.CTRL: "CTRL", r.STATUS: "STATUS", r.EECD: "EECD", r.EERD: "EERD", r.MDIC: "MDIC",
             r.ICR: "ICR", r.ICS: "ICS", r.IMS: "IMS", r.IMC: "IMC", r.RCTL: "RCTL", r.RDH: "RDH",
             r.RDT: "RDT", r.TCTL: "TCTL", r.TDH: "TDH", r.TDT: "TDT"}
    names.update({offset: name for name, (offset, _) in r.STORED.items()})
    names.update({r.STATISTICS + 4 * index: name for name, index in r.STAT.items()})
    names.update({r.RA + 4 * index: f"RA[{index}]" for index in range(r.RA_COUNT)})
    names.update({r.MTA + 4 * index: f"MTA[{index}]" for index in range(r.MTA_COUNT)})
    names.update({r.VFTA + 4 * index: f"VFTA[{index}]" for index in range(r.VFTA_COUNT)})
    return names


#: The register map: offset -> name (the SDM's; RA[n] is RAL/RAH n/2).
REGISTER_NAMES: Dict[int, str] = _register_names()
