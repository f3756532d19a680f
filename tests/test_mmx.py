"""MMX and FXSAVE/FXRSTOR on the pentium2 model (SDM vol. 1 ch. 9, vol. 2).

A differential test runs every MMX instruction form (register and memory
sources, immediate shifts, MOVD/MOVQ both ways) on random operands in unicorn
(QEMU's MMX) and in our CPU, and compares the result, the x87 tag word and TOP
after the instruction (empty or not) and the registers as FNSAVE stores them.
Unicorn leaves bits 79:64 of a register an MMX instruction writes alone (so its
FNSAVE tags can say zero or special where ours say special); the SDM (vol. 1,
9.5.1) sets them to all ones, which is checked on our side.  Fixed seed and a few cases per form by default, many more
under `-m slow`.  The unit tests check the exceptions (#UD with CR0.EM, #NM with
CR0.TS, #MF for a pending x87 exception), EMMS and the FXSAVE layout."""

import os
import random
import struct
from typing import Any, List, Optional, Tuple

import pytest

from pcmachine.plugins.cpu.ops_mmx import BINARY, IMMEDIATE_SHIFTS

import cpu_support
from cpu_support import boot_sector_guest_lines, first_problems, load_flat, make_machine, run_code

CODE = 0x30000
DATA = 0x1000
A_AT, B_AT, OUT_AT, SAVE_AT = DATA, DATA + 0x10, DATA + 0x20, DATA + 0x40
DATA_SIZE = 0x40 + 108


def modrm_abs(opcode: bytes, reg: int, address: int) -> bytes:
    return opcode + bytes([(reg << 3) | 5]) + address.to_bytes(4, "little")


def interesting(rng: random.Random) -> int:
    """64-bit operands with lanes at the saturation and sign boundaries."""
    if rng.random() < 0.5:
        return rng.randrange(1 << 64)
    width = rng.choice((8, 16, 32))
    values = (0, 1, (1 << (width - 1)) - 1, 1 << (width - 1), (1 << width) - 1,
              (1 << (width - 1)) + 1, rng.randrange(1 << width))
    return sum(rng.choice(values) << shift for shift in range(0, 64, width))


def forms() -> List[Tuple[str, Any]]:
    """(name, builder(rng) -> (instruction bytes, uses_b)) for every MMX form."""
    result = []
    for op in sorted(BINARY):
        result.append((f"0f{op:02x}_reg", lambda rng, op=op: bytes([0x0F, op, 0xC1])))
        result.append((f"0f{op:02x}_mem", lambda rng, op=op: modrm_abs(bytes([0x0F, op]), 0, B_AT)))
    for op, kinds in sorted(IMMEDIATE_SHIFTS.items()):
        for reg in kinds:
            result.append((f"0f{op:02x}/{reg}", lambda rng, op=op, reg=reg: bytes(
                [0x0F, op, 0xC0 | (reg << 3), rng.choice((0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 200,
                                                          rng.randrange(256)))])))
    result.append(("movd_mm_r32", lambda rng: bytes([0x0F, 0x6E, 0xC3])))      # movd mm0, ebx
    result.append(("movd_mm_m32", lambda rng: modrm_abs(b"\x0F\x6E", 0, B_AT)))
    result.append(("movd_r32_mm", lambda rng: bytes([0x0F, 0x7E, 0xCB, 0x0F, 0x6E, 0xC3])))
    result.append(("movd_m32_mm", lambda rng: modrm_abs(b"\x0F\x7E", 1, B_AT) + modrm_abs(b"\x0F\x6F", 0, B_AT)))
    result.append(("movq_mm_mm", lambda rng: bytes([0x0F, 0x6F, 0xC1])))
    result.append(("movq_mm_mm_7f", lambda rng: bytes([0x0F, 0x7F, 0xC8])))
    result.append(("movq_m64_mm", lambda rng: modrm_abs(b"\x0F\x7F", 1, B_AT) + modrm_abs(b"\x0F\x6F", 0, B_AT)))
    return result


FORMS = forms()


