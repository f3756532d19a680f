"""The 82540EM (plugins/net/e1000.py, e1000tx.py) on the user-mode network,
driven through its registers as a driver does: PCI identity and BARs, the
EEPROM through EERD and EECD, the PHY through MDIC, IOADDR/IODATA, the
descriptor rings with ARP, ping and DHCP round trips, the checksum and
segmentation offloads, the ring-full drop, interrupt masks, statistics and a
snapshot taken while a reply is owed.  The guest-program test is
tests/test_device_guests.py::test_e1000_guest_talks_to_the_user_mode_network."""

import random
import struct
import zlib
from typing import List, Optional, Tuple

from pcmachine.machine import Machine
from pcmachine.plugins.net.usernet import checksum, parse_options

from test_rtl8139 import (DEVICE, DNS_IP, FIXED_RTC, GATEWAY_IP, GATEWAY_MAC, GUEST_IP, MAC, REPLY_WAIT_NS,
                          arp_request, config_read, config_write, dhcp, ping)

MMIO, IO = 0xFEA00000, 0xC100
RX_RING, RX_BUFFERS, TX_RING, TX_BUFFERS = 0x100000, 0x110000, 0x120000, 0x130000
RING = 8
# registers
CTRL, STATUS, EECD, EERD, MDIC = 0x0000, 0x0008, 0x0010, 0x0014, 0x0020
ICR, ITR, ICS, IMS, IMC, RCTL, TCTL = 0x00C0, 0x00C4, 0x00C8, 0x00D0, 0x00D8, 0x0100, 0x0400
RDBAL, RDBAH, RDLEN, RDH, RDT = 0x2800, 0x2804, 0x2808, 0x2810, 0x2818
TDBAL, TDBAH, TDLEN, TDH, TDT = 0x3800, 0x3804, 0x3808, 0x3810, 0x3818
MPC, GPRC, GPTC, GORCL, GORCH, RNBC, TPR, TPT = 0x4010, 0x4074, 0x4080, 0x4088, 0x408C, 0x40A0, 0x40D0, 0x40D4
MTA, RAL0, RAH0 = 0x5200, 0x5400, 0x5404
# bits
TXDW, TXQE, LSC, RXDMT0, RXO, RXT0 = 0x01, 0x02, 0x04, 0x10, 0x40, 0x80
RCTL_EN, RCTL_UPE, RCTL_MPE, RCTL_BAM, RCTL_SECRC = 0x02, 0x08, 0x10, 0x8000, 0x04000000
RCTL_BSIZE_256 = 0x30000
EOP, IFCS, RS, DEXT, DTYP_D, TSE = 0x01000000, 0x02000000, 0x08000000, 0x20000000, 0x00100000, 0x04000000
CMD_TCP, CMD_IP = 0x01000000, 0x02000000
IXSM, TXSM = 0x0100, 0x0200                             # POPTS in the upper dword
DD, RX_EOP, RX_IXSM = 0x01, 0x02, 0x04
PIRQ_C_IRQ = 11


