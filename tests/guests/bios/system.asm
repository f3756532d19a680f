; int 11h, 12h, 14h, 15h (88h, E801h, E820h, C0h, C1h, 2400h-2403h, 4Fh, 87h,
; unsupported functions) on the 16 MiB pc.yaml machine with a floppy and COM1/COM2.
%include "lib.inc"

SMAP equ 0x534D4150
MAP  equ 0x9000

main:
    int 0x11                        ; equipment: floppy, 80x25 colour, 2 serial ports
    test al, 0x01
    expect_zf 0
    mov bx, ax
    and bl, 0x30
    expect bl, 0x20
    mov bx, ax
    shr bx, 9
    and bx, 7
    expect bx, 2
    int 0x12
    expect ax, 639

    mov ah, 0x88                    ; extended memory: 15 MiB
    int 0x15
    expect_cf 0
    expect ax, 15360
    mov ax, 0xE801
    int 0x15
    expect_cf 0
    expect ax, 15360
    expect cx, 15360
    expect bx, 0
    expect dx, 0

    xor ebx, ebx                    ; E820h: five entries of 24 bytes
    mov di, MAP
    xor si, si
.e820:
    mov eax, 0xE820
    mov edx, SMAP
    mov ecx, 24
    int 0x15
    expect_cf 0
    expect eax, SMAP
    expect ecx, 24
    inc si
    add di, 24
    test ebx, ebx
    jnz .e820
    expect si, 5
    expect dword [MAP+0], 0
    expect dword [MAP+8], 0x9FC00
    expect dword [MAP+16], 1
    expect dword [MAP+20], 1
    expect dword [MAP+24], 0x9FC00
    expect dword [MAP+40], 2
    expect dword [MAP+72], 0x100000
    expect dword [MAP+80], 0xF00000
    expect dword [MAP+88], 1
    expect dword [MAP+96], 0xFFFF0000
    mov eax, 0xE820                 ; without the signature: CF=1
    xor ebx, ebx
    xor edx, edx
    mov ecx, 20
    int 0x15
    expect_cf 1

    mov ah, 0xC0                    ; configuration table at F000:E6F5, model FCh
    int 0x15
    expect_cf 0
    expect ah, 0
    expect bx, 0xE6F5
    mov ax, es
    expect ax, 0xF000
    expect byte [es:bx+2], 0xFC
    expect word [es:bx], 8
    mov ah, 0xC1                    ; EBDA segment; its first byte is its size in KiB
    int 0x15
    expect_cf 0
    mov ax, es
    expect ax, 0x9FC0
    expect byte [es:0], 1
    xor ax, ax
    mov es, ax

    mov ax, 0x2403                  ; A20: supported through 8042 and port 92h
    int 0x15
    expect_cf 0
    expect bx, 3
    mov ax, 0x2400
    int 0x15
    expect_cf 0
    mov ax, 0x2402
    int 0x15
    expect al, 0
    mov ax, 0x2401
    int 0x15
    expect_cf 0
    mov ax, 0x2402
    int 0x15
    expect_cf 0
    expect al, 1

    clc                             ; keyboard intercept: CF set, AL unchanged
    mov ax, 0x4F1E
    int 0x15
    expect_cf 1
    expect al, 0x1E

    mov di, 0x8000                  ; block move 0:8000 -> 2 MiB -> 0:8800
    mov cx, 32
    mov ax, 0x5A00
.fill:
    stosw
    inc ax
    loop .fill
    mov si, gdt
    mov word [gdt+0x12], 0x8000     ; source base 008000h
    mov byte [gdt+0x14], 0x00
    mov word [gdt+0x1A], 0x0000     ; target base 200000h
    mov byte [gdt+0x1C], 0x20
    mov ah, 0x87
    mov cx, 32
    int 0x15
    expect_cf 0
    expect ah, 0
    mov word [gdt+0x12], 0x0000     ; and back to 008800h
    mov byte [gdt+0x14], 0x20
    mov word [gdt+0x1A], 0x8800
    mov byte [gdt+0x1C], 0x00
    mov ah, 0x87
    mov cx, 32
    int 0x15
    expect_cf 0
    mov si, 0x8000
    mov di, 0x8800
    mov cx, 32
    repe cmpsw
    expect_zf 1

    mov ah, 0xEE                    ; unsupported: AH=86h, CF=1
    int 0x15
    expect_cf 1
    expect ah, 0x86

    mov ah, 0x03                    ; COM1 status: transmitter empty
    xor dx, dx
    int 0x14
    and ah, 0x60
    expect ah, 0x60
    mov ah, 0x03                    ; no COM4: timeout
    mov dx, 3
    int 0x14
    expect ah, 0x80
    jmp test_passed

gdt: times 0x30 db 0

%include "report.inc"
guest_end:
