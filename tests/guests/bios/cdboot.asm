; A no-emulation El Torito boot image: checks the CD-ROM services of int 13h on
; the boot drive (DL = E0h): extensions present, AH=42h reads 2048-byte sectors
; (the primary volume descriptor at LBA 16), AH=48h, AH=4B01h emulation status.
bits 16
org 0x7C00
%include "checks.inc"

    jmp 0x0000:start                ; loaded at 07C0:0000; run at 0000:7C00
start:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    expect dl, 0xE0
    mov [drive], dl

    mov ah, 0x41
    mov bx, 0x55AA
    int 0x13
    expect_cf 0
    expect bx, 0xAA55

    mov ah, 0x42                    ; LBA 16: the primary volume descriptor
    mov dl, [drive]
    mov si, packet
    int 0x13
    expect_cf 0
    expect byte [0x9000], 1
    expect dword [0x9001], 0x30304443   ; "CD00"
    expect byte [0x9005], '1'

    mov ah, 0x48
    mov dl, [drive]
    mov si, params
    int 0x13
    expect_cf 0
    expect word [params+24], 2048

    mov ax, 0x4B01                  ; emulation status: no emulation, drive E0h
    mov dl, [drive]
    mov si, status
    int 0x13
    expect_cf 0
    expect byte [status], 0x13
    expect byte [status+1], 0x00
    expect byte [status+2], 0xE0
    expect dword [status+4], 20     ; the boot image's LBA

    mov ax, 0x0201                  ; no CHS access to a CD
    mov cx, 0x0001
    xor dh, dh
    mov dl, [drive]
    mov bx, 0x9000
    int 0x13
    expect_cf 1
    jmp test_passed


drive:  db 0
packet: db 0x10, 0
        dw 1
        dw 0x9000, 0
        dq 16
params: dw 0x1A
        times 0x18 db 0
status: times 0x13 db 0

%include "report.inc"
    times 2048 - ($ - $$) db 0
