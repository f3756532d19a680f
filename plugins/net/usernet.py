"""A deterministic user-mode network: the other end of the NIC's cable, as QEMU's
`-netdev user` (libslirp) presents it to the guest, without any host network.

The virtual network is 10.0.2.0/24.  The guest is given 10.0.2.15 by DHCP; the
gateway 10.0.2.2 has the MAC address 52:55:0a:00:02:02 and the DNS server
10.0.2.3 has 52:55:0a:00:02:03 (slirp's special addresses: 52:55 and the IP
address).  What answers:

* ARP requests for 10.0.2.2 and 10.0.2.3: a reply to the request's Ethernet
  source, padded to 64 bytes (slirp's `arp_input`); requests for other addresses
  go unanswered;
* ICMP echo requests to 10.0.2.2 or 10.0.2.3: the echo reply with the request's
  identifier, sequence number and data, TTL 255 (slirp's `icmp_reflect`);
* DHCP (RFC 2131) on UDP port 67: DISCOVER gets an OFFER, REQUEST an ACK (or a NAK
  when it asks for another address than 10.0.2.15), with slirp's options in its
  order: message type, server identifier 10.0.2.2, subnet mask 255.255.255.0,
  router 10.0.2.2, DNS server 10.0.2.3, lease time 86400 s; the BOOTP reply has
  siaddr 10.0.2.2 and a 312-byte options field, and goes to 255.255.255.255 from
  10.0.2.2:67 to port 68 with IP TOS 10h (low delay), as slirp sends it.

  With a boot file (QEMU's `bootfile=`), its name is in the BOOTP `file` field
  of the OFFER and the ACK.
* TFTP on 10.0.2.2 port 69: the read-only server of tftp.py, serving the
  `tftp` folder (QEMU's `tftp=`); without one every read request is refused with
  slirp's "Access violation", so a network boot (U-Boot's `dhcp`, PXE) fails at
  once instead of timing out.

* IPv6 neighbour discovery (RFC 4861) as slirp's ip6_icmp.c answers it, with its
  prefix fec0::/64: a router solicitation gets a router advertisement from
  fe80::2 to ff02::1 (hop limit 64, router lifetime 1800 s, the source link-layer
  address 52:56:00:00:00:02, the prefix with L and A, valid 86400 s, preferred
  14400 s; no RDNSS option, as slirp on a host without an IPv6 DNS server), a
  neighbour solicitation for fe80::2 or fec0::2 a neighbour advertisement (R, O,
  and S unless it goes to ff02::1), an echo request to either an echo reply.  So
  the guest configures its fec0:: address (from its MAC) at once, as under QEMU,
  instead of waiting for router solicitations to time out.  slirp's unsolicited
  advertisements (every 200-600 s at random) are not sent.

Everything else (TCP, DNS queries, traffic to other addresses) is dropped: a
reply would need the host's network, which would make runs depend on it.

Replies leave `reply_delay_ns` of virtual time after the frame that caused
them, in order; the pending replies are plain data (deadline, frame) in the
state, so a snapshot taken between a request and its reply restores the reply.
IPv4 identification numbers count up from 0 as in slirp.
"""

import dataclasses
import struct
from typing import List, Optional, Tuple

