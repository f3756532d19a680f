"""The status line of long runs: shown on a terminal (instructions, virtual time,
MIPS, current step), absent with --quiet and when standard error is not a terminal."""

import os
import sys

from requirements import require_module

from pcmachine.cli import main

pexpect = require_module("pexpect")
MACHINE = os.path.join(os.path.dirname(sys.executable), "machine")


def run_in_terminal(image: str, *extra: str) -> bytes:
    child = pexpect.spawn(MACHINE, ["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "2",
                                    "--wait", "never shown", *extra], dimensions=(30, 160))
    child.expect(pexpect.EOF, timeout=60)
    return child.before


def test_status_line_on_a_terminal(tmp_path, floppy_from):
    output = run_in_terminal(floppy_from(tmp_path, "boot/echo_int16.bin"))
    lines = [part for part in output.split(b"\r") if b" instr | " in part]
    assert lines, output[-500:]
    fields = lines[-1].decode().replace("\x1b[K", "").split(" | ")
    assert fields[0].endswith(" instr") and int(fields[0].split()[0].replace(",", "")) > 0
    assert fields[1].endswith(" s virtual") and float(fields[1].split()[0]) > 0
    assert fields[2].endswith(" MIPS")
    assert fields[3] == "step 1/1: --wait 'never shown'"
    assert output.rstrip().endswith(b"step not reached: --wait 'never shown'")


def test_quiet_and_non_terminals_get_no_status_line(tmp_path, floppy_from, capsys):
    image = floppy_from(tmp_path, "boot/echo_int16.bin")
    assert b" instr | " not in run_in_terminal(image, "--quiet")
    main(["run", "pc.yaml", "--fda", image, "--headless", "--timeout", "1.5", "--wait", "never shown"])
    assert " instr | " not in capsys.readouterr().err


def test_cputest_and_bench_show_their_progress_on_a_terminal():
    """`machine cputest` names the file and counts on the status line; `machine
    bench` shows the loop's instructions (the test stops it once they show)."""
    vectors = os.path.join(os.environ.get("PCMACHINE_SHARED", "/work/shared"), "cputests", "80286",
                           "v1_real_mode")
    if not os.path.isdir(vectors):
        pytest.skip(f"test vectors not present: {vectors} (set PCMACHINE_SHARED)")
    child = pexpect.spawn(MACHINE, ["cputest", vectors, "--limit", "2"], dimensions=(30, 160))
    child.expect(pexpect.EOF, timeout=300)
    assert b"\rfile 1/" in child.before and b" passed, 0 failed\x1b[K" in child.before
    assert child.before.rstrip().endswith(b" passed, 0 failed")
    quiet = pexpect.spawn(MACHINE, ["cputest", vectors, "--limit", "1", "--quiet"], dimensions=(30, 160))
    quiet.expect(pexpect.EOF, timeout=300)
    assert b"\rfile 1/" not in quiet.before
    bench = pexpect.spawn(MACHINE, ["bench", "realmode"], dimensions=(30, 160))
    bench.expect(rb"bench_realmode_loop\.bin: [\d,]+ instructions", timeout=120)
    bench.terminate(force=True)
