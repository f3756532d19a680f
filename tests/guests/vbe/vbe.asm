; The VESA BIOS as a VBE 2.0+ program uses it (tests/test_vbe.py):
;  1. 4F00h with 'VBE2': 'VESA', version 3.0, the mode list, 16 MiB;
;  2. 4F01h on each listed mode until 640x480x32 with a linear framebuffer;
;     an unlisted mode fails with AX=014Fh;
;  3. a banked 8-bit mode (101h, 640x480x256): 4F08h switches the DAC to 8 bits,
;     4F09h writes and reads palette entry 1, 4F05h (the int and the far routine
;     from WinFuncPtr) selects bank 4, a byte written at A000:0000 appears in the
;     framebuffer at 40000h (read through the LFB in unreal mode);
;  4. mode 142h | 4000h (LFB), 4F03h reports it, 4F06h/4F07h give the line length and
;     the display start, 4F08h fails in a direct-colour mode (AX=034Fh);
;  5. draws pixel (x, y) = red x & FFh, green y & FFh, blue (x + y) >> 1 & FFh into
;     the LFB and halts: the test compares the screenshot with that rule.
; Reports "PASS" or "FAIL <check>" on port E9h (tests/guests/bios/lib.inc).
%include "lib.inc"

INFO equ 0x1000                 ; VbeInfoBlock (512 bytes)
MODEINFO equ 0x1200             ; ModeInfoBlock (256 bytes)
PALETTE equ 0x1300              ; 4F09h tables
WIDTH equ 640
HEIGHT equ 480

main:
    ; ------------------------------------------------ 1. controller information
    mov dword [INFO], 'VBE2'
    mov di, INFO
    mov ax, 0x4F00
    int 0x10
    expect ax, 0x004F
    expect dword [INFO], 'VESA'
    expect word [INFO + 4], 0x0300
    expect word [INFO + 0x12], 256             ; 16 MiB in 64 KiB units
    les si, [INFO + 0x0E]                      ; the mode list
    mov ax, es
    expect ax, 0
    expect si, INFO + 0x22
    les bx, [INFO + 0x06]                      ; OEM string in the ROM
    mov ax, es
    expect ax, 0xF000

    ; ------------------------------------------------ 2. find 640x480x32 + LFB
    xor ax, ax
    mov es, ax
    mov si, INFO + 0x22
.next_mode:
    mov cx, [si]
    cmp cx, 0xFFFF
    jne .query
    push word 100                              ; not listed
    jmp test_failed
.query:
    mov di, MODEINFO
    mov ax, 0x4F01
    int 0x10
    expect ax, 0x004F
    add si, 2
    cmp word [MODEINFO + 0x12], WIDTH
    jne .next_mode
    cmp word [MODEINFO + 0x14], HEIGHT
    jne .next_mode
    cmp byte [MODEINFO + 0x19], 32
    jne .next_mode
    mov ax, [MODEINFO]
    and ax, 0x0099                             ; supported, colour, graphics, LFB
    cmp ax, 0x0099
    jne .next_mode
    mov [mode], cx
    mov eax, [MODEINFO + 0x28]
    mov [lfb], eax
    expect word [MODEINFO + 0x10], WIDTH * 4   ; bytes per scan line
    expect byte [MODEINFO + 0x1B], 6           ; direct colour
    expect byte [MODEINFO + 0x20], 16          ; red at bit 16
    expect eax, 0xE0000000

    mov cx, 0x0102                             ; planar 800x600x16: not offered
    mov di, MODEINFO
    mov ax, 0x4F01
    int 0x10
    expect ax, 0x014F

    call unreal                                ; FS: 4 GiB limit for the LFB

    ; ------------------------------------------------ 3. banked 8-bit mode
    mov ax, 0x4F02
    mov bx, 0x0101                             ; 640x480x256, windowed
    int 0x10
    expect ax, 0x004F
    mov ax, 0x4F08
    mov bx, 0x0800                             ; BL=0 set, BH=8 bits
    int 0x10
    expect ax, 0x004F
    expect bh, 8
    mov dword [PALETTE], 0x00FF2010            ; blue 10h, green 20h, red FFh
    mov ax, 0x4F09
    xor bl, bl
    mov cx, 1
    mov dx, 1
    mov di, PALETTE
    int 0x10
    expect ax, 0x004F
    mov dword [PALETTE + 4], 0
    mov ax, 0x4F09
    mov bl, 1
    mov cx, 1
    mov dx, 1
    mov di, PALETTE + 4
    int 0x10
    expect ax, 0x004F
    expect dword [PALETTE + 4], 0x00FF2010     ; 8-bit components kept
    mov ax, 0x4F05                             ; window A -> bank 4
    xor bx, bx
    mov dx, 4
    int 0x10
    expect ax, 0x004F
    mov ax, 0x4F05                             ; read it back
    mov bx, 0x0100
    int 0x10
    expect dx, 4
    push es
    mov ax, 0xA000
    mov es, ax
    mov byte [es:0], 0x5A
    pop es
    mov edi, [lfb]
    expect byte [fs:edi + 0x40000], 0x5A
    mov ax, 0x4F01                             ; the far window routine: bank 5
    mov cx, 0x0101
    mov di, MODEINFO
    int 0x10
    xor bx, bx
    mov dx, 5
    call far [MODEINFO + 0x0C]
    expect ax, 0x004F
    push es
    mov ax, 0xA000
    mov es, ax
    mov byte [es:1], 0xA5
    pop es
    mov edi, [lfb]
    expect byte [fs:edi + 0x50001], 0xA5

    ; ------------------------------------------------ 4. the LFB mode
    mov ax, 0x4F02
    mov bx, [mode]
    or bx, 0x4000
    int 0x10
    expect ax, 0x004F
    mov ax, 0x4F03
    int 0x10
    expect ax, 0x004F
    mov ax, [mode]
    or ax, 0x4000
    expect bx, ax
    mov ax, 0x4F06                             ; get scan line length
    mov bl, 1
    int 0x10
    expect ax, 0x004F
    expect bx, WIDTH * 4
    expect cx, WIDTH
    mov ax, 0x4F07                             ; get display start
    mov bl, 1
    int 0x10
    expect ax, 0x004F
    expect cx, 0
    expect dx, 0
    mov ax, 0x4F08                             ; no DAC width in direct colour
    mov bl, 1
    int 0x10
    expect ax, 0x034F

    ; ------------------------------------------------ 5. draw
    mov edi, [lfb]
    xor edx, edx                               ; y
.row:
    xor ecx, ecx                               ; x
.pixel:
    mov eax, ecx
    and eax, 0xFF
    shl eax, 16                                ; red = x & FFh
    mov ebx, edx
    and ebx, 0xFF
    shl ebx, 8                                 ; green = y & FFh
    or eax, ebx
    mov ebx, ecx
    add ebx, edx
    shr ebx, 1
    and ebx, 0xFF                              ; blue = (x + y) >> 1
    or eax, ebx
    mov [fs:edi], eax
    add edi, 4
    inc ecx
    cmp ecx, WIDTH
    jb .pixel
    inc edx
    cmp edx, HEIGHT
    jb .row
    jmp test_passed

; unreal: load FS with a flat 4 GiB data segment and return to real mode (the
; descriptor cache keeps the limit), so [fs:edi] reaches the framebuffer.
unreal:
    cli
    push ds
    lgdt [gdt_pointer]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp $ + 2
    mov bx, 0x08
    mov fs, bx
    and al, 0xFE
    mov cr0, eax
    jmp $ + 2
    xor ax, ax
    mov fs, ax
    pop ds
    ret

    align 8
gdt:
    dq 0
    dq 0x00CF92000000FFFF                      ; data, base 0, limit 4 GiB
gdt_pointer:
    dw gdt_pointer - gdt - 1
    dd gdt

mode: dw 0
lfb: dd 0

%include "report.inc"
guest_end:
