#!/usr/bin/env bash
# Build the gcc SSE2 guest: kernel.elf, a multiboot kernel whose double and integer
# SIMD code gcc compiles to SSE2 (-m32 -msse2 -mfpmath=sse -O2).  Compare:
# qemu-system-i386 -cpu pentium3,+sse2,+clflush -kernel kernel.elf -debugcon file:out.txt
# -display none (expected_qemu.txt; QEMU 7.2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
gcc -m32 -msse2 -mfpmath=sse -O2 -ffreestanding -fno-pic -fno-stack-protector -fno-math-errno -nostdlib \
    -c kernel.c -o kernel.o
as --32 ../sse_gcc/entry.s -o entry.o    # the SSE guest's entry: CR4.OSFXSR, OSXMMEXCPT
ld -m elf_i386 -Ttext 0x100000 -e _start -z noexecstack entry.o kernel.o -o kernel.elf
rm -f kernel.o entry.o
