"""Decoded blocks that follow direct near JMP/CALL (cpu.py `_decode`) and their
runners (`blockrun.py`): the instruction count, the EIP of a fault and
self-modifying code must behave as if each instruction ran on its own.

Every test runs with each of the runners: the unrolled ones from the first run
(CPython's default), the loop runner alone (what PyPy's default runs for all
but hot blocks) and the loop runner replaced after one run."""

import collections
import dataclasses
import gc
import platform
from typing import Any, Iterator

import pytest

from pcmachine.plugins.cpu import blockrun
from pcmachine.plugins.cpu.cpu import CPU

from cpu_support import LOAD_ADDRESS, PortRecorder, assemble, load_code, make_machine, run_until_stopped

UNROLLED, LOOP, PROMOTED = 0, 10 ** 9, 1


@pytest.fixture(autouse=True, params=[UNROLLED, LOOP, PROMOTED], ids=["unrolled", "loop", "promoted"])
def runner_warmup(request: Any, monkeypatch: Any) -> Iterator[int]:
    """Make `request.param` the `runner_warmup` of every CPU the test builds."""
    monkeypatch.setitem(CPU.OPTIONS, "runner_warmup",
                        dataclasses.replace(CPU.OPTIONS["runner_warmup"], default=request.param))
    yield request.param


def run_with_port(source: str) -> PortRecorder:
    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble(source))
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    return recorder


def test_icount_is_exact_after_a_followed_jump_and_call() -> None:
    recorder = run_with_port("""
        nop
        jmp short there          ; 2
    back:
        out 0xE9, al             ; 6
        hlt
    there:
        call sub                 ; 3
        jmp short back           ; 5
    sub:
        ret                      ; 4
    """)
    assert recorder.icounts == [6]


def test_a_fault_after_a_followed_jump_reports_the_faulting_instruction() -> None:
    recorder = run_with_port("""
        xor ax, ax
        mov ds, ax
        mov word [0], handler    ; #DE vector in the IVT
        mov word [2], 0
        xor bx, bx
        mov ax, 1
        jmp short divide         ; the block continues at the DIV
        times 0x40 - ($ - $$) hlt
    divide:
        div bl                   ; #DE: the return address is this instruction
        hlt
    handler:
        pop ax
        out 0xE9, al
        mov al, ah
        out 0xE9, al
        hlt
    """)
    assert bytes(recorder.data) == (0x7C40).to_bytes(2, "little")


def test_writing_code_reached_through_a_followed_jump_redecodes_it() -> None:
    # The block at `again` starts after `body` and reaches it through the JMP:
    # the write into `body` must still invalidate it.
    recorder = run_with_port("""
        xor ax, ax
        mov ds, ax
        mov cx, 2
        test ax, ax
        jz again                 ; ends the entry block before `body`
    body:
        inc ax                   ; the second pass runs DEC AX
        mov byte [body], 0x48
        dec cx
        jnz again
        out 0xE9, al
        hlt
    again:
        jmp short body
    """)
    assert bytes(recorder.data) == b"\x00"


def test_a_return_from_a_followed_call_continues_the_block_with_an_exact_count() -> None:
    # One block: CALL, the callee, its RET and the code after the CALL.
    recorder = run_with_port("""
        mov al, 1                ; 1
        call sub                 ; 2
        out 0xE9, al             ; 6
        call sub                 ; 7
        out 0xE9, al             ; 11
        hlt
    sub:
        inc ax                   ; 3, 8
        nop                      ; 4, 9
        ret                      ; 5, 10
    """)
    assert recorder.icounts == [6, 11]
    assert bytes(recorder.data) == b"\x02\x03"


def test_a_return_to_another_address_goes_where_the_stack_says() -> None:
    # The callee replaces its return address: the block, decoded on the guess
    # that RET comes back after the CALL, must leave at the RET.
    recorder = run_with_port("""
        mov al, 1                ; 1
        call sub                 ; 2
        mov al, 9                ; never runs
        out 0xE9, al
        hlt
    sub:
        pop bx                   ; 3
        push elsewhere           ; 4
        ret                      ; 5
    elsewhere:
        out 0xE9, al             ; 6
        call sub2                ; 7
        out 0xE9, al             ; 12
        hlt
    sub2:
        add sp, 2                ; 8: drops the return address
        mov al, 4                ; 9
        push last                ; 10
        ret                      ; 11
    last:
        out 0xE9, al             ; 12
        hlt
    """)
    assert recorder.icounts == [6, 12]
    assert bytes(recorder.data) == b"\x01\x04"


