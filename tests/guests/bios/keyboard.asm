; int 16h and the int 09h handler behind it, with keys typed by the test through
; the 8042.  Protocol on port 0E9h: "K" = ready for the typed keys, "B" = ready
; for Ctrl+Break and Pause (Shift released), "PASS\n" after checking them (then
; the guest keeps reading keys, so Ctrl+Alt+Del can reboot it), "WARM\n" when
; booted again with the warm-boot flag 1234h at 40:72.
%include "lib.inc"

main:
    cmp word [0x472], 0x1234
    jne .cold
    mov si, msg_warm
    call print_e9
    cli
    hlt
.cold:
    sti
    mov ah, 0x05                    ; store a key, peek it, read it
    mov cx, 0x1E61
    int 0x16
    expect_cf 0
    expect al, 0
    mov ah, 0x01
    int 0x16
    expect_zf 0
    expect ax, 0x1E61
    mov ah, 0x00
    int 0x16
    expect ax, 0x1E61
    mov ah, 0x01
    int 0x16
    expect_zf 1
    mov ah, 0x02
    int 0x16
    expect al, 0
    mov ah, 0x09
    int 0x16
    test al, 0x20
    expect_zf 0
    mov ah, 0x0A
    int 0x16
    expect bx, 0x83AB

    xor si, si                      ; the ring buffer holds 15 keys
    mov di, 16
.fill:
    mov ah, 0x05
    mov cx, 0x3920
    int 0x16
    jc .full
    inc si
.full:
    dec di
    jnz .fill
    expect si, 15
.drain:
    mov ah, 0x01
    int 0x16
    jz .drained
    mov ah, 0x00
    int 0x16
    jmp .drain
.drained:

    mov al, 'K'
    out 0xE9, al
    mov di, expected_keys           ; typed: aB1<Enter> ^C F1 Alt+X Up Up Kp5 KpEnter
.next_key:
    mov ah, [di]
    mov bx, [di+1]
    test bx, bx
    jz .keys_done
    int 0x16
    expect ax, bx
    add di, 3
    jmp .next_key
.keys_done:
    mov ah, 0x00                    ; Shift held while typing x: 'X', flags show it
    int 0x16
    expect ax, 0x2D58
    mov ah, 0x02
    int 0x16
    and al, 0x0F
    expect al, 0x02
    mov ah, 0x12
    int 0x16
    and al, 0x0F
    expect al, 0x02

    cli                             ; Ctrl+Break: int 1Bh, key 0000h, 40:71 bit 7
    mov word [0x1B*4], user_1b
    mov word [0x1B*4+2], 0
    sti
    mov al, 'B'
    out 0xE9, al
    mov ah, 0x00
    int 0x16
    expect ax, 0x0000
    expect byte [break_seen], 1
    test byte [0x471], 0x80
    expect_zf 0
    mov ah, 0x00                    ; Pause is swallowed: the next key is 'p'
    int 0x16
    expect ax, 0x1970

    mov si, msg_pass
    call print_e9
.forever:
    mov ah, 0x00
    int 0x16
    jmp .forever

expected_keys:                      ; (function, key) triples, ended by key 0
    db 0x00
    dw 0x1E61
    db 0x00
    dw 0x3042
    db 0x00
    dw 0x0231
    db 0x00
    dw 0x1C0D
    db 0x00
    dw 0x2E03
    db 0x00
    dw 0x3B00
    db 0x00
    dw 0x2D00
    db 0x10
    dw 0x48E0
    db 0x00
    dw 0x4800
    db 0x00
    dw 0x4C00
    db 0x10
    dw 0xE00D
    db 0x00
    dw 0x0000
msg_warm: db "WARM", 10, 0
break_seen: db 0

user_1b:
    mov byte [cs:break_seen], 1
    iret

%include "report.inc"
guest_end:
