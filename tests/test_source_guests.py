"""Public systems that exist only as source, built by hand on the tester's machine
(docs/compat/manual.md says from which repository and commit, and how): their code
and images never enter this repository, so each test reads the built images from
an environment variable and skips, saying which, when it is not set.

* PCMACHINE_LINUX011_DIR: `Image` (the Linux 0.11 boot floppy, unpadded, root
  device 0x301) and `hd.img` (a hard disk whose first partition holds the 0.11
  root file system).
* PCMACHINE_MICHALOS_DIR: `michalos.flp` (MichalOS's `make noboot`, never booted:
  the first boot runs its setup).
"""

import os

import pytest

pytestmark = [pytest.mark.guests, pytest.mark.slow]


def built(variable: str, *names: str) -> list:
    """The paths of NAMES in the folder named by VARIABLE, or a skip."""
    folder = os.environ.get(variable)
    if not folder:
        pytest.skip(f"set {variable} to the folder of the hand-built images (docs/compat/manual.md)")
    paths = [os.path.join(folder, name) for name in names]
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        pytest.skip(f"{variable}: {missing[0]} is missing")
    return paths


def test_linux_011_reaches_its_shell_and_lists_the_root(pc):
    """The bootsect reads whole tracks past the end of its unpadded Image (zeros,
    as in QEMU and Bochs); the kernel mounts its root from the ATA disk."""
    image, disk = built("PCMACHINE_LINUX011_DIR", "Image", "hd.img")
    m = pc.boot("pc.yaml", fda=image, hda=disk)
    m.wait_text("[/usr/root]#", timeout=600)
    m.type("ls -l /\n")
    m.wait_text("usr", timeout=120, after_input=True)


def test_michalos_sets_up_and_reaches_its_desktop(pc):
    """A real-mode OS on its FAT12 floppy: the first-boot setup (which writes its
    settings back to the floppy), the login screen and the desktop."""
    image, = built("PCMACHINE_MICHALOS_DIR", "michalos.flp")
    m = pc.boot("pc.yaml", fda=image)
    for wait, keys in (("press A to skip", "a"), ("Which sound", "\n"), ("enter your name", "bob\n"),
                       ("set up a password", "{right}\n"), ("Changes have been saved", "\n"),
                       ("Setup has finished", "\n"), ("Press any key to log in", "\n")):
        m.wait_text(wait, timeout=300)
        m.type(keys)
    m.wait_text("MichalOS Desktop", timeout=300)
    m.type(" ")
    m.wait_text("Power off", timeout=120)
