"""`machine bench`: option parsing, the windowed loop run (restarted at its HLT
without a reset), a boot to a marker through the CLI steps, the decoded-block
counts, and one-line errors for bad `--guest` arguments.  No assertion on
speed: the figures depend on the host."""

import os
import re
import shutil
import subprocess

import pytest

from pcmachine import bench
from pcmachine.cli import main
from pcmachine.plugins.cpu import tier2

HELLO_MARKER = "Hello, world!"


def run_cli(capsys, *argv):
    try:
        status = main(["bench", "--quiet", *argv])
    except SystemExit as exit:
        status = exit.code
    out = capsys.readouterr()
    return status, out.out, out.err


def table_row(out: str, name: str):
    """The whitespace-separated cells of the first line starting with `name`."""
    for line in out.splitlines():
        if line.split() and line.split()[0] == name:
            return line.split()
    raise AssertionError(f"no row {name!r} in:\n{out}")


def test_options_parse():
    args = bench.build_parser().parse_args(["--instructions", "1,500,000", "--repeat", "0", "realmode"])
    assert (args.instructions, args.repeat, args.loops, args.guest) == (1_500_000, 0, ["realmode"], None)
    assert bench.build_parser().parse_args(["--guest"]).guest == ""
    assert bench.build_parser().parse_args(["--guest", "--fda a.img --wait X"]).guest == "--fda a.img --wait X"


