"""Protected-mode far transfers: JMP, CALL, RET and IRET across segments and
privilege levels (SDM vol. 2 pseudo-code of these instructions; vol. 3A 5.8).

JMP/CALL reach a code segment directly, a call gate (CALL to an inner level copies
the gate's parameter count from the caller's stack to the stack the TSS names),
or a TSS / task gate (`tasks.py`).  RETF and IRET return to the same or an outer
level (popping SS:ESP and nulling data segments the outer level may not use);
IRET also returns along the TSS back link (NT) and into virtual-8086 mode.
Registers change only after every check has passed, as on hardware.
"""

from typing import Tuple

from .protected import (CALL_GATE16, CALL_GATE32, CONFORMING, PRESENT, READABLE, SEGMENT,
                        CODE, NP_VECTOR, TASK_GATE, TSS16_AVAILABLE, TSS32_AVAILABLE,
                        access_of, check_code_target, check_current_stack, check_new_stack,
                        descriptor_base, descriptor_limit,
                        dpl_of, gate_target, inner_stack, invalidate_outer_segments, iopl,
                        leave_loop, load_cache, load_code, load_v86, read_descriptor,
                        select_code_size, set_accessed, set_cpl, set_sp, stack_push,
                        stack_read, write_eflags)
from .state import (CPUFault, CS, DS, ES, ESP, FS, GP, GS, IF, IOPL, NT, RF, SS,
                    SS_VECTOR, VM, exit_after)
from .tasks import switch_via, task_return


# ---------------------------------------------------------------- JMP / CALL far
def check_direct_target(cpu, selector: int, offset: int, lo: int, hi: int, cpl: int) -> None:
    """The checks of a far JMP/CALL straight to a code segment (no gate): type,
    privilege, present (#NP), and the offset within the limit (#GP(0))."""
    check_code_target(cpu, selector, lo, hi)
    check_code_privilege(cpu, selector, hi, cpl)
    if not access_of(hi) & PRESENT:
        raise CPUFault(NP_VECTOR, selector & 0xFFFC)
    if offset > descriptor_limit(hi, lo):
        raise CPUFault(GP, 0)


def far_jump(cpu, selector: int, offset: int, next_eip: int) -> int:
    """JMP ptr16:32 / m16:32 in protected mode: code segment, call gate or task."""
    was_cache = cpu.code_cache
    if not selector & 0xFFFC:
        raise CPUFault(GP, 0)
    lo, hi = read_descriptor(cpu, selector)
    access = access_of(hi)
    cpl = cpu.cpl
    error = selector & 0xFFFC
    if access & SEGMENT:
        check_direct_target(cpu, selector, offset, lo, hi, cpl)
        load_code(cpu, selector, lo, hi, cpl)
        return leave_loop(cpu, offset, was_cache)
    kind = access & 0x1F
    if kind in (TSS16_AVAILABLE, TSS32_AVAILABLE, TASK_GATE):
        return switch_via(cpu, selector, lo, hi, "jmp", next_eip, was_cache)
    if kind not in (CALL_GATE16, CALL_GATE32):
        raise CPUFault(GP, error)
    if dpl_of(hi) < cpl or dpl_of(hi) < (selector & 3):
        raise CPUFault(GP, error)
    if not access & PRESENT:
        raise CPUFault(NP_VECTOR, error)
    target, target_offset = gate_target(lo, hi)
    if not target & 0xFFFC:
        raise CPUFault(GP, 0)
    tlo, thi = read_descriptor(cpu, target)
    check_code_target(cpu, target, tlo, thi)
    taccess = access_of(thi)
    if (taccess & CONFORMING and dpl_of(thi) > cpl) or (
            not taccess & CONFORMING and dpl_of(thi) != cpl):
        raise CPUFault(GP, target & 0xFFFC)
    if not taccess & PRESENT:
        raise CPUFault(NP_VECTOR, target & 0xFFFC)
    if target_offset > descriptor_limit(thi, tlo):
        raise CPUFault(GP, 0)
    load_code(cpu, target, tlo, thi, cpl)
    return leave_loop(cpu, target_offset, was_cache)


