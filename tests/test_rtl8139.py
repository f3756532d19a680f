"""The RTL8139 (plugins/net/rtl8139.py) and its user-mode network
(plugins/net/usernet.py), driven through the card's ports as a driver does:
reset, MAC, receive ring, transmit descriptors, interrupts through INTA#, and
the network's ARP, ICMP echo and DHCP answers.  The guest-program test is
tests/test_device_guests.py::test_rtl8139_guest."""

import random
import struct
import zlib
from typing import Dict, List, Tuple

import pytest

from pcmachine.machine import Machine
from pcmachine.plugins.net.usernet import checksum, parse_options, read_pcap

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
DEVICE = 3                              # INTA# of device 3: PIRQ C
IO, MMIO = 0xC100, 0xFEA00000
MAC = bytes.fromhex("525400123456")
GATEWAY_MAC = bytes.fromhex("52550a000202")
GUEST_IP, GATEWAY_IP, DNS_IP = bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2]), bytes([10, 0, 2, 3])
RX_RING, TX_BUFFERS = 0x100000, 0x120000
# registers
IDR, MAR, TSD, TSAD, RBSTART, CR, CAPR, CBR = 0x00, 0x08, 0x10, 0x20, 0x30, 0x37, 0x38, 0x3A
IMR, ISR, TCR, RCR, MPC, CFG9346, CONFIG1, MSR = 0x3C, 0x3E, 0x40, 0x44, 0x4C, 0x50, 0x52, 0x58
TSAD_SUMMARY, BMSR = 0x60, 0x64
ROK, TOK, RXOVW = 0x01, 0x04, 0x10
OWN, TOK_BIT = 0x2000, 0x8000
RCR_ACCEPT = 0x0F                       # AB | AM | APM | AAP
REPLY_WAIT_NS = 1_000_000


def config_write(machine: Machine, device: int, register: int, value: int, size: int = 4) -> None:
    machine.bus.io_write(CONFIG_ADDRESS, 4, 0x80000000 | device << 11 | register & 0xFC)
    machine.bus.io_write(CONFIG_DATA + (register & 3), size, value)


def config_read(machine: Machine, device: int, register: int, size: int = 4) -> int:
    machine.bus.io_write(CONFIG_ADDRESS, 4, 0x80000000 | device << 11 | register & 0xFC)
    return machine.bus.io_read(CONFIG_DATA + (register & 3), size)


class Driver:
    """The steps of the OSDev wiki driver, on a pc.yaml machine with the card."""

    def __init__(self, overrides: Tuple[str, ...] = (), master: bool = True) -> None:
        self.machine = Machine.from_profile("pc.yaml", [FIXED_RTC, "nic.plugin=rtl8139", *overrides])
        self.bus = self.machine.bus
        self.card = self.machine.component("nic")
        self.tx = 0
        self.linear = False
        if master:
            config_write(self.machine, DEVICE, 0x04, 0x0007, 2)     # I/O, memory, bus master

    def inb(self, register: int) -> int:
        return self.bus.io_read(IO + register, 1)

    def inw(self, register: int) -> int:
        return self.bus.io_read(IO + register, 2)

    def inl(self, register: int) -> int:
        return self.bus.io_read(IO + register, 4)

    def outb(self, register: int, value: int) -> None:
        self.bus.io_write(IO + register, 1, value)

    def outw(self, register: int, value: int) -> None:
        self.bus.io_write(IO + register, 2, value)

    def outl(self, register: int, value: int) -> None:
        self.bus.io_write(IO + register, 4, value)

    def start(self, rcr: int = RCR_ACCEPT, imr: int = ROK | TOK) -> None:
        self.outb(CONFIG1, 0x00)                                    # power on
        self.outb(CR, 0x10)                                         # software reset
        assert self.inb(CR) & 0x10 == 0
        self.outl(RBSTART, RX_RING)
        self.outw(IMR, imr)
        self.outl(RCR, rcr)
        self.outb(CR, 0x0C)                                         # RE | TE
        self.linear = bool(rcr & 0x80)                              # WRAP: frames run past the end

    def send(self, frame: bytes) -> int:
        """Put `frame` in the next descriptor; returns the descriptor used."""
        index = self.tx
        buffer = TX_BUFFERS + 0x800 * index
        self.bus.write_bytes(buffer, frame)
        self.outl(TSAD + 4 * index, buffer)
        self.outl(TSD + 4 * index, len(frame))
        self.tx = (index + 1) % 4
        return index

    def wait(self, ns: int = REPLY_WAIT_NS) -> None:
        clock = self.machine.clock
        clock.skip_to(clock.now() + ns)
        clock.run_due()

    def receive(self) -> List[Tuple[int, bytes]]:
        """Every frame in the ring, as (status, frame without CRC); CAPR follows."""
        frames = []
        while not self.inb(CR) & 0x01:
            offset = (self.inw(CAPR) + 16) % self.card.nic.rx_size
            status, length = struct.unpack("<HH", self.ring(offset, 4))
            data = self.ring(offset + 4, length)
            assert zlib.crc32(data[:-4]).to_bytes(4, "little") == data[-4:]
            frames.append((status, data[:-4]))
            offset = (offset + 4 + length + 3) & ~3
            self.outw(CAPR, (offset - 16) & 0xFFFF)
        return frames

    def ring(self, offset: int, length: int) -> bytes:
        """Ring bytes from `offset`, continuing at the start after the end (no WRAP)."""
        if self.linear:
            return self.bus.read_bytes(RX_RING + offset, length)
        size = self.card.nic.rx_size
        data = b""
        while length > 0:
            offset %= size
            take = min(length, size - offset)
            data += self.bus.read_bytes(RX_RING + offset, take)
            offset, length = offset + take, length - take
        return data


