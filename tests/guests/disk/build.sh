#!/bin/sh
# Rebuild the disk-safety guests: every NAME.asm here becomes NAME.bin (nasm, flat binary).
set -e
cd "$(dirname "$0")"
for source in *.asm; do
    nasm -f bin -o "${source%.asm}.bin" "$source"
done
