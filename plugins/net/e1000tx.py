"""The 82540EM's transmit path (8254x SDM chapter 3, and QEMU's `hw/net/e1000.c`
start_xmit, process_tx_desc and xmit_seg where the manual leaves a choice):
the descriptor ring from TDH to TDT, legacy descriptors, the TCP/IP context
descriptor, data descriptors with IP and TCP/UDP checksum insertion (IXSM,
TXSM) and TCP segmentation (TSE).  Apart from `e1000.py` to keep each module
readable; the frame being collected is plain data in `TxState`, so a snapshot
between the descriptors of one frame keeps it.
"""

import dataclasses
import struct
from typing import Any, List

from . import e1000regs as r
from .usernet import checksum

# the fields of a context descriptor, in `TxState.context` and `TxState.tso_context`
IPCSS, IPCSO, IPCSE, TUCSS, TUCSO, TUCSE, PAYLEN, HDRLEN, MSS, IS_IP, IS_TCP = range(11)
CONTEXT = struct.Struct("<BBHBBHIBBH")


@dataclasses.dataclass
class TxState:
    """The frame being collected from data descriptors and the offload context."""

    data: bytearray = dataclasses.field(default_factory=bytearray)
    #: the headers TSO repeats in front of every segment
    header: bytes = b""
    #: POPTS of the frame's first data descriptor (IXSM, TXSM)
    sum_needed: int = 0
    tse: bool = False
    tso_frames: int = 0
    context: List[int] = dataclasses.field(default_factory=lambda: [0] * 11)
    tso_context: List[int] = dataclasses.field(default_factory=lambda: [0] * 11)


def insert_checksum(data: bytearray, offset: int, start: int, end: int) -> None:
    """QEMU's putsum: the Internet checksum of data[start:end + 1] (to the end of
    the frame when `end` is 0) stored big-endian at `offset`; 0 is sent as FFFFh."""
    stop = len(data)
    if end and end < stop:
        stop = end + 1
    if offset < stop - 1:
        struct.pack_into("!H", data, offset, checksum(bytes(data[start:stop])) or 0xFFFF)


