"""Debug registers and single-stepping (SDM vol. 3B chapter 17): DR0-DR3 linear
breakpoints on execution, data writes or data reads/writes (lengths 1, 2, 4),
I/O breakpoints on port accesses (R/W = 10b with CR4.DE, Pentium and later),
DR6 status, DR7 control with general detect (GD: a MOV DRn raises #DB with DR6.BD),
EFLAGS.TF single-step traps and EFLAGS.RF.

The fast loops know nothing of this.  While TF is set or DR7 enables a
breakpoint, `CPU.run` uses `run_debug`, which executes one instruction at a
time: an execution breakpoint at CS:EIP raises a #DB fault before the instruction
(RF suppresses it once, so the handler's IRET can resume); data breakpoints are
noted by accessor wrappers installed at `rebuild()` (I/O breakpoints by a wrapper
of `io_read`/`io_write`, which port instructions call) and, like TF, raise a #DB
trap after the instruction.  DR6 reads with its reserved bits set (0xFFFF0FF0)
and DR7 with bit 10 set, as on the 486; DR4/DR5 alias DR6/DR7 unless CR4.DE is set
(then they raise #UD).  GD is cleared when the #DB it causes is raised, so the
handler can use the debug registers.
"""

from typing import List, Tuple

from .state import CPUFault, CR4_DE, DB, RF, TF, UD

DR6_FIXED = 0xFFFF0FF0
DR6_ACCESS = 0x2000         # BD: a debug-register access with DR7.GD set
DR6_SINGLE_STEP = 0x4000
DR7_FIXED = 0x400
DR7_GD = 0x2000
LENGTHS = (1, 2, 8, 4)
EXECUTE, WRITE, IO, READ_WRITE = 0, 1, 2, 3


def active(cpu) -> bool:
    return bool(cpu.flags & TF) or bool(cpu.dr[7] & 0xFF)


def check_access(cpu, index: int) -> None:
    """Before MOV to/from DRn (after the CPL check): DR4/DR5 with CR4.DE raise
    #UD; with DR7.GD set the access raises a #DB fault with DR6.BD and clears GD."""
    if index in (4, 5) and cpu.cr[4] & CR4_DE:
        raise CPUFault(UD)
    if cpu.dr[7] & DR7_GD:
        cpu.dr[6] |= DR6_ACCESS
        cpu.dr[7] &= ~DR7_GD
        raise CPUFault(DB)


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
    """Wrap the memory accessors so data accesses matching DR0-DR3 set `dr_hits`,
    and the port accessors for I/O breakpoints."""
    cpu.dr_hits = 0
    install_io(cpu)
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


def install_io(cpu) -> None:
    """I/O breakpoints (CR4.DE): wrap `cpu.io_read`/`io_write` while one is enabled,
    otherwise use the class's methods (no cost)."""
    cpu.__dict__.pop("io_read", None)
    cpu.__dict__.pop("io_write", None)
    watches = breakpoints(cpu, (IO,)) if cpu.cr[4] & CR4_DE else []
    if not watches:
        return
    io_read, io_write = cpu.io_read, cpu.io_write

    def note(port: int, size: int) -> None:
        for index, start, end, _ in watches:
            if port < end and port + size > start:
                cpu.dr_hits |= 1 << index

    def watched_io_read(port: int, size: int) -> int:
        value = io_read(port, size)
        note(port, size)
        return value

    def watched_io_write(port: int, size: int, value: int) -> None:
        io_write(port, size, value)
        note(port, size)

    cpu.io_read, cpu.io_write = watched_io_read, watched_io_write


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
        if cpu.ss_load_icount != clock.icount:
            cpu.dr_hits = 0
        cpu.step_loop(True)
        cpu.flags &= ~RF
        if cpu.ss_load_icount == clock.icount:
            # MOV SS / POP SS hold debug exceptions, single-step included, to the
            # boundary after the next instruction (SDM vol. 3, 6.8.3)
            continue
        if cpu.dr_hits or stepping:
            cpu.dr[6] |= cpu.dr_hits | (DR6_SINGLE_STEP if stepping else 0)
            cpu.dr_hits = 0
            raise CPUFault(DB)
