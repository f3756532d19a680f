"""String instructions MOVS CMPS SCAS LODS STOS INS OUTS with REP/REPE/REPNE.

A repeated instruction runs all its iterations in one call; a fault part-way
leaves SI/DI/CX at the faulting iteration and EIP at the instruction, so it
restarts where it stopped (as the hardware does).  REP INS/OUTS also stop between
iterations when a device they talk to raises an interrupt the CPU would take (SDM
vol. 2, REP: interrupts are recognized between iterations); they end their decoded
block, so the run loop services it and then resumes the instruction."""

from typing import Callable, Optional

from . import alu
from .decoder import ONE_BYTE, DecodeFault, Decoder, MASKS, register
from .state import AC, CPUFault, CR0_AM, DF, EAX, ECX, EDI, EDX, ES, ESI

Closure = Callable[[int], int]
MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS = range(7)
KINDS = {0xA4: MOVS, 0xA5: MOVS, 0xA6: CMPS, 0xA7: CMPS, 0xAA: STOS, 0xAB: STOS,
         0xAC: LODS, 0xAD: LODS, 0xAE: SCAS, 0xAF: SCAS, 0x6C: INS, 0x6D: INS,
         0x6E: OUTS, 0x6F: OUTS}


@register(ONE_BYTE, *KINDS)
def build_string(d: Decoder) -> Closure:
    op = d.opcode
    cpu = d.cpu
    kind = KINDS[op]
    if kind >= INS and cpu.generation < 1:
        raise DecodeFault()
    size = 1 if op & 1 == 0 else d.opsize
    mask = MASKS[size]
    regs = cpu.regs
    seg_base = cpu.seg_base
    src_seg = d.seg_for(3)
    src_limit, src_fault = d.limits(src_seg, False)
    dst_limit, dst_fault = d.limits(ES, kind in (MOVS, STOS, INS))
    amask = MASKS[d.adsize]
    keep = 0xFFFFFFFF ^ amask
    read = {1: cpu.rd8, 2: cpu.rd16, 4: cpu.rd32}[size]
    write = {1: cpu.wr8, 2: cpu.wr16, 4: cpu.wr32}[size]
    acc_get = d.reg_get(size, EAX)
    acc_set = d.reg_set(size, EAX)
    rep = d.rep
    span = size - 1
    n, m = d.length, d.ipmask

    faulting = [ESI]

    def src_address() -> int:
        offset = regs[ESI] & amask
        if offset + span > src_limit[src_seg]:
            faulting[0] = ESI
            return src_fault(src_seg, offset, span)
        return seg_base[src_seg] + offset

    def dst_address() -> int:
        offset = regs[EDI] & amask
        if offset + span > dst_limit[ES]:
            faulting[0] = EDI
            return dst_fault(ES, offset, span)
        return seg_base[ES] + offset

    def step_si(delta: int) -> None:
        regs[ESI] = (regs[ESI] & keep) | ((regs[ESI] + delta) & amask)

    def step_di(delta: int) -> None:
        regs[EDI] = (regs[EDI] & keep) | ((regs[EDI] + delta) & amask)

    def once(delta: int) -> bool:
        """One iteration; returns the comparison result for CMPS/SCAS (ZF)."""
        if kind == MOVS:
            write(dst_address(), read(src_address()))
            step_si(delta)
            step_di(delta)
        elif kind == STOS:
            write(dst_address(), acc_get())
            step_di(delta)
        elif kind == LODS:
            acc_set(read(src_address()))
            step_si(delta)
        elif kind == CMPS:
            a = read(src_address())
            b = read(dst_address())
            alu.alu_sub(cpu, a, b, mask)
            step_si(delta)
            step_di(delta)
            return a == b
        elif kind == SCAS:
            b = read(dst_address())
            a = acc_get()
            alu.alu_sub(cpu, a, b, mask)
            step_di(delta)
            return a == b
        elif kind == INS:
            address = dst_address()
            write(address, cpu.io_read(regs[EDX] & 0xFFFF, size))
            step_di(delta)
        else:
            cpu.io_write(regs[EDX] & 0xFFFF, size, read(src_address()))
            step_si(delta)
        return True

    compares = kind in (CMPS, SCAS)
    # Only port I/O can raise an interrupt part-way through a batch.
    interruptible = kind in (INS, OUTS)
    late_fault = cpu.generation == 2
    # The order in which the 286 microcode touches the operands (CMPS reads ES:DI first).
    order = {MOVS: (ESI, EDI), CMPS: (EDI, ESI), LODS: (ESI,), OUTS: (ESI,)}.get(kind, (EDI,))

    def faulted(delta: int, repeated: bool) -> None:
        """A real-mode 286 has already stepped the index register of the faulting
        operand and of those it accessed before (and CX) when a limit fault of a
        string instruction is raised (SingleStepTests data)."""
        if late_fault:
            for index in order:
                (step_si if index == ESI else step_di)(delta)
                if index == faulting[0]:
                    break
            if repeated:
                regs[ECX] = (regs[ECX] & keep) | (((regs[ECX] & amask) - 1) & amask)

    if not rep:
        def string_once(eip: int) -> int:
            cpu.eip = eip
            delta = -size if cpu.flags & DF else size
            try:
                once(delta)
            except CPUFault:
                faulted(delta, False)
                raise
            return (eip + n) & m
        return string_once
    want_equal = rep == 0xF3

    def string_rep(eip: int) -> int:
        cpu.eip = eip
        delta = -size if cpu.flags & DF else size
        watched = cpu.dr[7] & 0xFF
        # The runs skip the alignment check, which can fault only at CPL 3 with
        # CR0.AM and EFLAGS.AC (Linux sets CR0.AM and runs its kernel at CPL 0),
        # and the data breakpoints' accessor wrappers (DR7 enables any).
        if delta > 0 and not (cpu.cr[0] & CR0_AM and cpu.flags & AC and cpu.cpl == 3) \
                and not watched:
            if kind == STOS:
                fast_stos(cpu, regs, size, amask, keep)
            elif kind == MOVS:
                fast_movs(cpu, regs, size, amask, keep, src_seg)
        try:
            while regs[ECX] & amask:
                result = once(delta)
                regs[ECX] = (regs[ECX] & keep) | (((regs[ECX] & amask) - 1) & amask)
                if compares and result != want_equal:
                    break
                if interruptible and cpu.check_irq and regs[ECX] & amask and cpu.can_wake():
                    return eip
                if watched and cpu.dr_hits and regs[ECX] & amask:
                    # A data or I/O breakpoint traps after the iteration that hit
                    # it (SDM vol. 3B, 17.3.1.2): the debug loop raises #DB with
                    # EIP at this instruction, which resumes with the rest.
                    return eip
        except CPUFault:
            faulted(delta, True)
            raise
        return (eip + n) & m
    return string_rep


