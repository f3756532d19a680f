; int 13h on a 1.44M floppy (the boot drive) and a hard disk of 4096 sectors
; (LBA-assisted geometry 4/16/63).  Every sector of both images starts with its
; own LBA as a word (the test writes them); the boot sector's own word is code.
%include "lib.inc"

BUF equ 0x9000

main:
    mov ah, 0x08                    ; floppy parameters
    xor dl, dl
    int 0x13
    expect_cf 0
    expect ah, 0
    expect bl, 4
    expect cx, 0x4F12
    expect dx, 0x0101
    expect di, 0xEFC7
    mov ax, es
    expect ax, 0xF000
    xor ax, ax
    mov es, ax

    mov ah, 0x15                    ; floppy with change line
    xor dl, dl
    int 0x13
    expect_cf 0
    expect ah, 0x02

    mov ax, 0x0201                  ; CHS 1/0/5 = LBA 40
    mov cx, 0x0105
    xor dx, dx
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect ax, 0x0001
    expect word [BUF], 40

    mov ax, 0x0202                  ; two sectors across the head: LBA 17, 18
    mov cx, 0x0012
    xor dx, dx
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect al, 2
    expect word [BUF], 17
    expect word [BUF+512], 18

    mov di, BUF                     ; write LBA 100 (CHS 2/1/11), read it back
    mov cx, 256
    mov ax, 0x1234
    rep stosw
    mov ax, 0x0301
    mov cx, 0x020B
    mov dx, 0x0100
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect al, 1
    mov word [BUF+0x400], 0
    mov ax, 0x0201
    mov bx, BUF+0x400
    int 0x13
    expect_cf 0
    expect word [BUF+0x400], 0x1234
    expect word [BUF+0x5FE], 0x1234
    mov ax, 0x0401                  ; verify
    int 0x13
    expect_cf 0
    expect al, 1

    mov ax, 0x0201                  ; sector 19 does not exist on a 1.44M track
    mov cx, 0x0013
    xor dx, dx
    mov bx, BUF
    int 0x13
    expect_cf 1
    expect ah, 0x04
    mov ah, 0x01                    ; last status, then cleared
    xor dl, dl
    int 0x13
    expect_cf 1
    expect ah, 0x04
    mov ah, 0x01
    int 0x13
    expect_cf 0
    expect ah, 0x00

    mov ah, 0x18                    ; media type for format: 80 tracks, 18 sectors
    mov cx, 0x4F12
    xor dl, dl
    int 0x13
    expect_cf 0
    expect di, 0xEFC7
    mov ax, es
    expect ax, 0xF000
    xor ax, ax
    mov es, ax
    mov ah, 0x18                    ; 360K media in a 1.44M drive: not supported
    mov cx, 0x2709
    int 0x13
    expect_cf 1
    expect ah, 0x0C

    mov di, fields                  ; format cylinder 5, head 1: 18 address fields
    mov cx, 18
    mov al, 1
.field:
    mov byte [di], 5
    mov byte [di+1], 1
    mov [di+2], al
    mov byte [di+3], 2
    add di, 4
    inc al
    loop .field
    mov ax, 0x0512
    mov cx, 0x0500
    mov dx, 0x0100
    mov bx, fields
    int 0x13
    expect_cf 0
    mov ax, 0x0201                  ; sector 5/1/7 now holds the fill byte F6h
    mov cx, 0x0507
    mov dx, 0x0100
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect word [BUF], 0xF6F6
    expect word [BUF+510], 0xF6F6

    mov ax, 0x0201                  ; no second floppy: timeout
    mov cx, 0x0001
    mov dx, 0x0001
    int 0x13
    expect_cf 1
    expect ah, 0x80
    mov ah, 0x41                    ; no extensions for floppies
    mov bx, 0x55AA
    xor dl, dl
    int 0x13
    expect_cf 1
    mov ah, 0x00                    ; reset
    xor dl, dl
    int 0x13
    expect_cf 0
    expect ah, 0

    mov ah, 0x08                    ; hard disk parameters
    mov dl, 0x80
    int 0x13
    expect_cf 0
    expect dx, 0x0F01
    expect cx, 0x033F

    mov ah, 0x15                    ; hard disk: sectors in CX:DX
    mov dl, 0x80
    int 0x13
    expect_cf 0
    expect ah, 0x03
    expect cx, 0
    expect dx, 4032

    mov ah, 0x41                    ; extensions present
    mov bx, 0x55AA
    mov dl, 0x80
    int 0x13
    expect_cf 0
    expect bx, 0xAA55
    expect ah, 0x30
    test cx, 1
    expect_zf 0

    mov ah, 0x42                    ; extended read of LBA 2000-2002
    mov dl, 0x80
    mov si, dap
    int 0x13
    expect_cf 0
    expect ah, 0
    expect word [dap+2], 3
    expect word [BUF], 2000
    expect word [BUF+512], 2001
    expect word [BUF+1024], 2002

    mov word [dap+8], 4094          ; runs past the end: 2 of 3 sectors, error 04h
    mov ah, 0x42
    mov dl, 0x80
    int 0x13
    expect_cf 1
    expect ah, 0x04
    expect word [dap+2], 2
    expect word [BUF+512], 4095

    mov ah, 0x48                    ; drive parameters
    mov dl, 0x80
    mov si, params
    int 0x13
    expect_cf 0
    expect word [params], 0x1E
    expect word [params+4], 4
    expect word [params+8], 16
    expect word [params+12], 63
    expect word [params+16], 4096
    expect word [params+18], 0
    expect word [params+24], 512

    mov ax, 0x0201                  ; CHS on the hard disk: 1/2/3 = LBA 1136
    mov cx, 0x0103
    mov dx, 0x0280
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect word [BUF], 1136

    mov word [BUF], 0xBEEF          ; extended write of LBA 3000, read back with CHS
    mov word [dap+2], 1
    mov word [dap+8], 3000
    mov ah, 0x43
    mov dl, 0x80
    mov si, dap
    int 0x13
    expect_cf 0
    mov word [BUF], 0
    mov ax, 0x0201                  ; LBA 3000 = CHS 2/15/40
    mov cx, 0x0228
    mov dx, 0x0F80
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect word [BUF], 0xBEEF

    mov ax, 0x0201                  ; no second hard disk
    mov cx, 0x0001
    mov dx, 0x0081
    int 0x13
    expect_cf 1
    expect ah, 0x01
    jmp test_passed

dap:
    db 0x10, 0
    dw 3
    dw BUF, 0
    dq 2000
fields: times 18 * 4 db 0
params:
    dw 0x1E
    times 0x1C db 0

%include "report.inc"
guest_end:
