"""Debug registers and single-stepping (plugins/cpu/debugregs.py), driven by small
real-mode guests whose #DB handler (IVT entry 1) records what it saw."""


from cpu_support import assemble, load_code, make_machine, run_until_stopped
from requirements import require_nasm

require_nasm()

#: The #DB handler: counts traps, keeps the last DR6 and return IP, then clears
#: DR6 (and DR7 when [0x708] says so: real mode cannot resume with RF).
HANDLER = """
db_handler:
    inc word [0x700]
    mov eax, dr6
    mov [0x704], eax
    mov bp, sp
    mov ax, [bp]
    mov [0x702], ax
    xor eax, eax
    mov dr6, eax
    cmp byte [0x708], 0
    je .keep
    mov dr7, eax
.keep:
    iret
"""
PROLOGUE = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x04], db_handler
    mov word [0x06], 0
    mov word [0x700], 0
"""


def run(source: str, model: str = "80486"):
    machine = make_machine(model)
    load_code(machine, assemble(PROLOGUE + source + HANDLER))
    assert run_until_stopped(machine) == "halted"
    memory = machine.bus.memory
    count = int.from_bytes(memory[0x700:0x702], "little")
    ip = int.from_bytes(memory[0x702:0x704], "little")
    dr6 = int.from_bytes(memory[0x704:0x708], "little")
    return machine, count, ip, dr6


def test_trap_flag_traps_after_each_instruction() -> None:
    _, count, _, dr6 = run("""
    pushf
    pop ax
    or ax, 0x100
    push ax
    popf            ; TF on: the trap comes after the next instruction
    nop
    nop
    nop
    pushf
    pop ax
    and ax, 0xFEFF
    push ax
    popf            ; TF was set when this started: one more trap
    nop
    hlt
""")
    assert count == 8
    assert dr6 & 0x4000 and dr6 & 0xFFFF0FF0 == 0xFFFF0FF0     # BS, reserved bits read 1


def test_execution_breakpoint_faults_before_the_instruction() -> None:
    machine, count, ip, dr6 = run("""
    mov byte [0x708], 1
    mov word [0x70C], target
    mov eax, target
    mov dr0, eax
    mov eax, 0x1        ; L0, execute, length 1
    mov dr7, eax
    nop
target:
    inc word [0x70A]
    hlt
""")
    memory = machine.bus.memory
    assert count == 1
    assert ip == int.from_bytes(memory[0x70C:0x70E], "little")     # the faulting IP
    assert memory[0x70A] == 1                                        # then it ran once
    assert dr6 & 0xF == 0x1


def test_data_write_breakpoint_traps_after_the_write() -> None:
    machine, count, ip, dr6 = run("""
    mov byte [0x708], 1
    mov word [0x70C], after_write
    mov eax, 0x600
    mov dr1, eax
    mov eax, 0x4 | (1 << 20) | (3 << 22)   ; L1, data writes, 4 bytes
    mov dr7, eax
    mov ax, [0x602]     ; a read: no trap
    mov word [0x602], 5
after_write:
    hlt
""")
    assert count == 1
    assert dr6 & 0xF == 0x2
    assert machine.bus.memory[0x602] == 5
    assert ip == int.from_bytes(machine.bus.memory[0x70C:0x70E], "little")   # trap: next IP


def test_data_write_breakpoint_inside_a_rep_stos_traps_after_its_iteration() -> None:
    """A REP STOSB over a watched byte: the store that hits it raises the #DB trap
    after its iteration, with the return IP at the REP STOSB, whose remaining
    iterations run after the handler's IRET (SDM vol. 3B, 17.3.1.2; the fill runs
    by pages only while DR7 enables no breakpoint).  The handler leaves AL = 0,
    so the bytes after the watched one show where the instruction resumed."""
    machine, count, ip, dr6 = run("""
    mov byte [0x708], 1
    mov word [0x70C], the_rep
    mov eax, 0x620
    mov dr1, eax
    mov eax, 0x4 | (1 << 20)   ; L1, data writes, 1 byte
    mov dr7, eax
    push ds
    pop es
    mov di, 0x600
    mov cx, 0x40
    mov al, 0x5A
    cld
the_rep:
    rep stosb
    hlt
""")
    assert count == 1
    assert dr6 & 0xF == 0x2
    assert ip == int.from_bytes(machine.bus.memory[0x70C:0x70E], "little")      # the REP itself
    assert bytes(machine.bus.memory[0x600:0x640]) == b"\x5A" * 0x21 + bytes(0x1F)
    assert (machine.cpu.get_reg("cx"), machine.cpu.get_reg("di")) == (0, 0x640)


def test_dr4_dr5_alias_dr6_dr7() -> None:
    machine = make_machine("80486")
    load_code(machine, assemble("""
    mov eax, 0x1
    mov dr5, eax
    mov ebx, dr7
    xor eax, eax
    mov dr7, eax
    mov ecx, dr4
    hlt"""))
    run_until_stopped(machine)
    assert machine.cpu.get_reg("ebx") == 0x401
    assert machine.cpu.get_reg("ecx") & 0xFFFF0FF0 == 0xFFFF0FF0


IO_BREAKPOINT = """
    mov byte [0x708], 1
    mov word [0x70C], after_out
    mov eax, 0x80
    mov dr0, eax
    mov eax, 0x1 | (2 << 16) | (1 << 18)    ; L0, I/O, 2 bytes: ports 0x80-0x81
    mov dr7, eax
    out 0x82, al        ; another port: no trap
    out 0x81, al
after_out:
    hlt
"""
ENABLE_DE = """
    mov eax, cr4
    or eax, 0x8         ; CR4.DE
    mov cr4, eax
"""


def test_io_breakpoint_traps_after_the_port_access() -> None:
    """SDM vol. 3B 17.2.4: R/W = 10b with CR4.DE breaks on I/O to the port range."""
    machine, count, ip, dr6 = run(ENABLE_DE + IO_BREAKPOINT, model="pentium")
    assert count == 1
    assert dr6 & 0xF == 0x1
    assert ip == int.from_bytes(machine.bus.memory[0x70C:0x70E], "little")   # trap: next IP


def test_io_breakpoint_needs_cr4_de() -> None:
    _, count, _, _ = run(IO_BREAKPOINT, model="pentium")
    assert count == 0


def test_general_detect_faults_on_a_debug_register_access() -> None:
    """DR7.GD: the next MOV DRn raises a #DB fault (return IP: the MOV itself)
    with DR6.BD set, and GD is cleared so the handler and the retried MOV run."""
    machine, count, ip, dr6 = run("""
    mov word [0x70C], access
    mov eax, 0x2000     ; GD
    mov dr7, eax
access:
    mov ebx, dr0
    mov ecx, dr7
    hlt
""")
    assert count == 1
    assert dr6 & 0x2000
    assert ip == int.from_bytes(machine.bus.memory[0x70C:0x70E], "little")   # fault: the MOV
    assert machine.cpu.get_reg("ecx") & 0x2000 == 0


def test_dr4_raises_ud_with_cr4_de() -> None:
    machine = make_machine("pentium")
    load_code(machine, assemble(ENABLE_DE + """
    xor ax, ax
    mov ds, ax
    mov word [6 * 4], ud_handler
    mov word [6 * 4 + 2], 0
    mov eax, dr4
    hlt
ud_handler:
    mov bx, 0x6666
    hlt"""))
    run_until_stopped(machine)
    assert machine.cpu.get_reg("bx") == 0x6666
