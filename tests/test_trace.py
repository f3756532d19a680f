"""The trace plugin and `machine trace diff`.

Events are driven as a guest would cause them: port accesses and IRQ edges on the
bus, instructions run by the real CPU from RAM, bytes through the real debug
console; hooks whose components are not in this machine are fired through the
hook relay, exactly as those components fire them.
"""

import json
import os
from typing import Any, Dict, List, Optional

import pytest

from pcmachine import Machine, ProfileError, UserError
from pcmachine.plugins.cpu.cpu import CPU
from pcmachine.plugins.debug.debugcon import DebugConsole
from pcmachine.plugins.parallel.port import ParallelPort
from pcmachine.plugins.ram import RAM
from pcmachine.cli import build_parser
from pcmachine.plugins.debug.trace import DEFAULT_KINDS, Tracer, render_text, tracer_options_from_cli
from pcmachine.tracediff import main as trace_diff

BOOT = 0x7C00
# mov dx,0x3D4 / mov al,0x0E / out dx,al / hlt (interrupts are off after reset)
PORT_PROGRAM = bytes.fromhex("BAD403" "B00E" "EE" "F4")

EVENT_HOOKS = {
    "io": ("io_read", "io_write"), "irq": ("irq_raised", "irq_lowered"),
    "int": ("interrupt",), "exc": ("cpu_exception", "triple_fault"),
    "mode": ("cpu_mode_change",), "bios": ("bios_call",), "disk": ("disk_transfer",),
    "key": ("key_input",), "serial": ("serial_byte",), "insn": ("instruction",),
    "mmio": ("mmio_read", "mmio_write"), "debugcon": ("debugcon_byte",),
    "parallel": ("parallel_byte",), "input": ("machine_input",),
}


def bare_machine(tmp_path, name: str = "trace.txt", with_cpu: bool = False,
                 program: bytes = b"", **options: Any) -> Machine:
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": "1M"})
    if with_cpu:
        machine.add_component(CPU, "cpu", {"model": "80486"})
        machine.bus.write_bytes(BOOT, program)
        machine.cpu.set_reg("cs", 0)
        machine.cpu.set_reg("eip", BOOT)
    options.setdefault("file", str(tmp_path / name))
    machine.add_component(Tracer, "trace", options)
    return machine


def trace_lines(machine: Machine, path: str) -> List[str]:
    machine.close()
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


def advance_to(machine: Machine, icount: int) -> None:
    """Run slices (no CPU: the count just moves) until `icount`; window edges cut
    slices, as they do in a real run."""
    while machine.clock.icount < icount:
        machine.run_slice(icount)


def run_until_halt(machine: Machine) -> str:
    reason = None
    while reason is None:
        reason = machine.run_slice(10_000)
    return reason


# ---------------------------------------------------------------------------
# line formats
# ---------------------------------------------------------------------------

def test_text_lines_without_a_cpu(tmp_path):
    machine = bare_machine(tmp_path)
    machine.clock.icount = 12345
    machine.bus.io_write(0x3D4, 1, 0x0E)
    machine.bus.io_read(0x1F0, 2)            # unclaimed: all ones
    machine.bus.set_irq(4, 1)
    machine.bus.set_irq(4, 0)
    assert trace_lines(machine, str(tmp_path / "trace.txt")) == [
        "     12345       t=617250ns     ----:---- (--------) io.write   port=0x3D4 size=1 value=0x0E",
        "     12345       t=617250ns     ----:---- (--------) io.read    port=0x1F0 size=2 value=0xFFFF",
        "     12345       t=617250ns     ----:---- (--------) irq.raise  line=4",
        "     12345       t=617250ns     ----:---- (--------) irq.lower  line=4",
    ]


def test_guest_port_write_carries_the_instruction_location(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, program=PORT_PROGRAM, events=["io"])
    assert run_until_halt(machine) == "halted"
    # The OUT is the third instruction, at 0000:7C05; the CPU counts it before it runs.
    assert trace_lines(machine, str(tmp_path / "trace.txt")) == [
        "         3          t=150ns     0000:7C05 (00007C05) io.write   port=0x3D4 size=1 value=0x0E",
    ]


