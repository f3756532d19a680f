"""Int 08h (IRQ 0), int 1Ch, int 1Ah and int 70h (IRQ 8): time of day.

POST sets the dword at 40:6C to the RTC's time of day in ticks, as the IBM AT
BIOS (SET_TOD), SeaBIOS (`clock_setup`) and the Bochs BIOS do: it counts ticks
since midnight, not since power-on.

Int 08h counts PIT channel 0 ticks (18.2 Hz) in the dword at 40:6C, wraps at
1800B0h ticks (24 hours) setting the midnight flag 40:70, counts down the floppy
motor timeout (40:40), calls the user hook int 1Ch and acknowledges the PIC.
Int 1Ah reads and sets that count, and the RTC time and date through CMOS ports
70h/71h (BCD, as the RTC keeps them); with no RTC it returns CF=1.  Int 70h
acknowledges RTC interrupts (register C), which wake int 15h AH=86h waits.
Int 1Ah AH=B1h, the PCI BIOS, is `pcibios.py`.
"""

from typing import Any, Dict

from . import common as c
from .pcibios import PCI_FUNCTION
from .rom import (CLI, IRET, MOV_AL_20, OUT_20_AL, OUT_A0_AL, POP_AX, PUSH_AX, RomBuilder, int_n)

CMOS_INDEX, CMOS_DATA = 0x70, 0x71
NMI_OFF = 0x80
RTC_SECONDS, RTC_ALARM_SECONDS, RTC_MINUTES, RTC_ALARM_MINUTES = 0x00, 0x01, 0x02, 0x03
RTC_HOURS, RTC_ALARM_HOURS = 0x04, 0x05
RTC_DAY, RTC_MONTH, RTC_YEAR, RTC_CENTURY = 0x07, 0x08, 0x09, 0x32
RTC_A, RTC_B, RTC_C = 0x0A, 0x0B, 0x0C
A_UPDATE_IN_PROGRESS = 0x80
B_SET, B_PIE, B_AIE, B_24H, B_DST = 0x80, 0x40, 0x20, 0x02, 0x01
B_BINARY, HOURS_PM = 0x04, 0x80   # register B: binary (not BCD) values; 12-hour mode's PM bit
FLOPPY_MOTOR_OFF = 0x0C       # digital output register: controller enabled, DMA, motors off
PIT_HZ = 1193182              # ticks are PIT channel 0 periods of 65536 counts


