"""Protected-mode segmentation: descriptor tables, checked segment loads, CPL,
stacks from the TSS and the I/O permission check.  IDT delivery is in
`interrupts.py`, far transfers in `transfers.py`, the system instructions in
`systemops.py`, task switches in `tasks.py`.

Follows the Intel SDM vol. 3A chapters 3 (segmentation), 5 (protection: the checks
and the error codes) and 6 (interrupt and exception handling), and the pseudo-code
of JMP/CALL/RET/IRET/INT n in vol. 2.  Bochs' `segment_ctrl_pro.cc`, `ctrl_xfer_pro.cc`,
`call_far.cc`, `ret_far.cc`, `iret.cc` and `exception.cc` settle unclear points.

The descriptor caches are the part-1 lists `seg_sel/seg_base/seg_limit/seg_flags`;
`seg_flags` holds the access byte in bits 0-7 and AVL/L/D-B/G in bits 12-15, as in
the descriptor's high dword shifted right by 8.  A null selector in DS/ES/FS/GS gets
limit -1 so that the part-1 limit check (`offset + span > limit`) faults on every
access with #GP(0).  Expand-down data segments cache `limit - 2**32`, so the same
check sends every access to `segment_fault`, which accepts offsets above the limit.

Descriptor-table, TSS and inner-stack accesses are supervisor accesses whatever the
CPL (`sys_read`/`sys_write`), which matters once paging is on.
"""

import struct
from typing import List, Tuple

from .paging import enter_user, supervisor_address
from .state import CPUFault, CS, DS, ES, ESP, FS, GP, GS, SS, SS_VECTOR, TS, VM, exit_after

NP_VECTOR = 11
#: a descriptor or gate as two little-endian dwords
DWORD_PAIR = struct.Struct("<II")

# Access-byte bits.
PRESENT = 0x80
SEGMENT = 0x10          # S: code/data (1) or system (0)
CODE = 0x08
CONFORMING = 0x04       # code: conforming; data: expand-down
READABLE = 0x02         # code: readable; data: writable
ACCESSED = 0x01
BIG = 0x4000            # D/B in seg_flags

# System descriptor types (S = 0).
TSS16_AVAILABLE, LDT_TYPE, TSS16_BUSY, CALL_GATE16, TASK_GATE = 1, 2, 3, 4, 5
INT_GATE16, TRAP_GATE16, TSS32_AVAILABLE, TSS32_BUSY = 6, 7, 9, 0xB
CALL_GATE32, INT_GATE32, TRAP_GATE32 = 0xC, 0xE, 0xF

V86_FLAGS = 0xF3        # present, DPL 3, writable data, accessed
#: Expand-down limits are cached as `limit - EXPAND_DOWN_BIAS` (see load_cache).
EXPAND_DOWN_BIAS = 1 << 32
#: The access-checked limit (`seg_wlimit`/`seg_rlimit`) of a segment that may not
#: be written/read: below every offset and every expand-down limit.
NO_ACCESS = -(1 << 40)




def iopl(cpu) -> int:
    return (cpu.flags >> 12) & 3


# ---------------------------------------------------------------- system memory
def sys_read(cpu, linear: int, size: int) -> int:
    """A supervisor read of descriptor tables and TSSs (bypasses the CPL's U/S).
    Plain RAM is read straight from the array, as the CPU's own accessors do: a
    kernel that takes a system call every few dozen instructions reads some
    twenty dwords of gates, descriptors and TSS per call."""
    if not cpu.paging:
        return cpu.read_linear(linear & 0xFFFFFFFF, size)
    if (linear & 0xFFF) + size <= 0x1000:
        address = supervisor_address(cpu, linear, False)
        bus = cpu.bus
        if bus.read_fast[address >> 12]:
            return int.from_bytes(bus.memory[address:address + size], "little")
        return bus.read(address, size)
    value = 0
    for i in range(size):
        value |= cpu.bus.read(supervisor_address(cpu, linear + i, False), 1) << (8 * i)
    return value


def sys_read_pair(cpu, linear: int) -> Tuple[int, int]:
    """The two dwords of a descriptor or gate at `linear`, translated once when
    its eight bytes lie in one page."""
    if cpu.paging and (linear & 0xFFF) <= 0xFF8:
        address = supervisor_address(cpu, linear, False)
        bus = cpu.bus
        if bus.read_fast[address >> 12]:
            return DWORD_PAIR.unpack_from(bus.memory, address)
        return bus.read(address, 4), bus.read(address + 4, 4)
    return sys_read(cpu, linear, 4), sys_read(cpu, linear + 4, 4)


