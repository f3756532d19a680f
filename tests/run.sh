#!/usr/bin/env bash
# The project's test command (README.md; .ci/run calls it): installs what the tests
# need, then runs the default test suite on CPython and on PyPy.
# Extra arguments go to pytest on both runtimes, e.g. `tests/run.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -e '.[test]'

# Debian packages the tests need: PyPy, Xvfb for the window tests, gdb for the stub tests.
need=()
if ! command -v pypy3 >/dev/null 2>&1 || ! pypy3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(pypy3 pypy3-venv)
fi
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v gdb >/dev/null 2>&1 || need+=(gdb)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -x .venv-pypy/bin/python ]; then
  pypy3 -m venv .venv-pypy
fi
.venv-pypy/bin/python -m pip install -q -e '.[test]'

echo "== CPython: $(python3 --version)"
python3 -m pytest "$@"
echo "== PyPy: $(.venv-pypy/bin/python --version 2>&1 | tr '\n' ' ')"
.venv-pypy/bin/python -m pytest "$@"
