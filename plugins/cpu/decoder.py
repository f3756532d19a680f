"""The table-driven decoder: prefixes, ModRM/SIB, then a builder per opcode.

`decode(cpu, eip)` reads the instruction at CS:EIP and returns a closure
`fn(eip) -> next_eip` specialised for its operands (registers, addressing form,
immediates, operand and address size), plus the physical pages its bytes came
from.  Builders live in the ops_* modules and register themselves in the two
opcode maps `ONE_BYTE` and `TWO_BYTE` when this package is imported.

An undefined opcode decodes to a closure that raises #UD when executed, so
decoding never fails and the decoded result can be cached.
"""

from typing import Callable, Dict, List, Optional, Tuple

from .dwords import PACK32, UNPACK32
from .paging import probe_write
from .state import CPUFault, CS, DS, EBP, ESP, GP, SS, UD, keeps_cpu_state

Builder = Callable[["Decoder"], Callable[[int], int]]
ONE_BYTE: Dict[int, Builder] = {}
TWO_BYTE: Dict[int, Builder] = {}
SEG_PREFIXES = {0x26: 0, 0x2E: 1, 0x36: 2, 0x3E: 3, 0x64: 4, 0x65: 5}
MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
# 16-bit ModRM base/index pairs and their default segments.
EA16 = ((3, 6, DS), (3, 7, DS), (5, 6, SS), (5, 7, SS), (6, None, DS), (7, None, DS),
        (5, None, SS), (3, None, DS))


class DecodeFault(Exception):
    """The byte sequence is not an instruction of this model: execution raises
    `vector` (usually #UD)."""

    def __init__(self, vector: int = UD) -> None:
        super().__init__(vector)
        self.vector = vector


def register(table: Dict[int, Builder], *opcodes: int) -> Callable[[Builder], Builder]:
    """Decorator: this builder decodes these opcodes."""
    def wrap(builder: Builder) -> Builder:
        for opcode in opcodes:
            table[opcode] = builder
        return builder
    return wrap


