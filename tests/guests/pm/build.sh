#!/usr/bin/env bash
# Build the protected-mode guests (nasm and GNU ld for the ELF kernel):
#   loader.bin   boot sector + second stage (16 sectors)
#   kernel.elf   the ELF kernel the loader reads from LBA 32
#   triple.bin   boot sector that triple-faults in protected mode
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
nasm -f bin -o loader.bin loader.asm
nasm -f bin -o triple.bin triple.asm
nasm -f elf32 -o kernel.o kernel.asm
ld -m elf_i386 -N -e _start -Ttext 0xC0100000 --build-id=none --no-warn-rwx-segments -o kernel.elf kernel.o
rm -f kernel.o
