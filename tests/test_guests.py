"""The public guest corpus (shared/guests/manifest.yaml) booted through the pytest
plugin, marker by marker, as `machine compat run` does; and docs/compatibility.md
checked against what `machine compat write` makes from the stored results.

Guests whose hardware is not built yet are strict xfails naming the missing part:
the day they boot, the test fails and the mark must go.  Boots that take long on a
runtime are `slow` there (Linux 2.4 on CPython; the Debian 6.1 kernel everywhere:
6.6 billion instructions, five to ten minutes on PyPy, which would double the
default run).  The Debian kernel's own test (its shell, `uname -r`,
/proc/cpuinfo) is `-m slow` too.  The kernel is built into a cache by the
corpus's build.sh (root and apt: Debian's i386 packages)."""

import os

import pytest

from pcmachine import compat
from runtimes import RUNTIME, slow_except_on

#: guests in the default run (they boot in well under two minutes there)
# boote-linux (60 s on PyPy alone, twice that beside the other suites) is -m slow
DEFAULT_RUN = {"freedos-fdstd144": ("PyPy",)}
try:
    SHARED = compat.shared_folder()
except Exception as error:          # the corpus must be there in CI: fail, do not skip
    SHARED = None
    MISSING_CORPUS = str(error)


def guest_params():
    entries = compat.load_manifest(SHARED) if SHARED else []
    for entry in entries:
        marks = [pytest.mark.guests, pytest.mark.heavy(20)]
        name = entry["name"]
        if name in compat.MISSING:
            marks.append(pytest.mark.xfail(strict=True, reason=compat.MISSING[name]))
        marks += slow_except_on(*DEFAULT_RUN.get(name, ()))
        yield pytest.param(entry, id=name, marks=marks)


def test_the_corpus_is_there():
    assert SHARED is not None, MISSING_CORPUS


def wait_timeout(name: str) -> float:
    """Host seconds per wait: $PCMACHINE_GUEST_TIMEOUT, else 600 for the guests of
    the default run and two hours for the slow ones (the Debian kernel needs half
    an hour to its shell on CPython, docs/compatibility.md)."""
    fast = RUNTIME in DEFAULT_RUN.get(name, ())
    return float(os.environ.get("PCMACHINE_GUEST_TIMEOUT", 600 if fast else 7200))


@pytest.mark.parametrize("entry", list(guest_params()))
def test_guest_reaches_every_marker(pc, entry):
    result = compat.boot_guest(pc, entry, SHARED, timeout=wait_timeout(entry["name"]))
    assert result["status"] == "pass", result.get("cause")
    markers = [str(next(iter(step.values()))) for step in entry["steps"]
               if next(iter(step)) in ("wait", "screen_mode", "screen")]
    assert list(result["markers"]) == markers


def test_compatibility_page_is_generated():
    """docs/compatibility.md is exactly what `machine compat write` makes."""
    with open(compat.PAGE, encoding="utf-8") as handle:
        assert handle.read() == compat.render(SHARED), "run `machine compat write`"


def test_a_failed_write_leaves_the_page_as_it_was(tmp_path, monkeypatch, capsys):
    """`machine compat write` without the corpus stops with a one-line error and
    does not empty docs/compatibility.md (it did: the page was opened first)."""
    from pcmachine.cli import main
    page = tmp_path / "compatibility.md"
    page.write_text("the page as it was\n")
    monkeypatch.setattr(compat, "PAGE", str(page))
    monkeypatch.setenv("PCMACHINE_SHARED", str(tmp_path / "nowhere"))
    assert main(["compat", "write"]) == 2
    assert "no guest corpus" in capsys.readouterr().err
    assert page.read_text() == "the page as it was\n"


@pytest.mark.slow
@pytest.mark.guests
def test_debian_kernel_runs_uname_and_shows_the_cpu_we_claim(pc):
    """Debian 12's 686 kernel with the busybox initramfs, booted as QEMU would
    (-kernel/-initrd/-append console=ttyS0, 128 MiB; no other kernel option):
    its shell runs `uname -r`, and /proc/cpuinfo shows the Pentium Pro with its
    x87, CMOV, PAE and global pages."""
    entry = next(e for e in compat.load_manifest(SHARED) if e["name"] == "linux-busybox")
    overrides = compat.kernel_overrides(entry, compat.build_guest(entry, SHARED))
    m = pc.boot("pc.yaml", overrides=overrides, copy_media=False)
    timeout = wait_timeout("linux-busybox")
    m.serial.wait("/ # ", timeout=timeout)
    m.serial.type("uname -r\n")
    m.serial.wait("6.1.0-", timeout=timeout, after_input=True)
    m.serial.wait("/ # ", timeout=timeout, after_input=True)
    m.serial.type("cat /proc/cpuinfo\n")
    m.serial.wait("flags", timeout=timeout, after_input=True)
    m.serial.wait("/ # ", timeout=timeout, after_input=True)
    info = m.serial.text()
    assert "model name\t: Pentium Pro" in info, info[-2000:]
    assert "fpu\t\t: yes" in info and "cpu family\t: 6" in info
    flags = info[info.index("flags\t"):].splitlines()[0].split()
    assert {"fpu", "tsc", "cx8", "cmov", "pae", "pge"} <= set(flags)
