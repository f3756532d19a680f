"""Several processors (`cpu.count`, core/smp.py): an application processor waits for
INIT-SIPI-SIPI, each processor has its own local APIC at the shared address, the
MP table lists them all, LOCKed increments from both are never lost, and a run
stays a function of its inputs: the same trace twice, a snapshot taken while both
run resumes to the same end, a recording replays.

The guest is tests/guests/devices/smp.asm (rebuild with its build.sh)."""

import hashlib
import struct
from typing import Any, List, Tuple

import pytest
import trio

from bios_support import PortE9Capture
from pcmachine import hookimpl
from pcmachine.machine import Machine
from pcmachine.record import Recorder, replay

FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
MAX_INSTRUCTIONS = 5_000_000


class InstructionTrace:
    """A digest of every executed instruction: which processor, where, when."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.count = 0

    @hookimpl
    def instruction(self, machine: Any, cs: int, eip: int, linear: int, cpu: Any) -> None:
        self.digest.update(f"{cpu.name} {cs:x}:{eip:x} {machine.clock.icount}\n".encode())
        self.count += 1


def smp_machine(floppy: str, count: int, *plugins: Any, model: str = "pentiumpro") -> Machine:
    def setup(machine: Machine) -> None:
        for plugin in plugins:
            machine.add_plugin(plugin)
    return Machine.from_profile("pc.yaml", [FIXED_RTC, f"cpu.count={count}", f"cpu.model={model}"],
                                {"fda": floppy}, setup=setup)


def boot(floppy: str, count: int, *plugins: Any, model: str = "pentiumpro") -> Tuple[Machine, PortE9Capture]:
    console = PortE9Capture()
    machine = smp_machine(floppy, count, console, *plugins, model=model)
    assert machine.run_headless(MAX_INSTRUCTIONS) == "halted"
    machine.close()
    return machine, console


def test_the_application_processor_starts_at_the_sipi_vector(tmp_path, floppy_from):
    _, console = boot(floppy_from(tmp_path, "devices/smp.bin"), 2)
    assert console.text.splitlines() == ["bsp: apic=00 cpuid=00", "ap: apic=01 cpuid=01 cs=0900", "ipi=1",
                               "counter=60000", "patched=2", "done"]


def test_with_one_processor_the_start_up_ipi_reaches_nobody(tmp_path, floppy_from):
    machine, console = boot(floppy_from(tmp_path, "devices/smp.bin"), 1)
    assert console.text.splitlines() == ["bsp: apic=00 cpuid=00", "ap: none", "counter=30000",
                               "patched=2", "done"]
    assert list(machine.components).count("cpu1") == 0


def test_init_keeps_the_x87_sse_msr_and_tsc_state_of_the_processor(tmp_path, floppy_from):
    """SDM vol. 3 table 9-1: INIT leaves the x87 and SSE registers, MXCSR, the
    MSRs and the time-stamp counter as they were (tests/guests/devices/smpinit.asm;
    Bochs 2.7 with two p3_katmai processors prints these lines; QEMU 7.2 clears
    the MTRRs and the TSC on INIT, and prints mtrr=00000000 and tsc=0)."""
    _, console = boot(floppy_from(tmp_path, "devices/smpinit.bin"), 2, model="pentium3")
    assert console.text.splitlines() == ["fcw=0E7F", "st0=40000000", "mxcsr=7F80", "xmm3=89ABCDEF",
                                         "mtrr=00000006", "tsc=1", "done"]


def test_processors_share_the_instruction_count_in_quanta(tmp_path, floppy_from):
    """Both processors ran; the AP waits halted for good at the end (HLT with IF=0)."""
    trace = InstructionTrace()
    ran = {"cpu": 0, "cpu1": 0}

    class PerCPU:
        @hookimpl
        def instruction(self, machine: Any, cs: int, eip: int, linear: int, cpu: Any) -> None:
            ran[cpu.name] += 1

    machine, _ = boot(floppy_from(tmp_path, "devices/smp.bin"), 2, trace, PerCPU())
    assert ran["cpu1"] > 30000 * 3 and ran["cpu"] > 30000 * 3
    assert sum(ran.values()) == machine.clock.icount == trace.count
    ap = machine.components["cpu1"]
    assert ap.halted and not ap.waiting_sipi


def mp_processors(memory: bytes) -> List[Tuple[int, int]]:
    """(APIC ID, flags) of the processor entries of the MP table, found as an OS
    finds it (the floating pointer in the BIOS ROM area)."""
    start = bytes(memory[0xF0000:0x100000]).index(b"_MP_") + 0xF0000
    table = struct.unpack_from("<I", memory, start + 4)[0]
    assert memory[table:table + 4] == b"PCMP"
    count = struct.unpack_from("<H", memory, table + 34)[0]
    entries, offset = [], table + 44
    for _ in range(count):
        kind = memory[offset]
        if kind == 0:
            entries.append((memory[offset + 1], memory[offset + 3]))
        offset += 20 if kind == 0 else 8
    return entries


def test_mp_table_lists_every_processor(tmp_path, floppy_from):
    machine, _ = boot(floppy_from(tmp_path, "devices/smp.bin"), 3)
    assert mp_processors(machine.bus.memory) == [(0, 3), (1, 1), (2, 1)]   # BSP: enabled|BP
    assert [name for name in machine.components if name.startswith(("cpu", "lapic"))] == [
        "cpu", "cpu1", "cpu2", "lapic", "lapic1", "lapic2"]


def test_two_runs_give_identical_traces(tmp_path, floppy_from):
    floppy = floppy_from(tmp_path, "devices/smp.bin")
    first, second = InstructionTrace(), InstructionTrace()
    boot(floppy, 2, first)
    boot(floppy, 2, second)
    assert first.count == second.count > 0
    assert first.digest.hexdigest() == second.digest.hexdigest()


@pytest.mark.parametrize("icount, turn", [(123_457, 0), (113_457, 1)])
def test_snapshot_while_both_run_resumes_identically(tmp_path, floppy_from, icount, turn):
    """Taken in the middle of a quantum while both processors count: the restored
    machine must go on with the processor whose turn it was."""
    floppy = floppy_from(tmp_path, "devices/smp.bin")
    straight = smp_machine(floppy, 2)
    straight.run_headless(MAX_INSTRUCTIONS)
    expected = straight.snapshot()
    straight.close()

    interrupted = smp_machine(floppy, 2)
    interrupted.run_headless(icount)
    state = interrupted.snapshot()
    interrupted.close()
    assert state["cpu_turn"] == turn

    console = PortE9Capture()
    resumed = smp_machine(floppy, 2, console)
    resumed.restore(state)
    resumed.run_headless(MAX_INSTRUCTIONS)
    final = resumed.snapshot()
    resumed.close()
    assert final["clock"] == expected["clock"]
    assert final["ram"] == expected["ram"]
    assert final["components"]["cpu1"] == expected["components"]["cpu1"]
    assert final["components"] == expected["components"]
    assert b"counter=60000" in console.data


def test_recording_of_a_two_processor_run_replays(tmp_path, floppy_from, capsys):
    floppy = floppy_from(tmp_path, "devices/smp.bin")
    recording = str(tmp_path / "smp.rec")
    machine = smp_machine(floppy, 2)
    machine.add_plugin(Recorder(machine, recording, 25_000), name="recorder")
    keys = iter([{"key": "a", "pressed": True}, {"key": "a", "pressed": False}])

    def type_a_key() -> None:
        key = next(keys, None)
        if key is not None:
            machine.post_input("key", key)
        return None

    trio.run(machine.run, MAX_INSTRUCTIONS, type_a_key)
    machine.close()
    assert replay(recording, []) == 0
    assert "replay matched" in capsys.readouterr().out
    # An analysis plugin on the instruction hook makes the processors step one
    # instruction at a time; the IPIs must still end the turns where they did.
    plugin = tmp_path / "count_instructions.py"
    plugin.write_text(INSTRUCTION_COUNTER)
    assert replay(recording, [f"{plugin}:InstructionCounter"]) == 0
    assert "replay matched" in capsys.readouterr().out


INSTRUCTION_COUNTER = """
from pcmachine.hookspecs import hookimpl


class InstructionCounter:
    def __init__(self, machine=None, **options):
        self.count = 0

    @hookimpl
    def instruction(self, machine, cs, eip, linear, cpu):
        self.count += 1
"""


def test_an_ipi_is_answered_before_the_sender_spins_out_its_quantum(tmp_path, floppy_from):
    """The AP's fixed IPI to the BSP (ICR low write with vector 40h) ends the AP's
    turn: the BSP takes vector 40h within a few instructions, not up to a quantum
    later (Linux spins so in every cross-CPU call)."""
    events = {}

    class Watch:
        @hookimpl
        def mmio_write(self, machine: Any, address: int, size: int, value: int) -> None:
            if address == 0xFEE00300 and value == 0x40 and machine.cpu.name == "cpu1":
                events["sent"] = machine.clock.icount

        @hookimpl
        def interrupt(self, machine: Any, vector: int, kind: str, cs: int, eip: int) -> None:
            if vector == 0x40:
                events["taken"] = machine.clock.icount

    _, console = boot(floppy_from(tmp_path, "devices/smp.bin"), 2, Watch())
    assert "ipi=1" in console.text.splitlines()
    assert 0 <= events["taken"] - events["sent"] < 10
