"""Documented differences between the CPU models (`cpu.model`)."""

import pytest

from cpu_support import run_code


def fault_vector_of(source: str, model: str) -> int:
    """Run `source` with handlers on vectors 0-31 that store their vector in DX."""
    stubs = "\n".join(f"v{v}: mov dx, {v}\nhlt" for v in range(32))
    setup = "\n".join(f"mov word [{v * 4}], v{v}\nmov word [{v * 4 + 2}], 0" for v in range(32))
    machine = run_code(f"xor ax, ax\nmov ds, ax\nmov dx, 0xFFFF\n{setup}\n{source}\n"
                       f"mov dx, 0xEEEE\nhlt\n{stubs}", model)
    return machine.cpu.get_reg("dx")


@pytest.mark.parametrize("model, pushed", [("8086", 0x6FFE), ("80186", 0x6FFE),
                                           ("80286", 0x7000), ("80386", 0x7000)])
def test_push_sp(model: str, pushed: int) -> None:
    machine = run_code("push sp\npop ax\nhlt", model)
    assert machine.cpu.get_reg("ax") == pushed


@pytest.mark.parametrize("model, result", [("8086", 0), ("80286", 2)])
def test_shift_count_masking(model: str, result: int) -> None:
    # SHL by 33: the 8086 shifts 33 times (all bits out), later models by 33 & 31 = 1.
    machine = run_code("mov ax, 1\nmov cl, 33\nshl ax, cl\nhlt", model)
    assert machine.cpu.get_reg("ax") == result


@pytest.mark.parametrize("model, high", [("8086", 0xF000), ("80186", 0xF000),
                                         ("80286", 0x0000), ("80386", 0x7000)])
def test_flags_bits_12_to_15_in_real_mode(model: str, high: int) -> None:
    # Every bit but TF (a set TF would single-step into the empty IVT entry 1).
    machine = run_code("push 0xFEFF\npopf\npushf\npop ax\nhlt" if model != "8086" else
                       "mov ax, 0xFEFF\npush ax\npopf\npushf\npop ax\nhlt", model)
    assert machine.cpu.get_reg("ax") & 0xF000 == high


def test_instruction_length_limit() -> None:
    too_long = "db " + ", ".join(["0x3E"] * 14) + ", 0x40"      # 15 bytes: fine on a 386
    assert fault_vector_of(too_long, "80386") == 0xEEEE
    too_long = "db " + ", ".join(["0x3E"] * 15) + ", 0x40"      # 16 bytes: #GP
    assert fault_vector_of(too_long, "80386") == 13
    eleven = "db " + ", ".join(["0x3E"] * 10) + ", 0x40"        # 11 bytes on a 286: #GP
    assert fault_vector_of(eleven, "80286") == 13


@pytest.mark.parametrize("model, vector", [("80286", 0xEEEE), ("80386", 6), ("80486", 6)])
def test_lock_on_non_lockable_instruction(model: str, vector: int) -> None:
    assert fault_vector_of("lock mov ax, bx", model) == vector


def test_lock_on_memory_read_modify_write_is_legal() -> None:
    assert fault_vector_of("lock add [0x600], ax\nlock xchg [0x600], bx", "80486") == 0xEEEE
    assert fault_vector_of("lock add ax, bx", "80486") == 6


def test_undefined_opcodes_alias_on_8086_and_fault_later() -> None:
    # 0x60 is PUSHA on a 186; an 8086 runs it as JO (here: not taken).
    assert fault_vector_of("db 0x60, 0x00", "8086") == 0xEEEE
    assert fault_vector_of("db 0x0F, 0x0B", "80286") == 6           # UD2 is #UD everywhere
    assert fault_vector_of("movzx ax, bl", "80286") == 6            # a 386 instruction
    assert fault_vector_of("movzx ax, bl", "80386") == 0xEEEE
    assert fault_vector_of("bswap eax", "80386") == 6
    assert fault_vector_of("bswap eax", "80486") == 0xEEEE


def test_cpuid_reports_vendor_and_family() -> None:
    assert fault_vector_of("cpuid", "80386") == 6
    machine = run_code("xor eax, eax\ncpuid\nmov esi, ebx\nmov edi, edx\nmov ebp, ecx\n"
                       "mov eax, 1\ncpuid\nhlt", "80486")
    cpu = machine.cpu
    vendor = b"".join(cpu.get_reg(r).to_bytes(4, "little") for r in ("esi", "edi", "ebp"))
    assert vendor == b"GenuineIntel"
    assert (cpu.get_reg("eax") >> 8) & 0xF == 4
    machine = run_code("mov eax, 1\ncpuid\nhlt", "pentium")
    assert (machine.cpu.get_reg("eax") >> 8) & 0xF == 5


def test_no_fpu_probe_finds_no_coprocessor() -> None:
    """The classic probe: FNINIT, then FNSTSW to a word preset to non-zero.  With no
    FPU nothing is stored, so the word is not 0 and software concludes "no FPU"."""
    machine = run_code("mov word [0x600], 0x5A5A\nfninit\nfnstsw [0x600]\n"
                       "mov ax, [0x600]\nhlt", "80386")
    assert machine.cpu.get_reg("ax") == 0x5A5A


def test_cr0_em_makes_x87_instructions_raise_nm() -> None:
    assert fault_vector_of("mov eax, cr0\nor al, 4\nmov cr0, eax\nfninit", "80386") == 7
    assert fault_vector_of("fninit", "80386") == 0xEEEE


def test_divide_error_return_address() -> None:
    """The 8086 pushes the address after DIV; the 286 and later the DIV itself."""
    source = "xor cx, cx\nmov ax, 1\ndiv cx"
    assert fault_vector_of(source, "80286") == 0
    for model, expect_after in (("8086", True), ("80286", False)):
        code = ("xor ax, ax\nmov ds, ax\nmov word [0], handler\nmov word [2], 0\n"
                "xor cx, cx\nmov ax, 1\nfault: div cx\nafter: hlt\n"
                "handler: pop bx\nhlt\n")
        machine = run_code(code + "dw fault, after", model)
        bx = machine.cpu.get_reg("bx")
        assert (bx - 0x7C00 > 0) and (bx == 0x7C00 + code_offset(code, "after")) == expect_after


def code_offset(code: str, label: str) -> int:
    from cpu_support import assemble
    binary = assemble(code + "dw fault, after")
    fault, after = binary[-4:-2], binary[-2:]
    return int.from_bytes(after if label == "after" else fault, "little") - 0x7C00


WORD_AT_FFFF = """
    mov ax, 0x1000
    mov ds, ax
    mov es, ax
    mov ax, 0x1234
    mov [0xFFFF], ax            ; A3 moffs: 34 at 1000:FFFF, 12 at 1000:0000
    mov bx, 0xFFFF
    mov word [bx + 0x10], 0x5678  ; no wrap: 1000:000F
    mov cx, [bx]                ; 1234
    inc word [bx]               ; read-modify-write: 1235
    mov si, bx
    lodsw                       ; 1235, SI = 0001
    mov dx, ax
    mov byte [0xFFFE], 0x11
    les di, [0xFFFE]            ; offset 3511, selector from 1000:0000-0001 = 0x??12
    mov ax, 0x2000
    mov ss, ax
    mov sp, 1
    mov ax, 0xABCD
    push ax                     ; SP = FFFF: CD at 2000:FFFF, AB at 2000:0000
    pop bp
    hlt
"""


@pytest.mark.parametrize("model", ["8086", "80186"])
def test_word_at_offset_ffff_wraps_inside_the_segment(model: str) -> None:
    """The 8086/80186 have no segment limit: the second byte of a word at offset
    FFFF (of a far pointer at FFFE, of a push at SP=FFFF) is at offset 0000."""
    machine = run_code(WORD_AT_FFFF, model)
    cpu = machine.cpu
    memory = machine.bus.memory
    assert (memory[0x1FFFF], memory[0x10000]) == (0x35, 0x12)
    assert memory[0x1000F] == 0x78 and memory[0x20000] == 0xAB and memory[0x2FFFF] == 0xCD
    assert (cpu.get_reg("cx"), cpu.get_reg("dx"), cpu.get_reg("si")) == (0x1234, 0x1235, 0x0001)
    assert (cpu.get_reg("di"), cpu.get_reg("es")) == (0x3511, 0x0012 | (memory[0x10001] << 8))
    assert (cpu.get_reg("bp"), cpu.get_reg("sp")) == (0xABCD, 1)