class Decoder:
    """Decoding state of one instruction and the operand-closure factories."""

    def __init__(self, cpu, eip: int) -> None:
        self.cpu = cpu
        self.eip = eip
        self.code32 = cpu.code32
        self.ipmask = 0xFFFFFFFF if self.code32 else 0xFFFF
        self.pos = 0
        self.pages: List[int] = []
        self.wrapped = False
        # Protected mode: instruction bytes past the CS limit raise #GP(0).
        self.cs_limit = cpu.seg_limit[1] if cpu.cr[0] & 1 else -1
        self.opsize = 4 if self.code32 else 2
        self.adsize = 4 if self.code32 else 2
        self.seg: Optional[int] = None
        self.rep = 0
        self.lock = False
        self.opcode = 0
        self.modrm_byte = -1
        self.mod = self.reg = self.rm = 0
        self.prefix_count = 0
        # A direct near JMP/CALL sets its target offset: the block continues there.
        self.direct_target: Optional[int] = None
        # A conditional branch (Jcc, LOOP, JCXZ) sets the offset it may go to:
        # a block that branches back to its start runs as a loop in tier 2.
        self.branch_target: Optional[int] = None
        # A direct near CALL sets the offset it pushes, a near RET `near_return`:
        # a block that follows the call predicts where the RET goes (`CPU._decode`).
        self.pushed_return: Optional[int] = None
        self.near_return = False

    # ------------------------------------------------------------------ bytes
    def byte(self) -> int:
        cpu = self.cpu
        offset = self.eip + self.pos
        if offset > self.ipmask:
            self.wrapped = True
        if offset > self.cs_limit >= 0:
            self.wrapped = True             # not cacheable: another CS may allow it
            raise DecodeFault(GP)
        linear = cpu.seg_base[1] + (offset & self.ipmask)
        phys = cpu.translate(linear)
        page = phys >> 12
        if page not in self.pages:
            self.pages.append(page)
        self.pos += 1
        if cpu.bus.read_fast[page]:
            return cpu.bus.memory[phys]
        return cpu.bus.read(phys, 1)

    def imm8(self) -> int:
        return self.byte()

    def imm8s(self) -> int:
        value = self.byte()
        return value - 0x100 if value & 0x80 else value

    def imm16(self) -> int:
        return self.byte() | (self.byte() << 8)

    def imm32(self) -> int:
        return self.imm16() | (self.imm16() << 16)

    def imm(self, size: int) -> int:
        if size == 1:
            return self.byte()
        if size == 2:
            return self.imm16()
        return self.imm32()

    def imm_signed(self, size: int) -> int:
        value = self.imm(size)
        sign = 1 << (size * 8 - 1)
        return value - (sign << 1) if value & sign else value

    @property
    def length(self) -> int:
        return self.pos

    def modrm(self, register_only: bool = False) -> None:
        """Read ModRM and any SIB/displacement.  `register_only`: MOV CRn/DRn
        ignore the mod field and take no displacement (SDM)."""
        value = self.byte()
        self.modrm_byte = value
        self.mod = 3 if register_only else value >> 6
        self.reg = (value >> 3) & 7
        self.rm = value & 7
        if self.mod != 3:
            self._effective_address()   # displacement bytes precede any immediate

    # ------------------------------------------------------------------ registers
    def reg_get(self, size: int, index: int) -> Callable[[], int]:
        regs = self.cpu.regs
        if size == 4:
            return lambda: regs[index]
        if size == 2:
            return lambda: regs[index] & 0xFFFF
        if index < 4:
            return lambda: regs[index] & 0xFF
        high = index - 4
        return lambda: (regs[high] >> 8) & 0xFF

    def reg_set(self, size: int, index: int) -> Callable[[int], None]:
        regs = self.cpu.regs
        if size == 4:
            def set32(value: int) -> None:
                regs[index] = value
            return set32
        if size == 2:
            def set16(value: int) -> None:
                regs[index] = (regs[index] & 0xFFFF0000) | value
            return set16
        if index < 4:
            def set_low(value: int) -> None:
                regs[index] = (regs[index] & 0xFFFFFF00) | value
            return set_low
        high = index - 4

        def set_high(value: int) -> None:
            regs[high] = (regs[high] & 0xFFFF00FF) | (value << 8)
        return set_high

    # ------------------------------------------------------------------ memory operands
    def limits(self, seg: int, write: bool) -> Tuple[list, Callable]:
        """The limit list and fault function an access of this kind checks: writes
        the write limits (a read-only segment's is below any offset), reads through
        CS the read limits (execute-only code), other reads the plain limits."""
        cpu = self.cpu
        if write:
            return cpu.seg_wlimit, cpu.segment_write_fault
        if seg == CS:
            return cpu.seg_rlimit, cpu.segment_read_fault
        return cpu.seg_limit, cpu.segment_fault

    def address(self, size: int, write: bool = False) -> Callable[[], int]:
        """Closure giving the linear address of the ModRM memory operand, after the
        segment limit and access-rights check for an access of `size` bytes
        (`write`: the operand is written, or read and written)."""
        if self.cpu.generation < 2:
            return self._wrapping_address(size)
        base_regs, disp, scale, default_seg = self._effective_address()
        seg = self.seg if self.seg is not None else default_seg
        cpu = self.cpu
        regs = cpu.regs
        seg_base = cpu.seg_base
        seg_limit, fault = self.limits(seg, write)
        amask = MASKS[self.adsize]
        span = size - 1
        if not base_regs:
            offset = disp & amask

            def address_const() -> int:
                if offset + span > seg_limit[seg]:
                    fault(seg, offset, span)
                return seg_base[seg] + offset
            return address_const
        if len(base_regs) == 1 and base_regs[0][1] == 0:
            r1 = base_regs[0][0]

            def address_one() -> int:
                offset = (regs[r1] + disp) & amask
                if offset + span > seg_limit[seg]:
                    fault(seg, offset, span)
                return seg_base[seg] + offset
            return address_one
        if len(base_regs) == 1:
            r1, shift1 = base_regs[0]

            def address_scaled() -> int:
                offset = ((regs[r1] << shift1) + disp) & amask
                if offset + span > seg_limit[seg]:
                    fault(seg, offset, span)
                return seg_base[seg] + offset
            return address_scaled
        (r1, _), (r2, shift2) = base_regs

        def address_two() -> int:
            offset = (regs[r1] + (regs[r2] << shift2) + disp) & amask
            if offset + span > seg_limit[seg]:
                fault(seg, offset, span)
            return seg_base[seg] + offset
        return address_two

    def _wrapping_address(self, size: int) -> Callable[[], int]:
        """8086/80186: no limit check; an operand that runs past offset FFFF (a word
        at FFFF, a far pointer at FFFD-FFFF) wraps inside the segment.  Its
        address carries the segment's last linear byte above bit 32, which the
        accessors of these models split on (`memory.wrapping_accessors`)."""
        _, _, _, default_seg = self._effective_address()
        seg = self.seg if self.seg is not None else default_seg
        offset_of = self.offset_only()
        seg_base = self.cpu.seg_base
        span = size - 1

        def address_wrapping() -> int:
            offset = offset_of()
            base = seg_base[seg]
            if offset + span > 0xFFFF:
                return ((base + 0xFFFF) << 32) | (base + offset)
            return base + offset
        return address_wrapping

    def offset_only(self) -> Callable[[], int]:
        """LEA: the effective address without segment."""
        base_regs, disp, _, _ = self._effective_address()
        regs = self.cpu.regs
        amask = MASKS[self.adsize]
        if not base_regs:
            return lambda: disp & amask
        if len(base_regs) == 1:
            r1, shift1 = base_regs[0]
            return lambda: ((regs[r1] << shift1) + disp) & amask
        (r1, _), (r2, shift2) = base_regs
        return lambda: (regs[r1] + (regs[r2] << shift2) + disp) & amask

    def _effective_address(self) -> Tuple[list, int, int, int]:
        """([(reg, shift)...], displacement, unused, default segment)."""
        if hasattr(self, "_ea"):
            return self._ea
        mod, rm = self.mod, self.rm
        if self.adsize == 2:
            if mod == 0 and rm == 6:
                result = ([], self.imm16(), 0, DS)
            else:
                first, second, seg = EA16[rm]
                regs = [(first, 0)] + ([(second, 0)] if second is not None else [])
                disp = 0 if mod == 0 else (self.imm8s() if mod == 1 else self.imm16())
                result = (regs, disp, 0, seg)
        else:
            regs = []
            seg = DS
            if rm == 4:
                sib = self.byte()
                scale, index, base = sib >> 6, (sib >> 3) & 7, sib & 7
                if base == 5 and mod == 0:
                    disp_base = self.imm32()
                else:
                    regs.append((base, 0))
                    disp_base = 0
                    if base in (ESP, EBP):
                        seg = SS
                if index != 4:
                    regs.append((index, scale))
                if mod == 1:
                    disp_base = self.imm8s()
                elif mod == 2:
                    disp_base = self.imm32()
                result = (regs, disp_base, 0, seg)
            elif mod == 0 and rm == 5:
                result = ([], self.imm32(), 0, DS)
            else:
                regs.append((rm, 0))
                if rm == EBP:
                    seg = SS
                disp = 0 if mod == 0 else (self.imm8s() if mod == 1 else self.imm32())
                result = (regs, disp, 0, seg)
        if len(result[0]) == 2 and result[0][0][1] and not result[0][1][1]:
            result = ([result[0][1], result[0][0]], result[1], 0, result[3])
        self._ea = result
        return result

    def rm_access(self, size: int, writes: bool = False):
        """(get, set_after_get, put) for the ModRM r/m operand.  For memory, `get`
        of an instruction that `writes` remembers the linear address (`cpu.mlin`)
        so a read-modify-write computes it once; a load alone skips that store.
        `writes`: the instruction writes the operand (the check is made on the first
        access, so a read-modify-write of a read-only segment faults before it reads)."""
        if self.mod == 3:
            get = self.reg_get(size, self.rm)
            setter = self.reg_set(size, self.rm)
            return get, setter, setter
        cpu = self.cpu
        address = self.address(size, writes)
        read = {1: cpu.rd8, 2: cpu.rd16, 4: cpu.rd32}[size]
        write = {1: cpu.wr8, 2: cpu.wr16, 4: cpu.wr32}[size]

        def get() -> int:
            linear = address()
            if writes:
                cpu.mlin = linear
            return read(linear)

        def set_after_get(value: int) -> None:
            write(cpu.mlin, value)

        def put(value: int) -> None:
            write(address(), value)
        base_regs, disp, _, default_seg = self._ea
        if len(base_regs) == 1 and base_regs[0][1] == 0 and cpu.generation >= 2:
            # The most common form (register + displacement) with the address
            # computation fused into the access: one call fewer per operand.
            r1 = base_regs[0][0]
            seg = self.seg if self.seg is not None else default_seg
            regs, seg_base = cpu.regs, cpu.seg_base
            seg_limit, fault = self.limits(seg, writes)
            amask = MASKS[self.adsize]
            span = size - 1

            def get() -> int:  # noqa: F811
                offset = (regs[r1] + disp) & amask
                if offset + span > seg_limit[seg]:
                    fault(seg, offset, span)
                linear = seg_base[seg] + offset
                if writes:
                    cpu.mlin = linear
                return read(linear)

            def put(value: int) -> None:  # noqa: F811
                offset = (regs[r1] + disp) & amask
                if offset + span > seg_limit[seg]:
                    fault(seg, offset, span)
                write(seg_base[seg] + offset, value)
            fast_path = getattr(read, "tlb_fast_path", None)
            if fast_path is not None:
                get = self._inlined_paged_load(get, r1, disp, seg, writes, fast_path)
            fast_path = getattr(write, "tlb_fast_path", None)
            if fast_path is not None:
                put = self._inlined_paged_store(put, r1, disp, seg, writes, fast_path)
            fast_path = getattr(read, "unpaged_fast_path", None)
            if fast_path is not None:
                get = self._inlined_unpaged_load(get, r1, disp, seg, writes, fast_path)
            fast_path = getattr(write, "unpaged_fast_path", None)
            if fast_path is not None:
                put = self._inlined_unpaged_store(put, r1, disp, seg, writes, fast_path)
        if writes and cpu.paging:
            get = self._write_probed(get, size)
        return get, set_after_get, put

    def _inlined_paged_load(self, get: Callable[[], int], r1: int, disp: int, seg: int,
                            writes: bool, fast_path: tuple) -> Callable[[], int]:
        """A dword load from [reg+disp] under paging with the TLB hit on an aligned
        RAM address written out (one call fewer per load: Linux's hot loops are
        mostly such loads); everything else goes through `get`, the paged rd32."""
        tlb_read, read_fast, mem = fast_path
        regs, seg_base = self.cpu.regs, self.cpu.seg_base
        seg_limit, _ = self.limits(seg, writes)     # over the limit: `get` faults
        amask = MASKS[self.adsize]
        cpu = self.cpu

        def get_inlined() -> int:
            offset = (regs[r1] + disp) & amask
            if offset + 3 <= seg_limit[seg]:
                linear = seg_base[seg] + offset
                if not linear & 3:
                    base = tlb_read[linear >> 12]
                    if base >= 0 and read_fast[base >> 12]:
                        if writes:
                            cpu.mlin = linear
                        return UNPACK32(mem, base | (linear & 0xFFF))[0]
            return get()
        return get_inlined

    def _inlined_paged_store(self, put: Callable[[int], None], r1: int, disp: int, seg: int,
                             writes: bool, fast_path: tuple) -> Callable[[int], None]:
        """The store side of `_inlined_paged_load`: an aligned dword to a RAM page
        whose TLB entry allows writing (pages holding decoded code are not
        write-fast, so self-modifying code still goes through `put`)."""
        tlb_write, write_fast, mem = fast_path
        regs, seg_base = self.cpu.regs, self.cpu.seg_base
        seg_limit, _ = self.limits(seg, writes)
        amask = MASKS[self.adsize]

        def put_inlined(value: int) -> None:
            offset = (regs[r1] + disp) & amask
            if offset + 3 <= seg_limit[seg]:
                linear = seg_base[seg] + offset
                if not linear & 3:
                    base = tlb_write[linear >> 12]
                    if base >= 0 and write_fast[base >> 12]:
                        PACK32(mem, base | (linear & 0xFFF), value)
                        return
            put(value)
        return put_inlined

    def _inlined_unpaged_load(self, get: Callable[[], int], r1: int, disp: int, seg: int,
                              writes: bool, fast_path: tuple) -> Callable[[], int]:
        """`_inlined_paged_load` with paging off (flat 32-bit code such as Linux's
        decompressor and tutorial kernels): a dword of a RAM page within the segment
        limit is read here; the A20 mask is a constant (a change of the gate
        rebuilds the accessors and drops decoded code)."""
        read_fast, mem, a20_mask = fast_path
        regs, seg_base = self.cpu.regs, self.cpu.seg_base
        seg_limit, _ = self.limits(seg, writes)
        amask = MASKS[self.adsize]
        cpu = self.cpu

        def get_inlined() -> int:
            offset = (regs[r1] + disp) & amask
            if offset + 3 <= seg_limit[seg]:
                linear = seg_base[seg] + offset
                address = linear & a20_mask
                if address & 0xFFF < 0xFFD and read_fast[address >> 12]:
                    if writes:
                        cpu.mlin = linear
                    return UNPACK32(mem, address)[0]
            return get()
        return get_inlined

    def _inlined_unpaged_store(self, put: Callable[[int], None], r1: int, disp: int, seg: int,
                               writes: bool, fast_path: tuple) -> Callable[[int], None]:
        """The store side: a write-fast RAM page (pages holding decoded code are
        not, so self-modifying code still goes through `put`)."""
        write_fast, mem, a20_mask = fast_path
        regs, seg_base = self.cpu.regs, self.cpu.seg_base
        seg_limit, _ = self.limits(seg, writes)
        amask = MASKS[self.adsize]

        def put_inlined(value: int) -> None:
            offset = (regs[r1] + disp) & amask
            if offset + 3 <= seg_limit[seg]:
                address = (seg_base[seg] + offset) & a20_mask
                if address & 0xFFF < 0xFFD and write_fast[address >> 12]:
                    PACK32(mem, address, value)
                    return
            put(value)
        return put_inlined

    def _write_probed(self, get: Callable[[], int], size: int) -> Callable[[], int]:
        """A read-modify-write under paging checks its store's pages right after
        the read (`paging.probe_write`)."""
        cpu = self.cpu
        span = size - 1

        def get_probed() -> int:
            value = get()
            probe_write(cpu, cpu.mlin, span)
            return value
        return get_probed

    def seg_for(self, default: int) -> int:
        return self.seg if self.seg is not None else default