def sys_write(cpu, linear: int, size: int, value: int) -> None:
    """A supervisor write (accessed/busy bits, TSS state, the inner stack); every
    byte is translated before any is stored, so a #PF leaves memory as it was."""
    if not cpu.paging:
        cpu.write_linear(linear & 0xFFFFFFFF, size, value)
        return
    if (linear & 0xFFF) + size <= 0x1000:
        address = supervisor_address(cpu, linear, True)
        cpu.bus.write(address, size, value)
        cpu.sync_after_bus()
        return
    addresses = [supervisor_address(cpu, linear + i, True) for i in range(size)]
    for i, address in enumerate(addresses):
        cpu.bus.write(address, 1, (value >> (8 * i)) & 0xFF)
    cpu.sync_after_bus()


# ---------------------------------------------------------------- descriptors
def descriptor_address(cpu, selector: int, vector: int = GP, ext: int = 0) -> int:
    """Linear address of the descriptor of `selector`; raises vector(selector) when
    it lies outside its table (or the LDT is null)."""
    index = selector & 0xFFF8
    if selector & 4:
        base, limit = cpu.ldtr_base, cpu.ldtr_limit
        if not cpu.ldtr & 0xFFFC:
            raise CPUFault(vector, (selector & 0xFFFC) | ext)
    else:
        base, limit = cpu.gdtr_base, cpu.gdtr_limit
    if index + 7 > limit:
        raise CPUFault(vector, (selector & 0xFFFC) | ext)
    return base + index


def read_descriptor(cpu, selector: int, vector: int = GP, ext: int = 0) -> Tuple[int, int]:
    """(low dword, high dword) of the descriptor `selector` names."""
    return sys_read_pair(cpu, descriptor_address(cpu, selector, vector, ext))


def descriptor_base(lo: int, hi: int) -> int:
    return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)


def descriptor_limit(hi: int, lo: int) -> int:
    limit = (lo & 0xFFFF) | (hi & 0xF0000)
    if hi & 0x800000:
        limit = (limit << 12) | 0xFFF
    return limit


def descriptor_flags(hi: int) -> int:
    return (hi >> 8) & 0xF0FF


def access_of(hi: int) -> int:
    return (hi >> 8) & 0xFF


def dpl_of(hi: int) -> int:
    return (hi >> 13) & 3


def set_accessed(cpu, selector: int, hi: int) -> int:
    """Write the accessed bit back into the descriptor (a locked cycle on hardware)."""
    if hi & 0x100:
        return hi
    hi |= 0x100
    sys_write(cpu, descriptor_address(cpu, selector) + 5, 1, (hi >> 8) & 0xFF)
    return hi


def load_cache(cpu, index: int, selector: int, lo: int, hi: int) -> None:
    cpu.seg_sel[index] = selector
    cpu.seg_base[index] = descriptor_base(lo, hi)
    limit = descriptor_limit(hi, lo)
    if access_of(hi) & (SEGMENT | CODE | CONFORMING) == SEGMENT | CONFORMING:
        limit -= EXPAND_DOWN_BIAS       # below zero: every access takes the checked path
    cpu.seg_limit[index] = limit
    cpu.seg_flags[index] = descriptor_flags(hi)
    set_access_limits(cpu, index)
    if index == SS:
        cpu.stack32 = bool(hi & 0x400000)


def set_access_limits(cpu, index: int) -> None:
    """Derive the write and CS-read limits from the cached access byte: code is
    never writable and readable only with R; data is writable only with W."""
    limit = cpu.seg_limit[index]
    access = cpu.seg_flags[index]
    read = write = limit
    if access & SEGMENT:
        if access & CODE:
            write = NO_ACCESS
            if not access & READABLE:
                read = NO_ACCESS
        elif not access & READABLE:
            write = NO_ACCESS
    cpu.seg_wlimit[index] = write
    cpu.seg_rlimit[index] = read


def expand_down_allows(cpu, index: int, offset: int, span: int) -> bool:
    """Expand-down data segment: valid offsets lie above the limit, up to 0xFFFF
    (B = 0) or 0xFFFFFFFF (B = 1)."""
    flags = cpu.seg_flags[index]
    if flags & (SEGMENT | CODE | CONFORMING) != SEGMENT | CONFORMING:
        return False
    upper = 0xFFFFFFFF if flags & BIG else 0xFFFF
    return cpu.seg_limit[index] + EXPAND_DOWN_BIAS < offset and offset + span <= upper


