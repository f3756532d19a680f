; VGA chain-4 (mode 13h) with the 128 KiB window (GR06 memory map 00, as
; NuttX's qemu_vga.c sets for its 320x240 chained mode): each plane is 64 KiB and
; chain-4 puts CPU byte N in plane N&3 at plane offset N&~3 (16 address bits), so
; A0000h+10000h+N is the same byte as A0000h+N.  Writes 11h at A000:0000 and 22h
; at B000:0000, reads A000:0000 back.  Reports on port 0xE9: "A0000=22" on a
; 64 KiB-per-plane VGA (pcmachine, Bochs), "A0000=11" on QEMU (which packs chained
; bytes linearly into its video RAM).
bits 16
org 0x7C00
start:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, 0x0013
    int 0x10
    mov dx, 0x3CE               ; GR06: graphics, memory map 00 = A0000h-BFFFFh
    mov al, 0x06
    out dx, al
    inc dx
    mov al, 0x01
    out dx, al
    mov ax, 0xA000
    mov es, ax
    mov byte [es:0], 0x11
    mov ax, 0xB000
    mov es, ax
    mov byte [es:0], 0x22
    mov ax, 0xA000
    mov es, ax
    mov bl, [es:0]
    mov si, msg
.puts:
    lodsb
    test al, al
    jz .hex
    out 0xE9, al
    jmp .puts
.hex:
    mov al, bl
    shr al, 4
    call nib
    mov al, bl
    call nib
    mov al, 10
    out 0xE9, al
    cli
    hlt
nib:
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o:
    out 0xE9, al
    ret
msg: db "A0000=", 0
    times 510 - ($ - $$) db 0
    dw 0xAA55
