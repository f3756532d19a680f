#!/bin/sh
# Rebuild the x87 test kernel (multiboot ELF): nasm, gcc -m32 -O2 -march=i686, ld.
set -e
cd "$(dirname "$0")"
nasm -f elf32 -o entry.o entry.asm
gcc -m32 -O2 -march=i686 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -fno-math-errno \
    -c -o kmain.o kmain.c
ld -m elf_i386 -z noexecstack -Ttext=0x100000 -e start -o fpu_kernel.elf entry.o kmain.o
rm -f entry.o kmain.o
