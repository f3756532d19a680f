"""The high-level-emulated PC BIOS: service routines in Python behind a small ROM.

See docs/bios.md.  `BIOS` builds the ROM image at F000:0000 (`rom.py`), registers a
CPU host call for each entry point, and serves POST and the software interrupts
through the service groups in this package: `post.py`, `video.py` (int 10h),
`disk.py` (int 13h), `system.py` (int 11h, 12h, 14h, 15h, 17h), `keyboard.py`
(int 09h, 16h), `timer.py` (int 08h, 1Ch, 1Ah, 70h), `pcibios.py` (int 1Ah AH=B1h),
`boot.py` (int 18h, 19h).
"""

import dataclasses
import functools
from typing import Any, Callable, Dict, List

from pcmachine.component import Component, Option, dict_to_state, state_to_dict
from pcmachine.hookspecs import hookimpl

from .apm import ApmServices
from .boot import BootServices
from .common import BiosContext, registers
from .disk import DiskServices
from .keyboard import KeyboardServices
from .acpitables import build as build_acpi_tables
from .mouse import MouseServices
from .mptable import build as build_mp_tables
from .smbios import build as build_smbios_tables
from .pcibios import PCIBiosServices
from .pirtable import build as build_pir_table

from .post import PowerOnSelfTest
from .rom import (CLI, HLT, IRET, OFFSET_DUMMY_IRET, ROM_BASE, ROM_HIGH_ALIAS, ROM_SEGMENT, STI,
                  RomBuilder)
from .system import SystemServices
from .timer import TimerServices
from .video import VideoServices

BOOT_DEVICES = ("floppy", "hdd", "cdrom")
#: ROM bytes kept for the tables built from the machine at configure time (MP)
TABLE_AREA_SIZE = 0x1000
IDLE_POLLS = 3          # polls alike in a row before virtual time skips ahead
IDLE_POLL_GAP = 2000    # at most this many instructions between polls "in a row"
IDLE_STACK_BYTES = 128  # the stack from the poll's return frame up that must be alike
POLL_REGISTERS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "cs", "ds", "es", "ss", "fs", "gs")

__all__ = ["BIOS"]


@dataclasses.dataclass
class BiosState:
    """BIOS state that is not in guest memory (the BDA and EBDA are in RAM)."""

    wait_deadline_ns: int = 0          # int 15h/86h: end of the current wait
    boot_failure_shown: bool = False   # int 19h: "No bootable device" is on screen
    speaker_off_ns: int = 0            # teletype bell: when the beep ends (0: silent)
    #: El Torito: the boot image's LBA, load segment, sector count and media type
    #: (0 no emulation, 1-3 the 1.2M, 1.44M, 2.88M floppy drive 00h emulates)
    cd_boot: List[int] = dataclasses.field(default_factory=list)
    idle_polls: int = 0                # empty key polls alike in a row (see `polled`)
    last_poll_icount: int = 0          # instruction count of the last such poll
    last_poll_state: List[int] = dataclasses.field(default_factory=list)  # its `poll_state`
    apm_connected: bool = False        # int 15h/53h: the real-mode APM interface is connected


def poll_state(cpu: Any) -> List[int]:
    """What tells one turn of a polling loop from the next: the registers and
    the first IDLE_STACK_BYTES of the stack (the interrupt's return frame, then
    the caller's frames), as far as SP's page goes (the frame was just pushed
    there, so the page is mapped)."""
    sp = cpu.get_reg("sp")
    linear = (cpu.get_reg("ss") << 4) + sp       # real or virtual-8086 mode
    count = min(IDLE_STACK_BYTES, 0x1000 - (linear & 0xFFF), 0x10000 - sp) // 4
    return [cpu.get_reg(name) for name in POLL_REGISTERS] + \
        [cpu.read_mem("ss", sp + 4 * i, 4) for i in range(count)]


