"""PyPy's JIT settings (plugins/cpu/blockrun.py): the loop runner's loop is
compiled without loop peeling when the first CPU is built, and every loop
compiled after it is peeled as PyPy does by default.

Peeling the loop runner's loop doubled the bridges its guards on the next
closure need (FreeDOS to `A:\\>` 5.1 -> 4.1 s without); peeling every other loop
keeps tier 2's hot loops fast (the Debian boot took 322 s instead of ~210 with
peeling off everywhere).  A compiled loop is peeled when its trace has two
labels: the first iteration's and the loop's.  The probe imports `hashlib`
between the CPU module and the machine, as `pcmachine.media` does: when the
loop was compiled at import, that import made PyPy compile it again, peeled."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.python_implementation() != "PyPy", reason="PyPy's JIT")

#: Records each compiled loop's code name and labels, builds a machine whose CPU
#: runs a three-instruction loop 20,000 times through the loop runner, then makes
#: a loop of its own hot.
PROBE = """
import pypyjit
loops = []
def record(info):
    if info.type == "loop":
        code = info.greenkey[0]
        labels = [op.name for op in info.operations].count("label")
        loops.append((getattr(code, "co_name", "?"), labels))
pypyjit.set_compile_hook(record, True)
from pcmachine.plugins.cpu import CPU
import hashlib
from pcmachine.machine import Machine
from pcmachine.plugins.ram import RAM
machine = Machine.bare()
machine.add_component(RAM, "ram", {"size": 1 << 20})
machine.add_component(CPU, "cpu", {"model": "80486"})
machine.bus.memory[0x7C00:0x7C04] = bytes([0x40, 0x43, 0xEB, 0xFC])    # inc ax; inc bx; jmp $-2
machine.cpu.set_reg("cs", 0)
machine.cpu.set_reg("eip", 0x7C00)
machine.run_slice(60000)
def later_loop():
    total = 0
    for value in range(100000):
        total += value & 7
    return total
later_loop()
print(loops)
"""


def compiled_loops():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.splitlines()[-1])


def test_the_loop_runners_loop_is_compiled_once_without_peeling():
    assert [labels for name, labels in compiled_loops() if name == "loop_runner"] == [1]


def test_loops_compiled_after_it_are_peeled():
    assert ("later_loop", 2) in compiled_loops()
