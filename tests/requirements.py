"""What the test suite needs, and what a missing piece does.

`tests/run.sh` (and so CI) sets PCMACHINE_STRICT=1: there a missing required tool
(nasm, Unicorn on CPython, GRUB, the CPU vectors, the shared guest corpus) fails the run
instead of turning tests into skips that pass.  On a developer machine without it
the tests skip and say what is missing and how to get it.  Optional inputs named by
an environment variable (PCMACHINE_TEST386_ROM ...) always skip with a reason.
"""

import importlib
import os
import platform
import shutil
from typing import Any

import pytest

STRICT = os.environ.get("PCMACHINE_STRICT") == "1"


def missing(what: str, how: str) -> None:
    """Fail under PCMACHINE_STRICT, skip (with the reason) otherwise; a module-level
    call skips or fails the whole module."""
    message = f"{what} is missing: {how}"
    if STRICT:
        pytest.fail(f"{message} (PCMACHINE_STRICT=1: required)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def unicorn_available() -> bool:
    try:
        import unicorn  # noqa: F401
    except ImportError:
        return False
    return True


def require_unicorn() -> None:
    """Unicorn is the reference CPU.  It installs on CPython and on PyPy (a ctypes
    binding); tests/run.sh installs it for both."""
    if not unicorn_available():
        missing(f"Unicorn for {platform.python_implementation()}", "python3 -m pip install unicorn")


def require_nasm() -> None:
    if shutil.which("nasm") is None:
        missing("nasm", "apt-get install nasm")


def require_iasl() -> str:
    """The ACPI compiler, the reference for the BIOS's AML."""
    path = shutil.which("iasl")
    if path is None:
        missing("iasl", "apt-get install acpica-tools")
    return path


def require_grub() -> None:
    """GRUB 2 for BIOS PCs and its ISO maker, the reference boot loader."""
    if shutil.which("grub-mkrescue") is None or shutil.which("xorriso") is None \
            or not os.path.isdir("/usr/lib/grub/i386-pc"):
        missing("GRUB's grub-mkrescue for BIOS PCs", "apt-get install grub-pc-bin grub-common xorriso")


def require_dmidecode() -> str:
    """dmidecode, the reference decoder of the BIOS's SMBIOS tables."""
    path = shutil.which("dmidecode") or ("/usr/sbin/dmidecode" if os.path.exists("/usr/sbin/dmidecode") else None)
    if path is None:
        missing("dmidecode", "apt-get install dmidecode")
    return path


def require_module(name: str) -> Any:
    """A test dependency (`pip install -e '.[test]'`), imported."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"the Python module {name}", "python3 -m pip install -e '.[test]'")


def shared_path(*parts: str) -> str:
    """A path in the shared folder (guest corpus, CPU vectors): $PCMACHINE_SHARED or
    ../shared beside the repository."""
    from pcmachine.compat import shared_root
    return os.path.join(shared_root(), *parts)


def require_shared(*parts: str) -> str:
    path = shared_path(*parts)
    if not os.path.exists(path):
        missing(f"{path}", "set PCMACHINE_SHARED to the shared folder (CPU vectors, guest corpus)")
    return path
