"""PyPy's JIT settings (plugins/cpu/blockrun.py `_tune_pypy_jit`): the loop
runner's loop is compiled when the CPU module is imported, without loop peeling,
and every loop compiled after it is peeled as PyPy does by default.

Peeling the loop runner's loop doubled the bridges its guards on the next
closure need (FreeDOS to `A:\\>` 5.1 -> 4.1 s without); peeling every other loop
keeps tier 2's hot loops fast (the Debian boot took 322 s instead of ~210 with
peeling off everywhere).  A compiled loop is peeled when its trace has two
labels: the first iteration's and the loop's."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.python_implementation() != "PyPy", reason="PyPy's JIT")

#: Imports the CPU's block runners with a compile hook that records each loop's
#: code name and labels, then makes a loop of its own hot.
PROBE = """
import pypyjit
loops = []
def record(info):
    if info.type == "loop":
        code = info.greenkey[0]
        labels = [op.name for op in info.operations].count("label")
        loops.append((getattr(code, "co_name", "?"), labels))
pypyjit.set_compile_hook(record, True)
from pcmachine.plugins.cpu import blockrun
def later_loop():
    total = 0
    for value in range(100000):
        total += value & 7
    return total
later_loop()
print(sorted(set(loops)))
"""


def compiled_loops():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return dict(eval(result.stdout.splitlines()[-1]))


def test_the_loop_runners_loop_is_compiled_at_import_without_peeling():
    assert compiled_loops().get("loop_runner") == 1


def test_loops_compiled_after_it_are_peeled():
    assert compiled_loops().get("later_loop") == 2
