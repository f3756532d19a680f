"""Debug registers and single-stepping (SDM vol. 3B chapter 17): DR0-DR3 linear
breakpoints on execution, data writes or data reads/writes (lengths 1, 2, 4),
DR6 status, DR7 control, EFLAGS.TF single-step traps and EFLAGS.RF.

The fast loops know nothing of this.  While TF is set or DR7 enables a
breakpoint, `CPU.run` uses `run_debug`, which executes one instruction at a
time: an execution breakpoint at CS:EIP raises a #DB fault before the instruction
(RF suppresses it once, so the handler's IRET can resume); data breakpoints are
noted by accessor wrappers installed at `rebuild()` and, like TF, raise a #DB
trap after the instruction.  DR6 reads with its reserved bits set (0xFFFF0FF0)
and DR7 with bit 10 set, as on the 486; DR4/DR5 alias DR6/DR7.
"""

from typing import List, Tuple

from .state import CPUFault, DB, RF, TF

DR6_FIXED = 0xFFFF0FF0
DR6_SINGLE_STEP = 0x4000
DR7_FIXED = 0x400
LENGTHS = (1, 2, 8, 4)
EXECUTE, WRITE, READ_WRITE = 0, 1, 3


def active(cpu) -> bool:
    return bool(cpu.flags & TF) or bool(cpu.dr[7] & 0xFF)


def read_dr(cpu, index: int) -> int:
    if index in (4, 6):
        return cpu.dr[6] | DR6_FIXED
    if index in (5, 7):
        return cpu.dr[7] | DR7_FIXED
    return cpu.dr[index]


def write_dr(cpu, index: int, value: int) -> None:
    """MOV DRn: a DR7 change re-installs the data watches (decoded code captured
    the memory accessors, so the decode cache is rebuilt) and ends the batch so
    the run loop can switch to the stepping loop."""
    if index in (4, 6):
        cpu.dr[6] = value & ~DR6_FIXED & 0xFFFFFFFF
        return
    index = 7 if index == 5 else index
    cpu.dr[index] = value & 0xFFFFFFFF
    cpu.rebuild()
    cpu.clock.stop_icount = cpu.clock.icount


def breakpoints(cpu, kinds: Tuple[int, ...]) -> List[Tuple[int, int, int, int]]:
    """Enabled breakpoints of the given R/W kinds: (index, start, end, kind)."""
    dr7 = cpu.dr[7]
    found = []
    for index in range(4):
        if not (dr7 >> (2 * index)) & 3:
            continue
        kind = (dr7 >> (16 + 4 * index)) & 3
        if kind not in kinds:
            continue
        length = 1 if kind == EXECUTE else LENGTHS[(dr7 >> (18 + 4 * index)) & 3]
        start = cpu.dr[index] & ~(length - 1) & 0xFFFFFFFF
        found.append((index, start, start + length, kind))
    return found


def install(cpu) -> None:
    """Wrap the memory accessors so data accesses matching DR0-DR3 set `dr_hits`."""
    cpu.dr_hits = 0
    watches = breakpoints(cpu, (WRITE, READ_WRITE))
    if not watches:
        return
    rd8, rd16, rd32, wr8, wr16, wr32 = cpu.rd8, cpu.rd16, cpu.rd32, cpu.wr8, cpu.wr16, cpu.wr32

    def note(lin: int, size: int, write: bool) -> None:
        lin &= 0xFFFFFFFF
        for index, start, end, kind in watches:
            if lin < end and lin + size > start and (write or kind == READ_WRITE):
                cpu.dr_hits |= 1 << index

    def watched_rd8(lin: int) -> int:
        note(lin, 1, False)
        return rd8(lin)

    def watched_rd16(lin: int) -> int:
        note(lin, 2, False)
        return rd16(lin)

    def watched_rd32(lin: int) -> int:
        note(lin, 4, False)
        return rd32(lin)

    def watched_wr8(lin: int, value: int) -> None:
        note(lin, 1, True)
        wr8(lin, value)

    def watched_wr16(lin: int, value: int) -> None:
        note(lin, 2, True)
        wr16(lin, value)

    def watched_wr32(lin: int, value: int) -> None:
        note(lin, 4, True)
        wr32(lin, value)

    cpu.rd8, cpu.rd16, cpu.rd32 = watched_rd8, watched_rd16, watched_rd32
    cpu.wr8, cpu.wr16, cpu.wr32 = watched_wr8, watched_wr16, watched_wr32


def run_debug(cpu) -> None:
    """Step while debugging is active; returns when it no longer is (the caller
    goes back to the fast loop) or the batch ends."""
    clock = cpu.clock
    while clock.icount < clock.stop_icount and not cpu.halted and active(cpu):
        if not cpu.flags & RF:
            linear = (cpu.seg_base[1] + cpu.eip) & 0xFFFFFFFF
            for index, start, _, _ in breakpoints(cpu, (EXECUTE,)):
                if start == linear:
                    cpu.dr[6] |= 1 << index
                    cpu.flags |= RF          # pushed with the fault, so IRET resumes
                    raise CPUFault(DB)
        stepping = cpu.flags & TF
        cpu.dr_hits = 0
        cpu.step_loop(True)
        cpu.flags &= ~RF
        if cpu.dr_hits or stepping:
            cpu.dr[6] |= cpu.dr_hits | (DR6_SINGLE_STEP if stepping else 0)
            cpu.dr_hits = 0
            raise CPUFault(DB)
