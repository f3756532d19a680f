"""Protected mode, paging, privilege levels, tasks and virtual-8086 mode, driven by
guest programs booted from a floppy with the full pc.yaml (tests/guests/pm/):

* loader.asm: A20 through the 8042 and port 0x92, an ELF kernel read with int 13h,
  LGDT, CR0.PE, far jump to 32-bit code, paging with an identity map and a
  0xC0000000 alias, a jump to the ELF entry point;
* kernel.asm: IDT and TSS, page faults handled and resumed (CR2, error codes,
  accessed/dirty bits, 4 MiB pages, CR0.WP), ring 3 entered with IRETD calling
  the kernel through int 0x80 and a call gate, #GP from ring 3 with its error
  codes, a hardware task switch, a virtual-8086 task calling BIOS services
  through a #GP monitor, LAR/LSL/VERR/VERW;
* triple.asm: a triple fault, reported readably or turned into a reset.

Each guest line is checked as printed on the debug console (port 0xE9).
"""

import os
from typing import Any, Dict, List, Tuple

import pytest

from pcmachine import hookimpl
from pcmachine.cli import main
from pcmachine.machine import Machine

GUESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "pm")
FLOPPY_144 = 1474560
KERNEL_LBA = 32
FIXED_RTC = "cmos.start=2026-01-01T00:00:00"
#: The kernel uses CR4.PSE (4 MiB pages), a Pentium feature.
MODEL = "cpu.model=pentium"


def guest_bytes(name: str) -> bytes:
    with open(os.path.join(GUESTS, name), "rb") as handle:
        return handle.read()


def kernel_floppy(folder: Any) -> str:
    """loader.bin from sector 0 and kernel.elf from LBA 32 on a 1.44 MB image."""
    image = bytearray(FLOPPY_144)
    loader = guest_bytes("loader.bin")
    kernel = guest_bytes("kernel.elf")
    image[:len(loader)] = loader
    image[KERNEL_LBA * 512:KERNEL_LBA * 512 + len(kernel)] = kernel
    path = os.path.join(str(folder), "pm.img")
    with open(path, "wb") as handle:
        handle.write(image)
    return path


class ModeEvents:
    """Records cpu_mode_change and cpu_exception hooks."""

    def __init__(self) -> None:
        self.modes: List[Tuple[str, int, int]] = []
        self.exceptions: List[Tuple[int, Any, int]] = []

    @hookimpl
    def cpu_mode_change(self, what: str, old: int, new: int) -> None:
        self.modes.append((what, old, new))

    @hookimpl
    def cpu_exception(self, vector: int, error_code: Any, cs: int) -> None:
        self.exceptions.append((vector, error_code, cs))


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory: Any) -> Dict[str, Any]:
    """Boot the loader and kernel once; every test reads its own lines."""
    events = ModeEvents()
    media = {"fda": kernel_floppy(tmp_path_factory.mktemp("pm"))}
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC, MODEL], media,
                                   setup=lambda m: m.add_plugin(events))
    try:
        reason = machine.run_headless(5_000_000)
    finally:
        machine.close()
    return {"machine": machine, "reason": reason, "events": events,
            "lines": machine.components["debugcon"].text.splitlines()}


def test_kernel_runs_every_stage_and_halts(kernel_run: Dict[str, Any]) -> None:
    lines = kernel_run["lines"]
    assert not [line for line in lines if "FAIL" in line], lines
    assert lines[-1] == "kernel: all stages passed"
    assert kernel_run["reason"] == "halted"


def test_loader_enables_a20_both_ways_and_reaches_the_elf_entry(kernel_run: Dict[str, Any]) -> None:
    assert kernel_run["lines"][:9] == [
        "loader: stage 2",
        "loader: A20 off through the 8042",
        "loader: A20 on through port 0x92",
        "loader: A20 on through the 8042",
        "loader: kernel read with int 13h",
        "loader: protected mode, 32-bit code",
        "loader: paging on, 0xC0000000 alias ok",
        "loader: ELF entry C0100000",
        "kernel: running at C0100016",     # the address after its first CALL
    ]


def test_page_faults_report_cr2_and_error_codes_and_resume(kernel_run: Dict[str, Any]) -> None:
    lines = kernel_run["lines"]
    assert "kernel: #PF cr2=D0000000 error=00000002" in lines        # write, not present
    assert "kernel: page fault handled and resumed, A/D bits set" in lines
    assert "kernel: 4 MiB page ok" in lines
    assert "kernel: #PF cr2=003FE000 error=00000003" in lines        # CR0.WP, read-only
    assert "kernel: CR0.WP protects read-only pages" in lines
    assert "kernel: #PF cr2=003FF000 error=00000005" in lines        # user read, supervisor page


def test_ring3_calls_the_kernel_with_int_0x80_and_a_call_gate(kernel_run: Dict[str, Any]) -> None:
    lines = kernel_run["lines"]
    assert "user: ring 3, CPL 00000003" in lines
    assert "user: int 0x80 returned 0000002A" in lines
    assert "kernel: call gate at CPL 00000000, parameter 11223344" in lines


def test_gp_from_ring3_carries_the_error_code(kernel_run: Dict[str, Any]) -> None:
    lines = kernel_run["lines"]
    start = lines.index("user: supervisor page fault handled")
    assert lines[start + 2:start + 6] == [
        "kernel: #GP error=00000000 from cs=0000001B",     # CLI with CPL > IOPL
        "kernel: #GP error=00000000 from cs=0000001B",     # IN denied by the I/O bitmap
        "kernel: #GP error=00000010 from cs=0000001B",     # MOV DS, DPL 0 selector
        "kernel: back from ring 3",
    ]
    gp = [entry for entry in kernel_run["events"].exceptions if entry[0] == 13 and entry[2] == 0x1B]
    assert [entry[1] for entry in gp] == [0, 0, 0x10]


def test_hardware_task_switch_and_back_link(kernel_run: Dict[str, Any]) -> None:
    lines = kernel_run["lines"]
    assert "task 2: running, TR=00000030 back link=00000028" in lines
    assert "kernel: back in task 1, ebx=5A5A0001" in lines           # task 1's EBX restored


def test_v86_task_calls_the_bios_through_the_monitor(kernel_run: Dict[str, Any]) -> None:
    lines = kernel_run["lines"]
    assert "v86: port 0xE9 through the I/O bitmap" in lines
    assert "v86: BIOS int 12h returned ax=0000027F" in lines           # 639 KiB
    assert "kernel: back from virtual-8086 mode" in lines
    assert "V" in kernel_run["machine"].components["vga"].text()       # int 10h teletype


def test_descriptor_queries(kernel_run: Dict[str, Any]) -> None:
    assert "kernel: LAR, LSL, VERR, VERW ok" in kernel_run["lines"]


def test_mode_change_hooks_show_the_boot_stages(kernel_run: Dict[str, Any]) -> None:
    modes = kernel_run["events"].modes
    assert modes[:2] == [("pe", 0, 1), ("pg", 0, 1)]
    assert ("cpl", 0, 3) in modes and ("cpl", 3, 0) in modes
    assert ("task", 0x28, 0x30) in modes and ("task", 0x30, 0x28) in modes
    assert ("vm", 0, 1) in modes and ("vm", 1, 0) in modes


def test_protected_mode_state_saves_and_restores(kernel_run: Dict[str, Any]) -> None:
    cpu = kernel_run["machine"].cpu
    saved = cpu.snapshot()
    assert saved["tr"] == 0x28 and saved["tr_base"] != 0 and saved["cpl"] == 0
    cpu.restore(saved)
    assert cpu.snapshot() == saved


# ---------------------------------------------------------------- triple fault
def write_floppy(folder: Any, name: str) -> str:
    path = os.path.join(str(folder), name.replace(".bin", ".img"))
    with open(path, "wb") as handle:
        handle.write(guest_bytes(name).ljust(FLOPPY_144, b"\0"))
    return path


def test_triple_fault_stop_prints_a_report_and_exits_non_zero(tmp_path: Any, capsys: Any) -> None:
    image = write_floppy(tmp_path, "triple.bin")
    status = main(["run", "pc.yaml", "--headless", "--timeout", "60", "--fda", image,
                   "--set", FIXED_RTC, "--set", "machine.on_triple_fault=stop"])
    err = capsys.readouterr().err
    assert status == 3
    assert "Traceback" not in err
    assert "triple fault: #GP while delivering #DF at 0008:" in err
    assert "instruction: int3" in err
    assert "eax=" in err and "cr0=" in err
    history = err[err.index("last exceptions"):].splitlines()[1:]
    assert [line.split(" at ")[0].strip() for line in history] == [
        "#GP (vector 13) error 0x001a",     # INT3: IDT entry 3 outside the limit
        "#GP (vector 13) error 0x006b",     # delivering that #GP: entry 13, EXT
        "#GP (vector 13) error 0x0043",     # delivering the #DF: entry 8, EXT
    ]


def test_triple_fault_resets_the_machine_by_default(tmp_path: Any) -> None:
    media = {"fda": write_floppy(tmp_path, "triple.bin")}
    machine = Machine.from_profile("pc.yaml", [FIXED_RTC], media)
    try:
        machine.run_headless(300)          # one boot takes ~80 instructions
    finally:
        machine.close()
    assert machine.components["debugcon"].text.startswith("BB")       # booted again


def test_snapshot_in_ring3_with_paging_resumes_identically(tmp_path: Any) -> None:
    """Save in the middle of the kernel (paging on, after the ring-3 entry), load
    into a new machine, and both runs print the same rest."""
    media = {"fda": kernel_floppy(tmp_path)}
    first = Machine.from_profile("pc.yaml", [FIXED_RTC, MODEL], media)
    events = ModeEvents()
    first.add_plugin(events)
    try:
        while ("cpl", 0, 3) not in events.modes:
            assert first.run_headless(first.clock.icount + 200) == "instruction-limit"
        state = first.snapshot()
        first.run_headless(5_000_000)
        expected = first.components["debugcon"].text
    finally:
        first.close()
    second = Machine.from_profile("pc.yaml", [FIXED_RTC, MODEL], media)
    try:
        second.restore(state)
        assert second.cpu.paging and second.cpu.snapshot() == state["components"]["cpu"]["state"]
        second.run_headless(5_000_000)
        resumed = second.components["debugcon"].text
    finally:
        second.close()
    assert state["components"]["cpu"]["state"]["cr"][0] & 0x80000000        # paging on
    assert b"back from ring 3" not in state["components"]["debugcon"]["state"]["written"]
    assert expected.endswith("kernel: all stages passed\n")
    assert resumed == expected          # the console text is part of the saved state
