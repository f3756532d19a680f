"""Exception delivery rules: double faults, the triple-fault report, and the
alignment check (#AC).

SDM vol. 3A 6.15, table 6-5: a fault while delivering an earlier one becomes #DF
when both are contributory (#DE #TS #NP #SS #GP), or when the first is #PF and the
second is #PF or contributory; otherwise the second is handled serially.  A fault
while delivering #DF is a triple fault: the processor shuts down, which a PC turns
into a reset (or, per the profile's `machine.on_triple_fault: stop`, a stop with a
readable report: registers, the faulting instruction disassembled, the last
exceptions).
"""

import collections
from typing import Deque, Optional, Tuple

from .state import AC, AC_VECTOR, CPUFault, CR0_AM, CS, DF_VECTOR, PF_VECTOR

CONTRIBUTORY = frozenset((0, 10, 11, 12, 13))
NAMES = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM",
         8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF",
         17: "#AC"}
#: How many exceptions the triple-fault report lists.
HISTORY = 8

Record = Tuple[int, Optional[int], int, int]


def history(cpu) -> Deque[Record]:
    """The last exceptions (vector, error code, CS, EIP), oldest first."""
    recent = getattr(cpu, "recent_exceptions", None)
    if recent is None:
        recent = cpu.recent_exceptions = collections.deque(maxlen=HISTORY)
    return recent


def is_double_fault(first: int, second: int) -> bool:
    if first in CONTRIBUTORY and second in CONTRIBUTORY:
        return True
    return first == PF_VECTOR and (second == PF_VECTOR or second in CONTRIBUTORY)


def deliver(cpu, fault: CPUFault, return_eip: int) -> Optional[CPUFault]:
    """Deliver `fault`; returns the fault that ended in shutdown, or None."""
    recent = history(cpu)
    recent.append((fault.vector, fault.error_code, cpu.seg_sel[CS], cpu.eip))
    first = fault
    while True:
        try:
            cpu.interrupt(first.vector, return_eip, "exception", first.error_code)
            return None
        except CPUFault as second:
            recent.append((second.vector, second.error_code, cpu.seg_sel[CS], cpu.eip))
            if first.vector == DF_VECTOR:
                return second
            if is_double_fault(first.vector, second.vector):
                first = CPUFault(DF_VECTOR, 0)
            else:
                first = second
            return_eip = cpu.eip


def disassemble(cpu) -> str:
    """The instruction at CS:EIP as text (capstone), or why it cannot be shown."""
    try:
        code = bytes(cpu.read_linear((cpu.seg_base[CS] + cpu.eip + i) & 0xFFFFFFFF, 1)
                     for i in range(15))
    except CPUFault as fault:
        return f"(instruction bytes unreadable: {NAMES.get(fault.vector, fault.vector)})"
    try:
        import capstone
    except ImportError:
        return "bytes " + code.hex(" ")
    mode = capstone.CS_MODE_32 if cpu.code32 else capstone.CS_MODE_16
    engine = capstone.Cs(capstone.CS_ARCH_X86, mode)
    for insn in engine.disasm(code, cpu.eip):
        return f"{insn.mnemonic} {insn.op_str}".strip() + "   ; " + insn.bytes.hex(" ")
    return "(undecodable) " + code.hex(" ")


def install_alignment_check(cpu) -> None:
    """With CR0.AM set (486 and later) and paging off, wrap the word and dword
    accessors: at CPL 3 with EFLAGS.AC set, a misaligned access raises #AC(0) (SDM
    6.15, interrupt 17).  Without CR0.AM nothing is wrapped, so the check costs
    nothing; the paged accessors test alignment themselves (`paging.py`), because
    Linux runs with CR0.AM set and a wrapper there costs every kernel access."""
    if not cpu.cr[0] & CR0_AM or cpu.generation < 4 or cpu.paging:
        return
    rd16, rd32, wr16, wr32 = cpu.rd16, cpu.rd32, cpu.wr16, cpu.wr32

    def check(lin: int, alignment_mask: int) -> None:
        if lin & alignment_mask and cpu.cpl == 3 and cpu.flags & AC:
            raise CPUFault(AC_VECTOR, 0)

    def checked_rd16(lin: int) -> int:
        check(lin, 1)
        return rd16(lin)

    def checked_rd32(lin: int) -> int:
        check(lin, 3)
        return rd32(lin)

    def checked_wr16(lin: int, value: int) -> None:
        check(lin, 1)
        wr16(lin, value)

    def checked_wr32(lin: int, value: int) -> None:
        check(lin, 3)
        wr32(lin, value)

    cpu.rd16, cpu.rd32, cpu.wr16, cpu.wr32 = checked_rd16, checked_rd32, checked_wr16, checked_wr32


def report(cpu, fault: CPUFault) -> str:
    """The readable triple-fault report."""
    lines = [f"triple fault: {NAMES.get(fault.vector, fault.vector)} while delivering #DF "
             f"at {cpu.seg_sel[CS]:04x}:{cpu.eip:08x} (CPL {cpu.cpl})",
             f"instruction: {disassemble(cpu)}", cpu.describe(),
             f"gdtr={cpu.gdtr_base:08x}/{cpu.gdtr_limit:04x} "
             f"idtr={cpu.idtr_base:08x}/{cpu.idtr_limit:04x} tr={cpu.tr:04x} "
             f"ldtr={cpu.ldtr:04x} cr4={cpu.cr[4]:08x}",
             "last exceptions (oldest first):"]
    for vector, error, cs, eip in history(cpu):
        code = "" if error is None else f" error {error:#06x}"
        lines.append(f"  {NAMES.get(vector, vector)} (vector {vector}){code} at {cs:04x}:{eip:08x}")
    return "\n".join(lines)
