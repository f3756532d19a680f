"""iPXE, the network boot firmware QEMU ships as its PXE ROMs: Debian's build of
it (package `ipxe`, `ipxe.lkrn`, fetched with `apt-get download` into the guest
cache) booted as a kernel through the Linux boot protocol.  It decompresses
itself in 16-bit protected mode, moves between real and protected mode for every
BIOS call (saving the FPU with FXSAVE: it needs a Pentium II), takes the timer
interrupt in protected mode and reflects it to the real-mode BIOS through an
`int n` whose vector it patches just before running it, then finds no network
card and gives the boot back to the BIOS.  QEMU 7.2 (`-kernel ipxe.lkrn -net
none`) shows the same lines before its SeaBIOS tries the next boot device."""


import pytest

from pcmachine.compat import guest_cache
from requirements import debian_files
from runtimes import slow_except_on

# About 15 s of CPU on PyPy, a few minutes on CPython.
pytestmark = [pytest.mark.guests, pytest.mark.heavy(45)] + slow_except_on("PyPy")


def test_ipxe_starts_finds_no_network_card_and_returns(pc):
    kernel = debian_files(guest_cache("ipxe"), {"ipxe": "boot/ipxe.lkrn"})["ipxe"]
    m = pc.boot(overrides=["cpu.model=pentium2", f"bios.kernel={kernel}"], copy_media=False)
    m.wait_text("iPXE initialising devices...ok", timeout=300)
    m.wait_text("Open Source Network Boot Firmware", timeout=300)
    m.wait_text("No more network devices", timeout=300)   # after its 2 s Ctrl-B prompt
