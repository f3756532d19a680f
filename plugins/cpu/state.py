"""CPU constants, the fault exception and the saved-state dataclass.

Register and segment indices follow the x86 encoding (ModRM reg field, Sreg field),
so decoded instructions index the register lists directly.
"""

import dataclasses
from types import CodeType
from typing import Any, Callable, Dict, List, Optional, Set

# General registers in encoding order.
EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI = range(8)
REG32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
REG16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
REG8 = ("al", "cl", "dl", "bl", "ah", "ch", "dh", "bh")

# Segment registers in encoding order.
ES, CS, SS, DS, FS, GS = range(6)
SEGS = ("es", "cs", "ss", "ds", "fs", "gs")

# EFLAGS bits.
CF, PF, AF, ZF, SF, TF, IF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
IOPL, NT, RF, VM, AC, ID = 0x3000, 0x4000, 0x10000, 0x20000, 0x40000, 0x200000
ARITH_FLAGS = CF | PF | AF | ZF | SF | OF
FLAG_BITS = {"cf": CF, "pf": PF, "af": AF, "zf": ZF, "sf": SF, "tf": TF, "if": IF,
             "df": DF, "of": OF}

# CR0 bits.
CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_PG = (
    0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x10000, 0x80000000)
CR0_AM = 0x40000            # alignment mask: #AC at CPL 3 with EFLAGS.AC (486+)
CR0_CACHE = 0x60000000      # CD and NW: caching disabled, not write-through (486+)
CR4_DE = 0x8                # debugging extensions: I/O breakpoints, DR4/DR5 #UD
CR4_OSFXSR = 0x200          # the OS saves XMM/MXCSR with FXSAVE: SSE instructions run
CR4_OSXMMEXCPT = 0x400      # the OS handles #XM (clear: unmasked SIMD exceptions #UD)

# Exception vectors.
DE, DB, NMI_VECTOR, BP, OF_VECTOR, BR, UD, NM, DF_VECTOR = 0, 1, 2, 3, 4, 5, 6, 7, 8
TS, NP, SS_VECTOR, GP, PF_VECTOR = 10, 11, 12, 13, 14
MF = 16
AC_VECTOR = 17
XM = 19                     # SIMD floating-point exception


class CPUFault(Exception):
    """An architectural exception: raised by instruction semantics, caught by the
    run loop and delivered through the IVT (IDT in protected mode)."""

    def __init__(self, vector: int, error_code: Optional[int] = None,
                 return_eip: Optional[int] = None) -> None:
        super().__init__(vector, error_code)
        self.vector = vector
        self.error_code = error_code
        #: where the handler returns to when it is not the faulting instruction
        #: (the 8086 pushes the address after a divide error)
        self.return_eip = return_eip


class RestartAlone(CPUFault):
    """The running instruction is abandoned before its store took effect and runs
    again on its own, outside its block: the run loop counts it off and
    single-steps it (`store_restart`), as after a page fault on the store."""

    def __init__(self) -> None:
        super().__init__(-1)


class BreakBefore(CPUFault):
    """An address breakpoint stopped the machine before its instruction (the
    check `CPU.set_address_breaks` installs): the run loop counts the
    instruction off and leaves with EIP at it."""

    def __init__(self) -> None:
        super().__init__(-1)


class CodeModified(RestartAlone):
    """A store of the running instruction is about to change bytes of the block
    being run (a Pentium and later see such a change at the next instruction,
    SDM vol. 3 11.6): the instruction restarts alone, and then the changed code
    is decoded."""


@dataclasses.dataclass(frozen=True)
class Model:
    """The documented differences between the CPU generations we emulate."""

    name: str
    generation: int            # 0 = 8086, 1 = 80186, 2 = 80286, 3 = 80386, 4 = 80486, 5 = Pentium, 6 = P6
    flags_high_real: int       # FLAGS bits 12-15 as seen in real mode (forced value)
    flags_writable: int        # EFLAGS bits software can change
    max_length: int            # instruction length limit (0: none)
    signature: int             # EDX at reset (family/model/stepping)
    cpuid: bool
    # The P6 extensions a part has beyond the Pentium Pro (CPUID leaf 1 EDX):
    mmx: bool = False          # MMX instructions on the x87 registers
    fxsr: bool = False         # FXSAVE/FXRSTOR, CR4.OSFXSR
    pat: bool = False          # the page attribute table (PAT bit in page entries)
    pse36: bool = False        # 4 MiB pages above 4 GiB (PDE bits 16:13)
    sse: bool = False          # XMM0-7, MXCSR and the SSE instructions (ops_sse.py)
    sse2: bool = False         # SSE2 (ops_sse2.py), MXCSR.DAZ, CLFLUSH and the fences