keeps_cpu_state(Decoder.address, "address_const", "address_one", "address_scaled", "address_two")
keeps_cpu_state(Decoder._wrapping_address, "address_wrapping")
keeps_cpu_state(Decoder.rm_access, "get", "set_after_get", "put")
keeps_cpu_state(Decoder._inlined_paged_load, "get_inlined")
keeps_cpu_state(Decoder._inlined_paged_store, "put_inlined")
keeps_cpu_state(Decoder._inlined_unpaged_load, "get_inlined")
keeps_cpu_state(Decoder._inlined_unpaged_store, "put_inlined")
keeps_cpu_state(Decoder._write_probed, "get_probed")


def yields_turn(d: Decoder) -> bool:
    """PAUSE (F3 90) with several processors ends its processor's turn
    (`ops_basic.pause_yield`), and so its block."""
    return d.rep == 0xF3 and len(d.cpu.peers) > 1


def _decode_into(d: Decoder) -> Tuple[Callable[[int], int], bool]:
    """Prefixes, opcode, builder: (closure, ends_block); raises DecodeFault."""
    cpu = d.cpu
    generation = cpu.generation
    while True:
        opcode = d.byte()
        if opcode in SEG_PREFIXES and (opcode < 0x60 or generation >= 3):
            d.seg = SEG_PREFIXES[opcode]
        elif opcode == 0x66 and generation >= 3:
            d.opsize = 2 if d.code32 else 4
        elif opcode == 0x67 and generation >= 3:
            d.adsize = 2 if d.code32 else 4
        elif opcode == 0xF0:
            d.lock = True
        elif opcode == 0xF2 or opcode == 0xF3:
            d.rep = opcode
        else:
            break
        d.prefix_count += 1
        if cpu.model.max_length and d.pos >= cpu.model.max_length:
            raise DecodeFault(GP)
    if opcode == 0x0F and generation >= 2:
        opcode = 0x100 | d.byte()
        builder = TWO_BYTE.get(opcode & 0xFF)
    elif generation == 0 and opcode in ALIASES_8086:
        opcode = ALIASES_8086[opcode]
        builder = ONE_BYTE.get(opcode)
    else:
        builder = ONE_BYTE.get(opcode)
    d.opcode = opcode
    if builder is None:
        raise DecodeFault(UD)
    fn = builder(d)
    if cpu.model.max_length and d.pos > cpu.model.max_length:
        raise DecodeFault(GP)
    if d.lock and generation >= 3 and not lockable(d):
        raise DecodeFault(UD)
    if opcode == 0x90 and yields_turn(d):
        return fn, True
    return fn, opcode in ENDS_BLOCK and opcode not in CONTINUES_BLOCK_0F


