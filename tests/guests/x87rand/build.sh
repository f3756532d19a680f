#!/bin/sh
# Rebuild the x87 random-operand guest: a multiboot ELF (nasm, gcc -m32, GNU ld).
set -e
cd "$(dirname "$0")"
nasm -f elf32 -o entry.o entry.asm
gcc -m32 -O2 -ffreestanding -nostdlib -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables \
    -c -o x87rand.o x87rand.c
ld -m elf_i386 -Ttext=0x100000 -e start --build-id=none -o x87rand.elf entry.o x87rand.o
rm -f entry.o x87rand.o
