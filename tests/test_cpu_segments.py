"""Protected-mode segmentation checks and their error codes, on a bare machine
(RAM + CPU) put straight into 32-bit protected mode at CPL 0: a GDT built here,
an IDT whose handlers record the vector and error code, and one short guest per
case (SDM vol. 3A 5.5-5.8 and 6.13 give the expected faults)."""

import struct
from typing import Any, Callable, Dict, Optional, Tuple

import pytest

from cpu_support import VectorController, assemble, make_machine, run_until_stopped

GDT, IDT, LDT, CODE = 0x1000, 0x2000, 0x3000, 0x10000
RESULT = 0x500                   # vector, error code (or 0xFFFFFFFF: none)
VECTORS_WITH_CODE = (10, 11, 12, 13, 14, 17)
OTHER_VECTORS = (3, 0x30, 0x31)


def descriptor(base: int, limit: int, access: int, flags: int = 0xC) -> bytes:
    return struct.pack("<HHBBBB", limit & 0xFFFF, base & 0xFFFF, (base >> 16) & 0xFF, access,
                       ((limit >> 16) & 0xF) | (flags << 4), base >> 24)


def gate(offset: int, selector: int, access: int) -> bytes:
    return struct.pack("<HHBBH", offset & 0xFFFF, selector, 0, access, offset >> 16)


#: selector -> descriptor
SEGMENTS = {
    0x08: descriptor(0, 0xFFFFF, 0x9A),            # flat code
    0x10: descriptor(0, 0xFFFFF, 0x92),            # flat data
    0x18: descriptor(0x20000, 0xFFF, 0x12, 0x4),   # data, not present, byte limit
    0x20: descriptor(0, 0xFFFFF, 0xF2),            # DPL 3 data
    0x28: descriptor(0, 0xFFFFF, 0x98),            # execute-only code
    0x30: descriptor(0x4000, 0x67, 0x89, 0),       # 32-bit TSS
    0x38: descriptor(0x20000, 0xFFF, 0x92, 0x4),   # data based at 0x20000, 4 KiB
    0x40: descriptor(LDT, 0xF, 0x82, 0),           # LDT with two entries
    0x48: descriptor(CODE, 0xFFFF, 0x9A, 0),       # 16-bit code (D = 0) based at CODE
    0x50: descriptor(0, 0xFFFFF, 0xFA),            # DPL 3 code
    0x58: descriptor(0x20000, 0xFFF, 0x96, 0x4),   # expand-down data, B = 1: above 0xFFF
    0x60: descriptor(0x5000, 0x67, 0x8B, 0),       # busy 32-bit TSS (the running task)
    0x68: descriptor(0x4000, 0x2B, 0x81, 0),       # available 16-bit (286) TSS
    0x70: descriptor(0, 0xFFFFF, 0x90),            # flat read-only data
    0x78: descriptor(0x20000, 0xFFFF, 0x92, 0),    # 16-bit data (B = 0) based at 0x20000
    0x80: descriptor(0, CODE, 0x9A, 0x4),          # 32-bit code, byte limit (set by the test)
}
GDT_ENTRIES = 17
LDT_ENTRIES = descriptor(0, 0, 0) + descriptor(0x30000, 0xFFF, 0x92, 0x4)

HANDLERS = "".join(f"""
handler_{vector}:
    mov ax, 0x10
    mov ds, ax
    mov dword [{RESULT}], {vector}
    pop eax
    mov [{RESULT + 4}], eax
    hlt
""" for vector in VECTORS_WITH_CODE) + "".join(f"""
handler_{vector}:
    mov ax, 0x10
    mov ds, ax
    mov dword [{RESULT}], {vector}
    mov dword [{RESULT + 4}], 0xFFFFFFFF
    hlt
""" for vector in OTHER_VECTORS) + f"""
double_fault_task:              ; entered through a task gate: error code on its stack
    pop eax
    mov [{RESULT + 4}], eax
    mov dword [{RESULT}], 8
    hlt
"""



def to_ring3(eflags: int) -> str:
    """IRETD to `user:` at CPL 3 (code 53h, stack 23h:8000h) with these EFLAGS; the
    label follows."""
    return f"""    push dword 0x23
    push dword 0x8000
    push dword {eflags:#x}
    push dword 0x53
    push dword user
    iretd
user:
"""


def run_protected(source: str, idt_limit: int = 0x3FF, absent_gates: Tuple[int, ...] = (),
                  setup: Optional[Callable[[Any, Dict[int, int]], None]] = None,
                  fpu: bool = False, model: str = "80486") -> Tuple[Any, Optional[Tuple[int, int]]]:
    """Run `source` (32-bit, CPL 0, flat DS/ES/SS) to its HLT; returns the machine
    and (vector, error code) of the exception taken, or None."""
    code = assemble(source + "\n    hlt\n" + HANDLERS, bits=32, org=CODE)
    labels = handler_offsets(source)
    machine = make_machine(model, fpu=fpu)
    memory = machine.bus.memory
    memory[CODE:CODE + len(code)] = code
    gdt = bytearray(8 * GDT_ENTRIES)
    for selector, entry in SEGMENTS.items():
        gdt[selector:selector + 8] = entry
    memory[GDT:GDT + len(gdt)] = gdt
    memory[LDT:LDT + len(LDT_ENTRIES)] = LDT_ENTRIES
    for vector, offset in labels.items():
        if vector == 8:
            continue                                            # see the task-gate test
        access = 0x0E if vector in absent_gates else 0x8E      # present or not
        memory[IDT + vector * 8:IDT + vector * 8 + 8] = gate(offset, 0x08, access)
    memory[RESULT:RESULT + 8] = b"\xAA" * 8
    cpu = machine.cpu
    cpu.gdtr_base, cpu.gdtr_limit = GDT, len(gdt) - 1
    cpu.idtr_base, cpu.idtr_limit = IDT, idt_limit
    cpu.set_reg("cr0", cpu.get_reg("cr0") | 1)
    for name, selector in (("cs", 0x08), ("ds", 0x10), ("es", 0x10), ("ss", 0x10)):
        cpu.set_reg(name, selector)
    cpu.rebuild()
    cpu.set_reg("esp", 0x9000)
    cpu.set_reg("eip", CODE)
    if setup is not None:
        setup(machine, labels)
    reason = run_until_stopped(machine, 100_000)
    assert reason == "halted", (reason, machine.cpu.describe())
    vector, error = struct.unpack("<II", bytes(memory[RESULT:RESULT + 8]))
    if vector == 0xAAAAAAAA:
        return machine, None
    return machine, (vector, None if error == 0xFFFFFFFF else error)


