"""Protected-mode interrupt and exception delivery through the IDT (Intel SDM vol. 3A
6.12): task, interrupt and trap gates, to the same or an inner privilege level, and
from virtual-8086 mode to ring 0.  Sits above `protected.py` (descriptors, stacks)
and `tasks.py` (task switches), which both know nothing of it."""

from typing import Optional

from .protected import (CODE, CONFORMING, INT_GATE16, INT_GATE32, NP_VECTOR, PRESENT, SEGMENT,
                        TASK_GATE, TRAP_GATE16, TRAP_GATE32, access_of, check_current_stack,
                        check_new_stack, descriptor_base, descriptor_limit, dpl_of, gate_target,
                        inner_stack, load_cache, load_code, load_null, push_frame,
                        read_descriptor, set_accessed, set_sp, set_vm, stack_push, sys_read_pair)
from .state import CPUFault, CS, DS, ES, ESP, FS, GP, GS, IF, NT, RF, SS, TF, VM
from .tasks import switch_via


def interrupt(cpu, vector: int, return_eip: int, kind: str,
              error_code: Optional[int]) -> int:
    """Deliver `vector` through the IDT (SDM 6.12): task, interrupt or trap gate,
    to the same or an inner level; from virtual-8086 mode to level 0."""
    ext = 0 if kind == "software" else 1
    flags = cpu.get_eflags()
    idt_error = vector * 8 + 2 + ext
    if vector * 8 + 7 > cpu.idtr_limit:
        raise CPUFault(GP, idt_error)
    lo, hi = sys_read_pair(cpu, cpu.idtr_base + vector * 8)
    gate = (hi >> 8) & 0x1F
    if gate not in (TASK_GATE, INT_GATE16, TRAP_GATE16, INT_GATE32, TRAP_GATE32):
        raise CPUFault(GP, idt_error)
    cpl = cpu.cpl
    if kind == "software" and dpl_of(hi) < cpl:
        raise CPUFault(GP, idt_error)
    if not hi & 0x8000:
        raise CPUFault(NP_VECTOR, idt_error)
    if gate == TASK_GATE:
        cpu.eip = switch_via(cpu, lo >> 16, lo, hi, "int", return_eip, None,
                             error_code=error_code, ext=ext)
        return cpu.eip
    target, offset = gate_target(lo, hi)
    size = 4 if gate & 8 else 2
    if not target & 0xFFFC:
        raise CPUFault(GP, ext)
    tlo, thi = read_descriptor(cpu, target, GP, ext)
    taccess = access_of(thi)
    dpl = dpl_of(thi)
    if taccess & (SEGMENT | CODE) != SEGMENT | CODE or dpl > cpl:
        raise CPUFault(GP, (target & 0xFFFC) | ext)
    if not taccess & PRESENT:
        raise CPUFault(NP_VECTOR, (target & 0xFFFC) | ext)
    if offset > descriptor_limit(thi, tlo):
        raise CPUFault(GP, ext)
    from_v86 = bool(flags & VM)
    old_cs, old_ss, old_esp = cpu.seg_sel[CS], cpu.seg_sel[SS], cpu.regs[ESP]
    if not taccess & CONFORMING and dpl < cpl:
        if from_v86 and dpl != 0:
            raise CPUFault(GP, (target & 0xFFFC) | ext)
        ss, esp, slo, shi = inner_stack(cpu, dpl, ext)
        stack32 = bool(shi & 0x400000)
        ss_base = descriptor_base(slo, shi)
        frame = []
        if from_v86:
            frame += [cpu.seg_sel[GS], cpu.seg_sel[FS], cpu.seg_sel[DS], cpu.seg_sel[ES]]
        frame += [old_ss, old_esp, flags, old_cs, return_eip]
        if error_code is not None:
            frame.append(error_code)
        check_new_stack(ss, slo, shi, esp, len(frame) * size, ext)
        esp = push_frame(cpu, ss_base, esp, stack32, size, frame)
        shi = set_accessed(cpu, ss, shi)
        load_cache(cpu, SS, ss, slo, shi)
        set_sp(cpu, esp, stack32)
        if from_v86:
            for index in (GS, FS, DS, ES):
                load_null(cpu, index, 0)
        new_cpl = dpl
    else:
        if from_v86:
            raise CPUFault(GP, (target & 0xFFFC) | ext)
        frame = [flags, old_cs, return_eip]
        if error_code is not None:
            frame.append(error_code)
        esp = old_esp
        check_current_stack(cpu, len(frame) * size, ext)
        for value in frame:
            esp = stack_push(cpu, cpu.seg_base[SS], esp, cpu.stack32, size, value, False)
        set_sp(cpu, esp, cpu.stack32)
        new_cpl = cpl
    if from_v86:
        set_vm(cpu, False)
    cpu.flags &= ~(TF | NT | RF | VM | (0 if gate & 1 else IF))
    load_code(cpu, target, tlo, thi, new_cpl)
    cpu.eip = offset
    return offset
