; A boot sector for screenshot tests of text mode: sets mode 03h, replaces the
; glyph of 'A' in plane 2 with its own pattern (int 10h AX=1100h: load user font),
; hides the cursor, writes "AB" at row 0 (A yellow on blue 1Eh, B white on red
; 4Fh) straight into B800:0000 and halts with interrupts off.
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0003                  ; 80x25 text
        int 0x10
        push cs
        pop es
        mov bp, glyph                   ; ES:BP = the new glyph
        mov ax, 0x1100                  ; load user font
        mov bx, 0x1000                  ; BH = 16 bytes per character, BL = block 0
        mov cx, 1                       ; one character
        mov dx, 'A'                     ; starting at 'A'
        int 0x10
        mov ah, 0x01                    ; cursor shape: bit 5 of CH hides it
        mov cx, 0x2000
        int 0x10
        mov ax, 0xb800
        mov es, ax
        mov word [es:0], 0x1e00 | 'A'
        mov word [es:2], 0x4f00 | 'B'
        cli
        hlt

glyph:  db 0xff, 0x81, 0x42, 0x24, 0x18, 0x18, 0x24, 0x42
        db 0x81, 0xff, 0x00, 0xaa, 0x55, 0xaa, 0x55, 0x0f

        times 510 - ($ - $$) db 0
        dw 0xaa55