def arp_request(target: bytes) -> bytes:
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC + GUEST_IP + bytes(6) + target
    return b"\xff" * 6 + MAC + b"\x08\x06" + arp


def ipv4(protocol: int, source: bytes, destination: bytes, payload: bytes, ident: int = 1) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, protocol, 0,
                         source, destination)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def ping(destination: bytes, ident: int, sequence: int, data: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, sequence) + data
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    return GATEWAY_MAC + MAC + b"\x08\x00" + ipv4(1, GUEST_IP, destination, icmp)


def dhcp(kind: int, xid: int, requested: bytes = b"") -> bytes:
    bootp = struct.pack("!BBBBIHH", 1, 1, 6, 0, xid, 0, 0x8000) + bytes(16) + MAC.ljust(16, b"\0")
    bootp += bytes(192) + bytes([99, 130, 83, 99, 53, 1, kind])
    if requested:
        bootp += bytes([50, 4]) + requested
    bootp += b"\xff"
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    return b"\xff" * 6 + MAC + b"\x08\x00" + ipv4(17, bytes(4), b"\xff" * 4, udp)


# ---------------------------------------------------------------- identity and reset
def test_pci_identity_bars_and_reset_values():
    driver = Driver(master=False)
    machine = driver.machine
    assert config_read(machine, DEVICE, 0x00) == 0x813910EC
    assert config_read(machine, DEVICE, 0x08) == 0x02000010          # Ethernet, rev 10h
    assert config_read(machine, DEVICE, 0x3D, 1) == 1                 # INTA#
    assert config_read(machine, DEVICE, 0x10) == IO | 1
    assert config_read(machine, DEVICE, 0x14) == MMIO
    config_write(machine, DEVICE, 0x10, 0xFFFFFFFF)
    assert config_read(machine, DEVICE, 0x10) == 0xFFFFFF01          # 256 bytes of I/O
    config_write(machine, DEVICE, 0x14, 0xFFFFFFFF)
    assert config_read(machine, DEVICE, 0x14) == 0xFFFFFF00          # 256 bytes of memory
    config_write(machine, DEVICE, 0x10, IO | 1)
    config_write(machine, DEVICE, 0x14, MMIO)
    assert bytes(driver.inb(IDR + i) for i in range(6)) == MAC
    assert driver.inl(TCR) & 0x7C800000 == 0x74800000                 # RTL-8139C+ (Linux's table)
    assert driver.inb(CR) == 0x01                                     # empty ring, RE/TE off
    assert all(driver.inl(TSD + 4 * i) == OWN for i in range(4))
    assert driver.inw(TSAD_SUMMARY) == 0x000F                         # host owns all four
    assert driver.inb(MSR) & 0x0C == 0                                # link up, 100 Mb/s
    assert driver.inw(BMSR) & 0x0024 == 0x0024                        # link, auto-negotiation done
    assert driver.bus.read(MMIO + IDR, 4) == driver.inl(IDR)          # BAR1 decodes the same
    machine.close()