class Driver:
    """A driver's view of the card on a pc.yaml machine: rings of RING descriptors."""

    def __init__(self, overrides: Tuple[str, ...] = (), master: bool = True) -> None:
        self.machine = Machine.from_profile("pc.yaml", [FIXED_RTC, "nic.plugin=e1000", *overrides])
        self.bus = self.machine.bus
        self.card = self.machine.component("nic")
        self.rx_next = 0
        self.sent: List[bytes] = []
        if master:
            config_write(self.machine, DEVICE, 0x04, 0x0007, 2)     # I/O, memory, bus master

    def read(self, register: int) -> int:
        return self.bus.read(MMIO + register, 4)

    def write(self, register: int, value: int) -> None:
        self.bus.write(MMIO + register, 4, value)

    def start(self, rctl: int = RCTL_EN | RCTL_BAM, ims: int = RXT0 | TXDW, free: int = RING - 1) -> None:
        self.write(CTRL, 0x04000000)                                # RST
        self.write(IMC, 0xFFFFFFFF)
        for index in range(RING):
            self.bus.write_bytes(RX_RING + 16 * index, struct.pack("<QQ", RX_BUFFERS + 0x800 * index, 0))
        self.write(RDBAL, RX_RING)
        self.write(RDBAH, 0)
        self.write(RDLEN, 16 * RING)
        self.write(RDH, 0)
        self.write(RDT, free)
        self.write(TDBAL, TX_RING)
        self.write(TDLEN, 16 * RING)
        self.write(TDH, 0)
        self.write(TDT, 0)
        self.write(IMS, ims)
        self.write(TCTL, 0x0004010A)                                # EN, PSP, CT 10h
        self.write(RCTL, rctl)
        self.real_send = self.card.net.send
        self.card.net.send = self._capture

    def _capture(self, frame: bytes, now: int) -> None:
        self.sent.append(frame)
        self.real_send(frame, now)

    def queue(self, address: int, length: int, command: int, upper: int = 0) -> int:
        """Put one descriptor at TDT (not yet handed over); returns its index."""
        index = self.read(TDT)
        self.bus.write_bytes(TX_RING + 16 * index, struct.pack("<QII", address, command | length, upper))
        return index

    def hand_over(self, count: int) -> None:
        self.write(TDT, (self.read(TDT) + count) % RING)

    def send(self, frame: bytes) -> int:
        """A legacy descriptor with EOP, IFCS and RS; returns its index."""
        index = self.read(TDT)
        self.bus.write_bytes(TX_BUFFERS + 0x800 * index, frame)
        self.bus.write_bytes(TX_RING + 16 * index,
                             struct.pack("<QII", TX_BUFFERS + 0x800 * index, EOP | IFCS | RS | len(frame), 0))
        self.write(TDT, (index + 1) % RING)
        return index

    def send_offloaded(self, frame: bytes, context: bytes, popts: int, tse: int = 0) -> None:
        """A context descriptor then one data descriptor holding `frame`."""
        index = self.read(TDT)
        self.bus.write_bytes(TX_RING + 16 * index, context)
        buffer = TX_BUFFERS + 0x800 * ((index + 1) % RING)
        self.bus.write_bytes(buffer, frame)
        data = struct.pack("<QII", buffer, DEXT | DTYP_D | EOP | IFCS | RS | tse | len(frame), popts)
        self.bus.write_bytes(TX_RING + 16 * ((index + 1) % RING), data)
        self.write(TDT, (index + 2) % RING)

    def tx_status(self, index: int) -> int:
        return self.bus.read_bytes(TX_RING + 16 * index + 12, 1)[0]

    def wait(self, ns: int = REPLY_WAIT_NS) -> None:
        clock = self.machine.clock
        clock.skip_to(clock.now() + ns)
        clock.run_due()

    def receive(self) -> List[Tuple[int, bytes]]:
        """Every frame the card wrote back, as (status, bytes with FCS); RDT follows."""
        frames = []
        data = b""
        while True:
            descriptor = RX_RING + 16 * self.rx_next
            address, length, _, status, errors, _ = struct.unpack("<QHHBBH", self.bus.read_bytes(descriptor, 16))
            if not status & DD:
                return frames
            assert errors == 0
            data += self.bus.read_bytes(address, length)
            self.bus.write_bytes(descriptor + 12, b"\0")
            self.write(RDT, self.rx_next)
            self.rx_next = (self.rx_next + 1) % RING
            if status & RX_EOP:
                frames.append((status, data))
                data = b""


def without_fcs(data: bytes) -> bytes:
    assert zlib.crc32(data[:-4]).to_bytes(4, "little") == data[-4:]
    return data[:-4]


def context_descriptor(ipcss: int, ipcso: int, ipcse: int, tucss: int, tucso: int, tucse: int,
                       command: int = 0, paylen: int = 0, hdr_len: int = 0, mss: int = 0) -> bytes:
    return struct.pack("<BBHBBHIBBH", ipcss, ipcso, ipcse, tucss, tucso, tucse,
                       DEXT | command | paylen, 0, hdr_len, mss)


def zero_ip_checksum(frame: bytes) -> bytes:
    return frame[:24] + b"\0\0" + frame[26:]


# ---------------------------------------------------------------- identity and reset
def test_pci_identity_bars_and_reset_values():
    driver = Driver(master=False)
    machine = driver.machine
    assert config_read(machine, DEVICE, 0x00) == 0x100E8086
    assert config_read(machine, DEVICE, 0x08) == 0x02000003          # Ethernet, rev 03h
    assert config_read(machine, DEVICE, 0x2C) == 0x11001AF4          # QEMU's subsystem
    assert config_read(machine, DEVICE, 0x3D, 1) == 1                 # INTA#
    assert config_read(machine, DEVICE, 0x10) == MMIO
    assert config_read(machine, DEVICE, 0x14) == IO | 1
    config_write(machine, DEVICE, 0x10, 0xFFFFFFFF)
    assert config_read(machine, DEVICE, 0x10) == 0xFFFE0000          # 128 KiB of memory
    config_write(machine, DEVICE, 0x14, 0xFFFFFFFF)
    assert config_read(machine, DEVICE, 0x14) == 0xFFFFFFC1          # 64 bytes of I/O
    config_write(machine, DEVICE, 0x10, MMIO)
    config_write(machine, DEVICE, 0x14, IO | 1)
    assert driver.read(STATUS) == 0x80080783                          # link up, 1000 Mb/s FD
    assert driver.read(CTRL) == 0x00140240                            # SLU, 1000 Mb/s
    assert driver.read(RAL0) == 0x12005452 and driver.read(RAH0) == 0x80005634
    assert driver.read(RCTL) == driver.read(TCTL) == driver.read(IMS) == 0
    assert driver.read(0x1FFFC) == 0 and driver.read(0x4024) == 0    # registers no one models
    assert driver.bus.read(MMIO + STATUS + 1, 1) == 0x07              # a byte of the dword
    machine.close()


def test_ctrl_rst_restores_registers_and_reloads_the_mac():
    driver = Driver()
    driver.write(RAL0, 0x44332211)
    driver.write(IMS, RXT0)
    driver.write(RDLEN, 0x1000)
    driver.write(CTRL, 0x04000040)
    assert driver.read(CTRL) & 0x04000000 == 0                        # RST clears itself
    assert driver.read(RAL0) == 0x12005452 and driver.read(IMS) == 0 and driver.read(RDLEN) == 0
    driver.machine.close()


def test_io_bar_reaches_the_registers_through_ioaddr_and_iodata():
    driver = Driver()
    bus = driver.bus
    bus.io_write(IO, 4, STATUS)
    assert bus.io_read(IO, 4) == STATUS and bus.io_read(IO + 4, 4) == 0x80080783
    bus.io_write(IO, 4, RAL0)
    bus.io_write(IO + 4, 4, 0x11223344)
    assert driver.read(RAL0) == 0x11223344
    bus.io_write(IO, 4, CTRL)
    bus.io_write(IO + 4, 4, 0x04000040)                               # Linux resets an 82540 this way
    assert driver.read(RAL0) == 0x12005452
    config_write(driver.machine, DEVICE, 0x04, 0x0006, 2)             # I/O decoding off
    assert bus.io_read(IO, 4) == 0xFFFFFFFF
    driver.machine.close()


# ---------------------------------------------------------------- EEPROM and PHY
def eerd(driver: Driver, address: int) -> int:
    driver.write(EERD, address << 8 | 1)
    value = driver.read(EERD)
    assert value & 0x10                                               # DONE
    return value >> 16


def test_swsm_keeps_its_semaphore_bits_as_qemu_does():
    """U-Boot's e1000 driver takes the 8257x software semaphore (SWSM, 5B50h) by
    setting SWESMBI and reading it back before each EEPROM read; QEMU's e1000
    keeps the register, and with a read of 0 U-Boot gives up on the MAC."""
    driver = Driver()
    assert driver.read(0x5B50) == 0
    driver.write(0x5B50, 0x2)
    assert driver.read(0x5B50) == 0x2
    driver.write(0x5B50, 0)
    assert driver.read(0x5B50) == 0
    driver.machine.close()