def test_jsonl_records_have_stable_fields_and_render_to_the_text_lines(tmp_path):
    def drive(machine: Machine) -> None:
        machine.clock.icount = 7
        machine.bus.io_write(0x80, 2, 0x1234)
        machine.hooks.call.bios_call(machine=machine, vector=0x10, function=0x0E,
                                     registers={"ax": 0x0E41, "bx": 0x0007})
        machine.hooks.call.key_input(machine=machine, key="enter", pressed=True, scancodes=b"\x5a")
        machine.hooks.call.disk_transfer(machine=machine, drive="fda", operation="read", lba=0, count=1)
        machine.hooks.call.serial_byte(machine=machine, port="com1", direction="tx", value=0x41)
        machine.hooks.call.machine_input(machine=machine, kind="key", data=["a", 1], icount=7, time_ns=350)
        machine.hooks.call.machine_input(machine=machine, kind="serial", data=b"\r\n", icount=7, time_ns=350)

    text_machine = bare_machine(tmp_path, "trace.txt")
    json_machine = bare_machine(tmp_path, "trace.jsonl", format="jsonl")
    drive(text_machine)
    drive(json_machine)
    text = trace_lines(text_machine, str(tmp_path / "trace.txt"))
    records = [json.loads(line) for line in trace_lines(json_machine, str(tmp_path / "trace.jsonl"))]
    where = {"icount": 7, "time_ns": 350, "cs": None, "eip": None, "linear": None}
    assert records == [
        dict(where, kind="io.write", port=0x80, size=2, value=0x1234),
        dict(where, kind="bios", vector=0x10, function=0x0E, registers={"ax": 0x0E41, "bx": 7}),
        dict(where, kind="key", key="enter", pressed=True, scancodes=[0x5A]),
        dict(where, kind="disk", drive="fda", operation="read", lba=0, count=1),
        dict(where, kind="serial", port="com1", direction="tx", value=0x41),
        dict(where, kind="input", type="key", data=["a", 1]),
        dict(where, kind="input", type="serial", data="0D0A"),
    ]
    assert [render_text(record) for record in records] == text
    assert text[1].endswith("bios       vector=0x10 function=0x0E ax=0E41 bx=0007")
    assert text[2].endswith("key        key=enter pressed=true scancodes=5A")
    assert text[5].endswith('input      type=key data=["a",1]')
    assert text[6].endswith("input      type=serial data=0D0A")


def test_debug_console_bytes_through_the_real_device(tmp_path):
    machine = bare_machine(tmp_path, events=["debugcon"])
    machine.add_component(DebugConsole, "debugcon", {})
    machine.bus.io_write(0xE9, 1, ord("O"))
    machine.bus.io_write(0xE9, 1, ord("K"))
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert [line.split(") ", 1)[1] for line in lines] == [
        "debugcon   value=0x4F", "debugcon   value=0x4B"]


def test_printer_bytes_through_the_real_device(tmp_path):
    machine = bare_machine(tmp_path, events=["parallel"])
    machine.add_component(ParallelPort, "lpt1", {})
    for value in b"OK":
        machine.bus.io_write(0x378, 1, value)
        machine.bus.io_write(0x37A, 1, 0x0D)        # STROBE with SELECT IN and INIT# high
        machine.bus.io_write(0x37A, 1, 0x0C)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert [line.split(") ", 1)[1] for line in lines] == [
        "parallel   port=lpt1 value=0x4F", "parallel   port=lpt1 value=0x4B"]


def test_divide_error_traces_exception_then_interrupt(tmp_path):
    # xor cx,cx / div cx  -> #DE at 0000:7C02, delivered through the IVT
    machine = bare_machine(tmp_path, with_cpu=True, program=bytes.fromhex("31C9" "F7F1"),
                           events=["exc", "int"])
    machine.run_slice(2)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert [line.split(") ", 1)[1] for line in lines] == [
        "exc        vector=0x00 error_code=none fault_cs=0x0000 fault_eip=0x7C02",
        "int        vector=0x00 type=exception return_cs=0x0000 return_eip=0x7C02",
    ]
    assert all("0000:7C02 (00007C02)" in line for line in lines)