from .tftp import TftpServer

ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
BROADCAST_MAC = b"\xff" * 6
NETWORK = bytes([10, 0, 2, 0])
GUEST_IP = bytes([10, 0, 2, 15])
GATEWAY_IP = bytes([10, 0, 2, 2])
DNS_IP = bytes([10, 0, 2, 3])
NETMASK = bytes([255, 255, 255, 0])
BROADCAST_IP = b"\xff" * 4
#: the addresses the network answers for, with their MAC addresses
HOSTS = {ip: b"\x52\x55" + ip for ip in (GATEWAY_IP, DNS_IP)}
GATEWAY_MAC = HOSTS[GATEWAY_IP]
ARP_REPLY_SIZE = 64                 # slirp pads its ARP replies to 64 bytes
IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 17, 58
# IPv6 (slirp's defaults: prefix fec0::/64, the host ::2 on it and on fe80::/64)
PREFIX6 = bytes.fromhex("fec0" + "00" * 14)
HOST6 = (bytes.fromhex("fe80" + "00" * 13 + "02"), bytes.fromhex("fec0" + "00" * 13 + "02"))
LINK_LOCAL_HOST6 = HOST6[0]
ALL_NODES6 = bytes.fromhex("ff02" + "00" * 13 + "01")
HOP_LIMIT6 = 255                    # slirp's ip6_output
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
ICMP6_ROUTER_SOLICIT, ICMP6_ROUTER_ADVERT = 133, 134
ICMP6_NEIGHBOR_SOLICIT, ICMP6_NEIGHBOR_ADVERT = 135, 136
NDP_SOURCE_LINK, NDP_TARGET_LINK, NDP_PREFIX = 1, 2, 3
RA_HOP_LIMIT, RA_ROUTER_LIFETIME = 64, 1800
PREFIX_VALID, PREFIX_PREFERRED = 86400, 14400
ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
DEFAULT_TTL, MAX_TTL = 64, 255
TOS_LOW_DELAY = 0x10
BOOTP_SERVER_PORT, BOOTP_CLIENT_PORT = 67, 68
TFTP_PORT = 69
BOOTP_REQUEST, BOOTP_REPLY = 1, 2
BOOTP_FIXED_SIZE = 236              # op ... file, before the options
BOOTP_FILE_SIZE = 128               # the boot file name, the last field before the options
DHCP_OPTIONS_SIZE = 312             # slirp's bp_vend: the cookie and the options
DHCP_COOKIE = bytes([99, 130, 83, 99])
DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, DHCPACK, DHCPNAK = 1, 2, 3, 5, 6
OPTION_PAD, OPTION_END = 0, 255
OPTION_NETMASK, OPTION_ROUTER, OPTION_DNS = 1, 3, 6
OPTION_REQUESTED_IP, OPTION_LEASE_TIME, OPTION_MESSAGE_TYPE = 50, 51, 53
OPTION_SERVER_ID, OPTION_MESSAGE = 54, 56
LEASE_SECONDS = 24 * 3600
NAK_MESSAGE = b"requested address not available"
#: virtual time between a guest's frame and the network's answer
REPLY_DELAY_NS = 100_000


@dataclasses.dataclass
class UserNetState:
    """Replies owed to the guest, in order, with the virtual ns they are due at."""

    deadlines: List[int] = dataclasses.field(default_factory=list)
    frames: List[bytes] = dataclasses.field(default_factory=list)
    #: the next IPv4 identification number
    ip_id: int = 0
    #: the TFTP sessions (tftp.py), one entry each: client address and port,
    #: file name, block size, blocks sent, virtual ns of the last full block
    tftp_clients: List[bytes] = dataclasses.field(default_factory=list)
    tftp_names: List[bytes] = dataclasses.field(default_factory=list)
    tftp_block_sizes: List[int] = dataclasses.field(default_factory=list)
    tftp_blocks: List[int] = dataclasses.field(default_factory=list)
    tftp_stamps: List[int] = dataclasses.field(default_factory=list)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(destination: bytes, source: bytes, ethertype: int, payload: bytes) -> bytes:
    return destination + source + struct.pack("!H", ethertype) + payload


