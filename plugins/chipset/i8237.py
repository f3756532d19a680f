"""The PC/AT's ISA DMA: two Intel 8237A controllers with their page registers.

Controller 1 (ports 00h-0Fh) serves the 8-bit channels 0-3; controller 2 (C0h-DFh,
registers on even ports) the 16-bit channels 4-7, and its channel 4 cascades
controller 1.  Page registers (81h-8Fh) give address bits 16-23.  Per channel: the
base and current address and count (written low byte then high byte through the
byte-pointer flip-flop), the mode (transfer type, auto-initialise, decrement), the
mask bit; per controller: status (terminal count bits 0-3 cleared by reading,
request bits 4-7), command, request, temporary registers, master clear.  Datasheet:
Intel 8237A (1993), "Register Description" and "Programming"; the page register map
is the IBM PC/AT Technical Reference's.

Devices move data with `to_memory(channel, data)` (a device writing into memory:
the 8237 "write" transfer) and `from_memory(channel, length)` ("read" transfer);
each stops at terminal count (count passes 0 -> FFFFh), which sets the status bit
and, without auto-initialise, masks the channel.  8-bit channels wrap inside their
64 KiB page, 16-bit ones inside 128 KiB (addresses count words), as on the AT.
"""

import dataclasses
from typing import Any, Dict, List

from pcmachine.component import Component, dict_to_state, state_to_dict

#: channel -> page register port (IBM PC/AT)
PAGE_PORTS = {0: 0x87, 1: 0x83, 2: 0x81, 3: 0x82, 4: 0x8F, 5: 0x8B, 6: 0x89, 7: 0x8A}
MODE_TYPE = 0x0C                  # 00 verify, 01 write (to memory), 10 read (from memory)
MODE_AUTOINIT = 0x10
MODE_DECREMENT = 0x20
TYPE_WRITE, TYPE_READ = 0x04, 0x08


@dataclasses.dataclass
class ChannelState:
    base_address: int = 0
    base_count: int = 0
    address: int = 0
    count: int = 0
    mode: int = 0
    page: int = 0
    masked: bool = True


@dataclasses.dataclass
class ControllerState:
    flip_flop: bool = False       # False: the next byte is the low byte
    status: int = 0
    command: int = 0
    request: int = 0
    temporary: int = 0


