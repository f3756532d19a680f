; Entry of the debugger test kernel (loaded by tests/guests/pm/loader.bin at
; 0xC0100000 with paging on): a stack, then kmain() in C, then halt.
        bits 32
        global _start
        extern kmain
        section .text
_start: mov esp, stack_top
        call kmain
        cli
.halt:  hlt
        jmp .halt

        section .bss
        align 16
stack:  resb 4096
stack_top:

        section .note.GNU-stack noalloc noexec nowrite progbits
