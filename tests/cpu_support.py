"""Helpers for the CPU tests: a machine with RAM and a CPU, a debug-port recorder
and a minimal interrupt controller double."""

import os
from typing import Any, Callable, List, Optional, Sequence, Tuple

from pcmachine.machine import Machine
from pcmachine.plugins.cpu import CPU
from pcmachine.plugins.ram import RAM

GUESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests")
LOAD_ADDRESS = 0x7C00
DEBUG_PORT = 0xE9


class PortRecorder:
    """Collects the bytes a guest writes to the debug port."""

    def __init__(self, machine: Machine, port: int = DEBUG_PORT) -> None:
        self.data = bytearray()
        self.icounts: List[int] = []
        self.clock = machine.clock
        machine.bus.register_io(port, port, None, self.write, "test-debug-port")

    def write(self, port: int, size: int, value: int) -> None:
        self.data.append(value & 0xFF)
        self.icounts.append(self.clock.icount)


class VectorController:
    """Answers INTA with a fixed vector and drops INTR, like a PIC with one request."""

    def __init__(self, machine: Machine, vector: int) -> None:
        self.bus = machine.bus
        self.vector = vector
        self.acknowledged = 0
        self.bus.interrupt_controller = self

    def request(self) -> None:
        self.bus.set_intr(True)

    def acknowledge(self) -> int:
        self.acknowledged += 1
        self.bus.set_intr(False)
        return self.vector


def make_machine(model: str = "80486", ram: int = 16 << 20, fpu: bool = False,
                 **cpu_options: Any) -> Machine:
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": ram})
    machine.add_component(CPU, "cpu", {"model": model, "fpu": fpu, **cpu_options})
    return machine


def load_code(machine: Machine, code: bytes, address: int = LOAD_ADDRESS) -> None:
    """Place code at 0000:address and point CS:IP at it (real mode)."""
    machine.bus.memory[address:address + len(code)] = code
    machine.cpu.set_reg("cs", 0)
    machine.cpu.set_reg("eip", address)


def load_guest(machine: Machine, name: str) -> None:
    with open(os.path.join(GUESTS, "cpu", name), "rb") as handle:
        load_code(machine, handle.read())


def run_until_stopped(machine: Machine, limit: int = 2_000_000) -> Optional[str]:
    """Run slices until the machine stops (HLT with IF=0 gives "halted")."""
    start = machine.clock.icount
    while True:
        reason = machine.run_slice(start + limit)
        if reason is not None:
            return reason
        if machine.waiting_for_host() and not machine.cpu.intr_line:
            return "waiting"


def assemble(source: str, bits: int = 16, org: int = LOAD_ADDRESS) -> bytes:
    """Assemble with nasm (tests/requirements.py: missing nasm skips, or fails
    under PCMACHINE_STRICT)."""
    import subprocess
    import tempfile
    from requirements import require_nasm
    require_nasm()
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "code.asm")
        out = os.path.join(folder, "code.bin")
        with open(src, "w") as handle:
            handle.write(f"bits {bits}\norg {org:#x}\n{source}\n")
        subprocess.run(["nasm", "-f", "bin", "-o", out, src], check=True)
        with open(out, "rb") as handle:
            return handle.read()


def run_code(source: str, model: str = "80486", limit: int = 100_000, **options):
    """Assemble, load at 0000:7C00 with SS:SP = 0000:7000, run to the final HLT."""
    machine = make_machine(model, **options)
    load_code(machine, assemble(source))
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    run_until_stopped(machine, limit)
    return machine


def load_flat(machine: Machine, code: bytes, code_at: int, data: bytes, data_at: int) -> None:
    """Reset the CPU, put `code` and `data` in RAM and give every segment a flat
    4 GiB 32-bit descriptor cache (the differential tests' start against Unicorn)."""
    cpu = machine.cpu
    cpu.reset()
    machine.bus.memory[data_at:data_at + len(data)] = data
    machine.bus.memory[code_at:code_at + len(code)] = code
    for index in range(6):
        cpu.seg_sel[index] = 0
        cpu.seg_base[index] = 0
        cpu.seg_limit[index] = 0xFFFFFFFF
        cpu.seg_flags[index] = 0x93 | 0x4000


def vector_of(source: str, model: str, tail: str = "") -> Tuple[int, Any]:
    """Run 16-bit `source` (with the x87) with handlers on vectors 0-31 that store
    their vector in DX; 0xEEEE when nothing faulted.  Returns (DX, machine).
    `tail` is assembled after the handlers (data the source refers to)."""
    stubs = "\n".join(f"v{v}: mov dx, {v}\nhlt" for v in range(32))
    setup = "\n".join(f"mov word [{v * 4}], v{v}\nmov word [{v * 4 + 2}], 0" for v in range(32))
    machine = run_code(f"xor ax, ax\nmov ds, ax\nmov dx, 0xFFFF\n{setup}\n{source}\n"
                       f"mov dx, 0xEEEE\nhlt\n{stubs}\n{tail}", model, fpu=True)
    return machine.cpu.get_reg("dx"), machine


def first_problems(forms: Sequence[Tuple[Any, ...]], count: int,
                   case: Callable[..., Optional[str]]) -> List[str]:
    """Run `case(*form)` up to `count` times for each form of a differential test;
    the first problem each form reports (a failing form stops at its first)."""
    problems = []
    for form in forms:
        for _ in range(count):
            problem = case(*form)
            if problem:
                problems.append(problem)
                break
    return problems


def boot_sector_guest_lines(folder: str, binary: str, model: str, tmp_path: Any) -> Tuple[List[str], List[str]]:
    """Boot `folder/binary` from a floppy on pc.yaml with `model`, and return its
    port-E9h lines and the ones QEMU 7.2 wrote (`folder/expected_qemu.txt`)."""
    with open(os.path.join(folder, binary), "rb") as handle:
        image = handle.read().ljust(1474560, b"\0")
    path = os.path.join(str(tmp_path), "guest.img")
    with open(path, "wb") as handle:
        handle.write(image)
    machine = Machine.from_profile("pc.yaml", ["cmos.start=2026-01-01T00:00:00", f"cpu.model={model}"],
                                   {"fda": path})
    try:
        machine.run_headless(2_000_000)
    finally:
        machine.close()
    with open(os.path.join(folder, "expected_qemu.txt")) as handle:
        return machine.components["debugcon"].text.splitlines(), handle.read().splitlines()