@pytest.mark.parametrize("model", ["80486", "pentium"])
def test_a_return_sees_code_its_callee_wrote(model: str) -> None:
    # The callee patches the instruction its RET returns to, which the caller's
    # block had decoded: a Pentium sees the store at once, a 486 at the RET
    # (a jump empties its prefetch queue); either way the new byte runs.
    machine = make_machine(model)
    recorder = PortRecorder(machine)
    load_code(machine, assemble("""
        xor ax, ax
        mov ds, ax
        call sub
    patched:
        mov al, 1                ; becomes MOV AL, 7
        out 0xE9, al
        hlt
    sub:
        mov byte [patched + 1], 7
        ret
    """))
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == b"\x07"


def test_a_jump_to_itself_still_lets_the_clock_stop() -> None:
    machine = make_machine()
    load_code(machine, assemble("spin: jmp short spin"))
    machine.run_slice(machine.clock.icount + 1000)
    assert machine.clock.icount == 1000
    assert machine.cpu.get_reg("eip") == 0x7C00


def test_icount_is_exact_at_a_port_after_register_only_instructions() -> None:
    # INC/ADD/MOV r,imm leave the count to the next instruction that can observe it.
    recorder = run_with_port("""
        inc ax
        add ax, bx
        mov cx, 5
        out 0xE9, al             ; 4
        inc ax
        shl eax, 1
        out 0xE9, al             ; 7
    spin:
        dec cx
        jnz spin                 ; 8 .. 17
        out 0xE9, al             ; 18
        hlt
    """)
    assert recorder.icounts == [4, 7, 18]


def test_clock_count_is_exact_when_a_block_of_register_only_instructions_ends() -> None:
    machine = make_machine()
    # ADD/JMP pairs fill whole blocks of MAX_BLOCK register-only instructions.
    load_code(machine, assemble("spin:\nadd ax, 1\njmp short spin"))
    machine.run_slice(machine.clock.icount + 32)
    assert machine.clock.icount == 32
    assert machine.cpu.get_reg("ax") == 16
    assert machine.cpu.get_reg("eip") == 0x7C00


PATCH_THEN_JUMP = """
    xor ax, ax
    mov ds, ax
    mov byte [patched + 1], 7    ; MOV AL, 1 becomes MOV AL, 7
    jmp short patched
patched:
    mov al, 1
    out 0xE9, al
    hlt
"""


def test_a_followed_jump_sees_code_written_earlier_in_its_block() -> None:
    # The classic self-modifying pattern: patch, then jump to the patched code.
    assert bytes(run_with_port(PATCH_THEN_JUMP).data) == b"\x07"


def test_a_followed_jump_sees_new_code_when_the_block_is_cut_short() -> None:
    # The clock stops inside the block [MOV byte, JMP, MOV AL, OUT]: its first
    # three closures run one by one (no runner) and the jump must still leave.
    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble(PATCH_THEN_JUMP))
    machine.run_slice(5)
    assert machine.clock.icount == 5
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == b"\x07"


def counted_decodes(machine: Any) -> list:
    """The physical addresses the CPU decodes blocks at, in order."""
    decoded = []
    decode = machine.cpu._decode

    def counting_decode(phys, eip):
        decoded.append(phys)
        return decode(phys, eip)
    machine.cpu._decode = counting_decode
    return decoded


def test_a_code_write_drops_only_the_blocks_decoded_from_the_written_bytes() -> None:
    # A loop patches an immediate in code 0x80 bytes further on, in the same
    # page: the patched block is decoded afresh each time (its new value is
    # seen), the loop's own block is decoded once.
    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble("""
        xor ax, ax
        mov ds, ax
        mov cx, 5
    again:
        mov [patch + 1], cl      ; the immediate of `mov al, imm8` below
        call far_code
        loop again
        hlt
        times 0x80 - ($ - $$) nop
    far_code:
    patch:
        mov al, 0
        out 0xE9, al
        ret
    """))
    decoded = counted_decodes(machine)
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == bytes([5, 4, 3, 2, 1])
    assert decoded.count(0x7C80) == 5
    assert decoded.count(0x7C0E) == 1       # `loop again`: decoded once