class UserNet:
    """The network's answers to the guest's frames; `state` holds what is owed."""

    def __init__(self, reply_delay_ns: int = REPLY_DELAY_NS, tftp_folder: Optional[str] = None,
                 boot_file: str = "") -> None:
        self.reply_delay_ns = reply_delay_ns
        self.tftp = TftpServer(tftp_folder)
        self.boot_file = boot_file.encode()[:BOOTP_FILE_SIZE - 1]
        self.state = UserNetState()

    def reset(self) -> None:
        self.state = UserNetState()

    # ------------------------------------------------------------ the wire
    def send(self, frame: bytes, now_ns: int) -> None:
        """The guest put `frame` on the wire at `now_ns`: queue the replies."""
        for reply in self.replies(frame, now_ns):
            self.state.deadlines.append(now_ns + self.reply_delay_ns)
            self.state.frames.append(reply)

    def next_deadline(self) -> Optional[int]:
        return self.state.deadlines[0] if self.state.deadlines else None

    def take(self) -> bytes:
        """Remove and return the first reply owed."""
        del self.state.deadlines[0]
        return self.state.frames.pop(0)

    def replies(self, frame: bytes, now_ns: int) -> List[bytes]:
        if len(frame) < 14:
            return []
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        if ethertype == ETH_P_ARP:
            return self._arp(frame)
        if ethertype == ETH_P_IP:
            return self._ip(frame, now_ns)
        if ethertype == ETH_P_IPV6:
            return self._ipv6(frame)
        return []

    # ------------------------------------------------------------ ARP
    def _arp(self, frame: bytes) -> List[bytes]:
        if len(frame) < 42:
            return []
        htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", frame, 14)
        sender_mac, sender_ip = frame[22:28], frame[28:32]
        target_ip = frame[38:42]
        if (htype, ptype, hlen, plen, op) != (1, ETH_P_IP, 6, 4, 1) or target_ip not in HOSTS:
            return []
        mac = HOSTS[target_ip]
        arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 2) + mac + target_ip + sender_mac + sender_ip
        return [ethernet(frame[6:12], mac, ETH_P_ARP, arp).ljust(ARP_REPLY_SIZE, b"\0")]

    # ------------------------------------------------------------ IPv4
    def _ip(self, frame: bytes, now_ns: int) -> List[bytes]:
        packet = frame[14:]
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return []
        header_length = (packet[0] & 0x0F) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        if header_length < 20 or total > len(packet) or checksum(packet[:header_length]):
            return []
        flags_fragment = struct.unpack_from("!H", packet, 6)[0]
        if flags_fragment & 0x3FFF:              # fragments: not reassembled
            return []
        protocol, source, destination = packet[9], packet[12:16], packet[16:20]
        body = packet[header_length:total]
        guest_mac = frame[6:12]
        if protocol == IPPROTO_ICMP and destination in HOSTS:
            return self._icmp(guest_mac, packet[1], source, destination, body)
        if protocol == IPPROTO_UDP and len(body) >= 8:
            source_port, destination_port = struct.unpack_from("!HH", body)
            if destination_port == BOOTP_SERVER_PORT and source_port == BOOTP_CLIENT_PORT:
                return self._dhcp(body[8:])
            if destination_port == TFTP_PORT and destination == GATEWAY_IP:
                client = source + struct.pack("!H", source_port)
                return [self._udp(guest_mac, GATEWAY_IP, TFTP_PORT, source, source_port, answer)
                        for answer in self.tftp.answer(self.state, client, body[8:], now_ns)]
        return []

    def _ipv4(self, tos: int, ttl: int, protocol: int, source: bytes, destination: bytes,
              payload: bytes) -> bytes:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), self.state.ip_id, 0,
                             ttl, protocol, 0, source, destination)
        self.state.ip_id = (self.state.ip_id + 1) & 0xFFFF
        return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload

    def _icmp(self, guest_mac: bytes, tos: int, source: bytes, destination: bytes,
              body: bytes) -> List[bytes]:
        if len(body) < 8 or body[0] != ICMP_ECHO_REQUEST or checksum(body):
            return []
        reply = bytes([ICMP_ECHO_REPLY, 0, 0, 0]) + body[4:]
        reply = reply[:2] + struct.pack("!H", checksum(reply)) + reply[4:]
        packet = self._ipv4(tos, MAX_TTL, IPPROTO_ICMP, destination, source, reply)
        return [ethernet(guest_mac, HOSTS[destination], ETH_P_IP, packet)]

    def _udp(self, guest_mac: bytes, source: bytes, source_port: int, destination: bytes,
             destination_port: int, payload: bytes) -> bytes:
        """A UDP datagram from one of the network's hosts, as slirp sends it (low delay)."""
        udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
        pseudo = source + destination + struct.pack("!BBH", 0, IPPROTO_UDP, len(udp))
        udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
        packet = self._ipv4(TOS_LOW_DELAY, DEFAULT_TTL, IPPROTO_UDP, source, destination, udp)
        return ethernet(guest_mac, HOSTS[source], ETH_P_IP, packet)

    # ------------------------------------------------------------ IPv6
    def _ipv6(self, frame: bytes) -> List[bytes]:
        """Neighbour discovery and echo for the host addresses (slirp's icmp6_input)."""
        packet = frame[14:]
        if len(packet) < 44 or packet[0] >> 4 != 6 or packet[6] != IPPROTO_ICMPV6:
            return []
        length, hop_limit = struct.unpack_from("!H", packet, 4)[0], packet[7]
        source, destination = packet[8:24], packet[24:40]
        icmp = packet[40:40 + length]
        if length > len(packet) - 40 or checksum(pseudo_header6(source, destination, icmp) + icmp):
            return []
        kind, code, guest_mac = icmp[0], icmp[1], frame[6:12]
        if kind == ICMP6_ECHO_REQUEST and destination in HOST6:
            reply = bytes([ICMP6_ECHO_REPLY]) + icmp[1:2] + b"\0\0" + icmp[4:]
            return [self._icmp6(guest_mac, destination, source, reply)]
        if hop_limit != 255 or code != 0:
            return []
        if kind == ICMP6_ROUTER_SOLICIT and length >= 8:
            advert = (struct.pack("!BBHBBHII", ICMP6_ROUTER_ADVERT, 0, 0, RA_HOP_LIMIT, 0,
                                  RA_ROUTER_LIFETIME, 0, 0)
                      + bytes([NDP_SOURCE_LINK, 1]) + mac6(LINK_LOCAL_HOST6)
                      + struct.pack("!BBBBIII", NDP_PREFIX, 4, 64, 0xC0, PREFIX_VALID,
                                    PREFIX_PREFERRED, 0) + PREFIX6)
            return [self._icmp6(multicast_mac6(ALL_NODES6), LINK_LOCAL_HOST6, ALL_NODES6, advert)]
        if kind == ICMP6_NEIGHBOR_SOLICIT and length >= 24:
            target = icmp[8:24]
            unspecified = source == bytes(16)
            solicited_node = destination[:13] == bytes.fromhex("ff02" + "00" * 9 + "01ff")
            if target not in HOST6 or (unspecified and not solicited_node):
                return []
            to = ALL_NODES6 if unspecified else source
            flags = 0xA0 if unspecified else 0xE0              # R, S (not to a multicast), O
            advert = (struct.pack("!BBHB3x", ICMP6_NEIGHBOR_ADVERT, 0, 0, flags) + target
                      + bytes([NDP_TARGET_LINK, 1]) + mac6(target))
            return [self._icmp6(multicast_mac6(to) if unspecified else guest_mac, target, to, advert)]
        return []

    def _icmp6(self, destination_mac: bytes, source: bytes, destination: bytes, icmp: bytes) -> bytes:
        """An ICMPv6 message from one of the host addresses (slirp's ip6_output)."""
        icmp = icmp[:2] + struct.pack("!H", checksum(pseudo_header6(source, destination, icmp) + icmp)) + icmp[4:]
        header = struct.pack("!IHBB", 6 << 28, len(icmp), IPPROTO_ICMPV6, HOP_LIMIT6) + source + destination
        return ethernet(destination_mac, mac6(source), ETH_P_IPV6, header + icmp)

    # ------------------------------------------------------------ DHCP
    def _dhcp(self, bootp: bytes) -> List[bytes]:
        if len(bootp) < BOOTP_FIXED_SIZE + 4 or bootp[0] != BOOTP_REQUEST:
            return []
        if bootp[BOOTP_FIXED_SIZE:BOOTP_FIXED_SIZE + 4] != DHCP_COOKIE:
            return []
        options = parse_options(bootp[BOOTP_FIXED_SIZE + 4:])
        kind = options.get(OPTION_MESSAGE_TYPE, b"\0")[0]
        if kind not in (DHCPDISCOVER, DHCPREQUEST):
            return []
        requested = options.get(OPTION_REQUESTED_IP, GUEST_IP)
        if kind == DHCPDISCOVER or requested == GUEST_IP:
            reply_kind = DHCPOFFER if kind == DHCPDISCOVER else DHCPACK
            answer = [(OPTION_MESSAGE_TYPE, bytes([reply_kind])), (OPTION_SERVER_ID, GATEWAY_IP),
                      (OPTION_NETMASK, NETMASK), (OPTION_ROUTER, GATEWAY_IP), (OPTION_DNS, DNS_IP),
                      (OPTION_LEASE_TIME, struct.pack("!I", LEASE_SECONDS))]
            your_ip = GUEST_IP
        else:
            answer = [(OPTION_MESSAGE_TYPE, bytes([DHCPNAK])), (OPTION_MESSAGE, NAK_MESSAGE)]
            your_ip = bytes(4)
        client_mac = bootp[28:34]
        boot_file = self.boot_file if your_ip == GUEST_IP else b""
        fixed = (struct.pack("!BBBB", BOOTP_REPLY, 1, 6, 0) + bootp[4:8] + bytes(8)
                 + your_ip + GATEWAY_IP + bytes(4) + client_mac.ljust(16, b"\0") + bytes(64)
                 + boot_file.ljust(BOOTP_FILE_SIZE, b"\0"))
        encoded = b"".join(bytes([code, len(value)]) + value for code, value in answer)
        vend = (DHCP_COOKIE + encoded + bytes([OPTION_END])).ljust(DHCP_OPTIONS_SIZE, b"\0")
        reply = self._udp(BROADCAST_MAC, GATEWAY_IP, BOOTP_SERVER_PORT, BROADCAST_IP, BOOTP_CLIENT_PORT,
                          fixed + vend)
        return [reply]