def decode_listing(cpu, eip: int) -> Optional[Decoder]:
    """The decoded fields of the instruction at CS:EIP (for disassembly listings
    and the capstone cross-check), or None when this model does not accept it."""
    d = Decoder(cpu, eip)
    try:
        _decode_into(d)
    except DecodeFault:
        return None
    return d


def _undefined(vector: int) -> Callable[[int], int]:
    def raise_fault(eip: int) -> int:
        raise CPUFault(vector, 0 if vector == GP else None)
    return raise_fault


#: One-byte opcodes after which a decoded block ends: control transfers, I/O,
#: HLT, changes of IF or SS (interrupt checks happen between blocks), and
#: anything that changes how later code decodes or runs.
ENDS_BLOCK = frozenset([*range(0x70, 0x80), 0xE0, 0xE1, 0xE2, 0xE3, 0xE8, 0xE9, 0xEA, 0xEB,
                        0xC2, 0xC3, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0x9A, 0xFF,
                        0xE4, 0xE5, 0xE6, 0xE7, 0xEC, 0xED, 0xEE, 0xEF, 0x6C, 0x6D, 0x6E,
                        0x6F, 0xF4, 0xFA, 0xFB, 0x9D, 0x8E, 0x07, 0x17, 0x1F, 0x0F, 0xF1,
                        0x9B, *range(0xD8, 0xE0), 0xC4, 0xC5, 0x62,
                        *range(0x100, 0x200)])