def test_eeprom_through_eerd_holds_the_mac_and_sums_to_babah():
    driver = Driver(["nic.mac=02:00:00:aa:bb:cc"])
    words = [eerd(driver, address) for address in range(64)]
    assert words[:3] == [0x0002, 0xAA00, 0xCCBB]
    assert words[0x0B] == words[0x0D] == 0x100E and words[0x0C] == words[0x0E] == 0x8086
    assert sum(words) & 0xFFFF == 0xBABA
    driver.write(EERD, 0x40 << 8 | 1)
    assert driver.read(EERD) == 0x4010                                # beyond the EEPROM: done, no data
    driver.machine.close()


def test_eeprom_through_eecd_as_linux_reads_an_82540():
    """Microwire: REQ/GNT, CS, opcode 110b and 6 address bits on DI, 16 bits from DO."""
    driver = Driver()
    assert driver.read(EECD) & 0x180 == 0x180                         # present, granted

    def read_word(address: int) -> int:
        eecd = 0x40                                                   # REQ
        driver.write(EECD, eecd | 0x02)                               # CS
        for bit in range(8, -1, -1):
            di = 0x04 if (0b110 << 6 | address) >> bit & 1 else 0
            driver.write(EECD, eecd | 0x02 | di)
            driver.write(EECD, eecd | 0x03 | di)                      # SK up
            driver.write(EECD, eecd | 0x02 | di)
        value = 0
        for _ in range(16):
            driver.write(EECD, eecd | 0x03)
            value = value << 1 | driver.read(EECD) >> 3 & 1
            driver.write(EECD, eecd | 0x02)
        driver.write(EECD, 0)
        return value

    assert [read_word(address) for address in (0, 1, 2, 0x3F)] == [eerd(driver, a) for a in (0, 1, 2, 0x3F)]
    assert read_word(1) == 0x1200                                     # MAC bytes 2-3
    driver.machine.close()


def mdic(driver: Driver, register: int, write: Optional[int] = None, phy: int = 1) -> int:
    op = 0x08000000 if write is None else 0x04000000 | write
    driver.write(MDIC, op | phy << 21 | register << 16)
    value = driver.read(MDIC)
    assert value & 0x10000000                                         # READY
    return value


def test_mdic_reaches_the_m88_phy():
    driver = Driver()
    assert mdic(driver, 2) & 0xFFFF == 0x0141 and mdic(driver, 3) & 0xFFFF == 0x0C20
    assert mdic(driver, 1) & 0x0024 == 0x0024                         # link up, auto-negotiation done
    assert mdic(driver, 0x11) & 0xFFFF == 0xAC00                      # 1000 Mb/s FD, resolved, link
    mdic(driver, 4, 0x01E1)
    assert mdic(driver, 4) & 0xFFFF == 0x01E1
    mdic(driver, 0, 0x9340)                                           # reset, restart: both self-clear
    assert mdic(driver, 0) & 0xFFFF == 0x1140
    assert mdic(driver, 7) & 0x40000000                               # a register QEMU does not answer
    assert mdic(driver, 1, 0) & 0x40000000                            # BMSR is read-only
    assert mdic(driver, 2, phy=2) & 0x40000000                        # no PHY at address 2
    driver.write(IMS, 0x200)
    driver.write(MDIC, 0x28000000 | 1 << 21 | 2 << 16)                # INT_EN: MDAC when done
    assert driver.read(ICR) == 0x200
    driver.write(CTRL, 0x80000040)                                    # PHY_RST
    assert mdic(driver, 4) & 0xFFFF == 0x0DE1
    driver.machine.close()


# ---------------------------------------------------------------- round trips
def test_arp_round_trip_through_the_rings():
    driver = Driver()
    driver.start()
    index = driver.send(arp_request(GATEWAY_IP))
    assert driver.read(TDH) == 1 and driver.tx_status(index) & DD
    assert driver.sent == [arp_request(GATEWAY_IP)]
    assert driver.read(ICR) == TXDW | TXQE
    assert driver.receive() == []                                     # the reply is 100 us away
    driver.wait()
    [(status, data)] = driver.receive()
    assert status == DD | RX_EOP | RX_IXSM
    frame = without_fcs(data)
    assert len(frame) == 64 and frame[:6] == MAC and frame[6:12] == GATEWAY_MAC
    op, sender_mac, sender_ip = struct.unpack_from("!6xH6s4s", frame, 14)
    assert (op, sender_mac, sender_ip) == (2, GATEWAY_MAC, GATEWAY_IP)
    assert driver.read(RDH) == 1 and driver.read(ICR) == RXT0
    driver.machine.close()