def pseudo_header6(source: bytes, destination: bytes, payload: bytes) -> bytes:
    """The IPv6 pseudo-header an ICMPv6 checksum covers (RFC 8200, 8.1)."""
    return source + destination + struct.pack("!I3xB", len(payload), IPPROTO_ICMPV6)


def mac6(address: bytes) -> bytes:
    """The MAC address slirp gives its IPv6 addresses: 52:56 and the last 4 bytes."""
    return b"\x52\x56" + address[12:]


def multicast_mac6(address: bytes) -> bytes:
    """The Ethernet address of an IPv6 multicast group (RFC 2464: 33:33 and 4 bytes)."""
    return b"\x33\x33" + address[12:]


def parse_options(data: bytes) -> dict:
    """DHCP options (RFC 2132) by code, up to the end option."""
    options = {}
    at = 0
    while at < len(data):
        code = data[at]
        if code == OPTION_END:
            break
        if code == OPTION_PAD:
            at += 1
            continue
        if at + 1 >= len(data):
            break
        length = data[at + 1]
        options[code] = data[at + 2:at + 2 + length]
        at += 2 + length
    return options


class PcapWriter:
    """Frames in a libpcap capture file (link type Ethernet), stamped with virtual
    time, as QEMU's `-object filter-dump` writes them."""

    MAGIC, VERSION, SNAPLEN, LINKTYPE_ETHERNET = 0xA1B2C3D4, (2, 4), 65535, 1

    def __init__(self, path: str) -> None:
        self.handle = open(path, "wb")
        self.handle.write(struct.pack("<IHHiIII", self.MAGIC, *self.VERSION, 0, 0, self.SNAPLEN,
                                      self.LINKTYPE_ETHERNET))
        self.handle.flush()

    def write(self, time_ns: int, frame: bytes) -> None:
        seconds, nanoseconds = divmod(time_ns, 1_000_000_000)
        self.handle.write(struct.pack("<IIII", seconds, nanoseconds // 1000, len(frame), len(frame)))
        self.handle.write(frame)
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def read_pcap(path: str) -> List[Tuple[int, bytes]]:
    """The (time in ns, frame) records of a capture written by PcapWriter."""
    with open(path, "rb") as handle:
        data = handle.read()
    records, at = [], 24
    while at + 16 <= len(data):
        seconds, microseconds, length, _ = struct.unpack_from("<IIII", data, at)
        records.append((seconds * 1_000_000_000 + microseconds * 1000, data[at + 16:at + 16 + length]))
        at += 16 + length
    return records