def test_rep_movs_copies_runs_at_once_with_the_element_loops_result(monkeypatch) -> None:
    """REP MOVSD forward over pages (fast_movs) ends with the registers and memory of
    the element loop, including a forward overlap (which replicates the pattern)."""
    from pcmachine.plugins.cpu import ops_string
    copied = []
    fast_movs = ops_string.fast_movs

    def counting(cpu, regs, size, *rest):
        before = regs[1] & 0xFFFF
        fast_movs(cpu, regs, size, *rest)
        copied.append(before - (regs[1] & 0xFFFF))
    monkeypatch.setattr(ops_string, "fast_movs", counting)
    machine = make_machine()
    load_code(machine, assemble("""
        xor ax, ax
        mov ds, ax
        mov es, ax
        cld
        mov ax, 0x2000          ; from 20004h to 40FF0h: runs cross pages on both sides
        mov ds, ax
        mov si, 0x0004
        mov ax, 0x4000
        mov es, ax
        mov di, 0x0FF0
        mov cx, 5000            ; 20000 bytes
        rep movsd
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov si, 0x9000          ; overlap: copy 9000h.. to 9004h.., 16 dwords
        mov di, 0x9004
        mov cx, 16
        rep movsd
        hlt
    """))
    memory = machine.bus.memory
    pattern = bytes((i * 7) & 0xFF for i in range(20000))
    memory[0x20004:0x20004 + 20000] = pattern
    memory[0x9000:0x9004] = b"ABCD"
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    assert bytes(memory[0x40FF0:0x40FF0 + 20000]) == pattern
    assert bytes(memory[0x9000:0x9044]) == b"ABCD" * 17       # replicated, as element by element
    cpu = machine.cpu
    assert (cpu.regs[1] & 0xFFFF, cpu.regs[6] & 0xFFFF, cpu.regs[7] & 0xFFFF) == (0, 0x9040, 0x9044)
    assert copied == [5000, 0]          # the whole first copy at once; the overlap by elements


def test_a_dword_store_through_reg_plus_disp_into_code_redecodes_it() -> None:
    # [reg+disp] dword accesses to RAM are written into the operand closure
    # (decoder.py `_inlined_unpaged_store`); a store into decoded code must still
    # take the path that drops the decoded block.
    recorder = run_with_port("""
        xor ax, ax
        mov ds, ax
        mov bx, patch - 2
        mov cx, 2
    patch:
        mov al, 1                ; B0 01: the second pass runs MOV AL, 2
        nop
        nop
        dec cx
        jz done
        mov eax, 0x909002B0
        mov [bx + 2], eax
        jmp short patch
    done:
        out 0xE9, al
        hlt
    """)
    assert bytes(recorder.data) == b"\x02"


def test_dword_loads_through_reg_plus_disp_at_a_page_end_and_a_segment_limit() -> None:
    recorder = run_with_port("""
        xor ax, ax
        mov ds, ax
        mov dword [0x1FFC], 0x44332211
        mov dword [0x2000], 0x88776655
        mov bx, 0x1FF0
        mov eax, [bx + 0x0D]     ; bytes 1FFD-2000: across the page end
        out 0xE9, al
        shr eax, 8
        out 0xE9, al
        shr eax, 16
        out 0xE9, al
        mov word [0x0D * 4], limit_fault
        mov word [0x0D * 4 + 2], 0
        mov bx, 0xFFF0
        mov eax, [bx + 0x0D]     ; offset FFFD-10000: past the real-mode limit, #GP
        hlt
    limit_fault:
        mov al, 0xEE
        out 0xE9, al
        hlt
    """)
    assert bytes(recorder.data) == b"\x22\x33\x55\xEE"


def run_spread_code(code_cache_blocks: int):
    """Code in 40 pages (0x10000 up), each adding its number to AX and jumping
    to the next, run 5 times round; after each round the code of page 3 is
    patched (its ADD immediate doubled), when its blocks may have been dropped."""
    from pcmachine.machine import Machine
    from pcmachine.plugins.cpu.cpu import CPU
    from pcmachine.plugins.ram import RAM
    machine = Machine.bare()
    machine.add_component(RAM, "ram", {"size": 1 << 20})
    machine.add_component(CPU, "cpu", {"model": "80486", "fpu": False,
                                       "code_cache_blocks": code_cache_blocks})
    pages = 40
    lines = ["mov cx, 5", "xor ax, ax", "mov dx, 0x1300", "mov es, dx",
             "round: jmp 0x1000:0",
             "round_end: shl word [es:1], 1",     # page 3: add ax, imm16 (05 iw)
             "loop round", "hlt"]
    for page in range(pages):
        following = "jmp 0x%x:0" % (0x1000 + (page + 1) * 0x100) if page + 1 < pages else \
            "jmp 0:round_end"
        lines += ["times 0x%x - ($ - $$) nop" % (0x10000 + page * 0x1000 - 0x7C00),
                  "db 0x05", "dw %d" % (page + 1), following]     # add ax, imm16
    load_code(machine, assemble("\n".join(lines)))
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    return machine


