; CPU guest: REP string instructions across the 64 KiB segment wrap.
; Reports on port 0xE9: 'M' when REP MOVSB wrapped SI and DI from FFF8 past 0000
; copying 16 bytes; 'S' when REP STOSW wrapped DI; 'C' when REPE CMPSB found the
; first difference after wrapping; 'L' when STD + LODSB walked backwards over the
; wrap.  Any mismatch reports 'x' instead.
bits 16
org 0x7C00

SRC equ 0x1000                  ; segment of the source data
DST equ 0x2000                  ; segment of the destination

start:
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    cld
    ; fill SRC:FFF8..SRC:0007 with 0..15
    mov ax, SRC
    mov es, ax
    mov di, 0xFFF8
    xor al, al
    mov cx, 16
fill:
    stosb
    inc al
    loop fill
    ; REP MOVSB SRC:FFF8 -> DST:FFF8, 16 bytes (both wrap)
    mov ax, SRC
    mov ds, ax
    mov ax, DST
    mov es, ax
    mov si, 0xFFF8
    mov di, 0xFFF8
    mov cx, 16
    rep movsb
    mov al, 'M'
    cmp si, 8
    jne bad
    cmp di, 8
    jne bad
    cmp byte [es:0x0007], 15
    jne bad
    cmp byte [es:0xFFF8], 0
    jne bad
    call report
    ; REP STOSW from FFFC: words at FFFC, FFFE, 0000, 0002
    mov ax, 0xABCD
    mov di, 0xFFFC
    mov cx, 4
    rep stosw
    mov al, 'S'
    cmp di, 4
    jne bad
    cmp word [es:0x0002], 0xABCD
    jne bad
    call report
    ; REPE CMPSB: identical bytes FFF8..0001, then DST:0002 differs (0xCD vs 10)
    mov si, 0xFFF8
    mov di, 0xFFF8
    mov byte [es:0xFFFC], 4     ; undo the STOSW damage on FFFC..0001
    mov byte [es:0xFFFD], 5
    mov byte [es:0xFFFE], 6
    mov byte [es:0xFFFF], 7
    mov byte [es:0x0000], 8
    mov byte [es:0x0001], 9
    mov cx, 16
    repe cmpsb
    mov al, 'C'
    cmp si, 3                   ; stopped after comparing offset 2
    jne bad
    cmp cx, 5
    jne bad
    call report
    ; STD + LODSB from 0001 backwards: 0001, 0000, FFFF
    std
    mov si, 1
    lodsb
    lodsb
    lodsb
    cld
    mov ah, al
    mov al, 'L'
    cmp ah, 7                   ; SRC:FFFF holds 7
    jne bad
    cmp si, 0xFFFE
    jne bad
    call report
    hlt
bad:
    mov al, 'x'
    call report
    hlt

report:
    out 0xE9, al
    ret
