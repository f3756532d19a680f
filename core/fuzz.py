"""`machine fuzz`: differential CPU fuzzing against Unicorn (QEMU's x86 core).

    machine fuzz [--seed S] [--count N] [--mode real|pm16|pm32|paged|all]
                 [--model 80486|pentium|pentiumpro] [--case K] [--show N]

Each case is a short random instruction *sequence* (an ALU operation followed by
a flag reader, memory operands across page boundaries, segment loads, system
instructions, faulting instructions) run in both CPUs from the same state, one
instruction at a time.  After every instruction the registers, EIP, the segment
selectors and the flags the SDM defines for it must agree; at the end (or at a
fault) the memory too.  An instruction that faults in one CPU and not in the other
is a failure; when both fault, the vector, the error code, the state at the fault
and CR2 (#PF) are compared.  Nothing is skipped: the only differences accepted are
the documented ones in `KNOWN_DIFFERENCES` (docs/cpu.md, "Unicorn differences"),
each matched by a narrow rule and checked by a test to still exist in Unicorn.

Unicorn never delivers exceptions through the IDT: it stops and names the vector
(UC_HOOK_INTR; #UD is `UC_ERR_INSN_INVALID`).  Our CPU is stopped at the same
point (`cpu.interrupt` is intercepted), so delivery itself is not compared (test386
and the guest tests cover it).  Unicorn's Python API gives neither the error code
nor a correct CR2; both are read from its saved CPU context at offsets found by
`calibrate()` from faults whose codes the SDM fixes, and checked at every start.

A failing case is minimised (instructions dropped, registers zeroed while it still
fails) and printed as bytes, disassembly and initial state, with the command that
reruns it.
"""

import argparse
import ctypes
import random
import struct
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

CF, PF, AF, ZF, SF, TF, IF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
ALL = CF | PF | AF | ZF | SF | OF
#: EFLAGS bits compared (arithmetic, TF IF DF, IOPL NT, AC ID)
COMPARED_FLAGS = ALL | TF | IF | DF | 0x3000 | 0x4000 | 0x40000 | 0x200000
MODES = ("real", "pm16", "pm32", "paged")
MODELS = {"80486": "486", "pentium": "PENTIUM", "pentiumpro": "PENTIUM2"}
NAMES = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
SEG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")
ERROR_CODE_VECTORS = (8, 10, 11, 12, 13, 14, 17)
REAL_CR0 = 0x60000010     # CR0 after reset (SDM vol. 3A 9.1.1)

# Memory map (physical; identity-mapped when paging is on)
CODE = 0x10000
DATA = 0x20000            # 0x20000-0x2FFFF data, 0x30000-0x3FFFF stack
STACK = 0x30000
SYSTEM = 0x100000         # GDT, IDT, page directory, page tables
GDT, IDT, PDIR, PT0, PT1 = SYSTEM, SYSTEM + 0x1000, SYSTEM + 0x2000, SYSTEM + 0x3000, SYSTEM + 0x4000
LAUNCH = SYSTEM + 0x5000  # the IRET that enters the case's CS and privilege level
#: the `until` address of Unicorn's emu_start (it runs one instruction by count):
#: Unicorn translates it at every start, which with paging walks the page tables
#: (an unmapped one left CR2 at FFFFFFFEh): an address no case runs, in the page of
#: the launch, which both CPUs have already used
UNTIL = LAUNCH + 15
PAGED_DATA = 0x400000     # linear: directory entry 1, mapped onto DATA page by page
PAGED_PAGES = 16
#: the physical memory both CPUs have, rewritten for every case (an access outside
#: it stops Unicorn, which fails the case; with paging the rest is not present)
REGIONS = ((0, 0x40000), (SYSTEM, 0x6000))
COMPARED = ((0, CODE), (DATA, 0x20000), (SYSTEM, 0x5000))
#: real mode: all the memory a segment can reach (FFFF:FFFF with A20), as a segment
#: register loaded from random data points anywhere in it; it is cleared and
#: compared only for a case that loads a segment register (no other reaches it)
REAL_END = 0x110000
REAL_REGIONS = ((0, REAL_END),)
REAL_COMPARED = ((0, CODE), (DATA, REAL_END - DATA))
#: opcodes (after prefixes) that load a data segment register
SEGMENT_LOADING = frozenset((b"\x07", b"\x17", b"\x1F", b"\x8E", b"\xC4", b"\xC5", b"\x0F\xA1",
                             b"\x0F\xA9", b"\x0F\xB2", b"\x0F\xB4", b"\x0F\xB5"))


def regions(mode: str) -> Tuple[Tuple[int, int], ...]:
    return REAL_REGIONS if mode == "real" else REGIONS


def reaches_all_memory(case: "Case") -> bool:
    """A real-mode case that loads a segment register."""
    return case.mode == "real" and any(
        _opcode(item.code)[:1] in SEGMENT_LOADING or _opcode(item.code) in SEGMENT_LOADING for item in case.items)


SEL_CODE32, SEL_DATA32, SEL_CODE32_R3, SEL_DATA32_R3 = 0x08, 0x10, 0x1B, 0x23
SEL_CODE16, SEL_DATA16, SEL_STACK16 = 0x28, 0x30, 0x38
#: selectors a segment load picks from (valid, wrong type, not present, system, beyond the GDT)
SELECTORS = (0, 3, 0x08, 0x10, 0x13, 0x18, 0x1B, 0x20, 0x23, 0x28, 0x30, 0x38, 0x40, 0x48,
             0x50, 0x58, 0x60, 0x1238, 0x0C, 0xFFFF)


def descriptor(base: int, limit: int, access: int, flags: int) -> bytes:
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = (((base >> 16) & 0xFF) | (access << 8) | (((limit >> 16) & 0xF) << 16) | (flags << 20)
          | (base & 0xFF000000))
    return struct.pack("<II", lo, hi)


GDT_BYTES = (bytes(8) + descriptor(0, 0xFFFFF, 0x9B, 0xC) + descriptor(0, 0xFFFFF, 0x93, 0xC)
             + descriptor(0, 0xFFFFF, 0xFB, 0xC) + descriptor(0, 0xFFFFF, 0xF3, 0xC)
             + descriptor(CODE, 0xFFFF, 0x9B, 0) + descriptor(DATA, 0xFFFFF, 0x93, 0x8)
             + descriptor(STACK, 0xFFFFF, 0x93, 0x8)
             + descriptor(0, 0xFFFFF, 0x91, 0xC)      # 0x40 read-only data
             + descriptor(0, 0xFFFFF, 0x99, 0xC)      # 0x48 execute-only code
             + descriptor(0, 0xFFFFF, 0x13, 0xC)      # 0x50 not present
             + descriptor(0, 0xFFF, 0x82, 0))         # 0x58 an LDT (system)

# ---------------------------------------------------------------------------- instructions
# opcode -> (has ModRM, immediate kind, undefined flags); immediate 0 none, 1 byte,
# 2 word/dword (byte for the byte forms), 3 word, 4 ENTER
ONE_BYTE: Dict[int, Tuple[bool, int, int]] = {}
for _base in range(0, 0x40, 8):
    for _form, (_modrm, _imm) in enumerate(((True, 0), (True, 0), (True, 0), (True, 0), (False, 1), (False, 2))):
        ONE_BYTE[_base + _form] = (_modrm, _imm, AF if _base in (0x08, 0x20, 0x30) else 0)
ONE_BYTE.update({op: (False, 0, 0) for op in (0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F)})
ONE_BYTE.update({0x27: (False, 0, OF), 0x2F: (False, 0, OF), 0x37: (False, 0, OF | SF | ZF | PF),
                 0x3F: (False, 0, OF | SF | ZF | PF)})
ONE_BYTE.update({op: (False, 0, 0) for op in range(0x40, 0x60) if op not in (0x5C,)})
ONE_BYTE.update({0x60: (False, 0, 0), 0x61: (False, 0, 0), 0x68: (False, 2, 0), 0x6A: (False, 1, 0),
                 0x69: (True, 2, SF | ZF | AF | PF), 0x6B: (True, 1, SF | ZF | AF | PF),
                 0x62: (True, 0, 0)})                                          # BOUND
ONE_BYTE.update({0x80: (True, 1, 0), 0x81: (True, 2, 0), 0x83: (True, 1, 0), 0x84: (True, 0, AF),
                 0x85: (True, 0, AF), 0x86: (True, 0, 0), 0x87: (True, 0, 0), 0x88: (True, 0, 0),
                 0x89: (True, 0, 0), 0x8A: (True, 0, 0), 0x8B: (True, 0, 0), 0x8D: (True, 0, 0),
                 0x8C: (True, 0, 0), 0x8E: (True, 0, 0), 0x8F: (True, 0, 0)})
ONE_BYTE.update({op: (False, 0, 0) for op in (0x90, 0x91, 0x92, 0x93, 0x95, 0x96, 0x97, 0x98, 0x99)})
ONE_BYTE.update({0x9C: (False, 0, 0), 0x9D: (False, 0, 0), 0x9E: (False, 0, 0), 0x9F: (False, 0, 0),
                 0xA8: (False, 1, AF), 0xA9: (False, 2, AF)})
