"""POST: what the BIOS sets up between the reset vector and int 19h.

The reset vector F000:FFF0 jumps to the POST host call, which initialises the
interrupt controllers, the PIT, the 8042 and CMOS through their ports (skipping a
device that is absent), fills the IVT, the BIOS Data Area (the tick count from the
RTC's time of day) and the EBDA, sets video mode 03h and prints a short banner,
then the ROM executes `INT 19h`.  A warm boot (40:72 = 1234h, set by
Ctrl+Alt+Del) runs the same steps; RAM is left alone either way except for the
areas the BIOS owns.
"""

from typing import Any, Dict

from pcmachine.plugins.i8042.controller import KeyboardController

from . import common as c
from .rom import (BIOS_DATE, IRET, MODEL_AT, MOV_AL_20, OFFSET_DATE, OFFSET_MODEL, OFFSET_RESET,
                  OUT_20_AL, OUT_A0_AL, POP_AX, PUSH_AX, ROM_SEGMENT, STI, RomBuilder,
                  int_n, jmp_far)

#: CR0's cache-disable and not-write-through bits
CR0_CD_NW = 0x60000000
EBDA_SEGMENT = 0x9FC0
EBDA_SIZE_KB = 1
BASE_MEMORY_KB = 640 - EBDA_SIZE_KB
POST_STACK_TOP = 0x7C00
COM_BASES = (0x3F8, 0x2F8, 0x3E8, 0x2E8)
LPT_BASES = (0x378, 0x278, 0x3BC)

# 8259A initialisation: ICW1 edge-triggered cascade with ICW4, ICW2 vector base,
# ICW3 cascade wiring, ICW4 8086 mode; masks leave the timer, keyboard, cascade,
# floppy, RTC, mouse, FPU and IDE lines open.
PIC_ICW1 = 0x11
PIC_ICW4_8086 = 0x01
MASTER_VECTOR_BASE = 0x08
SLAVE_VECTOR_BASE = 0x70
MASTER_MASK = 0xB8
SLAVE_MASK = 0x8E
# PIT channel 0, lobyte/hibyte, mode 3, count 0 (65536): 1193182 / 65536 = 18.2 Hz.
PIT_CH0_MODE3 = 0x36
# 8042 command byte: keyboard interrupt, system flag, mouse disabled, translation.
KBC_COMMAND_BYTE = 0x65
KBC_WRITE_COMMAND_BYTE = 0x60
KBC_STATUS_INPUT_FULL = 0x02

CMOS_INDEX, CMOS_DATA = 0x70, 0x71
CMOS_NMI_OFF = 0x80


