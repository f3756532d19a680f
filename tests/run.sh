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
# partial update is reported and the run goes on.  Only the slow run boots it.
if [[ " $* " == *slow* ]] && ! dpkg --print-foreign-architectures | grep -qx i386; then
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

# Byte-compile the package once for each runtime.  The tests start `machine` in
# subprocesses many times, and where PYTHONDONTWRITEBYTECODE is set (as on this
# project's CI machines) every start compiled every module again from source: 1.4 s
# of CPU per start on CPython, 2.4 s on PyPy.
python3 -m compileall -q core plugins machines
.venv-pypy/bin/python -m compileall -q core plugins machines

# The two runtimes run side by side, PyPy's suite in two halves (`--shard`,
# tests/conftest.py): CPython's suite takes about as long as half of PyPy's, so
# the three processes keep both cores of a CI machine busy to the end.  PyPy's
# output goes to logs that are printed after CPython's.  The long boots (the
# Debian kernel to its shell, ...) are `-m slow` (docs/testing.md).
pypy_logs=("$(mktemp)" "$(mktemp)")
trap 'rm -f "${pypy_logs[@]}"' EXIT
pypy_pids=()
for shard in 1 2; do
  .venv-pypy/bin/python -m pytest -rs -p no:cacheprovider --durations=25 --shard "$shard/2" "$@" \
    >"${pypy_logs[$shard - 1]}" 2>&1 &
  pypy_pids+=($!)
done
echo "== CPython: $(python3 --version)"
cpython_status=0
python3 -m pytest -rs --durations=25 "$@" || cpython_status=$?
pypy_status=0
for shard in 1 2; do
  wait "${pypy_pids[$shard - 1]}" || pypy_status=$?
  echo "== PyPy, half $shard of the suite: $(.venv-pypy/bin/python --version 2>&1 | tr '\n' ' ')"
  cat "${pypy_logs[$shard - 1]}"
done
echo "== exit status: CPython $cpython_status, PyPy $pypy_status"
[ "$cpython_status" = 0 ] && [ "$pypy_status" = 0 ]