def offset_allowed(cpu, index: int, offset: int, span: int) -> bool:
    limit = cpu.seg_limit[index]
    if limit >= 0:
        return offset + span <= limit
    return expand_down_allows(cpu, index, offset, span)


def load_null(cpu, index: int, selector: int) -> None:
    """A null selector in a data segment register: every access through it faults."""
    cpu.seg_sel[index] = selector
    cpu.seg_base[index] = 0
    cpu.seg_limit[index] = cpu.seg_wlimit[index] = cpu.seg_rlimit[index] = -1
    cpu.seg_flags[index] = 0


def load_v86(cpu, index: int, selector: int) -> None:
    """Virtual-8086 and real-address segment: base = selector * 16, 64 KiB."""
    selector &= 0xFFFF
    cpu.seg_sel[index] = selector
    cpu.seg_base[index] = selector << 4
    cpu.seg_limit[index] = cpu.seg_wlimit[index] = cpu.seg_rlimit[index] = 0xFFFF
    cpu.seg_flags[index] = V86_FLAGS
    if index == SS:
        cpu.stack32 = False


def load_segment(cpu, index: int, selector: int) -> None:
    """MOV/POP/LxS to DS, ES, FS, GS or SS in protected mode, with the SDM checks."""
    selector &= 0xFFFF
    rpl = selector & 3
    cpl = cpu.cpl
    error = selector & 0xFFFC
    if index == SS:
        if not error:
            raise CPUFault(GP, 0)
        lo, hi = read_descriptor(cpu, selector)
        access = access_of(hi)
        if rpl != cpl or dpl_of(hi) != cpl or access & (SEGMENT | CODE | READABLE) != (
                SEGMENT | READABLE):
            raise CPUFault(GP, error)
        if not access & PRESENT:
            raise CPUFault(SS_VECTOR, error)
        hi = set_accessed(cpu, selector, hi)
        load_cache(cpu, SS, selector, lo, hi)
        cpu.inhibit_icount = cpu.ss_load_icount = cpu.clock.icount
        return
    if index == CS:
        # Only the register API loads CS directly; transfers use load_code().
        lo, hi = read_descriptor(cpu, selector)
        load_code(cpu, selector, lo, hi, selector & 3)
        return
    if not error:
        load_null(cpu, index, selector)
        return
    lo, hi = read_descriptor(cpu, selector)
    access = access_of(hi)
    if not access & SEGMENT or access & (CODE | READABLE) == CODE:
        raise CPUFault(GP, error)
    if not (access & CODE and access & CONFORMING) and (rpl > dpl_of(hi) or cpl > dpl_of(hi)):
        raise CPUFault(GP, error)
    if not access & PRESENT:
        raise CPUFault(NP_VECTOR, error)
    hi = set_accessed(cpu, selector, hi)
    load_cache(cpu, index, selector, lo, hi)


def set_cpl(cpu, new: int) -> None:
    """Change the CPL: entering CPL 3 drops the supervisor-only TLB entries
    (`paging.py`), and traces want to know."""
    old = cpu.cpl
    if old == new:
        return
    cpu.cpl = new
    if new == 3 and cpu.paging:
        enter_user(cpu)
    if cpu.hooks.cpu_mode_change:
        cpu.hooks.call.cpu_mode_change(machine=cpu.machine, what="cpl", old=old, new=new)


def set_vm(cpu, enabled: bool) -> None:
    was = bool(cpu.flags & VM)
    if enabled:
        cpu.flags |= VM
    else:
        cpu.flags &= ~VM
    if was != enabled and cpu.hooks.cpu_mode_change:
        cpu.hooks.call.cpu_mode_change(machine=cpu.machine, what="vm", old=int(was),
                                       new=int(enabled))


def load_code(cpu, selector: int, lo: int, hi: int, cpl: int) -> None:
    """Load CS (RPL forced to the new CPL) and switch the decode cache to the new
    code size.  The caller has done the checks."""
    hi = set_accessed(cpu, selector, hi)
    load_cache(cpu, CS, (selector & 0xFFFC) | cpl, lo, hi)
    set_cpl(cpu, cpl)
    select_code_size(cpu)


def select_code_size(cpu) -> None:
    cpu.code32 = bool(cpu.seg_flags[CS] & BIG)
    cpu.select_code_cache()