ONE_BYTE.update({op: (False, 0, 0) for op in (0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF)})
ONE_BYTE.update({op: (False, 1, 0) for op in range(0xB0, 0xB8)})
ONE_BYTE.update({op: (False, 2, 0) for op in range(0xB8, 0xC0) if op != 0xBC})
ONE_BYTE.update({0xC0: (True, 1, AF | OF), 0xC1: (True, 1, AF | OF), 0xC6: (True, 1, 0), 0xC7: (True, 2, 0),
                 0xC4: (True, 0, 0), 0xC5: (True, 0, 0), 0xC8: (False, 4, 0), 0xC9: (False, 0, 0),
                 0xCC: (False, 0, 0), 0xCD: (False, 1, 0), 0xCE: (False, 0, 0),
                 0xD0: (True, 0, AF), 0xD1: (True, 0, AF), 0xD2: (True, 0, AF | OF), 0xD3: (True, 0, AF | OF),
                 0xD4: (False, 1, OF | AF | CF), 0xD5: (False, 1, OF | AF | CF), 0xD7: (False, 0, 0),
                 0xF4: (False, 0, 0), 0xF5: (False, 0, 0), 0xF8: (False, 0, 0), 0xF9: (False, 0, 0),
                 0xFA: (False, 0, 0), 0xFB: (False, 0, 0), 0xFC: (False, 0, 0), 0xFD: (False, 0, 0),
                 0xF6: (True, 0, 0), 0xF7: (True, 0, 0), 0xFE: (True, 0, 0), 0xFF: (True, 0, 0)})
TWO_BYTE: Dict[int, Tuple[bool, int, int]] = {}
TWO_BYTE.update({op: (True, 0, 0) for op in range(0x90, 0xA0)})                # SETcc
TWO_BYTE.update({op: (True, 0, 0) for op in range(0x40, 0x50)})                # CMOVcc
TWO_BYTE.update({op: (True, 0, OF | SF | AF | PF) for op in (0xA3, 0xAB, 0xB3, 0xBB)})
TWO_BYTE.update({0xBA: (True, 1, OF | SF | AF | PF), 0xA4: (True, 1, AF | OF), 0xAC: (True, 1, AF | OF),
                 0xA5: (True, 0, AF | OF), 0xAD: (True, 0, AF | OF), 0xAF: (True, 0, SF | ZF | AF | PF),
                 0xB0: (True, 0, 0), 0xB1: (True, 0, 0), 0xB6: (True, 0, 0), 0xB7: (True, 0, 0),
                 0xBE: (True, 0, 0), 0xBF: (True, 0, 0), 0xBC: (True, 0, ALL & ~ZF),
                 0xBD: (True, 0, ALL & ~ZF), 0xC0: (True, 0, 0), 0xC1: (True, 0, 0), 0xC7: (True, 0, 0),
                 0x0B: (False, 0, 0), 0x20: (True, 0, 0), 0x22: (True, 0, 0), 0x06: (False, 0, 0),
                 0xA0: (False, 0, 0), 0xA1: (False, 0, 0), 0xA8: (False, 0, 0), 0xA9: (False, 0, 0),
                 0xB2: (True, 0, 0), 0xB4: (True, 0, 0), 0xB5: (True, 0, 0)})
TWO_BYTE.update({op: (False, 0, 0) for op in range(0xC8, 0xD0) if op != 0xCC})  # BSWAP (not ESP)
STRING_OPS = frozenset((0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF))
GROUP_UNDEFINED = {
    **{(op, r): f for op in (0xF6, 0xF7)
       for r, f in ((0, AF), (1, AF), (4, SF | ZF | AF | PF), (5, SF | ZF | AF | PF), (6, ALL), (7, ALL))},
    **{(op, r): AF | OF for op in (0xC0, 0xC1, 0xD2, 0xD3) for r in range(8)},
}
#: ModRM opcodes whose reg field is an opcode extension, not a register
GROUPS = frozenset((0x80, 0x81, 0x83, 0x8F, 0xC0, 0xC1, 0xC6, 0xC7, 0xD0, 0xD1, 0xD2, 0xD3,
                    0xF6, 0xF7, 0xFE, 0xFF))
SEGMENT_LOADS = frozenset((0x8E, 0xC4, 0xC5))
JCC_READERS = tuple(range(0x70, 0x80))
INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


class Item(NamedTuple):
    """One instruction: its bytes, the flags it leaves undefined, and for a forward
    jump the number of following items it skips (the displacement of `width` bytes
    is filled in when the sequence is assembled)."""
    code: bytes
    undefined: int = 0
    skip: int = -1
    width: int = 0
    glued: bool = False     # a register load belonging to the next item (jumps skip both)


class Case(NamedTuple):
    mode: str
    cpl: int
    items: Tuple[Item, ...]
    regs: Tuple[int, ...]
    eflags: int
    pde1: int               # flags of directory entry 1 (paged mode)
    ptes: Tuple[int, ...]   # flags of the data pages' table entries
    wp: bool
    memory_seed: Optional[int]   # None: data memory is zeros


def instruction(code: bytes) -> Item:
    """An Item for hand-written bytes, with the undefined flags of its opcode."""
    index = 0
    while code[index] in (0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3):
        index += 1
    opcode = code[index]
    if opcode == 0x0F:
        entry = TWO_BYTE.get(code[index + 1])
        return Item(code, entry[2] if entry else 0)
    entry = ONE_BYTE.get(opcode)
    undefined = entry[2] if entry else 0
    if entry and entry[0]:
        undefined |= GROUP_UNDEFINED.get((opcode, (code[index + 1] >> 3) & 7), 0)
    return Item(code, undefined)


def assemble(items: Tuple[Item, ...]) -> Tuple[bytes, List[int]]:
    """The code bytes and each item's offset (the last offset is the end)."""
    offsets = [0]
    for item in items:
        offsets.append(offsets[-1] + len(item.code) + (item.width if item.skip >= 0 else 0))
    starts = [i for i in range(len(items) + 1) if i == 0 or i == len(items) or not items[i - 1].glued]
    code = b""
    for index, item in enumerate(items):
        code += item.code
        if item.skip >= 0:
            following = next(n for n, start in enumerate(starts) if start > index)
            target = offsets[starts[min(following + item.skip, len(starts) - 1)]]
            code += (target - offsets[index + 1]).to_bytes(item.width, "little")
    return code, offsets


