#!/usr/bin/env bash
# Build the debugger test kernel: nasm entry + C (gcc -m32 -g, freestanding), linked
# at 0xC0100000 like tests/guests/pm/kernel.elf so pm/loader.bin boots it.
set -euo pipefail
cd "$(dirname "$0")"
nasm -f elf32 -o entry.o entry.asm
gcc -m32 -g -O0 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
    -nostdlib -c -o kmain.o kmain.c
ld -m elf_i386 -N -e _start -Ttext 0xC0100000 --build-id=none --no-warn-rwx-segments \
    -o kernel_debug.elf entry.o kmain.o
rm -f entry.o kmain.o
# The real-mode boot sector for stepping across interrupts.
nasm -f bin -o irqloop.bin irqloop.asm
# Bochs' magic breakpoint in real and protected mode.
nasm -f bin -o magicbreak.bin magicbreak.asm
# Watchpoints without stepping: loads, stores and stack work on watched bytes.
nasm -f bin -o watchops.bin watchops.asm
