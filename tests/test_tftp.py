"""The user-mode network's TFTP server and boot file (plugins/net/tftp.py,
usernet.py), as QEMU's `-netdev user,tftp=FOLDER,bootfile=NAME` (libslirp's
tftp.c and bootp.c) answer a network boot: driven through the RTL8139's ports
with the frames a PXE client sends."""

import struct
from typing import List, Tuple

import pytest

from pcmachine.errors import ProfileError
from pcmachine.plugins.net.usernet import checksum, parse_options

from test_rtl8139 import GATEWAY_IP, GUEST_IP, MAC, Driver, dhcp, tftp_read, udp_frame

CLIENT_PORT = 2000


def tftp(packet: bytes, port: int = CLIENT_PORT) -> bytes:
    return udp_frame(port, 69, packet)


def ack(block: int, port: int = CLIENT_PORT) -> bytes:
    return tftp(struct.pack("!HH", 4, block), port)


def answers(driver: Driver, frame: bytes) -> List[Tuple[int, bytes]]:
    """The TFTP packets that come back to the client for `frame`: (port, payload)."""
    driver.send(frame)
    driver.wait()
    packets = []
    for _, reply in driver.receive():
        ip = reply[14:]
        assert reply[:6] == MAC and ip[9] == 17 and ip[12:16] == GATEWAY_IP and ip[16:20] == GUEST_IP
        udp = ip[20:struct.unpack_from("!H", ip, 2)[0]]
        assert checksum(GATEWAY_IP + GUEST_IP + struct.pack("!BBH", 0, 17, len(udp)) + udp) == 0
        source, destination = struct.unpack_from("!HH", udp)
        assert source == 69
        packets.append((destination, udp[8:]))
    return packets


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "kernel").write_bytes(bytes(range(256)) * 5)      # 1280 bytes
    (tmp_path / "exact").write_bytes(b"x" * 1024)
    return tmp_path


def test_a_file_comes_in_512_byte_blocks_the_short_one_last(folder):
    driver = Driver((f"nic.tftp={folder}",))
    driver.start()
    content = (folder / "boot" / "kernel").read_bytes()
    [(port, first)] = answers(driver, tftp_read(b"boot/kernel", b"octet"))
    assert port == CLIENT_PORT and first == struct.pack("!HH", 3, 1) + content[:512]
    assert answers(driver, ack(1)) == [(CLIENT_PORT, struct.pack("!HH", 3, 2) + content[512:1024])]
    assert answers(driver, ack(2)) == [(CLIENT_PORT, struct.pack("!HH", 3, 3) + content[1024:])]
    assert answers(driver, ack(3)) == []                                 # the session ended
    driver.machine.close()


def test_a_file_of_whole_blocks_ends_with_an_empty_block_and_repeated_acks_move_on(folder):
    driver = Driver((f"nic.tftp={folder}",))
    driver.start()
    assert answers(driver, tftp_read(b"/exact", b"OCTET"))[0][1][:4] == struct.pack("!HH", 3, 1)
    assert answers(driver, ack(1))[0][1] == struct.pack("!HH", 3, 2) + b"x" * 512
    assert answers(driver, ack(1)) == [(CLIENT_PORT, struct.pack("!HH", 3, 3))]   # slirp ignores the number
    driver.machine.close()


def test_options_tsize_and_blksize_get_an_oack(folder):
    driver = Driver((f"nic.tftp={folder}",))
    driver.start()
    request = tftp_read(b"boot/kernel", b"octet\0tsize\x000\0blksize\x004000")
    assert answers(driver, request) == [(CLIENT_PORT, b"\0\x06tsize\x001280\0blksize\x001428\0")]
    content = (folder / "boot" / "kernel").read_bytes()
    assert answers(driver, ack(0))[0][1] == struct.pack("!HH", 3, 1) + content      # one block of 1428
    request = tftp_read(b"boot/kernel", b"octet\0blksize\x00800\0timeout\x001\0tsize\x000")
    assert answers(driver, request) == [(CLIENT_PORT, b"\0\x06blksize\x00800\0tsize\x001280\0")]
    assert len(answers(driver, ack(0))[0][1]) == 4 + 800
    driver.machine.close()


@pytest.mark.parametrize("name, mode, code", [
    (b"missing", b"octet", 1),
    (b"boot", b"octet", 1),                   # a folder opens, but cannot be read
    (b"../etc/passwd", b"octet", 2),
    (b"boot/", b"octet", 2),
    (b"boot/kernel", b"netascii", 4),
    (b"boot/kernel", b"oct", 2),              # no room for a mode
])
def test_refusals_are_slirps(folder, name, mode, code):
    driver = Driver((f"nic.tftp={folder}",))
    driver.start()
    [(port, packet)] = answers(driver, tftp_read(name, mode))
    assert port == CLIENT_PORT and packet[:4] == struct.pack("!HH", 5, code) and packet[-1] == 0
    assert answers(driver, ack(0)) == []                                 # no session left
    driver.machine.close()


def test_three_sessions_at_most_until_one_has_been_idle_five_seconds(folder):
    driver = Driver((f"nic.tftp={folder}",))
    driver.start()
    for port in (3001, 3002, 3003):
        assert len(answers(driver, tftp(b"\0\x01boot/kernel\0octet\0", port))) == 1
    assert answers(driver, tftp(b"\0\x01boot/kernel\0octet\0", 3004)) == []
    assert answers(driver, tftp(b"\0\x05\0\0\0", 3002)) == []           # the client gives up
    assert len(answers(driver, tftp(b"\0\x01exact\0octet\0", 3004))) == 1
    assert answers(driver, tftp(b"\0\x01exact\0octet\0", 3005)) == []
    driver.wait(5_000_000_001)
    assert len(answers(driver, tftp(b"\0\x01exact\0octet\0", 3005))) == 1
    assert answers(driver, ack(1, 3001)) == []                           # that one was replaced
    assert answers(driver, ack(1, 3003))[0][1][:4] == struct.pack("!HH", 3, 2)
    driver.machine.close()


def test_a_snapshot_mid_transfer_goes_on_with_the_next_block(folder):
    driver = Driver((f"nic.tftp={folder}",))
    driver.start()
    answers(driver, tftp_read(b"boot/kernel", b"octet"))
    saved = driver.card.snapshot()
    other = Driver((f"nic.tftp={folder}",))
    other.card.restore(saved)                                          # the card as the driver set it up
    other.tx = driver.tx
    assert answers(other, ack(1)) == answers(driver, ack(1))
    other.machine.close()
    driver.machine.close()


def test_the_boot_file_is_in_the_offer_and_the_ack():
    driver = Driver(("nic.bootfile=pxelinux.0",))
    driver.start()
    for kind, requested in ((1, GUEST_IP), (3, GUEST_IP), (3, bytes([10, 0, 2, 9]))):
        driver.send(dhcp(kind, 0xFEED, requested))
        driver.wait()
        [(_, reply)] = driver.receive()
        bootp = reply[14 + 20 + 8:]
        nak = parse_options(bootp[240:])[53] == b"\x06"
        assert bootp[108:236] == (b"" if nak else b"pxelinux.0").ljust(128, b"\0")
    driver.machine.close()


def test_a_tftp_option_that_is_not_a_folder_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError, match="nic.tftp: not a folder"):
        Driver((f"nic.tftp={tmp_path / 'none'}",))
