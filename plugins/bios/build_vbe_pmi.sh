#!/usr/bin/env bash
# Rebuild the BIOS's VBE protected-mode interface code: plugins/bios/vbe_pmi.asm
# becomes plugins/data/vbe_pmi.bin (tests/test_vbe.py checks that they match).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nasm -f bin -o "$here/../data/vbe_pmi.bin" "$here/vbe_pmi.asm"
