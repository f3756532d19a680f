"""The SingleStepTests hardware vectors through `machine cputest`."""

import os

import pytest

from pcmachine import cputest

from requirements import require_shared

VECTORS = require_shared("cputests")
V286 = require_shared("cputests", "80286", "v1_real_mode")
V386 = require_shared("cputests", "80386-sample", "v1_ex_real_mode")


def test_all_80286_vectors_pass(capsys: pytest.CaptureFixture) -> None:
    assert cputest.main([V286]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "8125 passed, 0 failed"


def test_80386ex_sample_passes(capsys: pytest.CaptureFixture) -> None:
    assert cputest.main([V386]) == 0
    assert capsys.readouterr().out.strip().endswith("25 passed, 0 failed")


@pytest.mark.slow
def test_286_vectors_on_a_386_differ_only_where_documented(capsys: pytest.CaptureFixture) -> None:
    """A 386 rejects LOCK on non-lockable forms (#UD) and faults the same way
    otherwise; POPF/IRET compare only bits 0-11.  The README lists these."""
    cputest.main(["--model", "80386", V286])
    out = capsys.readouterr().out.strip().splitlines()
    failed = int(out[-1].split(",")[1].split()[0])
    assert 0 < failed < 0.03 * 8125


def test_failures_are_reported_with_disassembly(tmp_path, capsys: pytest.CaptureFixture) -> None:
    """A corrupted expectation must fail, name the instruction and the difference."""
    import gzip
    import json
    with gzip.open(os.path.join(V286, "40.json.gz"), "rt") as handle:
        tests = json.load(handle)[:2]
    tests[0]["final"]["regs"]["ax"] = (tests[0]["initial"]["regs"]["ax"] + 5) & 0xFFFF
    path = tmp_path / "40.json"
    path.write_text(json.dumps(tests))
    assert cputest.main(["--model", "80286", "--verbose", str(path)]) == 1
    out = capsys.readouterr().out
    assert "inc ax" in out and "ax: expected" in out
    assert out.strip().endswith("1 passed, 1 failed")
