; A boot sector for the terminal-console tests: text mode 03h, "READY" in yellow
; on blue (1Eh) on row 0 and "BLINK" in blinking light red on black (8Ch) on row
; 1, then every byte the keyboard controller delivers on IRQ 1 (port 60h, scan
; code set 1 after the 8042's translation) is copied to the debug port E9h.
        bits 16
        org 0x7c00

start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0003
        int 0x10
        mov word [9 * 4], keyboard      ; IRQ 1 -> our handler
        mov word [9 * 4 + 2], 0
        mov ax, 0xb800
        mov es, ax
        xor di, di
        mov si, ready
        mov ah, 0x1e
        call print
        mov di, 160
        mov si, blink
        mov ah, 0x8c
        call print
        sti
.idle:  hlt
        jmp .idle

print:  lodsb                           ; DS:SI string, AH attribute, ES:DI cell
        test al, al
        jz .done
        stosw
        jmp print
.done:  ret

keyboard:
        push ax
        in al, 0x60
        out 0xe9, al
        mov al, 0x20                    ; non-specific EOI to the master PIC
        out 0x20, al
        pop ax
        iret

ready:  db "READY", 0
blink:  db "BLINK", 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