#: Two-byte opcodes that may continue a block (pure register/memory computations).
CONTINUES_BLOCK_0F = frozenset([*range(0x140, 0x150),       # CMOVcc
                                *range(0x118, 0x120),       # NOP Ev (hint NOPs)
                                *range(0x190, 0x1A0), 0x1A3, 0x1A4, 0x1A5, 0x1AB, 0x1AC,
                                0x1AD, 0x1AF, 0x1B3, 0x1B6, 0x1B7, 0x1BA, 0x1BB, 0x1BC,
                                0x1BD, 0x1BE, 0x1BF, 0x1C0, 0x1C1, *range(0x1C8, 0x1D0),
                                # MMX (#UD without it, which ends the block anyway)
                                *range(0x160, 0x170), *range(0x171, 0x178), 0x17E, 0x17F,
                                *range(0x1D0, 0x200)])


#: The 8086 does not decode these opcodes fully: they run as the instruction
#: they alias (60-6F are Jcc, C0/C1 RET imm/RET, C8/C9 RETF imm/RETF); later
#: models raise #UD or execute the 186 instruction there.
ALIASES_8086 = {**{0x60 + i: 0x70 + i for i in range(16)}, 0xC0: 0xC2, 0xC1: 0xC3,
                0xC8: 0xCA, 0xC9: 0xCB}

