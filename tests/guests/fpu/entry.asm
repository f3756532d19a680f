; Multiboot entry of the x87 test kernel (kmain.c): a stack, then kmain(), then
; "\nEND\n" on port E9h and HLT with interrupts off.
        bits 32
        section .text                   ; the header first: linked at the start of .text
        align 4
        dd 0x1BADB002, 0x00000003, -(0x1BADB002 + 0x00000003)

        global start
        extern kmain
start:
        mov esp, stack_top
        call kmain
        cli
        hlt

        section .bss
        align 16
        resb 16384
stack_top:
