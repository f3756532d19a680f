"""Binary floating point on Python integers, exact as the x87 computes it.

Values are kept as raw encodings (80-bit extended: sign, 15-bit exponent, 64-bit
significand with an explicit integer bit; 32- and 64-bit IEEE formats for memory).
Arithmetic works on the exact value `sig * 2**exp` and rounds once, with the
rounding mode (RC), precision control (24/53/64 bits), gradual underflow, the
masked responses for overflow and underflow, and the flags the x87 reports: the
exception bits IE DE ZE OE UE PE and C1 (the significand was rounded up).
Tininess is detected before rounding, as on x86 (SDM vol. 1, 4.9.1.5; QEMU's
softfloat sets the same for its x86 target).  No result ever goes through a host
float.
"""

from typing import NamedTuple, Optional, Tuple

# Exception flags, as in the x87 status word.
IE, DE, ZE, OE, UE, PE = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
SF = 0x40               # stack fault (with IE)
C1 = 0x200

# Rounding control (CW bits 10-11).
NEAREST, DOWN, UP, CHOP = 0, 1, 2, 3

EXP_MAX = 0x7FFF
BIAS = 16383
INTEGER_BIT = 1 << 63
QUIET_BIT = 1 << 62
FRACTION = INTEGER_BIT - 1
MANT_MASK = (1 << 64) - 1
SIGN_BIT = 1 << 79

POS_ZERO, NEG_ZERO = 0, SIGN_BIT
POS_INF = (EXP_MAX << 64) | INTEGER_BIT
NEG_INF = SIGN_BIT | POS_INF
INDEFINITE = SIGN_BIT | (EXP_MAX << 64) | INTEGER_BIT | QUIET_BIT   # the QNaN "real indefinite"

# Classes.
ZERO, DENORMAL, NORMAL, INFINITY, QNAN, SNAN, UNSUPPORTED = range(7)


class Format(NamedTuple):
    """A binary format: significand precision (with the integer bit), exponent
    bias and largest biased exponent of a finite number; `explicit`: the integer
    bit is stored (extended)."""

    precision: int
    bias: int
    exp_max: int
    explicit: bool

    @property
    def exp_bits(self) -> int:
        return (self.exp_max + 1).bit_length()


EXTENDED = Format(64, BIAS, 0x7FFE, True)
DOUBLE = Format(53, 1023, 0x7FE, False)
SINGLE = Format(24, 127, 0xFE, False)
PRECISION = {0: 24, 1: 24, 2: 53, 3: 64}     # PC field (1 is reserved: treated as 24)
REBIAS = 24576                               # unmasked OE/UE: the exponent is rebiased


def sign_of(raw: int) -> int:
    return raw >> 79


def classify(raw: int) -> int:
    exp = (raw >> 64) & EXP_MAX
    mant = raw & MANT_MASK
    if exp == 0:
        return ZERO if mant == 0 else DENORMAL
    if exp == EXP_MAX:
        if not mant & INTEGER_BIT:
            return UNSUPPORTED
        if mant & FRACTION == 0:
            return INFINITY
        return QNAN if mant & QUIET_BIT else SNAN
    return NORMAL if mant & INTEGER_BIT else UNSUPPORTED


def is_nan(raw: int) -> bool:
    return classify(raw) in (QNAN, SNAN)


def exact(raw: int) -> Tuple[int, int, int]:
    """(sign, significand, exponent) with value = significand * 2**exponent, for a
    zero, denormal or normal number."""
    exp = (raw >> 64) & EXP_MAX
    return raw >> 79, raw & MANT_MASK, max(exp, 1) - BIAS - 63


def make(sign: int, exp: int, mant: int) -> int:
    return (sign << 79) | (exp << 64) | mant


def quiet(raw: int) -> int:
    return raw | QUIET_BIT


class Result(NamedTuple):
    value: int
    flags: int


