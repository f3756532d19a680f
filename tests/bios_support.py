"""Support for the BIOS tests: machines to boot guests on, a port-0xE9 capture, and
a stand-in CPU built on Unicorn for running the guests before our own CPU exists.

`UnicornCPU` implements the CPU contract of docs/internals.md that the BIOS uses
(host calls, registers, flags, memory, `run()`, HLT, INTR) on top of Unicorn's real
x86 emulator, so the guests and the BIOS are checked against an independent CPU.
Unicorn leaves interrupts to its user: `INT n`, hardware interrupts and IRET-able
frames are built here exactly as a real-mode 8086 does.  Real mode only.
"""

import ctypes
import os
import subprocess
from typing import Any, Callable, Dict, List, Optional

import pytest

from pcmachine import Machine, hookimpl
from pcmachine.component import Component, Option

GUESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "bios")

try:
    import unicorn
    from unicorn import x86_const as ux
except ImportError:  # pragma: no cover - unicorn is a test dependency
    unicorn = None

FLAG_BITS = {"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "tf": 8, "if": 9, "df": 10, "of": 11}


def _register_table() -> Dict[str, int]:
    names = ("eax ebx ecx edx esi edi ebp esp eip eflags ax bx cx dx si di bp sp ip flags "
             "al bl cl dl ah bh ch dh cs ds es ss fs gs cr0")
    return {name: getattr(ux, "UC_X86_REG_" + name.upper()) for name in names.split()}


class UnicornCPU(Component):
    """A real-mode x86 CPU for tests, on Unicorn (see the module docstring)."""

    OPTIONS = {"model": Option("str", "80486", "ignored: Unicorn emulates its own CPU")}

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        machine.cpu = self
        self.hostcalls: Dict[int, Callable[[Any], None]] = {}
        self.regs = _register_table()
        self.halted = False
        self.stop_requested = False
        self.intr = False
        self.has_fpu = True
        self.uc: Optional[Any] = None
        self._dirty_pages: List[int] = []
        self._running = False
        self.bus.intr_listener = self.set_intr

    # ------------------------------------------------------------ set-up
    def _map_memory(self) -> None:
        memory = self.bus.memory
        self._buffer = (ctypes.c_char * len(memory)).from_buffer(memory)
        base = ctypes.addressof(self._buffer)
        uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_16)
        uc.mem_map_ptr(0, 0xA0000, unicorn.UC_PROT_ALL, base)
        uc.mmio_map(0xA0000, 0x20000, self._mmio_read, None, self._mmio_write, None)
        uc.mem_map_ptr(0xC0000, len(memory) - 0xC0000, unicorn.UC_PROT_ALL, base + 0xC0000)
        uc.hook_add(unicorn.UC_HOOK_CODE, self._on_code)
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_interrupt)
        uc.hook_add(unicorn.UC_HOOK_INSN, self._on_in, None, 1, 0, ux.UC_X86_INS_IN)
        uc.hook_add(unicorn.UC_HOOK_INSN, self._on_out, None, 1, 0, ux.UC_X86_INS_OUT)
        self.uc = uc
        # Writes by host calls (disk reads into memory) must drop Unicorn's
        # translated code for those pages, as our CPU does through the bus.
        for page in range(0x100):
            self.bus.watch_code_page(page)
        self.bus.code_write_listeners.append(lambda page, start, end: self._dirty_pages.append(page))

    def reset(self) -> None:
        if self.uc is None:
            self._map_memory()
        for name in ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp",
                     "ds", "es", "ss", "fs", "gs"):
            self.set_reg(name, 0)
        self.set_reg("eflags", 0x0002)
        self.set_reg("cs", 0xF000)
        self.set_reg("eip", 0xFFF0)
        self.halted = False

    def register_hostcall(self, physical: int, function: Callable[[Any], None]) -> None:
        self.hostcalls[physical] = function

    # ------------------------------------------------------------ registers
    def get_reg(self, name: str) -> int:
        return self.uc.reg_read(self.regs[name])

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(self.regs[name], value)

    def get_flag(self, name: str) -> bool:
        return bool(self.get_reg("eflags") >> FLAG_BITS[name] & 1)

    def set_flag(self, name: str, value: bool) -> None:
        bit = 1 << FLAG_BITS[name]
        flags = self.get_reg("eflags")
        self.set_reg("eflags", (flags | bit) if value else (flags & ~bit))

    def read_mem(self, segment: str, offset: int, size: int) -> int:
        base = self.get_reg(segment) << 4
        return int.from_bytes(self.bus.read_bytes(base + (offset & 0xFFFF), size), "little")

    def write_mem(self, segment: str, offset: int, size: int, value: int) -> None:
        base = self.get_reg(segment) << 4
        self.bus.write_bytes(base + (offset & 0xFFFF), value.to_bytes(size, "little"))

    def can_wake(self) -> bool:
        return self.get_flag("if")

    @property
    def check_irq(self) -> bool:
        """The machine contract: True while an interrupt is pending (INTR high)."""
        return self.intr

    def set_intr(self, level: bool) -> None:
        self.intr = bool(level)
        if level and self._running:
            self.uc.emu_stop()

    # ------------------------------------------------------------ execution
    def linear_ip(self) -> int:
        return (self.get_reg("cs") << 4) + self.get_reg("ip")

    def push16(self, value: int) -> None:
        sp = (self.get_reg("sp") - 2) & 0xFFFF
        self.set_reg("sp", sp)
        self.write_mem("ss", sp, 2, value & 0xFFFF)

    def enter_interrupt(self, vector: int) -> None:
        """Real-mode interrupt: push FLAGS, CS, IP; clear IF and TF; load the IVT entry."""
        self.push16(self.get_reg("flags"))
        self.push16(self.get_reg("cs"))
        self.push16(self.get_reg("ip"))
        self.set_flag("if", False)
        self.set_flag("tf", False)
        target = int.from_bytes(self.bus.read_bytes(vector * 4, 4), "little")
        self.set_reg("cs", target >> 16)
        self.set_reg("ip", target & 0xFFFF)

    def run(self) -> int:
        clock = self.clock
        start = clock.icount
        while clock.icount < clock.stop_icount and not self.stop_requested:
            if self.intr and self.get_flag("if"):
                self.halted = False
                self.enter_interrupt(self.bus.interrupt_acknowledge())
            if self.halted:
                break
            self._running = True
            try:
                self.uc.emu_start(self.linear_ip(), 0xFFFFFFFF)
            finally:
                self._running = False
        return clock.icount - start

    def _on_code(self, uc: Any, address: int, size: int, data: Any) -> None:
        clock = self.clock
        if clock.icount >= clock.stop_icount or self.stop_requested:
            uc.emu_stop()
            return
        function = self.hostcalls.get(address)
        if function is not None:
            function(self)
            self._flush_dirty()
            if self.linear_ip() != address:
                clock.icount += 1
                return
        if self.bus.memory[address] == 0xF4:          # HLT
            self.set_reg("ip", (self.get_reg("ip") + 1) & 0xFFFF)
            self.halted = True
            clock.icount += 1
            uc.emu_stop()
            return
        clock.icount += 1

    def _flush_dirty(self) -> None:
        while self._dirty_pages:
            page = self._dirty_pages.pop()
            self.uc.ctl_remove_cache(page << 12, (page + 1) << 12)

    def _on_interrupt(self, uc: Any, vector: int, data: Any) -> None:
        """Unicorn hands every INT n (IP already past it) and exception to us."""
        self.enter_interrupt(vector)

    def _on_in(self, uc: Any, port: int, size: int, data: Any) -> int:
        return self.bus.io_read(port, size)

    def _on_out(self, uc: Any, port: int, size: int, value: int, data: Any) -> None:
        self.bus.io_write(port, size, value)
        self._flush_dirty()

    def _mmio_read(self, uc: Any, offset: int, size: int, data: Any) -> int:
        return self.bus.read(0xA0000 + offset, size)

    def _mmio_write(self, uc: Any, offset: int, size: int, value: int, data: Any) -> None:
        self.bus.write(0xA0000 + offset, size, value)


class PortE9Capture:
    """Collects what the guest writes to port 0xE9 (through the io_write hook, so
    it works whether or not a debugcon device exists)."""

    def __init__(self) -> None:
        self.data = bytearray()

    @hookimpl
    def io_write(self, machine: Any, port: int, size: int, value: int) -> None:
        if port == 0xE9:
            self.data.append(value & 0xFF)

    @property
    def text(self) -> str:
        return self.data.decode("latin-1")


class BiosCallLog:
    """Records (vector, function) of every `bios_call`."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []

    @hookimpl
    def bios_call(self, machine: Any, vector: int, function: int, registers: Dict[str, int]) -> None:
        self.calls.append((vector, function))


def build_guest(name: str) -> bytes:
    """The nasm-built binary of tests/guests/bios/NAME.asm (built if missing)."""
    binary = os.path.join(GUESTS, name + ".bin")
    if not os.path.exists(binary):
        subprocess.run(["nasm", "-f", "bin", "-o", binary, os.path.join(GUESTS, name + ".asm")],
                       check=True)
    with open(binary, "rb") as handle:
        return handle.read()


#: the CPUs the guests run on: ours, and Unicorn as an independent reference
CPU_KINDS = ("cpu", "unicorn")


@pytest.fixture(params=CPU_KINDS)
def cpu_kind(request: Any) -> str:
    if request.param == "unicorn" and unicorn is None:
        from requirements import require_unicorn
        require_unicorn()
    return request.param


def make_machine(media: Optional[Dict[str, str]] = None, boot: Optional[List[str]] = None,
                 ram: str = "16M", cpu: str = "cpu", overrides: Optional[List[str]] = None) -> Machine:
    """The bundled AT profile (pc.yaml) with the given images (`{"fda": path}`),
    a fixed RTC start time, and our CPU or the Unicorn stand-in."""
    settings = ["cmos.start=2026-01-01T00:00:00", f"ram.size={ram}"]
    if boot is not None:
        settings.append("bios.boot=[" + ",".join(boot) + "]")
    if cpu == "unicorn":
        settings.append("cpu.plugin=bios_support:UnicornCPU")
    return Machine.from_profile("pc.yaml", settings + list(overrides or []), dict(media or {}))


def floppy_image(folder: Any, binary: bytes, name: str = "guest.img") -> str:
    path = os.path.join(str(folder), name)
    with open(path, "wb") as handle:
        handle.write(binary.ljust(1474560, b"\0"))
    return path


def run_guest(machine: Machine, max_instructions: int = 5_000_000) -> PortE9Capture:
    """Run until the guest halts with interrupts disabled; return its port-0xE9 text."""
    capture = PortE9Capture()
    machine.add_plugin(capture)
    machine.run_headless(max_instructions)
    return capture


def screen_text(machine: Machine, row: int) -> str:
    """One row of the 80x25 text screen at 0xB8000, read through the bus."""
    cells = machine.bus.read_bytes(0xB8000 + row * 160, 160)
    return bytes(cells[0::2]).decode("cp437")
