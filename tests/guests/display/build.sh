#!/usr/bin/env bash
# Assemble the display test guests (nasm); mode13_idle.asm includes mode13.asm.
set -euo pipefail
cd "$(dirname "$0")"
for source in *.asm; do
  nasm -f bin -i ./ -o "${source%.asm}.bin" "$source"
done