def test_ping_with_ip_and_icmp_checksums_offloaded():
    """IXSM and TXSM: the network answers only frames whose IP and ICMP checksums
    are right, and the driver left both 0."""
    driver = Driver()
    driver.start()
    frame = bytearray(zero_ip_checksum(ping(GATEWAY_IP, 0x1234, 7, bytes(range(56)))))
    frame[36:38] = b"\0\0"                                            # the ICMP checksum
    driver.send_offloaded(bytes(frame), context_descriptor(14, 24, 33, 34, 36, 0), IXSM | TXSM)
    assert checksum(driver.sent[0][14:34]) == 0 and checksum(driver.sent[0][34:]) == 0
    driver.wait()
    [(_, data)] = driver.receive()
    reply = without_fcs(data)
    assert reply[14 + 9] == 1 and reply[14 + 20] == 0 and reply[14 + 24:14 + 26] == b"\x12\x34"
    driver.machine.close()


def test_dhcp_with_the_udp_checksum_offloaded():
    driver = Driver()
    driver.start()
    frame = bytearray(dhcp(1, 0xC0FFEE))
    udp_length = len(frame) - 34
    pseudo = sum(struct.unpack("!HH", bytes(4))) + 0xFFFF * 2 + 17 + udp_length   # Linux's partial sum
    frame[40:42] = struct.pack("!H", (pseudo & 0xFFFF) + (pseudo >> 16))
    driver.send_offloaded(bytes(frame), context_descriptor(14, 24, 33, 34, 40, 0), TXSM)
    sent = driver.sent[0]
    assert checksum(bytes(4) + b"\xff" * 4 + struct.pack("!BBH", 0, 17, udp_length) + sent[34:]) == 0
    driver.wait()
    [(_, data)] = driver.receive()
    offer = without_fcs(data)
    assert offer[:6] == b"\xff" * 6 and parse_options(offer[42 + 240:])[53] == b"\x02"
    driver.machine.close()


def test_tcp_segmentation_splits_into_mss_frames():
    driver = Driver()
    driver.start()
    payload = bytes(random.Random(1).randrange(256) for _ in range(2500))
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1000, 0, 0x50, 0x19, 8192, 0, 0)  # PSH, ACK, FIN
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 77, 0, 64, 6, 0, GUEST_IP, GATEWAY_IP)
    header = GATEWAY_MAC + MAC + b"\x08\x00" + ip + tcp
    pseudo = sum(struct.unpack("!4H", GUEST_IP + GATEWAY_IP)) + 6             # without the length
    frame = bytearray(header + payload)
    frame[50:52] = struct.pack("!H", (pseudo & 0xFFFF) + (pseudo >> 16))
    context = context_descriptor(14, 24, 33, 34, 50, 0, TSE | CMD_IP | CMD_TCP, len(payload), 54, 1000)
    driver.send_offloaded(bytes(frame), context, IXSM | TXSM, TSE)
    assert [len(segment) for segment in driver.sent] == [1054, 1054, 554]
    for number, segment in enumerate(driver.sent):
        ip_header, tcp_part = segment[14:34], segment[34:]
        length, ident = struct.unpack_from("!HH", ip_header, 2)
        assert length == len(segment) - 14 and ident == 77 + number and checksum(ip_header) == 0
        assert struct.unpack_from("!I", tcp_part, 4)[0] == 1000 + 1000 * number
        assert tcp_part[13] == (0x19 if number == 2 else 0x10)       # PSH and FIN on the last only
        pseudo_header = GUEST_IP + GATEWAY_IP + struct.pack("!BBH", 0, 6, len(tcp_part))
        assert checksum(pseudo_header + tcp_part) == 0
        assert tcp_part[20:] == payload[1000 * number:1000 * (number + 1)]
    driver.machine.close()


