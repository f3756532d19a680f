; Bochs' magic breakpoint (tests/test_debugger.py): `xchg bx, bx` (87 DB with a
; 16-bit operand size) stops the debugger after it, in real mode and in 32-bit
; protected mode (66 87 DB there); the other exchanges of a register with itself
; (xchg cx, cx; xchg ebx, ebx in either mode) do not.  The instruction after each
; magic breakpoint is a distinctive MOV so the test can see where it stopped.
; Build: ./build.sh (nasm -f bin)

bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    mov bx, 0x1234
    xchg cx, cx                     ; not magic
    xchg ebx, ebx                   ; 66 87 DB in 16-bit code: 32-bit operands, not magic
    xchg bx, bx                     ; stop 1
    mov ax, 0x1111
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:protected

bits 32
protected:
    mov ax, 0x10
    mov ds, ax
    mov ss, ax
    xchg ebx, ebx                   ; 87 DB in 32-bit code: not magic
    xchg bx, bx                     ; 66 87 DB: stop 2
    mov eax, 0x2222
    mov al, 'D'
    out 0xE9, al
    hlt                             ; interrupts off: the run ends here

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 08: flat 32-bit code
    dq 0x00CF92000000FFFF           ; 10: flat data
gdtr:
    dw gdtr - gdt - 1
    dd gdt

times 510 - ($ - $$) db 0
dw 0xAA55