def test_io_bar_moves_and_stops_decoding():
    driver = Driver()
    machine = driver.machine
    config_write(machine, DEVICE, 0x10, 0xD001)
    assert machine.bus.io_read(0xD000, 4) == driver.card.read_register(0, 4)
    assert machine.bus.io_read(IO, 4) == 0xFFFFFFFF
    config_write(machine, DEVICE, 0x04, 0x0002, 2)                    # I/O off
    assert machine.bus.io_read(0xD000, 1) == 0xFF
    machine.close()


def test_eeprom_read_gives_the_mac_as_linux_reads_it():
    driver = Driver(["nic.mac=02:00:00:aa:bb:cc"])

    def read_word(address: int, address_bits: int = 6) -> int:
        command = address | 0b110 << address_bits
        driver.outb(CFG9346, 0x80)
        driver.outb(CFG9346, 0x88)                                    # EECS
        for bit in range(3 + address_bits, -1, -1):
            data = 0x02 if command >> bit & 1 else 0
            driver.outb(CFG9346, 0x88 | data)
            driver.outb(CFG9346, 0x8C | data)                         # EESK rising
        driver.outb(CFG9346, 0x88)
        value = 0
        for _ in range(16):
            driver.outb(CFG9346, 0x8C)
            value = value << 1 | driver.inb(CFG9346) & 1
            driver.outb(CFG9346, 0x88)
        driver.outb(CFG9346, 0x80)
        return value

    assert read_word(0) == 0x8129
    assert read_word(0, 8) != 0x8129                                  # a 93C46: 6 address bits
    mac = b"".join(struct.pack("<H", read_word(i)) for i in (7, 8, 9))
    assert mac == bytes.fromhex("020000aabbcc")
    driver.outb(CFG9346, 0)
    driver.machine.close()


# ---------------------------------------------------------------- receive
def test_arp_reply_arrives_in_the_ring_after_the_delay():
    driver = Driver()
    driver.start()
    driver.send(arp_request(GATEWAY_IP))
    assert driver.inl(TSD) & (OWN | TOK_BIT) == OWN | TOK_BIT
    assert driver.inw(ISR) == TOK
    assert driver.inb(CR) & 0x01                                      # nothing yet
    driver.wait()
    assert driver.inw(ISR) == TOK | ROK
    assert driver.inw(CBR) == (4 + 64 + 4 + 3) & ~3
    status, length = struct.unpack("<HH", driver.ring(0, 4))
    assert status == 0x4001 and length == 64 + 4                      # ROK, PAM; CRC counted
    [(status, frame)] = driver.receive()
    assert frame[:6] == MAC and frame[6:12] == GATEWAY_MAC and frame[12:14] == b"\x08\x06"
    op, sender_mac, sender_ip, target_mac, target_ip = struct.unpack_from("!6xH6s4s6s4s", frame, 14)
    assert (op, sender_mac, sender_ip, target_mac, target_ip) == (2, GATEWAY_MAC, GATEWAY_IP, MAC, GUEST_IP)
    assert driver.inw(CAPR) == (driver.inw(CBR) - 16) & 0xFFFF
    driver.outw(ISR, ROK)
    assert driver.inw(ISR) == TOK
    driver.machine.close()


def test_arp_for_the_dns_server_and_no_answer_for_others():
    driver = Driver()
    driver.start()
    driver.send(arp_request(DNS_IP))
    driver.send(arp_request(bytes([10, 0, 2, 99])))
    driver.wait()
    [(_, frame)] = driver.receive()
    assert frame[6:12] == bytes.fromhex("52550a000203") and frame[28:32] == DNS_IP
    driver.machine.close()


