"""Instructions whose textbook formula passes 2^63: MUL and IMUL of 32-bit
operands, SHLD/SHRD.  Their results and flags against values computed here, and,
on PyPy, the representation of what they leave behind.

PyPy keeps an int that once needed more than 64 bits, and everything computed
from it, as a big int however small it becomes.  A SHLD built on a 64-bit
`(a << 32) | b` left the flags a big int in Linux's bignum code, and every later
flag operation of the run left the JIT's machine-word code (the crypto self-tests
of the Debian kernel ran about 20 % slower).  On CPython the representation test
has nothing to check and skips."""

import platform

import pytest

from cpu_support import run_code
from pcmachine.plugins.cpu.state import CF, OF

CASES = [
    # (name, code, registers after it, CF and OF after it)
    ("mul", "mov eax, 0xFFFFFFFF\nmov ebx, 0xFFFFFFFE\nmul ebx",
     {"eax": 0x00000002, "edx": 0xFFFFFFFD}, CF | OF),
    ("mul small", "mov eax, 0x10000\nmov ebx, 0x10000\nmul ebx",
     {"eax": 0, "edx": 1}, CF | OF),
    ("mul no overflow", "mov eax, 0x12345\nmov ebx, 0x321\nmul ebx",
     {"eax": 0x12345 * 0x321, "edx": 0}, 0),
    ("imul negative", "mov eax, 0x80000000\nmov ebx, 0x7FFFFFFF\nimul ebx",
     {"eax": 0x80000000, "edx": 0xC0000000}, CF | OF),
    ("imul small negative", "mov eax, -3\nmov ebx, 5\nimul ebx",
     {"eax": 0xFFFFFFF1, "edx": 0xFFFFFFFF}, 0),
    ("shld 31", "mov eax, 0xFFFFFFFF\nmov ebx, 0xFFFFFFFF\nshld eax, ebx, 31",
     {"eax": 0xFFFFFFFF}, CF),
    ("shld 4", "mov eax, 0x9ABCDEF0\nmov ebx, 0x12345678\nshld eax, ebx, 4",
     {"eax": 0xABCDEF01}, CF),
    ("shrd 31", "mov eax, 0xFFFFFFFF\nmov ebx, 0xFFFFFFFF\nshrd eax, ebx, 31",
     {"eax": 0xFFFFFFFF}, CF),
    ("shrd 4", "mov eax, 0x9ABCDEF0\nmov ebx, 0x12345678\nshrd eax, ebx, 4",
     {"eax": 0x89ABCDEF}, 0),
    ("shld cl", "mov eax, 0x40000001\nmov ebx, 0xC0000000\nmov cl, 2\nshld eax, ebx, cl",
     {"eax": 0x00000007}, CF),
    ("shld 16-bit 20", "mov ax, 0x8001\nmov bx, 0xFFFF\nshld ax, bx, 20",
     {"eax": 0xFFF8}, CF),
]


def run(code: str):
    machine = run_code(code + "\nhlt", model="pentiumpro")
    return machine.cpu


@pytest.mark.parametrize("name, code, registers, flags", CASES, ids=[c[0] for c in CASES])
def test_result_and_flags(name, code, registers, flags):
    cpu = run(code)
    for register, value in registers.items():
        assert cpu.get_reg(register) == value, (register, hex(cpu.get_reg(register)))
    assert cpu.get_eflags() & (CF | OF) == flags & (CF | OF)


@pytest.mark.skipif(platform.python_implementation() != "PyPy",
                    reason="CPython has one int representation")
@pytest.mark.parametrize("name, code, registers, flags", CASES, ids=[c[0] for c in CASES])
def test_no_big_ints_left_behind(name, code, registers, flags):
    import __pypy__
    cpu = run(code + "\npushf\npop dx")      # materialise the flags as well
    values = {"flags": cpu.flags, "lf_a": cpu.lf_a, "lf_b": cpu.lf_b, "lf_res": cpu.lf_res}
    values.update(("reg%d" % index, value) for index, value in enumerate(cpu.regs))
    big = [name for name, value in values.items()
           if __pypy__.internal_repr(value).startswith("<W_LongObject")]
    assert big == []