class DMAController(Component):
    """Both 8237As of a PC/AT and the DMA page registers."""

    OPTIONS: Dict[str, Any] = {}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.channels: List[ChannelState] = []
        self.controllers: List[ControllerState] = []
        self.extra_pages = bytearray(16)       # the unused page ports 80h-8Fh read back
        self.bus.register_io(0x00, 0x0F, self._read_first, self._write_first, f"{name} 8237 #1")
        self.bus.register_io(0xC0, 0xDF, self._read_second, self._write_second, f"{name} 8237 #2")
        self.bus.register_io(0x81, 0x8F, self._read_page, self._write_page, f"{name} page registers")
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self.channels = [ChannelState() for _ in range(8)]
        self.controllers = [ControllerState(), ControllerState()]
        self.extra_pages = bytearray(16)

    def snapshot(self) -> Dict[str, Any]:
        return {"channels": [state_to_dict(c) for c in self.channels],
                "controllers": [state_to_dict(c) for c in self.controllers],
                "extra_pages": bytes(self.extra_pages)}

    def restore(self, state: Dict[str, Any]) -> None:
        self.channels = [dict_to_state(ChannelState, c) for c in state["channels"]]
        self.controllers = [dict_to_state(ControllerState, c) for c in state["controllers"]]
        self.extra_pages = bytearray(state["extra_pages"])

    def describe(self) -> str:
        lines = []
        for number, channel in enumerate(self.channels):
            lines.append(f"channel {number}: {'masked' if channel.masked else 'unmasked'} mode {channel.mode:02x} "
                         f"page {channel.page:02x} address {channel.address:04x} count {channel.count:04x} "
                         f"(base {channel.base_address:04x}/{channel.base_count:04x})")
        return "\n".join(lines)

    # ------------------------------------------------------------------ registers
    def _read_first(self, port: int, size: int) -> int:
        return self._read_register(0, port & 0x0F)

    def _write_first(self, port: int, size: int, value: int) -> None:
        self._write_register(0, port & 0x0F, value & 0xFF)

    def _read_second(self, port: int, size: int) -> int:
        return self._read_register(1, (port - 0xC0) >> 1) if not port & 1 else 0xFF

    def _write_second(self, port: int, size: int, value: int) -> None:
        if not port & 1:
            self._write_register(1, (port - 0xC0) >> 1, value & 0xFF)

    def _read_register(self, index: int, register: int) -> int:
        controller = self.controllers[index]
        if register < 8:
            channel = self.channels[index * 4 + register // 2]
            value = channel.address if register % 2 == 0 else channel.count
            byte = (value >> 8) if controller.flip_flop else value & 0xFF
            controller.flip_flop = not controller.flip_flop
            return byte & 0xFF
        if register == 8:                        # status: reading clears the TC bits
            value = controller.status
            controller.status &= 0xF0
            return value
        if register == 13:
            return controller.temporary
        if register == 15:                       # all mask bits (82374 and later read it back)
            return 0xF0 | sum(1 << n for n in range(4) if self.channels[index * 4 + n].masked)
        return 0xFF

    def _write_register(self, index: int, register: int, value: int) -> None:
        controller = self.controllers[index]
        if register < 8:
            channel = self.channels[index * 4 + register // 2]
            field = "address" if register % 2 == 0 else "count"
            old = getattr(channel, "base_" + field)
            new = (old & 0x00FF) | (value << 8) if controller.flip_flop else (old & 0xFF00) | value
            setattr(channel, "base_" + field, new)
            setattr(channel, field, new)
            controller.flip_flop = not controller.flip_flop
        elif register == 8:
            controller.command = value
        elif register == 9:                      # software request
            bit = 1 << (value & 3)
            controller.request = controller.request | bit if value & 4 else controller.request & ~bit
            controller.status = (controller.status & 0x0F) | (controller.request << 4)
        elif register == 10:                     # single mask bit
            self.channels[index * 4 + (value & 3)].masked = bool(value & 4)
        elif register == 11:                     # mode
            self.channels[index * 4 + (value & 3)].mode = value
        elif register == 12:
            controller.flip_flop = False
        elif register == 13:                     # master clear
            self.controllers[index] = ControllerState()
            for n in range(4):
                self.channels[index * 4 + n].masked = True
        elif register == 14:                     # clear all mask bits
            for n in range(4):
                self.channels[index * 4 + n].masked = False
        elif register == 15:                     # write all mask bits
            for n in range(4):
                self.channels[index * 4 + n].masked = bool(value & (1 << n))

    def _read_page(self, port: int, size: int) -> int:
        for number, page_port in PAGE_PORTS.items():
            if page_port == port:
                return self.channels[number].page
        return self.extra_pages[port & 0x0F]

    def _write_page(self, port: int, size: int, value: int) -> None:
        for number, page_port in PAGE_PORTS.items():
            if page_port == port:
                self.channels[number].page = value & 0xFF
                return
        self.extra_pages[port & 0x0F] = value & 0xFF

    # ------------------------------------------------------------------ transfers
    def ready(self, number: int) -> bool:
        """The channel can transfer: unmasked and its controller enabled."""
        controller = self.controllers[number // 4]
        return not self.channels[number].masked and not controller.command & 0x04

    def _physical(self, number: int, channel: ChannelState) -> int:
        if number < 4:
            return (channel.page << 16) | channel.address
        return ((channel.page & 0xFE) << 16) | (channel.address << 1)

    def _advance(self, number: int, channel: ChannelState) -> bool:
        """One unit moved: step the address and count; True at terminal count."""
        step = -1 if channel.mode & MODE_DECREMENT else 1
        channel.address = (channel.address + step) & 0xFFFF
        channel.count = (channel.count - 1) & 0xFFFF
        if channel.count != 0xFFFF:
            return False
        controller = self.controllers[number // 4]
        controller.status |= 1 << (number % 4)
        if channel.mode & MODE_AUTOINIT:
            channel.address, channel.count = channel.base_address, channel.base_count
        else:
            channel.masked = True
        return True

    def to_memory(self, number: int, data: bytes) -> int:
        """A device writes `data` through the channel; returns the bytes taken
        (fewer when terminal count came first)."""
        channel = self.channels[number]
        unit = 1 if number < 4 else 2
        done = 0
        while done + unit <= len(data) and self.ready(number):
            if channel.mode & MODE_TYPE == TYPE_WRITE:
                self.bus.write_bytes(self._physical(number, channel), data[done:done + unit])
            done += unit
            if self._advance(number, channel):
                break
        return done

    def from_memory(self, number: int, length: int) -> bytes:
        """A device reads up to `length` bytes through the channel."""
        channel = self.channels[number]
        unit = 1 if number < 4 else 2
        out = bytearray()
        while len(out) + unit <= length and self.ready(number):
            out += self.bus.read_bytes(self._physical(number, channel), unit)
            if self._advance(number, channel):
                break
        return bytes(out)
