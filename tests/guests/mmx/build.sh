#!/usr/bin/env bash
# Build the MMX guest: mmx.bin, a boot sector and 8 more sectors (nasm); the test
# pads it to a 1.44 MB floppy image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
nasm -f bin -o mmx.bin mmx.asm
