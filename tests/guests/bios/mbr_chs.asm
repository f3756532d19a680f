; An MBR that loads the 4-sector loader from cylinder 0, head 0, sector 2 to
; 0000:8000 with int 13h AH=02h, then jumps to it with DL unchanged.
bits 16
org 0x7C00

    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov ax, 0x0204
    mov bx, 0x8000
    mov cx, 0x0002
    xor dh, dh
    int 0x13
    jc read_error
    cmp al, 4
    jne read_error
    jmp 0x0000:0x8000

read_error:
    mov si, msg_read
.print:
    lodsb
    test al, al
    jz .halt
    out 0xE9, al
    jmp .print
.halt:
    cli
    hlt

msg_read: db "FAIL CHS read", 10, 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
