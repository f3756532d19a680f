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
import subprocess
import tempfile
from typing import Any, Dict

import pytest

STRICT = os.environ.get("PCMACHINE_STRICT") == "1"


def missing(what: str, how: str) -> None:
    """Fail under PCMACHINE_STRICT, skip (with the reason) otherwise; a module-level
    call skips or fails the whole module."""
    message = f"{what} is missing: {how}"
    if STRICT:
        pytest.fail(f"{message} (PCMACHINE_STRICT=1: required)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def debian_files(cache: str, files: Dict[str, str]) -> Dict[str, str]:
    """{package: path} of one file of each Debian package in `files` ({package:
    path inside it}), fetched with `apt-get download` and unpacked under `cache`
    once (the binaries are used in tests, never stored in the repository)."""
    paths = {package: os.path.join(cache, package, inside) for package, inside in files.items()}
    wanted = [package for package, path in paths.items() if not os.path.isfile(path)]
    if not wanted:
        return paths
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        missing("apt-get and dpkg-deb", "a Debian system fetches " + ", ".join(wanted))
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as folder:
        os.chmod(folder, 0o777)                     # apt's _apt user writes the download there
        fetch = ["apt-get", "download", *wanted]
        done = subprocess.run(fetch, cwd=folder, capture_output=True, text=True)
        if done.returncode:                         # no package lists yet, or stale ones
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            done = subprocess.run(fetch, cwd=folder, capture_output=True, text=True)
        if done.returncode:
            missing(" and ".join(wanted), "apt-get download failed: " + done.stderr.strip()[-200:])
        for package in wanted:
            deb = next(name for name in os.listdir(folder) if name.startswith(package + "_"))
            unpacked = os.path.join(folder, "unpacked")
            subprocess.run(["dpkg-deb", "-x", os.path.join(folder, deb), unpacked], check=True)
            _move_into_place(unpacked, os.path.join(cache, package), paths[package])
    return paths


def _move_into_place(unpacked: str, target: str, needed: str) -> None:
    """Put a package's unpacked tree at `target` in one rename, so that the other
    pytest processes of the run (tests/run.sh runs three side by side) see the
    whole tree or none of it.  A tree without the `needed` file (an interrupted
    run's) is replaced; one that has it (another process was first) is kept."""
    if os.path.isfile(needed):
        shutil.rmtree(unpacked)
        return
    shutil.rmtree(target, ignore_errors=True)
    try:
        os.rename(unpacked, target)
    except OSError:                                  # another process renamed its tree first
        shutil.rmtree(unpacked)


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


def require_syslinux() -> None:
    """SYSLINUX's installer, ISOLINUX, MEMDISK and the COM32 modules, and mtools
    to make the FAT floppy."""
    if shutil.which("syslinux") is None or shutil.which("mformat") is None \
            or not os.path.isfile("/usr/lib/syslinux/memdisk") \
            or not os.path.isfile("/usr/lib/ISOLINUX/isolinux.bin"):
        missing("SYSLINUX, ISOLINUX, MEMDISK and mtools",
                "apt-get install syslinux syslinux-common isolinux mtools")


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