# ---------------------------------------------------------------- receive rules
def test_filter_follows_rctl_ra_and_mta():
    driver = Driver()
    driver.start(rctl=RCTL_EN)                                        # no BAM: the DHCP offer is dropped
    driver.send(dhcp(1, 1))
    driver.send(arp_request(GATEWAY_IP))
    driver.wait()
    assert [without_fcs(data)[12:14] for _, data in driver.receive()] == [b"\x08\x06"]
    driver.write(RAH0, 0x5634)                                        # AV off: our own address is not ours
    driver.send(arp_request(DNS_IP))
    driver.wait()
    assert driver.receive() == []
    assert driver.card._accepts(bytes.fromhex("01005e000001")) is False
    bit = (0x01 << 8 | 0x00) >> 4 & 0xFFF                             # MO 0: address bits 47-36
    driver.write(MTA + 4 * (bit >> 5), 1 << (bit & 31))
    assert driver.card._accepts(bytes.fromhex("01005e000001"))
    driver.write(RCTL, RCTL_EN | RCTL_UPE)
    assert driver.card._accepts(bytes.fromhex("020000000001"))
    driver.machine.close()


def test_secrc_strips_the_fcs():
    driver = Driver()
    driver.start(rctl=RCTL_EN | RCTL_BAM | RCTL_SECRC)
    driver.send(arp_request(GATEWAY_IP))
    driver.wait()
    [(_, data)] = driver.receive()
    assert len(data) == 64 and data[6:12] == GATEWAY_MAC
    driver.machine.close()


def test_a_full_ring_holds_frames_and_drops_those_that_do_not_fit():
    """RDH == RDT: the frame waits on the wire (QEMU's can_receive).  With 256-byte
    buffers the 594-byte DHCP offer needs three descriptors; with two free it is
    dropped with RXO, MPC and RNBC."""
    driver = Driver()
    driver.start(rctl=RCTL_EN | RCTL_BAM | RCTL_BSIZE_256, ims=RXT0 | RXO, free=0)
    driver.send(arp_request(GATEWAY_IP))
    driver.wait()
    assert len(driver.card.net.state.frames) == 1 and driver.read(RDH) == 0
    driver.write(RDT, 2)                                              # two buffers: the reply comes in
    [(_, data)] = driver.receive()
    assert without_fcs(data)[6:12] == GATEWAY_MAC
    driver.write(RDT, (driver.read(RDH) + 2) % RING)
    driver.rx_next = driver.read(RDH)
    driver.send(dhcp(1, 2))
    driver.wait()
    assert driver.read(ICR) & RXO and driver.card.net.state.frames == []
    assert driver.read(MPC) == 1 and driver.read(RNBC) == 1 and driver.read(MPC) == 0
    assert driver.receive() == []
    driver.machine.close()


def test_rxdmt0_when_free_descriptors_fall_to_the_threshold():
    driver = Driver()
    driver.start(free=6)                                              # RDMTS 00b: half of 8
    driver.send(arp_request(GATEWAY_IP))
    driver.wait()
    assert driver.read(ICR) & (RXT0 | RXDMT0) == RXT0                 # 5 free
    driver.send(arp_request(DNS_IP))
    driver.wait()
    assert driver.read(ICR) & (RXT0 | RXDMT0) == RXT0 | RXDMT0        # 4 free: half the ring
    driver.machine.close()


def test_large_frame_spans_buffers():
    driver = Driver()
    driver.start(rctl=RCTL_EN | RCTL_BAM | RCTL_BSIZE_256)
    driver.send(dhcp(1, 3))
    driver.wait()
    [(status, data)] = driver.receive()
    assert driver.rx_next == 3 and len(without_fcs(data)) == 590 and status & RX_EOP
    driver.machine.close()


