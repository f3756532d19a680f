#!/bin/sh
# Rebuild the kernel-loader test kernels (nasm; ld from binutils for the ELF one).
set -e
cd "$(dirname "$0")"
nasm -f bin -o bzimage.bin bzimage.asm
nasm -f elf32 -w-zeroing -o multiboot.o multiboot.asm
ld -m elf_i386 -Ttext=0x100000 -e start -o multiboot.elf multiboot.o
rm -f multiboot.o
nasm -f bin -w-zeroing -DAOUT -o multiboot_aout.bin multiboot.asm