def test_a_bounded_code_cache_drops_old_pages_and_runs_the_same() -> None:
    bounded = run_spread_code(16)
    unbounded = run_spread_code(100000)
    cpu, reference = bounded.cpu, unbounded.cpu
    assert len(cpu.block_pages) <= 16 < len(reference.block_pages)
    assert len(cpu.code_cache16) <= 16
    # Page 3 adds 4, 8, 16, 32, 64 in the five rounds: the patched bytes always ran.
    expected = 5 * sum(range(1, 41)) - 5 * 4 + (4 + 8 + 16 + 32 + 64)
    assert cpu.get_reg("ax") == reference.get_reg("ax") == expected
    assert bounded.clock.icount == unbounded.clock.icount


def test_a_warmed_up_block_gets_its_unrolled_runner_in_the_cache(runner_warmup: int) -> None:
    """After `runner_warmup` runs the cache entry holds the block's unrolled runner;
    a block that has not warmed up compiled no runner pattern."""
    machine = make_machine()
    machine.cpu.tier2_threshold = None          # no tier 2 countdown around the runners
    load_code(machine, assemble("""
        mov cx, 5
    again:
        inc ax
        add bx, ax
        mov dx, bx
        dec cx
        jnz again
        hlt
    """))
    compiled = dict(blockrun._FACTORIES)
    blockrun._FACTORIES.clear()
    try:
        assert run_until_stopped(machine) == "halted"
        assert machine.cpu.get_reg("bx") == 15
        runner, closures, length = machine.cpu.code_cache16[LOAD_ADDRESS + 3]
        if runner_warmup == LOOP:
            assert blockrun._FACTORIES == {}
            assert runner.__name__ == "replaced_runner"     # still the loop runner's countdown
        else:
            assert runner.__name__ == "run"         # the factory's unrolled runner
            pattern = blockrun.block_pattern(closures, [False] * length)
            # Unrolled from the start: every block's pattern; promoted: the loop's alone.
            assert pattern in blockrun._FACTORIES
            assert runner_warmup == UNROLLED or list(blockrun._FACTORIES) == [pattern]
    finally:
        blockrun._FACTORIES.update(compiled)


BESIDE_CODE = """
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7F00           ; the stack, in the code's page
        mov word [0x7E00], 0x5678
        mov byte [0x7E02], 0x9A
        o32 mov dword [0x7E04], 0x12345678
        mov al, 1
        call target              ; 7
        mov word [pad], 0xB400   ; the pad byte and target's opcode: mov ah, imm8
        mov al, 3
        call target              ; 3 (AL is left alone now)
        hlt
    pad:
        db 0
    target:
        mov al, 7
        out 0xE9, al
        ret
"""


def test_stores_beside_decoded_code_reach_memory_and_watchers() -> None:
    """A page holding decoded code is not write-fast; the CPU's stores to its
    other bytes (a stack, variables: most DOS programs) take a short path
    (`Bus.store_beside_code`).  A store that also covers a code byte, and any
    store to a page a debugger watches, still take the full one."""
    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble(BESIDE_CODE))
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == bytes([7, 3])
    memory = machine.bus.memory
    assert memory[0x7E00:0x7E08] == bytes([0x78, 0x56, 0x9A, 0, 0x78, 0x56, 0x34, 0x12])
    assert not machine.bus.write_fast[7] and machine.bus.code_pages[7]

    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble(BESIDE_CODE))
    writes = []
    machine.bus.watch_data(7, lambda address, size, write, value:
                           writes.append((address, size, value)) if write else None)
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == bytes([7, 3])
    return_address = (LOAD_ADDRESS + len(assemble(BESIDE_CODE.split("call target")[0]))
                      + 3)
    assert writes[:4] == [(0x7E00, 2, 0x5678), (0x7E02, 1, 0x9A), (0x7E04, 4, 0x12345678),
                          (0x7EFE, 2, return_address)]


@pytest.mark.skipif(platform.python_implementation() != "CPython",
                    reason="only CPython frees objects by reference counting")
def test_dropped_blocks_are_freed_without_the_cycle_collector() -> None:
    """A block the decode cache drops (here for its bound) is freed as soon as
    nothing refers to it.  A reference cycle through its runners would leave
    its closures to CPython's cycle collector, whose full passes walk all the
    decoded code: a tenth of a DOS boot's time (docs/performance.md)."""
    gc.collect()
    gc.disable()
    try:
        machine = run_spread_code(16)
        assert len(machine.cpu.block_pages) <= 16
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_switching_to_protected_mode_and_back_keeps_each_modes_blocks() -> None:
    """Code that leaves real mode and comes back for every service call (GRUB,
    SYSLINUX's COM32 modules, DOS extenders) finds the blocks of each mode as it
    left them (`CPU.enter_regime`); a store made in protected mode into the real-mode
    subroutine's code still reaches it: the patched immediate is run."""
    machine = make_machine()
    recorder = PortRecorder(machine)
    load_code(machine, assemble("""
        cli
        xor ax, ax
        mov ds, ax
        lgdt [gdtr]
        mov cx, 5
    again:
        call subroutine             ; real mode
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:protected
    bits 32
    protected:
        mov ax, 0x10
        mov ds, ax
        cmp cx, 3
        jne .keep
        mov byte [patch + 1], 0x40  ; from the third call on: `mov al, 40h + CL`
    .keep:
        jmp 0x18:back
    bits 16
    back:
        mov eax, cr0
        and al, 0xFE
        mov cr0, eax
        jmp 0:real
    real:
        xor ax, ax
        mov ds, ax
        loop again
        hlt
    subroutine:
    patch:
        mov al, 0x10
        add al, cl
        out 0xE9, al
        ret
        align 8
    gdt:
        dq 0
        dq 0x00CF9A000000FFFF       ; 08: 32-bit code, flat
        dq 0x00CF92000000FFFF       ; 10: data, flat
        dq 0x00009A000000FFFF       ; 18: 16-bit code, base 0
    gdtr:
        dw gdtr - gdt - 1
        dd gdt
    """))
    decoded = counted_decodes(machine)
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == bytes([0x15, 0x14, 0x13, 0x42, 0x41])
    # Each block decoded once, those holding the patched bytes (the loop's, which
    # follows the call into the subroutine) once more after the store.
    counts = collections.Counter(decoded)
    again = LOAD_ADDRESS + 13           # cli; xor ax, ax; mov ds, ax; lgdt [gdtr]; mov cx, 5
    assert counts[again] == 2
    assert max(counts.values()) == 2


def test_a20_switched_back_and_forth_runs_the_code_each_gate_setting_reaches() -> None:
    """FFFF:0510 is linear 100500h: with A20 on, the code there; with it off, the
    code at 500h.  Each switch through port 92h ends the batch, so the very next
    far call already looks blocks up with the new mask, and each setting keeps
    its blocks (decoded once)."""
    from pcmachine.plugins.chipset.port92 import FastA20Port
    machine = make_machine()
    machine.add_component(FastA20Port, "port92", {})
    recorder = PortRecorder(machine)
    memory = machine.bus.memory
    memory[0x000500:0x000505] = bytes([0xB0, 0x11, 0xE6, 0xE9, 0xCB])   # mov al, 11h; out 0E9h, al; retf
    memory[0x100500:0x100505] = bytes([0xB0, 0x22, 0xE6, 0xE9, 0xCB])   # mov al, 22h ...
    load_code(machine, assemble("""
        mov cx, 3
    again:
        in al, 0x92
        or al, 2
        out 0x92, al                ; A20 on
        call 0xFFFF:0x0510
        in al, 0x92
        and al, 0xFD
        out 0x92, al                ; A20 off
        call 0xFFFF:0x0510
        loop again
        hlt
    """))
    decoded = counted_decodes(machine)
    machine.cpu.set_reg("ss", 0)
    machine.cpu.set_reg("sp", 0x7000)
    assert run_until_stopped(machine) == "halted"
    assert bytes(recorder.data) == bytes([0x22, 0x11] * 3)
    assert decoded.count(0x100500) == 1 and decoded.count(0x000500) == 1
