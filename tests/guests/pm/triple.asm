; Triple fault (tests/test_cpu_protected.py): enter protected mode with an empty
; IDT (limit 0) and execute INT3.  Delivering #BP faults with #GP(1Ah), delivering
; that #GP faults again (#GP + #GP = #DF), and delivering #DF faults: shutdown.
; Prints 'B' on port 0xE9 at every boot, so a reset shows as a second 'B'.
; Build: tests/guests/pm/build.sh

bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    mov al, 'B'
    out 0xE9, al
    lgdt [gdt_descriptor]
    lidt [idt_descriptor]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:protected

bits 32
protected:
    mov ax, 0x10
    mov ds, ax
    mov ss, ax
    mov esp, 0x7C00
    int3
    hlt

gdt:
    dq 0
    dq 0x00CF9A000000FFFF
    dq 0x00CF92000000FFFF
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt
idt_descriptor:
    dw 0
    dd 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
