#!/usr/bin/env bash
# The project's test command (README.md; .ci/run calls it): installs what the tests
# need, then runs the default test suite on CPython and on PyPy, side by side.
# Extra arguments go to pytest on both runtimes, e.g. `tests/run.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -e '.[test]'

# Every tool the tests need must be here: under PCMACHINE_STRICT=1 (below) a missing
# one fails its tests instead of skipping them (tests/requirements.py).
export PCMACHINE_STRICT=1

# Debian packages the tests need: PyPy, Xvfb for the window tests, gdb for the stub
# tests, nasm for the tests that assemble guest code, iasl to check the BIOS's ACPI
# machine language, GRUB (grub-mkrescue and its BIOS modules, xorriso) to build the
# ISO that tests/test_grub.py boots, SYSLINUX, ISOLINUX, MEMDISK and mtools for
# tests/test_syslinux.py, dmidecode to decode the BIOS's SMBIOS tables, cpio to pack
# the Debian guest's initramfs (../shared/guests/linux-busybox/build.sh).
need=()
if ! command -v pypy3 >/dev/null 2>&1 || ! pypy3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(pypy3 pypy3-venv)
fi
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v gdb >/dev/null 2>&1 || need+=(gdb)
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v iasl >/dev/null 2>&1 || need+=(acpica-tools)
command -v grub-mkrescue >/dev/null 2>&1 || need+=(grub-common)
[ -d /usr/lib/grub/i386-pc ] || need+=(grub-pc-bin)
command -v xorriso >/dev/null 2>&1 || need+=(xorriso)
command -v syslinux >/dev/null 2>&1 || need+=(syslinux)
[ -f /usr/lib/syslinux/memdisk ] || need+=(syslinux-common)
[ -f /usr/lib/ISOLINUX/isolinux.bin ] || need+=(isolinux)
command -v mformat >/dev/null 2>&1 || need+=(mtools)
[ -x /usr/sbin/dmidecode ] || command -v dmidecode >/dev/null 2>&1 || need+=(dmidecode)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if [ ${#need[@]} -gt 0 ]; then
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Debian guest's build script downloads i386 packages, and when the i386
# architecture is new to the machine it stops at any error of `apt-get update`.
# A mirror caught mid-sync (one index of the wrong size) is such an error, yet
# the kernel and busybox are still found: add the architecture here, where a
# partial update is reported and the run goes on.
if [ $# -eq 0 ] && ! dpkg --print-foreign-architectures | grep -qx i386; then
  $sudo dpkg --add-architecture i386
  $sudo apt-get update -qq || echo "== apt-get update reported errors (above); the Debian guest's packages may still download" >&2
fi
if [ ! -x .venv-pypy/bin/python ]; then
  pypy3 -m venv .venv-pypy
fi
.venv-pypy/bin/python -m pip install -q -e '.[test]'

# Unicorn, the reference CPU of the differential tests, has wheels for CPython only
# (pip on PyPy would build it and QEMU from source for an hour).  Its Python binding
# is ctypes over libunicorn.so, which PyPy runs as it is: copy CPython's install.
if ! .venv-pypy/bin/python -c 'import unicorn' >/dev/null 2>&1; then
  src=$(python3 -c 'import os, unicorn; print(os.path.dirname(unicorn.__file__))')
  dst=$(.venv-pypy/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cp -r "$src" "$dst/"
fi
if .venv-pypy/bin/python -c 'import unicorn' >/dev/null 2>&1; then
  echo "== PyPy: Unicorn $(.venv-pypy/bin/python -c 'import unicorn; print(unicorn.__version__)') (CPython's ctypes binding): the Unicorn comparisons run on PyPy too"
else
  echo "== PyPy: Unicorn cannot be imported: the Unicorn comparisons fail on PyPy (PCMACHINE_STRICT)" >&2
fi

# The two runtimes run side by side (each suite is one process; CI machines have two
# cores): PyPy's output goes to a log that is printed after CPython's.  In the
# default run the Debian kernel's boot (about five minutes on PyPy) comes last, on
# its own: beside the CPython suite it takes half as long again.
debian=tests/test_guests.py::test_debian_kernel_runs_uname_and_shows_the_cpu_we_claim
pypy_args=("$@")
[ $# -eq 0 ] && pypy_args=(--deselect "$debian")
pypy_log=$(mktemp)
trap 'rm -f "$pypy_log"' EXIT
.venv-pypy/bin/python -m pytest -rs -p no:cacheprovider "${pypy_args[@]}" >"$pypy_log" 2>&1 &
pypy_pid=$!
echo "== CPython: $(python3 --version)"
cpython_status=0
python3 -m pytest -rs "$@" || cpython_status=$?
pypy_status=0
wait "$pypy_pid" || pypy_status=$?
echo "== PyPy: $(.venv-pypy/bin/python --version 2>&1 | tr '\n' ' ')"
cat "$pypy_log"
debian_status=0
if [ $# -eq 0 ]; then
  echo "== PyPy: the Debian kernel to its shell"
  .venv-pypy/bin/python -m pytest -rs -p no:cacheprovider "$debian" || debian_status=$?
fi
echo "== exit status: CPython $cpython_status, PyPy $pypy_status, PyPy Debian boot $debian_status"
[ "$cpython_status" = 0 ] && [ "$pypy_status" = 0 ] && [ "$debian_status" = 0 ]