class Generator:
    """Random instruction sequences for one mode (see the module docstring)."""

    def __init__(self, rng: random.Random, mode: str, cpl: int) -> None:
        self.rng = rng
        self.mode = mode
        self.cpl = cpl
        self.bits = 16 if mode in ("real", "pm16") else 32
        #: an instruction takes all of ESP as an address though the stack is 16-bit
        #: (ESP-based 32-bit addressing, a load of a 32-bit SS): `make_case` then
        #: keeps ESP's upper half clear so the address stays in memory
        self.full_esp = False
        self.through_code = False   # the instruction being made has a CS: prefix

    def value(self, bits: int = 32) -> int:
        rng = self.rng
        if rng.random() < 0.25:
            return rng.choice(INTERESTING) & ((1 << bits) - 1)
        return rng.randrange(1 << bits)

    def address(self) -> int:
        """A target effective address (offset in the data segment)."""
        rng = self.rng
        if self.mode == "paged":
            roll = rng.random()
            if roll < 0.08:
                return 0x800000 + rng.randrange(0x1000)          # directory entry not present
            if roll < 0.16:
                return PAGED_DATA - 8 + rng.randrange(16)        # across the two directory entries
            page = rng.randrange(PAGED_PAGES + 1)
            offset = rng.choice((rng.randrange(0x1000), 0xFFC + rng.randrange(4), 0xFFE, 0xFFF))
            return PAGED_DATA + page * 0x1000 + offset
        if self.through_code:       # real mode, CS: (above the case's code, or Unicorn
            return 0x1000 + rng.randrange(0xEFF0)   # restarts an instruction that writes it)
        if self.bits == 16 or self.mode == "real":
            return rng.randrange(0xFFF0)
        return DATA + rng.randrange(0xFFF0)

    def mov_imm(self, reg: int, value: int, wide: bool) -> Item:
        """The load of an operand register the next instruction needs."""
        if self.bits == 16:
            if wide:
                return Item(b"\x66" + bytes([0xB8 + reg]) + (value & 0xFFFFFFFF).to_bytes(4, "little"),
                            glued=True)
            return Item(bytes([0xB8 + reg]) + (value & 0xFFFF).to_bytes(2, "little"), glued=True)
        return Item(bytes([0xB8 + reg]) + (value & 0xFFFFFFFF).to_bytes(4, "little"), glued=True)

    def memory_operand(self, mod: int, rm: int, addrsize: int) -> Tuple[bytes, List[Item]]:
        """Displacement/SIB bytes and the register loads that make the effective
        address a chosen target."""
        rng = self.rng
        target = self.address()
        setup: List[Item] = []
        wide = addrsize == 32
        if addrsize == 16:
            # (in 32-bit modes the offset is in the low 64 KiB: not into the code above it)
            target = min(target & 0xFFFF, 0xFFF0)
            if mod == 0 and rm == 6:
                return target.to_bytes(2, "little"), setup
            disp = {0: 0, 1: rng.randrange(256), 2: rng.randrange(0x10000)}[mod]
            sdisp = disp - 256 if mod == 1 and disp >= 128 else disp
            regs = ((3, 6), (3, 7), (5, 6), (5, 7), (6,), (7,), (5,), (3,))[rm]
            rest = target - sdisp
            if len(regs) == 2:
                index = rng.randrange(0x100)
                setup.append(self.mov_imm(regs[1], index, False))
                rest -= index
            setup.insert(0, self.mov_imm(regs[0], rest, False))
            tail = b"" if mod == 0 else disp.to_bytes(mod, "little")
            return tail, setup
        disp = {0: 0, 1: rng.randrange(256), 2: rng.randrange(0x1000)}[mod]
        sdisp = disp - 256 if mod == 1 and disp >= 128 else disp
        out = b""
        if rm == 4:
            base, index, scale = rng.randrange(8), rng.randrange(8), rng.randrange(4)
            out = bytes([(scale << 6) | (index << 3) | base])
            index_value = rng.randrange(0x40) if index != 4 else 0
            if index != 4 and (index != base or base == 5 and mod == 0):
                setup.append(self.mov_imm(index, index_value, wide))
            if base == 5 and mod == 0:
                disp = (target - (index_value << scale)) & 0xFFFFFFFF
                return out + disp.to_bytes(4, "little"), setup
            if base == 4:           # ESP-based: stays near the stack
                self.full_esp = self.full_esp or self.bits == 16
            elif base == index:
                setup.append(self.mov_imm(base, (target - sdisp) // (1 + (1 << scale)), wide))
            else:
                setup.append(self.mov_imm(base, target - sdisp - (index_value << scale), wide))
        elif mod == 0 and rm == 5:
            return target.to_bytes(4, "little"), setup
        elif rm != 4:
            setup.append(self.mov_imm(rm, target - sdisp, wide))
        tail = b"" if mod == 0 else (disp.to_bytes(1, "little") if mod == 1 else disp.to_bytes(4, "little"))
        return out + tail, setup

    def table_instruction(self, two_byte: Optional[bool] = None, opcode: Optional[int] = None) -> List[Item]:
        """A random instruction from the tables, with the loads its operands need."""
        rng = self.rng
        if two_byte is None:
            two_byte = rng.random() < 0.3
        table = TWO_BYTE if two_byte else ONE_BYTE
        if opcode is None:
            opcode = rng.choice(sorted(table))
        has_modrm, imm_kind, undefined = table[opcode]
        prefix = b""
        opsize = addrsize = self.bits
        setup: List[Item] = []
        if rng.random() < 0.25:
            prefix += b"\x66"
            opsize = 48 - self.bits
        if rng.random() < 0.15 and self.mode != "real":
            prefix += b"\x67"
            addrsize = 48 - self.bits
        if rng.random() < 0.1:     # CS is not writable in protected mode, and Unicorn ignores that
            prefix += bytes([rng.choice((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65) if self.mode == "real" else
                                        (0x26, 0x36, 0x3E, 0x64, 0x65))])
        self.through_code = prefix[-1:] == b"\x2E"
        body = (b"\x0F" if two_byte else b"") + bytes([opcode])
        one = not two_byte
        if one and opcode in STRING_OPS:
            prefix += rng.choice((b"", b"\xF3", b"\xF2")) if opcode in (0xA6, 0xA7, 0xAE, 0xAF) else \
                rng.choice((b"", b"\xF3"))
            wide = addrsize == 32
            setup += [self.mov_imm(6, self.address(), wide), self.mov_imm(7, self.address(), wide),
                      self.mov_imm(1, rng.randrange(5), wide)]
        if one and opcode in (0xC8, 0xC9):     # ENTER/LEAVE: EBP is a stack pointer
            setup.append(self.mov_imm(5, (STACK if self.bits == 32 else 0) + 0xF000 - rng.randrange(0x100) * 2,
                                      self.bits == 32))
        if one and opcode == 0xD7:            # XLAT: [EBX + AL]
            setup.append(self.mov_imm(3, self.address() & ~0xFF, addrsize == 32))
        if has_modrm:
            reg, mod, rm = rng.randrange(8), rng.randrange(4), rng.randrange(8)
            if two_byte and opcode == 0xBA:
                reg = rng.randrange(4, 8)
            if two_byte and opcode == 0xC7:
                reg, mod = 1, rng.randrange(3)
            if two_byte and opcode in (0x20, 0x22):
                mod, reg = 3, rng.choice((0, 2, 3, 4))
                if opcode == 0x22 and self.cpl == 0:
                    opcode, body = 0x20, b"\x0F\x20"   # a random CR0/CR3/CR4 would change the regime
            if one and opcode in (0xC6, 0xC7, 0x8F):
                reg = 0
            if one and opcode == 0xFE:
                reg = rng.randrange(2)
            if one and opcode == 0xFF:
                reg = rng.choice((0, 1, 6))
            if one and opcode in (0xF6, 0xF7) and reg == 1:
                reg = 0       # the TEST alias /1 stops Unicorn without executing
            if one and opcode in SEGMENT_LOADS or two_byte and opcode in (0xB2, 0xB4, 0xB5):
                if opcode == 0x8E:
                    reg = rng.choice((0, 2, 3, 4, 5))
                    self.full_esp = self.full_esp or reg == 2 and self.mode == "pm16"
                else:
                    mod = rng.randrange(3)
            if one and opcode == 0x8C:
                reg = rng.randrange(6)
            if one and opcode in (0x62, 0x8D) or two_byte and opcode == 0xC7:
                mod = rng.randrange(3)
            # Never write ESP as a general register: the stack must stay mapped.
            if not (one and opcode in GROUPS or one and opcode in (0x8C, 0x8E) or two_byte and
                    opcode in (0xBA, 0xC7, 0x20, 0x22)) and reg == 4:
                reg = 5
            if mod == 3 and rm == 4 and not (two_byte and opcode == 0x22):
                rm = 5
            body += bytes([(mod << 6) | (reg << 3) | rm])
            if mod != 3:
                tail, loads = self.memory_operand(mod, rm, addrsize)
                body += tail
                setup += loads
                if two_byte and opcode in (0xA3, 0xAB, 0xB3, 0xBB):   # BT m, r: the bit offset moves the address
                    used = {item.code[item.code[0] == 0x66] - 0xB8 for item in loads}   # MOV r, imm
                    if reg in used:     # the offset register is not one of the address's
                        reg = next(r for r in (0, 1, 2, 3, 5, 6, 7) if r not in used)
                        body = body[:2] + bytes([(mod << 6) | (reg << 3) | rm]) + body[3:]
                    setup.append(self.mov_imm(reg, rng.randrange(128), opsize == 32))
            if one:
                undefined |= GROUP_UNDEFINED.get((opcode, reg), 0)
                if opcode in (0xF6, 0xF7) and reg in (0, 1):
                    imm_kind = 1 if opcode == 0xF6 else 2
            if one and opcode == 0x8E and rng.random() < 0.8:   # a selector worth loading
                source = rng.choice(SELECTORS) if self.mode != "real" else self.value(16)
                if mod == 3:
                    setup.append(self.mov_imm(rm, source, False))
        if imm_kind == 1:
            body += bytes([self.value(8)])
        elif imm_kind == 2:
            size = 2 if opsize == 16 else 4
            if one and (opcode in (0xC6, 0x80, 0xA8) or opcode < 0x40 and opcode & 7 == 4 or
                        0xB0 <= opcode < 0xB8):
                size = 1
            body += self.value(8 * size).to_bytes(size, "little")
        elif imm_kind == 4:
            body += rng.randrange(0, 64, 2).to_bytes(2, "little") + bytes([rng.randrange(4)])
        if one and opcode in (0xD4, 0xD5) and body[-1] == 0 and rng.random() < 0.7:
            body = body[:-1] + b"\x0A"
        if one and opcode == 0xCD:
            body = body[:-1] + bytes([rng.choice((0x21, 0x80, 3, 4, 0x10, rng.randrange(256)))])
        return setup + [Item(prefix + body, undefined)]

    def flag_reader(self) -> List[Item]:
        """An instruction that reads the flags the previous one left."""
        rng = self.rng
        kind = rng.randrange(8)
        if kind == 0:
            return [Item(bytes([rng.choice(JCC_READERS)]), skip=rng.randrange(3), width=1)]
        if kind == 1:
            return [Item(b"\x0F" + bytes([0x80 + rng.randrange(16)]), skip=rng.randrange(3),
                         width=2 if self.bits == 16 else 4)]
        if kind == 2:
            return [Item(b"\x0F" + bytes([0x90 + rng.randrange(16), 0xC0 | rng.choice((0, 1, 2, 3, 5, 6, 7))]))]
        if kind == 3:       # ADC/SBB/RCL/RCR
            op = rng.choice((0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1A, 0x1B))
            return [Item(bytes([op, 0xC0 | (rng.choice((0, 1, 2, 3, 5, 6, 7)) << 3) | rng.choice((0, 1, 2, 3, 5, 6, 7))]))]
        if kind == 4:
            return [Item(bytes([0x83, 0xC0 | (rng.choice((2, 3)) << 3) | rng.choice((0, 1, 2, 3, 5, 6, 7)),
                                self.value(8)]))]
        if kind == 5:
            return [Item(b"\x9C"), Item(bytes([0x58 + rng.choice((0, 1, 2, 3))]))]   # PUSHF; POP r
        if kind == 6:
            return [Item(b"\x9F")]       # LAHF
        return [Item(b"\x0F" + bytes([0x40 + rng.randrange(16), 0xC0 | (rng.choice((0, 1, 2, 3)) << 3) | rng.randrange(8)]))]

    def special(self) -> List[Item]:
        """Patterns random choice reaches too rarely: BSF/BSR of zero, ADC/SBB with
        an all-ones operand and carry set, divisions by zero, system instructions."""
        rng = self.rng
        kind = rng.randrange(6)
        reg, other = rng.sample((0, 1, 2, 3, 5, 6, 7), 2)
        if kind == 0:
            return [Item(bytes([0x31, 0xC0 | (other << 3) | other])),
                    Item(b"\x0F" + bytes([rng.choice((0xBC, 0xBD)), 0xC0 | (reg << 3) | other]), ALL & ~ZF)]
        if kind == 1:
            return [Item(rng.choice((b"\xF9", b"\xF8"))),
                    Item(bytes([0x83, 0xC0 | (rng.choice((2, 3)) << 3) | reg, 0xFF]))] + self.flag_reader()
        if kind == 2:
            return [Item(bytes([0x31, 0xC0 | (other << 3) | other])),
                    Item(bytes([rng.choice((0xF6, 0xF7)), 0xC0 | (rng.choice((6, 7)) << 3) | other]))]
        if kind == 3:
            return [Item(bytes([rng.choice((0xFA, 0xFB, 0xF4, 0x9C, 0x9D, 0xCC, 0xCE))]))]
        if kind == 4 and self.mode != "real" and self.cpl == 3:
            return [Item(b"\x0F" + bytes([rng.choice((0x20, 0x22)), 0xC0 | (rng.choice((0, 2, 3)) << 3) | reg]))]
        return [Item(b"\x0F\x0B")]

    def sequence(self) -> Tuple[Item, ...]:
        rng = self.rng
        items: List[Item] = []
        for _ in range(rng.randrange(1, 5)):
            roll = rng.random()
            if roll < 0.45:
                items += self.table_instruction()
            elif roll < 0.8:
                items += self.table_instruction(False, rng.choice(
                    [op for op in range(0x40) if op & 7 < 6] + [0x80, 0x81, 0x83, 0xC1, 0xD1, 0xF7]))
                items += self.flag_reader()
            else:
                items += self.special()
        kept = tuple(item for item in items if self.allowed(item))
        return kept or self.sequence()      # all HLT at ring 0: a case that compares nothing

    def allowed(self, item: Item) -> bool:
        """HLT is only generated where it faults (ring 3): at ring 0 both CPUs stop.
        (Its opcode, not a last byte F4h: that dropped MOV SI, 0F4xxh before a LODS.)"""
        return not (_opcode(item.code) == b"\xF4" and self.cpl == 0)


def make_case(seed: int, index: int, mode: str) -> Case:
    rng = random.Random(f"{seed}/{index}/{mode}")
    cpl = 3 if mode in ("pm32", "paged") and rng.random() < 0.6 else 0
    generator = Generator(rng, mode, cpl)
    items = generator.sequence()
    regs = [generator.value() for _ in range(8)]
    if mode in ("real", "pm16"):
        regs[4] = (regs[4] & 0xFFFF0000) | (rng.randrange(0x1000, 0xFFF0) & ~1)
        if generator.full_esp:      # ESP + index + displacement within the stack's 64 KiB
            regs[4] = min(regs[4] & 0xFFFF, 0xE000)
    else:
        regs[4] = STACK + rng.randrange(0x1000, 0xE000) & ~3
    eflags = 2 | (rng.randrange(1 << 12) & (ALL | DF)) | (IF if rng.random() < 0.5 else 0)
    if cpl == 3:
        eflags |= rng.choice((0, 0, 0x3000))           # IOPL 0 or 3
    pde1 = 1 | (2 if rng.random() < 0.8 else 0) | (4 if rng.random() < 0.8 else 0)
    if rng.random() < 0.05:
        pde1 = 0
    ptes = tuple((1 if rng.random() < 0.9 else 0) | (2 if rng.random() < 0.75 else 0) |
                 (4 if rng.random() < 0.8 else 0) for _ in range(PAGED_PAGES))
    return Case(mode, cpl, items, tuple(regs), eflags, pde1, ptes, rng.random() < 0.5,
                rng.randrange(1 << 30))


def initial_memory(case: Case) -> Dict[int, bytes]:
    """Physical address -> bytes both CPUs start with (code, data, system tables)."""
    code, _ = assemble(case.items)
    memory = {0: bytes(CODE), CODE: (code + b"\xF4").ljust(0x10000, b"\0")}
    if case.memory_seed is None:
        memory[DATA] = bytes(0x20000)
    else:   # random data; the stack starts as zeros
        rng = random.Random(case.memory_seed)
        memory[DATA] = rng.getrandbits(8 * 0x10000).to_bytes(0x10000, "little") + bytes(0x10000)
    tables = bytearray(0x5000)
    tables[0:len(GDT_BYTES)] = GDT_BYTES
    if case.mode == "paged":
        struct.pack_into("<II", tables, PDIR - SYSTEM, PT0 | 7, PT1 | case.pde1)
        for start, size in REGIONS:
            for page in range(start >> 12, (start + size) >> 12):
                struct.pack_into("<I", tables, PT0 - SYSTEM + page * 4, (page << 12) | 7)
        for page, flags in enumerate(case.ptes):
            struct.pack_into("<I", tables, PT1 - SYSTEM + page * 4, (DATA + page * 0x1000) | flags)
    memory[SYSTEM] = bytes(tables) + bytes(0x1000)
    if reaches_all_memory(case):
        memory[STACK + 0x10000] = bytes(SYSTEM - STACK - 0x10000)
        memory[SYSTEM + 0x6000] = bytes(REAL_END - SYSTEM - 0x6000)
    cs = SEL_CODE16 if case.mode == "pm16" else SEL_CODE32_R3 if case.cpl == 3 else SEL_CODE32
    if case.cpl == 3:
        frame = struct.pack("<IIIII", 0 if case.mode == "pm16" else CODE, cs, case.eflags,
                            case.regs[4], SEL_DATA32_R3)
    else:
        frame = struct.pack("<III", 0 if case.mode == "pm16" else CODE, cs, case.eflags)
    memory[LAUNCH] = b"\xCF" + bytes(15) + frame
    return memory


# ---------------------------------------------------------------------------- results
class Outcome(NamedTuple):
    """One CPU's state after a step: registers, EIP, selectors, EFLAGS and, when
    the step raised, the vector, error code and CR2."""
    regs: Tuple[int, ...]
    eip: int
    segs: Tuple[int, ...]
    eflags: int
    vector: Optional[int] = None
    error: Optional[int] = None
    cr2: int = 0
    halted: bool = False


class Mismatch(NamedTuple):
    step: int
    text: str
    ours: Outcome
    theirs: Outcome


class Unrunnable(Exception):
    """Unicorn could not run a step (an access outside the memory it maps)."""


class _Raised(Exception):
    def __init__(self, vector: int, error: Optional[int], eip: int) -> None:
        super().__init__(vector)
        self.vector, self.error, self.eip = vector, error, eip


class OurCPU:
    """pcmachine's CPU on a bare machine, stopped where it would deliver an exception."""

    def __init__(self, model: str) -> None:
        from pcmachine.machine import Machine
        from pcmachine.plugins.cpu import CPU
        from pcmachine.plugins.ram import RAM
        self.machine = Machine.bare()
        self.machine.add_component(RAM, "ram", {"size": 16 << 20})
        self.machine.add_component(CPU, "cpu", {"model": model, "fpu": False})
        self.cpu = self.machine.cpu
        self.cpu.interrupt = self._intercept

    def _intercept(self, vector: int, return_eip: int, kind: str, error_code: Optional[int] = None) -> int:
        raise _Raised(vector, error_code, return_eip)

    def start(self, case: Case, memory: Dict[int, bytes]) -> None:
        from pcmachine.plugins.cpu import protected
        from pcmachine.plugins.cpu.state import CS, SS
        cpu = self.cpu
        ram = self.machine.bus.memory
        cpu.reset()
        for address, data in memory.items():
            ram[address:address + len(data)] = data
        if case.mode == "real":
            cpu.cr[0] = REAL_CR0
            for index in range(6):
                cpu.seg_limit[index] = 0xFFFF
                cpu.seg_flags[index] = 0x93
                cpu.load_segment(index, DATA >> 4)
            cpu.load_segment(CS, CODE >> 4)
            cpu.set_reg("eip", 0)
            cpu.set_eflags(case.eflags)
            cpu.rebuild()
            for name, value in zip(NAMES, case.regs):
                cpu.set_reg(name, value)
            return
        cpu.gdtr_base, cpu.gdtr_limit = GDT, len(GDT_BYTES) - 1
        cpu.idtr_base, cpu.idtr_limit = IDT, 0x7FF
        cpu.cr[3] = PDIR if case.mode == "paged" else 0
        cr0 = 0x11 | (0x80000000 if case.mode == "paged" else 0) | (0x10000 if case.wp else 0)
        cpu.write_cr(0, cr0)
        lo, hi = struct.unpack_from("<II", GDT_BYTES, SEL_CODE32)
        protected.load_cache(cpu, CS, SEL_CODE32, lo, hi)
        protected.set_cpl(cpu, 0)
        protected.select_code_size(cpu)
        data = SEL_DATA16 if case.mode == "pm16" else SEL_DATA32_R3 if case.cpl == 3 else SEL_DATA32
        for index in range(6):
            if index != CS:
                cpu.load_segment(index, SEL_DATA32 if index == SS else data)
        cpu.regs[4] = LAUNCH + 16
        cpu.set_eflags(2)
        cpu.rebuild()
        cpu.eip = LAUNCH
        self.step()
        if case.mode == "pm16":
            cpu.load_segment(SS, SEL_STACK16)
        for name, value in zip(NAMES, case.regs):
            if case.cpl == 0 or name != "esp":
                cpu.set_reg(name, value)

    def step(self) -> Outcome:
        cpu = self.cpu
        clock = self.machine.clock
        clock.stop_icount = clock.icount + 1
        vector = error = None
        try:
            cpu.run()
        except _Raised as raised:
            vector, error, cpu.eip = raised.vector, raised.error, raised.eip
        return Outcome(tuple(cpu.regs), cpu.eip, tuple(cpu.seg_sel), cpu.get_eflags(), vector,
                       error, cpu.cr[2], cpu.halted)

    def memory(self, address: int, size: int) -> bytes:
        return bytes(memoryview(self.machine.bus.memory)[address:address + size])


class Calibration(NamedTuple):
    error_offset: int
    cr0_offset: int
    #: QEMU's `old_exception` (the exception being delivered, for the #DF rule):
    #: Unicorn never delivers, so it would stay set; reset before every step
    old_exception_offset: int


class TheirCPU:
    """Unicorn, a fresh engine per case (no translated code or TLB survives)."""

    def __init__(self, model: str, calibration: Optional[Calibration] = None) -> None:
        import unicorn
        from unicorn import x86_const
        self.unicorn, self.ucx = unicorn, x86_const
        self.model = getattr(x86_const, "UC_CPU_X86_" + MODELS[model])
        self.calibration = calibration
        self.event: Optional[Tuple[int, int, bytes]] = None
        self.uc: Any = None
        #: the engines' memory, ours (mapped with mem_map_ptr): a case writes and
        #: reads it directly, as Unicorn's mem_write/mem_read copy byte by byte on
        #: PyPy (~4 ms for 64 KiB)
        self.ram = {region: (ctypes.c_char * region[1])() for region in REGIONS + REAL_REGIONS}
        self.views = {region: memoryview(buffer).cast("B") for region, buffer in self.ram.items()}
        self.engines: Dict[str, Tuple[Any, Any]] = {}
        self.mode = "real"
        u = x86_const
        self.reg_ids = (u.UC_X86_REG_EAX, u.UC_X86_REG_ECX, u.UC_X86_REG_EDX, u.UC_X86_REG_EBX,
                        u.UC_X86_REG_ESP, u.UC_X86_REG_EBP, u.UC_X86_REG_ESI, u.UC_X86_REG_EDI)
        self.seg_ids = (u.UC_X86_REG_ES, u.UC_X86_REG_CS, u.UC_X86_REG_SS, u.UC_X86_REG_DS,
                        u.UC_X86_REG_FS, u.UC_X86_REG_GS)

    def _hook(self, uc: Any, vector: int, data: Any) -> None:
        self.event = (vector, uc.reg_read(self.ucx.UC_X86_REG_EIP), bytes(uc.context_save()))
        uc.emu_stop()

    def _engine(self, mode: str) -> Any:
        """One engine per mode, reset to its first saved context for each case
        (a fresh engine costs ~18 ms; the context, rewritten memory, dropped
        translated code and a CR0/CR3 write that flushes the TLB make it new)."""
        unicorn = self.unicorn
        if mode not in self.engines:
            uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_16 if mode == "real" else unicorn.UC_MODE_32)
            uc.ctl_set_cpu_model(self.model)
            for start, size in regions(mode):
                uc.mem_map_ptr(start, size, unicorn.UC_PROT_ALL, ctypes.addressof(self.ram[start, size]))
            uc.hook_add(unicorn.UC_HOOK_INTR, self._hook)
            self.engines[mode] = (uc, uc.context_save())
        uc, context = self.engines[mode]
        uc.context_restore(context)
        return uc

    def start(self, case: Case, memory: Dict[int, bytes]) -> None:
        u = self.ucx
        self.mode = case.mode
        uc = self.uc = self._engine(case.mode)
        for address, data in memory.items():
            start, size = region = self._region(address)
            self.views[region][address - start:address - start + len(data)] = data
        for start, size in regions(case.mode):  # (ctl_flush_tb would cost ~4 ms a step after it)
            uc.ctl_remove_cache(start, start + size)
        if case.mode == "real":
            for seg in self.seg_ids:
                uc.reg_write(seg, DATA >> 4)
            uc.reg_write(u.UC_X86_REG_CS, CODE >> 4)
            uc.reg_write(u.UC_X86_REG_CR0, REAL_CR0)
            uc.reg_write(u.UC_X86_REG_EIP, 0)
            uc.reg_write(u.UC_X86_REG_EFLAGS, case.eflags)
            for reg, value in zip(self.reg_ids, case.regs):
                uc.reg_write(reg, value)
            return
        uc.reg_write(u.UC_X86_REG_GDTR, (0, GDT, len(GDT_BYTES) - 1, 0))
        uc.reg_write(u.UC_X86_REG_IDTR, (0, IDT, 0x7FF, 0))
        if case.mode == "paged":     # CR0.PG is clear in the saved context: this flushes the TLB
            uc.reg_write(u.UC_X86_REG_CR3, PDIR)
        uc.reg_write(u.UC_X86_REG_CR0, 0x11 | (0x80000000 if case.mode == "paged" else 0)
                     | (0x10000 if case.wp else 0))
        data = SEL_DATA16 if case.mode == "pm16" else SEL_DATA32_R3 if case.cpl == 3 else SEL_DATA32
        uc.reg_write(u.UC_X86_REG_SS, SEL_DATA32)
        for seg in (u.UC_X86_REG_DS, u.UC_X86_REG_ES, u.UC_X86_REG_FS, u.UC_X86_REG_GS):
            uc.reg_write(seg, data)
        uc.reg_write(u.UC_X86_REG_ESP, LAUNCH + 16)
        uc.reg_write(u.UC_X86_REG_EFLAGS, 2)
        uc.emu_start(LAUNCH, UNTIL, count=1)
        if case.mode == "pm16":
            uc.reg_write(u.UC_X86_REG_SS, SEL_STACK16)
        for reg, value in zip(self.reg_ids, case.regs):
            if case.cpl == 0 or reg != u.UC_X86_REG_ESP:
                uc.reg_write(reg, value)

    def _linear_pc(self) -> int:
        u = self.ucx
        eip = self.uc.reg_read(u.UC_X86_REG_EIP)
        if self.mode == "real":
            return (self.uc.reg_read(u.UC_X86_REG_CS) << 4) + eip
        return eip

    def _is_rep_string(self) -> bool:
        u = self.ucx
        cs_base = {"real": CODE, "pm16": CODE}.get(self.mode, 0)
        eip = self.uc.reg_read(u.UC_X86_REG_EIP)
        try:
            code = bytes(self.uc.mem_read(cs_base + eip, 8))
        except self.unicorn.UcError:
            return False
        rep = False
        for byte in code:
            if byte in (0xF2, 0xF3):
                rep = True
            elif byte not in (0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0):
                return rep and byte in STRING_OPS
        return False

    def _forget_exception(self) -> None:
        """Clear QEMU's record of an exception in delivery (see `Calibration`)."""
        offset = self.calibration.old_exception_offset if self.calibration else None
        if offset is None:
            return
        context = self.uc.context_save()
        raw = bytearray(bytes(context))
        if struct.unpack_from("<i", raw, offset)[0] == -1:
            return
        struct.pack_into("<i", raw, offset, -1)
        fresh = type(context).__new__(type(context))
        fresh.__setstate__((bytes(raw), context.size, context.arch, context.mode))
        self.uc.context_restore(fresh)

    def step(self) -> Outcome:
        u = self.ucx
        uc = self.uc
        self.event = None
        vector = error = None
        cr2 = 0
        for _ in range(64):         # a REP string instruction runs one iteration a step
            self._forget_exception()
            before = uc.reg_read(u.UC_X86_REG_EIP)
            try:
                uc.emu_start(self._linear_pc() if self.mode == "real" else before, UNTIL, count=1)
            except self.unicorn.UcError as failure:
                if failure.errno == self.unicorn.UC_ERR_INSN_INVALID:
                    vector = 6
                    break
                raise Unrunnable(f"Unicorn stopped: {failure}") from None
            if self.event is not None or uc.reg_read(u.UC_X86_REG_EIP) != before or not self._is_rep_string():
                break
        if self.event is not None:
            vector, eip, context = self.event
            uc.reg_write(u.UC_X86_REG_EIP, eip)
            if self.calibration is not None and self.calibration.error_offset >= 0:
                error = struct.unpack_from("<I", context, self.calibration.error_offset)[0]
                cr2 = struct.unpack_from("<I", context, self.calibration.cr0_offset + 16)[0]
                if struct.unpack_from("<i", context, self.calibration.error_offset + 4)[0]:
                    error = None        # INT n (QEMU's exception_is_int): no error code
            if vector not in ERROR_CODE_VECTORS:
                error = None
        regs = tuple(uc.reg_read(reg) & 0xFFFFFFFF for reg in self.reg_ids)
        segs = tuple(uc.reg_read(seg) for seg in self.seg_ids)
        return Outcome(regs, uc.reg_read(u.UC_X86_REG_EIP), segs, uc.reg_read(u.UC_X86_REG_EFLAGS),
                       vector, error, cr2)

    def _region(self, address: int) -> Tuple[int, int]:
        return next(region for region in regions(self.mode) if region[0] <= address < region[0] + region[1])

    def memory(self, address: int, size: int) -> bytes:
        region = self._region(address)
        return ctypes.string_at(ctypes.addressof(self.ram[region]) + address - region[0], size)


def calibrate(model: str) -> Calibration:
    """Find where Unicorn's saved context holds the error code and CR0, from #GP
    faults whose error codes the SDM fixes (MOV DS with a selector beyond the GDT
    limit: #GP(selector & FFFCh)) and a #PF (write to a read-only page at CPL 0 with
    CR0.WP: error code 3, CR2 the address)."""
    candidates: Optional[set] = None
    cr0_candidates: Optional[set] = None
    for selector, cr0 in ((0x1238, 0x10011), (0x2A50, 0x11), (0x7FF8, 0x10011)):
        case = Case("pm32", 0,
                    (Item(b"\x8E\x1D" + (DATA + 0x100).to_bytes(4, "little")),), (0,) * 4 + (STACK + 0x800,) + (0,) * 3,
                    2, 0, (0,) * PAGED_PAGES, bool(cr0 & 0x10000), None)
        memory = initial_memory(case)
        memory[DATA + 0x100] = selector.to_bytes(2, "little")
        their = TheirCPU(model, Calibration(-1, -1, None))  # type: ignore[arg-type]
        their.start(case, memory)
        their.step()
        if their.event is None or their.event[0] != 13:
            raise RuntimeError("Unicorn did not raise #GP for MOV DS with a selector beyond the GDT")
        context = their.event[2]
        found = {i for i in range(0, len(context) - 3, 4) if struct.unpack_from("<I", context, i)[0] == selector}
        candidates = found if candidates is None else candidates & found
        found = {i for i in range(0, len(context) - 7, 8) if struct.unpack_from("<Q", context, i)[0] == cr0}
        cr0_candidates = found if cr0_candidates is None else cr0_candidates & found
    if not candidates or not cr0_candidates:
        raise RuntimeError("cannot find the error code or CR0 in Unicorn's saved context")
    error_offset = min(candidates)
    old = error_offset + 112        # error_code, exception_is_int, next_eip, dr[8], breakpoints[4]
    if struct.unpack_from("<i", context, old)[0] != 13 or struct.unpack_from("<i", context, error_offset + 4)[0]:
        raise RuntimeError("cannot find QEMU's old_exception in Unicorn's saved context")
    calibration = Calibration(error_offset, min(cr0_candidates), old)
    # Check CR2 and a #PF error code too.
    case = Case("paged", 0, (Item(b"\xA3" + (PAGED_DATA + 0x1234).to_bytes(4, "little")),),
                (0,) * 4 + (STACK + 0x800,) + (0,) * 3, 2, 5, (7,) * PAGED_PAGES, True, None)
    their = TheirCPU(model, calibration)
    their.start(case, initial_memory(case))
    outcome = their.step()
    if (outcome.vector, outcome.error, outcome.cr2) != (14, 3, PAGED_DATA + 0x1234):
        raise RuntimeError(f"Unicorn context calibration failed: #PF read as {outcome}")
    return calibration


# ---------------------------------------------------------------------------- comparison
class Difference(NamedTuple):
    """What a known-difference rule sees: the step (instruction bytes, both
    outcomes) or, at the end of a case, the memory bytes that differ."""
    mode: str
    code: bytes
    ours: Optional[Outcome]
    theirs: Optional[Outcome]
    memory: Tuple[Tuple[int, int, int], ...] = ()     # (address, ours, theirs)
    last: bytes = b""       # with `memory`: the instruction whose #PF ended the case
    program: bytes = b""    # without `memory`: the case's code
    opcodes: Tuple[bytes, ...] = ()     # with `memory`: each instruction's opcode bytes


class Witness(NamedTuple):
    """A small case that shows a known difference (all registers zero but ESP)."""
    mode: str
    cpl: int
    code: bytes
    pde1: int = 7
    pte0: int = 7
    esp: int = STACK + 0x8000
    model: str = "pentiumpro"

    def case(self) -> Case:
        return Case(self.mode, self.cpl, (instruction(self.code),), (0, 0, 0, 0, self.esp, 0, 0, 0), 2,
                    self.pde1, (self.pte0,) + (7,) * (PAGED_PAGES - 1), True, None)


class KnownDifference(NamedTuple):
    """A documented way Unicorn differs from the SDM (and Bochs): `applies` is a
    narrow rule; `witness` is a case on which Unicorn still shows it, which
    tests/test_cpu_fuzz.py runs so that a fixed Unicorn retires the entry."""
    name: str
    sdm: str
    applies: Callable[[Difference], bool]
    witness: Witness


def _opcode(code: bytes) -> bytes:
    """The opcode bytes after the prefixes."""
    index = 0
    while index < len(code) and code[index] in (0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67,
                                                 0xF0, 0xF2, 0xF3):
        index += 1
    return code[index:index + 2]


def _directory_accessed(difference: Difference) -> bool:
    return bool(difference.memory) and all(
        PDIR <= address < PDIR + 0x1000 and address % 4 == 0 and ours ^ theirs == 0x20 and theirs & 0x20
        for address, ours, theirs in difference.memory)


PUSH_SEGMENT = (b"\x06", b"\x0E", b"\x16", b"\x1E", b"\x0F\xA0", b"\x0F\xA8")


def _push_segment_high_word(difference: Difference) -> bool:
    """Unicorn's bytes are zeros and there is a PUSH Sreg; or a POP (POP r/m, POPA,
    LEAVE, POPFD) reads such a slot back: registers or EFLAGS differ in one half,
    which is zero in Unicorn."""
    if difference.memory:
        return (any(op in difference.code for op in PUSH_SEGMENT)
                and all(theirs == 0 for address, ours, theirs in difference.memory))
    ours, theirs = difference.ours, difference.theirs
    opcode = _opcode(difference.code)[:1]
    if ours is None or theirs is None or not any(op in difference.program for op in PUSH_SEGMENT) or \
            not (b"\x58" <= opcode < b"\x60" or opcode in (b"\x61", b"\xC9", b"\x8F", b"\x9D")):
        return False
    for mine, other in zip(ours.regs + (ours.eflags,), theirs.regs + (theirs.eflags,)):
        changed = mine ^ other
        if changed and not (changed & 0xFFFF == 0 and other >> 16 == 0 or changed >> 16 == 0 and other & 0xFFFF == 0):
            return False
    return ours._replace(regs=(), eflags=0) == theirs._replace(regs=(), eflags=0)


def _int_6_as_invalid_opcode(difference: Difference) -> bool:
    """INT 6 (CD 06): Unicorn stops as at an invalid opcode, at the instruction;
    we deliver the software interrupt with EIP after it."""
    ours, theirs = difference.ours, difference.theirs
    if ours is None or theirs is None or _opcode(difference.code) != b"\xCD\x06":
        return False
    length = difference.code.index(b"\xCD\x06") + 2        # the prefixes and CD 06
    return (ours.vector == theirs.vector == 6 and ours.eip - theirs.eip == length
            and ours._replace(eip=0) == theirs._replace(eip=0))


def _cmps_operand_order(difference: Difference) -> bool:
    """Both fault in CMPS: CR2 and the error code name different operands, or (at
    the end) only the accessed bits of the other operand's paging entries differ."""
    if difference.memory:
        return _opcode(difference.last)[:1] in (b"\xA6", b"\xA7") and all(
            PDIR <= address < PT1 + 0x1000 and mine ^ other == 0x20 for address, mine, other in difference.memory)
    ours, theirs = difference.ours, difference.theirs
    return (ours is not None and theirs is not None and _opcode(difference.code)[:1] in (b"\xA6", b"\xA7")
            and ours.vector == theirs.vector == 14 and ours.cr2 != theirs.cr2
            and ours._replace(cr2=0, error=0) == theirs._replace(cr2=0, error=0))


def _enter_frame_pointer(difference: Difference) -> bool:
    """ENTER with a 32-bit operand on a 16-bit stack: only EBP's upper half differs."""
    ours, theirs = difference.ours, difference.theirs
    if ours is None or theirs is None or _opcode(difference.code)[:1] != b"\xC8" or \
            b"\x66" not in difference.code[:difference.code.index(b"\xC8")]:
        return False
    return (ours.regs[5] & 0xFFFF == theirs.regs[5] & 0xFFFF
            and ours._replace(regs=ours.regs[:5] + ours.regs[6:]) == theirs._replace(regs=theirs.regs[:5] + theirs.regs[6:]))


def _null_segment_access(difference: Difference) -> bool:
    """We raise #GP(0) for an access through a null DS/ES/FS/GS; Unicorn does not
    (and may fault later in the instruction, as LGS loading what it read)."""
    ours, theirs = difference.ours, difference.theirs
    return (ours is not None and theirs is not None and difference.mode != "real"
            and (ours.vector, ours.error) == (13, 0) and (theirs.vector, theirs.error) != (13, 0)
            and any(ours.segs[index] & 0xFFFC == 0 for index in (0, 3, 4, 5)))


#: GDT selectors (RPL clear) of segments a data access may not write: code, read-only data
NOT_WRITABLE = frozenset((SEL_CODE32, SEL_CODE32_R3 & ~3, SEL_CODE16, 0x40))


def _segment_not_writable(difference: Difference) -> bool:
    """We raise #GP(0) for a write through DS/ES/FS/GS holding a code or read-only
    data segment; Unicorn writes."""
    ours, theirs = difference.ours, difference.theirs
    return (ours is not None and theirs is not None and difference.mode != "real"
            and (ours.vector, ours.error) == (13, 0) and theirs.vector != 13
            and any(ours.segs[index] & 0xFFFC in NOT_WRITABLE for index in (0, 3, 4, 5)))


def _enter_final_stack_probe(difference: Difference) -> bool:
    """Only we set A and D in the table entry of the page ENTER's final ESP is in."""
    return any(op[:1] == b"\xC8" for op in difference.opcodes) and all(
        PT0 <= address < PT0 + 0x1000 and ours ^ theirs in (0x40, 0x60) and ours & 0x40
        for address, ours, theirs in difference.memory)


def _cr4_on_486(difference: Difference) -> bool:
    """MOV to or from CR4: we raise #UD on the 80486 model, Unicorn's 486 has CR4."""
    code, ours, theirs = _opcode(difference.code), difference.ours, difference.theirs
    return (ours is not None and theirs is not None and len(code) == 2 and code[0] == 0x0F
            and code[1] in (0x20, 0x22) and ours.vector == 6 and theirs.vector != 6
            and (difference.code[difference.code.index(code) + 2] >> 3) & 7 == 4)


def _rotate_through_carry_on_faulting_store(difference: Difference) -> bool:
    """RCL/RCR of a memory operand whose store faults: only CF and OF differ."""
    code, ours, theirs = _opcode(difference.code), difference.ours, difference.theirs
    if ours is None or theirs is None or not code or code[0] not in (0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3):
        return False
    modrm = difference.code[difference.code.index(code) + 1]
    return (modrm >> 6 != 3 and (modrm >> 3) & 7 in (2, 3) and ours.vector == theirs.vector == 14
            and (ours.eflags ^ theirs.eflags) & ~(CF | OF) == 0
            and ours._replace(eflags=0) == theirs._replace(eflags=0))


KNOWN_DIFFERENCES: Tuple[KnownDifference, ...] = (
    KnownDifference(
        "directory-accessed-on-fault",
        "SDM vol. 3A 4.8: the accessed flag is set in a paging-structure entry the processor "
        "uses for a translation; Bochs (translate_linear_legacy) sets it in the directory entry "
        "only once the translation succeeds, and so do we.  QEMU sets it as soon as it reads "
        "the present directory entry, also when the table entry then makes the access fault",
        _directory_accessed,
        Witness("paged", 3, b"\xA1" + (PAGED_DATA + 0x10).to_bytes(4, "little"), pte0=0x3)),
    KnownDifference(
        "push-segment-dword",
        "SDM vol. 2B PUSH: with a 32-bit operand size a segment register is pushed either "
        "zero-extended or as a 16-bit move that leaves the upper half of the stack slot "
        "unmodified (recent processors, and Bochs: we follow it); QEMU writes the zero-extended dword",
        _push_segment_high_word,
        Witness("pm32", 0, b"\x6A\xFF\x58\x1E")),
    KnownDifference(
        "int-6-as-invalid-opcode",
        "SDM vol. 2A INT n: a software interrupt to vector 6 is delivered with the return "
        "address after the instruction, like any INT n (no #UD: the opcode is valid); "
        "Unicorn reports vector 6 as an invalid instruction and stops at it",
        _int_6_as_invalid_opcode,
        Witness("real", 0, b"\xCD\x06")),
    KnownDifference(
        "cmps-operand-order",
        "SDM vol. 2A CMPS does not order the two reads; Bochs (and we) read DS:ESI first, "
        "QEMU ES:EDI: when both pages fault, CR2 (and the error code) name different operands",
        _cmps_operand_order,
        Witness("paged", 3, b"\xBE" + (PAGED_DATA + 0x10).to_bytes(4, "little") + b"\xBF"
                + (PAGED_DATA + 0x2010).to_bytes(4, "little") + b"\xA7", pde1=0x3)),
    KnownDifference(
        "enter-frame-pointer-16-bit-stack",
        "SDM vol. 2A ENTER: the frame pointer goes to EBP or BP by the stack size; Bochs "
        "(ENTER32_IwIb) and we write all of EBP with a 32-bit operand also on a 16-bit stack, "
        "QEMU only BP",
        _enter_frame_pointer,
        Witness("real", 0, b"\x66\xC8\x10\x00\x01", esp=0x12348000)),
    KnownDifference(
        "null-segment-access",
        "SDM vol. 3A 5.4.1: a memory access through a segment register holding a null selector "
        "raises #GP(0); QEMU does not check it (nor segment limits and rights, which the fuzzer "
        "therefore keeps flat: those are covered by test386 and the SingleStepTests vectors)",
        _null_segment_access,
        Witness("pm32", 0, b"\x6A\x00\x1F\xA1" + DATA.to_bytes(4, "little"))),
    KnownDifference(
        "rotate-through-carry-flags-on-faulting-store",
        "SDM vol. 3A 6.5: a fault is reported with the state as before the faulting "
        "instruction; Bochs (and we) leave EFLAGS alone when the store of RCL/RCR faults, "
        "QEMU's rotate helper has already written the new CF and OF by then",
        _rotate_through_carry_on_faulting_store,
        Witness("paged", 3, b"\xF9\xC1\x15" + (PAGED_DATA + 0x10).to_bytes(4, "little") + b"\x13",
                pde1=0x5)),
    KnownDifference(
        "enter-final-stack-probe",
        "SDM vol. 2A ENTER: #PF if a write using the final value of the stack pointer would "
        "cause a page fault; Bochs (ENTER32_IwIb: read_RMW_virtual_dword at the new ESP) and "
        "we check it with a write access, which sets that page's accessed and dirty bits; "
        "QEMU does not touch the page",
        _enter_final_stack_probe,
        Witness("paged", 0, b"\xC8\x00\x10\x00")),
    KnownDifference(
        "segment-not-writable",
        "SDM vol. 3A 5.4 (type checking): no instruction may write into a data segment that "
        "is not writable or into a code segment (#GP(0)); QEMU checks the type when the "
        "selector is loaded, not on the access",
        _segment_not_writable,
        Witness("pm32", 0, b"\x6A\x40\x1F\xA3" + DATA.to_bytes(4, "little"))),
    KnownDifference(
        "cr4-on-486",
        "SDM vol. 3A 2.5: CR4 came with the Pentium (and late 486 steppings); on our 80486 "
        "model MOV to or from CR4 is #UD, while QEMU's 486 CPU model has CR4",
        _cr4_on_486,
        Witness("pm32", 0, b"\x0F\x20\xE0", model="80486")),
)


def known_difference(difference: Difference) -> Optional[str]:
    """The name of the known difference that explains this one.  Memory bytes may
    be explained by several (each byte by one)."""
    if not difference.memory:
        return next((known.name for known in KNOWN_DIFFERENCES if known.applies(difference)), None)
    names = []
    for byte in difference.memory:
        single = difference._replace(memory=(byte,))
        name = next((known.name for known in KNOWN_DIFFERENCES if known.applies(single)), None)
        if name is None:
            return None
        names.append(name)
    return names[0]


def compare(ours: Outcome, theirs: Outcome, undefined: int) -> List[str]:
    """What differs between two outcomes of the same step."""
    differences = []
    if ours.vector != theirs.vector:
        differences.append(f"exception {_vector_name(ours.vector)} != {_vector_name(theirs.vector)}")
        return differences
    if ours.vector is not None:
        if ours.error != theirs.error and ours.vector in ERROR_CODE_VECTORS:
            differences.append(f"error code {ours.error} != {theirs.error}")
        if ours.vector == 14 and ours.cr2 != theirs.cr2:
            differences.append(f"cr2 {ours.cr2:#x} != {theirs.cr2:#x}")
    for name, mine, other in zip(NAMES, ours.regs, theirs.regs):
        if mine != other:
            differences.append(f"{name} {mine:#x} != {other:#x}")
    if ours.eip != theirs.eip:
        differences.append(f"eip {ours.eip:#x} != {theirs.eip:#x}")
    for name, mine, other in zip(SEG_NAMES, ours.segs, theirs.segs):
        if mine != other:
            differences.append(f"{name} {mine:#x} != {other:#x}")
    mask = COMPARED_FLAGS & ~undefined
    if (ours.eflags ^ theirs.eflags) & mask:
        differences.append(f"eflags {ours.eflags & mask:#x} != {theirs.eflags & mask:#x} (mask {mask:#x})")
    return differences


def _vector_name(vector: Optional[int]) -> str:
    names = {0: "#DE", 1: "#DB", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
             10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 17: "#AC"}
    return "none" if vector is None else names.get(vector, f"INT {vector:#x}")


class Result(NamedTuple):
    mismatch: Optional[Mismatch]
    steps: int
    known: Optional[str]        # the known difference that ended the case
    vector: Optional[int]       # the exception both raised, if any


class Fuzzer:
    """Runs cases in both CPUs; `run_case` compares them step by step."""

    def __init__(self, model: str = "pentiumpro") -> None:
        self.model = model
        self.ours = OurCPU(model)
        self.calibration = calibrate(model)
        self.theirs = TheirCPU(model, self.calibration)

    def run_case(self, case: Case) -> Result:
        memory = initial_memory(case)
        ours, theirs = self.ours, self.theirs
        ours.start(case, memory)
        theirs.start(case, memory)
        _, offsets = assemble(case.items)
        undefined_at = {offset: item.undefined for offset, item in zip(offsets, case.items)}
        end = offsets[-1]
        start = 0 if case.mode in ("real", "pm16") else CODE
        mine = theirs_out = None
        done = 0                # steps compared
        for step in range(len(case.items) * 2 + 4):
            eip = ours.cpu.eip
            if eip == start + end:
                break
            code = bytes(memory[CODE][eip - start:eip - start + 15]) if 0 <= eip - start < end else b""
            mine = ours.step()
            try:
                theirs_out = theirs.step()
            except Unrunnable as failure:
                return Result(Mismatch(step, str(failure), mine, mine), done, None, None)
            done += 1
            differences = compare(mine, theirs_out, undefined_at.get(eip - start, 0))
            if differences:
                known = known_difference(Difference(case.mode, code, mine, theirs_out,
                                                    program=assemble(case.items)[0]))
                if known is not None:
                    return Result(None, done, known, None)
                return Result(Mismatch(step, "; ".join(differences), mine, theirs_out), done, None, None)
            if (mine.eflags ^ theirs_out.eflags) & COMPARED_FLAGS:
                ours.cpu.set_eflags(theirs_out.eflags)      # undefined flags: continue from Unicorn's
            if mine.vector is not None or mine.halted:
                break
        differing = []
        for address, size in (REAL_COMPARED if reaches_all_memory(case) else COMPARED):
            a, b = ours.memory(address, size), theirs.memory(address, size)
            if a != b:
                differing += [(address + i, a[i], b[i]) for i in range(size) if a[i] != b[i]]
        known = None
        if differing:
            whole, _ = assemble(case.items)
            last = code if mine is not None and mine.vector == 14 else b""
            known = known_difference(Difference(case.mode, whole, None, None, tuple(differing), last,
                                                opcodes=tuple(_opcode(item.code) for item in case.items)))
            if known is None:
                where, x, y = differing[0]
                text = f"memory at {where:#x}: {x:#04x} != {y:#04x} ({len(differing)} bytes differ)"
                return Result(Mismatch(-1, text, mine, theirs_out), done, None, None)  # type: ignore[arg-type]
        return Result(None, done, known, mine.vector if mine else None)

    def minimise(self, case: Case) -> Case:
        """Drop instructions, zero registers and memory while the case still fails
        the same way (the same kind of difference)."""
        original = self.run_case(case).mismatch
        if original is None:
            return case
        kind = original.text.split(" ")[0]

        def fails(candidate: Case) -> bool:
            mismatch = self.run_case(candidate).mismatch
            return mismatch is not None and mismatch.text.split(" ")[0] == kind
        changed = True
        while changed:
            changed = False
            for index in range(len(case.items)):
                candidate = case._replace(items=case.items[:index] + case.items[index + 1:])
                if candidate.items and fails(candidate):
                    case, changed = candidate, True
                    break
        for index in range(8):
            if index != 4 and case.regs[index]:
                candidate = case._replace(regs=case.regs[:index] + (0,) + case.regs[index + 1:])
                if fails(candidate):
                    case = candidate
        if case.memory_seed is not None and fails(case._replace(memory_seed=None)):
            case = case._replace(memory_seed=None)
        return case


def describe(case: Case, result: Result) -> str:
    """A readable reproduction: bytes, disassembly, initial state, the difference."""
    code, offsets = assemble(case.items)
    bits = 16 if case.mode in ("real", "pm16") else 32
    lines = [f"mode {case.mode} cpl {case.cpl}"
             + (f" pde1 {case.pde1:#x} ptes {','.join(f'{p:x}' for p in case.ptes)} wp {int(case.wp)}"
                if case.mode == "paged" else ""),
             "code " + code.hex(" ")]
    try:
        import capstone
        engine = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16 if bits == 16 else capstone.CS_MODE_32)
        for insn in engine.disasm(code, 0):
            lines.append(f"  {insn.address:04x}  {insn.bytes.hex():<24} {insn.mnemonic} {insn.op_str}")
    except ImportError:
        pass
    lines.append("registers " + " ".join(f"{n}={v:08x}" for n, v in zip(NAMES, case.regs))
                 + f" eflags={case.eflags:08x}")
    lines.append("memory " + ("zeros" if case.memory_seed is None else f"random (seed {case.memory_seed})"))
    if result.mismatch is not None:
        where = "at the end" if result.mismatch.step < 0 else f"at step {result.mismatch.step + 1}"
        lines.append(f"ours != unicorn {where}: {result.mismatch.text}")
    return "\n".join(lines)


