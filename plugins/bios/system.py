"""Int 11h, 12h, 14h, 15h and 17h: equipment, memory size, serial and parallel
ports, and the AT system services.

Int 15h: E820h memory map (SMAP), E801h, 88h, 87h block move, C0h configuration
table, C1h EBDA segment, 86h wait (on the virtual clock, woken by the RTC periodic
interrupt when an RTC exists and by the timer tick otherwise), 2400h-2403h A20
gate (port 92h when present, else the 8042 output port), 4Fh keyboard intercept,
90h/91h device busy/post, C2h PS/2 mouse (`mouse.py`), 53h APM (`apm.py`).  Unsupported functions
return AH=86h, CF=1.
"""

from typing import Any, Dict, List, Tuple

from . import common as c
from .post import BASE_MEMORY_KB, EBDA_SEGMENT
from .rom import (MODEL_AT, OFFSET_CONFIG_TABLE, ROM_HIGH_ALIAS, ROM_SEGMENT, SUBMODEL_AT, IRET,
                  RomBuilder)

SMAP = 0x534D4150
E820_USABLE, E820_RESERVED = 1, 2
UNSUPPORTED = 0x86
WAIT_BUSY = 0x83
WAIT_ACTIVE = 0x01
NS_PER_US = 1000
RTC_B, B_PIE = 0x0B, 0x40
# Configuration table: length, model, submodel, revision, feature bytes 1-5
# (feature 1: EBDA allocated, int 15h/4Fh called by int 09h, RTC present,
#  second PIC present; feature 2: int 16h/09h supported).
CONFIG_TABLE = bytes((0x08, 0x00, MODEL_AT, SUBMODEL_AT, 0x00, 0x74, 0x40, 0x00, 0x00, 0x00))
PORT92, PORT92_A20 = 0x92, 0x02
KBC_DATA, KBC_COMMAND = 0x60, 0x64
KBC_WRITE_OUTPUT = 0xD1
KBC_OUTPUT_A20_ON, KBC_OUTPUT_A20_OFF = 0xDF, 0xDD


LPT_STATUS, LPT_CONTROL = 1, 2
LPT_ACK_N = 0x40
LPT_STROBE, LPT_INIT_N = 0x01, 0x04
#: status reads per unit of the BDA's printer time-out (our printer answers in two)
LPT_POLLS_PER_TIMEOUT = 16
PRINTER_TIMEOUT = 0x01
#: the status bits IBM's BIOS inverts: ACK# and ERROR# become "acknowledge" and "I/O error"
PRINTER_INVERTED = 0x48
#: bits 0-2 of the status port are not printer lines
PRINTER_LINES = 0xF8


def printer_status(port_status: int) -> int:
    """Int 17h's AH from the status port (IBM: AND F8h, XOR 48h)."""
    return (port_status & PRINTER_LINES) ^ PRINTER_INVERTED