def leave_loop(cpu, eip: int, was_cache: dict) -> int:
    """After a transfer: leave the inner loop when the decode cache changed (code
    size, or a CS with a limit of its own: the loop's cache look-up is stale);
    otherwise continue at `eip`."""
    if cpu.code_cache is not was_cache:
        exit_after(cpu, eip)
    return eip


def check_code_target(cpu, selector: int, lo: int, hi: int) -> None:
    """A code segment as the destination of JMP/CALL/RET: type and presence."""
    access = access_of(hi)
    if access & (SEGMENT | CODE) != SEGMENT | CODE:
        raise CPUFault(GP, selector & 0xFFFC)


# ---------------------------------------------------------------- stacks
def stack_push(cpu, ss_base: int, esp: int, stack32: bool, size: int, value: int,
               supervisor: bool) -> int:
    """Push one value onto an explicit stack; returns the new ESP."""
    mask = 0xFFFFFFFF if stack32 else 0xFFFF
    esp = (esp & ~mask & 0xFFFFFFFF) | ((esp - size) & mask)
    linear = (ss_base + (esp & mask)) & 0xFFFFFFFF
    if supervisor:
        sys_write(cpu, linear, size, value & (0xFFFFFFFF if size == 4 else 0xFFFF))
    else:
        cpu.write_linear(linear, size, value & (0xFFFFFFFF if size == 4 else 0xFFFF))
    return esp


def push_frame(cpu, ss_base: int, esp: int, stack32: bool, size: int, values: List[int]) -> int:
    """Supervisor pushes of `values` in order (the first at the highest address)
    onto an explicit stack; returns the new ESP.  A frame that lies in one page of
    plain RAM, on none of its decoded code bytes, is translated once and stored in
    one go (an interrupt from virtual-8086 mode pushes nine values, and EMM386's
    monitor takes thousands on a stack beside its code); any other frame goes
    value by value, as `stack_push`."""
    mask = 0xFFFFFFFF if stack32 else 0xFFFF
    span = len(values) * size
    top = esp & mask
    if cpu.paging and top >= span:
        linear = (ss_base + top - span) & 0xFFFFFFFF
        if (linear & 0xFFF) + span <= 0x1000:
            width = 0xFFFFFFFF if size == 4 else 0xFFFF
            data = b"".join((value & width).to_bytes(size, "little") for value in reversed(values))
            if cpu.bus.store_direct(supervisor_address(cpu, linear, True), data):
                return (esp & ~mask & 0xFFFFFFFF) | (top - span)
    for value in values:
        esp = stack_push(cpu, ss_base, esp, stack32, size, value, True)
    return esp


def stack_fits(limit: int, flags: int, esp: int, needed: int) -> bool:
    """Room for `needed` bytes below ESP in a stack segment with this cached limit
    (negative: expand-down) and seg_flags layout (B bit sets the 0xFFFF or
    0xFFFFFFFF top)."""
    mask = 0xFFFFFFFF if flags & BIG else 0xFFFF
    low = (esp - needed) & mask
    high = (esp - 1) & mask
    if low > high:
        return False
    if limit < 0:
        return limit + EXPAND_DOWN_BIAS < low
    return high <= limit


def check_current_stack(cpu, needed: int, ext: int = 0) -> None:
    """#SS before pushing a frame on the current stack that does not fit."""
    if not stack_fits(cpu.seg_limit[SS], cpu.seg_flags[SS], cpu.regs[ESP], needed):
        raise CPUFault(SS_VECTOR, ext)


def check_new_stack(selector: int, lo: int, hi: int, esp: int, needed: int, ext: int) -> None:
    """#SS(selector) before pushing a frame on an inner stack that does not fit."""
    limit = descriptor_limit(hi, lo)
    if access_of(hi) & CONFORMING:
        limit -= EXPAND_DOWN_BIAS
    if not stack_fits(limit, descriptor_flags(hi), esp, needed):
        raise CPUFault(SS_VECTOR, (selector & 0xFFFC) | ext)


def stack_read(cpu, offset_from_sp: int, size: int) -> int:
    """Read the current stack at SP + offset without popping (RET/IRET peek)."""
    mask = 0xFFFFFFFF if cpu.stack32 else 0xFFFF
    sp = (cpu.regs[ESP] + offset_from_sp) & mask
    if not offset_allowed(cpu, SS, sp, size - 1):
        raise CPUFault(SS_VECTOR, 0)
    return cpu.read_linear((cpu.seg_base[SS] + sp) & 0xFFFFFFFF, size)


