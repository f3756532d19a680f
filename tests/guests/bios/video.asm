; int 10h: mode, cursor, characters, teletype with scrolling, scroll windows, write
; string, font information, display combination, state, mode 13h pixels and text.
%include "lib.inc"

main:
    mov ah, 0x0F                    ; POST left mode 03h, 80 columns, page 0
    int 0x10
    expect al, 0x03
    expect ah, 80
    expect bh, 0

    mov ax, 0x0003                  ; set mode 03h: AL returns 30h
    int 0x10
    expect al, 0x30

    mov ah, 0x02                    ; cursor position set/get
    xor bh, bh
    mov dx, 0x0A05
    int 0x10
    mov ah, 0x03
    int 0x10
    expect dx, 0x0A05
    expect cx, 0x0607

    mov ax, 0x0958                  ; 3 x 'X' attribute 1Eh; cursor stays
    mov bx, 0x001E
    mov cx, 3
    int 0x10
    mov ah, 0x03
    int 0x10
    expect dx, 0x0A05
    mov ax, 0xB800
    mov es, ax
    expect word [es:(10*80+7)*2], 0x1E58
    expect word [es:(10*80+8)*2], 0x0720

    mov ah, 0x08                    ; read char and attribute at the cursor
    int 0x10
    expect ax, 0x1E58
    mov ax, 0x0A41                  ; AH=0Ah: character only, attribute kept
    mov cx, 1
    int 0x10
    mov ah, 0x08
    int 0x10
    expect ax, 0x1E41

    mov ah, 0x02                    ; teletype: BS, CR, LF, BEL
    mov dx, 0x050A
    int 0x10
    mov ax, 0x0E08
    int 0x10
    call get_cursor
    expect dx, 0x0509
    mov ax, 0x0E0D
    int 0x10
    call get_cursor
    expect dx, 0x0500
    mov ax, 0x0E0A
    int 0x10
    call get_cursor
    expect dx, 0x0600
    mov ax, 0x0E07
    int 0x10
    call get_cursor
    expect dx, 0x0600
    mov ax, 0x0E62                  ; 'b' keeps the cell's attribute
    int 0x10
    expect word [es:(6*80)*2], 0x0762
    call get_cursor
    expect dx, 0x0601

    mov ah, 0x02                    ; a marker on row 1, then teletype past the
    mov dx, 0x0100                  ; last cell: the screen scrolls up one line
    int 0x10
    mov ax, 0x094D
    mov bx, 0x0017
    mov cx, 1
    int 0x10
    mov ah, 0x02
    xor bh, bh
    mov dx, 0x184F
    int 0x10
    mov ax, 0x0E5A
    int 0x10
    call get_cursor
    expect dx, 0x1800
    expect word [es:0], 0x174D
    expect byte [es:(23*80+79)*2], 'Z'
    expect word [es:(24*80)*2], 0x0720

    mov ax, 0x0701                  ; scroll rows 0-2 down one, blank row 0 in 4Eh
    mov bh, 0x4E
    xor cx, cx
    mov dx, 0x024F
    int 0x10
    expect word [es:0], 0x4E20
    expect word [es:80*2], 0x174D
    mov ax, 0x0600                  ; AL=0 clears the window
    mov bh, 0x1F
    mov cx, 0x0000
    mov dx, 0x0001
    int 0x10
    expect word [es:0], 0x1F20
    expect word [es:2], 0x1F20
    expect word [es:4], 0x4E20

    push es                         ; write string, attribute in BL, cursor moved
    xor ax, ax
    mov es, ax
    mov bp, hello
    mov ax, 0x1301
    mov bx, 0x002F
    mov cx, 5
    mov dx, 0x0C00
    int 0x10
    mov bp, pairs                   ; AL=03h: (char, attribute) pairs
    mov ax, 0x1303
    mov cx, 2
    mov dx, 0x0D00
    int 0x10
    mov bp, hello                   ; AL=00h: the cursor does not move
    mov ax, 0x1300
    mov bl, 0x70
    mov cx, 1
    mov dx, 0x0E00
    int 0x10
    pop es
    call get_cursor
    expect dx, 0x0D02
    expect word [es:(12*80)*2], 0x2F48
    expect word [es:(12*80+4)*2], 0x2F6F
    expect word [es:(13*80)*2], 0x4E61
    expect word [es:(13*80+1)*2], 0x1F62
    expect word [es:(14*80)*2], 0x7048

    mov ax, 0x1130                  ; font information: 8x16 font in the ROM
    mov bh, 0x06
    int 0x10
    mov ax, es
    expect ax, 0xF000
    expect cx, 16
    expect dl, 24
    mov ax, 0x1130                  ; BH=0: the int 1Fh vector
    mov bh, 0x00
    int 0x10
    xor ax, ax
    mov ds, ax
    expect bp, [0x1F*4]
    mov ax, es
    expect ax, [0x1F*4+2]

    mov ax, 0x1A00                  ; display combination: VGA colour
    int 0x10
    expect al, 0x1A
    expect bl, 0x08
    mov ah, 0x12                    ; EGA information: colour, 256K
    mov bl, 0x10
    int 0x10
    expect bh, 0x00
    expect bl, 0x03
    xor ax, ax                      ; state buffer: the current mode at byte 4
    mov es, ax
    xor bx, bx
    mov ah, 0x1B
    mov di, state_buffer
    int 0x10
    expect al, 0x1B
    expect byte [state_buffer+4], 0x03
    expect word [state_buffer+2], 0xF000

    mov ax, 0x0013                  ; mode 13h: 320x200, 256 colours
    int 0x10
    mov ah, 0x0F
    int 0x10
    expect al, 0x13
    expect ah, 40
    mov ax, 0x0C05                  ; pixel write/read
    xor bh, bh
    mov cx, 10
    mov dx, 20
    int 0x10
    mov ah, 0x0D
    int 0x10
    expect al, 5
    mov ax, 0xA000
    mov es, ax
    expect byte [es:20*320+10], 5
    mov ax, 0x0C88                  ; in 256 colours bit 7 is part of the colour,
    mov cx, 11                      ; not the XOR flag of the other graphics modes
    int 0x10
    int 0x10
    expect byte [es:20*320+11], 0x88

    mov ah, 0x02                    ; teletype 'A' in colour 0Fh at row 0, col 1:
    xor bh, bh                      ; the pixels match the int 43h font
    mov dx, 0x0001
    int 0x10
    mov ax, 0x0E41
    mov bl, 0x0F
    int 0x10
    lds si, [cs:0x43*4]
    add si, 'A' * 8
    xor di, di
    mov cx, 8
