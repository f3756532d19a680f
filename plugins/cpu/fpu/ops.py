"""The x87 instructions (escape opcodes D8h-DFh; SDM vol. 2 and vol. 1 ch. 8).

`build(d)` decodes one escape instruction into a closure.  Every closure first
applies CR0.EM/TS (#NM) and, for the waiting forms, a pending unmasked exception
(#MF); it then records the last instruction and data pointers (FSTENV) and runs.
A masked stack fault or invalid operation goes on with the indefinite QNaN; an
unmasked one leaves the destination as it was.
"""

from typing import Callable, Dict, Optional, Tuple

from ..alu import ARITH_FLAGS, condition, materialize
from ..decoder import DecodeFault, Decoder
from ..state import CF, CR0_EM, CR0_TS, CS, DS, EAX, NM, PF, ZF, CPUFault
from . import float80 as f
from . import transcendental
from .unit import C0, C1, C2, C3, StackFault, X87

Closure = Callable[[int], int]

CONSTANTS = {   # FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ: (value, round-up value) per SDM
    0xE8: 0x3FFF8000000000000000,
    0xE9: 0x4000D49A784BCD1B8AFE,
    0xEA: 0x3FFFB8AA3B295C17F0BC,
    0xEB: 0x4000C90FDAA22168C235,
    0xEC: 0x3FFD9A209A84FBCFF799,
    0xED: 0x3FFEB17217F7D1CF79AC,
    0xEE: 0,
}
#: constants whose exact value lies above the nearest 64-bit one: rounded down by RC
ROUNDED_UP_CONSTANTS = {0xEA, 0xEB, 0xEC, 0xED}
#: the constants' exact values lie below: FLDL2T rounds up with RC=up
ROUNDED_DOWN_CONSTANTS = {0xE9}


def build(d: Decoder) -> Closure:
    d.modrm()
    op, reg = d.opcode, d.reg
    if d.mod != 3:
        action, waits, data = _memory_form(d, op, reg)
    else:
        action, waits, data = _register_form(d, op, reg, d.rm)
    return _wrap(d, action, waits, data)


def _wrap(d: Decoder, action: Callable[[X87], None], waits: bool, data: bool) -> Closure:
    cpu = d.cpu
    n, m = d.length, d.ipmask
    opcode = ((d.opcode & 7) << 8) | d.modrm_byte
    address = d.address(1) if data else None
    # the operand's segment (override, or SS for BP/ESP bases): FDS and the
    # offset FDP are of that segment (SDM vol. 1, 8.1.8)
    seg = d.seg_for(d._effective_address()[3]) if data else DS

    def run(eip: int) -> int:
        if cpu.cr[0] & (CR0_EM | CR0_TS):
            raise CPUFault(NM)
        fpu = cpu.fpu
        if waits:
            fpu.check_pending()
            state = fpu.state
            state.fip, state.fcs, state.fop = eip, cpu.seg_sel[CS], opcode
            if address is not None:
                state.fdp = (address() - cpu.seg_base[seg]) & 0xFFFFFFFF
                state.fds = cpu.seg_sel[seg]
        try:
            action(fpu)
        except StackFault:
            pass
        return (eip + n) & m
    return run


# ------------------------------------------------------------------ memory operands
def memory_reader(d: Decoder, size: int) -> Callable[[], int]:
    cpu = d.cpu
    address = d.address(size)

    def read() -> int:
        linear = address()
        value = 0
        for offset in range(0, size, 4):
            part = min(4, size - offset)
            chunk = cpu.rd32(linear + offset) if part == 4 else cpu.rd16(linear + offset)
            value |= chunk << (8 * offset)
        return value
    return read


def memory_writer(d: Decoder, size: int) -> Callable[[int], None]:
    cpu = d.cpu
    address = d.address(size, write=True)      # read-only segments: #GP(0)

    def write(value: int) -> None:
        linear = address()
        cpu.translate(linear + size - 1, write=True)     # fault before any byte is stored
        for offset in range(0, size, 4):
            part = min(4, size - offset)
            chunk = (value >> (8 * offset)) & ((1 << (8 * part)) - 1)
            if part == 4:
                cpu.wr32(linear + offset, chunk)
            else:
                cpu.wr16(linear + offset, chunk)
    return write


REAL_FORMATS = {4: f.SINGLE, 8: f.DOUBLE}


def _load_real(read: Callable[[], int], size: int,
               operand: bool = False) -> Callable[[X87], Optional[int]]:
    """A memory real as an 80-bit value, or None when an unmasked exception stops.
    `operand`: an arithmetic/compare source, whose SNaN the operation judges."""
    if size == 10:
        return lambda fpu: read()
    fmt = REAL_FORMATS[size]

    def load(fpu: X87) -> Optional[int]:
        value, flags = f.from_ieee(read(), fmt, operand)
        if flags and fpu.signal(flags):
            return None
        return value
    return load


def _load_int(read: Callable[[], int], bits: int) -> Callable[[X87], Optional[int]]:
    sign = 1 << (bits - 1)

    def load(fpu: X87) -> Optional[int]:
        value = read()
        return f.from_int(value - (sign << 1) if value & sign else value)
    return load


# ------------------------------------------------------------------ arithmetic
def _arith(kind: int) -> Callable[[X87, int, int], Optional[int]]:
    """FADD FMUL - - FSUB FSUBR FDIV FDIVR (the ModRM reg field) as dest = dest op src."""
    def compute(fpu: X87, dest: int, src: int) -> Optional[int]:
        rc, precision, masked = fpu.rc, fpu.precision, fpu.masked
        if kind == 0:
            result = f.add(dest, src, rc, precision, masked)
        elif kind == 1:
            result = f.mul(dest, src, rc, precision, masked)
        elif kind == 4:
            result = f.add(dest, src, rc, precision, masked, subtract=True)
        elif kind == 5:
            result = f.add(src, dest, rc, precision, masked, subtract=True)
        elif kind == 6:
            result = f.div(dest, src, rc, precision, masked)
        else:
            result = f.div(src, dest, rc, precision, masked)
        if fpu.signal(result.flags):
            return None
        return result.value
    return compute


def _compare(fpu: X87, a: int, b: int, quiet: bool, to_eflags: bool = False) -> None:
    order, flags = f.compare(a, b, quiet)
    if fpu.signal(flags & ~f.C1) and order is None:
        return
    c3, c2, c0 = {None: (1, 1, 1), -1: (0, 0, 1), 0: (1, 0, 0), 1: (0, 0, 0)}[order]
    if to_eflags:
        cpu = fpu.cpu
        materialize(cpu)
        cpu.flags = (cpu.flags & ~ARITH_FLAGS) | (ZF if c3 else 0) | (PF if c2 else 0) | (CF if c0 else 0)
        fpu.state.sw &= ~C1
    else:
        fpu.set_condition(c3, c2, 0, c0)


def _memory_form(d: Decoder, op: int, reg: int) -> Tuple[Callable[[X87], None], bool, bool]:
    if op in (0xD8, 0xDC, 0xDA, 0xDE):
        size = {0xD8: 4, 0xDC: 8, 0xDA: 4, 0xDE: 2}[op]
        read = memory_reader(d, size)
        load = _load_real(read, size, True) if op in (0xD8, 0xDC) else _load_int(read, size * 8)
        if reg in (2, 3):
            pop = reg == 3

            def fcom(fpu: X87) -> None:
                src = load(fpu)
                if src is not None:
                    _compare(fpu, fpu.get(0), src, quiet=False)
                    if pop:
                        fpu.pop()
            return fcom, True, True
        compute = _arith(reg)

        def arith(fpu: X87) -> None:
            dest = fpu.get(0)
            src = load(fpu)
            if src is None:
                return
            value = compute(fpu, dest, src)
            if value is not None:
                fpu.set(0, value)
        return arith, True, True
    key = (op, reg)
    if key in ((0xD9, 0), (0xDD, 0), (0xDB, 5)):                 # FLD m32/m64/m80
        size = {0xD9: 4, 0xDD: 8, 0xDB: 10}[op]
        load = _load_real(memory_reader(d, size), size)

        def fld(fpu: X87) -> None:
            value = load(fpu)
            if value is not None:
                fpu.push(value)
        return fld, True, True
    if key in ((0xDB, 0), (0xDF, 0), (0xDF, 5)):                 # FILD m32/m16/m64
        bits = {0xDB: 32, 0xDF: 16 if reg == 0 else 64}[op]
        load = _load_int(memory_reader(d, bits // 8), bits)
        return (lambda fpu: fpu.push(load(fpu))), True, True
    if key in ((0xD9, 2), (0xD9, 3), (0xDD, 2), (0xDD, 3), (0xDB, 7)):   # FST/FSTP m32/m64, FSTP m80
        size = {0xD9: 4, 0xDD: 8, 0xDB: 10}[op]
        write = memory_writer(d, size)
        pop = reg in (3, 7)

        def fst(fpu: X87) -> None:
            value = fpu.get(0)
            if size != 10:
                result = f.to_ieee(value, REAL_FORMATS[size], fpu.rc, fpu.masked)
                if fpu.signal(result.flags) or result.flags & f.OE & ~fpu.masked or \
                        result.flags & f.UE & ~fpu.masked:
                    return
                value = result.value
            write(value)
            if pop:
                fpu.pop()
        return fst, True, True
    if key in ((0xDB, 2), (0xDB, 3), (0xDF, 2), (0xDF, 3), (0xDF, 7)):   # FIST/FISTP
        bits = {0xDB: 32, 0xDF: 64 if reg == 7 else 16}[op]
        write = memory_writer(d, bits // 8)
        pop = reg != 2

        def fist(fpu: X87) -> None:
            result = f.to_int(fpu.get(0), bits, fpu.rc)
            if fpu.signal(result.flags):
                return
            write(result.value)
            if pop:
                fpu.pop()
        return fist, True, True
    if key == (0xDF, 4):                                           # FBLD
        read = memory_reader(d, 10)

        def fbld(fpu: X87) -> None:
            fpu.push(from_bcd(read()))
        return fbld, True, True
    if key == (0xDF, 6):                                           # FBSTP
        write = memory_writer(d, 10)

        def fbstp(fpu: X87) -> None:
            result = to_bcd(fpu.get(0), fpu.rc)
            if fpu.signal(result.flags):
                return
            write(result.value)
            fpu.pop()
        return fbstp, True, True
    if key == (0xD9, 5):                                           # FLDCW
        read = memory_reader(d, 2)

        def fldcw(fpu: X87) -> None:
            fpu.state.cw = read() | 0x40
            recheck(fpu)
        return fldcw, False, False
    if key in ((0xD9, 7), (0xDD, 7)):                              # FNSTCW, FNSTSW m16
        write = memory_writer(d, 2)
        if reg == 7 and op == 0xD9:
            return (lambda fpu: write(fpu.state.cw)), False, False
        return (lambda fpu: write(fpu.status_word())), False, False
    if key in ((0xD9, 4), (0xD9, 6), (0xDD, 4), (0xDD, 6)):        # FLDENV FNSTENV FRSTOR FNSAVE
        return _environment(d, op, reg), False, False
    raise DecodeFault()


def recheck(fpu: X87) -> None:
    """FLDCW/FLDENV/FRSTOR: unmasking a flagged exception makes it pending."""
    s = fpu.state
    if s.sw & 0x3F & ~s.cw:
        fpu.signal(s.sw & 0x3F & ~s.cw & 0x3F)
    else:
        s.sw &= ~(0x80 | 0x8000)


# ------------------------------------------------------------------ environment
def _environment(d: Decoder, op: int, reg: int) -> Callable[[X87], None]:
    """The 14/28-byte environment (16/32-bit operand size; real/V86 and protected
    layouts) and the 94/108-byte state of FSAVE/FRSTOR (SDM vol. 1, 8.1.10)."""
    cpu = d.cpu
    wide = d.opsize == 4
    env_size = 28 if wide else 14
    total = env_size + (80 if op == 0xDD else 0)
    address = d.address(total)
    store_address = d.address(total, write=True)
    unit = 4 if wide else 2

    def read_word(linear: int) -> int:
        return cpu.rd32(linear) if wide else cpu.rd16(linear)

    def write_word(linear: int, value: int) -> None:
        if wide:
            cpu.wr32(linear, value & 0xFFFFFFFF)
        else:
            cpu.wr16(linear, value & 0xFFFF)

    def protected() -> bool:
        return bool(cpu.cr[0] & 1) and not cpu.flags & 0x20000

    def store(fpu: X87) -> None:
        s = fpu.state
        linear = store_address()
        cpu.translate(linear + total - 1, write=True)
        words = [s.cw | (0xFFFF0000 if wide else 0), fpu.status_word() | (0xFFFF0000 if wide else 0),
                 fpu.tag_word() | (0xFFFF0000 if wide else 0)]
        if protected():
            words += [s.fip, s.fcs | (s.fop << 16) if wide else s.fcs, s.fdp, s.fds]
        else:
            ip = (s.fcs << 4) + s.fip
            dp = (s.fds << 4) + s.fdp
            if wide:
                words += [ip & 0xFFFF, ((ip >> 4) & 0x0FFFF000) | s.fop, dp & 0xFFFF, (dp >> 4) & 0x0FFFF000]
            else:
                words += [ip & 0xFFFF, ((ip >> 4) & 0xF000) | s.fop, dp & 0xFFFF, (dp >> 4) & 0xF000]
        for index, word in enumerate(words):
            write_word(linear + index * unit, word)
        if op == 0xDD:
            for i in range(8):
                value = s.regs[fpu.physical(i)]
                base = linear + env_size + 10 * i
                cpu.wr32(base, value & 0xFFFFFFFF)
                cpu.wr32(base + 4, (value >> 32) & 0xFFFFFFFF)
                cpu.wr16(base + 8, value >> 64)
            fpu.init()
        else:
            s.cw |= 0x3F             # FNSTENV masks all exceptions afterwards

    def load(fpu: X87) -> None:
        s = fpu.state
        linear = address()
        s.cw = read_word(linear) & 0xFFFF
        sw = read_word(linear + unit) & 0xFFFF
        tags = read_word(linear + 2 * unit) & 0xFFFF
        s.top = (sw >> 11) & 7
        s.sw = sw & ~0x3800
        fpu.set_tag_word(tags)
        if protected():
            s.fip = read_word(linear + 3 * unit)
            selector = read_word(linear + 4 * unit)
            s.fcs, s.fop = selector & 0xFFFF, (selector >> 16) & 0x7FF
            s.fdp = read_word(linear + 5 * unit)
            s.fds = read_word(linear + 6 * unit) & 0xFFFF
        if op == 0xDD:
            for i in range(8):
                base = linear + env_size + 10 * i
                value = cpu.rd32(base) | (cpu.rd32(base + 4) << 32) | (cpu.rd16(base + 8) << 64)
                s.regs[fpu.physical(i)] = value
        recheck(fpu)

    return store if reg == 6 else load


# ------------------------------------------------------------------ register forms
def _register_form(d: Decoder, op: int, reg: int, rm: int) -> Tuple[Callable[[X87], None], bool, bool]:
    cpu = d.cpu
    if op in (0xD8, 0xDC, 0xDE):
        if reg in (2, 3) or (op == 0xDE and reg == 3 and rm == 1):
            if op == 0xDE and not (reg == 3 and rm == 1):
                raise DecodeFault()
            pops = 2 if op == 0xDE else (1 if reg == 3 else 0)

            def fcom_st(fpu: X87) -> None:
                _compare(fpu, fpu.get(0), fpu.get(rm), quiet=False)
                for _ in range(pops):
                    fpu.pop()
            return fcom_st, True, False
        # DC and DE have the destination ST(i), and swap SUB/SUBR and DIV/DIVR.
        kind = reg if op == 0xD8 or reg < 4 else reg ^ 1
        compute = _arith(kind)
        to_st0 = op == 0xD8
        pop = op == 0xDE

        def arith_st(fpu: X87) -> None:
            dest_index = 0 if to_st0 else rm
            dest = fpu.get(dest_index)
            src = fpu.get(rm if to_st0 else 0)
            value = compute(fpu, dest, src)
            if value is not None:
                fpu.set(dest_index, value)
                if pop:
                    fpu.pop()
        return arith_st, True, False
    if op == 0xD9:
        return _d9_register(d, reg, rm)
    if op in (0xDA, 0xDB) and reg < 4:                             # FCMOVcc (P6)
        if cpu.generation < 6:
            raise DecodeFault()
        cc = {0: 0x2, 1: 0x4, 2: 0x6, 3: 0xA}[reg] | (1 if op == 0xDB else 0)

        def fcmov(fpu: X87) -> None:
            src = fpu.get(rm)
            if condition(cpu, cc):
                fpu.set(0, src)
        return fcmov, True, False
    if op == 0xDA and reg == 5 and rm == 1:                         # FUCOMPP
        def fucompp(fpu: X87) -> None:
            _compare(fpu, fpu.get(0), fpu.get(1), quiet=True)
            fpu.pop()
            fpu.pop()
        return fucompp, True, False
    if op == 0xDB and reg == 4:
        if rm == 2:
            return (lambda fpu: fpu.clear_exceptions()), False, False          # FNCLEX
        if rm == 3:
            return (lambda fpu: fpu.init()), False, False                      # FNINIT
        if rm in (0, 1, 4):
            return (lambda fpu: None), False, False    # FENI/FDISI/FSETPM: no-ops after the 8087/287
        raise DecodeFault()
    if (op in (0xDB, 0xDF) and reg in (5, 6)):                     # FUCOMI(P) FCOMI(P) (P6)
        if cpu.generation < 6:
            raise DecodeFault()
        quiet_nans, pop = reg == 5, op == 0xDF

        def fcomi(fpu: X87) -> None:
            _compare(fpu, fpu.get(0), fpu.get(rm), quiet=quiet_nans, to_eflags=True)
            if pop:
                fpu.pop()
        return fcomi, True, False
    if op == 0xDD:
        if reg == 0:                                               # FFREE
            return (lambda fpu: fpu.state.empty.__setitem__(fpu.physical(rm), True)), True, False
        if reg in (2, 3):                                          # FST/FSTP ST(i)
            pop = reg == 3

            def fst_st(fpu: X87) -> None:
                fpu.set(rm, fpu.get(0))
                if pop:
                    fpu.pop()
            return fst_st, True, False
        if reg in (4, 5):                                          # FUCOM/FUCOMP
            pop = reg == 5

            def fucom(fpu: X87) -> None:
                _compare(fpu, fpu.get(0), fpu.get(rm), quiet=True)
                if pop:
                    fpu.pop()
            return fucom, True, False
        if reg == 1:                                               # FXCH alias
            return _fxch(rm), True, False
        raise DecodeFault()
    if op == 0xDF:
        if reg == 4 and rm == 0:                                   # FNSTSW AX
            regs = cpu.regs

            def fnstsw_ax(fpu: X87) -> None:
                regs[EAX] = (regs[EAX] & 0xFFFF0000) | fpu.status_word()
            return fnstsw_ax, False, False
        if reg == 0:                                               # FFREEP (undocumented)
            def ffreep(fpu: X87) -> None:
                fpu.state.empty[fpu.physical(rm)] = True
                fpu.pop()
            return ffreep, True, False
        raise DecodeFault()
    raise DecodeFault()


def _fxch(rm: int) -> Callable[[X87], None]:
    def fxch(fpu: X87) -> None:
        a, b = fpu.get(0), fpu.get(rm)
        fpu.set(0, b)
        fpu.set(rm, a)
        fpu.state.sw &= ~C1
    return fxch


def _d9_register(d: Decoder, reg: int, rm: int) -> Tuple[Callable[[X87], None], bool, bool]:
    if reg == 0:                                                   # FLD ST(i)
        return (lambda fpu: fpu.push(fpu.get(rm))), True, False
    if reg == 1:
        return _fxch(rm), True, False
    if reg == 2 and rm == 0:
        return (lambda fpu: None), True, False                     # FNOP
    if reg == 3:                                                   # FSTP1 (undocumented alias)
        def fstp1(fpu: X87) -> None:
            fpu.set(rm, fpu.get(0))
            fpu.pop()
        return fstp1, True, False
    byte = 0xC0 | (reg << 3) | rm
    if byte in CONSTANTS:
        return _constant(byte), True, False
    simple: Dict[int, Callable[[X87], None]] = {
        # FCHS/FABS only change the sign bit, of any operand (SDM: no #IA)
        0xE0: _unary(lambda v: (v ^ f.SIGN_BIT, 0)),
        0xE1: _unary(lambda v: (v & ~f.SIGN_BIT, 0)),
        0xE4: _ftst, 0xE5: _fxam,
        0xF6: lambda fpu: _rotate(fpu, -1), 0xF7: lambda fpu: _rotate(fpu, 1),
        0xFA: _rounding(f.sqrt), 0xFC: _frndint,
        0xFD: transcendental.fscale, 0xF4: transcendental.fxtract,
        0xF8: transcendental.fprem, 0xF5: transcendental.fprem1,
        0xF0: transcendental.f2xm1, 0xF1: transcendental.fyl2x, 0xF9: transcendental.fyl2xp1,
        0xF2: transcendental.fptan, 0xF3: transcendental.fpatan,
        0xFB: transcendental.fsincos, 0xFE: transcendental.fsin, 0xFF: transcendental.fcos,
    }
    if byte in simple:
        return simple[byte], True, False
    raise DecodeFault()


def _unary(compute: Callable[[int], Tuple[int, int]]) -> Callable[[X87], None]:
    def unary(fpu: X87) -> None:
        value, flags = compute(fpu.get(0))
        fpu.state.sw &= ~C1
        if not fpu.signal(flags):
            fpu.set(0, value)
    return unary


def _rounding(operation: Callable[..., f.Result]) -> Callable[[X87], None]:
    def run(fpu: X87) -> None:
        result = operation(fpu.get(0), fpu.rc, fpu.precision, fpu.masked)
        if not fpu.signal(result.flags):
            fpu.set(0, result.value)
    return run


def _frndint(fpu: X87) -> None:
    result = f.round_to_integer(fpu.get(0), fpu.rc, fpu.masked)
    if not fpu.signal(result.flags):
        fpu.set(0, result.value)


def _constant(byte: int) -> Callable[[X87], None]:
    value = CONSTANTS[byte]

    def fld_constant(fpu: X87) -> None:
        result = value
        rc = fpu.rc
        if byte in ROUNDED_UP_CONSTANTS and rc in (f.DOWN, f.CHOP):
            result -= 1
        elif byte in ROUNDED_DOWN_CONSTANTS and rc == f.UP:
            result += 1
        fpu.push(result)
    return fld_constant


def _rotate(fpu: X87, step: int) -> None:
    """FDECSTP/FINCSTP: TOP moves, the tags stay."""
    fpu.state.top = (fpu.state.top + step) & 7
    fpu.state.sw &= ~C1


def _ftst(fpu: X87) -> None:
    _compare(fpu, fpu.get(0), 0, quiet=False)


def _fxam(fpu: X87) -> None:
    """C3 C2 C0 give the class, C1 the sign (SDM vol. 2, FXAM)."""
    s = fpu.state
    physical = fpu.physical(0)
    value = s.regs[physical]
    sign = value >> 79
    if s.empty[physical]:
        fpu.set_condition(1, 0, sign, 1)
        return
    kind = f.classify(value)
    c3, c2, c0 = {f.UNSUPPORTED: (0, 0, 0), f.QNAN: (0, 0, 1), f.SNAN: (0, 0, 1), f.NORMAL: (0, 1, 0),
                  f.INFINITY: (0, 1, 1), f.ZERO: (1, 0, 0), f.DENORMAL: (1, 1, 0)}[kind]
    fpu.set_condition(c3, c2, sign, c0)


# ------------------------------------------------------------------ packed BCD
def from_bcd(raw: int) -> int:
    """FBLD: 18 BCD digits and a sign byte, exactly (invalid digits give an
    undefined result on hardware; here they are read as their binary value)."""
    value = 0
    for i in range(8, -1, -1):
        byte = (raw >> (8 * i)) & 0xFF
        value = value * 100 + (byte >> 4) * 10 + (byte & 0xF)
    if raw >> 79:
        return f.from_int(value) | f.SIGN_BIT if value else f.NEG_ZERO
    return f.from_int(value)


def to_bcd(value: int, rc: int) -> f.Result:
    """FBSTP: round to an integer; beyond 18 digits or NaN: IE and the packed
    BCD indefinite (FFFFC000000000000000h)."""
    indefinite = 0xFFFFC000000000000000
    kind = f.classify(value)
    if kind in (f.QNAN, f.SNAN, f.INFINITY, f.UNSUPPORTED):
        return f.Result(indefinite, f.IE)
    result = f.to_int(value, 80, rc)
    number = result.value
    if number >> 79:
        number -= 1 << 80
    magnitude = abs(number)
    if magnitude >= 10 ** 18:
        return f.Result(indefinite, f.IE)
    packed = 0
    for i in range(9):
        two = magnitude % 100
        magnitude //= 100
        packed |= ((two // 10) << 4 | (two % 10)) << (8 * i)
    if value >> 79:
        packed |= 0x80 << 72
    return f.Result(packed, result.flags)
