; The VBE protected-mode interface as an OS uses it (tests/test_vbe.py), the way
; Linux's setup code and vesafb do: 4F0Ah in real mode gives the table, then
; 32-bit protected-mode code calls its entries with a near CALL into the ROM:
;  1. mode 101h (640x480, 8 bits, banked), 4F0Ah BL=00h: AX=004Fh, ES:DI in the
;     ROM, CX = the table's length; BL=01h fails (AX=014Fh);
;  2. in flat 32-bit protected mode: set window (BH=0, BL=0, DX=3), a window B
;     request that fails, set display start now (DX:CX = (10 * 640 + 8) / 4) and at
;     the next vertical retrace (BL=80h, line 20), set palette entries 5-6 from
;     ES:EDI (blue, green, red, alignment);
;  3. back in real mode: each call's AX, then the DISPI bank and offsets and the
;     DAC entries read through their ports.
; Reports "PASS" or "FAIL <check>" on port E9h (tests/guests/bios/lib.inc).
%include "lib.inc"

DISPI_INDEX equ 0x1CE
DISPI_DATA equ 0x1CF

main:
    mov ax, 0x4F02
    mov bx, 0x0101
    int 0x10
    expect ax, 0x004F
    mov ax, 0x4F0A
    mov bl, 1
    int 0x10
    expect ax, 0x014F
    mov ax, 0x4F0A
    xor bx, bx
    int 0x10
    expect ax, 0x004F
    mov ax, es
    expect ax, 0xF000
    cmp cx, 16
    expect_cf 0                         ; at least the table and some code
    movzx eax, di
    add eax, 0xF0000
    mov [table], eax
    xor ax, ax
    mov es, ax

    ; ------------------------------------------------ 2. protected mode
    cli
    lgdt [pm_gdt_pointer]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm32

    bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7C00
    mov esi, [table]                    ; ESI survives the calls (the standard says so)

    xor ebx, ebx                        ; set window A to bank 3
    mov edx, 3
    movzx eax, word [esi]
    add eax, esi
    call eax
    mov [result_window], ax

    mov ebx, 1                          ; window B: not there
    movzx eax, word [esi]
    add eax, esi
    call eax
    mov [result_window_b], ax

    xor ebx, ebx                        ; display start: pixel 8 of line 10
    mov ecx, (10 * 640 + 8) / 4
    xor edx, edx
    movzx eax, word [esi + 2]
    add eax, esi
    call eax
    mov [result_start], ax
    mov ax, 8                           ; the offsets it set, read in protected mode
    mov dx, DISPI_INDEX
    out dx, ax
    inc dx
    in ax, dx
    mov [first_x], ax
    mov ax, 9
    dec dx
    out dx, ax
    inc dx
    in ax, dx
    mov [first_y], ax

    mov ebx, 0x80                       ; at the next retrace: line 20, pixel 0
    mov ecx, (20 * 640) / 4
    xor edx, edx
    movzx eax, word [esi + 2]
    add eax, esi
    call eax
    mov [result_start_retrace], ax

    xor ebx, ebx                        ; palette entries 5 and 6
    mov ecx, 2
    mov edx, 5
    mov edi, palette
    movzx eax, word [esi + 4]
    add eax, esi
    call eax
    mov [result_palette], ax

    jmp 0x18:pm16

    bits 16
pm16:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xFE
    mov cr0, eax
    jmp 0:real

real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00

    ; ------------------------------------------------ 3. what the calls did
    expect word [result_window], 0x004F
    expect word [result_window_b], 0x014F
    expect word [result_start], 0x004F
    expect word [first_x], 8
    expect word [first_y], 10
    expect word [result_start_retrace], 0x004F
    expect word [result_palette], 0x004F
    mov ax, 5                           ; DISPI bank
    call dispi_read
    expect ax, 3
    mov ax, 8                           ; X offset: the retrace call's pixel 0
    call dispi_read
    expect ax, 0
    mov ax, 9                           ; Y offset: line 20
    call dispi_read
    expect ax, 20
    mov al, 5
    mov dx, 0x3C7
    out dx, al
    mov dx, 0x3C9
    in al, dx
    expect al, 0x03                     ; red of entry 5
    in al, dx
    expect al, 0x02
    in al, dx
    expect al, 0x01
    in al, dx
    expect al, 0x33                     ; entry 6: red
    in al, dx
    expect al, 0x22
    in al, dx
    expect al, 0x11
    jmp test_passed

; dispi_read: AX = DISPI register AX
dispi_read:
    push dx
    mov dx, DISPI_INDEX
    out dx, ax
    mov dx, DISPI_DATA
    in ax, dx
    pop dx
    ret

    align 8
pm_gdt:
    dq 0
    dq 0x00CF9A000000FFFF                      ; 08: 32-bit code, base 0, 4 GiB
    dq 0x00CF92000000FFFF                      ; 10: data, base 0, 4 GiB
    dq 0x00009A000000FFFF                      ; 18: 16-bit code, base 0, 64 KiB
    dq 0x000092000000FFFF                      ; 20: 16-bit data, base 0, 64 KiB
pm_gdt_pointer:
    dw pm_gdt_pointer - pm_gdt - 1
    dd pm_gdt

palette: db 0x01, 0x02, 0x03, 0, 0x11, 0x22, 0x33, 0   ; blue, green, red, alignment
table: dd 0
first_x: dw 0
first_y: dw 0
result_window: dw 0
result_window_b: dw 0
result_start: dw 0
result_start_retrace: dw 0
result_palette: dw 0

%include "report.inc"
guest_end:
