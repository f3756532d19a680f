; The classic first OS program: a boot sector that writes a string with colour
; attributes straight into VGA text memory at 0xB8000, then halts in a loop with
; interrupts off (the BIOS starts a boot sector with them on).
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ax, 0xb800
        mov es, ax
        mov si, message
        mov di, (2 * 80 + 10) * 2       ; row 2, column 10
        mov ah, 0x1e                    ; yellow on blue
.next:  lodsb
        test al, al
        jz .done
        stosw
        inc ah                          ; a different colour for every character
        and ah, 0x7f
        jmp .next
.done:  mov word [es:0], 0x2f4f         ; 'O' white on green in the corner
        mov word [es:2], 0x2f4b         ; 'K'
        cli
.halt:  hlt
        jmp .halt

message db "Hello from VGA memory!", 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