MODELS = {
    "8086": Model("8086", 0, 0xF000, 0x0FD5, 0, 0, False),
    "80186": Model("80186", 1, 0xF000, 0x0FD5, 0, 0, False),
    "80286": Model("80286", 2, 0x0000, 0x0FD5, 10, 0, False),
    "80386": Model("80386", 3, 0x0000, 0x37FD5, 15, 0x0308, False),
    "80486": Model("80486", 4, 0x0000, 0x277FD5, 15, 0x0402, True),
    "pentium": Model("pentium", 5, 0x0000, 0x277FD5, 15, 0x0543, True),
    # Pentium Pro: family 6, model 1, stepping 9
    "pentiumpro": Model("pentiumpro", 6, 0x0000, 0x277FD5, 15, 0x0619, True),
    # Pentium II "Deschutes": family 6, model 5, stepping 2 (CPUID EDX 0183FBFF)
    "pentium2": Model("pentium2", 6, 0x0000, 0x277FD5, 15, 0x0652, True,
                      mmx=True, fxsr=True, pat=True, pse36=True),
    # Pentium III "Katmai": family 6, model 7, stepping 3 (CPUID EDX 0383FBFF)
    "pentium3": Model("pentium3", 6, 0x0000, 0x277FD5, 15, 0x0673, True,
                      mmx=True, fxsr=True, pat=True, pse36=True, sse=True),
    # Pentium 4 "Willamette": family 15, model 1, stepping 2 (CPUID EDX 078BFBFF);
    # generation 6: it runs P6 code as a P6 does
    "pentium4": Model("pentium4", 6, 0x0000, 0x277FD5, 15, 0x0F12, True,
                      mmx=True, fxsr=True, pat=True, pse36=True, sse=True, sse2=True),
}


@dataclasses.dataclass
class CPUState:
    """Everything a snapshot holds: registers, descriptor caches, system registers,
    interrupt state.  Decoded code is not state (it is rebuilt on demand)."""

    regs: List[int] = dataclasses.field(default_factory=lambda: [0] * 8)
    eip: int = 0
    eflags: int = 2
    seg_sel: List[int] = dataclasses.field(default_factory=lambda: [0] * 6)
    seg_base: List[int] = dataclasses.field(default_factory=lambda: [0] * 6)
    seg_limit: List[int] = dataclasses.field(default_factory=lambda: [0xFFFF] * 6)
    seg_flags: List[int] = dataclasses.field(default_factory=lambda: [0x93] * 6)
    seg_wlimit: List[int] = dataclasses.field(default_factory=list)
    seg_rlimit: List[int] = dataclasses.field(default_factory=list)
    cr: List[int] = dataclasses.field(default_factory=lambda: [0] * 5)
    dr: List[int] = dataclasses.field(default_factory=lambda: [0] * 8)
    gdtr_base: int = 0
    gdtr_limit: int = 0xFFFF
    idtr_base: int = 0
    idtr_limit: int = 0x3FF
    ldtr: int = 0
    tr: int = 0
    ldtr_base: int = 0
    ldtr_limit: int = 0xFFFF
    tr_base: int = 0
    tr_limit: int = 0xFFFF
    tr_flags: int = 0x8B
    cpl: int = 0
    halted: bool = False
    #: an application processor after reset or INIT: only a start-up IPI runs it
    waiting_sipi: bool = False
    intr_line: bool = False
    nmi_pending: bool = False
    inhibit_icount: int = -1
    #: the instruction count of the last MOV SS / POP SS (debug exceptions wait a step)
    ss_load_icount: int = -1
    tsc_offset: int = 0
    pdpte: List[int] = dataclasses.field(default_factory=list)      # PAE: the 4 PDPTE registers
    msrs: List[List[int]] = dataclasses.field(default_factory=list)
    fpu: Dict[str, Any] = dataclasses.field(default_factory=dict)    # the x87's X87State
    xmm: List[int] = dataclasses.field(default_factory=lambda: [0] * 8)   # 128-bit each (SSE)
    mxcsr: int = 0x1F80


class LoopExit(Exception):
    """Ends the inner loop after an instruction that set `cpu.eip` itself (HLT,
    a change of code size or translation regime)."""


def exit_after(cpu, eip: int) -> None:
    """Raise LoopExit with the next EIP stored (HLT and regime changes)."""
    cpu.eip = eip
    raise LoopExit()


#: Code objects of the functions that access memory for an instruction and leave
#: the CPU's registers, lazy flags and segment caches as they found them (a
#: device behind the bus never changes them; a fault raises): after a call to
#: one, the locals tier 2 keeps those in still hold the CPU's values
#: (`tier2._Sinker`).
KEEPS_CPU_STATE: Set[CodeType] = set()


def keeps_cpu_state(function: Callable, *nested: str) -> None:
    """Register `function` in KEEPS_CPU_STATE, or with `nested` names the
    functions of those names defined inside it (closures made per decoded
    instruction share their code object)."""
    code = getattr(function, "__func__", function).__code__
    if not nested:
        KEEPS_CPU_STATE.add(code)
        return
    pending, found = [code], set()
    while pending:
        for constant in pending.pop().co_consts:
            if isinstance(constant, CodeType):
                pending.append(constant)
                if constant.co_name in nested:
                    KEEPS_CPU_STATE.add(constant)
                    found.add(constant.co_name)
    assert found == set(nested), (function, set(nested) - found)