def check_code_privilege(cpu, selector: int, hi: int, cpl: int) -> None:
    """Direct JMP/CALL: conforming needs DPL <= CPL, non-conforming RPL <= CPL = DPL."""
    if access_of(hi) & CONFORMING:
        if dpl_of(hi) > cpl:
            raise CPUFault(GP, selector & 0xFFFC)
    elif (selector & 3) > cpl or dpl_of(hi) != cpl:
        raise CPUFault(GP, selector & 0xFFFC)




def far_call(cpu, selector: int, offset: int, size: int, next_eip: int) -> int:
    """CALL ptr16:32 / m16:32 in protected mode, including call gates to inner
    levels with parameter copying and calls to tasks."""
    was_cache = cpu.code_cache
    if not selector & 0xFFFC:
        raise CPUFault(GP, 0)
    lo, hi = read_descriptor(cpu, selector)
    access = access_of(hi)
    cpl = cpu.cpl
    error = selector & 0xFFFC
    if access & SEGMENT:
        check_direct_target(cpu, selector, offset, lo, hi, cpl)
        check_current_stack(cpu, 2 * size)
        esp = stack_push(cpu, cpu.seg_base[SS], cpu.regs[ESP], cpu.stack32, size,
                         cpu.seg_sel[CS], False)
        esp = stack_push(cpu, cpu.seg_base[SS], esp, cpu.stack32, size, next_eip, False)
        set_sp(cpu, esp, cpu.stack32)
        load_code(cpu, selector, lo, hi, cpl)
        return leave_loop(cpu, offset, was_cache)
    kind = access & 0x1F
    if kind in (TSS16_AVAILABLE, TSS32_AVAILABLE, TASK_GATE):
        return switch_via(cpu, selector, lo, hi, "call", next_eip, was_cache)
    if kind not in (CALL_GATE16, CALL_GATE32):
        raise CPUFault(GP, error)
    if dpl_of(hi) < cpl or dpl_of(hi) < (selector & 3):
        raise CPUFault(GP, error)
    if not access & PRESENT:
        raise CPUFault(NP_VECTOR, error)
    return call_gate(cpu, lo, hi, next_eip, was_cache)


def call_gate(cpu, lo: int, hi: int, next_eip: int, was_cache: dict) -> int:
    """CALL through a call gate: to the same level, or to an inner level on the
    stack from the TSS with `count` parameters copied from the caller's stack."""
    cpl = cpu.cpl
    target, target_offset = gate_target(lo, hi)
    gate_size = 4 if hi & 0x800 else 2
    count = hi & 0x1F
    if not target & 0xFFFC:
        raise CPUFault(GP, 0)
    tlo, thi = read_descriptor(cpu, target)
    check_code_target(cpu, target, tlo, thi)
    taccess = access_of(thi)
    dpl = dpl_of(thi)
    if dpl > cpl:
        raise CPUFault(GP, target & 0xFFFC)
    if not taccess & PRESENT:
        raise CPUFault(NP_VECTOR, target & 0xFFFC)
    if target_offset > descriptor_limit(thi, tlo):
        raise CPUFault(GP, 0)
    old_cs, old_ss, old_esp = cpu.seg_sel[CS], cpu.seg_sel[SS], cpu.regs[ESP]
    if not taccess & CONFORMING and dpl < cpl:
        ss, esp, slo, shi = inner_stack(cpu, dpl)
        stack32 = bool(shi & 0x400000)
        ss_base = descriptor_base(slo, shi)
        params = [stack_read(cpu, i * gate_size, gate_size) for i in range(count)]
        check_new_stack(ss, slo, shi, esp, (count + 4) * gate_size, 0)
        esp = stack_push(cpu, ss_base, esp, stack32, gate_size, old_ss, True)
        esp = stack_push(cpu, ss_base, esp, stack32, gate_size, old_esp, True)
        for value in reversed(params):
            esp = stack_push(cpu, ss_base, esp, stack32, gate_size, value, True)
        esp = stack_push(cpu, ss_base, esp, stack32, gate_size, old_cs, True)
        esp = stack_push(cpu, ss_base, esp, stack32, gate_size, next_eip, True)
        shi = set_accessed(cpu, ss, shi)
        load_cache(cpu, SS, ss, slo, shi)
        set_sp(cpu, esp, stack32)
        load_code(cpu, target, tlo, thi, dpl)
    else:
        check_current_stack(cpu, 2 * gate_size)
        esp = stack_push(cpu, cpu.seg_base[SS], old_esp, cpu.stack32, gate_size, old_cs, False)
        esp = stack_push(cpu, cpu.seg_base[SS], esp, cpu.stack32, gate_size, next_eip, False)
        set_sp(cpu, esp, cpu.stack32)
        load_code(cpu, target, tlo, thi, cpl)
    return leave_loop(cpu, target_offset, was_cache)


# ---------------------------------------------------------------- RET far
def check_return_target(cpu, selector: int, cpl: int) -> Tuple[int, int]:
    """The checks of RETF and IRET on the code selector they pop: not null, a code
    segment, RPL not inside CPL, the conforming/non-conforming DPL rule, present.
    Returns the descriptor."""
    rpl = selector & 3
    if not selector & 0xFFFC:
        raise CPUFault(GP, 0)
    lo, hi = read_descriptor(cpu, selector)
    check_code_target(cpu, selector, lo, hi)
    if rpl < cpl:
        raise CPUFault(GP, selector & 0xFFFC)
    access = access_of(hi)
    if (access & CONFORMING and dpl_of(hi) > rpl) or (
            not access & CONFORMING and dpl_of(hi) != rpl):
        raise CPUFault(GP, selector & 0xFFFC)
    if not access & PRESENT:
        raise CPUFault(NP_VECTOR, selector & 0xFFFC)
    return lo, hi


def far_return(cpu, size: int, release: int) -> int:
    """RETF [imm16] in protected mode: same level, or to an outer level popping the
    caller's SS:ESP (and releasing `release` bytes of parameters on both stacks)."""
    was_cache = cpu.code_cache
    offset = stack_read(cpu, 0, size)
    selector = stack_read(cpu, size, size) & 0xFFFF
    cpl = cpu.cpl
    rpl = selector & 3
    lo, hi = check_return_target(cpu, selector, cpl)
    if rpl == cpl:
        if offset > descriptor_limit(hi, lo):
            raise CPUFault(GP, 0)
        set_sp(cpu, cpu.regs[ESP] + 2 * size + release, cpu.stack32)
        load_code(cpu, selector, lo, hi, cpl)
        return leave_loop(cpu, offset, was_cache)
    new_esp = stack_read(cpu, 2 * size + release, size)
    new_ss = stack_read(cpu, 3 * size + release, size) & 0xFFFF
    slo, shi = check_outer_stack(cpu, new_ss, rpl)
    if offset > descriptor_limit(hi, lo):
        raise CPUFault(GP, 0)
    load_code(cpu, selector, lo, hi, rpl)
    shi = set_accessed(cpu, new_ss, shi)
    load_cache(cpu, SS, new_ss, slo, shi)
    set_sp(cpu, new_esp + release, cpu.stack32)
    invalidate_outer_segments(cpu)
    return leave_loop(cpu, offset, was_cache)


def check_outer_stack(cpu, selector: int, rpl: int) -> Tuple[int, int]:
    """The SS popped by a return to an outer level: #GP(selector) unless it is a
    present writable data segment with RPL = DPL = the new CPL."""
    if not selector & 0xFFFC:
        raise CPUFault(GP, 0)
    lo, hi = read_descriptor(cpu, selector)
    access = access_of(hi)
    if (selector & 3) != rpl or dpl_of(hi) != rpl or access & (SEGMENT | CODE | READABLE) != (
            SEGMENT | READABLE):
        raise CPUFault(GP, selector & 0xFFFC)
    if not access & PRESENT:
        raise CPUFault(SS_VECTOR, selector & 0xFFFC)
    return lo, hi


