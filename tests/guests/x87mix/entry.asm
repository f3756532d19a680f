; Multiboot (v1) entry of the x87 guest: a stack, FNINIT, then fpu.c's main(),
; then HLT with interrupts off.  Booted with --kernel here and -kernel on QEMU.
MB_MAGIC  equ 0x1BADB002
MB_FLAGS  equ 0x00000003
        bits 32
        section .text
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)

        global start
        extern main
start:
        cli
        mov esp, stack_top
        fninit
        call main
.halt:  hlt
        jmp .halt

        section .bss
        align 16
        resb 16384
stack_top:

        section .note.GNU-stack noalloc noexec nowrite progbits
