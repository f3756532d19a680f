; Mode 04h (320x200, 4 colours, CGA-compatible) as a DOS program draws it:
;  1. int 10h AX=0004h;
;  2. byte c of line y, at B800:(y & 1) * 2000h + (y >> 1) * 80 + c, gets
;     (c + y) & FFh: four 2-bit pixels, high bits first;
;  3. int 10h AH=0Ch plots pixel (i, i) in colour 3 for i = 0..49, AH=0Dh reads
;     (10, 10) = 3 and (7, 0) = 1 back;
;  4. int 10h AH=02h/0Eh writes "CGA" in colour 2 at row 24, column 0 (8x8 font).
; Reports PASS / FAIL on port E9h and halts; tests/test_screenshot.py computes the
; expected picture from these rules.
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0004
        int 0x10
        mov ax, 0xb800
        mov es, ax
        xor bx, bx                      ; y
.row:   mov di, bx
        shr di, 1
        imul di, di, 80
        test bl, 1
        jz .even
        add di, 0x2000
.even:  xor cx, cx                      ; byte column
.col:   mov al, cl
        add al, bl
        stosb
        inc cx
        cmp cx, 80
        jb .col
        inc bx
        cmp bx, 200
        jb .row
        xor si, si
.diag:  mov ax, 0x0c03                  ; plot (si, si) in colour 3
        xor bh, bh
        mov cx, si
        mov dx, si
        int 0x10
        inc si
        cmp si, 50
        jb .diag
        mov ah, 0x0d
        xor bh, bh
        mov cx, 10
        mov dx, 10
        int 0x10
        cmp al, 3
        jne fail
        mov ah, 0x0d                    ; byte 1 of line 0 = 01h: pixels 0, 0, 0, 1
        mov cx, 7
        xor dx, dx
        int 0x10
        cmp al, 1
        jne fail
        mov ah, 0x02                    ; cursor to row 24, column 0
        xor bh, bh
        mov dx, 0x1800
        int 0x10
        mov si, text
.char:  lodsb
        test al, al
        jz pass
        mov ah, 0x0e
        mov bx, 0x0002
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

text:     db "CGA", 0
msg_pass: db "PASS", 10, 0
msg_fail: db "FAIL", 10, 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
