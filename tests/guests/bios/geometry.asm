; A boot sector that reports int 13h AH=08h for drive 00h on port 0E9h as raw
; bytes: CF, AH, BL, CH, CL, DH, DL; then halts.
bits 16
org 0x7C00

    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ah, 0x08
    xor dl, dl
    int 0x13
    setc al
    out 0xE9, al
    mov al, ah
    out 0xE9, al
    mov al, bl
    out 0xE9, al
    mov al, ch
    out 0xE9, al
    mov al, cl
    out 0xE9, al
    mov al, dh
    out 0xE9, al
    mov al, dl
    out 0xE9, al
    cli
    hlt

    times 510 - ($ - $$) db 0
    dw 0xAA55
