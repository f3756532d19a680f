; A boot sector that sets mode 13h (320x200, 256 colours) through int 10h, loads
; its own DAC palette through ports 3C8h/3C9h (entry i = red i&63, green (i>>2)&63,
; blue 63-(i&63)), draws pixel (x, y) = (x + 2*y) & 0FFh into A000:0000 and
; halts with interrupts off (mode13_idle.asm: idles with interrupts on instead).
; tests/test_screenshot.py computes the expected picture from these rules alone.
        bits 16
        org 0x7c00

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0013                  ; set mode 13h
        int 0x10
        mov dx, 0x3c8                   ; DAC write index 0, then R, G, B per entry
        xor al, al
        out dx, al
        inc dx
        xor bx, bx
.dac:   mov al, bl
        and al, 63
        out dx, al                      ; red = i & 63
        mov al, bl
        shr al, 2
        and al, 63
        out dx, al                      ; green = (i >> 2) & 63
        mov al, bl
        and al, 63
        neg al
        add al, 63
        out dx, al                      ; blue = 63 - (i & 63)
        inc bx
        cmp bx, 256
        jb .dac
        mov ax, 0xa000
        mov es, ax
        xor di, di
        xor dx, dx                      ; y
.row:   xor cx, cx                      ; x
.pixel: mov ax, dx
        shl ax, 1
        add ax, cx
        stosb                           ; (x + 2y) & 0FFh
        inc cx
        cmp cx, 320
        jb .pixel
        inc dx
        cmp dx, 200
        jb .row
%ifdef IDLE_AFTER_DRAWING
        sti
.idle:  hlt                             ; stay up for viewers (VNC tests)
        jmp .idle
%else
        cli
        hlt
%endif

        times 510 - ($ - $$) db 0
        dw 0xaa55
