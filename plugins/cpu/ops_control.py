"""Builders for control transfer, flag, stack-frame, I/O and processor-control
instructions of the one-byte map."""

from typing import Callable

from . import alu, protected, transfers
from .alu import condition, materialize
from .blockrun import pure
from .decoder import ONE_BYTE, DecodeFault, Decoder, MASKS, register
from .fpu import ops as fpu_ops
from .state import (CF, CPUFault, CR0_EM, CR0_PE, CR0_TS, CS, DF, EAX, EBP, ECX, EDX, ESP,
                    GP, IF, IOPL, NM, SS, TF, VM, LoopExit, exit_after)

Closure = Callable[[int], int]


@register(ONE_BYTE, *range(0x70, 0x80))
def build_jcc8(d: Decoder) -> Closure:
    return jcc(d, d.opcode & 0xF, d.imm8s())


def jcc(d: Decoder, cc: int, rel: int) -> Closure:
    cpu = d.cpu
    n, m = d.length, d.ipmask
    taken_delta = n + rel
    # The target is truncated to the operand size (a 66h-prefixed branch in 32-bit
    # code lands below 64 KiB; a 32-bit branch in 16-bit code is not wrapped).
    t = MASKS[d.opsize]
    d.branch_target = (d.eip + taken_delta) & t
    if cc == 4 or cc == 5:       # JZ/JNZ: the loop-closing test, kept short
        want = cc == 4

        def jz(eip: int) -> int:
            if cpu.lf_op:
                zero = cpu.lf_res == 0
            else:
                zero = bool(cpu.flags & 0x40)
            if zero == want:
                return (eip + taken_delta) & t
            return (eip + n) & m
        return jz

    def jcc_generic(eip: int) -> int:
        if condition(cpu, cc):
            return (eip + taken_delta) & t
        return (eip + n) & m
    return jcc_generic


