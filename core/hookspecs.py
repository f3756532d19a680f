"""Every event a pcmachine plugin can hook, in one place.

A plugin is any object with methods decorated `@pcmachine.hookimpl` whose names are
hooks below; it may accept any subset of a hook's arguments.  Hooks fire only when
some plugin implements them: the bus and the CPU keep one flag per hook (see
`hookflags.py`), so an unimplemented hook costs a flag test at most.

`docs/hooks.md` documents these hooks; `tests/test_docs.py` fails when the two
disagree.
"""

from typing import Any, Dict, Optional

import pluggy

PROJECT = "pcmachine"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Machine lifecycle
# ---------------------------------------------------------------------------

@hookspec(historic=True)
def machine_configure(machine: Any) -> None:
    """The machine has built every component from its profile and wired the bus.

    Called once, before the first reset.  Historic: a plugin registered later still
    receives it.  Use it to look up other components (`machine.components[...]`),
    claim ports or map memory.

    :param machine: the `pcmachine.Machine`.
    """


@hookspec
def machine_reset(machine: Any, cause: str) -> None:
    """The machine has been reset (power-on, reset line, triple fault, restore).

    Called after every component's own `reset()`.

    :param machine: the `pcmachine.Machine`.
    :param cause: ``"power-on"``, ``"reset-line"``, ``"triple-fault"``, ``"keyboard"``
        (Ctrl+Alt+Del) or ``"restore"``.
    """


@hookspec
def machine_start(machine: Any) -> None:
    """The run loop is about to execute the first instruction of this run."""


@hookspec
def machine_stop(machine: Any, reason: str) -> None:
    """The run loop has ended.  Media are flushed after this hook.

    :param reason: ``"halted"``, ``"timeout"``, ``"instruction-limit"``,
        ``"steps-done"``, ``"interrupted"``, ``"triple-fault"``, ``"stopped"``.
    """


@hookspec
def machine_input(machine: Any, kind: str, data: Any, icount: int, time_ns: int) -> None:
    """A host-originated input took effect (key, serial byte, RTC start time, floppy swap ...).

    Fired by the machine when it applies an input from its input queue, stamped with
    the instruction count and virtual time at which it took effect.  Recording
    plugins store these; replay re-applies them at the same stamps.

    :param kind: input kind, e.g. ``"key"``, ``"serial"``, ``"rtc-start"``, ``"medium"``.
    :param data: plain data (ints, strings, lists) describing the input.
    :param icount: instructions executed when the input was applied.
    :param time_ns: virtual time in nanoseconds when the input was applied.
    """


# ---------------------------------------------------------------------------
# Bus: ports, memory-mapped I/O, IRQ lines
# ---------------------------------------------------------------------------

@hookspec
def io_read(machine: Any, port: int, size: int, value: int) -> None:
    """The CPU read an I/O port (IN, INS).

    :param port: port number 0..0xFFFF.
    :param size: access size in bytes (1, 2 or 4).
    :param value: the value the device returned (all ones for unclaimed ports).
    """


@hookspec
def io_write(machine: Any, port: int, size: int, value: int) -> None:
    """The CPU wrote an I/O port (OUT, OUTS); fires before the device sees it.

    :param port: port number 0..0xFFFF.
    :param size: access size in bytes (1, 2 or 4).
    :param value: the value written.
    """


@hookspec
def mmio_read(machine: Any, address: int, size: int, value: int) -> None:
    """A read from a memory-mapped device region (VGA memory, device registers).

    :param address: physical address.
    :param size: access size in bytes.
    :param value: the value returned.
    """


@hookspec
def mmio_write(machine: Any, address: int, size: int, value: int) -> None:
    """A write to a memory-mapped device region (for example VGA memory at 0xB8000);
    fires before the device sees it.

    :param address: physical address.
    :param size: access size in bytes.
    :param value: the value written.
    """


@hookspec
def irq_raised(machine: Any, line: int) -> None:
    """A device raised IRQ line `line` (0..15): a rising edge on the line."""


@hookspec
def irq_lowered(machine: Any, line: int) -> None:
    """A device lowered IRQ line `line` (0..15): a falling edge on the line."""


# ---------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------

@hookspec
def interrupt(machine: Any, vector: int, kind: str, cs: int, eip: int) -> None:
    """The CPU is delivering an interrupt through the IVT or IDT.

    :param vector: interrupt vector 0..255.
    :param kind: ``"hardware"`` (INTR from the PIC), ``"software"`` (INT n, INT3,
        INTO), ``"exception"`` or ``"nmi"``.
    :param cs: code segment selector of the interrupted/next instruction.
    :param eip: offset of the interrupted/next instruction (for faults, the faulting one).
    """


