"""Instruction names for listings, from the decoder's fields (`decode_listing`).

The names follow the Intel SDM with the operand-size suffixes capstone and the
GNU tools print for the implicit-operand forms (pushaw/pushal, iret/iretd,
movsb/movsw/movsd ...), so traces read like the usual disassemblers and
tests/test_cpu_decoder_capstone.py can compare the decoder with capstone.
"""

from typing import Optional

from .decoder import Decoder, decode_listing
from .ops_sse2 import FORMS, mandatory_prefix

ALU = ("add", "or", "adc", "sbb", "and", "sub", "xor", "cmp")
SHIFTS = ("rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar")
CONDITIONS = ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge",
              "le", "g")
GROUP3 = ("test", "test", "not", "neg", "mul", "imul", "div", "idiv")
GROUP45 = ("inc", "dec", "call", "lcall", "jmp", "ljmp", "push", None)
GROUP6 = ("sldt", "str", "lldt", "ltr", "verr", "verw")
GROUP7 = ("sgdt", "sidt", "lgdt", "lidt", "smsw", None, "lmsw", "invlpg")
BIT_OPS = {0xA3: "bt", 0xAB: "bts", 0xB3: "btr", 0xBB: "btc"}
STRINGS = {0xA4: "movs", 0xA6: "cmps", 0xAA: "stos", 0xAC: "lods", 0xAE: "scas",
           0x6C: "ins", 0x6E: "outs"}
FIXED = {
    0x06: "push", 0x07: "pop", 0x0E: "push", 0x16: "push", 0x17: "pop", 0x1E: "push",
    0x1F: "pop", 0x27: "daa", 0x2F: "das", 0x37: "aaa", 0x3F: "aas", 0x62: "bound",
    0x63: "arpl", 0x68: "push", 0x69: "imul", 0x6A: "push", 0x6B: "imul", 0x84: "test",
    0x85: "test", 0x86: "xchg", 0x87: "xchg", 0x88: "mov", 0x89: "mov", 0x8A: "mov",
    0x8B: "mov", 0x8C: "mov", 0x8D: "lea", 0x8E: "mov", 0x8F: "pop", 0x9A: "lcall",
    0x9B: "wait", 0x9E: "sahf", 0x9F: "lahf", 0xA0: "mov", 0xA1: "mov", 0xA2: "mov",
    0xA3: "mov", 0xA8: "test", 0xA9: "test", 0xC2: "ret", 0xC3: "ret", 0xC4: "les",
    0xC5: "lds", 0xC6: "mov", 0xC7: "mov", 0xC8: "enter", 0xC9: "leave", 0xCA: "retf",
    0xCB: "retf", 0xCC: "int3", 0xCD: "int", 0xCE: "into", 0xD4: "aam", 0xD5: "aad",
    0xD6: "salc", 0xD7: "xlatb", 0xE0: "loopne", 0xE1: "loope", 0xE2: "loop", 0xE4: "in",
    0xE5: "in", 0xE6: "out", 0xE7: "out", 0xE8: "call", 0xE9: "jmp", 0xEA: "ljmp",
    0xEB: "jmp", 0xEC: "in", 0xED: "in", 0xEE: "out", 0xEF: "out", 0xF1: "int1",
    0xF4: "hlt", 0xF5: "cmc", 0xF8: "clc", 0xF9: "stc", 0xFA: "cli", 0xFB: "sti",
    0xFC: "cld", 0xFD: "std",
    0x102: "lar", 0x103: "lsl", 0x106: "clts", 0x108: "invd", 0x109: "wbinvd",
    0x10B: "ud2", 0x120: "mov", 0x121: "mov", 0x122: "mov", 0x123: "mov", 0x130: "wrmsr", 0x131: "rdtsc", 0x132: "rdmsr", 0x133: "rdpmc", 0x134: "sysenter",
    0x135: "sysexit",
    0x1A0: "push", 0x1A1: "pop", 0x1A2: "cpuid", 0x1A4: "shld", 0x1A5: "shld",
    0x1A8: "push", 0x1A9: "pop", 0x1AC: "shrd", 0x1AD: "shrd", 0x1AF: "imul",
    0x1B0: "cmpxchg", 0x1B1: "cmpxchg", 0x1B2: "lss", 0x1B4: "lfs", 0x1B5: "lgs",
    0x1B6: "movzx", 0x1B7: "movzx", 0x1BC: "bsf", 0x1BD: "bsr", 0x1BE: "movsx",
    0x1BF: "movsx", 0x1C0: "xadd", 0x1C1: "xadd", 0x1C7: "cmpxchg8b",
    # MMX (pentium2)
    0x160: "punpcklbw", 0x161: "punpcklwd", 0x162: "punpckldq", 0x163: "packsswb",
    0x164: "pcmpgtb", 0x165: "pcmpgtw", 0x166: "pcmpgtd", 0x167: "packuswb",
    0x168: "punpckhbw", 0x169: "punpckhwd", 0x16A: "punpckhdq", 0x16B: "packssdw",
    0x16E: "movd", 0x16F: "movq", 0x174: "pcmpeqb", 0x175: "pcmpeqw", 0x176: "pcmpeqd",
    0x177: "emms", 0x17E: "movd", 0x17F: "movq", 0x1D1: "psrlw", 0x1D2: "psrld",
    0x1D3: "psrlq", 0x1D5: "pmullw", 0x1D8: "psubusb", 0x1D9: "psubusw", 0x1DB: "pand",
    0x1DC: "paddusb", 0x1DD: "paddusw", 0x1DF: "pandn", 0x1E1: "psraw", 0x1E2: "psrad",
    0x1E5: "pmulhw", 0x1E8: "psubsb", 0x1E9: "psubsw", 0x1EB: "por", 0x1EC: "paddsb",
    0x1ED: "paddsw", 0x1EF: "pxor", 0x1F1: "psllw", 0x1F2: "pslld", 0x1F3: "psllq",
    0x1F5: "pmaddwd", 0x1F8: "psubb", 0x1F9: "psubw", 0x1FA: "psubd", 0x1FC: "paddb",
    0x1FD: "paddw", 0x1FE: "paddd",
}
#: SSE (pentium3): 0F xx without prefix, and the F3 (scalar) forms
SSE = {
    0x110: "movups", 0x111: "movups", 0x114: "unpcklps", 0x115: "unpckhps", 0x12A: "cvtpi2ps",
    0x128: "movaps", 0x129: "movaps", 0x12B: "movntps", 0x12C: "cvttps2pi", 0x12D: "cvtps2pi",
    0x12E: "ucomiss", 0x12F: "comiss", 0x150: "movmskps", 0x151: "sqrtps", 0x152: "rsqrtps",
    0x153: "rcpps", 0x154: "andps", 0x155: "andnps", 0x156: "orps", 0x157: "xorps",
    0x158: "addps", 0x159: "mulps", 0x15C: "subps", 0x15D: "minps", 0x15E: "divps",
    0x15F: "maxps", 0x1C2: "cmpps", 0x1C6: "shufps", 0x170: "pshufw", 0x1C4: "pinsrw",
    0x1C5: "pextrw", 0x1D7: "pmovmskb", 0x1DA: "pminub", 0x1DE: "pmaxub", 0x1E0: "pavgb",
    0x1E3: "pavgw", 0x1E4: "pmulhuw", 0x1E7: "movntq", 0x1EA: "pminsw", 0x1EE: "pmaxsw",
    0x1F6: "psadbw", 0x1F7: "maskmovq",
}
SSE_SCALAR = {
    0x110: "movss", 0x111: "movss", 0x12A: "cvtsi2ss", 0x12C: "cvttss2si", 0x12D: "cvtss2si",
    0x151: "sqrtss", 0x152: "rsqrtss", 0x153: "rcpss", 0x158: "addss", 0x159: "mulss",
    0x15C: "subss", 0x15D: "minss", 0x15E: "divss", 0x15F: "maxss", 0x1C2: "cmpss",
}
#: SSE2 (pentium4) by mandatory prefix; a 66 form not named here is the MMX name
SSE2 = {
    0: {0x15A: "cvtps2pd", 0x15B: "cvtdq2ps", 0x1C3: "movnti", 0x1D4: "paddq", 0x1F4: "pmuludq",
        0x1FB: "psubq"},
    0x66: {
        0x110: "movupd", 0x111: "movupd", 0x112: "movlpd", 0x113: "movlpd", 0x114: "unpcklpd",
        0x115: "unpckhpd", 0x116: "movhpd", 0x117: "movhpd", 0x128: "movapd", 0x129: "movapd",
        0x12A: "cvtpi2pd", 0x12B: "movntpd", 0x12C: "cvttpd2pi", 0x12D: "cvtpd2pi", 0x12E: "ucomisd",
        0x12F: "comisd", 0x150: "movmskpd", 0x151: "sqrtpd", 0x154: "andpd", 0x155: "andnpd",
        0x156: "orpd", 0x157: "xorpd", 0x158: "addpd", 0x159: "mulpd", 0x15A: "cvtpd2ps",
        0x15B: "cvtps2dq", 0x15C: "subpd", 0x15D: "minpd", 0x15E: "divpd", 0x15F: "maxpd",
        0x16C: "punpcklqdq", 0x16D: "punpckhqdq", 0x16F: "movdqa", 0x170: "pshufd", 0x17F: "movdqa",
        0x1C2: "cmppd", 0x1C6: "shufpd", 0x1D4: "paddq", 0x1D6: "movq", 0x1E6: "cvttpd2dq",
        0x1E7: "movntdq", 0x1F4: "pmuludq", 0x1F7: "maskmovdqu", 0x1FB: "psubq",
    },
    0xF2: {0x110: "movsd", 0x111: "movsd", 0x12A: "cvtsi2sd", 0x12C: "cvttsd2si", 0x12D: "cvtsd2si",
           0x151: "sqrtsd", 0x158: "addsd", 0x159: "mulsd", 0x15A: "cvtsd2ss", 0x15C: "subsd",
           0x15D: "minsd", 0x15E: "divsd", 0x15F: "maxsd", 0x170: "pshuflw", 0x1C2: "cmpsd",
           0x1D6: "movdq2q", 0x1E6: "cvtpd2dq"},
    0xF3: {0x15A: "cvtss2sd", 0x15B: "cvttps2dq", 0x16F: "movdqu", 0x170: "pshufhw", 0x17E: "movq",
           0x17F: "movdqu", 0x1D6: "movq2dq", 0x1E6: "cvtdq2pd"},
}
#: 0F 71/72/73 ib by ModRM reg
MMX_SHIFTS = {(0x171, 2): "psrlw", (0x171, 4): "psraw", (0x171, 6): "psllw", (0x172, 2): "psrld",
              (0x172, 4): "psrad", (0x172, 6): "pslld", (0x173, 2): "psrlq", (0x173, 6): "psllq",
              (0x173, 3): "psrldq", (0x173, 7): "pslldq"}