def test_icmp_echo_to_the_gateway():
    driver = Driver()
    driver.start()
    data = bytes(range(56))
    driver.send(ping(GATEWAY_IP, 0x1234, 7, data))
    driver.wait()
    [(status, frame)] = driver.receive()
    assert status & 0x4001 == 0x4001
    ip = frame[14:]
    assert ip[9] == 1 and ip[12:16] == GATEWAY_IP and ip[16:20] == GUEST_IP
    assert checksum(ip[:20]) == 0 and ip[8] == 255
    icmp = ip[20:struct.unpack_from("!H", ip, 2)[0]]
    assert checksum(icmp) == 0
    assert struct.unpack_from("!BBxxHH", icmp) == (0, 0, 0x1234, 7)
    assert icmp[8:] == data
    driver.machine.close()


def test_dhcp_discover_offer_request_ack():
    driver = Driver()
    driver.start()

    def exchange(frame: bytes) -> Tuple[bytes, Dict[int, bytes]]:
        driver.send(frame)
        driver.wait()
        [(status, reply)] = driver.receive()
        assert status & 0x2001 == 0x2001                              # broadcast
        ip = reply[14:]
        assert ip[9] == 17 and ip[12:16] == GATEWAY_IP and ip[16:20] == b"\xff" * 4
        udp = ip[20:]
        assert struct.unpack_from("!HH", udp) == (67, 68)
        bootp = udp[8:]
        assert bootp[0] == 2 and bootp[4:8] == struct.pack("!I", 0xC0FFEE) and bootp[28:34] == MAC
        return bootp, parse_options(bootp[240:])

    offer, options = exchange(dhcp(1, 0xC0FFEE))
    assert offer[16:20] == GUEST_IP and offer[20:24] == GATEWAY_IP
    assert options[53] == b"\x02" and options[54] == GATEWAY_IP and options[1] == b"\xff\xff\xff\x00"
    assert options[3] == GATEWAY_IP and options[6] == DNS_IP and options[51] == struct.pack("!I", 86400)
    ack, options = exchange(dhcp(3, 0xC0FFEE, GUEST_IP))
    assert options[53] == b"\x05" and ack[16:20] == GUEST_IP
    _, options = exchange(dhcp(3, 0xC0FFEE, bytes([10, 0, 2, 77])))
    assert options[53] == b"\x06"                                     # NAK
    driver.machine.close()


def udp_frame(source_port: int, destination_port: int, payload: bytes) -> bytes:
    """A UDP datagram from the guest to the gateway (checksum 0: none)."""
    udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
    return GATEWAY_MAC + MAC + b"\x08\x00" + ipv4(17, GUEST_IP, GATEWAY_IP, udp)


def tftp_read(filename: bytes, mode: bytes) -> bytes:
    return udp_frame(2000, 69, struct.pack("!H", 1) + filename + b"\0" + mode + b"\0")


def test_tftp_read_requests_are_refused_as_slirp_refuses_them_without_a_tftp_folder():
    """QEMU's `-netdev user` without `tftp=`: an ERROR from 10.0.2.2:69 to the
    client's port, code 2 "Access violation" whatever the mode (slirp looks for
    the folder first), with a valid UDP checksum; a write request gets no answer."""
    driver = Driver()
    driver.start()
    for mode, code, message in ((b"octet", 2, b"Access violation"), (b"netascii", 2, b"Access violation")):
        driver.send(tftp_read(b"bzImage", mode))
        driver.wait()
        [(status, reply)] = driver.receive()
        ip = reply[14:]
        assert reply[:6] == MAC and ip[9] == 17 and ip[12:16] == GATEWAY_IP and ip[16:20] == GUEST_IP
        udp = ip[20:20 + struct.unpack_from("!H", ip, 2)[0] - 20]
        assert struct.unpack_from("!HH", udp) == (69, 2000)
        assert checksum(GATEWAY_IP + GUEST_IP + struct.pack("!BBH", 0, 17, len(udp)) + udp) == 0
        assert udp[8:] == struct.pack("!HH", 5, code) + message + b"\0"
    write = tftp_read(b"x", b"octet")
    write = write[:42] + b"\x00\x02" + write[44:]                 # WRQ (the UDP checksum is 0: unchecked)
    driver.send(write)
    driver.wait()
    assert driver.receive() == []
    driver.machine.close()


