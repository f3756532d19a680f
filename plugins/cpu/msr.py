"""Model-specific registers (RDMSR/WRMSR) of the Pentium and the P6 family.

Which MSRs exist, their reset values and which bits software may write follow the
Intel SDM vol. 4 ("Model-Specific Registers"): table 2-2 (IA-32 architectural
MSRs), the P6 family table and the Pentium table.  An MSR the model lacks, or a
write of a reserved bit, raises #GP(0), as on the parts.  The TSC counts
instructions (the deterministic clock) plus the offset a WRMSR to it sets.  Machine
checks: MCG_CAP reports five banks and no reported errors (status registers read
0 and accept only 0).  The performance counters exist and hold what software
writes; no event is counted (the PerfEvtSel enable bit starts clear and events
are not modelled).  MTRRs and PAT are plain storage: memory types change nothing in
an emulator.
"""

from typing import Dict, Tuple

from .state import GP, CPUFault

TSC, APIC_BASE = 0x10, 0x1B
SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP = 0x174, 0x175, 0x176
MCG_CAP, MCG_STATUS, MCG_CTL = 0x179, 0x17A, 0x17B
MC_BANKS = 5
PERF_CTR0, PERF_CTR1, PERF_EVTSEL0, PERF_EVTSEL1 = 0xC1, 0xC2, 0x186, 0x187
MTRR_CAP, MTRR_DEF_TYPE, PAT = 0xFE, 0x2FF, 0x277
FIXED_MTRRS = (0x250, 0x258, 0x259) + tuple(range(0x268, 0x270))
FULL = 0xFFFFFFFFFFFFFFFF
READ_ONLY = -1                       # writable-bits marker: any write raises #GP(0)
PHYSICAL_MASK = 0xFFFFFFFFF          # 36-bit physical addresses (P6)


def model_msrs(generation: int) -> Dict[int, Tuple[int, int]]:
    """{index: (reset value, writable bits)} for a CPU generation (5 or 6); a
    register with writable bits 0 accepts only 0 (machine-check status)."""
    table: Dict[int, Tuple[int, int]] = {TSC: (0, FULL)}
    if generation == 5:
        table.update({0x00: (0, READ_ONLY), 0x01: (0, READ_ONLY),   # P5_MC_ADDR, P5_MC_TYPE
                      0x11: (0, 0x03FF03FF), 0x12: (0, 0xFFFFFFFFFF), 0x13: (0, 0xFFFFFFFFFF)})
        return table
    table.update({
        APIC_BASE: (0xFEE00100, READ_ONLY),   # BSP, APIC disabled, unless a local APIC component serves it
        0x2A: (0, READ_ONLY),         # EBL_CR_POWERON (power-on configuration)
        SYSENTER_CS: (0, 0xFFFF), SYSENTER_ESP: (0, 0xFFFFFFFF), SYSENTER_EIP: (0, 0xFFFFFFFF),
        MCG_CAP: (0x100 | MC_BANKS, READ_ONLY), MCG_STATUS: (0, 0), MCG_CTL: (0, FULL),
        PERF_CTR0: (0, 0xFFFFFFFFFF), PERF_CTR1: (0, 0xFFFFFFFFFF),
        PERF_EVTSEL0: (0, 0xFFFFFFFF), PERF_EVTSEL1: (0, 0xFFFFFFFF),
        MTRR_CAP: (0x508, READ_ONLY),  # 8 variable ranges, fixed ranges, write-combining
        MTRR_DEF_TYPE: (0, 0xCFF),
        0x1D9: (0, 0x7F),             # DEBUGCTL (LBR, BTF ...)
        0x8B: (0, FULL),              # BIOS_SIGN_ID (microcode update signature)
    })
    for number in range(8):           # variable-range MTRRs: base (type, address), mask (valid, mask)
        table[0x200 + 2 * number] = (0, (PHYSICAL_MASK & ~0xFFF) | 0xFF)
        table[0x201 + 2 * number] = (0, (PHYSICAL_MASK & ~0xFFF) | 0x800)
    for index in FIXED_MTRRS:
        table[index] = (0, FULL)
    for bank in range(MC_BANKS):      # MCi_CTL, MCi_STATUS, MCi_ADDR, MCi_MISC
        table[0x400 + 4 * bank] = (FULL, FULL)
        for offset in (1, 2, 3):      # status, address, misc: software may only clear them
            table[0x400 + 4 * bank + offset] = (0, 0)
    return table


class MSRFile:
    """The MSRs of one CPU: values as plain data for snapshots."""

    def __init__(self, generation: int) -> None:
        self.layout = model_msrs(generation) if generation >= 5 else {}
        self.values: Dict[int, int] = {}
        self.reset()

    def reset(self) -> None:
        self.values = {index: reset for index, (reset, _) in self.layout.items()}

    def read(self, cpu, index: int) -> int:
        if index not in self.layout:
            raise CPUFault(GP, 0)
        if index == TSC:
            return (cpu.clock.icount + cpu.tsc_offset) & FULL
        if index == APIC_BASE and cpu.lapic is not None:
            return cpu.lapic.read_base_msr()
        return self.values[index]

    def write(self, cpu, index: int, value: int) -> None:
        if index not in self.layout:
            raise CPUFault(GP, 0)
        _, writable = self.layout[index]
        if index == TSC:
            cpu.tsc_offset = (value - cpu.clock.icount) & FULL
            return
        if index == APIC_BASE and cpu.lapic is not None:
            if not cpu.lapic.write_base_msr(value):
                raise CPUFault(GP, 0)
            return
        if writable == READ_ONLY or value & ~writable:
            raise CPUFault(GP, 0)
        self.values[index] = value

    def snapshot(self) -> list:
        return sorted([index, value] for index, value in self.values.items())

    def restore(self, pairs: list) -> None:
        self.reset()
        for index, value in pairs:
            if index in self.layout:
                self.values[index] = value