class BIOS(Component):
    """A PC/AT-compatible BIOS whose services are Python host calls."""

    OPTIONS = {
        "boot": Option("list", ["floppy", "hdd"], "boot order (floppy, hdd, cdrom)",
                       choices=BOOT_DEVICES),
        "banner": Option("bool", True, "print the banner and memory size at POST"),
        "kernel": Option("path", None, "boot this Linux bzImage or multiboot kernel instead of a "
                         "boot sector (--kernel)"),
        "initrd": Option("path", None, "the kernel's initial ramdisk (Linux) or first module "
                         "(multiboot) (--initrd)"),
        "initrd_name": Option("str", "", "the multiboot module's string: the --initrd path as "
                              "given on the command line, as QEMU passes it (empty: bios.initrd)"),
        "append": Option("str", "", "the kernel command line (--append)"),
        "smbios_manufacturer": Option("str", "pcmachine", "the system and board manufacturer in the "
                                      "SMBIOS (DMI) tables"),
        "smbios_product": Option("str", "Standard PC", "the system and board product name in the "
                                 "SMBIOS (DMI) tables"),
        "idle_skip": Option("bool", True, "while the guest polls for a key in a tight loop "
                            "(int 16h AH=01h/11h), let virtual time pass to the next timer "
                            "event as HLT does"),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        self.context = BiosContext(machine)
        self.state = BiosState()
        self.video = VideoServices(self)
        self.disk = DiskServices(self)
        self.keyboard = KeyboardServices(self)
        self.timer = TimerServices(self)
        self.pci = PCIBiosServices(self)
        self.system = SystemServices(self)
        self.mouse = MouseServices(self)
        self.apm = ApmServices(self)
        self.boot = BootServices(self)
        self.post = PowerOnSelfTest(self)
        self.vectors: Dict[int, int] = {}
        self.rom = self._build_rom()
        self.bus.map_rom(ROM_BASE, self.rom.bytes(), name)
        self.bus.map_rom(ROM_HIGH_ALIAS, self.rom.bytes(), name + "-alias")
        self._hostcalls_registered = False

    # ------------------------------------------------------------ ROM
    def _build_rom(self) -> RomBuilder:
        rom = RomBuilder()
        rom.place(OFFSET_DUMMY_IRET, IRET, "iret")
        for group in (self.post, self.video, self.disk, self.keyboard, self.timer,
                      self.system, self.mouse, self.boot):
            self.vectors.update(group.install(rom))
        rom.emit(bytes(TABLE_AREA_SIZE + 15), "tables")
        rom.checksum_fix()
        return rom

    def wait_loop(self, rom: RomBuilder, resume: Callable[[Any], None], label: str) -> int:
        """Emit `STI; HLT; CLI; <resume host call> JMP back`: a service that must
        wait sends the CPU here; each interrupt that ends the HLT lets `resume`
        look again.  `resume` finishes with `self.finish(cpu)` (to the IRET) or
        leaves CS:IP unchanged to keep waiting.  Returns the loop's offset."""
        start = rom.emit(STI + HLT + CLI, label)
        resume_at = rom.cursor
        rom.hostcall(resume, bytes((0xEB, (start - (resume_at + 2)) & 0xFF)))
        return start

    def finish(self, cpu: Any) -> None:
        """Leave a wait loop through the ROM's plain IRET."""
        self.jump_rom(cpu, OFFSET_DUMMY_IRET)

    def jump_rom(self, cpu: Any, offset: int) -> None:
        """Continue at F000:offset (CS too: a guest may reach the ROM through an
        alias segment)."""
        cpu.set_reg("cs", ROM_SEGMENT)
        cpu.set_reg("ip", offset)

    @property
    def label(self) -> Dict[str, int]:
        return self.rom.labels

    def polled(self, cpu: Any) -> None:
        """A key poll found no key.  When a few polls in a row find the guest in
        the same state (as many instructions since the poll before, at most
        IDLE_POLL_GAP, and the same registers and stack) the guest is waiting
        for the timer or a key: virtual time goes to the next event instead of
        millions of instructions spinning (`Machine.idle_poll`).  The polls DOS
        makes for Ctrl+C before each character it prints and in the calls it
        serves are not a wait: the string pointer or the caller's frame differs
        from one to the next.  (Counting those as a wait cost a timer tick per
        character: FreeDOS spent 29 virtual seconds from its last CONFIG.SYS
        question to its prompt, 0.1 s without any skip.)"""
        if not self.options["idle_skip"]:
            return
        state = self.state
        icount = self.machine.clock.icount
        gap = icount - state.last_poll_icount
        now = [gap] + poll_state(cpu)
        if gap <= IDLE_POLL_GAP and now == state.last_poll_state:
            state.idle_polls += 1
        else:
            state.idle_polls = 1
        state.last_poll_icount = icount
        state.last_poll_state = now
        if state.idle_polls >= IDLE_POLLS:
            self.machine.idle_poll()

    # ------------------------------------------------------------ hooks
    def call_hook(self, cpu: Any, vector: int, function: int) -> None:
        """Fire `bios_call` (only when some plugin listens)."""
        hooks = self.machine.hooks
        if hooks.bios_call:
            hooks.call.bios_call(machine=self.machine, vector=vector, function=function,
                                 registers=registers(cpu))

    @hookimpl
    def machine_configure(self, machine: Any) -> None:
        self._register_hostcalls()
        self.boot.check_kernel()
        self._install_tables()

    def _install_tables(self) -> None:
        """Put the MP, ACPI, $PIR and SMBIOS tables, which describe the assembled
        machine, into the ROM's table area (each 16-byte aligned, as the MP floating
        pointer, the RSDP, $PIR and the SMBIOS entry point must be)."""
        start = offset = (self.label["tables"] + 15) & ~15
        image = self.rom.image
        smbios = functools.partial(build_smbios_tables, manufacturer=self.options["smbios_manufacturer"],
                                   product=self.options["smbios_product"])
        for build in (build_mp_tables, build_acpi_tables, build_pir_table, smbios):
            data = build(self.machine, ROM_BASE + offset)
            if offset + len(data) > start + TABLE_AREA_SIZE:
                raise ValueError(f"the MP, ACPI, $PIR and SMBIOS tables need {offset + len(data) - start} bytes, "
                                 f"the ROM keeps {TABLE_AREA_SIZE}")
            image[offset:offset + len(data)] = data
            offset = (offset + len(data) + 15) & ~15
        if offset == start:
            return
        image[-1] = 0
        image[-1] = (-sum(image)) & 0xFF
        claimant = self.bus.claimant
        try:
            for base, name in ((ROM_BASE, self.name), (ROM_HIGH_ALIAS, self.name + "-alias")):
                # the pages' recorded owner (RAM re-maps ROMs it finds, in its name)
                self.bus.claimant = self.bus.region_owner.get(base >> 12, self.name)
                self.bus.map_rom(base, self.rom.bytes(), name)
        finally:
            self.bus.claimant = claimant

    def _register_hostcalls(self) -> None:
        cpu = self.machine.cpu
        if cpu is None or self._hostcalls_registered:
            return
        for offset, function in self.rom.hostcalls:
            cpu.register_hostcall(ROM_BASE + offset, function)
        self._hostcalls_registered = True

    # ------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """The CPU starts at F000:FFF0, which jumps to POST; nothing to do until then
        except forget the waits and the bell of the previous run."""
        self.state = BiosState()
        self.video.restore_events()

    def snapshot(self) -> Dict[str, Any]:
        return state_to_dict(self.state)

    def restore(self, state: Dict[str, Any]) -> None:
        self.state = dict_to_state(BiosState, state)
        self.video.restore_events()

    def boot_order(self) -> List[str]:
        return list(self.options["boot"])

