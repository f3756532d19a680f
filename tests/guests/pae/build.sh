#!/usr/bin/env bash
# Build the PAE / global-page guest: pae.bin, a boot sector and 16 more sectors
# (nasm); the test pads it to a 1.44 MB floppy image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
nasm -f bin -o pae.bin pae.asm
