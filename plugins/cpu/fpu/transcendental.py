"""The x87's scaling, remainder and transcendental instructions.

FSCALE, FXTRACT, FPREM and FPREM1 are exact (integers).  The transcendental
functions are evaluated with mpmath at 160 bits and then rounded once in the
current rounding mode and precision, so results are correctly rounded but for
ties closer than 2**-160 (the hardware guarantees about one unit in the last
place).  FSIN/FCOS/FSINCOS/FPTAN reduce their argument with the x87's 66-bit pi
as the hardware does (SDM vol. 1, 8.3.10), so for large arguments they give the
hardware's results, not the mathematically exact ones.  Arguments beyond 2**63
set C2 and leave the register as it was, as the SDM says.  The precision
control does not apply to these instructions (SDM vol. 1, 8.1.5.2).
"""

from typing import TYPE_CHECKING, Optional

from . import float80 as f
from .unit import X87

if TYPE_CHECKING:
    import mpmath
# Elsewhere mpmath is imported by the functions that use it: loading it is a
# tenth of the emulator's start-up on PyPy, and most guests never run an x87
# transcendental instruction.

WORKING_PRECISION = 160
TRIG_LIMIT_EXPONENT = 63            # |x| >= 2**63: C2=1, nothing changes
#: pi/2 as the x87 holds it: 66 bits of pi, C90FDAA2 2168C234 C * 2**-66 (SDM 8.3.10)
PI66_HALF = (0xC90FDAA22168C234C >> 2, -65)


# ------------------------------------------------------------------ exact ones
def fscale(fpu: X87) -> None:
    """ST0 = ST0 * 2**trunc(ST1)."""
    a, b = fpu.get(0), fpu.get(1)
    if _nan_or_unsupported(fpu, 0, a, b):
        return
    ka, kb = f.classify(a), f.classify(b)
    if kb == f.INFINITY:
        if (ka == f.ZERO and not b >> 79) or (ka == f.INFINITY and b >> 79):
            _store(fpu, 0, f.Result(f.INDEFINITE, f.IE))
        elif ka in (f.ZERO, f.INFINITY):
            _store(fpu, 0, f.Result(a, 0))
        else:
            _store(fpu, 0, f.Result((a & f.SIGN_BIT) | (0 if b >> 79 else f.POS_INF), 0))
        return
    if ka in (f.ZERO, f.INFINITY):
        _store(fpu, 0, f.Result(a, 0))
        return
    # trunc(ST1), limited to what still overflows/underflows every operand
    b_sign, b_m, b_e = f.exact(b)
    n = 0 if kb == f.ZERO else min(b_m >> -b_e if b_e < 0 else b_m << min(b_e, 32), 1 << 20)
    n = -n if b_sign else n
    sign, m, e = f.exact(a)
    # the precision control does not apply to FSCALE (SDM vol. 1, 8.1.5.2)
    result = f.round_value(sign, m, e + n, fpu.rc, 64, f.EXTENDED, fpu.masked)
    _store(fpu, 0, f.Result(result.value, result.flags | (f.DE if ka == f.DENORMAL else 0)))


def fxtract(fpu: X87) -> None:
    """ST0 -> exponent (as a real), then push the significand (exponent 0)."""
    a = fpu.get(0)
    kind = f.classify(a)
    if kind in (f.QNAN, f.SNAN, f.UNSUPPORTED):
        result = f.nan_result(a) if kind != f.UNSUPPORTED else f.Result(f.INDEFINITE, f.IE)
        if not fpu.signal(result.flags):
            fpu.set(0, result.value)
            fpu.push(result.value)
        return
    if kind == f.ZERO:
        if fpu.signal(f.ZE):
            return
        fpu.set(0, f.NEG_INF)
        fpu.push(a)
        return
    if kind == f.INFINITY:
        fpu.set(0, f.POS_INF)
        fpu.push(a)
        return
    sign, m, e = f.exact(a)
    leading = e + m.bit_length() - 1
    fpu.signal(f.DE if kind == f.DENORMAL else 0)
    fpu.set(0, f.from_int(leading))
    fpu.push(f.round_value(sign, m, -(m.bit_length() - 1), f.NEAREST).value)


def fprem(fpu: X87) -> None:
    _remainder(fpu, nearest=False)


def fprem1(fpu: X87) -> None:
    _remainder(fpu, nearest=True)


def _remainder(fpu: X87, nearest: bool) -> None:
    """Partial remainder (SDM vol. 2, FPREM/FPREM1): with an exponent difference
    below 64 the exact remainder and C0 C3 C1 = quotient bits 2 1 0 (C2=0);
    otherwise a partial reduction by 2**(D-N), N = 32 + D mod 32, with C2=1."""
    a, b = fpu.get(0), fpu.get(1)
    ka, kb = f.classify(a), f.classify(b)
    if ka in (f.QNAN, f.SNAN, f.UNSUPPORTED) or kb in (f.QNAN, f.SNAN, f.UNSUPPORTED):
        _store(fpu, 0, f.nan_result(a, b) if f.UNSUPPORTED not in (ka, kb) else f.Result(f.INDEFINITE, f.IE))
        return
    if ka == f.INFINITY or kb == f.ZERO:
        _store(fpu, 0, f.Result(f.INDEFINITE, f.IE))
        return
    if ka == f.ZERO or kb == f.INFINITY:
        fpu.set_condition(0, 0, 0, 0)
        return
    sa, ma, ea = f.exact(a)
    _, mb, eb = f.exact(b)
    difference = (ea + ma.bit_length()) - (eb + mb.bit_length())
    e = min(ea, eb)
    na, nb = ma << (ea - e), mb << (eb - e)
    if difference < 64:
        q, r = divmod(na, nb)
        if nearest and (2 * r > nb or (2 * r == nb and q & 1)):
            q += 1
            r -= nb
        flags = f.DE if f.DENORMAL in (ka, kb) else 0
        if fpu.signal(flags):
            return
        sign = sa ^ (1 if r < 0 else 0)
        value = f.round_value(sign, abs(r), e, f.NEAREST).value if r else (sa << 79)
        fpu.set(0, value)
        fpu.set_condition((q >> 1) & 1, 0, q & 1, (q >> 2) & 1)
        return
    n = 32 + difference % 32
    scale = difference - n
    q = (na // (nb << scale)) if not nearest else (na // (nb << scale))
    r = na - q * (nb << scale)
    fpu.set(0, f.round_value(sa, r, e, f.NEAREST).value if r else (sa << 79))
    s = fpu.state
    s.sw = (s.sw & ~0x4700) | 0x400           # C2=1: incomplete; C0 C1 C3 cleared


# ------------------------------------------------------------------ transcendental
def _mpf(raw: int) -> "mpmath.mpf":
    import mpmath
    sign, m, e = f.exact(raw)
    return mpmath.mpf((-m if sign else m, e))


def _rounded(fpu: X87, value: "mpmath.mpf") -> f.Result:
    sign, man, exp, _ = value._mpf_
    if man == 0:
        return f.Result(sign << 79, 0)
    result = f.round_value(sign, int(man), exp, fpu.rc, 64, f.EXTENDED, fpu.masked)
    return f.Result(result.value, result.flags | f.PE)


def _store(fpu: X87, index: int, result: f.Result) -> bool:
    if fpu.signal(result.flags):
        return False
    fpu.set(index, result.value)
    return True


def _nan_or_unsupported(fpu: X87, index: int, *values: int) -> bool:
    kinds = [f.classify(v) for v in values]
    if f.UNSUPPORTED in kinds:
        _store(fpu, index, f.Result(f.INDEFINITE, f.IE))
        return True
    if f.QNAN in kinds or f.SNAN in kinds:
        _store(fpu, index, f.nan_result(*values))
        return True
    return False


def _reduced(raw: int, function: str) -> "mpmath.mpf":
    """sin, cos or tan of a finite |x| < 2**63 after the hardware's reduction:
    x = r + k * pi66/2 exactly, then the function of r shifted by k quadrants."""
    import mpmath
    sign, m, e = f.exact(raw)
    p_man, p_exp = PI66_HALF
    if e >= p_exp:
        k, rest = divmod(m << (e - p_exp), p_man)
        k += 2 * rest >= p_man
    else:
        k = 0                                  # |x| < 2**-1 < pi/4
    k = -k if sign else k
    with mpmath.workprec(400):                 # exact: x and k * pi66/2 need < 200 bits
        r = _mpf(raw) - k * mpmath.mpf(PI66_HALF)
    with mpmath.workprec(WORKING_PRECISION):
        sine, cosine = mpmath.sin(r), mpmath.cos(r)
        quadrant = k & 3
        if function == "tan":
            return sine / cosine if quadrant in (0, 2) else -cosine / sine
        if function == "cos":
            sine, cosine, quadrant = cosine, -sine, quadrant
        return (sine, cosine, -sine, -cosine)[quadrant]


def _trig(fpu: X87, function: str, zero_keeps: bool) -> Optional[f.Result]:
    """Common checks of FSIN/FCOS/FPTAN/FSINCOS: None when the instruction is done."""
    a = fpu.get(0)
    if _nan_or_unsupported(fpu, 0, a):
        return None
    kind = f.classify(a)
    if kind == f.INFINITY:
        _store(fpu, 0, f.Result(f.INDEFINITE, f.IE))
        return None
    if kind != f.ZERO and ((a >> 64) & f.EXP_MAX) - f.BIAS >= TRIG_LIMIT_EXPONENT:
        fpu.state.sw |= 0x400                  # C2: out of range, ST0 unchanged
        return None
    fpu.state.sw &= ~0x400
    if kind == f.ZERO:
        return f.Result(a if zero_keeps else 0x3FFF8000000000000000, 0)   # cos(0) = 1 exactly
    return _rounded(fpu, _reduced(a, function))


def fsin(fpu: X87) -> None:
    result = _trig(fpu, "sin", True)
    if result is not None:
        _store(fpu, 0, result)


def fcos(fpu: X87) -> None:
    result = _trig(fpu, "cos", False)
    if result is not None:
        _store(fpu, 0, result)


def fptan(fpu: X87) -> None:
    result = _trig(fpu, "tan", True)
    if result is not None and _store(fpu, 0, result):
        fpu.push(0x3FFF8000000000000000)


def fsincos(fpu: X87) -> None:
    a = fpu.get(0)
    sine = _trig(fpu, "sin", True)
    if sine is None:
        return
    cosine = _rounded(fpu, _reduced(a, "cos")) if f.classify(a) != f.ZERO else f.Result(0x3FFF8000000000000000, 0)
    if fpu.signal(sine.flags | cosine.flags):
        return
    fpu.set(0, sine.value)
    fpu.push(cosine.value)


def fpatan(fpu: X87) -> None:
    """ST1 = arctan(ST1 / ST0) in the quadrant of (ST0, ST1), pop."""
    import mpmath
    x, y = fpu.get(0), fpu.get(1)
    if _nan_or_unsupported(fpu, 1, y, x):
        fpu.pop()
        return
    with mpmath.workprec(WORKING_PRECISION):
        mx = mpmath.inf if x == f.POS_INF else -mpmath.inf if x == f.NEG_INF else _mpf(x)
        my = mpmath.inf if y == f.POS_INF else -mpmath.inf if y == f.NEG_INF else _mpf(y)
        if f.classify(x) == f.ZERO and f.classify(y) == f.ZERO:
            # atan2 of signed zeros (SDM table): +-0 or +-pi by the signs.
            value = (mpmath.pi if x >> 79 else mpmath.mpf(0))
            result = _rounded(fpu, value) if x >> 79 else f.Result(0, 0)
            result = f.Result(result.value | (y & f.SIGN_BIT), result.flags)
        else:
            result = _rounded(fpu, mpmath.atan2(my, mx))
    if _store(fpu, 1, result):
        fpu.pop()


def f2xm1(fpu: X87) -> None:
    """ST0 = 2**ST0 - 1 (defined for -1 <= ST0 <= 1)."""
    import mpmath
    a = fpu.get(0)
    if _nan_or_unsupported(fpu, 0, a):
        return
    kind = f.classify(a)
    if kind == f.ZERO:
        return
    if kind == f.INFINITY:
        _store(fpu, 0, f.Result(a if not a >> 79 else 0xBFFF8000000000000000, 0))
        return
    with mpmath.workprec(WORKING_PRECISION):
        _store(fpu, 0, _rounded(fpu, mpmath.powm1(2, _mpf(a))))


def fyl2x(fpu: X87) -> None:
    _log(fpu, plus_one=False)


def fyl2xp1(fpu: X87) -> None:
    _log(fpu, plus_one=True)


def _log(fpu: X87, plus_one: bool) -> None:
    """ST1 = ST1 * log2(ST0) (FYL2XP1: log2(ST0 + 1)), pop."""
    import mpmath
    x, y = fpu.get(0), fpu.get(1)
    if _nan_or_unsupported(fpu, 1, x, y):
        fpu.pop()
        return
    kx, ky = f.classify(x), f.classify(y)
    if kx in (f.INFINITY,) or ky in (f.INFINITY,):
        result = _log_infinities(x, y, kx, ky, plus_one)
    elif not plus_one and x >> 79 and kx != f.ZERO:
        result = f.Result(f.INDEFINITE, f.IE)
    elif not plus_one and kx == f.ZERO:
        if ky == f.ZERO:
            result = f.Result(f.INDEFINITE, f.IE)
        else:
            result = f.Result(((y ^ f.SIGN_BIT) & f.SIGN_BIT) | f.POS_INF, f.ZE)
    elif ky == f.ZERO or (plus_one and kx == f.ZERO):
        sign = (x ^ y) >> 79 if not (not plus_one and not x >> 79 and _below_one(x)) else 1 ^ (y >> 79)
        result = f.Result(sign << 79, 0)
    else:
        with mpmath.workprec(WORKING_PRECISION):
            mx = _mpf(x)
            argument = mx + 1 if plus_one else mx
            if argument <= 0:
                result = f.Result(f.INDEFINITE, f.IE)
            else:
                result = _rounded(fpu, _mpf(y) * mpmath.log(argument, 2))
    if _store(fpu, 1, result):
        fpu.pop()


def _below_one(x: int) -> bool:
    return ((x >> 64) & f.EXP_MAX) < f.BIAS


def _log_infinities(x: int, y: int, kx: int, ky: int, plus_one: bool) -> f.Result:
    import mpmath
    if kx == f.INFINITY:
        if x >> 79 or ky == f.ZERO:
            return f.Result(f.INDEFINITE, f.IE)
        return f.Result((y & f.SIGN_BIT) | f.POS_INF, 0)
    # y infinite, x finite: log2(x) decides the sign (0 -> invalid).
    if kx == f.ZERO and plus_one:
        return f.Result(f.INDEFINITE, f.IE)
    if x >> 79 and not plus_one:
        return f.Result(f.INDEFINITE, f.IE)
    with mpmath.workprec(WORKING_PRECISION):
        mx = _mpf(x)
        log = mpmath.log(mx + 1 if plus_one else mx, 2) if (mx + 1 if plus_one else mx) > 0 else None
    if log is None:
        return f.Result(f.INDEFINITE, f.IE)
    if log == 0:
        return f.Result(f.INDEFINITE, f.IE)
    sign = (y >> 79) ^ (1 if log < 0 else 0)
    return f.Result((sign << 79) | f.POS_INF, 0)