@pytest.mark.parametrize("argv, message", [
    (["--instructions", "0"], "give 1 or more"),
    (["--instructions", "lots"], "not a whole number"),
    (["--repeat", "-1"], "give 0 or more"),
    (["nosuchloop"], "unknown loop 'nosuchloop'"),
    (["--guest", "--fda x.img", "realmode"], "loops and --guest"),
    (["--guest", "--fda x.img", "--instructions", "5"], "--instructions and --guest"),
])
def test_bad_options_are_one_line_errors(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("guest, message", [
    ("--fda", "expected one argument"),
    ("--no-such-option", "unrecognized arguments"),
    ("--fda 'unclosed", "No closing quotation"),
    ("--monitor stdio", "--monitor"),
    ("--screen-dump s.txt", "--screen-dump"),
    ("--serial stdio", "stdio"),
    ("--fda /nonexistent/disk.img", "/nonexistent/disk.img"),
    ("no-such-profile.yaml", "no-such-profile.yaml"),
])
def test_bad_guest_arguments_are_one_line_errors(capsys, guest, message):
    status, out, err = run_cli(capsys, f"--guest={guest}")
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_guest_text_keeps_backslashes_and_groups_quoted_words():
    """`--guest "--fda f.img --wait A:\\>"` in a shell hands over `A:\\>`: the
    backslash is the prompt's, not an escape (it used to be dropped)."""
    options = bench.guest_options(r"--fda f.img --wait A:\> --type 'dir fdos' --wait C:\DOS")
    assert options.media == {"fda": "f.img"}
    assert options.steps == [("wait", "A:\\>"), ("type", "dir fdos"), ("wait", "C:\\DOS")]


def test_loop_windows_are_exact_and_counts_consistent():
    result = bench.run_loop("bench_realmode_loop.bin", "80486", 0, window=150_000, repeat=2, count=True)
    assert result.windows and [count for count, _ in result.windows] == [150_000] * 3
    stats = result.stats
    # Every instruction ran inside a counted block (the loop never faults).
    assert stats.instructions == 450_000
    assert 0 < stats.decoded < stats.blocks_run
    assert stats.uncached == stats.code_writes == stats.dropped == 0
    assert stats.flushes == 1                       # the reset's
    assert stats.cached == stats.decoded            # nothing dropped or flushed after decoding


def test_loop_goes_on_after_its_hlt_without_a_reset():
    """Windows past the protected loop's HLT (7,005,600 instructions): it goes on at
    its restart address in paged protected mode, keeping the decoded blocks."""
    short = bench.run_loop("bench_protected_loop.bin", "80486", 0x5A, window=300_000, repeat=0, count=True)
    long = bench.run_loop("bench_protected_loop.bin", "80486", 0x5A, window=3_600_000, repeat=1, count=True)
    assert [count for count, _ in long.windows] == [3_600_000, 3_600_000]
    assert long.stats.instructions == 7_200_000
    assert long.stats.flushes == short.stats.flushes        # no reset, no mode switch again
    assert long.stats.dropped == 0 and long.stats.cached > short.stats.cached


@pytest.mark.skipif(shutil.which("nasm") is None, reason="nasm is not installed")
def test_protected_restart_offset_is_the_restart_label(tmp_path):
    source = os.path.join(os.path.dirname(__file__), "guests", "bench", "protected_loop.asm")
    listing = tmp_path / "protected.lst"
    subprocess.run(["nasm", "-f", "bin", "-i", os.path.dirname(source) + os.sep, "-l", str(listing),
                    "-o", str(tmp_path / "protected.bin"), source], check=True)
    lines = listing.read_text().splitlines()
    label = next(index for index, line in enumerate(lines) if re.search(r"\srestart:", line))
    # The first line after the label with an address (the loop is a macro of loops.inc).
    offset = next(int(line.split()[1], 16) for line in lines[label + 1:]
                  if re.match(r"\s*\d+ [0-9A-F]{8} ", line))
    assert offset == next(loop[3] for loop in bench.LOOPS if loop[0] == "protected")


def test_loops_output(capsys):
    status, out, err = run_cli(capsys, "--instructions", "100000", "--repeat", "1", "realmode")
    assert status == 0, err
    row = table_row(out, "realmode")
    assert row[2] == "200,000"
    assert "protected" not in out
    blocks = [line for line in out.splitlines() if line.startswith("realmode")][1].split()
    assert int(blocks[1].replace(",", "")) > 0                  # blocks decoded


def test_loops_with_both_tiers(capsys, monkeypatch):
    """`--tier2 both`: a row per tier, and the block table counts the translated blocks."""
    # 300,000 instructions: the loop's blocks run past CPython's default threshold
    # (20,000; PyPy's is 100,000).
    monkeypatch.setattr(tier2, "DEFAULT_THRESHOLD", 20000)
    status, out, err = run_cli(capsys, "--instructions", "150000", "--repeat", "1", "--tier2", "both",
                               "realmode")
    assert status == 0, err
    rows = [line.split() for line in out.splitlines() if line.startswith("realmode")]
    assert [row[1] for row in rows[:2]] == ["1", "2"]
    assert rows[0][2] == rows[1][2] == "300,000"
    counted = {row[1]: row for row in rows[2:]}
    assert counted["1"][-2] == "0" and int(counted["2"][-2]) > 0      # blocks translated
    assert counted["1"][-1] == counted["2"][-1] == "0"       # none shared: no copies of code
    assert counted["1"][2:-2] == counted["2"][2:-2]        # same decodes and runs either way


def test_guest_to_marker_reports_the_exact_instruction_count(tmp_path, capsys, floppy_from, pc):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    status, out, err = run_cli(capsys, "--guest", f"--fda {image} --wait '{HELLO_MARKER}'", "--repeat", "1")
    assert status == 0, err
    assert f"to --wait '{HELLO_MARKER}'" in out
    first, second = table_row(out, "1"), table_row(out, "2")
    assert first[1] == second[1]                        # deterministic
    # The same wait through the pytest plugin's own slice loop.
    running = pc.boot("pc.yaml", fda=image)
    start = running.machine.clock.icount
    running.wait_text(HELLO_MARKER)
    assert int(first[1].replace(",", "")) == running.machine.clock.icount - start
    assert float(first[2]) == pytest.approx(running.machine.clock.now() / 1e9, abs=1e-6)
    blocks = table_row(out, "counted")
    decoded, blocks_run = int(blocks[1].replace(",", "")), int(blocks[3].replace(",", ""))
    assert 0 < decoded < blocks_run
    peak = re.search(r"^peak RSS of this process \(all the boots above\): ([\d,]+) MB$", out, re.MULTILINE)
    assert peak is not None and 16 < int(peak.group(1).replace(",", "")) < 100_000


def test_guest_defaults_to_the_demo_disk(capsys):
    status, out, err = run_cli(capsys, "--guest")
    assert status == 0, err
    assert f"to --wait '{bench.DEMO_MARKER}'" in out
    assert re.search(r"^1\s+[\d,]+\s", out, re.MULTILINE)


def test_guest_that_misses_its_marker_fails(tmp_path, capsys, floppy_from):
    image = floppy_from(tmp_path, "boot/hello_int10.bin")
    status, out, err = run_cli(capsys, "--guest", f"--fda {image} --wait 'never shown' --max-instructions 200000")
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and "--wait 'never shown'" in err


def test_a_timed_run_alone_counts_as_one_in_process():
    """`run_loop_alone` (a fresh interpreter per timed run, so PyPy's JIT code for
    one machine does not slow the next) returns the same windows' instruction counts
    and tier as the run in this process."""
    alone = bench.run_loop_alone("bench_realmode_loop.bin", "80486", 0x00, window=100_000, repeat=2)
    here = bench.run_loop("bench_realmode_loop.bin", "80486", 0x00, window=100_000, repeat=2)
    assert [count for count, _ in alone.windows] == [count for count, _ in here.windows]
    assert alone.tier2 == here.tier2 and alone.stats is None


def test_guest_boots_share_one_rtc_start():
    """Each `--guest` boot builds a new machine; an RTC on the host's clock would
    start each at another second, and the BIOS's tick count (and a guest waiting
    on it) with it.  The bench starts them all at one time, and leaves a fixed
    start alone."""
    options = bench.one_rtc_start(bench.guest_options("--wait X"))
    pinned = [override for override in options.overrides if override.startswith("cmos.start=")]
    assert len(pinned) == 1 and re.fullmatch(r"cmos\.start=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", pinned[0])
    fixed = bench.one_rtc_start(bench.guest_options("--set cmos.start=2026-01-01T00:00:00 --wait X"))
    assert fixed.overrides == ["cmos.start=2026-01-01T00:00:00"]