# ---------------------------------------------------------------- interrupts, DMA, statistics
def test_inta_follows_icr_and_ims():
    driver = Driver()
    machine = driver.machine
    config_write(machine, 1, 0x62, PIRQ_C_IRQ, 1)                     # PIRQ C -> IRQ 11
    driver.start(ims=RXT0)
    driver.send(arp_request(GATEWAY_IP))
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 0                    # TXDW is masked
    driver.wait()
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 1
    assert driver.read(ICS) == TXDW | TXQE | RXT0                     # ICS reads as ICR, keeps it
    assert driver.read(ICR) == TXDW | TXQE | RXT0                     # reading ICR clears it
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 0 and driver.read(ICR) == 0
    driver.write(ICS, TXDW)
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 0
    driver.write(IMS, TXDW)
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 1 and driver.read(IMS) == TXDW | RXT0
    driver.write(IMC, TXDW)
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 0
    driver.write(IMS, TXDW)
    driver.write(ICR, TXDW)                                           # writing 1 clears
    assert machine.bus.irq_levels[PIRQ_C_IRQ] == 0
    driver.write(ITR, 0x12345)
    assert driver.read(ITR) == 0x2345                                 # stored, 16 bits
    machine.close()


def test_dma_waits_for_the_bus_master_bit():
    driver = Driver(master=False)
    driver.start()
    index = driver.send(arp_request(GATEWAY_IP))
    assert driver.read(TDH) == 0 and not driver.tx_status(index) & DD
    config_write(driver.machine, DEVICE, 0x04, 0x0007, 2)
    assert driver.read(TDH) == 1 and driver.tx_status(index) & DD
    driver.machine.close()


def test_statistics_count_and_clear_when_read():
    driver = Driver()
    driver.start()
    driver.send(arp_request(GATEWAY_IP))
    driver.send(ping(GATEWAY_IP, 1, 1, b"stats"))
    driver.wait()
    driver.receive()
    assert driver.read(GPTC) == 2 and driver.read(TPT) == 2 and driver.read(GPTC) == 0
    assert driver.read(GPRC) == 2 and driver.read(TPR) == 2
    assert driver.read(GORCL) == (64 + 4) + (60 + 4) and driver.read(GORCH) == 0 and driver.read(GORCL) == 0
    driver.machine.close()


# ---------------------------------------------------------------- state
def test_snapshot_mid_traffic_restores_identically():
    driver = Driver()
    driver.start()
    driver.send(ping(GATEWAY_IP, 9, 9, b"snapshot"))
    driver.wait(10_000)                                               # reply still owed
    saved = driver.card.snapshot()
    assert saved["net"]["frames"]
    driver.wait()
    first = driver.receive()
    other = Driver()
    other.machine.clock.skip_to(driver.machine.clock.now() - REPLY_WAIT_NS)
    other.bus.write_bytes(RX_RING, driver.bus.read_bytes(RX_RING, 16 * RING))
    for index in range(RING):                                         # the ring as the driver left it
        other.bus.write_bytes(RX_RING + 16 * index + 12, b"\0")
    other.card.restore(saved)
    assert other.card.snapshot() == saved
    other.wait()
    assert other.receive() == first and first
    other.machine.close()
    driver.machine.close()


def test_snapshot_keeps_a_frame_half_collected():
    driver = Driver()
    driver.start()
    frame = arp_request(GATEWAY_IP)
    driver.bus.write_bytes(TX_BUFFERS, frame)
    driver.queue(TX_BUFFERS, 20, RS)                                  # first part, no EOP
    driver.hand_over(1)
    saved = driver.card.snapshot()
    assert bytes(saved["tx"]["data"]) == frame[:20] and driver.sent == []
    other = Driver()
    other.start()
    other.bus.write_bytes(TX_BUFFERS, frame)
    other.card.restore(saved)
    assert other.card.snapshot() == saved
    other.queue(TX_BUFFERS + 20, len(frame) - 20, EOP | RS)
    other.hand_over(1)
    assert other.sent == [frame]
    other.machine.close()
    driver.machine.close()


def test_register_fuzz_raises_nothing():
    driver = Driver()
    driver.start()
    rng = random.Random(1000)
    offsets = sorted(driver.card._registers) + [0x1FFFC, 0x0004]
    for _ in range(3000):
        offset = rng.choice(offsets)
        if rng.random() < 0.5:
            driver.write(offset, rng.getrandbits(32))
        else:
            driver.read(offset)
        if rng.random() < 0.05:
            driver.wait(rng.randrange(200_000))
    driver.machine.close()
