#!/bin/sh
# Rebuild the x87 guest: a multiboot ELF (nasm, gcc -m32, GNU ld).
set -e
cd "$(dirname "$0")"
nasm -f elf32 -o entry.o entry.asm
gcc -m32 -O2 -ffreestanding -nostdlib -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -fno-math-errno \
    -c -o fpu.o fpu.c
ld -m elf_i386 -Ttext=0x100000 -e start --build-id=none -o fpu.elf entry.o fpu.o
rm -f entry.o fpu.o