class MmxDiffer:
    def __init__(self, seed: int) -> None:
        unicorn = pytest.importorskip("unicorn")
        self.ucx = pytest.importorskip("unicorn.x86_const")
        self.rng = random.Random(seed)
        self.machine = make_machine("pentium2", fpu=True)
        self.cpu = self.machine.cpu
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_32)
        self.uc.mem_map(0, 0x100000)

    def program(self, op: bytes) -> bytes:
        """FNINIT; MOVQ mm0, [A]; MOVQ mm1, [B]; MOV EBX, [B]; op; MOVQ [OUT], mm0;
        MOVD [OUT+8], mm1; FNSAVE [SAVE]; HLT"""
        return (b"\xDB\xE3" + modrm_abs(b"\x0F\x6F", 0, A_AT) + modrm_abs(b"\x0F\x6F", 1, B_AT)
                + modrm_abs(b"\x8B", 3, B_AT) + op + modrm_abs(b"\x0F\x7F", 0, OUT_AT)
                + modrm_abs(b"\x0F\x7F", 1, OUT_AT + 8) + modrm_abs(b"\x89", 3, OUT_AT + 16)
                + modrm_abs(b"\xDD", 6, SAVE_AT) + b"\xF4")

    def run_ours(self, code: bytes, data: bytes) -> bytes:
        machine, cpu = self.machine, self.cpu
        load_flat(machine, code, CODE, data, DATA)
        cpu.set_reg("eip", CODE)
        cpu.rebuild()
        cpu.halted = False
        machine.clock.stop_icount = machine.clock.icount + 20
        cpu.run()
        return bytes(machine.bus.memory[DATA:DATA + len(data)])

    def run_unicorn(self, code: bytes, data: bytes) -> bytes:
        uc, ucx = self.uc, self.ucx
        uc.mem_write(DATA, data)
        uc.mem_write(CODE, code)
        uc.ctl_remove_cache(CODE, CODE + 0x100)
        uc.emu_start(CODE, CODE + len(code) - 1)
        return bytes(uc.mem_read(DATA, len(data)))

    def case(self, name: str, build: Any) -> Optional[str]:
        rng = self.rng
        a, b = interesting(rng), interesting(rng)
        data = bytearray(DATA_SIZE)
        struct.pack_into("<QQ", data, 0, a, 0)
        struct.pack_into("<QQ", data, 0x10, b, 0)
        code = self.program(build(rng))
        expected = self.run_unicorn(code, bytes(data))
        actual = self.run_ours(code, bytes(data))
        problems = []
        for label, at, size in (("mm0", OUT_AT, 8), ("mm1", OUT_AT + 8, 8), ("ebx", OUT_AT + 16, 4),
                                ("sw", SAVE_AT + 4, 2)):
            e, g = expected[at - DATA:at - DATA + size], actual[at - DATA:at - DATA + size]
            if e != g:
                problems.append(f"{label} {e[::-1].hex()} != {g[::-1].hex()}")
        e_tags, g_tags = (struct.unpack_from("<H", blob, SAVE_AT + 8 - DATA)[0] for blob in (expected, actual))
        if [(e_tags >> (2 * i)) & 3 == 3 for i in range(8)] != [(g_tags >> (2 * i)) & 3 == 3 for i in range(8)]:
            problems.append(f"empty tags {e_tags:#06x} != {g_tags:#06x}")
        for i in range(8):      # the registers as FNSAVE stores them (ST(i) = Ri, TOP = 0)
            at = SAVE_AT + 28 + 10 * i - DATA
            e, g = expected[at:at + 8], actual[at:at + 8]
            if e != g:
                problems.append(f"R{i} {e[::-1].hex()} != {g[::-1].hex()}")
            # bits 79:64 of a register an MMX instruction wrote are all ones (SDM vol. 1,
            # 9.5.1); unicorn leaves them as they were
            if i < 2 and actual[at + 8:at + 10] != b"\xFF\xFF":
                problems.append(f"R{i} bits 79:64 {actual[at + 8:at + 10][::-1].hex()}")
        if problems:
            return f"{name} code={code.hex()} a={a:016x} b={b:016x}: " + "; ".join(problems)
        return None


def differ_run(count: int, seed: int) -> None:
    failures = first_problems(FORMS, count, MmxDiffer(seed).case)
    assert not failures, "\n".join(failures[:20])


def test_mmx_against_unicorn() -> None:
    differ_run(12, 1997)


@pytest.mark.slow
def test_mmx_against_unicorn_many() -> None:
    differ_run(600, 1998)


# ---------------------------------------------------------------- unit tests
def vector_of(source: str, model: str = "pentium2", tail: str = "") -> Tuple[int, Any]:
    return cpu_support.vector_of(source, model, tail)


CR0_SET = "mov eax, cr0\nor eax, {}\nmov cr0, eax\n"


@pytest.mark.parametrize("model, cr0, code, vector", [
    ("pentiumpro", 0, "paddb mm0, mm1", 6),               # no MMX
    ("pentiumpro", 0, "fxsave [0x2000]", 6),
    ("pentium2", 0, "paddb mm0, mm1", 0xEEEE),
    ("pentium2", 4, "paddb mm0, mm1", 6),                 # CR0.EM: #UD
    ("pentium2", 8, "paddb mm0, mm1", 7),                 # CR0.TS: #NM
    ("pentium2", 12, "emms", 6),
    ("pentium2", 8, "emms", 7),
    ("pentium2", 4, "fxsave [0x2000]", 7),                # FXSAVE: #NM for EM too
    ("pentium2", 8, "fxrstor [0x2000]", 7),
    ("pentium2", 0, "fxsave [0x2008]", 13),               # not 16-byte aligned
    ("pentium2", 0, "db 0x0F, 0xAE, 0xC0", 6),           # register form
    ("pentium2", 0, "db 0x0F, 0xAE, 0x16\ndw 0x2000", 6),  # LDMXCSR: SSE
    ("pentium2", 0, "pshufw mm0, mm1, 0", 6),             # SSE integer additions
    ("pentium2", 0, "pminub mm0, mm1", 6),
    ("pentium2", 0, "db 0x0F, 0x71, 0xC8, 1", 6),         # 0F 71 /1
    ("pentium2", 0, "db 0x0F, 0x71, 0x10, 1", 6),         # shift by immediate: register only
    ("pentium2", 0, "db 0x0F, 0x73, 0xE0, 1", 6),         # no PSRAQ
    ("pentium2", 0, "movq mm0, [0xFFFC]", 13),            # past the DS limit
    ("pentium2", 0, "mov eax, 0x200\nmov cr4, eax", 0xEEEE),   # CR4.OSFXSR
])
def test_mmx_and_fxsave_exceptions(model: str, cr0: int, code: str, vector: int) -> None:
    source = (CR0_SET.format(cr0) if cr0 else "") + code
    assert vector_of(source, model)[0] == vector


def test_pending_x87_exception_raises_mf_at_an_mmx_instruction() -> None:
    source = (CR0_SET.format(0x20) + "fninit\nmov word [0x600], 0x037B\nfldcw [0x600]\n"
              "fld1\nfldz\nfdivp st1, st0\npaddb mm0, mm1")        # ZE unmasked
    assert vector_of(source)[0] == 16


def test_mmx_instructions_set_top_zero_tags_valid_and_the_exponent() -> None:
    dx, machine = vector_of("fninit\nfld1\nmov eax, 0x89ABCDEF\nmovd mm2, eax\nmovd ebx, mm2")
    assert dx == 0xEEEE
    state = machine.cpu.fpu.state
    assert state.top == 0 and state.empty == [False] * 8
    assert state.regs[2] == (0xFFFF << 64) | 0x89ABCDEF
    assert state.regs[7] == 0x3FFF8000000000000000              # FLD1's register: untouched
    assert machine.cpu.get_reg("ebx") == 0x89ABCDEF


def test_a_faulting_mmx_instruction_leaves_the_x87_alone() -> None:
    dx, machine = vector_of("fninit\nfld1\nmovq mm0, [0xFFFC]")
    assert dx == 13 and machine.cpu.fpu.state.top == 7 and machine.cpu.fpu.state.empty[0]


def test_emms_empties_every_tag() -> None:
    dx, machine = vector_of("paddb mm0, mm1\nemms\nfnstenv [0x600]\nmov ax, [0x604]")
    assert dx == 0xEEEE and machine.cpu.get_reg("ax") == 0xFFFF
    assert machine.cpu.fpu.state.empty == [True] * 8


FXSAVE_SOURCE = """
    mov di, 0x2000
    mov cx, 256
    mov ax, 0xAAAA
    push ds
    pop es
    cld
    rep stosw
    fninit
    mov word [0x600], 0x027F
    fldcw [0x600]
    fld1
fldpi_at:
    fldpi
    fxsave [0x2000]
"""


