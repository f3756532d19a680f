; A boot sector that sets text mode 03h through int 10h and prints
; "Hello, world!" one character at a time with AH=0Ah (write character at the
; cursor) and AH=02h (set cursor position), then halts.
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0003                  ; set mode 03h: 80x25 text
        int 0x10
        mov si, message
        mov dl, 33                      ; column
.next:  lodsb
        test al, al
        jz .done
        push ax
        mov ah, 0x02                    ; set cursor: page BH, row DH, column DL
        xor bh, bh
        mov dh, 12
        int 0x10
        pop ax
        mov ah, 0x0a                    ; write AL at the cursor, CX times
        xor bh, bh
        mov cx, 1
        int 0x10
        inc dl
        jmp .next
.done:  mov ah, 0x02                    ; park the cursor on the next line
        mov dx, 0x0d00
        int 0x10
        cli                             ; the BIOS started us with interrupts on
.halt:  hlt
        jmp .halt

message db "Hello, world!", 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