# ------------------------------------------------------------------ rounding
def round_value(sign: int, sig: int, exp: int, rc: int, precision: int = 64,
                fmt: Format = EXTENDED, masked: int = 0x3F) -> Result:
    """Round sign * sig * 2**exp (sig >= 0; a set lowest bit may stand for any
    nonzero remainder below it) to `precision` bits in `fmt`; returns the raw
    value in `fmt`'s encoding (80 bits for EXTENDED) and the flags.  `masked`:
    the exception mask bits (unmasked OE/UE rebias the exponent by 24576)."""
    if sig == 0:
        return Result(_encode(fmt, sign, 0, 0), 0)
    emin = 1 - fmt.bias
    flags = 0
    leading = exp + sig.bit_length() - 1
    tiny = leading < emin
    if tiny and not masked & UE:
        exp += REBIAS
        leading += REBIAS
        tiny = False
        flags |= UE
    ulp = max(leading, emin) - (precision - 1)
    inexact = up = False
    if exp >= ulp:
        q = sig << (exp - ulp)
    else:
        shift = ulp - exp
        q = sig >> shift
        rem = sig & ((1 << shift) - 1)
        if rem:
            inexact = True
            half = 1 << (shift - 1)
            up = _round_up(rc, sign, bool(q & 1), rem > half, rem == half)
            q += up
    if q >> precision:                       # the rounding carried out: one bit more
        q >>= 1
        ulp += 1
    if inexact:
        flags |= PE | (C1 if up else 0) | (UE if tiny else 0)
    if q == 0:
        return Result(_encode(fmt, sign, 0, 0), flags)
    leading = ulp + q.bit_length() - 1
    biased = leading + fmt.bias
    if biased > fmt.exp_max:
        if masked & OE:
            flags |= OE | PE | (C1 if _overflow_up(rc, sign) else 0)
            return Result(_overflow(fmt, sign, rc, precision), flags)
        biased -= REBIAS
        leading -= REBIAS
        ulp -= REBIAS
        flags |= OE
    stored = max(leading, emin) - (fmt.precision - 1)      # the exponent of the stored significand's unit
    mant = q << (ulp - stored) if ulp >= stored else q >> (stored - ulp)
    return Result(_encode(fmt, sign, biased if leading >= emin else 0, mant), flags)


def _round_up(rc: int, sign: int, odd: bool, above_half: bool, at_half: bool) -> bool:
    if rc == NEAREST:
        return above_half or (at_half and odd)
    if rc == CHOP:
        return False
    if rc == DOWN:
        return bool(sign)
    return not sign


def _overflow_up(rc: int, sign: int) -> bool:
    return rc == NEAREST or (rc == UP and not sign) or (rc == DOWN and sign)


def _overflow(fmt: Format, sign: int, rc: int, precision: int) -> int:
    """Masked overflow: infinity, or the largest finite number of the precision
    when the rounding direction points towards zero (SDM vol. 1, table 4-10)."""
    if _overflow_up(rc, sign):
        return _encode(fmt, sign, fmt.exp_max + 1, 1 << (fmt.precision - 1))
    largest = ((1 << precision) - 1) << (fmt.precision - precision)
    return _encode(fmt, sign, fmt.exp_max, largest)


def _encode(fmt: Format, sign: int, biased: int, mant: int) -> int:
    width = fmt.exp_bits
    if fmt.explicit:
        return (sign << 79) | (biased << 64) | mant
    fraction = mant & ((1 << (fmt.precision - 1)) - 1)
    return (sign << (width + fmt.precision - 1)) | (biased << (fmt.precision - 1)) | fraction


# ------------------------------------------------------------------ memory formats
def from_ieee(raw: int, fmt: Format, keep_snan: bool = False) -> Tuple[int, int]:
    """A single/double from memory as an 80-bit value (exact); flags: DE for a
    denormal, IE for a signalling NaN (which loads quieted).  `keep_snan`: the
    operand of an arithmetic or compare instruction, which applies the NaN
    rules itself (an SNaN there loses to a QNaN, SDM table 4-7)."""
    p = fmt.precision - 1
    sign = raw >> (p + fmt.exp_bits)
    biased = (raw >> p) & ((1 << fmt.exp_bits) - 1)
    fraction = raw & ((1 << p) - 1)
    if biased == (1 << fmt.exp_bits) - 1:
        mant = INTEGER_BIT | (fraction << (63 - p))
        if fraction and not fraction >> (p - 1) and not keep_snan:
            return make(sign, EXP_MAX, mant | QUIET_BIT), IE
        return make(sign, EXP_MAX, mant), 0
    if biased == 0:
        if fraction == 0:
            return sign << 79, 0
        value = round_value(sign, fraction, 1 - fmt.bias - p, NEAREST).value
        return value, DE
    return make(sign, biased - fmt.bias + BIAS, (INTEGER_BIT | (fraction << (63 - p)))), 0


def to_ieee(raw: int, fmt: Format, rc: int, masked: int) -> Result:
    """An 80-bit value rounded to a single/double for a store."""
    kind = classify(raw)
    p = fmt.precision - 1
    sign = raw >> 79
    top = (1 << fmt.exp_bits) - 1
    if kind in (QNAN, SNAN):
        fraction = ((raw & FRACTION) >> (63 - p)) | (1 << (p - 1))
        return Result((sign << (p + fmt.exp_bits)) | (top << p) | fraction, IE if kind == SNAN else 0)
    if kind == UNSUPPORTED:
        return Result((1 << (p + fmt.exp_bits)) | (top << p) | (1 << (p - 1)), IE)
    if kind == INFINITY:
        return Result((sign << (p + fmt.exp_bits)) | (top << p), 0)
    s, sig, exp = exact(raw)
    flags = DE if kind == DENORMAL else 0
    result = round_value(s, sig, exp, rc, fmt.precision, fmt, masked)
    return Result(result.value, result.flags | flags)


def from_int(value: int) -> int:
    """An integer as an exact 80-bit value (every int64 fits)."""
    if value == 0:
        return 0
    sign = 1 if value < 0 else 0
    return round_value(sign, abs(value), 0, NEAREST).value


def to_int(raw: int, bits: int, rc: int) -> Result:
    """FIST: round to an integer of `bits` bits; out of range or NaN: IE and the
    integer indefinite (the most negative value) as the masked response."""
    indefinite = 1 << (bits - 1)
    kind = classify(raw)
    if kind in (QNAN, SNAN, INFINITY, UNSUPPORTED):
        return Result(indefinite, IE)
    if kind == ZERO:
        return Result(0, 0)
    sign, sig, exp = exact(raw)
    flags = DE if kind == DENORMAL else 0
    if exp >= 0:
        magnitude, inexact, up = sig << exp, False, False
    else:
        shift = -exp
        magnitude = sig >> shift if shift < 200 else 0
        rem = sig & ((1 << shift) - 1) if shift < 200 else sig
        half = 1 << (shift - 1)
        inexact = rem != 0
        up = _round_up(rc, sign, bool(magnitude & 1), rem > half, rem == half) if inexact else False
        magnitude += up
    value = -magnitude if sign else magnitude
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        return Result(indefinite, IE)
    if inexact:
        flags |= PE | (C1 if up else 0)
    return Result(value & ((1 << bits) - 1), flags)


# ------------------------------------------------------------------ arithmetic
def nan_result(a: int, b: Optional[int] = None) -> Result:
    """The x87 NaN rules (SDM vol. 1, table 4-7): an SNaN raises IE and is
    quieted; of an SNaN and a QNaN the QNaN wins; of two NaNs of the same kind
    the one with the larger significand (the sign breaking ties towards the
    positive)."""
    nans = [x for x in (a, b) if x is not None and is_nan(x)]
    flags = IE if any(classify(x) == SNAN for x in nans) else 0
    if any(classify(x) == UNSUPPORTED for x in (a, b) if x is not None):
        return Result(INDEFINITE, IE)
    if len(nans) == 2:
        x, y = nans
        if classify(x) != classify(y):          # an SNaN and a QNaN: the QNaN
            return Result(x if classify(x) == QNAN else y, flags)
        mx, my = x & MANT_MASK, y & MANT_MASK
        winner = x if mx > my or (mx == my and not x >> 79) else y
        return Result(quiet(winner), flags)
    return Result(quiet(nans[0]), flags)


def _special(a: int, b: int) -> Optional[Result]:
    ka, kb = classify(a), classify(b)
    if ka == UNSUPPORTED or kb == UNSUPPORTED:
        return Result(INDEFINITE, IE)
    if ka in (QNAN, SNAN) or kb in (QNAN, SNAN):
        return nan_result(a, b)
    return None


def _denormal_flag(*values: int) -> int:
    return DE if any(classify(v) == DENORMAL for v in values) else 0


def add(a: int, b: int, rc: int, precision: int, masked: int, subtract: bool = False) -> Result:
    special = _special(a, b)            # a NaN keeps its own sign, even when subtracted
    if special:
        return special
    if subtract:
        b ^= SIGN_BIT
    ka, kb = classify(a), classify(b)
    if ka == INFINITY or kb == INFINITY:
        if ka == INFINITY and kb == INFINITY and (a ^ b) >> 79:
            return Result(INDEFINITE, IE)
        return Result(a if ka == INFINITY else b, 0)
    flags = _denormal_flag(a, b)
    sa, ma, ea = exact(a)
    sb, mb, eb = exact(b)
    if ma == 0 and mb == 0:
        sign = sa & sb if rc != DOWN else sa | sb
        return Result(sign << 79, flags)
    if ma == 0:
        return _rounded(sb, mb, eb, rc, precision, masked, flags)
    if mb == 0:
        return _rounded(sa, ma, ea, rc, precision, masked, flags)
    # Far apart: the smaller operand only decides rounding (a sticky bit).
    if ea - eb > 140:
        mb, eb = 1, ea - 140
    elif eb - ea > 140:
        ma, ea = 1, eb - 140
    e = min(ea, eb)
    va = (ma << (ea - e)) * (-1 if sa else 1)
    vb = (mb << (eb - e)) * (-1 if sb else 1)
    total = va + vb
    if total == 0:
        return Result((1 << 79) if rc == DOWN else 0, flags)
    return _rounded(1 if total < 0 else 0, abs(total), e, rc, precision, masked, flags)


def _rounded(sign: int, sig: int, exp: int, rc: int, precision: int, masked: int, flags: int) -> Result:
    result = round_value(sign, sig, exp, rc, precision, EXTENDED, masked)
    return Result(result.value, result.flags | flags)


def mul(a: int, b: int, rc: int, precision: int, masked: int) -> Result:
    special = _special(a, b)
    if special:
        return special
    ka, kb = classify(a), classify(b)
    sign = (a ^ b) >> 79
    if ka == INFINITY or kb == INFINITY:
        if ka == ZERO or kb == ZERO:
            return Result(INDEFINITE, IE)
        return Result((sign << 79) | POS_INF, 0)
    flags = _denormal_flag(a, b)
    _, ma, ea = exact(a)
    _, mb, eb = exact(b)
    if ma == 0 or mb == 0:
        return Result(sign << 79, flags)
    return _rounded(sign, ma * mb, ea + eb, rc, precision, masked, flags)


def div(a: int, b: int, rc: int, precision: int, masked: int) -> Result:
    """a / b."""
    special = _special(a, b)
    if special:
        return special
    ka, kb = classify(a), classify(b)
    sign = (a ^ b) >> 79
    if ka == INFINITY:
        if kb == INFINITY:
            return Result(INDEFINITE, IE)
        return Result((sign << 79) | POS_INF, 0)
    if kb == INFINITY:
        return Result(sign << 79, _denormal_flag(a))
    flags = _denormal_flag(a, b)
    _, ma, ea = exact(a)
    _, mb, eb = exact(b)
    if mb == 0:
        if ma == 0:
            return Result(INDEFINITE, IE)
        return Result((sign << 79) | POS_INF, ZE | flags)
    if ma == 0:
        return Result(sign << 79, flags)
    shift = max(0, mb.bit_length() - ma.bit_length() + 70)
    q, r = divmod(ma << shift, mb)
    q = (q << 1) | (1 if r else 0)          # sticky
    return _rounded(sign, q, ea - eb - shift - 1, rc, precision, masked, flags)


def sqrt(a: int, rc: int, precision: int, masked: int) -> Result:
    kind = classify(a)
    if kind in (QNAN, SNAN, UNSUPPORTED):
        return nan_result(a) if kind != UNSUPPORTED else Result(INDEFINITE, IE)
    sign = a >> 79
    if kind == ZERO:
        return Result(a, 0)
    if sign:
        return Result(INDEFINITE, IE)
    if kind == INFINITY:
        return Result(a, 0)
    flags = _denormal_flag(a)
    _, m, e = exact(a)
    shift = max(0, 140 - m.bit_length())
    if (e - shift) & 1:
        shift += 1
    scaled = m << shift
    root = _isqrt(scaled)
    sticky = 1 if root * root != scaled else 0
    return _rounded(0, (root << 1) | sticky, (e - shift) // 2 - 1, rc, precision, masked, flags)


def _isqrt(n: int) -> int:
    if n == 0:
        return 0
    x = 1 << ((n.bit_length() + 1) // 2)
    while True:
        y = (x + n // x) // 2
        if y >= x:
            return x
        x = y


def compare(a: int, b: int, quiet_nans: bool) -> Tuple[Optional[int], int]:
    """(-1, 0, 1, or None for unordered; flags).  FCOM raises IE on any NaN,
    FUCOM only on an SNaN."""
    ka, kb = classify(a), classify(b)
    if UNSUPPORTED in (ka, kb):
        return None, IE
    if ka in (QNAN, SNAN) or kb in (QNAN, SNAN):
        signalling = SNAN in (ka, kb) or not quiet_nans
        return None, IE if signalling else 0
    flags = _denormal_flag(a, b)
    va, vb = _sort_key(a, ka), _sort_key(b, kb)
    return (va > vb) - (va < vb), flags


def _sort_key(raw: int, kind: int) -> Tuple[int, int, int]:
    """(sign as -1/0/1, exponent, significand) ordered like the values; the last
    two are negated for negative numbers."""
    sign = -1 if raw >> 79 else 1
    if kind == ZERO:
        return (0, 0, 0)
    if kind == INFINITY:
        return (sign, sign * (1 << 20), 0)
    _, m, e = exact(raw)
    n = m.bit_length()
    return (sign, sign * (e + n - 1), sign * (m << (64 - n)))


def round_to_integer(a: int, rc: int, masked: int) -> Result:
    """FRNDINT: round to an integral value in the current rounding mode."""
    kind = classify(a)
    if kind in (QNAN, SNAN, UNSUPPORTED):
        return nan_result(a) if kind != UNSUPPORTED else Result(INDEFINITE, IE)
    if kind in (ZERO, INFINITY):
        return Result(a, 0)
    sign, m, e = exact(a)
    flags = _denormal_flag(a)
    if e >= 0:
        return Result(a, flags)
    shift = -e
    q = m >> shift if shift < 200 else 0
    rem = m & ((1 << shift) - 1) if shift < 200 else m
    half = 1 << (shift - 1)
    if rem:
        flags |= PE
        if _round_up(rc, sign, bool(q & 1), rem > half, rem == half):
            q += 1
            flags |= C1
    if q == 0:
        return Result(sign << 79, flags)
    return Result(round_value(sign, q, 0, NEAREST).value, flags)
