#!/bin/sh
# Assemble the VBE test guests (nasm, flat binaries); they share the BIOS guests'
# start-up and reporting code in ../bios/.
set -e
cd "$(dirname "$0")"
for source in *.asm; do
    nasm -f bin -i ../bios/ -o "${source%.asm}.bin" "$source"
done