def sse2_mnemonic(d: Decoder) -> Optional[str]:
    """The name of an SSE2 form (`ops_sse2.FORMS`), or None for the other instructions."""
    op = d.opcode
    prefix = mandatory_prefix(d)
    if (prefix, op & 0xFF) not in FORMS:
        return None
    if op == 0x1AE:
        if d.mod == 3:
            return ("lfence", "mfence", "sfence")[d.reg - 5] if d.reg >= 5 else None
        return "clflush" if d.reg == 7 else None
    if op in (0x171, 0x172, 0x173):
        return MMX_SHIFTS[op, d.reg]
    return SSE2[prefix].get(op) or FIXED.get(op) or SSE[op]


def mnemonic_of(d: Decoder) -> str:
    """The mnemonic of a decoded instruction (prefix words such as rep/lock are
    not included)."""
    op, reg, wide = d.opcode, d.reg, d.opsize == 4
    if op < 0x40 and op & 7 < 6:
        return ALU[op >> 3]
    if 0x40 <= op < 0x60:
        return ("inc", "dec", "push", "pop")[(op - 0x40) >> 3]
    if op in (0x60, 0x61):
        return ("pusha", "popa")[op & 1] + ("l" if wide else "w")
    if 0x70 <= op < 0x80:
        return "j" + CONDITIONS[op & 0xF]
    if 0x80 <= op <= 0x83:
        return ALU[reg]
    if op == 0x90:
        return "pause" if d.rep == 0xF3 else "nop"
    if op > 0x100 and d.cpu.model.sse2:
        name = sse2_mnemonic(d)
        if name:
            return name
    if 0x91 <= op <= 0x97:
        return "xchg"
    if op in (0x98, 0x99):
        return (("cbw", "cwde"), ("cwd", "cdq"))[op & 1][wide]
    if op in (0x9C, 0x9D):
        return ("pushf", "popf")[op & 1] + ("d" if wide else "")
    if op == 0xCF:
        return "iretd" if wide else "iret"
    if op & ~1 in STRINGS:
        return STRINGS[op & ~1] + ("b" if op & 1 == 0 else ("d" if wide else "w"))
    if 0xB0 <= op < 0xC0:
        return "mov"
    if op in (0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3):
        return SHIFTS[reg]
    if op == 0xE3:
        return "jecxz" if d.adsize == 4 else "jcxz"
    if op in (0xF6, 0xF7):
        return GROUP3[reg]
    if op in (0xFE, 0xFF):
        return GROUP45[reg] or "(bad)"
    if 0xD8 <= op <= 0xDF:
        return "esc"
    if op == 0x100:
        return GROUP6[reg] if reg < 6 else "(bad)"
    if op == 0x101:
        return GROUP7[reg] or "(bad)"
    if 0x180 <= op < 0x190:
        return "j" + CONDITIONS[op & 0xF]
    if 0x190 <= op < 0x1A0:
        return "set" + CONDITIONS[op & 0xF]
    if 0x140 <= op < 0x150:
        return "cmov" + CONDITIONS[op & 0xF]
    if op in (0x1A3, 0x1AB, 0x1B3, 0x1BB):
        return BIT_OPS[op & 0xFF]
    if op == 0x1BA:
        return ("bt", "bts", "btr", "btc")[reg - 4]
    if 0x1C8 <= op < 0x1D0:
        return "bswap"
    if 0x118 <= op < 0x120:
        if op == 0x118 and d.mod != 3 and reg < 4:
            return ("prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2")[reg]
        return "nop"
    if op in (0x171, 0x172, 0x173):
        return MMX_SHIFTS.get((op, reg), "(bad)")
    if op == 0x1AE:
        if d.mod == 3:
            return "sfence" if reg == 7 else "(bad)"
        return ("fxsave", "fxrstor", "ldmxcsr", "stmxcsr")[reg] if reg < 4 else "(bad)"
    if op in (0x112, 0x113, 0x116, 0x117):
        high = op >= 0x116
        if d.mod == 3:
            return "movlhps" if high else "movhlps"
        return "movhps" if high else "movlps"
    if op in SSE:
        return (SSE_SCALAR if d.rep == 0xF3 else SSE).get(op, "(bad)")
    return FIXED.get(op, "(bad)")


def disassemble_at(cpu, eip: int) -> Optional[tuple]:
    """(length, mnemonic) of the instruction at CS:EIP, or None if it is undefined."""
    d = decode_listing(cpu, eip)
    if d is None:
        return None
    return d.pos, mnemonic_of(d)
