#!/usr/bin/env bash
# Build the gcc SSE guest: kernel.elf, a multiboot kernel whose float kernel gcc
# compiles to SSE (-m32 -msse -mno-sse2 -O2).  Compare:
# qemu-system-i386 -cpu pentium3 -kernel kernel.elf -debugcon file:out.txt (expected_qemu.txt).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
gcc -m32 -msse -mno-sse2 -O2 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -c kernel.c -o kernel.o
as --32 entry.s -o entry.o
ld -m elf_i386 -Ttext 0x100000 -e _start -z noexecstack entry.o kernel.o -o kernel.elf
rm -f kernel.o entry.o
