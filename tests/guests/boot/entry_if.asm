; The boot sector starts with interrupts enabled, as on IBM's BIOS (its int 19h
; begins with STI: the diskette read waits for IRQ 6) and SeaBIOS: a HLT as the
; first instruction returns at the next timer tick (IRQ 0).  Then it reports on
; port E9h: "PASS" with IF still set and DL = the boot drive (00h), else "FAIL".
        bits 16
        org 0x7c00

start:  hlt                             ; woken by IRQ 0 only if interrupts are on
        pushf
        pop ax
        xor bx, bx
        mov ds, bx
        mov si, fail
        test ah, 0x02                   ; IF
        jz .print
        test dl, dl
        jnz .print
        mov si, pass
.print: lodsb
        test al, al
        jz .done
        out 0xe9, al
        jmp .print
.done:  cli
        hlt

pass:   db "PASS", 10, 0
fail:   db "FAIL", 10, 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
