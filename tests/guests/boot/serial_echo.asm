; A serial "console" boot sector: reads bytes from COM1 by polling the line status
; register and sends each one back incremented ("HAL" comes back as "IBM") until a
; '.' arrives, then halts.  Used to test `--serial stdio` with piped input.
        bits 16
        org 0x7c00

start:  mov dx, 0x3fb                   ; LCR: 8 data bits, no parity, 1 stop bit
        mov al, 0x03
        out dx, al
.wait:  mov dx, 0x3fd                   ; LSR bit 0: data ready
        in al, dx
        test al, 1
        jz .wait
        mov dx, 0x3f8
        in al, dx
        cmp al, '.'
        je .done
        inc al
        out dx, al
        jmp .wait
.done:  cli
.halt:  hlt
        jmp .halt

        times 510 - ($ - $$) db 0
        dw 0xaa55
