; A 64 KiB ROM image that replaces the BIOS (for the `rom` plugin test): the reset
; vector F000:FFF0 jumps to F000:E000, which reads its own signature through the
; F000 segment, reports "ROM OK" on port 0E9h and halts.
bits 16
org 0

    times 0xE000 - ($ - $$) db 0xFF
start:
    mov ax, 0xF000
    mov ds, ax
    cmp word [signature], 0x4D52    ; "RM"
    jne .bad
    mov si, message
.print:
    lodsb
    test al, al
    jz .halt
    out 0xE9, al
    jmp .print
.bad:
    mov al, '?'
    out 0xE9, al
.halt:
    cli
    hlt

message:   db "ROM OK", 10, 0
signature: db "RM"

    times 0xFFF0 - ($ - $$) db 0xFF
    jmp 0xF000:start
    times 0x10000 - ($ - $$) db 0xFF