def test_protected_mode_switch_is_a_mode_event(tmp_path):
    # mov eax,cr0 / or al,1 / mov cr0,eax
    machine = bare_machine(tmp_path, with_cpu=True, program=bytes.fromhex("0F20C0" "0C01" "0F22C0"),
                           events=["mode"])
    machine.run_slice(3)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert len(lines) == 1
    # (CS:EIP is whatever the CPU reports mid-instruction; see docs/tracing.md)
    assert lines[0].startswith("         3          t=150ns     0000:")
    assert lines[0].endswith(") mode       what=pe old=0x0 new=0x1")


class RegisterFile:
    """Only what the tracer asks of a CPU for an event's location."""

    def __init__(self, registers: Dict[str, int], base: Optional[int] = None) -> None:
        self.registers = registers
        if base is not None:
            self.segment_base = lambda name: base

    def get_reg(self, name: str) -> int:
        return self.registers[name]


@pytest.mark.parametrize("cpu, location", [
    (RegisterFile({"cs": 0x1234, "eip": 0x10, "cr0": 0}), "1234:0010 (00012350)"),
    (RegisterFile({"cs": 0x08, "eip": 0x100000, "cr0": 1}, base=0x200000), "0008:00100000 (00300000)"),
    (RegisterFile({"cs": 0x08, "eip": 0x1000, "cr0": 1}), "0008:1000 (--------)"),
])
def test_location_from_the_cpu_registers(tmp_path, cpu, location):
    machine = bare_machine(tmp_path, events=["irq"])
    machine.cpu = cpu
    machine.bus.set_irq(0, 1)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert lines[0].split(None, 2)[2] == location + " irq.raise  line=0"


def test_strings_that_would_break_the_layout_are_quoted(tmp_path):
    machine = bare_machine(tmp_path, events=["exc"])
    machine.hooks.call.triple_fault(machine=machine, report="EAX=0 EBX=1\n#GP")
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert lines == ['         0            t=0ns     ----:---- (--------) exc.triple '
                     'report="EAX=0 EBX=1\\n#GP"']


# ---------------------------------------------------------------------------
# selection: kinds, ports, window
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(EVENT_HOOKS))
def test_only_the_selected_kind_registers_hooks(tmp_path, kind):
    machine = bare_machine(tmp_path, events=[kind])
    for other, hooks in EVENT_HOOKS.items():
        for hook in hooks:
            assert getattr(machine.hooks, hook) == (other == kind), hook
    machine.close()
    assert not any(getattr(machine.hooks, hook) for hooks in EVENT_HOOKS.values() for hook in hooks)


def test_default_kinds_leave_instruction_and_mmio_hooks_off(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, program=PORT_PROGRAM)
    assert set(DEFAULT_KINDS) == set(EVENT_HOOKS) - {"insn", "mmio"}
    assert machine.hooks.io_write and machine.hooks.bios_call
    assert not machine.hooks.instruction and not machine.hooks.mmio_write
    assert not machine.cpu.traced
    machine.close()


def test_events_given_as_a_comma_separated_string(tmp_path):
    machine = bare_machine(tmp_path, events="irq,debugcon")
    assert machine.hooks.irq_raised and machine.hooks.debugcon_byte and not machine.hooks.io_write
    machine.close()


def test_all_selects_every_kind(tmp_path):
    machine = bare_machine(tmp_path, events="all")
    assert machine.components["trace"].kinds == list(EVENT_HOOKS)
    assert all(getattr(machine.hooks, hook) for hooks in EVENT_HOOKS.values() for hook in hooks)
    machine.close()


def test_port_range_filters_io_events(tmp_path):
    machine = bare_machine(tmp_path, events=["io"], ports="0x3C0-0x3DF")
    for port in (0x3BF, 0x3C0, 0x3D4, 0x3DF, 0x3E0):
        machine.bus.io_write(port, 1, 0)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert [line.split("port=")[1].split()[0] for line in lines] == ["0x3C0", "0x3D4", "0x3DF"]


def test_count_window_registers_hooks_only_while_open(tmp_path):
    machine = bare_machine(tmp_path, events=["io"], **{"from": 100, "to": 200})
    assert not machine.hooks.io_write
    advance_to(machine, 50)
    machine.bus.io_write(0x80, 1, 1)                  # before the window
    assert not machine.hooks.io_write
    advance_to(machine, 150)
    assert machine.hooks.io_write
    machine.bus.io_write(0x80, 1, 2)                  # inside
    machine.run_slice()                               # the slice ends at the window's end
    assert machine.clock.icount == 200
    machine.bus.io_write(0x80, 1, 3)                  # icount 200: outside
    advance_to(machine, 300)
    assert not machine.hooks.io_write
    machine.bus.io_write(0x80, 1, 4)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert len(lines) == 1 and lines[0].startswith("       150") and lines[0].endswith("value=0x02")


# ---------------------------------------------------------------------------
# the instruction trace
# ---------------------------------------------------------------------------

INSN_PROGRAM = bytes.fromhex(
    "B80300"      # 7C00 mov ax, 3
    "BBFDFF"      # 7C03 mov bx, 0xFFFD
    "01D8"        # 7C06 add ax, bx
    "EB00"        # 7C08 jmp 7C0A
    "F4")         # 7C0A hlt


def test_instruction_trace_disassembles_and_lists_changed_registers(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, program=INSN_PROGRAM, events=["insn"])
    assert machine.cpu.traced
    assert run_until_halt(machine) == "halted"
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    body = [line.split(") ", 1)[1] for line in lines]
    assert len(lines) == 5
    assert body[0].startswith("insn       B80300           mov ax, 3                        eax=00000000 ")
    assert "cr0=60000010" in body[0] and "cs=0000" in body[0]      # 486 with its x87: ET and "eflags=00000002" in body[0]
    assert body[1:] == [
        "insn       BBFDFF           mov bx, 0xfffd                   eax=00000003",
        "insn       01D8             add ax, bx                       ebx=0000FFFD",
        "insn       EB00             jmp 0x7c0a                       eax=00000000 eflags=00000057",
        "insn       F4               hlt",
    ]
    assert lines[1].startswith("         1           t=50ns     0000:7C03 (00007C03) insn")


def test_instruction_trace_address_range(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, program=INSN_PROGRAM, events=["insn"],
                           range="0x7C03-0x7C08")
    run_until_halt(machine)
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert [line.split()[2] for line in lines] == ["0000:7C03", "0000:7C06", "0000:7C08"]
    # Changes are relative to the previous *traced* instruction; the first lists all.
    assert "eax=00000003" in lines[0] and "ebx=00000000" in lines[0]
    assert lines[1].endswith("ebx=0000FFFD")


def test_instruction_window_leaves_the_cpu_fast_outside_it(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, program=INSN_PROGRAM, events=["insn"],
                           **{"from": 2, "to": 4})
    assert not machine.cpu.traced
    assert run_until_halt(machine) == "halted"
    assert not machine.cpu.traced
    lines = trace_lines(machine, str(tmp_path / "trace.txt"))
    assert [line.split()[0] for line in lines] == ["2", "3"]
    assert [line.split()[2] for line in lines] == ["0000:7C06", "0000:7C08"]


def test_32bit_code_is_disassembled_as_32bit(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, program=bytes.fromhex("B801000000"),
                           events=["insn"])
    insn = machine.components["trace"].plugins["insn"]
    assert insn.disassemble(machine.cpu, BOOT, BOOT, True)[:2] == (5, "mov eax, 1")
    assert insn.disassemble(machine.cpu, BOOT, BOOT, False)[:2] == (3, "mov ax, 1")
    machine.close()


def test_instruction_across_a_page_boundary_and_in_rom_above_ram(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, events=["insn"])
    machine.bus.write_bytes(0x0FFE, bytes.fromhex("B801000000"))
    machine.bus.map_rom(0xFFFFF000, bytes(0xFF0) + bytes.fromhex("EA5BE000F0") + bytes(11), "rom")
    insn = machine.components["trace"].plugins["insn"]
    assert insn.disassemble(machine.cpu, 0x0FFE, 0x0FFE, True)[:2] == (5, "mov eax, 1")
    assert insn.disassemble(machine.cpu, 0xFFFFFFF0, 0xFFF0, False)[:2] == (5, "ljmp 0xf000:0xe05b")
    machine.close()


def test_code_in_mmio_is_not_read(tmp_path):
    machine = bare_machine(tmp_path, with_cpu=True, events=["insn"])
    reads = []
    machine.bus.map_mmio(0xA0000, 0x1000, "probe", lambda address, size: reads.append(address) or 0x90,
                         lambda address, size, value: None)
    insn = machine.components["trace"].plugins["insn"]
    assert insn.disassemble(machine.cpu, 0xA0000, 0, False) == (0, "(bad)", b"")
    assert reads == []
    machine.close()


# ---------------------------------------------------------------------------
# output, options, determinism
# ---------------------------------------------------------------------------

def test_trace_is_flushed_when_the_run_stops(tmp_path):
    path = str(tmp_path / "trace.txt")
    machine = bare_machine(tmp_path, with_cpu=True, program=PORT_PROGRAM, events=["io"])
    assert machine.run_headless() == "halted"
    with open(path, encoding="utf-8") as handle:
        assert "io.write" in handle.read()
    machine.close()
    assert machine.components["trace"].stream is None


def test_trace_to_stderr(capsys):
    machine = Machine.bare()
    machine.add_component(Tracer, "trace", {"file": "-", "events": ["irq"]})
    machine.bus.set_irq(3, 1)
    machine.close()
    assert capsys.readouterr().err.endswith("irq.raise  line=3\n")


@pytest.mark.parametrize("options, key", [
    ({"events": ["io", "nonsense"]}, "trace.events"),
    ({"range": "0x7C00-"}, "trace.range"),
    ({"ports": "0x70-0x10000"}, "trace.ports"),
    ({"from": 10, "to": 5}, "trace.to"),
    ({"format": "xml"}, "trace.format"),
])
def test_bad_options_name_the_key(tmp_path, options, key):
    machine = Machine.bare()
    with pytest.raises(ProfileError) as error:
        machine.add_component(Tracer, "trace", dict(options, file=str(tmp_path / "t")))
    assert error.value.key == key


def test_unwritable_file_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="trace.file: cannot open"):
        Machine.bare().add_component(Tracer, "trace", {"file": str(tmp_path / "missing" / "t.txt")})


def test_cli_flags_become_a_profile_entry():
    parser = build_parser()
    args = parser.parse_args(["run", "pc.yaml", "--trace", "boot.trace", "--trace-events", "bios,io",
                              "--trace-from", "5", "--trace-format", "jsonl"])
    assert tracer_options_from_cli(args) == {"plugin": "trace", "file": "boot.trace",
                                             "events": "bios,io", "from": 5, "format": "jsonl"}
    assert tracer_options_from_cli(parser.parse_args(["run", "pc.yaml"])) == {}


def test_snapshot_is_empty_and_restore_reopens_the_window(tmp_path):
    machine = bare_machine(tmp_path, events=["io"], **{"from": 100})
    state = machine.snapshot()
    assert state["components"]["trace"]["state"] == {}
    advance_to(machine, 150)
    assert machine.hooks.io_write
    machine.restore(state)
    assert machine.clock.icount == 0 and not machine.hooks.io_write
    assert machine.snapshot() == state
    machine.close()