def test_fxsave_layout() -> None:
    dx, machine = vector_of(FXSAVE_SOURCE)
    assert dx == 0xEEEE
    area = bytes(machine.bus.memory[0x2000:0x2200])
    fcw, fsw, tags, fop, fip, fcs, fdp, fds = struct.unpack_from("<HHBxHIHxxIHxx", area)
    assert (fcw, fsw, tags, fop) == (0x027F, 6 << 11, 0xC0, 0x1EB)   # TOP 6, R6 R7 in use
    assert fcs == 0 and fip == 0x7C00 + fip_offset()
    st0, st1 = (int.from_bytes(area[32 + 16 * i:32 + 16 * i + 10], "little") for i in (0, 1))
    assert st0 == 0x4000C90FDAA22168C235 and st1 == 0x3FFF8000000000000000
    assert all(area[32 + 16 * i + 10:32 + 16 * i + 16] == bytes(6) for i in range(8))
    assert area[24:32] == b"\xAA" * 8 and area[160:] == b"\xAA" * 352    # no MXCSR, no XMM


def fip_offset() -> int:
    """Where FLDPI lands in FXSAVE_SOURCE (after vector_of's prologue)."""
    from cpu_support import assemble
    setup = "\n".join(f"mov word [{v * 4}], v{v}\nmov word [{v * 4 + 2}], 0" for v in range(32))
    stubs = "\n".join(f"v{v}: mov dx, {v}\nhlt" for v in range(32))
    code = assemble(f"xor ax, ax\nmov ds, ax\nmov dx, 0xFFFF\n{setup}\n{FXSAVE_SOURCE}\n"
                    f"mov dx, 0xEEEE\nhlt\n{stubs}\ndw fldpi_at")
    return int.from_bytes(code[-2:], "little") - 0x7C00


def test_fxrstor_loads_what_fxsave_stored() -> None:
    source = FXSAVE_SOURCE + """
    mov word [0x2000], 0x0C7F          ; FCW: round toward zero
    mov byte [0x2004], 0x40            ; only R6 in use
    mov word [0x2002], 0x3000          ; TOP 6
    fninit
    fxrstor [0x2000]
    fnstcw [0x600]
    fnstenv [0x610]
"""
    dx, machine = vector_of(source)
    assert dx == 0xEEEE
    memory = machine.bus.memory
    assert memory[0x600:0x602] == b"\x7F\x0C"
    state = machine.cpu.fpu.state
    assert state.top == 6 and state.empty == [True] * 6 + [False, True]
    assert state.regs[6] == 0x4000C90FDAA22168C235 and state.regs[7] == 0x3FFF8000000000000000
    assert struct.unpack_from("<H", memory, 0x614)[0] == 0xCFFF      # 16-bit layout: R6 valid


def test_cpuid_of_the_pentium2() -> None:
    machine = run_code("mov eax, 1\ncpuid\nmov esi, eax\nmov edi, edx\nmov eax, 2\ncpuid\nhlt",
                       "pentium2", fpu=True)
    cpu = machine.cpu
    assert cpu.get_reg("esi") == 0x0652
    features = cpu.get_reg("edi")
    mmx, fxsr, pat, pse36, pae, cmov = (1 << b for b in (23, 24, 16, 17, 6, 15))
    assert features & (mmx | fxsr | pat | pse36 | pae | cmov) == mmx | fxsr | pat | pse36 | pae | cmov
    assert not features & (1 << 25)                                   # no SSE
    assert tuple(cpu.get_reg(r) for r in ("eax", "ebx", "ecx", "edx")) == (0x03020101, 0, 0, 0x0C040843)


# ---------------------------------------------------------------- the QEMU guest
GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "mmx")


def test_mmx_guest_matches_qemu(tmp_path: Any) -> None:
    """tests/guests/mmx: every MMX instruction on three operand pairs, the x87 state
    after MMX code and EMMS, and an FXSAVE image, against QEMU 7.2 -cpu pentium2.
    Two documented differences, both where QEMU departs from the SDM: QEMU's FXSAVE
    stores FOP and FIP as zero (it does not keep them), and QEMU leaves bits 79:64
    of a register an MMX instruction wrote as they were (SDM vol. 1 9.5.1: all ones)."""
    ours, qemu = boot_sector_guest_lines(GUEST, "mmx.bin", "pentium2", tmp_path)
    assert len(ours) == len(qemu) and ours[-1] == "done"
    header = len(qemu) - 11                     # the FXSAVE image's first 16 bytes
    for index, (mine, theirs) in enumerate(zip(ours, qemu)):
        if index == header:
            assert mine[:12] == theirs[:12] and mine[24:] == theirs[24:]
            assert mine[12:16] == "EB01" and theirs[12:24] == "0" * 12     # FOP of FLDPI, FIP
        elif mine != theirs:
            assert mine[:16] == theirs[:16] and mine[16:20] == "FFFF" and theirs[16:20] == "0000"
