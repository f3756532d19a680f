"""memtest86+, the memory tester users boot in QEMU: Debian's build of it (package
`memtest86+`, fetched with `apt-get download` into the guest cache) boots from a
floppy through its own boot sector and, as a kernel, through the Linux boot
protocol (`--kernel`), starts the second processor, reads the SMBIOS tables,
sizes the RAM from the E820 map, and runs its pattern tests over all of it with
PAE paging on both processors: it must find no error.  (QEMU 7.2 with the same
floppy and `-smp 2 -m 16` shows the same screen but `QEMU Standard PC (i440FX +
PIIX, 1996)`, 15 MB and its host's clock rate.)"""

import pytest

from pcmachine.compat import guest_cache
from requirements import debian_files
from runtimes import slow_except_on

FLOPPY_144 = 1474560
# About 25 s of CPU on PyPy per boot, several minutes on CPython.
pytestmark = [pytest.mark.guests] + slow_except_on("PyPy")


@pytest.fixture(scope="module")
def memtest() -> str:
    """memtest86+ia32.bin from Debian's package, cached as the corpus guests are."""
    files = debian_files(guest_cache("memtest86+"), {"memtest86+": "boot/memtest86+ia32.bin"})
    return files["memtest86+"]


def check_screen(screen: str, cpus: int) -> None:
    assert "Memtest86+ v6" in screen and "Pentium Pro" in screen
    assert "Memory  :   16MB" in screen
    assert f"CPU: {cpus} Cores {cpus} Threads" in screen
    assert ("SMP: 2T (PAR)" if cpus == 2 else "SMP: Disabled") in screen
    assert "pcmachine Standard PC" in screen                     # from the SMBIOS tables
    assert "Errors: 0" in screen and "[PAE]" in screen


@pytest.mark.heavy(23)
def test_memtest_boots_from_a_floppy_and_tests_on_two_processors(pc, tmp_path, memtest):
    floppy = tmp_path / "memtest.img"
    with open(memtest, "rb") as handle:
        floppy.write_bytes(handle.read().ljust(FLOPPY_144, b"\0"))
    m = pc.boot("pc.yaml", overrides=["cpu.count=2"], fda=str(floppy), copy_media=False)
    m.wait_text("Test #2", timeout=120, virtual=True)
    check_screen(m.screen_text(), 2)


@pytest.mark.slow      # the floppy boot above runs by default (the default run's time)
def test_memtest_boots_as_a_kernel(pc, memtest):
    m = pc.boot("pc.yaml", overrides=[f"bios.kernel={memtest}"])
    m.wait_text("Test #2", timeout=120, virtual=True)
    check_screen(m.screen_text(), 1)