class TimerServices:
    """int 08h, 1Ah and 70h."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        int08 = rom.hostcall(self.tick, int_n(0x1C) + CLI + PUSH_AX + MOV_AL_20 + OUT_20_AL
                             + POP_AX + IRET, "int08")
        int1a = rom.hostcall(self.int1a, IRET, "int1a")
        int70 = rom.hostcall(self.rtc_interrupt, PUSH_AX + MOV_AL_20 + OUT_A0_AL + OUT_20_AL
                             + POP_AX + IRET, "int70")
        return {0x08: int08, 0x1A: int1a, 0x70: int70}

    def post(self) -> None:
        """Start the tick count at the RTC's time of day (no RTC: midnight)."""
        if not self.rtc_present() or not self.rtc_ready():
            return
        b = self.cmos_read(RTC_B)
        hours, minutes, seconds = (self.cmos_read(index) for index in (RTC_HOURS, RTC_MINUTES, RTC_SECONDS))
        pm = not b & B_24H and hours & HOURS_PM
        hours &= ~HOURS_PM
        if not b & B_BINARY:
            hours, minutes, seconds = (value - 6 * (value >> 4) for value in (hours, minutes, seconds))
        if not b & B_24H:
            hours = hours % 12 + (12 if pm else 0)
        ticks = (hours * 3600 + minutes * 60 + seconds) * PIT_HZ // 65536 % c.TICKS_PER_DAY
        self.ctx.set_bda16(c.BDA_TICKS, ticks & 0xFFFF)
        self.ctx.set_bda16(c.BDA_TICKS + 2, ticks >> 16)

    # ------------------------------------------------------------ IRQ handlers
    def tick(self, cpu: Any) -> None:
        ctx = self.ctx
        ticks = ctx.bda16(c.BDA_TICKS) | (ctx.bda16(c.BDA_TICKS + 2) << 16)
        ticks += 1
        if ticks >= c.TICKS_PER_DAY:
            ticks = 0
            ctx.set_bda8(c.BDA_MIDNIGHT, 1)
        ctx.set_bda16(c.BDA_TICKS, ticks & 0xFFFF)
        ctx.set_bda16(c.BDA_TICKS + 2, ticks >> 16)
        motor = ctx.bda8(c.BDA_FLOPPY_MOTOR_COUNT)
        if motor:
            ctx.set_bda8(c.BDA_FLOPPY_MOTOR_COUNT, motor - 1)
            if motor == 1:
                ctx.set_bda8(c.BDA_FLOPPY_MOTOR, ctx.bda8(c.BDA_FLOPPY_MOTOR) & 0xF0)
                if ctx.port_present(0x3F2):
                    ctx.outb(0x3F2, FLOPPY_MOTOR_OFF)

    def rtc_interrupt(self, cpu: Any) -> None:
        """Reading register C acknowledges the RTC and lets it interrupt again."""
        self.cmos_read(RTC_C)

    # ------------------------------------------------------------ CMOS access
    def cmos_read(self, index: int) -> int:
        self.ctx.outb(CMOS_INDEX, index | NMI_OFF)
        return self.ctx.inb(CMOS_DATA)

    def cmos_write(self, index: int, value: int) -> None:
        self.ctx.outb(CMOS_INDEX, index | NMI_OFF)
        self.ctx.outb(CMOS_DATA, value)

    def rtc_present(self) -> bool:
        return self.ctx.port_present(CMOS_DATA)

    def rtc_ready(self) -> bool:
        """Wait out an update cycle (244 us at most on the MC146818; bounded here
        because a host call cannot let virtual time pass)."""
        for _ in range(1000):
            if not self.cmos_read(RTC_A) & A_UPDATE_IN_PROGRESS:
                return True
        return False

    # ------------------------------------------------------------ int 1Ah
    def int1a(self, cpu: Any) -> None:
        function = cpu.get_reg("ah")
        self.bios.call_hook(cpu, 0x1A, function)
        ctx = self.ctx
        if function == 0x00:
            cpu.set_reg("cx", ctx.bda16(c.BDA_TICKS + 2))
            cpu.set_reg("dx", ctx.bda16(c.BDA_TICKS))
            cpu.set_reg("al", ctx.bda8(c.BDA_MIDNIGHT))
            ctx.set_bda8(c.BDA_MIDNIGHT, 0)
            c.set_return_flags(cpu, cf=False)
            return
        if function == 0x01:
            ctx.set_bda16(c.BDA_TICKS + 2, cpu.get_reg("cx"))
            ctx.set_bda16(c.BDA_TICKS, cpu.get_reg("dx"))
            ctx.set_bda8(c.BDA_MIDNIGHT, 0)
            c.set_return_flags(cpu, cf=False)
            return
        if function == PCI_FUNCTION:
            self.bios.pci.int1a(cpu)
            return
        handler = self.RTC_FUNCTIONS.get(function)
        if handler is None:
            c.set_return_flags(cpu, cf=True)
            return
        if not self.rtc_present() or not self.rtc_ready():
            c.set_return_flags(cpu, cf=True)
            return
        handler(self, cpu)

    def read_time(self, cpu: Any) -> None:
        cpu.set_reg("ch", self.cmos_read(RTC_HOURS))
        cpu.set_reg("cl", self.cmos_read(RTC_MINUTES))
        cpu.set_reg("dh", self.cmos_read(RTC_SECONDS))
        cpu.set_reg("dl", self.cmos_read(RTC_B) & B_DST)
        c.succeed(cpu)

    def set_time(self, cpu: Any) -> None:
        b = self.cmos_read(RTC_B)
        self.cmos_write(RTC_B, b | B_SET)
        self.cmos_write(RTC_HOURS, cpu.get_reg("ch"))
        self.cmos_write(RTC_MINUTES, cpu.get_reg("cl"))
        self.cmos_write(RTC_SECONDS, cpu.get_reg("dh"))
        dst = cpu.get_reg("dl") & B_DST
        self.cmos_write(RTC_B, (b & ~(B_SET | B_DST)) | B_24H | dst)
        c.succeed(cpu)

    def read_date(self, cpu: Any) -> None:
        cpu.set_reg("ch", self.cmos_read(RTC_CENTURY))
        cpu.set_reg("cl", self.cmos_read(RTC_YEAR))
        cpu.set_reg("dh", self.cmos_read(RTC_MONTH))
        cpu.set_reg("dl", self.cmos_read(RTC_DAY))
        c.succeed(cpu)

    def set_date(self, cpu: Any) -> None:
        b = self.cmos_read(RTC_B)
        self.cmos_write(RTC_B, b | B_SET)
        self.cmos_write(RTC_CENTURY, cpu.get_reg("ch"))
        self.cmos_write(RTC_YEAR, cpu.get_reg("cl"))
        self.cmos_write(RTC_MONTH, cpu.get_reg("dh"))
        self.cmos_write(RTC_DAY, cpu.get_reg("dl"))
        self.cmos_write(RTC_B, b & ~B_SET)
        c.succeed(cpu)

    def set_alarm(self, cpu: Any) -> None:
        """AH=06h: fails (CF=1) while an alarm is already set."""
        b = self.cmos_read(RTC_B)
        if b & B_AIE:
            c.set_return_flags(cpu, cf=True)
            return
        self.cmos_write(RTC_ALARM_HOURS, cpu.get_reg("ch"))
        self.cmos_write(RTC_ALARM_MINUTES, cpu.get_reg("cl"))
        self.cmos_write(RTC_ALARM_SECONDS, cpu.get_reg("dh"))
        self.cmos_write(RTC_B, b | B_AIE)
        self.unmask_irq8()
        c.succeed(cpu)

    def reset_alarm(self, cpu: Any) -> None:
        self.cmos_write(RTC_B, self.cmos_read(RTC_B) & ~B_AIE)
        c.succeed(cpu)

    def unmask_irq8(self) -> None:
        self.ctx.outb(0xA1, self.ctx.inb(0xA1) & ~0x01)
        self.ctx.outb(0x21, self.ctx.inb(0x21) & ~0x04)

    RTC_FUNCTIONS = {0x02: read_time, 0x03: set_time, 0x04: read_date, 0x05: set_date,
                     0x06: set_alarm, 0x07: reset_alarm}