#: Read-modify-write instructions a 386+ accepts LOCK on (with a memory operand):
#: opcode -> ModRM reg values allowed (None: any).
LOCKABLE = {**{op: None for base in range(0, 0x38, 8) for op in (base, base + 1)},
            0x80: (0, 1, 2, 3, 4, 5, 6), 0x81: (0, 1, 2, 3, 4, 5, 6), 0x82: (0, 1, 2, 3, 4, 5, 6),
            0x83: (0, 1, 2, 3, 4, 5, 6), 0x86: None, 0x87: None, 0xF6: (2, 3), 0xF7: (2, 3),
            0xFE: (0, 1), 0xFF: (0, 1), 0x1AB: None, 0x1B3: None, 0x1BB: None,
            0x1BA: (5, 6, 7), 0x1B0: None, 0x1B1: None, 0x1C0: None, 0x1C1: None, 0x1C7: (1,)}


def lockable(d: "Decoder") -> bool:
    """LOCK is legal only on these read-modify-write forms with a memory destination."""
    if d.opcode not in LOCKABLE or d.modrm_byte < 0 or d.mod == 3:
        return False
    regs = LOCKABLE[d.opcode]
    return regs is None or d.reg in regs


def decode(cpu, eip: int) -> Tuple[Callable[[int], int], List[int], bool, int, bool,
                                   Optional[int], Optional[int], Optional[int], bool]:
    """(closure, pages, cacheable, length, ends_block, direct_target,
    branch_target, pushed_return, near_return) for the instruction at CS:EIP;
    `direct_target` is the offset a direct near JMP/CALL always continues at,
    `branch_target` the one a conditional branch may go to (None for anything
    else), `pushed_return` the offset a direct near CALL pushes, and
    `near_return` says it is a near RET."""
    d = Decoder(cpu, eip)
    try:
        fn, ends = _decode_into(d)
    except DecodeFault as fault:
        fn = _undefined(fault.vector)
        ends = True
        d.direct_target = d.branch_target = d.pushed_return = None
        d.near_return = False
    if cpu.magic_break and d.opcode == 0x87 and d.modrm_byte == 0xDB and d.opsize == 2:
        fn, ends = _magic_breakpoint(cpu, fn), True
    return (fn, d.pages, not d.wrapped, d.pos, ends, d.direct_target, d.branch_target,
            d.pushed_return, d.near_return)


def _magic_breakpoint(cpu, exchange: Callable[[int], int]) -> Callable[[int], int]:
    """Bochs' magic breakpoint `xchg bx, bx`: the exchange, then the
    `magic_breakpoint` hook; it ends its block, so a stop asked for there lands
    on the next instruction."""
    hooks = cpu.hooks

    def magic_breakpoint(eip: int) -> int:
        eip = exchange(eip)
        hooks.call.magic_breakpoint(machine=cpu.machine, cs=cpu.seg_sel[CS], eip=eip)
        return eip
    return magic_breakpoint