def test_filter_follows_rcr():
    driver = Driver()
    driver.start(rcr=0x02)                                            # APM only: no broadcast
    driver.send(dhcp(1, 1))
    driver.send(arp_request(GATEWAY_IP))
    driver.wait()
    assert [frame[12:14] for _, frame in driver.receive()] == [b"\x08\x06"]
    driver.machine.close()


@pytest.mark.parametrize("wrap", [False, True])
def test_ring_wraps_at_its_end(wrap):
    """Pings with 1000 bytes of data fill the 8 KiB ring; the one reaching its end
    continues at its start (no WRAP) or runs past the end (WRAP)."""
    driver = Driver()
    driver.start(rcr=RCR_ACCEPT | (0x80 if wrap else 0))
    data = bytes(random.Random(5).randrange(256) for _ in range(1000))
    expected_write = 0
    for sequence in range(12):
        driver.send(ping(GATEWAY_IP, 1, sequence, data))
        driver.wait()
        length = 14 + 20 + 8 + 1000 + 4
        start = expected_write
        expected_write = (start + 4 + length + 3 & ~3) % 8192
        assert driver.inw(CBR) == expected_write
        if start + 4 + length > 8192:
            at = start + 4
            if wrap:
                copy = driver.bus.read_bytes(RX_RING + at, length)
            else:
                copy = driver.ring(at, length)
            assert copy[:6] == MAC and copy[-1000 - 4:-4] == data
        [(_, frame)] = driver.receive()
        assert frame[-1000:] == data
    driver.machine.close()


def test_full_ring_holds_frames_until_capr_or_counts_them_with_rxovw():
    driver = Driver()
    driver.start()
    data = bytes(1400)
    for _ in range(8):                                                # 8 x 1.5 KiB > 8 KiB
        driver.send(ping(GATEWAY_IP, 1, 1, data))
        driver.wait()
    assert driver.inl(MPC) == 0 and not driver.inw(ISR) & RXOVW
    held = len(driver.card.net.state.frames)
    assert held > 0
    assert len(driver.receive()) == 8                                 # CAPR lets them in
    driver.outw(IMR, ROK | TOK | RXOVW)                               # now frames that do not fit are lost
    for _ in range(8):
        driver.send(ping(GATEWAY_IP, 1, 1, data))
        driver.wait()
    assert driver.inw(ISR) & RXOVW and driver.inl(MPC) == held
    driver.outl(MPC, 0)
    assert driver.inl(MPC) == 0
    driver.machine.close()


# ---------------------------------------------------------------- transmit
def test_descriptors_go_out_in_round_robin_order():
    driver = Driver(["nic.pcap=" + "/dev/null"])
    driver.start()
    frames = [arp_request(GATEWAY_IP)[:-1] + bytes([i]) for i in range(6)]
    sent = []
    driver.card.net.send = lambda frame, now: sent.append(frame)
    buffer = TX_BUFFERS + 0x800
    driver.bus.write_bytes(buffer, frames[0])
    driver.outl(TSAD + 4, buffer)
    driver.outl(TSD + 4, len(frames[0]))                              # descriptor 1 first: waits
    assert sent == [] and driver.inw(TSAD_SUMMARY) == 0x000D
    driver.bus.write_bytes(TX_BUFFERS, frames[1])
    driver.outl(TSAD, TX_BUFFERS)
    driver.outl(TSD, len(frames[1]))                                  # 0, then 1
    assert sent == [frames[1], frames[0]]
    assert driver.inw(TSAD_SUMMARY) == 0x300F                         # TOK0, TOK1, all owned
    driver.tx = 2
    for frame in frames[2:]:
        driver.send(frame)
    assert sent[2:] == frames[2:]
    assert driver.inl(TSD + 8) == OWN | TOK_BIT | len(frames[2])
    driver.machine.close()


def test_dma_waits_for_the_bus_master_bit():
    driver = Driver(master=False)
    driver.start()
    driver.send(arp_request(GATEWAY_IP))
    assert driver.inl(TSD) & OWN == 0 and driver.inw(ISR) == 0
    config_write(driver.machine, DEVICE, 0x04, 0x0007, 2)
    assert driver.inl(TSD) & OWN and driver.inw(ISR) == TOK
    driver.machine.close()