class PowerOnSelfTest:
    """The POST host call and the IVT/BDA/chipset set-up it performs."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        post = rom.hostcall(self.power_on, STI + int_n(0x19) + int_n(0x18), "post")
        rom.place(OFFSET_RESET, jmp_far(ROM_SEGMENT, post), "reset")
        rom.emit(PUSH_AX + MOV_AL_20 + OUT_20_AL + POP_AX + IRET, "irq_master_default")
        rom.emit(PUSH_AX + MOV_AL_20 + OUT_A0_AL + OUT_20_AL + POP_AX + IRET, "irq_slave_default")
        rom.place(OFFSET_DATE, BIOS_DATE, "date")
        rom.place(OFFSET_MODEL, bytes((MODEL_AT,)), "model")
        return {}

    # ------------------------------------------------------------ the host call
    def power_on(self, cpu: Any) -> None:
        ctx = self.ctx
        warm = ctx.bda16(c.BDA_RESET_FLAG) == c.WARM_BOOT_MAGIC
        self.bios.call_hook(cpu, 0xFF, 0x01 if warm else 0x00)
        cpu.set_reg("ss", 0)
        cpu.set_reg("sp", POST_STACK_TOP)
        cpu.set_reg("ds", 0x40)
        cpu.set_flag("if", False)
        cpu.set_flag("df", False)
        self.init_ivt()
        self.init_bda()
        self.init_pics()
        self.init_pit()
        self.init_kbc()
        self.init_serial_parallel()
        self.bios.pci.post()
        self.bios.disk.post()
        self.bios.keyboard.post()
        self.init_cmos()
        self.bios.timer.post()
        self.init_fpu(cpu)
        self.enable_caches(cpu)
        self.bios.video.post()
        if self.bios.options["banner"]:
            self.banner()

    @staticmethod
    def init_fpu(cpu: Any) -> None:
        """The coprocessor test leaves the x87 initialised (FNINIT: round to
        nearest, 64-bit precision, all exceptions masked), as PC BIOSes do;
        its RESET state would give 24-bit precision."""
        fpu = getattr(cpu, "fpu", None)
        if fpu is not None:
            fpu.init()

    @staticmethod
    def enable_caches(cpu: Any) -> None:
        """Clear CR0.CD and CR0.NW (set at reset on a 486 and later), as PC BIOSes
        and SeaBIOS do before booting (Bochs' BIOS leaves them set): guests that
        print CR0 then see what they see on QEMU, 00000010 in real mode."""
        cr = getattr(cpu, "cr", None)
        if cr is not None and cr[0] & CR0_CD_NW:
            cpu.write_cr(0, cr[0] & ~CR0_CD_NW)

    # ------------------------------------------------------------ memory tables
    def init_ivt(self) -> None:
        labels = self.bios.label
        default = (ROM_SEGMENT << 16) | labels["iret"]
        ivt = bytearray()
        for vector in range(256):
            if 0x08 <= vector <= 0x0F:
                target = (ROM_SEGMENT << 16) | labels["irq_master_default"]
            elif 0x70 <= vector <= 0x77:
                target = (ROM_SEGMENT << 16) | labels["irq_slave_default"]
            else:
                target = default
            ivt += target.to_bytes(4, "little")
        for vector, offset in self.bios.vectors.items():
            ivt[vector * 4:vector * 4 + 4] = ((ROM_SEGMENT << 16) | offset).to_bytes(4, "little")
        for vector in range(0x60, 0x68):          # reserved for user programs
            ivt[vector * 4:vector * 4 + 4] = bytes(4)
        self.ctx.bus.write_bytes(0, bytes(ivt))

    def init_bda(self) -> None:
        """Zero the BDA, except the reset flag: a warm boot stays visible to the OS."""
        ctx = self.ctx
        reset_flag = ctx.bda16(c.BDA_RESET_FLAG)
        ctx.bus.write_bytes(c.BDA, bytes(0x100))
        ctx.set_bda16(c.BDA_RESET_FLAG, reset_flag)
        ctx.bus.write_bytes(EBDA_SEGMENT << 4, bytes(EBDA_SIZE_KB * 1024))
        ctx.write8(EBDA_SEGMENT << 4, EBDA_SIZE_KB)
        ctx.set_bda16(c.BDA_EBDA_SEGMENT, EBDA_SEGMENT)
        ctx.set_bda16(c.BDA_MEMORY_KB, BASE_MEMORY_KB)
        ctx.write8(0x500, 0)                       # print-screen status

    def equipment_word(self) -> int:
        """Int 11h: floppies (bits 0, 6-7), FPU (1), a PS/2 pointing device (2:
        IBM's PS/2 BIOS and SeaBIOS set it, and OSes test it before they talk to
        the mouse), initial video 80x25 colour (4-5 = 10b), serial ports (9-11),
        printers (14-15)."""
        ctx = self.ctx
        floppies = self.bios.disk.floppy_count()
        word = 0x0020
        if floppies:
            word |= 0x0001 | ((floppies - 1) << 6)
        if getattr(self.bios.machine.cpu, "has_fpu", False):
            word |= 0x0002
        controller = self.bios.machine.find(KeyboardController)
        if controller is not None and controller.mouse is not None:
            word |= 0x0004
        serial = sum(1 for i in range(4) if ctx.bda16(c.BDA_COM_PORTS + 2 * i))
        parallel = sum(1 for i in range(3) if ctx.bda16(c.BDA_LPT_PORTS + 2 * i))
        return word | (serial << 9) | (parallel << 14)

    # ------------------------------------------------------------ chipset
    def init_pics(self) -> None:
        outb = self.ctx.outb
        for command, data, base, cascade in ((0x20, 0x21, MASTER_VECTOR_BASE, 0x04),
                                             (0xA0, 0xA1, SLAVE_VECTOR_BASE, 0x02)):
            outb(command, PIC_ICW1)
            outb(data, base)
            outb(data, cascade)
            outb(data, PIC_ICW4_8086)
        outb(0x21, MASTER_MASK)
        outb(0xA1, SLAVE_MASK)

    def init_pit(self) -> None:
        self.ctx.outb(0x43, PIT_CH0_MODE3)
        self.ctx.outb(0x40, 0)
        self.ctx.outb(0x40, 0)

    def init_kbc(self) -> None:
        ctx = self.ctx
        if not ctx.port_present(0x64):
            return
        if not self.kbc_wait_input_empty():
            return
        ctx.outb(0x64, KBC_WRITE_COMMAND_BYTE)
        if self.kbc_wait_input_empty():
            ctx.outb(0x60, KBC_COMMAND_BYTE)

    def kbc_wait_input_empty(self) -> bool:
        """A bounded poll: a host-call BIOS cannot let time pass, and our 8042
        consumes bytes at once, so a controller that stays busy is broken."""
        for _ in range(64):
            if not self.ctx.inb(0x64) & KBC_STATUS_INPUT_FULL:
                return True
        return False

    def init_serial_parallel(self) -> None:
        ctx = self.ctx
        index = 0
        for base in COM_BASES:
            if self.uart_present(base):
                # leave OUT2 set, as a guest finds the UART under QEMU (its reset MCR
                # is 08h): kernels that enable THRE/RX interrupts for their console
                # without writing MCR (Fiwix before the first open) get IRQ 3/4
                ctx.outb(base + 4, 0x08)
                ctx.set_bda16(c.BDA_COM_PORTS + 2 * index, base)
                ctx.set_bda8(c.BDA_COM_TIMEOUT + index, 1)
                index += 1
        index = 0
        for base in LPT_BASES:
            if self.lpt_present(base):
                ctx.set_bda16(c.BDA_LPT_PORTS + 2 * index, base)
                ctx.set_bda8(c.BDA_LPT_TIMEOUT + index, 20)
                index += 1
        ctx.set_bda16(c.BDA_EQUIPMENT, self.equipment_word())

    def uart_present(self, base: int) -> bool:
        """The scratch register (base+7) holds what was written to it."""
        ctx = self.ctx
        for pattern in (0x55, 0xAA):
            ctx.outb(base + 7, pattern)
            if ctx.inb(base + 7) != pattern:
                return False
        return True

    def lpt_present(self, base: int) -> bool:
        """The data latch holds what was written to it, once the direction bit
        (control bit 5) is cleared (SeaBIOS `detect_parport`)."""
        ctx = self.ctx
        ctx.outb(base + 2, ctx.inb(base + 2) & ~0x20)
        for pattern in (0x55, 0xAA):
            ctx.outb(base, pattern)
            if ctx.inb(base) != pattern:
                return False
        return True

    def init_cmos(self) -> None:
        """Store the memory sizes, drive types and equipment byte, and the checksum
        of 10h-2Dh, as an AT BIOS setup does."""
        ctx = self.ctx
        if not ctx.port_present(CMOS_DATA):
            return
        ram = self.bios.bus.ram_size
        extended_kb = min(max(ram - 0x100000, 0) // 1024, 0xFFFF)
        above_16m = min(max(ram - 0x1000000, 0) // 0x10000, 0xFFFF)
        disk = self.bios.disk
        fields = {
            0x10: (disk.floppy_cmos_type("fda") << 4) | disk.floppy_cmos_type("fdb"),
            0x12: (0xF0 if "hda" in disk.media() else 0) | (0x0F if "hdb" in disk.media() else 0),
            0x14: ctx.bda16(c.BDA_EQUIPMENT) & 0xC3,    # display bits 00: EGA/VGA
            0x15: 640 & 0xFF, 0x16: 640 >> 8,
            0x17: extended_kb & 0xFF, 0x18: extended_kb >> 8,
            0x19: 47 if "hda" in disk.media() else 0,
            0x1A: 47 if "hdb" in disk.media() else 0,
            0x30: extended_kb & 0xFF, 0x31: extended_kb >> 8,
            0x34: above_16m & 0xFF, 0x35: above_16m >> 8,
        }
        for index, value in fields.items():
            self.cmos_write(index, value)
        checksum = sum(self.cmos_read(i) for i in range(0x10, 0x2E)) & 0xFFFF
        self.cmos_write(0x2E, checksum >> 8)
        self.cmos_write(0x2F, checksum & 0xFF)

    def cmos_read(self, index: int) -> int:
        self.ctx.outb(CMOS_INDEX, index | CMOS_NMI_OFF)
        return self.ctx.inb(CMOS_DATA)

    def cmos_write(self, index: int, value: int) -> None:
        self.ctx.outb(CMOS_INDEX, index | CMOS_NMI_OFF)
        self.ctx.outb(CMOS_DATA, value)

    # ------------------------------------------------------------ screen
    def banner(self) -> None:
        ram = self.bios.bus.ram_size
        extended_kb = max(ram - 0x100000, 0) // 1024
        video = self.bios.video
        video.print_text("pcmachine HLE BIOS\r\n")
        video.print_text(f"Memory: {BASE_MEMORY_KB + EBDA_SIZE_KB}K base, {extended_kb}K extended\r\n\r\n")
