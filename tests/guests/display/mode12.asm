; Mode 12h (640x480, 16 colours, planar) as a DOS program draws it:
;  1. int 10h AX=0012h;
;  2. write mode 2 with the bit mask at FFh: byte (column c, line y) gets colour
;     (c + y / 16) & 15, so eight pixels share a colour;
;  3. int 10h AH=0Ch plots pixel (i, i) in colour 15 for i = 0..99, and AH=0Dh
;     reads pixels back: (50, 50) = 15, (100, 10) = 12;
;  4. int 10h AH=02h/0Eh writes "VGA" in yellow (14) at row 29, column 0 (8x16 font,
;     black background).
; Reports PASS / FAIL on port E9h and halts; tests/test_screenshot.py computes the
; expected picture from these rules.
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0012
        int 0x10
        mov dx, 0x3ce
        mov ax, 0x0205                  ; graphics mode: write mode 2
        out dx, ax
        mov ax, 0xa000
        mov es, ax
        xor di, di
        xor bx, bx                      ; y
.row:   xor cx, cx                      ; byte column
.col:   mov ax, bx
        shr ax, 4
        add ax, cx
        and al, 15
        stosb
        inc cx
        cmp cx, 80
        jb .col
        inc bx
        cmp bx, 480
        jb .row
        mov ax, 0x0005                  ; write mode 0 again
        out dx, ax
        xor si, si
.diag:  mov ax, 0x0c0f                  ; plot (si, si) in colour 15
        xor bh, bh
        mov cx, si
        mov dx, si
        int 0x10
        inc si
        cmp si, 100
        jb .diag
        mov ah, 0x0d
        xor bh, bh
        mov cx, 50
        mov dx, 50
        int 0x10
        cmp al, 15
        jne fail
        mov ah, 0x0d
        mov cx, 100
        mov dx, 10
        int 0x10
        cmp al, 12
        jne fail
        mov ah, 0x02                    ; cursor to row 29, column 0
        xor bh, bh
        mov dx, 0x1d00
        int 0x10
        mov si, text
.char:  lodsb
        test al, al
        jz pass
        mov ah, 0x0e
        mov bx, 0x000e                  ; yellow
        int 0x10
        jmp .char
pass:   mov si, msg_pass
        jmp report
fail:   mov si, msg_fail
report: lodsb
        test al, al
        jz .done
        out 0xe9, al
        jmp report
.done:  cli
        hlt

text:     db "VGA", 0
msg_pass: db "PASS", 10, 0
msg_fail: db "FAIL", 10, 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