def fast_stos(cpu, regs, size: int, amask: int, keep: int) -> None:
    """REP STOS forward over fast RAM pages: fill the run that stays inside the
    current destination page at once, page after page, each run checked as the
    element loop would check it (segment limit, translation); whatever does not
    qualify is left to the element loop, which also raises any fault.  (Linux
    clears pages and its tables with REP STOSD under paging: element by element
    that was a tenth of its boot's kernel set-up on CPython.)"""
    memory = cpu.bus.memory
    seg_base, seg_wlimit = cpu.seg_base, cpu.seg_wlimit
    element = (regs[EAX] & MASKS[size]).to_bytes(size, "little")
    while True:
        count = regs[ECX] & amask
        offset = regs[EDI] & amask
        linear = seg_base[ES] + offset
        elements = min(count, (0x1000 - (linear & 0xFFF)) // size)
        if elements == 0:
            return
        length = elements * size
        if offset + length - 1 > min(seg_wlimit[ES], amask):
            return
        start = fast_page(cpu, linear, True)
        if start is None:
            return
        memory[start:start + length] = element * elements
        regs[EDI] = (regs[EDI] & keep) | ((offset + length) & amask)
        regs[ECX] = (regs[ECX] & keep) | (count - elements)


def fast_movs(cpu, regs, size: int, amask: int, keep: int, src_seg: int) -> None:
    """REP MOVS forward between fast RAM pages: copy the run that stays inside the
    current source and destination pages at once, page after page, each run
    checked as the element loop would check it (segment limits, both
    translations, no forward overlap, which the element loop would replicate);
    whatever does not qualify is left to the element loop, which also raises any
    fault.  (Linux's decompressor moves megabytes this way.)"""
    memory = cpu.bus.memory
    seg_base, seg_limit, seg_wlimit = cpu.seg_base, cpu.seg_limit, cpu.seg_wlimit
    while True:
        count = regs[ECX] & amask
        src_off, dst_off = regs[ESI] & amask, regs[EDI] & amask
        src_lin, dst_lin = seg_base[src_seg] + src_off, seg_base[ES] + dst_off
        elements = min(count, (0x1000 - (src_lin & 0xFFF)) // size, (0x1000 - (dst_lin & 0xFFF)) // size)
        if elements == 0:
            return
        length = elements * size
        if src_off + length - 1 > min(seg_limit[src_seg], amask) or \
                dst_off + length - 1 > min(seg_wlimit[ES], amask):
            return
        src = fast_page(cpu, src_lin, False)
        dst = fast_page(cpu, dst_lin, True) if src is not None else None
        if dst is None or src < dst < src + length:
            return
        memory[dst:dst + length] = memory[src:src + length]
        regs[ESI] = (regs[ESI] & keep) | ((src_off + length) & amask)
        regs[EDI] = (regs[EDI] & keep) | ((dst_off + length) & amask)
        regs[ECX] = (regs[ECX] & keep) | (count - elements)


def fast_page(cpu, linear: int, write: bool) -> Optional[int]:
    """The physical address of `linear` when its page is RAM the page runs may
    read (write) directly, translated as the element loop's access would (with
    paging, setting the accessed and dirty bits); None otherwise, also where
    the translation would fault (the element loop raises it)."""
    try:
        address = cpu.translate(linear, write)
    except CPUFault:
        return None
    fast = cpu.bus.write_fast if write else cpu.bus.read_fast
    return address if fast[address >> 12] else None