class SystemServices:
    """int 11h, 12h, 14h, 15h, 17h."""

    def __init__(self, bios: Any) -> None:
        self.bios = bios
        self.ctx: c.BiosContext = bios.context

    def install(self, rom: RomBuilder) -> Dict[int, int]:
        rom.place(OFFSET_CONFIG_TABLE, CONFIG_TABLE, "config_table")
        vectors = {
            0x11: rom.hostcall(self.int11, IRET, "int11"),
            0x12: rom.hostcall(self.int12, IRET, "int12"),
            0x14: rom.hostcall(self.int14, IRET, "int14"),
            0x15: rom.hostcall(self.int15, IRET, "int15"),
            0x17: rom.hostcall(self.int17, IRET, "int17"),
        }
        self.wait_offset = self.bios.wait_loop(rom, self.wait_resume, "int15_wait")
        return vectors

    # ------------------------------------------------------------ 11h, 12h
    def int11(self, cpu: Any) -> None:
        self.bios.call_hook(cpu, 0x11, cpu.get_reg("ah"))
        cpu.set_reg("ax", self.ctx.bda16(c.BDA_EQUIPMENT))

    def int12(self, cpu: Any) -> None:
        self.bios.call_hook(cpu, 0x12, cpu.get_reg("ah"))
        cpu.set_reg("ax", self.ctx.bda16(c.BDA_MEMORY_KB))

    # ------------------------------------------------------------ 14h serial
    def int14(self, cpu: Any) -> None:
        """AH=00h init, 01h send, 02h receive, 03h status; no waiting: a port that
        is not ready reports a timeout (AH bit 7) at once."""
        function = cpu.get_reg("ah")
        self.bios.call_hook(cpu, 0x14, function)
        index = cpu.get_reg("dx")
        base = self.ctx.bda16(c.BDA_COM_PORTS + 2 * index) if index < 4 else 0
        if not base:
            cpu.set_reg("ah", 0x80)
            return
        ctx = self.ctx
        if function == 0x00:
            al = cpu.get_reg("al")
            divisor = (0x417, 0x300, 0x180, 0xC0, 0x60, 0x30, 0x18, 0x0C)[al >> 5]
            ctx.outb(base + 3, 0x80)
            ctx.outb(base, divisor & 0xFF)
            ctx.outb(base + 1, divisor >> 8)
            ctx.outb(base + 3, al & 0x1F)
            ctx.outb(base + 1, 0x00)
        elif function == 0x01:
            if ctx.inb(base + 5) & 0x20:
                ctx.outb(base, cpu.get_reg("al"))
            else:
                cpu.set_reg("ah", ctx.inb(base + 5) | 0x80)
                return
        elif function == 0x02:
            if ctx.inb(base + 5) & 0x01:
                cpu.set_reg("al", ctx.inb(base))
                cpu.set_reg("ah", ctx.inb(base + 5) & 0x1E)
            else:
                cpu.set_reg("ah", ctx.inb(base + 5) | 0x80)
            return
        if function in (0x00, 0x01, 0x03):
            cpu.set_reg("ah", ctx.inb(base + 5))
            cpu.set_reg("al", ctx.inb(base + 6))

    # ------------------------------------------------------------ 17h printer
    def int17(self, cpu: Any) -> None:
        """AH=00h print AL, 01h initialise, 02h status, on printer DX (0-2).  AH
        returns the status port as IBM's BIOS gives it: bits 0-2 masked, ACK (6)
        and ERROR (3) inverted, so 1 means acknowledge and I/O error; bit 0 set on a
        time-out.  Calls follow SeaBIOS: the control bits are changed one at a time,
        CF=0 on return; a DX without a port in the BDA, or another AH, returns CF=1
        with AH unchanged."""
        function = cpu.get_reg("ah")
        self.bios.call_hook(cpu, 0x17, function)
        index = cpu.get_reg("dx")
        base = self.ctx.bda16(c.BDA_LPT_PORTS + 2 * index) if index < 3 else 0
        if not base or function > 0x02:
            c.set_return_flags(cpu, cf=True)
            return
        ctx = self.ctx
        control = ctx.inb(base + LPT_CONTROL)
        if function == 0x00:
            ctx.outb(base, cpu.get_reg("al"))
            ctx.outb(base + LPT_CONTROL, control | LPT_STROBE)
            ctx.outb(base + LPT_CONTROL, control & ~LPT_STROBE)
            status = self.printer_acknowledge(base, ctx.bda8(c.BDA_LPT_TIMEOUT + index))
        elif function == 0x01:
            ctx.outb(base + LPT_CONTROL, control & ~LPT_INIT_N)
            ctx.outb(base + LPT_CONTROL, control | LPT_INIT_N)
            status = printer_status(ctx.inb(base + LPT_STATUS))
        else:
            status = printer_status(ctx.inb(base + LPT_STATUS))
        cpu.set_reg("ah", status)
        c.set_return_flags(cpu, cf=False)

    def printer_acknowledge(self, base: int, timeout: int) -> int:
        """Poll the status port until the printer acknowledges the strobed byte
        (ACK# low, as SeaBIOS waits); a host-call BIOS cannot let virtual time pass,
        so the BDA time-out byte (0 counts as 256, as in IBM's loop) bounds the
        number of reads instead of the ticks.  The BIOS status, with bit 0 set when
        the acknowledge never came."""
        for _ in range((timeout or 256) * LPT_POLLS_PER_TIMEOUT):
            value = self.ctx.inb(base + LPT_STATUS)
            if not value & LPT_ACK_N:
                return printer_status(value)
        return printer_status(value) | PRINTER_TIMEOUT

    # ------------------------------------------------------------ 15h
    def int15(self, cpu: Any) -> None:
        function = cpu.get_reg("ah")
        ax = cpu.get_reg("ax")
        self.bios.call_hook(cpu, 0x15, ax if function in (0xE8, 0x24, 0xC2, 0x53) else function)
        if function == 0x4F:
            c.set_return_flags(cpu, cf=True)
        elif function in (0x90, 0x91):
            c.succeed(cpu)
        elif function == 0x88:
            ram_kb = max(self.bios.bus.ram_size - 0x100000, 0) // 1024
            cpu.set_reg("ax", min(ram_kb, 0xFFFF))
            c.set_return_flags(cpu, cf=False)
        elif function == 0xC0:
            cpu.set_reg("es", ROM_SEGMENT)
            cpu.set_reg("bx", OFFSET_CONFIG_TABLE)
            c.succeed(cpu)
        elif function == 0xC1:
            cpu.set_reg("es", self.ctx.bda16(c.BDA_EBDA_SEGMENT))
            c.set_return_flags(cpu, cf=False)
        elif function == 0x86:
            self.wait(cpu)
        elif function == 0x87:
            self.block_move(cpu)
        elif ax == 0xE801:
            self.e801(cpu)
        elif ax == 0xE820:
            self.e820(cpu)
        elif function == 0x24:
            self.a20(cpu, ax & 0xFF)
        elif function == 0xC2:
            self.bios.mouse.int15(cpu)
        elif function == 0x53:
            self.bios.apm.int15(cpu)
        else:
            c.fail(cpu, UNSUPPORTED)

    # ------------------------------------------------------------ memory
    def memory_map(self) -> List[Tuple[int, int, int]]:
        """(base, length, type): conventional memory, the EBDA, the ROM area, RAM
        above 1 MiB, the BIOS alias below 4 GiB."""
        ram = self.bios.bus.ram_size
        entries = [(0, BASE_MEMORY_KB * 1024, E820_USABLE),
                   (EBDA_SEGMENT << 4, 0xA0000 - (EBDA_SEGMENT << 4), E820_RESERVED),
                   (0xE0000, 0x20000, E820_RESERVED)]
        if ram > 0x100000:
            entries.append((0x100000, ram - 0x100000, E820_USABLE))
        entries.append((ROM_HIGH_ALIAS, 0x10000, E820_RESERVED))
        return entries

    def e820(self, cpu: Any) -> None:
        """EAX=E820h, EDX='SMAP', EBX=continuation, ECX=buffer size, ES:DI=buffer:
        one entry per call; EBX=0 after the last; 24-byte entries carry the ACPI 3.0
        extended attributes (bit 0: valid)."""
        entries = self.memory_map()
        index = cpu.get_reg("ebx")
        size = cpu.get_reg("ecx")
        if cpu.get_reg("edx") != SMAP or size < 20 or index >= len(entries):
            c.fail(cpu, UNSUPPORTED)
            return
        base, length, kind = entries[index]
        record = base.to_bytes(8, "little") + length.to_bytes(8, "little") + kind.to_bytes(4, "little")
        if size >= 24:
            record += (1).to_bytes(4, "little")
        self.ctx.bus.write_bytes(c.linear(cpu.get_reg("es"), cpu.get_reg("di")), record)
        cpu.set_reg("eax", SMAP)
        cpu.set_reg("ecx", len(record))
        cpu.set_reg("ebx", index + 1 if index + 1 < len(entries) else 0)
        c.set_return_flags(cpu, cf=False)

    def e801(self, cpu: Any) -> None:
        """AX=CX: KiB between 1 MiB and 16 MiB; BX=DX: 64 KiB blocks above 16 MiB."""
        ram = self.bios.bus.ram_size
        low_kb = min(max(ram - 0x100000, 0), 0xF00000) // 1024
        high_blocks = min(max(ram - 0x1000000, 0) // 0x10000, 0xFFFF)
        for name, value in (("ax", low_kb), ("cx", low_kb), ("bx", high_blocks), ("dx", high_blocks)):
            cpu.set_reg(name, value)
        c.set_return_flags(cpu, cf=False)

    def block_move(self, cpu: Any) -> None:
        """AH=87h: copy CX words between the descriptors at ES:SI+10h (source) and
        +18h (target) of a GDT, as the BIOS does by entering protected mode."""
        ctx = self.ctx
        gdt = c.linear(cpu.get_reg("es"), cpu.get_reg("si"))

        def descriptor_base(offset: int) -> int:
            return ctx.read16(gdt + offset + 2) | (ctx.read8(gdt + offset + 4) << 16) \
                | (ctx.read8(gdt + offset + 7) << 24)

        length = cpu.get_reg("cx") * 2
        source, target = descriptor_base(0x10), descriptor_base(0x18)
        ctx.bus.write_bytes(target, ctx.bus.read_bytes(source, length))
        c.succeed(cpu)

    # ------------------------------------------------------------ A20
    def a20(self, cpu: Any, function: int) -> None:
        if function in (0x00, 0x01):
            self.set_a20(function == 0x01)
            c.succeed(cpu)
        elif function == 0x02:
            cpu.set_reg("al", 1 if self.bios.bus.a20_enabled else 0)
            c.succeed(cpu)
        elif function == 0x03:
            cpu.set_reg("bx", 0x0003)     # 8042 and port 92h
            c.succeed(cpu)
        else:
            c.fail(cpu, UNSUPPORTED)

    def set_a20(self, enabled: bool) -> None:
        """Enable through port 92h when it exists, else the 8042; disable through
        both, since the gate stays open while either source holds it open."""
        ctx = self.ctx
        fast = ctx.port_present(PORT92)
        if fast:
            value = ctx.inb(PORT92) & ~0x01          # never pulse the reset bit
            ctx.outb(PORT92, (value | PORT92_A20) if enabled else (value & ~PORT92_A20))
        if (not enabled or not fast) and ctx.port_present(KBC_COMMAND) \
                and self.bios.post.kbc_wait_input_empty():
            ctx.outb(KBC_COMMAND, KBC_WRITE_OUTPUT)
            if self.bios.post.kbc_wait_input_empty():
                ctx.outb(KBC_DATA, KBC_OUTPUT_A20_ON if enabled else KBC_OUTPUT_A20_OFF)

    # ------------------------------------------------------------ 86h wait
    def wait(self, cpu: Any) -> None:
        """CX:DX microseconds.  The CPU waits in the ROM's HLT loop; the RTC
        periodic interrupt (1024 Hz) wakes it often enough for short waits."""
        ctx = self.ctx
        if ctx.bda8(c.BDA_WAIT_FLAG) & WAIT_ACTIVE:
            c.fail(cpu, WAIT_BUSY)
            return
        micros = (cpu.get_reg("cx") << 16) | cpu.get_reg("dx")
        self.bios.state.wait_deadline_ns = self.bios.clock.now() + micros * NS_PER_US
        ctx.set_bda8(c.BDA_WAIT_FLAG, WAIT_ACTIVE)
        timer = self.bios.timer
        if timer.rtc_present():
            timer.cmos_write(RTC_B, timer.cmos_read(RTC_B) | B_PIE)
            timer.unmask_irq8()
        self.bios.jump_rom(cpu, self.wait_offset)

    def wait_resume(self, cpu: Any) -> None:
        if self.bios.clock.now() < self.bios.state.wait_deadline_ns:
            return
        timer = self.bios.timer
        if timer.rtc_present():
            timer.cmos_write(RTC_B, timer.cmos_read(RTC_B) & ~B_PIE)
        self.ctx.set_bda8(c.BDA_WAIT_FLAG, 0)
        self.bios.state.wait_deadline_ns = 0
        c.succeed(cpu)
        self.bios.finish(cpu)