def _traced_program_run(tmp_path, name: str, fmt: str) -> bytes:
    path = tmp_path / name
    machine = bare_machine(tmp_path, name, with_cpu=True, program=INSN_PROGRAM + PORT_PROGRAM,
                           events=["insn", "io", "irq"], format=fmt)
    run_until_halt(machine)
    machine.close()
    return path.read_bytes()


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_two_runs_give_byte_identical_traces(tmp_path, fmt):
    first = _traced_program_run(tmp_path, "a", fmt)
    assert first == _traced_program_run(tmp_path, "b", fmt)
    assert b"0x" in first and str(tmp_path).encode() not in first


# ---------------------------------------------------------------------------
# machine trace diff
# ---------------------------------------------------------------------------

def _write(tmp_path, name: str, lines: List[str]) -> str:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _records(count: int, changed_at: Optional[int] = None) -> List[Dict[str, Any]]:
    records = []
    for index in range(count):
        value = 0xAA if index == changed_at else index
        records.append({"icount": index * 10, "time_ns": index * 500, "cs": 0, "eip": 0x7C00 + index,
                        "linear": 0x7C00 + index, "kind": "io.write", "port": 0x80, "size": 1,
                        "value": value})
    return records


def test_diff_of_identical_traces(tmp_path, capsys):
    lines = [render_text(record) for record in _records(6)]
    assert trace_diff([_write(tmp_path, "a", lines), _write(tmp_path, "b", lines)]) == 0
    assert capsys.readouterr().out == "traces are identical (6 events)\n"


def test_diff_shows_the_first_divergence_with_context(tmp_path, capsys):
    a = _write(tmp_path, "a", [render_text(record) for record in _records(8)])
    b = _write(tmp_path, "b", [render_text(record) for record in _records(8, changed_at=5)])
    assert trace_diff([a, b, "--context", "2"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"traces differ at line 6 of {a} and line 6 of {b}"
    assert out[1] == "common context (lines 4-5):"
    assert out[2].split()[0] == "4" and out[3].split()[0] == "5"
    assert out[4].startswith(f"{a}:6: ") and out[4].endswith("value=0x05")
    assert out[5].startswith(f"{b}:6: ") and out[5].endswith("value=0xAA")
    assert out[6] == "differs in: value"


def test_diff_when_one_trace_is_shorter(tmp_path, capsys):
    a = _write(tmp_path, "a", [render_text(record) for record in _records(4)])
    b = _write(tmp_path, "b", [render_text(record) for record in _records(3)])
    assert trace_diff([a, b]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"traces differ at line 4: {b} ends after line 3"
    assert out[-1] == f"{b}:4: (end of trace)"


def test_diff_compares_json_records_as_objects_and_across_formats(tmp_path, capsys):
    records = _records(5)
    jsonl = _write(tmp_path, "a.jsonl", [json.dumps(record) for record in records])
    reordered = _write(tmp_path, "b.jsonl", [json.dumps(dict(sorted(record.items()))) for record in records])
    text = _write(tmp_path, "c.txt", [render_text(record) for record in records])
    changed = _write(tmp_path, "d.jsonl", [json.dumps(record) for record in _records(5, changed_at=2)])
    assert trace_diff([jsonl, reordered]) == 0
    assert trace_diff([text, jsonl]) == 0
    assert trace_diff([jsonl, changed]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "differs in: value"
    assert trace_diff([changed, text]) == 1
    assert "line 3" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary", b"hello world\n", b'{"icount": 1}\n', b"{not json\n"])
def test_diff_of_unreadable_input_is_status_2(tmp_path, capsys, content):
    good = _write(tmp_path, "good", [render_text(record) for record in _records(2)])
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    assert trace_diff([good, str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("machine trace diff: ") and err.count("\n") == 1


def test_diff_of_a_missing_file_is_status_2(tmp_path, capsys):
    good = _write(tmp_path, "good", [])
    assert trace_diff([good, str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err
    assert trace_diff([good]) == 2


def test_diff_of_traces_written_by_the_plugin(tmp_path, capsys):
    first = tmp_path / "first.txt"
    second = tmp_path / "second.txt"
    for path, value in ((first, 0x0E), (second, 0x0F)):
        machine = bare_machine(tmp_path, os.path.basename(str(path)), with_cpu=True,
                               program=bytes.fromhex("BAD403" "B0%02X" "EE" "F4" % value),
                               events=["insn", "io"])
        run_until_halt(machine)
        machine.close()
    assert trace_diff([str(first), str(second)]) == 1
    out = capsys.readouterr().out.splitlines()
    # line 1 lists all registers, line 2 is "mov al, ..." : the programs differ there
    assert out[0] == f"traces differ at line 2 of {first} and line 2 of {second}"
    assert out[-1] == "differs in: bytes, disasm"


# ---------------------------------------------------------------------------
# end to end: a boot sector's BIOS calls
# ---------------------------------------------------------------------------

def _boot_trace(tmp_path, image: str, name: str) -> bytes:
    trace = tmp_path / name
    profile = tmp_path / (name + ".yaml")
    profile.write_text("extends: pc.yaml\n"
                       "cmos:\n"
                       "  start: \"2026-01-01T00:00:00\"\n"    # POST reads the RTC: an input of the run
                       "trace:\n"
                       "  plugin: pcmachine.plugins.debug.trace:Tracer\n"
                       f"  file: {json.dumps(str(trace))}\n"
                       "  events: [bios, io]\n", encoding="utf-8")
    machine = Machine.from_profile(str(profile), media={"fda": image})
    try:
        assert machine.run_headless(max_instructions=5_000_000) == "halted"
    finally:
        machine.close()
    return trace.read_bytes()


def test_boot_sector_bios_calls_trace_identically_twice(tmp_path, floppy_from):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    first = _boot_trace(tmp_path, image, "first.trace")
    assert first == _boot_trace(tmp_path, image, "second.trace")
    calls = [line.split(" bios ", 1)[1].split() for line in first.decode().splitlines()
             if " bios " in line and "vector=0x10" in line]
    functions = [call[1] for call in calls]
    assert functions == ["function=0x00"] + ["function=0x02", "function=0x0A"] * 13 + ["function=0x02"]
    written = "".join(chr(int(call[2][len("ax=0A"):], 16)) for call in calls if call[1] == "function=0x0A")
    assert written == "Hello, world!"
    assert b"io.write   port=0x3D4" in first        # the BIOS moves the CRTC cursor


def test_cli_run_with_trace_flags_and_trace_diff(tmp_path, floppy_from, capsys):
    from pcmachine.cli import main
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    paths = [str(tmp_path / name) for name in ("a.jsonl", "b.jsonl")]
    for path in paths:
        assert main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "60",
                     "--trace", path, "--trace-format", "jsonl", "--trace-events", "io",
                     "--trace-ports", "0x3D4-0x3D5"]) == 0
    with open(paths[0], encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    assert records and {record["port"] for record in records} == {0x3D4, 0x3D5}
    # the last cursor move: row 13, column 0 -> CRTC 0Eh/0Fh = 0x0410
    assert [record["value"] for record in records[-4:]] == [0x0E, 0x04, 0x0F, 0x10]
    capsys.readouterr()
    assert main(["trace", "diff", paths[0], paths[1]]) == 0
    assert capsys.readouterr().out == f"traces are identical ({len(records)} events)\n"


def test_cli_instruction_trace_of_the_boot_sector(tmp_path, floppy_from):
    from pcmachine.cli import main
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    path = str(tmp_path / "insn.trace")
    assert main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "60",
                 "--trace", path, "--trace-events", "insn", "--trace-range", "0x7C00-0x7DFF"]) == 0
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    body = [line.split(") ", 1)[1] for line in lines]
    assert body[0].startswith("insn       31C0             xor ax, ax ")
    assert body[1].startswith("insn       8ED8             mov ds, ax ")
    assert all("(00007C" in line or "(00007D" in line for line in lines)
    assert sum(1 for line in body if line.split()[2:4] == ["int", "0x10"]) == 28
    assert body[-1].startswith("insn       F4               hlt") and "0000:7C37" in lines[-1]
