"""QEMU's ISA debug-exit device (`-device isa-debug-exit`): a guest ends the run
with an exit status of its choosing.

Test harnesses of hobby and teaching kernels end their runs through it: the
Stanford Pintos kernel writes 31h to port 501h when it powers off (its `pintos`
script adds the device to QEMU's command line and takes status 63h as a clean
exit), and kernels tested as in "Writing an OS in Rust" write their pass or fail
code to port F4h (`iobase=0xf4,iosize=0x04`).  Followed: QEMU's
`hw/misc/debugexit.c`: the device claims `iosize` ports from `iobase` (501h and 2
by default); a write of any width to any of them ends QEMU with the status
`(value << 1) | 1` (the value at the access's width: byte, word or dword), so
a guest can never report 0; reads return 0.

Here the write stops the machine with the reason "debug-exit" and that status
(`Machine.exit_status`), which `machine run` returns as its own exit status
(the low 8 bits, as the host keeps of QEMU's `exit()` argument).  The device has
no state: a stop is a function of the guest's execution, so recordings replay it.
"""

from typing import Any, Dict

from pcmachine.component import Component, Option
from pcmachine.errors import ProfileError

DEBUG_EXIT_IOBASE = 0x501
DEBUG_EXIT_IOSIZE = 2


class DebugExit(Component):
    """`iosize` write-only ports from `iobase`: a write stops the machine."""

    OPTIONS = {
        "iobase": Option("int", DEBUG_EXIT_IOBASE, "first I/O port (QEMU's iobase)", minimum=0, maximum=0xFFFF),
        "iosize": Option("int", DEBUG_EXIT_IOSIZE, "number of ports claimed (QEMU's iosize)",
                         minimum=1, maximum=0x10000),
    }

    def __init__(self, machine: Any, name: str, options: Dict[str, Any]) -> None:
        super().__init__(machine, name, options)
        first = options["iobase"]
        last = first + options["iosize"] - 1
        if last > 0xFFFF:
            raise ProfileError("component", f"{name}.iosize", f"iobase {first:#x} + iosize "
                               f"{options['iosize']:#x} runs past port 0xFFFF")
        self.bus.register_io(first, last, self._read, self._write, name, sizes=(1, 2, 4))

    def _read(self, port: int, size: int) -> int:
        return 0

    def _write(self, port: int, size: int, value: int) -> None:
        if self.machine.stop_pending():     # QEMU is gone after the first write (REP OUTS)
            return
        self.machine.request_stop("debug-exit", exit_status=(value << 1) | 1)