.glyph_row:
    xor ah, ah
    xor bx, bx
.glyph_pixel:
    shl ah, 1
    cmp byte [es:di+bx+8], 0
    je .dark
    or ah, 1
.dark:
    inc bx
    cmp bx, 8
    jne .glyph_pixel
    lodsb
    push cx
    mov cl, al
    expect ah, cl
    pop cx
    add di, 320
    loop .glyph_row
    xor ax, ax
    mov ds, ax

    mov dx, 0x3C4                   ; mode 13h register state: chain-4 sequencer,
    mov al, 4                       ; 256-colour graphics controller and attributes
    out dx, al
    inc dx
    in al, dx
    expect al, 0x0E
    mov dx, 0x3CE
    mov al, 5
    out dx, al
    inc dx
    in al, dx
    expect al, 0x40
    mov ax, 0x1007
    mov bl, 0x10
    int 0x10
    expect bh, 0x41

    mov ax, 0x0003
    int 0x10
    mov ah, 0x0F
    int 0x10
    expect al, 0x03
    mov al, 0x09                    ; 16 scan lines per character row
    call read_crtc
    expect al, 0x4F
    mov ah, 0x02                    ; the cursor position reaches CRTC 0Eh/0Fh
    xor bh, bh
    mov dx, 0x0310
    int 0x10
    mov al, 0x0E
    call read_crtc
    mov ah, al
    mov al, 0x0F
    call read_crtc
    expect ax, 3*80+0x10

    mov ax, 0x1010                  ; DAC register 5 = (10, 20, 30), read back
    mov bx, 5
    mov dh, 10
    mov cx, (20 << 8) | 30
    int 0x10
    xor cx, cx
    xor dx, dx
    mov ax, 0x1015
    int 0x10
    expect dh, 10
    expect cx, (20 << 8) | 30
    xor ax, ax                      ; block set and read of DAC 16-17
    mov es, ax
    mov ax, 0x1012
    mov bx, 16
    mov cx, 2
    mov dx, dac_in
    int 0x10
    mov ax, 0x1017
    mov dx, dac_out
    int 0x10
    mov si, dac_in
    mov di, dac_out
    mov cx, 6
    repe cmpsb
    expect_zf 1
    mov ax, 0x1000                  ; palette register 1 and overscan
    mov bx, 0x3F01
    int 0x10
    mov ax, 0x1007
    mov bl, 1
    int 0x10
    expect bh, 0x3F
    mov ax, 0x1001
    mov bh, 0x05
    int 0x10
    mov ax, 0x1008
    int 0x10
    expect bh, 0x05
    mov ax, 0x1018                  ; PEL mask
    mov bl, 0xF0
    int 0x10
    mov ax, 0x1019
    int 0x10
    expect bl, 0xF0
    mov ax, 0x1018
    mov bl, 0xFF
    int 0x10
    jmp test_passed

read_crtc:                          ; AL = CRTC register AL
    push dx
    mov dx, 0x3D4
    out dx, al
    inc dx
    in al, dx
    pop dx
    ret

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

hello: db "Hello"
pairs: db "a", 0x4E, "b", 0x1F
state_buffer: times 64 db 0
dac_in: db 1, 2, 3, 61, 62, 63
dac_out: times 6 db 0

%include "report.inc"
guest_end:
