"""Single- and double-precision arithmetic of the SSE/SSE2 unit, exact to the bit
(SDM vol. 1, 4.8, 4.9, 11.5).

Operands are encodings (32 or 64 bits, a `Format` each: SINGLE, DOUBLE).  Finite
values become integers m * 2^k, results are computed exactly (a quotient as a
fraction, a square root with a sticky bit) and rounded once with MXCSR.RC, so
every rounding mode and the inexact flag are right (Python floats are doubles:
double rounding would be wrong outside round to nearest).  Tininess is detected
after rounding with an unbounded exponent (SDM vol. 1, 4.9.1.5).  A masked
underflow flags UE only when the result is also inexact; unmasked, UE is flagged
for every tiny result.  MXCSR.FZ (masked underflow only) gives a zero of the
result's sign with UE and PE.  MXCSR.DAZ (Pentium 4 on; the Pentium III has none)
reads a denormal operand as a zero of its sign, without DE (`Format.daz`).

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
DAZ, FZ = 0x40, 0x8000
#: MXCSR after RESET
MXCSR_RESET = 0x1F80
RC_NEAREST, RC_DOWN, RC_UP, RC_ZERO = 0, 1, 2, 3

Lane = Tuple[int, int]


def mxcsr_mask(cpu) -> int:
    """MXCSR's writable bits: a Pentium III has no DAZ (bit 6), a Pentium 4 has."""
    return 0xFFFF if cpu.model.sse2 else 0xFFBF


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


class Format:
    """An IEEE binary format with `exponent_bits` and `fraction_bits`, and its
    lane operations."""

    def __init__(self, exponent_bits: int, fraction_bits: int) -> None:
        f = fraction_bits
        self.bits = 1 + exponent_bits + f
        self.mask = (1 << self.bits) - 1
        self.fraction_bits = f
        self.sign = 1 << (self.bits - 1)
        self.magnitude = self.sign - 1
        self.exponent = ((1 << exponent_bits) - 1) << f
        self.fraction = (1 << f) - 1
        self.quiet = 1 << (f - 1)
        self.default_nan = self.sign | self.exponent | self.quiet
        self.max_finite = self.exponent - 1
        self.bias = (1 << (exponent_bits - 1)) - 1
        self.emin = 1 - self.bias
        self.one = self.bias << f

    # -------------------------------------------------------------- classes
    def is_nan(self, a: int) -> bool:
        return a & self.exponent == self.exponent and bool(a & self.fraction)

    def is_snan(self, a: int) -> bool:
        return self.is_nan(a) and not a & self.quiet

    def is_inf(self, a: int) -> bool:
        return a & self.magnitude == self.exponent

    def is_zero(self, a: int) -> bool:
        return not a & self.magnitude

    def is_denormal(self, a: int) -> bool:
        return not a & self.exponent and bool(a & self.fraction)

    def daz(self, a: int, mxcsr: int) -> int:
        """The operand as read with MXCSR.DAZ: a denormal is a zero of its sign."""
        return a & self.sign if mxcsr & DAZ and self.is_denormal(a) else a

    def decode(self, a: int) -> Tuple[int, int]:
        """A finite operand as (signed m, k): value m * 2^k."""
        f = self.fraction_bits
        exponent = (a & self.exponent) >> f
        mantissa = a & self.fraction
        if exponent:
            mantissa |= 1 << f
        else:
            exponent = 1
        return (-mantissa if a & self.sign else mantissa), exponent - self.bias - f

    def nan_result(self, a: int, b: int) -> Lane:
        """The first NaN of (a, b) quieted; IE when either is a signalling NaN."""
        flags = IE if self.is_snan(a) or self.is_snan(b) else 0
        return (a if self.is_nan(a) else b) | self.quiet, flags

    def denormal_flag(self, *operands: int) -> int:
        return DE if any(self.is_denormal(x) for x in operands) else 0

    # -------------------------------------------------------------- rounding
    def round(self, negative: bool, num: int, den: int, k: int, mxcsr: int) -> Lane:
        """The non-zero value num / den * 2^k (num, den > 0) rounded to this format
        with MXCSR's rounding mode, FZ and masks; the result and OE/UE/PE."""
        rc = (mxcsr >> 13) & 3
        f = self.fraction_bits
        sign = self.sign if negative else 0
        e = num.bit_length() - den.bit_length() + k       # 2^e <= value < 2^(e+2)
        n0, d0 = _scaled(num, den, e - k)
        if n0 < d0:
            e -= 1
        q, inexact = _round_int(*_scaled(num, den, e - f - k), negative, rc)
        if q == 1 << (f + 1):
            e += 1
        if e > self.bias:
            up = rc == RC_NEAREST or (rc == RC_UP and not negative) or (rc == RC_DOWN and negative)
            return sign | (self.exponent if up else self.max_finite), OE | PE
        if e < self.emin:
            tiny = self.emin - f - k
            if not mxcsr & (UE << 7):
                q, inexact = _round_int(*_scaled(num, den, tiny), negative, rc)
                return sign | q, UE | (PE if inexact else 0)
            if mxcsr & FZ:
                return sign, UE | PE
            q, inexact = _round_int(*_scaled(num, den, tiny), negative, rc)
            return sign | q, (UE | PE) if inexact else 0
        return sign | ((e + self.bias) << f) | (q & self.fraction), PE if inexact else 0

    def round_exact(self, m: int, k: int, mxcsr: int, zero_sign: int = 0) -> Lane:
        """The exact value m * 2^k rounded; a zero takes `zero_sign`."""
        if not m:
            return zero_sign, 0
        return self.round(m < 0, abs(m), 1, k, mxcsr)

    # -------------------------------------------------------------- arithmetic lanes
    def add(self, a: int, b: int, mxcsr: int) -> Lane:
        if self.is_nan(a) or self.is_nan(b):
            return self.nan_result(a, b)
        sign = self.sign
        if self.is_inf(a) or self.is_inf(b):
            if self.is_inf(a) and self.is_inf(b) and (a ^ b) & sign:
                return self.default_nan, IE
            return (a if self.is_inf(a) else b), 0
        flags = self.denormal_flag(a, b)
        (ma, ka), (mb, kb) = self.decode(a), self.decode(b)
        k = min(ka, kb)
        m = (ma << (ka - k)) + (mb << (kb - k))
        if not m:
            down = (mxcsr >> 13) & 3 == RC_DOWN
            if not ma and not mb and not (a ^ b) & sign:
                return a & sign, flags
            return (sign if down else 0), flags
        result, post = self.round_exact(m, k, mxcsr)
        return result, flags | post

    def sub(self, a: int, b: int, mxcsr: int) -> Lane:
        if self.is_nan(a) or self.is_nan(b):
            return self.nan_result(a, b)
        return self.add(a, b ^ self.sign, mxcsr)

    def mul(self, a: int, b: int, mxcsr: int) -> Lane:
        if self.is_nan(a) or self.is_nan(b):
            return self.nan_result(a, b)
        sign = (a ^ b) & self.sign
        if self.is_inf(a) or self.is_inf(b):
            if self.is_zero(a) or self.is_zero(b):
                return self.default_nan, IE
            return sign | self.exponent, 0
        flags = self.denormal_flag(a, b)
        (ma, ka), (mb, kb) = self.decode(a), self.decode(b)
        if not ma or not mb:
            return sign, flags
        result, post = self.round(bool(sign), abs(ma * mb), 1, ka + kb, mxcsr)
        return result, flags | post

    def div(self, a: int, b: int, mxcsr: int) -> Lane:
        if self.is_nan(a) or self.is_nan(b):
            return self.nan_result(a, b)
        sign = (a ^ b) & self.sign
        if self.is_inf(a):
            return (self.default_nan, IE) if self.is_inf(b) else (sign | self.exponent, 0)
        if self.is_inf(b):
            return sign, self.denormal_flag(a)
        if self.is_zero(b):
            if self.is_zero(a):
                return self.default_nan, IE
            return sign | self.exponent, ZE | self.denormal_flag(a)
        flags = self.denormal_flag(a, b)
        (ma, ka), (mb, kb) = self.decode(a), self.decode(b)
        if not ma:
            return sign, flags
        result, post = self.round(bool(sign), abs(ma), abs(mb), ka - kb, mxcsr)
        return result, flags | post

    def sqrt(self, a: int, mxcsr: int) -> Lane:
        if self.is_nan(a):
            return self.nan_result(a, a)
        if self.is_zero(a):
            return a, 0
        if a & self.sign:
            return self.default_nan, IE
        if self.is_inf(a):
            return a, 0
        flags = self.denormal_flag(a)
        m, k = self.decode(a)
        if k & 1:
            m, k = m << 1, k - 1
        extra = 2 * self.fraction_bits + 14             # root has >= fraction + 7 bits
        root = isqrt(m << extra)
        sticky = root * root != m << extra
        result, post = self.round(False, 2 * root + sticky, 2, (k - extra) // 2, mxcsr)
        return result, flags | post

    def maximum(self, a: int, b: int, mxcsr: int) -> Lane:
        """MAXPS: the source (b) when either is a NaN (IE even for a QNaN) or both are
        zeros; a denormal operand is flagged."""
        if self.is_nan(a) or self.is_nan(b):
            return b, IE
        return (a if self.greater(a, b) else b), self.denormal_flag(a, b)

    def minimum(self, a: int, b: int, mxcsr: int) -> Lane:
        if self.is_nan(a) or self.is_nan(b):
            return b, IE
        return (a if self.greater(b, a) else b), self.denormal_flag(a, b)

    def _key(self, a: int) -> int:
        """An integer ordering non-NaN values (both zeros equal)."""
        magnitude = a & self.magnitude
        return -magnitude if a & self.sign else magnitude

    def greater(self, a: int, b: int) -> bool:
        return self._key(a) > self._key(b)

    def compare(self, a: int, b: int, predicate: int) -> Lane:
        """CMPPS predicates 0-7 (EQ LT LE UNORD NEQ NLT NLE ORD): all ones or zero.
        LT, LE, NLT, NLE signal IE for any NaN, the others for a signalling NaN."""
        if self.is_nan(a) or self.is_nan(b):
            signals = predicate & 3 in (1, 2) or self.is_snan(a) or self.is_snan(b)
            true = predicate in (3, 4, 5, 6)
            return (self.mask if true else 0), IE if signals else 0
        ka, kb = self._key(a), self._key(b)
        true = (ka == kb, ka < kb, ka <= kb, False, ka != kb, not ka < kb, not ka <= kb, True)[predicate]
        return (self.mask if true else 0), self.denormal_flag(a, b)

    def reciprocal(self, a: int, root: bool, mxcsr: int) -> int:
        """RCPPS/RSQRTPS as QEMU computes them, 1/x and 1/sqrt(x), each operation
        rounded with MXCSR.RC (well within the SDM's 1.5 * 2^-12 bound), no flags; as
        on the Pentium III a denormal operand is a zero, a tiny result flushes to
        zero, and RSQRT of a negative is the default NaN."""
        if self.is_nan(a):
            return a | self.quiet
        sign = a & self.sign
        if self.is_zero(a) or self.is_denormal(a):
            return sign | self.exponent
        if self.is_inf(a):
            return self.default_nan if root and sign else sign
        if root and sign:
            return self.default_nan
        control = MXCSR_RESET | (mxcsr & 0x6000)
        result, _ = self.div(self.one, self.sqrt(a, control)[0] if root else a, control)
        if not result & self.exponent:
            return sign
        return result

    # -------------------------------------------------------------- conversions
    def from_int(self, value: int, mxcsr: int) -> Lane:
        """CVTSI2SS/CVTPI2PS/CVTSI2SD ...: a signed 32-bit integer rounded with
        MXCSR.RC (PE only; always exact for a double)."""
        if value >= 1 << 31:
            value -= 1 << 32
        return self.round_exact(value, 0, mxcsr)

    def to_int(self, a: int, mxcsr: int, truncate: bool) -> Lane:
        """CVTSS2SI/CVTTSS2SI/CVTSD2SI ...: IE and the integer indefinite 80000000h
        for a NaN or a value out of range; PE when rounded."""
        if self.is_nan(a) or self.is_inf(a):
            return 0x80000000, IE
        m, k = self.decode(a)
        rc = RC_ZERO if truncate else (mxcsr >> 13) & 3
        negative = m < 0
        num, den = _scaled(abs(m), 1, -k)
        q, inexact = _round_int(num, den, negative, rc)
        value = -q if negative else q
        if not -(1 << 31) <= value < 1 << 31:
            return 0x80000000, IE
        return value & 0xFFFFFFFF, PE if inexact else 0

    def convert(self, a: int, target: "Format", mxcsr: int) -> Lane:
        """CVTSS2SD/CVTPS2PD/CVTSD2SS/CVTPD2PS: `a` in `target`, rounded with
        MXCSR.RC.  A NaN keeps its sign and the top of its fraction, quieted (IE for
        a signalling one); a denormal operand flags DE."""
        sign = target.sign if a & self.sign else 0
        if self.is_nan(a):
            shift = target.fraction_bits - self.fraction_bits
            fraction = (a & self.fraction) << shift if shift >= 0 else (a & self.fraction) >> -shift
            return sign | target.exponent | target.quiet | fraction, IE if self.is_snan(a) else 0
        if self.is_inf(a):
            return sign | target.exponent, 0
        m, k = self.decode(a)
        result, flags = target.round_exact(m, k, mxcsr, sign)
        return result, flags | self.denormal_flag(a)


SINGLE = Format(8, 23)
DOUBLE = Format(11, 52)


# ------------------------------------------------------------------ FXSAVE / FXRSTOR
def fxsave_sse(cpu, linear: int) -> None:
    """FXSAVE's SSE part: MXCSR, MXCSR_MASK and XMM0-7 when CR4.OSFXSR is set
    (clear: not saved, as QEMU and Bochs do; the SDM leaves it to the model)."""
    if not cpu.model.sse or not cpu.cr[4] & CR4_OSFXSR:
        return
    cpu.wr32(linear + 24, cpu.mxcsr)
    cpu.wr32(linear + 28, mxcsr_mask(cpu))
    for i, value in enumerate(cpu.xmm):
        for part in range(4):
            cpu.wr32(linear + 160 + 16 * i + 4 * part, (value >> (32 * part)) & 0xFFFFFFFF)


def fxrstor_sse(cpu, linear: int) -> Optional[List[int]]:
    """FXRSTOR's SSE part, read before anything changes (#GP(0) for reserved MXCSR
    bits): [MXCSR, XMM0 ... XMM7], or None when CR4.OSFXSR is clear."""
    if not cpu.model.sse or not cpu.cr[4] & CR4_OSFXSR:
        return None
    mxcsr = cpu.rd32(linear + 24)
    if mxcsr & ~mxcsr_mask(cpu):
        raise CPUFault(GP, 0)
    return [mxcsr] + [sum(cpu.rd32(linear + 160 + 16 * i + 4 * part) << (32 * part) for part in range(4))
                      for i in range(8)]