class Summary(NamedTuple):
    passed: int
    failed: int
    steps: int
    faults: Dict[str, int]
    known: Dict[str, int]
    failures: List[Tuple[int, str, Case, Result]]


def fuzz(seed: int, count: int, modes: Tuple[str, ...] = MODES, model: str = "pentiumpro",
         first: int = 0, fuzzer: Optional[Fuzzer] = None) -> Summary:
    """Run `count` cases per mode; failures are kept unminimised (see `minimise`)."""
    fuzzer = fuzzer or Fuzzer(model)
    passed = failed = steps = 0
    faults: Dict[str, int] = {}
    known: Dict[str, int] = {}
    failures = []
    for mode in modes:
        for index in range(first, first + count):
            case = make_case(seed, index, mode)
            result = fuzzer.run_case(case)
            steps += result.steps
            if result.mismatch is not None:
                failed += 1
                failures.append((index, mode, case, result))
                continue
            passed += 1
            if result.known:
                known[result.known] = known.get(result.known, 0) + 1
            if result.vector is not None:
                name = _vector_name(result.vector)
                faults[name] = faults.get(name, 0) + 1
    return Summary(passed, failed, steps, faults, known, failures)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="machine fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--count", type=int, default=1000, help="cases per mode (default 1000)")
    parser.add_argument("--mode", default="all", choices=MODES + ("all",), help="CPU mode (default all)")
    parser.add_argument("--model", default="pentiumpro", choices=sorted(MODELS), help="CPU model")
    parser.add_argument("--case", type=int, help="run only this case number (from a failure report)")
    parser.add_argument("--show", type=int, default=3, help="failures minimised and printed (default 3)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0) and 2
    try:
        import unicorn  # noqa: F401
    except ImportError:
        print("machine fuzz: Unicorn is not installed (python3 -m pip install unicorn); "
              "it is the reference CPU", file=sys.stderr)
        return 2
    if args.count < 1:
        print("machine fuzz: --count must be at least 1", file=sys.stderr)
        return 2
    modes = MODES if args.mode == "all" else (args.mode,)
    started = time.monotonic()
    fuzzer = Fuzzer(args.model)
    first, count = (args.case, 1) if args.case is not None else (0, args.count)
    summary = fuzz(args.seed, count, modes, args.model, first, fuzzer)
    for index, mode, case, result in summary.failures[:args.show]:
        small = fuzzer.minimise(case)
        print(f"FAIL case {index} ({mode}), rerun: machine fuzz --seed {args.seed} --mode {mode} "
              f"--model {args.model} --case {index}")
        print("  " + describe(small, fuzzer.run_case(small)).replace("\n", "\n  "))
    faults = ", ".join(f"{name} {n}" for name, n in sorted(summary.faults.items()))
    print(f"{summary.passed} passed, {summary.failed} failed ({summary.steps} instructions compared; "
          f"both raised: {faults or 'none'}) in {time.monotonic() - started:.1f} s")
    for name, n in sorted(summary.known.items()):
        print(f"  known Unicorn difference {name!r}: {n} cases ended there")
    return 1 if summary.failed else 0
