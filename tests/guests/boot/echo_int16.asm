; An interactive boot sector: reads keys with int 16h AH=00h and echoes them with
; int 10h AH=0Eh until '.' is typed, then says goodbye and halts with interrupts
; disabled.  Used by the record/replay and determinism tests: its behaviour depends
; on typed input and on the timer (int 16h waits with STI; HLT).
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        sti
        mov si, prompt
        call print
.key:   xor ah, ah                      ; wait for a key: AH = scancode, AL = ASCII
        int 0x16
        cmp al, '.'
        je .done
        cmp al, 13
        jne .echo
        mov al, 13                      ; Enter: carriage return and line feed
        call putc
        mov al, 10
.echo:  call putc
        jmp .key
.done:  mov si, bye
        call print
        cli
.halt:  hlt
        jmp .halt

putc:   mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        ret

print:  lodsb
        test al, al
        jz .ret
        call putc
        jmp print
.ret:   ret

prompt  db "Type, and end with a dot> ", 0
bye     db 13, 10, "Bye.", 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