@hookspec
def cpu_exception(machine: Any, vector: int, error_code: Optional[int], cs: int, eip: int) -> None:
    """The CPU raised an architectural exception (#DE, #UD, #GP, #PF ...), before it
    is delivered.

    :param vector: exception vector 0..31.
    :param error_code: the error code pushed, or None for exceptions without one.
    :param cs: code segment selector of the faulting instruction.
    :param eip: offset of the faulting instruction.
    """


@hookspec
def cpu_mode_change(machine: Any, what: str, old: int, new: int) -> None:
    """An architectural mode changed.

    :param what: ``"pe"`` (CR0.PE: protected mode on/off), ``"pg"`` (CR0.PG: paging
        on/off), ``"cpl"`` (privilege level), ``"vm"`` (virtual-8086 mode on/off) or
        ``"task"`` (hardware task switch; old/new are TSS selectors).
    :param old: previous value.
    :param new: new value.
    """


@hookspec
def magic_breakpoint(machine: Any, cs: int, eip: int) -> None:
    """The CPU executed Bochs' magic breakpoint, ``xchg bx, bx`` (87 DB with a 16-bit
    operand size; a 66h prefix in 32-bit code), which OS tutorials put where they want
    the debugger to stop.  The CPU decodes it as such only while some plugin
    implements this hook; otherwise it is the no-op exchange it is on hardware.

    :param cs: code segment selector of the next instruction.
    :param eip: offset of the next instruction (the machine stops there).
    """


@hookspec
def triple_fault(machine: Any, report: str) -> None:
    """The CPU triple-faulted.  `report` is the readable text printed to the user:
    registers, the faulting instruction disassembled, the last exceptions."""


@hookspec
def instruction(machine: Any, cs: int, eip: int, linear: int, cpu: Any) -> None:
    """About to execute the instruction at cs:eip (opt-in, costly).

    Implementing this hook switches the CPU to its traced step loop for as long as
    the plugin is registered; the fast loop makes no per-instruction calls.

    :param cs: code segment selector.
    :param eip: instruction pointer.
    :param linear: linear address of the instruction.
    :param cpu: the CPU component, for reading registers.
    """


# ---------------------------------------------------------------------------
# Firmware and devices
# ---------------------------------------------------------------------------

@hookspec
def bios_call(machine: Any, vector: int, function: int, registers: Dict[str, int]) -> None:
    """The HLE BIOS is about to serve a software interrupt.

    :param vector: interrupt number (0x10, 0x13, 0x15, 0x16, 0x19, 0x1A ...).
    :param function: the function number: AH, or AX for int 15h functions E8xxh and 24xxh.
    :param registers: the guest registers on entry (``ax bx cx dx si di bp sp ds es``).
    """


@hookspec
def disk_transfer(machine: Any, drive: str, operation: str, lba: int, count: int) -> None:
    """Sectors moved between a disk image and the guest (BIOS int 13h or ATA).

    :param drive: medium name, e.g. ``"fda"`` or ``"hda"``.
    :param operation: ``"read"``, ``"write"`` or ``"verify"``.
    :param lba: first sector (logical block address).
    :param count: number of 512-byte sectors.
    """


@hookspec
def medium_change(machine: Any, drive: str, path: Optional[str]) -> None:
    """A removable medium was inserted, swapped or ejected while the machine runs.

    Called at the slice boundary where the host input took effect, after
    `machine.media` holds the new medium (or lacks the drive when it was
    ejected).  The floppy controller raises the drive's disk-change line.

    :param drive: medium name, ``"fda"`` or ``"fdb"``.
    :param path: the new image's absolute path, or None when the drive is now empty.
    """


@hookspec
def screen_change(machine: Any, screen: Any) -> None:
    """The displayed screen changed since the last time this hook fired.

    Fired at most once per run-loop slice, not per memory write.

    :param screen: the VGA component (``screen.text()``, ``screen.cells()``,
        ``screen.cursor``).
    """


@hookspec
def key_input(machine: Any, key: str, pressed: bool, scancodes: bytes) -> None:
    """The keyboard sent a key event to the controller.

    :param key: key name (``"a"``, ``"enter"``, ``"lshift"`` ...).
    :param pressed: True for make, False for break.
    :param scancodes: the scancode bytes (set 2 as the keyboard sends them).
    """


@hookspec
def serial_byte(machine: Any, port: str, direction: str, value: int) -> None:
    """A byte crossed a serial port.

    :param port: ``"com1"`` .. ``"com4"``.
    :param direction: ``"tx"`` (guest to host) or ``"rx"`` (host to guest).
    :param value: the byte.
    """


@hookspec
def debugcon_byte(machine: Any, value: int) -> None:
    """The guest wrote a byte to the debug console port (0xE9)."""


@hookspec
def parallel_byte(machine: Any, port: str, value: int) -> None:
    """The printer on a parallel port took a byte (the guest's strobe).

    :param port: the port's ``port_name``, ``"lpt1"`` on pc.yaml.
    :param value: the byte, as it went to the port's output sink.
    """