@register(ONE_BYTE, 0xE0, 0xE1, 0xE2, 0xE3)
def build_loop(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    regs = cpu.regs
    rel = d.imm8s()
    n, m = d.length, d.ipmask
    cmask = MASKS[d.adsize]
    keep = 0xFFFFFFFF ^ cmask
    d.branch_target = (d.eip + n + rel) & m
    if op == 0xE3:
        def jcxz(eip: int) -> int:
            if regs[ECX] & cmask == 0:
                return (eip + n + rel) & m
            return (eip + n) & m
        return jcxz

    def loop(eip: int) -> int:
        count = ((regs[ECX] & cmask) - 1) & cmask
        regs[ECX] = (regs[ECX] & keep) | count
        if count:
            if op == 0xE2 or (op == 0xE1) == alu.get_zf(cpu):
                return (eip + n + rel) & m
        return (eip + n) & m
    return loop


@register(ONE_BYTE, 0xE8, 0xE9, 0xEB)
def build_near_rel(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    rel = d.imm8s() if op == 0xEB else d.imm_signed(d.opsize)
    n, m = d.length, d.ipmask
    omask = MASKS[d.opsize]
    d.direct_target = (d.eip + n + rel) & omask
    if op == 0xE8:
        d.pushed_return = (d.eip + n) & m
        push = cpu.push32 if d.opsize == 4 else cpu.push16
        if d.opsize == 2:
            regs, seg_base, seg_limit, write = cpu.regs, cpu.seg_base, cpu.seg_limit, cpu.wr16

            def call_rel16(eip: int) -> int:
                # PUSH of the return address written out for the 16-bit stack.
                if cpu.stack32:
                    push((eip + n) & m)
                else:
                    sp = (regs[ESP] - 2) & 0xFFFF
                    linear = seg_base[SS] + sp
                    if sp + 1 > seg_limit[SS]:
                        linear = cpu.stack_fault(sp, 1)
                    write(linear, (eip + n) & m)
                    regs[ESP] = (regs[ESP] & 0xFFFF0000) | sp
                return (eip + n + rel) & 0xFFFF
            return call_rel16

        regs, seg_base, seg_limit, write32 = cpu.regs, cpu.seg_base, cpu.seg_limit, cpu.wr32

        def call_rel32(eip: int) -> int:
            # PUSH of the return address written out for the 32-bit stack.
            target = (eip + n + rel) & omask
            if cpu.stack32:
                sp = (regs[ESP] - 4) & 0xFFFFFFFF
                if sp + 3 > seg_limit[SS]:
                    cpu.stack_fault(sp, 3)
                write32(seg_base[SS] + sp, (eip + n) & m)
                regs[ESP] = sp
            else:
                push((eip + n) & m)
            return target
        if d.opsize == 4:
            return call_rel32

        def call_rel(eip: int) -> int:
            target = (eip + n + rel) & omask
            push((eip + n) & m)
            return target
        return call_rel

    if n + rel == 0:
        d.direct_target = None      # not followed: the jump is a block of its own
        return jump_to_itself(cpu)

    def jmp_rel(eip: int) -> int:
        return (eip + n + rel) & omask
    return pure(jmp_rel)


def jump_to_itself(cpu) -> Closure:
    """JMP $ (`for (;;);` after STI: a kernel's idle loop waiting for an interrupt).
    Each turn changes nothing but the instruction count, and nothing else can
    change before the next clock event, where the run loop stops anyway: so the
    turns up to `clock.stop_icount` are counted at once.  Instruction count, EIP
    and every other state are those of running them one by one, minus the host
    time.  Not while single instructions are watched (instruction hook, TF, DR7)."""
    clock = cpu.clock

    def jump_to_itself(eip: int) -> int:
        stop = clock.stop_icount
        if stop > clock.icount and not (cpu.traced or cpu.flags & TF or cpu.dr[7] & 0xFF):
            clock.icount = stop
            cpu.eip = eip
            raise LoopExit()
        return eip
    return jump_to_itself


@register(ONE_BYTE, 0x9A, 0xEA)
def build_far_direct(d: Decoder) -> Closure:
    cpu = d.cpu
    offset = d.imm(d.opsize)
    selector = d.imm16()
    n, m = d.length, d.ipmask
    if d.opcode == 0xEA:
        def jmp_far(eip: int) -> int:
            return far_jump(cpu, selector, offset, (eip + n) & m)
        return jmp_far
    push = cpu.push32 if d.opsize == 4 else cpu.push16
    size = d.opsize

    def call_far(eip: int) -> int:
        if cpu.cr[0] & CR0_PE and not cpu.flags & VM:
            return transfers.far_call(cpu, selector, offset, size, (eip + n) & m)
        push(cpu.seg_sel[CS])
        push((eip + n) & m)
        return far_jump(cpu, selector, offset)
    return call_far


def far_jump(cpu, selector: int, offset: int, next_eip: int = 0) -> int:
    """Load CS and return the new EIP; leaves the loop when the decode cache changes.
    In protected mode the target may be a call gate or a task (`next_eip` is then
    saved in the old TSS)."""
    if cpu.cr[0] & CR0_PE and not cpu.flags & VM:
        return transfers.far_jump(cpu, selector, offset, next_eip)
    was_cache = cpu.code_cache
    cpu.load_segment(CS, selector)
    cpu.code32 = bool(cpu.seg_flags[CS] & 0x4000)
    cpu.select_code_cache()
    if cpu.code_cache is not was_cache:
        exit_after(cpu, offset)
    return offset


def build_indirect_transfer(d: Decoder, kind: int) -> Closure:
    """FF /2 CALL, /3 CALL far, /4 JMP, /5 JMP far, /6 PUSH."""
    cpu = d.cpu
    size = d.opsize
    n, m = d.length, d.ipmask
    push = cpu.push32 if size == 4 else cpu.push16
    if kind in (3, 5):
        if d.mod == 3:
            raise DecodeFault()
        address = d.address(size + 2)
        read = cpu.rd32 if size == 4 else cpu.rd16
        n = d.length

        def far_indirect(eip: int) -> int:
            linear = address()
            offset = read(linear)
            selector = cpu.rd16(linear + size)
            if kind == 3:
                if cpu.cr[0] & CR0_PE and not cpu.flags & VM:
                    return transfers.far_call(cpu, selector, offset, size, (eip + n) & m)
                push(cpu.seg_sel[CS])
                push((eip + n) & m)
            return far_jump(cpu, selector, offset, (eip + n) & m)
        return far_indirect
    get, _, _ = d.rm_access(size)
    n = d.length
    if kind == 2:
        def call_indirect(eip: int) -> int:
            target = get()
            push((eip + n) & m)
            return target
        return call_indirect
    if kind == 4:
        def jmp_indirect(eip: int) -> int:
            return get()
        return jmp_indirect

    def push_rm(eip: int) -> int:
        value = get()
        push(value)
        return (eip + n) & m
    return push_rm


@register(ONE_BYTE, 0xC2, 0xC3, 0xCA, 0xCB)
def build_ret(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    regs = cpu.regs
    release = d.imm16() if op in (0xC2, 0xCA) else 0
    size = d.opsize
    pop = cpu.pop32 if size == 4 else cpu.pop16
    d.near_return = op <= 0xC3

    def release_stack() -> None:
        if release:
            if cpu.stack32:
                regs[ESP] = (regs[ESP] + release) & 0xFFFFFFFF
            else:
                regs[ESP] = (regs[ESP] & 0xFFFF0000) | ((regs[ESP] + release) & 0xFFFF)

    if op == 0xC3 and size == 2:
        read, seg_base, seg_limit = cpu.rd16, cpu.seg_base, cpu.seg_limit

        def ret_near16(eip: int) -> int:
            # POP of the return address written out for the 16-bit stack.
            if cpu.stack32:
                return pop()
            sp = regs[ESP] & 0xFFFF
            linear = seg_base[SS] + sp
            if sp + 1 > seg_limit[SS]:
                linear = cpu.stack_fault(sp, 1)
            target = read(linear)
            regs[ESP] = (regs[ESP] & 0xFFFF0000) | ((sp + 2) & 0xFFFF)
            return target
        return ret_near16
    if op == 0xC3:
        read32, seg_base, seg_limit = cpu.rd32, cpu.seg_base, cpu.seg_limit

        def ret_near32(eip: int) -> int:
            # POP of the return address written out for the 32-bit stack.
            if not cpu.stack32:
                return pop()
            sp = regs[ESP]
            if sp + 3 > seg_limit[SS]:
                cpu.stack_fault(sp, 3)
            target = read32(seg_base[SS] + sp)
            regs[ESP] = (sp + 4) & 0xFFFFFFFF
            return target
        return ret_near32
    if op <= 0xC3:
        def ret_near(eip: int) -> int:
            target = pop()
            release_stack()
            return target
        return ret_near

    def ret_far(eip: int) -> int:
        if cpu.cr[0] & CR0_PE and not cpu.flags & VM:
            return transfers.far_return(cpu, size, release)
        offset = pop()
        selector = pop() & 0xFFFF
        release_stack()
        return far_jump(cpu, selector, offset)
    return ret_far


@register(ONE_BYTE, 0xCF)
def build_iret(d: Decoder) -> Closure:
    cpu = d.cpu
    size = d.opsize
    pop = cpu.pop32 if size == 4 else cpu.pop16
    width = 0xFFFFFFFF if size == 4 else 0xFFFF
    n, m = d.length, d.ipmask

    def iret(eip: int) -> int:
        if cpu.cr[0] & CR0_PE:
            return transfers.iret(cpu, size, (eip + n) & m)
        offset = pop()
        selector = pop() & 0xFFFF
        flags = pop()
        cpu.write_flags(flags, width)
        return far_jump(cpu, selector, offset)
    return iret


@register(ONE_BYTE, 0xCC, 0xCD, 0xCE, 0xF1)
def build_int(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    if op == 0xF1 and cpu.generation < 3:
        raise DecodeFault()
    vector = {0xCC: 3, 0xCE: 4, 0xF1: 1}.get(op)
    if op == 0xCD:
        vector = d.imm8()
    n, m = d.length, d.ipmask

    def software_interrupt(eip: int) -> int:
        if op == 0xCE and not alu.get_of(cpu):
            return (eip + n) & m
        cpu.eip = eip       # hooks (traces) locate the event at this instruction
        if op == 0xCD and cpu.flags & VM and cpu.flags & IOPL != IOPL:
            raise CPUFault(GP, 0)       # V86 monitor: INT n is IOPL-sensitive, INT3/INTO not
        return deliver(cpu, vector, (eip + n) & m)
    return software_interrupt


def deliver(cpu, vector: int, return_eip: int) -> int:
    was_cache = cpu.code_cache
    new_eip = cpu.interrupt(vector, return_eip, "software")
    if cpu.code_cache is not was_cache:
        exit_after(cpu, new_eip)
    return new_eip


@register(ONE_BYTE, 0xC8, 0xC9)
def build_enter_leave(d: Decoder) -> Closure:
    cpu = d.cpu
    if cpu.generation < 1:
        raise DecodeFault()
    regs = cpu.regs
    size = d.opsize
    pop = cpu.pop32 if size == 4 else cpu.pop16
    push = cpu.push32 if size == 4 else cpu.push16
    read = cpu.rd32 if size == 4 else cpu.rd16
    set_bp = d.reg_set(size, EBP)
    if d.opcode == 0xC9:
        n, m = d.length, d.ipmask

        def leave(eip: int) -> int:
            saved = regs[ESP]
            if cpu.stack32:
                regs[ESP] = regs[EBP]
            else:
                regs[ESP] = (regs[ESP] & 0xFFFF0000) | (regs[EBP] & 0xFFFF)
            try:
                set_bp(pop())
            except CPUFault:
                regs[ESP] = saved
                raise
            return (eip + n) & m
        return leave
    frame_size = d.imm16()
    level = d.imm8() & 0x1F
    n, m = d.length, d.ipmask
    pushed = size * (level + 1 if level else 1)
    span = size - 1

    def enter(eip: int) -> int:
        # SDM ENTER: the new frame is checked (limit, then a write at the final
        # stack pointer, which is what raises #PF) before anything changes; the
        # pushes then run with the registers restored if one of them faults.  The
        # frame pointer is eSP after the first push, to EBP with a 32-bit operand
        # (all of ESP, also on a 16-bit stack) and to BP with a 16-bit one, as the
        # 80386 manual's pseudo-code and Bochs have it.
        stack32 = cpu.stack32
        stack_mask = 0xFFFFFFFF if stack32 else 0xFFFF
        final = ((regs[ESP] & stack_mask) - pushed - frame_size) & stack_mask
        if cpu.generation >= 2 and not protected.offset_allowed(
                cpu, SS, final, span if cpu.generation >= 3 else 0):
            raise CPUFault(12, 0)
        if cpu.paging:
            cpu.translate(cpu.seg_base[SS] + final, True)
        saved = list(regs)
        try:
            push(regs[EBP])
            frame = regs[ESP] if size == 4 else regs[ESP] & 0xFFFF
            bp = regs[EBP] & stack_mask
            for _ in range(1, level):
                bp = (bp - size) & stack_mask
                push(read(cpu.seg_base[SS] + bp))
            if level:
                push(frame)
        except CPUFault:
            regs[:] = saved
            raise
        if size == 4:
            regs[EBP] = frame
        else:
            regs[EBP] = (regs[EBP] & 0xFFFF0000) | frame
        regs[ESP] = final if stack32 else (regs[ESP] & 0xFFFF0000) | final
        return (eip + n) & m
    return enter


# ---------------------------------------------------------------- flags
@register(ONE_BYTE, 0xF5, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD)
def build_flag_op(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    n, m = d.length, d.ipmask

    def flag_op(eip: int) -> int:
        flags = materialize(cpu)
        if op == 0xF5:
            flags ^= CF
        elif op == 0xF8:
            flags &= ~CF
        elif op == 0xF9:
            flags |= CF
        elif op == 0xFA:
            if cpu.cpl > (flags >> 12) & 3:     # CPL > IOPL, or V86 with IOPL < 3
                raise CPUFault(GP, 0)
            flags &= ~IF
        elif op == 0xFB:
            if cpu.cpl > (flags >> 12) & 3:
                raise CPUFault(GP, 0)
            if not flags & IF:
                cpu.inhibit_icount = cpu.clock.icount
            flags |= IF
            cpu.check_irq = cpu.intr_line or cpu.nmi_pending
        elif op == 0xFC:
            flags &= ~DF
        else:
            flags |= DF
        cpu.flags = flags
        return (eip + n) & m
    return flag_op


@register(ONE_BYTE, 0x9C, 0x9D)
def build_pushf_popf(d: Decoder) -> Closure:
    cpu = d.cpu
    size = d.opsize
    n, m = d.length, d.ipmask
    if d.opcode == 0x9C:
        if size == 4:
            def pushfd(eip: int) -> int:
                if cpu.flags & VM and cpu.flags & IOPL != IOPL:
                    raise CPUFault(GP, 0)
                cpu.push32(cpu.get_eflags() & 0x00FCFFFF)
                return (eip + n) & m
            return pushfd

        def pushf(eip: int) -> int:
            if cpu.flags & VM and cpu.flags & IOPL != IOPL:
                raise CPUFault(GP, 0)
            cpu.push16(cpu.read_flags16())
            return (eip + n) & m
        return pushf
    pop = cpu.pop32 if size == 4 else cpu.pop16
    width = 0xFFFFFFFF if size == 4 else 0xFFFF

    def popf(eip: int) -> int:
        if cpu.flags & VM and cpu.flags & IOPL != IOPL:
            raise CPUFault(GP, 0)
        cpu.write_flags(pop(), width)
        return (eip + n) & m
    return popf


# ---------------------------------------------------------------- I/O
@register(ONE_BYTE, 0xE4, 0xE5, 0xE6, 0xE7, 0xEC, 0xED, 0xEE, 0xEF)
def build_in_out(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    regs = cpu.regs
    size = 1 if op & 1 == 0 else d.opsize
    port = d.imm8() if op < 0xEC else -1
    get = d.reg_get(size, EAX)
    setter = d.reg_set(size, EAX)
    output = op & 2 == 2
    n, m = d.length, d.ipmask

    def in_out(eip: int) -> int:
        cpu.eip = eip
        target = port if port >= 0 else regs[EDX] & 0xFFFF
        if output:
            cpu.io_write(target, size, get())
        else:
            setter(cpu.io_read(target, size))
        return (eip + n) & m
    return in_out


# ---------------------------------------------------------------- processor control
@register(ONE_BYTE, 0xF4)
def build_hlt(d: Decoder) -> Closure:
    cpu = d.cpu
    n, m = d.length, d.ipmask

    def hlt(eip: int) -> int:
        if cpu.cpl:
            raise CPUFault(GP, 0)
        cpu.halted = True
        exit_after(cpu, (eip + n) & m)
        return eip
    return hlt


@register(ONE_BYTE, 0x9B)
def build_wait(d: Decoder) -> Closure:
    cpu = d.cpu
    n, m = d.length, d.ipmask

    def wait(eip: int) -> int:
        if cpu.generation >= 2 and cpu.cr[0] & CR0_TS and cpu.cr[0] & 0x2:
            raise CPUFault(NM)
        if cpu.fpu is not None:
            cpu.fpu.check_pending()
        return (eip + n) & m
    return wait


@register(ONE_BYTE, *range(0xD8, 0xE0))
def build_escape(d: Decoder) -> Closure:
    """x87 escape: the FPU's instructions (`fpu/ops.py`); without a coprocessor
    #NM when CR0.EM or TS says so, otherwise the bus cycle goes nowhere
    (FNSTSW/FNSTCW store nothing), which is how the classic FNINIT/FNSTSW probe
    finds no FPU."""
    cpu = d.cpu
    if cpu.fpu is not None:
        return fpu_ops.build(d)
    d.modrm()
    if d.mod != 3:
        d.offset_only()
    n, m = d.length, d.ipmask

    def escape(eip: int) -> int:
        if cpu.generation >= 2 and cpu.cr[0] & (CR0_EM | CR0_TS):
            raise CPUFault(NM)
        return (eip + n) & m
    return escape