def test_transmitter_off_keeps_descriptors():
    driver = Driver()
    driver.start()
    driver.outb(CR, 0x08)                                             # RE only
    driver.send(arp_request(GATEWAY_IP))
    assert driver.inl(TSD) & OWN == 0
    driver.outb(CR, 0x0C)
    assert driver.inl(TSD) & OWN
    driver.machine.close()


# ---------------------------------------------------------------- interrupts
def test_inta_follows_isr_and_imr():
    driver = Driver()
    machine = driver.machine
    config_write(machine, 1, 0x62, 0x0B, 1)                           # PIRQ C -> IRQ 11
    driver.start(imr=ROK)
    driver.send(arp_request(GATEWAY_IP))
    assert machine.bus.irq_levels[11] == 0                            # TOK is masked
    driver.wait()
    assert machine.bus.irq_levels[11] == 1
    assert config_read(machine, DEVICE, 0x06, 2) & 0x0008
    driver.outw(ISR, ROK)                                             # write 1 to clear
    assert machine.bus.irq_levels[11] == 0 and driver.inw(ISR) == TOK
    driver.outw(IMR, TOK)                                             # TOK still pending
    assert machine.bus.irq_levels[11] == 1
    driver.outb(CR, 0x10)                                             # reset clears ISR and IMR
    assert machine.bus.irq_levels[11] == 0 and driver.inw(IMR) == 0
    machine.close()


# ---------------------------------------------------------------- state and capture
def test_snapshot_mid_delivery_restores_identically():
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
    other.card.restore(saved)
    assert other.card.snapshot() == saved
    other.wait()
    assert other.receive() == first and first
    other.machine.close()
    driver.machine.close()


def test_pcap_holds_both_directions_in_virtual_time(tmp_path):
    path = tmp_path / "nic.pcap"
    driver = Driver([f"nic.pcap={path}"])
    driver.start()
    request = ping(GATEWAY_IP, 1, 2, b"pcap")
    driver.send(request)
    driver.wait(99_999)
    assert driver.inb(CR) & 0x01                                      # not yet
    driver.wait(1)
    [(_, reply)] = driver.receive()
    driver.machine.close()
    data = path.read_bytes()
    assert struct.unpack_from("<IHHiIII", data) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    records = read_pcap(str(path))
    assert [frame for _, frame in records] == [request, reply[:len(records[1][1])]]
    assert len(reply) == 60 > len(records[1][1])                      # the card pads to 60
    assert records[1][0] - records[0][0] == 100_000                   # the network's delay


def test_register_fuzz_raises_nothing():
    driver = Driver()
    driver.start()
    rng = random.Random(8139)
    for _ in range(3000):
        size = rng.choice((1, 2, 4))
        offset = rng.randrange(0, 256, size)
        if rng.random() < 0.5:
            driver.bus.io_write(IO + offset, size, rng.getrandbits(8 * size))
        else:
            driver.bus.io_read(IO + offset, size)
        if rng.random() < 0.05:
            driver.wait(rng.randrange(200_000))
    driver.machine.close()


def test_config_registers_change_only_while_9346cr_unlocks_them():
    driver = Driver()
    driver.outb(CONFIG1, 0xF3)
    assert driver.inb(CONFIG1) == 0x0C                                # locked: I/O and memory mapped
    driver.outb(CFG9346, 0xC0)
    driver.outb(CONFIG1, 0xF3)
    assert driver.inb(CONFIG1) == 0xFF
    driver.outb(CONFIG1, 0x00)
    assert driver.inb(CONFIG1) == 0x0C                                # bits 3-2 are read-only
    driver.outb(CFG9346, 0x00)
    driver.outb(CONFIG1, 0xF3)
    assert driver.inb(CONFIG1) == 0x0C
    driver.bus.write(MMIO + RBSTART, 4, 0x00123400)                   # through BAR1
    assert driver.inl(RBSTART) == 0x00123400
    driver.machine.close()


def test_revision_option_sets_the_pci_revision_and_rerid():
    driver = Driver(["nic.revision=0x20"])                           # QEMU's
    assert config_read(driver.machine, DEVICE, 0x08) & 0xFF == 0x20
    assert driver.inb(0x5E) == 0x20
    driver.machine.close()