def handler_offsets(source: str):
    """Where each handler lands: assemble once with the labels exported."""
    vectors = VECTORS_WITH_CODE + OTHER_VECTORS
    listing = source + "\n    hlt\n" + HANDLERS + "".join(
        f"\n    dd handler_{vector}" for vector in vectors) + "\n    dd double_fault_task"
    code = assemble(listing, bits=32, org=CODE)
    table = struct.unpack(f"<{len(vectors) + 1}I", code[-4 * (len(vectors) + 1):])
    labels = dict(zip(vectors, table))
    labels[8] = table[-1]
    return labels


@pytest.mark.parametrize("source, expected", [
    ("xor eax, eax\n mov ss, ax", (13, 0)),                    # null SS
    ("mov ax, 0x88\n mov ds, ax", (13, 0x88)),                 # beyond the GDT limit
    ("mov ax, 0x18\n mov ds, ax", (11, 0x18)),                 # not present: #NP
    ("mov ax, 0x18\n mov ss, ax", (12, 0x18)),                 # stack not present: #SS
    ("mov ax, 0x20\n mov ss, ax", (13, 0x20)),                 # DPL 3 stack at CPL 0
    ("mov ax, 0x28\n mov ds, ax", (13, 0x28)),                 # execute-only code
    ("mov ax, 0x30\n mov es, ax", (13, 0x30)),                 # a TSS is not a data segment
    ("mov ax, 0x2B\n mov fs, ax", (13, 0x28)),                 # error code drops the RPL
    ("mov ax, 0x13\n mov ds, ax", (13, 0x10)),                 # RPL 3 above the data's DPL 0
    ("mov ax, 0x23\n mov gs, ax", None),                       # RPL 3, DPL 3: allowed at CPL 0
    ("xor eax, eax\n mov ds, ax\n mov eax, [0x100]", (13, 0)),  # null DS used
    ("mov ax, 0x38\n mov ds, ax\n mov eax, [0xFFD]", (13, 0)),  # limit 0xFFF, 4 bytes
    ("mov ax, 0x38\n mov ds, ax\n mov eax, [0xFFC]", None),
    ("mov ax, 0x38\n mov ds, ax\n mov ebx, 0xFFE\n mov ax, [ebx]", None),     # ModRM forms
    ("mov ax, 0x38\n mov ds, ax\n mov ebx, 0xFFF\n mov ax, [ebx]", (13, 0)),
    ("mov ax, 0x38\n mov ds, ax\n mov ebx, 0xFF0\n mov esi, 0xD\n add [ebx + esi], eax", (13, 0)),
    ("mov ax, 0x38\n mov ds, ax\n mov esi, 0x3FF\n mov eax, [esi * 4 + 2]", (13, 0)),
    ("mov ax, 0x58\n mov ds, ax\n mov eax, [0x1000]\n mov eax, [0xFFFFFFFC]", None),
    ("mov ax, 0x58\n mov ds, ax\n mov eax, [0xFFE]", (13, 0)),    # expand-down: at/below limit
    ("mov ax, 0x58\n mov ds, ax\n mov eax, [0xFFFFFFFE]", (13, 0)),
    ("mov ax, 0x58\n mov ss, ax\n push eax\n mov eax, [esp]", None),
    ("mov ax, 0x58\n mov ss, ax\n mov eax, [ss:0x800]", (12, 0)),  # #SS for the stack
    ("int 0x31", (11, 0x31 * 8 + 2)),                          # gate not present
    ("int 0x80", (13, 0x80 * 8 + 2)),                          # beyond the IDT limit
])
def test_segment_and_gate_faults(source: str, expected) -> None:
    _, taken = run_protected(source, absent_gates=(0x31,))
    assert taken == expected


def test_data_load_sets_the_accessed_bit_and_the_cache() -> None:
    machine, taken = run_protected("mov ax, 0x38\n mov gs, ax\n mov dword [gs:0x10], 0x1234")
    assert taken is None
    memory = machine.bus.memory
    assert memory[GDT + 0x38 + 5] == 0x93
    assert memory[0x20010:0x20014] == (0x1234).to_bytes(4, "little")
    cpu = machine.cpu
    assert (cpu.seg_base[5], cpu.seg_limit[5]) == (0x20000, 0xFFF)


def test_ldt_selector_after_lldt() -> None:
    machine, taken = run_protected("mov ax, 0x40\n lldt ax\n mov ax, 0x0C\n mov ds, ax\n"
                                   "mov dword [0x20], 0xCAFE\n sldt bx")
    assert taken is None
    assert machine.bus.memory[0x30020:0x30022] == b"\xFE\xCA"
    assert machine.cpu.get_reg("bx") == 0x40


def test_far_jump_to_a_16_bit_code_segment() -> None:
    machine, taken = run_protected(f"jmp 0x48:code16 - {CODE}\nbits 16\ncode16:\n mov eax, 0x12345678\n"
                                   " hlt\nbits 32")
    assert taken is None
    assert machine.cpu.get_reg("eax") == 0x12345678 and not machine.cpu.code32


def test_interrupt_gate_pushes_eflags_cs_eip() -> None:
    machine, taken = run_protected("int 0x30")
    assert taken == (0x30, None)
    cpu = machine.cpu
    esp = cpu.get_reg("esp")
    eip, cs, eflags = struct.unpack("<III", bytes(machine.bus.memory[esp:esp + 12]))
    assert cs == 0x08 and eip == CODE + 2 and eflags & 2


def task_gate_for_df(machine: Any, labels: Dict[int, int]) -> None:
    """IDT entry 8: a task gate to the TSS at 0x4000 (selector 0x30), whose task
    runs `double_fault_task` on its own stack."""
    memory = machine.bus.memory
    tss = 0x4000
    fields = {0x20: labels[8], 0x24: 0x2, 0x38: 0x8800, 0x48: 0x10, 0x4C: 0x08,
              0x50: 0x10, 0x54: 0x10}
    for offset, value in fields.items():
        memory[tss + offset:tss + offset + 4] = value.to_bytes(4, "little")
    memory[IDT + 8 * 8:IDT + 8 * 8 + 8] = gate(0, 0x30, 0x85)
    cpu = machine.cpu
    # The interrupted task's TSS at 0x5000 (an event switch leaves its busy bit).
    cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x60, 0x5000, 0x67, 0x8B


def test_double_fault_through_a_task_gate() -> None:
    """#NP (absent gate 31h) while delivering #NP (absent gate 11) is a double
    fault; IDT entry 8 is a task gate, so #DF runs as its own task."""
    machine, taken = run_protected("int 0x31", absent_gates=(0x31, 11), setup=task_gate_for_df)
    assert taken == (8, 0)
    cpu = machine.cpu
    assert cpu.tr == 0x30 and cpu.get_reg("eflags") & 0x4000      # NT: nested task
    memory = machine.bus.memory
    assert memory[0x4000:0x4002] == b"\x60\x00"                   # back link
    assert memory[GDT + 0x30 + 5] == 0x8B                            # busy
    assert int.from_bytes(memory[0x5020:0x5024], "little") == CODE   # faulting EIP saved


def test_hardware_interrupt_in_ring3_switches_to_the_tss_stack() -> None:
    """An IRQ taken at CPL 3 enters the ring-0 handler on SS0:ESP0 from the TSS
    with SS, ESP, EFLAGS, CS, EIP of ring 3 on that stack."""
    controller = []

    def ring0_stack(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        memory[0x5004:0x500C] = struct.pack("<II", 0x8800, 0x10)
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B
        controller.append(VectorController(machine, 0x30))

    source = to_ring3(0x202) + """    inc ecx
    jmp user
"""
    def request_later(machine_: Any, labels: Dict[int, int]) -> None:
        ring0_stack(machine_, labels)
        machine_.clock.schedule(50_000, lambda: controller[0].request())

    machine, taken = run_protected(source, setup=request_later)
    assert taken == (0x30, None)
    cpu = machine.cpu
    assert cpu.cpl == 0 and cpu.get_reg("ss") == 0x10 and cpu.get_reg("esp") == 0x8800 - 20
    eip, cs, eflags, esp, ss = struct.unpack("<5I", bytes(machine.bus.memory[0x8800 - 20:0x8800]))
    assert (cs, esp, ss) == (0x53, 0x8000, 0x23) and eflags & 0x200
    assert cpu.get_reg("ecx") > 0


@pytest.mark.parametrize("code, expected", [
    (b"\xCC", (3, None)),          # INT3 is not IOPL-sensitive: through the IDT to ring 0
    (b"\xCD\x30", (13, 0)),       # INT n with IOPL < 3 traps to the monitor
])
@pytest.mark.parametrize("paged, esp0", [
    (False, 0x8800),
    (True, 0x8800),                 # the frame in one page: stored at once (`push_frame`)
    (True, 0x8010),                 # across two pages: value by value
])
def test_software_interrupts_from_virtual_8086_mode(code: bytes, expected, paged: bool, esp0: int) -> None:
    def v86_task(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        memory[0x5004:0x500C] = struct.pack("<II", esp0, 0x10)
        if paged:
            identity_paging(machine)
        memory[0x7000:0x7000 + len(code) + 1] = code + b"\xF4"
        memory[IDT + 3 * 8 + 5] = 0xEE                          # DPL 3 interrupt gate
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B

    source = """
    push dword 0x1111       ; GS
    push dword 0x2222       ; FS
    push dword 0x3333       ; DS
    push dword 0x4444       ; ES
    push dword 0x0000       ; SS
    push dword 0x6000       ; SP
    push dword 0x00020002   ; VM, IOPL 0
    push dword 0x0700       ; CS
    push dword 0x0000       ; IP: 0700:0000 = 0x7000
    iretd
"""
    machine, taken = run_protected(source, setup=v86_task)
    assert taken == expected
    cpu = machine.cpu
    assert cpu.cpl == 0 and not cpu.get_reg("eflags") & 0x20000
    # The handlers pop any error code, so the frame starts 36 bytes below ESP0.
    eip, cs, eflags, esp, ss, es, ds, fs, gs = struct.unpack(
        "<9I", bytes(machine.bus.memory[esp0 - 36:esp0]))
    assert (cs, eflags & 0x20000, esp, ss, es, ds, fs, gs) == (
        0x700, 0x20000, 0x6000, 0, 0x4444, 0x3333, 0x2222, 0x1111)
    assert eip == len(code) if expected[0] == 3 else eip == 0      # trap vs. fault
    assert cpu.get_reg("fs") == 0 and cpu.get_reg("gs") == 0       # nulled on entry


def test_jmp_to_a_tss_switches_tasks_without_nesting() -> None:
    def two_tasks(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        fields = {0x20: labels[8], 0x24: 0x2, 0x38: 0x8800, 0x48: 0x10, 0x4C: 0x08,
                  0x50: 0x10, 0x54: 0x10}
        for offset, value in fields.items():
            memory[0x4000 + offset:0x4000 + offset + 4] = value.to_bytes(4, "little")
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x60, 0x5000, 0x67, 0x8B

    machine, taken = run_protected("mov ebx, 0x1234\n jmp 0x30:0", setup=two_tasks)
    assert taken is not None and taken[0] == 8          # the new task's code ran
    cpu = machine.cpu
    memory = machine.bus.memory
    assert cpu.tr == 0x30 and not cpu.get_reg("eflags") & 0x4000          # no NT
    assert (memory[GDT + 0x30 + 5], memory[GDT + 0x60 + 5]) == (0x8B, 0x89)
    assert memory[0x4000:0x4002] == b"\x00\x00"                          # no back link
    saved_eip, saved_ebx = (int.from_bytes(memory[0x5000 + o:0x5004 + o], "little")
                            for o in (0x20, 0x34))
    assert (saved_eip, saved_ebx) == (CODE + 5 + 7, 0x1234)
    assert cpu.cr[0] & 0x8                                                  # CR0.TS


@pytest.mark.parametrize("source", [
    "int 0x30",                     # a 12-byte interrupt frame
    "call 0x08:far_target\nfar_target:",   # an 8-byte far return address
])
def test_frame_that_does_not_fit_the_stack_raises_ss(source: str) -> None:
    """ESP = 4 in a 4 KiB stack segment: the pushes would wrap below offset 0, so
    #SS(0) is raised before anything is written; delivering it on the same stack
    fails again, which makes a double fault (handled by a task)."""
    machine, taken = run_protected("mov ax, 0x38\n mov ss, ax\n mov esp, 4\n" + source,
                                   setup=task_gate_for_df)
    assert taken == (8, 0)
    first = [entry[:2] for entry in machine.cpu.recent_exceptions]
    assert first[:2] == [(12, 0), (12, 1)]      # the second one is external (EXT)
    assert bytes(machine.bus.memory[0x20000:0x20008]) == bytes(8)      # nothing pushed


@pytest.mark.parametrize("source", ["push eax", "call near_target\nnear_target:", "push ds"])
def test_push_past_the_bottom_of_the_stack_raises_ss(source: str) -> None:
    """ESP = 2 in a 4 KiB stack segment: a 4-byte push would wrap below offset 0:
    #SS(0) before anything is written (then a double fault, as above)."""
    machine, taken = run_protected("mov ax, 0x38\n mov ss, ax\n mov esp, 2\n mov eax, -1\n" + source,
                                   setup=task_gate_for_df)
    assert taken == (8, 0)
    assert [entry[:2] for entry in machine.cpu.recent_exceptions][:1] == [(12, 0)]
    assert bytes(machine.bus.memory[0x20FFC:0x21000]) == bytes(4)      # nothing pushed


@pytest.mark.parametrize("source", ["pop eax", "ret", "pop ds"])
def test_pop_past_the_stack_limit_raises_ss(source: str) -> None:
    """ESP at the limit of a 4 KiB stack segment: popping reads past it, #SS(0)."""
    machine, taken = run_protected("mov ax, 0x38\n mov ss, ax\n mov esp, 0x1000\n" + source)
    assert taken == (12, 0)


@pytest.mark.parametrize("paged", [False, True], ids=["flat", "paged"])
@pytest.mark.parametrize("eflags, cr0_am, expected", [
    (0x40002, True, (17, 0)),       # CPL 3, EFLAGS.AC, CR0.AM: #AC(0)
    (0x00002, True, None),          # AC clear: no check
    (0x40002, False, None),         # AM clear: no check
])
def test_alignment_check_in_ring3(eflags: int, cr0_am: bool, expected, paged: bool) -> None:
    """SDM 6.15 interrupt 17, with paging off and on (the paged accessors test
    alignment themselves); without #AC a word read across a page boundary still
    reads both pages."""
    def ring3(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        memory[0x5004:0x500C] = struct.pack("<II", 0x8800, 0x10)
        memory[0x1FFF:0x2001] = b"\x34\x12"
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B
        if paged:
            identity_paging(machine)
        if cr0_am:
            cpu.write_cr(0, cpu.cr[0] | 0x40000)

    source = f"""
{to_ring3(eflags)}    mov eax, [ss:0x1000]        ; aligned
    mov eax, [ss:0x1001]        ; misaligned dword
    mov bx, [ss:0x1FFF]         ; a word across a page boundary
    int3                        ; (a DPL 0 gate: #GP from ring 3 ends the run)
"""
    machine, taken = run_protected(source, setup=ring3)
    assert taken == (expected or (13, 3 * 8 + 2))
    if expected is None:
        assert machine.cpu.get_reg("bx") == 0x1234


def identity_paging(machine: Any, present_pages: int = 1024) -> None:
    """Page directory at 0x70000, one page table at 0x71000 mapping the first
    `present_pages` pages of the first 4 MiB to themselves (user, writable)."""
    memory = machine.bus.memory
    memory[0x70000:0x70004] = struct.pack("<I", 0x71000 | 7)
    for page in range(1024):
        entry = page << 12 | 7 if page < present_pages else 0
        memory[0x71000 + 4 * page:0x71004 + 4 * page] = struct.pack("<I", entry)
    machine.cpu.write_cr(3, 0x70000)
    machine.cpu.write_cr(0, machine.cpu.cr[0] | 0x80000000)


def test_paged_register_displacement_loads() -> None:
    """Dword loads from [reg+disp] under paging (the form the decoder writes out
    with the TLB hit inlined): an aligned load (a TLB miss, then a hit), a
    misaligned one, one across a page boundary, and one from a page that is not
    present (#PF with CR2 = the address, nothing loaded); stores of the same form."""
    def paged(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        memory[0x1FFC:0x2004] = bytes(range(1, 9))
        identity_paging(machine, present_pages=0x300)

    source = """
    mov ebx, 0x1000
    mov ebp, [ebx + 0xFFC]      ; aligned: TLB miss, filled
    mov ecx, [ebx + 0xFFC]      ; aligned: TLB hit
    mov edx, [ebx + 0xFFD]      ; misaligned, same page
    mov esi, [ebx + 0xFFE]      ; across the page boundary
    mov ebx, 0x6000
    mov [ebx + 0x100], ecx      ; aligned store: TLB miss, then a hit
    mov [ebx + 0x104], edx
    mov [ebx + 0x109], esi      ; misaligned store
    mov [ebx + 0xAFF0], ecx     ; the code page this runs from: slow path, still stored
    mov edi, 0x12345678
    mov ebx, 0x300000
    mov edi, [ebx + 0x10]       ; page not present: #PF
"""
    machine, taken = run_protected(source, setup=paged)
    cpu = machine.cpu
    assert taken == (14, 0)
    assert cpu.cr[2] == 0x300010
    assert [cpu.get_reg(r) for r in ("ebp", "ecx", "edx", "esi", "edi")] == [
        0x04030201, 0x04030201, 0x05040302, 0x06050403, 0x12345678]
    memory = machine.bus.memory
    assert bytes(memory[0x6100:0x610D]) == bytes.fromhex("01020304 02030405 00 03040506")
    assert memory[0x10FF0:0x10FF4] == bytes.fromhex("01020304")


def test_paged_rep_stos_fills_page_by_page_and_faults_at_the_missing_page(monkeypatch) -> None:
    """REP STOSD under paging with CR0.AM set (as Linux runs its kernel) fills the
    pages the element loop would, each through its own translation (page 46h is
    mapped elsewhere) with its PTE made dirty, and stops with #PF at the first
    element of the page that is not present, EDI and ECX at that element.  The
    runs inside a page are stored at once (`fast_stos`); a word across a page
    boundary goes element by element."""
    from pcmachine.plugins.cpu import ops_string
    runs = []
    fast_stos = ops_string.fast_stos

    def counting(cpu, regs, *rest):
        before = regs[1]
        fast_stos(cpu, regs, *rest)
        runs.append(before - regs[1])
    monkeypatch.setattr(ops_string, "fast_stos", counting)

    def paged(machine: Any, labels: Dict[int, int]) -> None:
        identity_paging(machine)
        memory = machine.bus.memory
        memory[0x71000 + 4 * 0x46:0x71000 + 4 * 0x47] = struct.pack("<I", 0x30000 | 7)
        memory[0x71000 + 4 * 0x48:0x71000 + 4 * 0x49] = bytes(4)     # not present
        machine.cpu.write_cr(0, machine.cpu.cr[0] | 0x40000)

    source = """
    cld
    mov edi, 0x41FFF            ; words across the page boundary at 0x42000
    mov ecx, 3
    mov eax, 0x1234
    rep stosw
    mov edi, 0x45FF0
    mov ecx, 0x1000
    mov eax, 0xA1B2C3D4
    rep stosd                   ; 4 dwords, pages 46h and 47h, then #PF at 0x48000
"""
    machine, taken = run_protected(source, setup=paged)
    cpu = machine.cpu
    memory = machine.bus.memory
    assert taken == (14, 2)                             # a write to a page not present
    assert cpu.cr[2] == 0x48000
    assert (cpu.get_reg("edi"), cpu.get_reg("ecx")) == (0x48000, 0x1000 - 4 - 2048)
    fill = bytes.fromhex("D4C3B2A1")
    assert bytes(memory[0x45FF0:0x46000]) == fill * 4
    assert bytes(memory[0x30000:0x31000]) == fill * 1024 and bytes(memory[0x47000:0x48000]) == fill * 1024
    assert bytes(memory[0x46000:0x46010]) == bytes(16)  # page 46h is at physical 0x30000
    assert bytes(memory[0x41FFF:0x42005]) == bytes.fromhex("341234123412")
    for page in (0x45, 0x46, 0x47):
        assert struct.unpack_from("<I", memory, 0x71000 + 4 * page)[0] & 0x40   # dirty
    assert runs == [0, 4 + 1024 + 1024]    # STOSW: none at once; STOSD: pages 45h-47h


#: A page of code at linear 0x40000 (page 0x40 of `identity_paging`'s table): two
#: physical pages holding `mov eax, N; ret` with N = 1 and 2.
SUBROUTINE_PTE = 0x71000 + 4 * 0x40


def code_pages(machine: Any, labels: Dict[int, int], rights: int = 7) -> None:
    identity_paging(machine)
    memory = machine.bus.memory
    for page, value in ((0x20000, 1), (0x21000, 2)):
        memory[page:page + 6] = b"\xB8" + struct.pack("<I", value) + b"\xC3"
    memory[SUBROUTINE_PTE:SUBROUTINE_PTE + 4] = struct.pack("<I", 0x20000 | rights)


def test_paged_code_follows_remapping_and_rewriting() -> None:
    """Blocks run by linear address under paging (`paging.run_paged`'s fetch cache)
    still follow the page tables and the bytes: after INVLPG, after a CR3 reload
    and after a store into the code, the same call runs the new code."""
    source = f"""
    mov ecx, 3
again:
    call 0x40000                ; run often enough to be looked up by linear address
    loop again
    mov ebx, eax
    mov dword [{SUBROUTINE_PTE}], 0x21007
    invlpg [0x40000]
    call 0x40000
    mov edx, eax
    call 0x40000
    mov dword [{SUBROUTINE_PTE}], 0x20007
    mov eax, cr3
    mov cr3, eax
    call 0x40000
    mov esi, eax
    call 0x40000
    mov byte [0x40001], 3       ; the page's code rewritten (physical 0x20001)
    call 0x40000
    mov edi, eax
"""
    machine, taken = run_protected(source, setup=code_pages)
    assert taken is None
    assert [machine.cpu.get_reg(r) for r in ("ebx", "edx", "esi", "edi")] == [1, 2, 1, 3]


def test_paged_code_on_global_pages_outlives_a_cr3_reload() -> None:
    """With CR4.PGE a MOV CR3 drops only the non-global translations, and with them
    the blocks found by linear address on those pages: a global page's remapping
    shows only after INVLPG (SDM vol. 3A 4.10.4.1), a non-global one's at once."""
    def pages(machine: Any, labels: Dict[int, int]) -> None:
        code_pages(machine, labels, rights=0x107)          # 0x40000: global
        memory = machine.bus.memory
        memory[0x22000:0x22006] = b"\xB8" + struct.pack("<I", 4) + b"\xC3"
        memory[SUBROUTINE_PTE + 4:SUBROUTINE_PTE + 8] = struct.pack("<I", 0x22007)   # 0x41000
        machine.cpu.write_cr(4, 0x80)

    source = f"""
    mov ecx, 3
again:
    call 0x40000                ; both pages' code looked up by linear address
    call 0x41000
    loop again
    mov dword [{SUBROUTINE_PTE}], 0x21107
    mov dword [{SUBROUTINE_PTE} + 4], 0x20007
    mov eax, cr3
    mov cr3, eax
    call 0x40000                ; global: the old translation, the old code
    mov ebx, eax
    call 0x41000                ; not global: the new frame
    mov edx, eax
    invlpg [0x40000]
    call 0x40000
    mov esi, eax
"""
    machine, taken = run_protected(source, setup=pages, model="pentiumpro")
    assert taken is None
    assert [machine.cpu.get_reg(r) for r in ("ebx", "edx", "esi")] == [1, 1, 2]


@pytest.mark.parametrize("watched", [False, True])
def test_paged_stores_beside_decoded_code(watched: bool) -> None:
    """Under paging, the CPU's stores to the bytes of a code page that hold no
    code (`Bus.beside_code`, stored by the paged accessors themselves) reach
    memory, a store over an instruction is still seen by the next run of it, and
    a page a debugger watches sends every store to its watcher."""
    source = f"""
    mov esp, {CODE + 0xF00}       ; the stack, in the code's page
    mov ecx, 2
again:
    mov word [{CODE + 0xE00}], 0x5678
    mov byte [{CODE + 0xE02}], 0x9A
    mov dword [{CODE + 0xE04}], 0x12345678
    call target
    mov byte [target + 1], 3      ; the immediate of target's first instruction
    loop again
    jmp done
target:
    mov al, 7
    add bl, al
    ret
done:
"""
    writes = []

    def setup(machine: Any, labels: Dict[int, int]) -> None:
        identity_paging(machine)
        if watched:
            machine.bus.watch_data(CODE >> 12, lambda address, size, write, value:
                                   writes.append((address, size, value)) if write else None)

    machine, taken = run_protected(source, setup=setup)
    assert taken is None
    assert machine.cpu.get_reg("ebx") & 0xFF == 7 + 3
    memory = machine.bus.memory
    assert memory[CODE + 0xE00:CODE + 0xE08] == bytes([0x78, 0x56, 0x9A, 0, 0x78, 0x56, 0x34, 0x12])
    assert (CODE >> 12 in machine.bus.beside_code) is not watched
    if watched:
        assert writes[:4] == [(CODE + 0xE00, 2, 0x5678), (CODE + 0xE02, 1, 0x9A),
                              (CODE + 0xE04, 4, 0x12345678), (CODE + 0xEFC, 4, writes[3][2])]


@pytest.mark.parametrize("model, total", [("pentium", 1 + 2 + 3), ("80486", 0 + 1 + 2)])
def test_paged_store_into_the_running_block(model: str, total: int) -> None:
    """Under paging too, a Pentium runs the immediate a store just wrote into the
    next instruction of the same block; a 486 its prefetched byte."""
    machine, taken = run_protected("""
    mov ecx, 3
    mov bl, 1
    xor edx, edx
again:
    mov [patched + 1], bl       ; the immediate of the next instruction
patched:
    mov al, 0
    add dl, al
    inc bl
    loop again
""", setup=lambda machine, labels: identity_paging(machine), model=model)
    assert taken is None
    assert machine.cpu.get_reg("edx") == total


def test_paged_supervisor_code_faults_when_user_code_jumps_there() -> None:
    """A supervisor page's code run at CPL 0 (so known by its linear address) is
    #PF (user, protection) at CPL 3, with CR2 = its address."""
    def supervisor_page(machine: Any, labels: Dict[int, int]) -> None:
        code_pages(machine, labels, rights=3)
        machine.bus.memory[0x5004:0x500C] = struct.pack("<II", 0x8800, 0x10)
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B

    machine, taken = run_protected("""
    mov ecx, 3
again:
    call 0x40000
    loop again
""" + to_ring3(0x2) + "    call 0x40000\n", setup=supervisor_page)
    assert taken == (14, 5)
    assert machine.cpu.cr[2] == 0x40000


def test_code_past_the_cs_limit_raises_gp() -> None:
    """A 16-bit code segment of 0x100 bytes: falling through its last byte is
    #GP(0) at the first offset past the limit."""
    SEGMENTS[0x40] = descriptor(CODE, 0xFF, 0x9A, 0)
    try:
        machine, taken = run_protected(f"jmp 0x40:edge - {CODE}\n times 0xFE - ($ - $$) nop\n"
                                       "bits 16\nedge:\n nop\n nop\n nop\nbits 32")
    finally:
        SEGMENTS[0x40] = descriptor(LDT, 0xF, 0x82, 0)
    assert taken == (13, 0)
    eip, cs = struct.unpack("<II", bytes(machine.bus.memory[0x9000 - 12:0x9000 - 4]))
    assert (cs, eip) == (0x40, 0x100)


def test_call_to_a_16_bit_tss_and_iret_back() -> None:
    """A 286 task (16-bit TSS) called from a 32-bit task and returning with IRET:
    the back link, its saved registers and the caller's restored state."""
    def tasks(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        fields = {0x0E: 0x200, 0x10: 0x2, 0x1A: 0x7000, 0x22: 0x10, 0x24: 0x48,
                  0x26: 0x10, 0x28: 0x10}                  # IP FLAGS SP ES CS SS DS
        for offset, value in fields.items():
            memory[0x4000 + offset:0x4000 + offset + 2] = value.to_bytes(2, "little")
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x60, 0x5000, 0x67, 0x8B

    machine, taken = run_protected("""
    mov ebx, 0xB0B0B0B0
    call 0x68:0
    mov [0x600], ebx
    hlt
    times 0x200 - ($ - $$) db 0
bits 16
    mov ax, 0x1616
    pushf
    pop word [0x604]        ; NT is set inside the called task
    iret
bits 32""", setup=tasks)
    assert taken is None
    memory = machine.bus.memory
    assert memory[0x600:0x604] == b"\xB0\xB0\xB0\xB0"             # caller's EBX back
    assert int.from_bytes(memory[0x604:0x606], "little") & 0x4000
    assert memory[0x4000:0x4002] == b"\x60\x00"                       # back link
    assert memory[0x4012:0x4014] == b"\x16\x16"                       # AX saved at IRET
    assert (memory[GDT + 0x68 + 5], memory[GDT + 0x60 + 5]) == (0x81, 0x8B)
    assert machine.cpu.tr == 0x60 and machine.cpu.code32


@pytest.mark.parametrize("iopl, expected_if", [(0, 0x200), (3, 0)])
def test_popf_in_ring3_keeps_iopl_and_keeps_if_unless_iopl_allows(iopl: int,
                                                                   expected_if: int) -> None:
    def ring3(machine: Any, labels: Dict[int, int]) -> None:
        machine.bus.memory[0x5004:0x500C] = struct.pack("<II", 0x8800, 0x10)
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B

    machine, taken = run_protected(f"""
{to_ring3(0x202 | (iopl << 12))}    push dword 0x1002 ^ ({iopl} << 12)   ; other IOPL, IF clear
    popfd
    pushfd
    pop dword [ss:0x700]
    int3
""", setup=ring3)
    assert taken == (13, 3 * 8 + 2)
    flags = int.from_bytes(machine.bus.memory[0x700:0x704], "little")
    assert flags & 0x3000 == iopl << 12
    assert flags & 0x200 == expected_if


@pytest.mark.parametrize("instruction", [
    "hlt", "lgdt [ss:0x700]", "lidt [ss:0x700]", "mov cr0, eax", "mov eax, cr3",
    "mov dr7, eax", "clts", "invlpg [ss:0x700]", "lmsw ax", "lldt ax", "ltr ax", "wbinvd",
    "cli", "in al, 0x60", "out 0x80, al",
])
def test_privileged_instructions_fault_in_ring3(instruction: str) -> None:
    """Each raises #GP(0) at CPL 3 (IOPL 0, no TSS I/O bitmap for IN/OUT)."""
    def ring3(machine: Any, labels: Dict[int, int]) -> None:
        machine.bus.memory[0x5004:0x500C] = struct.pack("<II", 0x8800, 0x10)
        machine.bus.memory[0x5066:0x5068] = struct.pack("<H", 0x68)   # bitmap past the limit
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B

    machine, taken = run_protected(f"""
    mov dword [0x710], target
{to_ring3(0x2)}    xor eax, eax
target:
    {instruction}
""", setup=ring3)
    assert taken == (13, 0)
    memory = machine.bus.memory
    eip, cs = struct.unpack("<II", bytes(memory[0x8800 - 20:0x8800 - 12]))
    assert (cs, eip) == (0x53, int.from_bytes(memory[0x710:0x714], "little"))   # a fault


def test_arpl_raises_the_rpl() -> None:
    machine, taken = run_protected("""
    mov ax, 0x10
    mov bx, 0x13
    arpl ax, bx
    setz cl
    mov [0x700], ax
    mov [0x702], cl
    arpl ax, bx             ; already RPL 3: unchanged, ZF = 0
    setz cl
    mov [0x703], cl
""")
    assert taken is None
    assert bytes(machine.bus.memory[0x700:0x704]) == b"\x13\x00\x01\x00"


def test_arpl_is_undefined_in_real_mode() -> None:
    machine = make_machine("80486")
    code = assemble("arpl ax, bx\nhlt")
    machine.bus.memory[0x7C00:0x7C00 + len(code)] = code
    machine.bus.memory[6 * 4:6 * 4 + 4] = struct.pack("<HH", 0x7C00 + len(code) - 1, 0)  # #UD -> hlt
    machine.cpu.set_reg("cs", 0)
    machine.cpu.set_reg("eip", 0x7C00)
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine, 1000) == "halted"
    assert struct.unpack("<H", bytes(machine.bus.memory[0x7000 - 6:0x7000 - 4]))[0] == 0x7C00


# ---------------------------------------------------------------- access rights
# Writes through read-only data and code segments and reads through execute-only
# code raise #GP(0) in every instruction form that reaches memory (SDM vol. 3A 5.5,
# table 5-2 and 6.13); test386.asm's POST 0x12 checks the same.
READ_ONLY_DS = "mov ax, 0x70\n mov ds, ax\n mov ebx, 0x100\n"
READ_ONLY_ES = "mov ax, 0x70\n mov es, ax\n mov edi, 0x100\n mov esi, 0x200\n mov ecx, 4\n"
EXECUTE_ONLY_CS = f"jmp 0x28:xo\nxo:\n mov esi, 0x100\n"


@pytest.mark.parametrize("source", [
    READ_ONLY_DS + "mov [0x100], eax",                 # A3 moffs
    READ_ONLY_DS + "mov [ebx], al",                    # 88 /r
    READ_ONLY_DS + "mov dword [ebx + esi], 5",         # C7, two registers
    READ_ONLY_DS + "add [ebx], eax",                   # read-modify-write
    READ_ONLY_DS + "or dword [ebx], 1",
    READ_ONLY_DS + "inc byte [ebx]",
    READ_ONLY_DS + "not dword [ebx]",
    READ_ONLY_DS + "neg word [ebx]",
    READ_ONLY_DS + "shl dword [ebx], 1",
    READ_ONLY_DS + "xchg [ebx], eax",
    READ_ONLY_DS + "sete [ebx]",
    READ_ONLY_DS + "pop dword [ebx]",
    READ_ONLY_DS + "mov [ebx], ds",
    READ_ONLY_DS + "sgdt [ebx]",
    READ_ONLY_DS + "sidt [ebx]",
    READ_ONLY_DS + "sldt [ebx]",
    READ_ONLY_DS + "str [ebx]",
    READ_ONLY_DS + "smsw [ebx]",
    READ_ONLY_DS + "bts dword [ebx], 3",
    READ_ONLY_DS + "btr [ebx], eax",
    READ_ONLY_DS + "shld [ebx], eax, 4",
    READ_ONLY_DS + "cmpxchg [ebx], ecx",
    READ_ONLY_DS + "xadd [ebx], ecx",
    READ_ONLY_DS + "mov eax, 3\n arpl [ebx], ax",  # RPL raised: the write faults
    READ_ONLY_ES + "stosd",
    READ_ONLY_ES + "rep movsb",
    "mov [cs:0x100], eax",                             # code is never writable
    "mov ax, 0x08\n mov ds, ax\n mov dword [0x100], 1",  # readable code in DS
    EXECUTE_ONLY_CS + "mov eax, [cs:esi]",
    EXECUTE_ONLY_CS + "cs lodsb",
    EXECUTE_ONLY_CS + "mov ax, 0x70\n mov es, ax\n mov edi, 0\n cs movsb",
    EXECUTE_ONLY_CS + "mov ebx, esi\n cs xlatb",
    EXECUTE_ONLY_CS + "lgdt [cs:esi]",
    EXECUTE_ONLY_CS + "les eax, [cs:esi]",
    EXECUTE_ONLY_CS + "jmp far [cs:esi]",
    EXECUTE_ONLY_CS + "push dword [cs:esi]",
    EXECUTE_ONLY_CS + "mov eax, [cs:0x100]",
])
def test_protection_faults(source: str) -> None:
    _, taken = run_protected(source)
    assert taken == (13, 0)


@pytest.mark.parametrize("source", [
    READ_ONLY_DS + "mov eax, [ebx]",                   # reading is allowed
    READ_ONLY_DS + "cmp [ebx], eax",
    READ_ONLY_DS + "test [ebx], eax",
    READ_ONLY_DS + "bt dword [ebx], 3",
    READ_ONLY_DS + "push dword [ebx]\n pop eax",
    READ_ONLY_DS + "xor eax, eax\n arpl [ebx], ax",   # RPL unchanged: no write, no fault
    READ_ONLY_ES + "repe cmpsb",
    READ_ONLY_ES + "scasd",
    READ_ONLY_ES + "mov ax, 0x10\n mov ds, ax\n mov es, ax\n stosd",  # reload: writable
    "mov eax, [cs:0x100]",                             # readable code
])
def test_allowed_accesses(source: str) -> None:
    _, taken = run_protected(source)
    assert taken is None


@pytest.mark.parametrize("source, expected", [
    ("fstp dword [ebx]", (13, 0)),
    ("fnstsw [ebx]", (13, 0)),
    ("fnstcw [ebx]", (13, 0)),
    ("fnsave [ebx]", (13, 0)),
    ("fnstenv [ebx]", (13, 0)),
    ("fld dword [ebx]\n fnstcw [ss:0x200]", None),     # a load; a store through SS
])
def test_x87_stores_check_the_segment(source: str, expected) -> None:
    _, taken = run_protected(READ_ONLY_DS + "fninit\n" + source, fpu=True)
    assert taken == expected


def test_read_only_write_leaves_memory_and_registers() -> None:
    machine, taken = run_protected(READ_ONLY_ES + "rep stosd")
    assert taken == (13, 0)
    cpu = machine.cpu
    assert (cpu.get_reg("ecx"), cpu.get_reg("edi")) == (4, 0x100)


def test_enter_checks_the_frame_before_changing_anything() -> None:
    """ENTER whose frame does not fit the stack segment raises #SS(0) with ESP and
    EBP untouched (limit 0xFFF, the frame would wrap below 0)."""
    machine, taken = run_protected("mov ax, 0x38\n mov ss, ax\n mov esp, 0x40\n"
                                   "mov ebp, 0x1234\n enter 0x40, 2")
    assert taken == (12, 0)
    cpu = machine.cpu
    assert cpu.get_reg("ebp") == 0x1234
    assert cpu.get_reg("esp") == 0x40 - 16 + 4     # the fault frame, its error code popped


def test_enter_on_a_16_bit_stack() -> None:
    """ENTER with a 32-bit operand on a 16-bit stack: SP alone moves, EBP gets all
    of ESP (80386 manual pseudo-code, Bochs); a 16-bit ENTER sets BP alone."""
    machine, taken = run_protected("mov ax, 0x78\n mov ss, ax\n mov esp, 0x12340100\n"
                                   "mov ebp, 0xABCD5678\n enter 8, 1\n"
                                   "mov esi, esp\n mov edi, ebp\n mov ebp, 0xABCD5678\n"
                                   "o16 enter 4, 0")
    assert taken is None
    cpu = machine.cpu
    assert (cpu.get_reg("esi"), cpu.get_reg("edi")) == (0x123400F0, 0x123400FC)
    memory = machine.bus.memory
    assert struct.unpack("<II", bytes(memory[0x200F8:0x20100])) == (0x123400FC, 0xABCD5678)
    assert (cpu.get_reg("esp"), cpu.get_reg("ebp")) == (0x123400EA, 0xABCD00EE)


LIMITED_BLOCK = b"\x42\x42\x43\x90\x41\xCB"   # inc edx, inc edx, inc ebx | nop, inc ecx, retf


def limit_cs_0x80_before_the_nop(machine: Any, labels: Dict[int, int]) -> None:
    memory = machine.bus.memory
    block = bytes(memory[CODE:CODE + 0x1000]).index(LIMITED_BLOCK) + CODE
    entry = descriptor(0, block + 2, 0x9A, 0x4)     # the last byte allowed: inc ebx
    memory[GDT + 0x80:GDT + 0x88] = entry


def test_a_cached_block_is_rechecked_under_a_smaller_cs_limit() -> None:
    """The block is decoded and cached through the flat CS, then reached through a
    CS whose limit ends inside it: the instruction past the limit raises #GP(0)
    and the ones before it run (SDM vol. 3A 5.3: the limit applies to fetches)."""
    machine, taken = run_protected("""
    xor edx, edx
    xor ebx, ebx
    xor ecx, ecx
    call 0x08:block
    call 0x80:block
    hlt
block:
    inc edx
    inc edx
    inc ebx
    nop
    inc ecx
    retf
""", setup=limit_cs_0x80_before_the_nop)
    assert taken == (13, 0)
    cpu = machine.cpu
    assert (cpu.get_reg("edx"), cpu.get_reg("ebx"), cpu.get_reg("ecx")) == (4, 2, 1)


@pytest.mark.parametrize("invalidate", ["invlpg [0x8000]", "mov eax, cr3\n    mov cr3, eax"])
def test_interrupts_from_ring3_follow_a_remapped_inner_stack(invalidate: str) -> None:
    """At CPL 3 an interrupt reads the IDT and TSS and pushes on the inner stack
    through supervisor-only pages: their translations are kept apart from the
    user's TLB (`paging.supervisor_address`) and go with INVLPG or a CR3 reload
    like any other.  The first handler moves the inner stack's page (linear
    8000h, physical 8000h -> 9000h, its frame copied); the second interrupt's
    frame must land in the new page."""
    def supervisor_tables(machine: Any, labels: Dict[int, int]) -> None:
        memory = machine.bus.memory
        memory[0x5004:0x500C] = struct.pack("<II", 0x8800, 0x10)       # ESP0, SS0
        memory[IDT + 0x31 * 8:IDT + 0x32 * 8] = gate(CODE + 0x100, 0x08, 0xEE)
        cpu = machine.cpu
        cpu.tr, cpu.tr_base, cpu.tr_limit, cpu.tr_flags = 0x30, 0x5000, 0x67, 0x8B
        identity_paging(machine)
        for page in (1, 2, 5, 8):               # GDT, IDT, TSS, inner stack: supervisor only
            memory[0x71000 + 4 * page:0x71004 + 4 * page] = struct.pack("<I", page << 12 | 3)

    source = f"""
    jmp start
    times 0x100 - ($ - $$) nop
    inc ebx                     ; the handler of INT 31h (DPL 3)
    cmp ebx, 1
    jne second
    mov ax, 0x10                ; IRET to ring 3 nulled DS and ES
    mov ds, ax
    mov es, ax
    cld
    mov esi, esp
    lea edi, [esp + 0x1000]     ; the frame, copied to the new page
    mov ecx, 5
    rep movsd
    mov dword [0x71000 + 8 * 4], 0x9003
    {invalidate}
    iretd
second:
    hlt
start:
    xor ebx, ebx
""" + to_ring3(0x2) + """    int 0x31
first_return:
    int 0x31
"""
    machine, taken = run_protected(source, setup=supervisor_tables)
    assert taken is None
    assert machine.cpu.cpl == 0 and machine.cpu.get_reg("ebx") == 2
    memory = machine.bus.memory
    first = struct.unpack("<5I", bytes(memory[0x8800 - 20:0x8800]))
    second = struct.unpack("<5I", bytes(memory[0x9800 - 20:0x9800]))
    assert first[1:] == second[1:] == (0x53, 0x2, 0x8000, 0x23)       # CS, EFLAGS, ESP, SS
    assert second[0] == first[0] + 2                                   # after each INT 31h
