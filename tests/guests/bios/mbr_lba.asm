; An MBR that checks for the int 13h extensions (AH=41h) and loads the 4-sector
; loader from LBA 1 to 0000:8000 with AH=42h, then jumps to it with DL unchanged.
bits 16
org 0x7C00

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov ah, 0x41
    mov bx, 0x55AA
    int 0x13
    jc no_extensions
    cmp bx, 0xAA55
    jne no_extensions
    mov si, packet
    mov ah, 0x42
    int 0x13
    jc read_error
    jmp 0x0000:0x8000

no_extensions:
    mov si, msg_ext
    jmp fail
read_error:
    mov si, msg_read
fail:
    lodsb
    test al, al
    jz .halt
    out 0xE9, al
    jmp fail
.halt:
    cli
    hlt

packet:
    db 0x10, 0
    dw 4                            ; sectors
    dw 0x8000, 0x0000               ; buffer offset, segment
    dq 1                            ; LBA
msg_ext:  db "FAIL no int 13h extensions", 10, 0
msg_read: db "FAIL extended read", 10, 0

    times 446 - ($ - $$) db 0
    db 0x80, 0, 2, 0, 0x0C, 0, 0, 0  ; one active partition entry (for realism)
    dd 1, 4095
    times 510 - ($ - $$) db 0
    dw 0xAA55
