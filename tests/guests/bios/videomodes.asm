; int 10h on the other text modes: 01h (40x25), 07h (monochrome at B000h, CRTC at
; 3B4h), display pages in mode 03h, and the 8x8 font load (AX=1112h: 50 rows).
%include "lib.inc"

main:
    mov ax, 0x0001                  ; 40x25 colour text
    int 0x10
    mov ah, 0x0F
    int 0x10
    expect al, 0x01
    expect ah, 40
    expect word [0x44C], 0x0800     ; page size
    mov ax, 0x0E41
    int 0x10
    mov ax, 0xB800
    mov es, ax
    expect byte [es:0], 'A'
    call get_cursor
    expect dx, 0x0001
    mov ah, 0x02                    ; the last column of row 0 is column 39
    xor bh, bh
    mov dx, 0x0027
    int 0x10
    mov ax, 0x0E42
    int 0x10
    call get_cursor
    expect dx, 0x0100
    expect byte [es:39*2], 'B'

    mov ax, 0x0007                  ; monochrome text
    int 0x10
    mov ah, 0x0F
    int 0x10
    expect al, 0x07
    expect ah, 80
    expect word [0x463], 0x03B4
    mov ax, 0x0E4D
    int 0x10
    mov ax, 0xB000
    mov es, ax
    expect word [es:0], 0x074D

    mov ax, 0x0003                  ; pages: page 1 starts at B800:1000
    int 0x10
    mov ax, 0x0501
    int 0x10
    expect byte [0x462], 1
    expect word [0x44E], 0x1000
    mov ah, 0x0F
    int 0x10
    expect bh, 1
    mov ax, 0x0E50                  ; teletype writes to the active page
    int 0x10
    mov ax, 0xB800
    mov es, ax
    expect byte [es:0x1000], 'P'
    expect byte [es:0], ' '
    mov ah, 0x03
    mov bh, 1
    int 0x10
    expect dx, 0x0001
    mov ah, 0x03                    ; page 0 keeps its own cursor
    xor bh, bh
    int 0x10
    expect dx, 0x0000
    mov ax, 0x0500
    int 0x10

    mov ax, 0x1112                  ; 8x8 font: 50 rows
    xor bl, bl
    int 0x10
    expect byte [0x484], 49
    expect word [0x485], 8
    mov ax, 0x1130
    mov bh, 0x00
    int 0x10
    expect cx, 8
    expect dl, 49
    mov ah, 0x02                    ; row 49 exists; teletype past it scrolls
    xor bh, bh
    mov dx, 0x314F
    int 0x10
    mov ax, 0x0E5A
    int 0x10
    call get_cursor
    expect dx, 0x3100
    mov ax, 0xB800
    mov es, ax
    expect byte [es:(48*80+79)*2], 'Z'
    jmp test_passed

get_cursor:
    push ax
    push bx
    push cx
    mov ah, 0x03
    xor bh, bh
    int 0x10
    pop cx
    pop bx
    pop ax
    ret

%include "report.inc"
guest_end:
