# Multiboot entry for the gcc SSE guest: sets CR4.OSFXSR/OSXMMEXCPT and calls main.
        .text
        .align 4
        .long 0x1BADB002, 0, -0x1BADB002
        .text
        .globl _start
_start:
        mov $0x90000, %esp
        mov %cr0, %eax
        and $~0x0C, %eax
        or $0x22, %eax
        mov %eax, %cr0
        mov %cr4, %eax
        or $0x600, %eax
        mov %eax, %cr4
        call main
1:      cli
        hlt
        jmp 1b