class Transmitter:
    """Reads the transmit ring of `card` (an E1000) and sends what it describes."""

    def __init__(self, card: Any) -> None:
        self.card = card
        self.state = TxState()
        self._busy = False

    def run(self) -> None:
        """Send the descriptors from TDH to TDT (TCTL.EN, bus master)."""
        card, nic = self.card, self.card.nic
        if not nic.tctl & r.TCTL_EN or self._busy or not card._may_master():
            return
        self._busy = True               # a loopback frame's interrupt may write TDT
        causes = r.ICR_TXQE
        ring = card.stored("TDLEN") // r.DESCRIPTOR_SIZE
        base = card.stored("TDBAH") << 32 | card.stored("TDBAL")
        try:
            for _ in range(ring):       # a TDT beyond the ring must not loop forever
                if nic.tdh == nic.tdt or nic.tdh >= ring:
                    break
                address = base + r.DESCRIPTOR_SIZE * nic.tdh
                descriptor = card.bus.read_bytes(address, r.DESCRIPTOR_SIZE)
                self._descriptor(descriptor)
                lower, upper = struct.unpack_from("<II", descriptor, 8)
                if lower & (r.TXD_RS | r.TXD_RPS):
                    upper = (upper | r.TXD_STAT_DD) & ~0x0E      # clear EC, LC, TU
                    card.bus.write_bytes(address + 12, struct.pack("<I", upper))
                    causes |= r.ICR_TXDW
                nic.tdh = (nic.tdh + 1) % ring
        finally:
            self._busy = False
        card.raise_cause(causes)

    def _descriptor(self, descriptor: bytes) -> None:
        """One descriptor: a context is remembered, data is collected, EOP sends."""
        state = self.state
        address, lower, upper = struct.unpack("<QII", descriptor)
        kind = lower & (r.TXD_DEXT | r.TXD_DTYP_D)
        if kind == r.TXD_DEXT:                              # TCP/IP context descriptor
            fields = list(CONTEXT.unpack(descriptor))
            command = fields[6]
            context = [fields[0], fields[1], fields[2], fields[3], fields[4], fields[5],
                       command & 0xFFFFF, fields[8], fields[9], int(bool(command & r.TXD_CMD_IP)),
                       int(bool(command & r.TXD_CMD_TCP))]
            if command & r.TXD_CMD_TSE:
                state.tso_context, state.tso_frames = context, 0
            else:
                state.context = context
            return
        if kind == r.TXD_DEXT | r.TXD_DTYP_D:               # data descriptor
            if not state.data:
                state.sum_needed = upper >> 8 & 0xFF
            state.tse = bool(lower & r.TXD_CMD_TSE)
        else:                                               # legacy descriptor
            state.tse = False
        length = lower & 0xFFFF
        if state.tse:
            self._collect_segments(address, length)
        else:
            length = min(r.TX_BUFFER - len(state.data), length)
            state.data += self.card.bus.read_bytes(address, length)
        if not lower & r.TXD_EOP:
            return
        if not (state.tse and len(state.data) < state.tso_context[HDRLEN]):
            self._send_segment()
        state.data = bytearray()
        state.tso_frames = state.sum_needed = 0
        state.tse = False

    def _collect_segments(self, address: int, length: int) -> None:
        """TSE: collect up to HDRLEN + MSS bytes, send a segment each time it is full."""
        state, bus = self.state, self.card.bus
        header_length, mss = state.tso_context[HDRLEN], state.tso_context[MSS]
        segment = header_length + mss
        while length and len(state.data) < segment:
            take = min(length, segment - len(state.data), r.TX_BUFFER - len(state.data))
            if not take:
                break
            before = len(state.data)
            state.data += bus.read_bytes(address, take)
            if before < header_length <= len(state.data):
                state.header = bytes(state.data[:header_length])
            address, length = address + take, length - take
            if len(state.data) == segment:
                self._send_segment()
                state.data = bytearray(state.header)

    def _send_segment(self) -> None:
        """QEMU's xmit_seg: fix up a TSO segment's headers, insert the checksums, send."""
        state, card = self.state, self.card
        data = state.data
        context = state.tso_context if state.tse else state.context
        if state.tse:
            start = context[IPCSS]
            if context[IS_IP]:
                ident = struct.unpack_from("!H", data, start + 4)[0]
                struct.pack_into("!HH", data, start + 2, (len(data) - start) & 0xFFFF,
                                 (ident + state.tso_frames) & 0xFFFF)
            else:
                struct.pack_into("!H", data, start + 4, (len(data) - start) & 0xFFFF)
            start = context[TUCSS]
            length = len(data) - start
            if context[IS_TCP]:
                sent = state.tso_frames * context[MSS]
                sequence = struct.unpack_from("!I", data, start + 4)[0]
                struct.pack_into("!I", data, start + 4, (sequence + sent) & 0xFFFFFFFF)
                if context[PAYLEN] - sent > context[MSS]:
                    data[start + 13] &= ~0x09 & 0xFF                # PSH, FIN on the last only
                elif state.tso_frames:
                    card.count("TSCTC")
            else:
                struct.pack_into("!H", data, start + 4, length & 0xFFFF)
            if state.sum_needed & r.POPTS_TXSM:                    # the length into the pseudo-header sum
                partial = struct.unpack_from("!H", data, context[TUCSO])[0] + length
                struct.pack_into("!H", data, context[TUCSO], ((partial >> 16) + (partial & 0xFFFF)) & 0xFFFF)
            state.tso_frames += 1
        if state.sum_needed & r.POPTS_TXSM:
            insert_checksum(data, context[TUCSO], context[TUCSS], context[TUCSE])
        if state.sum_needed & r.POPTS_IXSM:
            insert_checksum(data, context[IPCSO], context[IPCSS], context[IPCSE])
        self._send(bytes(data))

    def _send(self, frame: bytes) -> None:
        card = self.card
        if card.loopback():
            card._receive(frame)
        else:
            card._send(frame)
        if frame[:6] == b"\xff" * 6:
            card.count("BPTC")
        elif frame and frame[0] & 1:
            card.count("MPTC")
        name = r.size_counter(r.PTC_SIZES, len(frame) + 4)
        if name:
            card.count(name)
        card.count("TPT")
        card.count("GPTC")
        card.count_octets("TOTL", len(frame) + 4)
        card.count_octets("GOTCL", len(frame) + 4)