# ---------------------------------------------------------------- IRET
def iret(cpu, size: int, next_eip: int) -> int:
    """IRET/IRETD with CR0.PE set: virtual-8086 (IOPL 3 only), task return (NT),
    same level, outer level, or into virtual-8086 mode."""
    was_cache = cpu.code_cache
    if cpu.flags & VM:
        if iopl(cpu) < 3:
            raise CPUFault(GP, 0)
        offset = stack_read(cpu, 0, size)
        selector = stack_read(cpu, size, size) & 0xFFFF
        flags = stack_read(cpu, 2 * size, size)
        set_sp(cpu, cpu.regs[ESP] + 3 * size, cpu.stack32)
        load_v86(cpu, CS, selector)
        # IOPL and VM stay; the rest follows the popped image (SDM IRET, VM = 1).
        keep = VM | IOPL | RF | (0xFFFF0000 if size == 2 else 0)
        write_eflags(cpu, (cpu.get_eflags() & keep) | (flags & ~keep & 0xFFFFFFFF))
        return offset & 0xFFFF
    if cpu.flags & NT:
        return task_return(cpu, was_cache, next_eip)
    offset = stack_read(cpu, 0, size)
    selector = stack_read(cpu, size, size) & 0xFFFF
    flags = stack_read(cpu, 2 * size, size)
    cpl = cpu.cpl
    if size == 4 and flags & VM and cpl == 0:
        return iret_to_v86(cpu, offset, selector, flags, was_cache)
    rpl = selector & 3
    lo, hi = check_return_target(cpu, selector, cpl)
    if offset > descriptor_limit(hi, lo):
        raise CPUFault(GP, 0)
    if rpl == cpl:
        set_sp(cpu, cpu.regs[ESP] + 3 * size, cpu.stack32)
        load_code(cpu, selector, lo, hi, cpl)
        update_flags_pm(cpu, flags, size, cpl)
        return leave_loop(cpu, offset, was_cache)
    new_esp = stack_read(cpu, 3 * size, size)
    new_ss = stack_read(cpu, 4 * size, size) & 0xFFFF
    slo, shi = check_outer_stack(cpu, new_ss, rpl)
    update_flags_pm(cpu, flags, size, cpl)
    load_code(cpu, selector, lo, hi, rpl)
    shi = set_accessed(cpu, new_ss, shi)
    load_cache(cpu, SS, new_ss, slo, shi)
    set_sp(cpu, new_esp, cpu.stack32)
    invalidate_outer_segments(cpu)
    return leave_loop(cpu, offset, was_cache)


def update_flags_pm(cpu, flags: int, size: int, cpl: int) -> None:
    """EFLAGS from a protected-mode IRET: IOPL only at CPL 0, IF only when
    CPL <= IOPL; VM and VIP/VIF are not changed here."""
    writable = cpu.model.flags_writable | RF
    if size == 2:
        writable &= 0xFFFF
    writable &= ~VM
    if cpl > 0:
        writable &= ~IOPL
    if cpl > iopl(cpu):
        writable &= ~IF
    write_eflags(cpu, (cpu.get_eflags() & ~writable) | (flags & writable))




def iret_to_v86(cpu, offset: int, selector: int, flags: int, was_cache: dict) -> int:
    """IRETD from CPL 0 with VM set in the popped EFLAGS: pop ESP, SS, ES, DS, FS,
    GS and continue in virtual-8086 mode at CPL 3."""
    values = [stack_read(cpu, 12 + 4 * i, 4) & 0xFFFFFFFF for i in range(6)]
    new_esp, new_ss, new_es, new_ds, new_fs, new_gs = values
    write_eflags(cpu, flags | VM)
    for index, sel in ((CS, selector), (SS, new_ss), (ES, new_es), (DS, new_ds),
                       (FS, new_fs), (GS, new_gs)):
        load_v86(cpu, index, sel & 0xFFFF)
    cpu.regs[ESP] = new_esp
    set_cpl(cpu, 3)
    select_code_size(cpu)
    exit_after(cpu, offset & 0xFFFF)
    return offset & 0xFFFF
