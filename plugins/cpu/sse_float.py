"""Single-precision arithmetic of the SSE unit, exact to the bit (SDM vol. 1, 4.8,
4.9, 11.5).

Operands are 32-bit encodings.  Finite values become integers m * 2^k, results are
computed exactly (a quotient as a fraction, a square root with a sticky bit) and
rounded once with MXCSR.RC, so every rounding mode and the inexact flag are right
(Python floats are doubles: double rounding would be wrong outside round to
nearest).  Tininess is detected after rounding with an unbounded exponent (SDM vol.
1, 4.9.1.5).  A masked underflow flags UE only when the result is also inexact;
unmasked, UE is flagged for every tiny result.  MXCSR.FZ (masked underflow only)
gives a zero of the result's sign with UE and PE.  The Pentium III has no DAZ.

Each lane function returns (result, flags); flags hold the pre-computation
exceptions (IE, DE, ZE) and the post-computation ones (OE, UE, PE) found in that
lane (`sse_exceptions` orders them as SDM 11.5.2 says).  A NaN operand gives the
first NaN of (destination, source), quieted (SDM vol. 1, table 4-7).  The SSE
part of FXSAVE/FXRSTOR is here too (ops_mmx.py, which owns those, imports nothing
of ops_sse.py).
"""

from math import isqrt
from typing import List, Optional, Tuple

from .state import CR4_OSFXSR, GP, CPUFault

IE, DE, ZE, OE, UE, PE = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
PRE_COMPUTATION = IE | DE | ZE
FZ = 0x8000
#: MXCSR after RESET and the writable bits of a Pentium III (no DAZ, bit 6)
MXCSR_RESET, MXCSR_MASK = 0x1F80, 0xFFBF
DEFAULT_NAN = 0xFFC00000
SIGN = 0x80000000
EXPONENT = 0x7F800000
FRACTION = 0x007FFFFF
QUIET = 0x00400000
MAX_FINITE = 0x7F7FFFFF
ONE = 0x3F800000
RC_NEAREST, RC_DOWN, RC_UP, RC_ZERO = 0, 1, 2, 3

Lane = Tuple[int, int]


def is_nan(a: int) -> bool:
    return a & EXPONENT == EXPONENT and bool(a & FRACTION)


def is_snan(a: int) -> bool:
    return is_nan(a) and not a & QUIET


def is_inf(a: int) -> bool:
    return a & 0x7FFFFFFF == EXPONENT


def is_zero(a: int) -> bool:
    return not a & 0x7FFFFFFF


def is_denormal(a: int) -> bool:
    return not a & EXPONENT and bool(a & FRACTION)


def decode(a: int) -> Tuple[int, int]:
    """A finite operand as (signed m, k): value m * 2^k."""
    exponent = (a >> 23) & 0xFF
    mantissa = a & FRACTION
    if exponent:
        mantissa |= 1 << 23
    else:
        exponent = 1
    return (-mantissa if a & SIGN else mantissa), exponent - 150


def nan_result(a: int, b: int) -> Lane:
    """The first NaN of (a, b) quieted; IE when either is a signalling NaN."""
    flags = IE if is_snan(a) or is_snan(b) else 0
    return (a if is_nan(a) else b) | QUIET, flags


def denormal_flag(*operands: int) -> int:
    return DE if any(is_denormal(x) for x in operands) else 0


def _scaled(num: int, den: int, shift: int) -> Tuple[int, int]:
    """num / den * 2^-shift as a (numerator, denominator) pair."""
    if shift >= 0:
        return num, den << shift
    return num << -shift, den


def _round_int(num: int, den: int, negative: bool, rc: int) -> Tuple[int, bool]:
    q, r = divmod(num, den)
    if not r:
        return q, False
    if rc == RC_NEAREST:
        if 2 * r > den or (2 * r == den and q & 1):
            q += 1
    elif (rc == RC_DOWN and negative) or (rc == RC_UP and not negative):
        q += 1
    return q, True


def round_single(negative: bool, num: int, den: int, k: int, mxcsr: int) -> Lane:
    """The non-zero value num / den * 2^k (num, den > 0) rounded to single with
    MXCSR's rounding mode, FZ and masks; the result and OE/UE/PE."""
    rc = (mxcsr >> 13) & 3
    sign = SIGN if negative else 0
    e = num.bit_length() - den.bit_length() + k       # 2^e <= value < 2^(e+2)
    n0, d0 = _scaled(num, den, e - k)
    if n0 < d0:
        e -= 1
    q, inexact = _round_int(*_scaled(num, den, e - 23 - k), negative, rc)
    if q == 1 << 24:
        e += 1
    if e > 127:
        flags = OE | PE
        up = rc == RC_NEAREST or (rc == RC_UP and not negative) or (rc == RC_DOWN and negative)
        return sign | (EXPONENT if up else MAX_FINITE), flags
    if e < -126:
        if not mxcsr & (UE << 7):
            q, inexact = _round_int(*_scaled(num, den, -149 - k), negative, rc)
            return sign | q, UE | (PE if inexact else 0)
        if mxcsr & FZ:
            return sign, UE | PE
        q, inexact = _round_int(*_scaled(num, den, -149 - k), negative, rc)
        return sign | q, (UE | PE) if inexact else 0
    return sign | ((e + 127) << 23) | (q & FRACTION), PE if inexact else 0


def round_exact(m: int, k: int, mxcsr: int, zero_sign: int = 0) -> Lane:
    """The exact value m * 2^k rounded; a zero takes `zero_sign`."""
    if not m:
        return zero_sign, 0
    return round_single(m < 0, abs(m), 1, k, mxcsr)


# ------------------------------------------------------------------ arithmetic lanes
def add(a: int, b: int, mxcsr: int) -> Lane:
    if is_nan(a) or is_nan(b):
        return nan_result(a, b)
    if is_inf(a) or is_inf(b):
        if is_inf(a) and is_inf(b) and (a ^ b) & SIGN:
            return DEFAULT_NAN, IE
        return (a if is_inf(a) else b), 0
    flags = denormal_flag(a, b)
    (ma, ka), (mb, kb) = decode(a), decode(b)
    k = min(ka, kb)
    m = (ma << (ka - k)) + (mb << (kb - k))
    if not m:
        down = (mxcsr >> 13) & 3 == RC_DOWN
        if not ma and not mb and not (a ^ b) & SIGN:
            return a & SIGN, flags
        return (SIGN if down else 0), flags
    result, post = round_exact(m, k, mxcsr)
    return result, flags | post


def sub(a: int, b: int, mxcsr: int) -> Lane:
    if is_nan(a) or is_nan(b):
        return nan_result(a, b)
    return add(a, b ^ SIGN, mxcsr)


def mul(a: int, b: int, mxcsr: int) -> Lane:
    if is_nan(a) or is_nan(b):
        return nan_result(a, b)
    sign = (a ^ b) & SIGN
    if is_inf(a) or is_inf(b):
        if is_zero(a) or is_zero(b):
            return DEFAULT_NAN, IE
        return sign | EXPONENT, 0
    flags = denormal_flag(a, b)
    (ma, ka), (mb, kb) = decode(a), decode(b)
    if not ma or not mb:
        return sign, flags
    result, post = round_single(bool(sign), abs(ma * mb), 1, ka + kb, mxcsr)
    return result, flags | post


def div(a: int, b: int, mxcsr: int) -> Lane:
    if is_nan(a) or is_nan(b):
        return nan_result(a, b)
    sign = (a ^ b) & SIGN
    if is_inf(a):
        return (DEFAULT_NAN, IE) if is_inf(b) else (sign | EXPONENT, 0)
    if is_inf(b):
        return sign, denormal_flag(a)
    if is_zero(b):
        if is_zero(a):
            return DEFAULT_NAN, IE
        return sign | EXPONENT, ZE | denormal_flag(a)
    flags = denormal_flag(a, b)
    (ma, ka), (mb, kb) = decode(a), decode(b)
    if not ma:
        return sign, flags
    result, post = round_single(bool(sign), abs(ma), abs(mb), ka - kb, mxcsr)
    return result, flags | post


def sqrt(a: int, mxcsr: int) -> Lane:
    if is_nan(a):
        return nan_result(a, a)
    if is_zero(a):
        return a, 0
    if a & SIGN:
        return DEFAULT_NAN, IE
    if is_inf(a):
        return a, 0
    flags = denormal_flag(a)
    m, k = decode(a)
    if k & 1:
        m, k = m << 1, k - 1
    m <<= 60                                     # root has >= 30 significant bits
    root = isqrt(m)
    sticky = root * root != m
    result, post = round_single(False, 2 * root + sticky, 2, (k - 60) // 2, mxcsr)
    return result, flags | post


def maximum(a: int, b: int, mxcsr: int) -> Lane:
    """MAXPS: the source (b) when either is a NaN (IE even for a QNaN) or both are
    zeros; a denormal operand is flagged."""
    if is_nan(a) or is_nan(b):
        return b, IE
    return (a if greater(a, b) else b), denormal_flag(a, b)


def minimum(a: int, b: int, mxcsr: int) -> Lane:
    if is_nan(a) or is_nan(b):
        return b, IE
    return (a if greater(b, a) else b), denormal_flag(a, b)


def _key(a: int) -> int:
    """An integer ordering non-NaN singles (both zeros equal)."""
    magnitude = a & 0x7FFFFFFF
    return -magnitude if a & SIGN else magnitude


def greater(a: int, b: int) -> bool:
    return _key(a) > _key(b)


def compare(a: int, b: int, predicate: int) -> Lane:
    """CMPPS predicates 0-7 (EQ LT LE UNORD NEQ NLT NLE ORD): all ones or zero.
    LT, LE, NLT, NLE signal IE for any NaN, the others for a signalling NaN."""
    if is_nan(a) or is_nan(b):
        signals = predicate & 3 in (1, 2) or is_snan(a) or is_snan(b)
        true = predicate in (3, 4, 5, 6)
        return (0xFFFFFFFF if true else 0), IE if signals else 0
    ka, kb = _key(a), _key(b)
    true = (ka == kb, ka < kb, ka <= kb, False, ka != kb, not ka < kb, not ka <= kb, True)[predicate]
    return (0xFFFFFFFF if true else 0), denormal_flag(a, b)


def reciprocal(a: int, root: bool, mxcsr: int) -> int:
    """RCPPS/RSQRTPS as QEMU computes them, 1/x and 1/sqrt(x), each operation rounded
    with MXCSR.RC (well within the SDM's 1.5 * 2^-12 bound), no flags; as on the Pentium III a denormal operand is
    a zero, a tiny result flushes to zero, and RSQRT of a negative is the default NaN."""
    if is_nan(a):
        return a | QUIET
    sign = a & SIGN
    if is_zero(a) or is_denormal(a):
        return sign | EXPONENT
    if is_inf(a):
        return DEFAULT_NAN if root and sign else sign
    if root and sign:
        return DEFAULT_NAN
    control = MXCSR_RESET | (mxcsr & 0x6000)
    result, _ = div(ONE, sqrt(a, control)[0] if root else a, control)
    if not result & EXPONENT:
        return sign
    return result


# ------------------------------------------------------------------ conversions
def from_int(value: int, mxcsr: int) -> Lane:
    """CVTSI2SS/CVTPI2PS: a signed 32-bit integer rounded with MXCSR.RC (PE only)."""
    if value >= 1 << 31:
        value -= 1 << 32
    return round_exact(value, 0, mxcsr)


def to_int(a: int, mxcsr: int, truncate: bool) -> Lane:
    """CVTSS2SI/CVTTSS2SI: IE and the integer indefinite 80000000h for a NaN or
    a value out of range; PE when rounded."""
    if is_nan(a) or is_inf(a):
        return 0x80000000, IE
    m, k = decode(a)
    rc = RC_ZERO if truncate else (mxcsr >> 13) & 3
    negative = m < 0
    num, den = _scaled(abs(m), 1, -k)
    q, inexact = _round_int(num, den, negative, rc)
    value = -q if negative else q
    if not -(1 << 31) <= value < 1 << 31:
        return 0x80000000, IE
    return value & 0xFFFFFFFF, PE if inexact else 0


# ------------------------------------------------------------------ FXSAVE / FXRSTOR
def fxsave_sse(cpu, linear: int) -> None:
    """FXSAVE's SSE part: MXCSR, MXCSR_MASK and XMM0-7 when CR4.OSFXSR is set
    (clear: not saved, as QEMU and Bochs do; the SDM leaves it to the model)."""
    if not cpu.model.sse or not cpu.cr[4] & CR4_OSFXSR:
        return
    cpu.wr32(linear + 24, cpu.mxcsr)
    cpu.wr32(linear + 28, MXCSR_MASK)
    for i, value in enumerate(cpu.xmm):
        for part in range(4):
            cpu.wr32(linear + 160 + 16 * i + 4 * part, (value >> (32 * part)) & 0xFFFFFFFF)


def fxrstor_sse(cpu, linear: int) -> Optional[List[int]]:
    """FXRSTOR's SSE part, read before anything changes (#GP(0) for reserved MXCSR
    bits): [MXCSR, XMM0 ... XMM7], or None when CR4.OSFXSR is clear."""
    if not cpu.model.sse or not cpu.cr[4] & CR4_OSFXSR:
        return None
    mxcsr = cpu.rd32(linear + 24)
    if mxcsr & ~MXCSR_MASK:
        raise CPUFault(GP, 0)
    return [mxcsr] + [sum(cpu.rd32(linear + 160 + 16 * i + 4 * part) << (32 * part) for part in range(4))
                      for i in range(8)]
