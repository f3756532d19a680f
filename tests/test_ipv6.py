"""IPv6 on the user-mode network (plugins/net/usernet.py): neighbour discovery
and echo for the host addresses fe80::2 and fec0::2, as QEMU's slirp answers
them (ip6_icmp.c), driven through the RTL8139's ports."""

import struct
from typing import List

from pcmachine.plugins.net.usernet import checksum

from test_rtl8139 import MAC, Driver

GUEST_LINK_LOCAL = bytes.fromhex("fe80000000000000505400fffe123456")
HOST_LINK_LOCAL = bytes.fromhex("fe800000000000000000000000000002")
HOST_SITE = bytes.fromhex("fec00000000000000000000000000002")
ALL_NODES, ALL_ROUTERS = bytes.fromhex("ff02" + "00" * 13 + "01"), bytes.fromhex("ff02" + "00" * 13 + "02")
SLIRP_MAC = bytes.fromhex("525600000002")

#: iPXE's router solicitation and QEMU 7.2's answer, from QEMU's filter-dump
#: capture of `-kernel ipxe.lkrn -netdev user,... -device e1000` (the answer has
#: no RDNSS option: the capturing host had no IPv6 DNS server)
IPXE_SOLICITATION = bytes.fromhex(
    "33330000000252540012345686dd6000000000103afffe80000000000000505400fffe123456"
    "ff020000000000000000000000000002850071b5000000000101525400123456")
QEMU_ADVERTISEMENT = bytes.fromhex(
    "33330000000152560000000286dd6000000000383afffe800000000000000000000000000002"
    "ff0200000000000000000000000000018600155e4000070800000000000000000101525600000002"
    "030440c0000151800000384000000000fec00000000000000000000000000000")


def icmp6(source: bytes, destination: bytes, message: bytes, hop_limit: int = 255,
          destination_mac: bytes = b"\x33\x33\x00\x00\x00\x02") -> bytes:
    """An ICMPv6 message from the guest, its checksum filled in."""
    pseudo = source + destination + struct.pack("!I3xB", len(message), 58)
    message = message[:2] + struct.pack("!H", checksum(pseudo + message)) + message[4:]
    header = struct.pack("!IHBB", 6 << 28, len(message), 58, hop_limit) + source + destination
    return destination_mac + MAC + b"\x86\xdd" + header + message


def exchange(frame: bytes) -> List[bytes]:
    driver = Driver()
    driver.start()
    driver.send(frame)
    driver.wait()
    replies = [reply for _, reply in driver.receive()]
    driver.machine.close()
    return replies


def solicitation(target: bytes) -> bytes:
    return struct.pack("!BBHI", 135, 0, 0, 0) + target + b"\x01\x01" + MAC


def test_a_router_solicitation_gets_qemus_advertisement_byte_for_byte():
    assert exchange(IPXE_SOLICITATION) == [QEMU_ADVERTISEMENT]


def test_solicitations_with_a_wrong_hop_limit_or_checksum_get_nothing():
    message = struct.pack("!BBHI", 133, 0, 0, 0)
    assert exchange(icmp6(GUEST_LINK_LOCAL, ALL_ROUTERS, message, hop_limit=1)) == []
    broken = bytearray(IPXE_SOLICITATION)
    broken[-1] ^= 1
    assert exchange(bytes(broken)) == []


def test_neighbour_solicitations_for_the_host_get_an_advertisement():
    for target in (HOST_LINK_LOCAL, HOST_SITE):
        [reply] = exchange(icmp6(GUEST_LINK_LOCAL, target, solicitation(target)))
        assert reply[:14] == MAC + SLIRP_MAC + b"\x86\xdd"
        ip = reply[14:]
        assert ip[6:8] == b"\x3a\xff" and ip[8:24] == target and ip[24:40] == GUEST_LINK_LOCAL
        message = ip[40:]
        assert checksum(ip[8:40] + struct.pack("!I3xB", len(message), 58) + message) == 0
        assert message[0] == 136 and message[4] == 0xE0 and message[8:24] == target   # R, S, O
        assert message[24:] == b"\x02\x01" + SLIRP_MAC


def test_duplicate_address_detection_gets_a_multicast_advertisement_without_s():
    solicited_node = bytes.fromhex("ff02" + "00" * 9 + "01ff") + HOST_LINK_LOCAL[13:]   # ff02::1:ff00:2
    [reply] = exchange(icmp6(bytes(16), solicited_node, solicitation(HOST_LINK_LOCAL)))
    ip = reply[14:]
    assert reply[:6] == b"\x33\x33\x00\x00\x00\x01" and ip[24:40] == ALL_NODES
    assert ip[40] == 136 and ip[44] == 0xA0                                          # R, O


def test_solicitations_for_other_addresses_get_nothing():
    other = bytes.fromhex("fec00000000000000000000000000009")
    assert exchange(icmp6(GUEST_LINK_LOCAL, other, solicitation(other))) == []


def test_echo_requests_to_the_host_are_answered():
    request = struct.pack("!BBHHH", 128, 0, 0, 0x4242, 7) + b"ping6"
    [reply] = exchange(icmp6(GUEST_LINK_LOCAL, HOST_SITE, request, hop_limit=64,
                             destination_mac=SLIRP_MAC))
    ip = reply[14:]
    assert reply[:12] == MAC + SLIRP_MAC and ip[7] == 255
    assert ip[8:24] == HOST_SITE and ip[24:40] == GUEST_LINK_LOCAL
    assert ip[40] == 129 and ip[44:] == request[4:]
    assert checksum(ip[8:40] + struct.pack("!I3xB", len(ip) - 40, 58) + ip[40:]) == 0