def set_sp(cpu, value: int, stack32: bool) -> None:
    if stack32:
        cpu.regs[ESP] = value & 0xFFFFFFFF
    else:
        cpu.regs[ESP] = (cpu.regs[ESP] & 0xFFFF0000) | (value & 0xFFFF)


def inner_stack(cpu, dpl: int, ext: int = 0) -> Tuple[int, int, int, int]:
    """SS:ESP for privilege level `dpl` from the current TSS, checked as the SDM
    says (#TS with the SS selector); returns (ss, esp, lo, hi)."""
    if cpu.tr_flags & 0x8:
        offset = 4 + dpl * 8
        if offset + 5 > cpu.tr_limit:
            raise CPUFault(TS, (cpu.tr & 0xFFFC) | ext)
        esp = sys_read(cpu, cpu.tr_base + offset, 4)
        ss = sys_read(cpu, cpu.tr_base + offset + 4, 2)
    else:
        offset = 2 + dpl * 4
        if offset + 3 > cpu.tr_limit:
            raise CPUFault(TS, (cpu.tr & 0xFFFC) | ext)
        esp = sys_read(cpu, cpu.tr_base + offset, 2)
        ss = sys_read(cpu, cpu.tr_base + offset + 2, 2)
    if not ss & 0xFFFC:
        raise CPUFault(TS, ext)
    lo, hi = read_descriptor(cpu, ss, TS, ext)
    access = access_of(hi)
    if (ss & 3) != dpl or dpl_of(hi) != dpl or access & (SEGMENT | CODE | READABLE) != (
            SEGMENT | READABLE):
        raise CPUFault(TS, (ss & 0xFFFC) | ext)
    if not access & PRESENT:
        raise CPUFault(SS_VECTOR, (ss & 0xFFFC) | ext)
    return ss, esp, lo, hi


def invalidate_outer_segments(cpu) -> None:
    """After a return to an outer level, data segments the new CPL may not use
    become null (SDM RET/IRET: "FOR each of segment register ES, FS, GS, DS")."""
    for index in (ES, DS, FS, GS):
        flags = cpu.seg_flags[index]
        if not cpu.seg_sel[index] & 0xFFFC:
            continue
        dpl = (flags >> 5) & 3
        conforming_code = flags & (CODE | CONFORMING) == CODE | CONFORMING
        if not conforming_code and dpl < cpu.cpl:
            load_null(cpu, index, 0)


# ---------------------------------------------------------------- gates and EFLAGS
def gate_target(lo: int, hi: int) -> Tuple[int, int]:
    """(selector, offset) of a call/interrupt/trap gate (16-bit gates: 16-bit offset)."""
    offset = lo & 0xFFFF
    if hi & 0x800:
        offset |= hi & 0xFFFF0000
    return lo >> 16, offset


def write_eflags(cpu, value: int) -> None:
    """Set every EFLAGS bit (VM included; `set_eflags` tells the interrupt logic
    about IF), telling traces about a VM change."""
    was_v86 = bool(cpu.flags & VM)
    cpu.set_eflags(value)
    if was_v86 != bool(value & VM) and cpu.hooks.cpu_mode_change:
        cpu.hooks.call.cpu_mode_change(machine=cpu.machine, what="vm", old=int(was_v86),
                                       new=int(not was_v86))


# ---------------------------------------------------------------- privilege helpers
def require_cpl0(cpu) -> None:
    """Privileged instructions (LGDT, MOV CRn, HLT ...): #GP(0) unless CPL = 0."""
    if cpu.cpl:
        raise CPUFault(GP, 0)


def check_io(cpu, port: int, size: int) -> None:
    """IN/OUT/INS/OUTS permission: CPL <= IOPL (not in virtual-8086 mode), else
    every bit for the accessed ports in the TSS I/O bitmap must be clear."""
    if not cpu.flags & VM and cpu.cpl <= iopl(cpu):
        return
    if not cpu.tr_flags & 0x8 or cpu.tr_limit < 0x67:
        raise CPUFault(GP, 0)
    bitmap = sys_read(cpu, cpu.tr_base + 0x66, 2)
    byte = bitmap + (port >> 3)
    if byte + 1 > cpu.tr_limit:
        raise CPUFault(GP, 0)
    bits = sys_read(cpu, cpu.tr_base + byte, 2)
    if (bits >> (port & 7)) & ((1 << size) - 1):
        raise CPUFault(GP, 0)
