; LOADER.BIN / the hard-disk loader: a multi-sector program that checks it arrived
; whole (a marker at the start of each of its four sectors), prints "Loader OK"
; with int 10h AH=13h and reports PASS on port 0E9h.
; Assembled twice: org 0 (loaded at 1000:0000 by fat12boot) and org 8000h (loaded
; at 0000:8000 by the MBRs), selected with -DORIGIN=...
bits 16
%ifndef ORIGIN
%define ORIGIN 0
%endif
org ORIGIN

    jmp start
    align 4
start:
    mov ax, cs
    mov ds, ax
    mov es, ax
    mov [boot_drive], dl
    xor si, si
    mov cx, 4
    mov ax, 0xA000                  ; marker of sector n: A000h + n
check:
    cmp [marker0 + si], ax
    jne failed
    inc ax
    add si, 512
    loop check

    mov ax, 0x1301                  ; "Loader OK" on row 20
    mov bx, 0x000A
    mov cx, message_end - message
    mov dx, 0x1400
    mov bp, message
    int 0x10
    mov si, pass
    jmp report
failed:
    mov si, fail
report:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp report
.done:
    cli
    hlt

message:    db "Loader OK"
message_end:
pass:       db "PASS", 10, 0
fail:       db "FAIL loader incomplete", 10, 0
boot_drive: db 0

    times 256 - ($ - $$) db 0
marker0:    dw 0xA000
    times 512 + 256 - ($ - $$) db 0xE1
            dw 0xA001
    times 1024 + 256 - ($ - $$) db 0xE2
            dw 0xA002
    times 1536 + 256 - ($ - $$) db 0xE3
            dw 0xA003
    times 2048 - ($ - $$) db 0xE4
