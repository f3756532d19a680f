"""tests/guests/bench/compare.py, the side-by-side figures of docs/performance.md:
its instruction formula against pcmachine's count of the same boot sector, its
timed pcmachine path, and emulators missing from PATH.  Small loop sizes keep it
to a few pcmachine runs; QEMU and Bochs are not run here."""

import importlib.util
import os
import platform
import sys

import pytest

from requirements import require_nasm

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guests", "bench")


@pytest.fixture(scope="module")
def compare():
    require_nasm()
    spec = importlib.util.spec_from_file_location("bench_compare", os.path.join(BENCH, "compare.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loop_formula_gives_the_bench_loops_counts(compare):
    # `machine bench`'s loops (docs/performance.md): set-up + one loop + HLT.
    assert 6 + compare.loop_instructions("realmode") + 1 == 7_002_513
    assert 3_094 + compare.loop_instructions("protected") + 1 == 7_005_600


@pytest.mark.parametrize("mode", ["realmode", "protected"])
def test_formula_matches_pcmachine(compare, mode, tmp_path):
    """pcmachine's I/O trace counts what the formula says between the marks, for
    sizes where every term of it differs (so a wrong coefficient shows)."""
    rounds, outer, inner = 3, 4, 7
    image = compare.assemble(str(tmp_path), mode, rounds, outer, inner)
    counted = compare.pcmachine_marked_count(sys.executable, image, str(tmp_path))
    assert counted == compare.marked_instructions(mode, rounds, outer, inner)


def test_pcmachine_rate(compare, tmp_path):
    """The timed path on this interpreter.  The long variant runs about a second
    longer than the short one (PyPy's start-up varies by some 0.3 s)."""
    emulator = [e for e in compare.emulators([sys.executable]) if e.key == "pcmachine"][0]
    assert compare.installed(emulator)
    rounds = (1, 4000) if platform.python_implementation() == "PyPy" else (1, 100)
    mips = compare.measure(emulator, "realmode", str(tmp_path), repeat=1, rounds=rounds, sizes=(20, 100))
    assert 0 < mips < 10_000


def test_missing_emulators_are_reported(compare, tmp_path, monkeypatch, capsys):
    # PATH with nasm only: QEMU and Bochs are "not installed", not errors.
    os.symlink(compare.shutil.which("nasm"), str(tmp_path / "nasm"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert compare.main(["qemu", "qemu-icount", "bochs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["emulator", "real-mode", "MIPS", "protected", "MIPS"]
    assert [line.split(None, 1)[0] for line in lines[1:]] == ["QEMU", "QEMU", "Bochs"]
    assert all(line.endswith("not installed") for line in lines[1:])


@pytest.mark.parametrize("argv, message", [
    (["--rounds", "3,2"], "give 0 < SHORT < LONG"),
    (["--sizes", "1,70000"], "give counts from 1 to 65535"),
    (["--repeat", "0"], "give 1 or more"),
    (["qemu", "vmware"], "unknown emulator 'vmware'"),
])
def test_bad_options_are_one_line_errors(compare, capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        compare.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
