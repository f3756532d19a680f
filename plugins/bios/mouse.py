"""Int 15h AH=C2h, the PS/2 pointing-device BIOS interface, and its IRQ 12 handler.

Followed: the IBM PS/2 BIOS interface as SeaBIOS implements it (`src/mouse.c`):
C200h BH=0/1 disable/enable (enable needs a handler), C201h reset (BH = device
ID, BL = AAh), C202h sample rate (BH 0-6: 10, 20, 40, 60, 80, 100, 200 per s),
C203h resolution (BH 0-3), C204h device type, C205h initialise for BH-byte
packets (1-8), C206h BH=0 status (BL, CL, DL), BH=1/2 scaling 1:1 / 2:1, C207h
the device handler ES:BX.  Success: AH=0, CF=0; failure: CF=1 and AH = 01h
invalid function, 02h invalid input, 03h interface error (no mouse, or it did not
acknowledge), 05h no handler installed.

The state lives where IBM put it, in the EBDA: the handler's far pointer at 22h,
the packet index at 26h, flags at 27h (bit 7 handler installed, bits 0-2 packet
size - 1), the packet bytes from 28h.  The int 74h handler reads port 60h,
acknowledges both 8259As and collects a packet; a full packet goes to the handler
as a far call with the words status, X, Y, 0 pushed in that order (the handler
returns with RETF; the BIOS removes them).

The BIOS talks to the mouse through the 8042's `aux_command` (a reply never
passes the output buffer, as when a BIOS polls with interrupts off); enabling
the mouse turns on the aux port's clock and interrupt in the command byte.
"""

from typing import Any, Dict, List, Optional

from pcmachine.plugins.i8042.controller import KeyboardController

from . import common as c
from .rom import IRET, ROM_SEGMENT, RomBuilder

EBDA_HANDLER, EBDA_INDEX, EBDA_FLAGS, EBDA_PACKET = 0x22, 0x26, 0x27, 0x28
FLAG_HANDLER = 0x80
INVALID_FUNCTION, INVALID_INPUT, INTERFACE_ERROR, NO_HANDLER = 0x01, 0x02, 0x03, 0x05
ACK = 0xFA
CMD_SCALING_1_1, CMD_SCALING_2_1, CMD_RESOLUTION, CMD_STATUS = 0xE6, 0xE7, 0xE8, 0xE9
CMD_GET_ID, CMD_RATE, CMD_ENABLE, CMD_DISABLE, CMD_RESET = 0xF2, 0xF3, 0xF4, 0xF5, 0xFF
SAMPLE_RATES = (10, 20, 40, 60, 80, 100, 200)
#: PUSH AX CX DX BX BP SI DI DS ES (no PUSHA: the 8086 has none) and the POPs
SAVE_REGISTERS = b"\x50\x51\x52\x53\x55\x56\x57\x1E\x06"
RESTORE_REGISTERS = b"\x07\x1F\x5F\x5E\x5D\x5B\x5A\x59\x58"
ADD_SP_8 = b"\x83\xC4\x08"
PIC_EOI = 0x20


class MouseServices:
    """int 15h C2xxh and int 74h."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        leave = RESTORE_REGISTERS + IRET
        entry = rom.emit(SAVE_REGISTERS, "int74")
        rom.hostcall(self.irq12, leave)
        self.after_handler = rom.emit(ADD_SP_8 + leave, "int74_after_handler")
        return {0x74: entry}

    # ------------------------------------------------------------ helpers
    def _ebda(self, offset: int) -> int:
        return (self.ctx.bda16(c.BDA_EBDA_SEGMENT) << 4) + offset

    def _controller(self) -> Optional[KeyboardController]:
        return self.bios.machine.find(KeyboardController)

    def _command(self, *data: int, reply: int = 0) -> Optional[List[int]]:
        """Send `data`; the bytes after the last acknowledge (`reply` of them), or
        None when there is no mouse or it did not acknowledge every byte."""
        controller = self._controller()
        answer = controller.aux_command(*data) if controller is not None else None
        if answer is None or answer[:1] != [ACK]:
            return None
        # one ACK per byte sent, then the reply of the last command
        acks, rest = answer[:len(data)], answer[len(data):]
        if acks != [ACK] * len(data) or len(rest) < reply:
            return None
        return rest

    # ------------------------------------------------------------ int 15h C2h
    def int15(self, cpu: Any) -> None:
        function = cpu.get_reg("al")
        handler = self.FUNCTIONS.get(function)
        if handler is None:
            c.fail(cpu, INVALID_FUNCTION)
            return
        handler(self, cpu)

    def _finish(self, cpu: Any, reply: Optional[List[int]]) -> bool:
        if reply is None:
            c.fail(cpu, INTERFACE_ERROR)
            return False
        c.succeed(cpu)
        return True

    def enable(self, cpu: Any) -> None:
        flag = cpu.get_reg("bh")
        if flag > 1:
            c.fail(cpu, INVALID_INPUT)
            return
        if flag and not self.ctx.read8(self._ebda(EBDA_FLAGS)) & FLAG_HANDLER:
            c.fail(cpu, NO_HANDLER)
            return
        if self._finish(cpu, self._command(CMD_ENABLE if flag else CMD_DISABLE)):
            self._controller().set_aux_enabled(bool(flag))

    def reset(self, cpu: Any) -> None:
        reply = self._command(CMD_RESET, reply=2)
        if self._finish(cpu, reply):
            self.ctx.write8(self._ebda(EBDA_INDEX), 0)
            cpu.set_reg("bl", reply[0])
            cpu.set_reg("bh", reply[1])

    def sample_rate(self, cpu: Any) -> None:
        index = cpu.get_reg("bh")
        if index >= len(SAMPLE_RATES):
            c.fail(cpu, INVALID_INPUT)
            return
        self._finish(cpu, self._command(CMD_RATE, SAMPLE_RATES[index]))

    def resolution(self, cpu: Any) -> None:
        value = cpu.get_reg("bh")
        if value > 3:
            c.fail(cpu, INVALID_INPUT)
            return
        self._finish(cpu, self._command(CMD_RESOLUTION, value))

    def device_type(self, cpu: Any) -> None:
        reply = self._command(CMD_GET_ID, reply=1)
        if self._finish(cpu, reply):
            cpu.set_reg("bh", reply[0])

    def initialise(self, cpu: Any) -> None:
        size = cpu.get_reg("bh")
        if not 1 <= size <= 8:
            c.fail(cpu, INVALID_INPUT)
            return
        address = self._ebda(EBDA_FLAGS)
        self.ctx.write8(address, (self.ctx.read8(address) & 0xF8) | (size - 1))
        self.reset(cpu)

    def extended(self, cpu: Any) -> None:
        sub = cpu.get_reg("bh")
        if sub == 0:
            reply = self._command(CMD_STATUS, reply=3)
            if self._finish(cpu, reply):
                cpu.set_reg("bl", reply[0])
                cpu.set_reg("cl", reply[1])
                cpu.set_reg("dl", reply[2])
        elif sub in (1, 2):
            self._finish(cpu, self._command(CMD_SCALING_1_1 if sub == 1 else CMD_SCALING_2_1))
        else:
            c.fail(cpu, INVALID_INPUT)

    def set_handler(self, cpu: Any) -> None:
        segment, offset = cpu.get_reg("es"), cpu.get_reg("bx")
        self.ctx.write16(self._ebda(EBDA_HANDLER), offset)
        self.ctx.write16(self._ebda(EBDA_HANDLER + 2), segment)
        address = self._ebda(EBDA_FLAGS)
        flags = self.ctx.read8(address) & ~FLAG_HANDLER
        self.ctx.write8(address, flags | (FLAG_HANDLER if segment or offset else 0))
        c.succeed(cpu)

    FUNCTIONS = {0x00: enable, 0x01: reset, 0x02: sample_rate, 0x03: resolution,
                 0x04: device_type, 0x05: initialise, 0x06: extended, 0x07: set_handler}

    # ------------------------------------------------------------ int 74h
    def irq12(self, cpu: Any) -> None:
        """One byte from the mouse; a full packet is handed to the device handler."""
        ctx = self.ctx
        value = ctx.inb(0x60)
        ctx.outb(0xA0, PIC_EOI)
        ctx.outb(0x20, PIC_EOI)
        flags = ctx.read8(self._ebda(EBDA_FLAGS))
        index = ctx.read8(self._ebda(EBDA_INDEX)) & 7
        ctx.write8(self._ebda(EBDA_PACKET + index), value)
        index += 1
        if index <= flags & 7:
            ctx.write8(self._ebda(EBDA_INDEX), index)
            return
        ctx.write8(self._ebda(EBDA_INDEX), 0)
        if not flags & FLAG_HANDLER:
            return
        packet = [ctx.read8(self._ebda(EBDA_PACKET + i)) for i in range(3)]
        for word in (packet[0], packet[1], packet[2], 0):
            cpu.push16(word)
        cpu.push16(ROM_SEGMENT)
        cpu.push16(self.after_handler)
        cpu.set_reg("cs", ctx.read16(self._ebda(EBDA_HANDLER + 2)))
        cpu.set_reg("ip", ctx.read16(self._ebda(EBDA_HANDLER)))
