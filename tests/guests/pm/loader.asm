; The classic boot path of a teaching OS, as a floppy boot loader
; (tests/test_cpu_protected.py):
;   boot sector: loads the rest of the loader (LBA 1..15) with int 13h;
;   A20: off through the 8042 output port (D1h), on/off through port 92h, on
;        through the 8042 again, each checked with the 1 MiB wrap-around test;
;   loads the ELF kernel (LBA 32.., 64 sectors) to 1000:0000 with int 13h;
;   LGDT, CR0.PE, far jump to a flat 32-bit code segment;
;   paging: identity map of 0-4 MiB plus the same page table at 0xC0000000;
;   copies the ELF PT_LOAD segments to their virtual addresses and jumps to the
;   entry point.
; Progress and failures go to the debug console port 0xE9.
; Build: tests/guests/pm/build.sh

bits 16
org 0x7C00

STAGE2_SECTORS equ 15
KERNEL_LBA     equ 32
KERNEL_SECTORS equ 64
ELF_BUFFER     equ 0x10000
PAGE_DIR       equ 0x80000
PAGE_TABLE     equ 0x81000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    mov [boot_drive], dl
    mov ax, 1
    mov cx, STAGE2_SECTORS
    mov bx, 0x7E00
    call read_sectors
    jmp stage2

; ax = first LBA, cx = count, es:bx = buffer (one sector per int 13h call)
read_sectors:
    push ax
    push cx
    xor dx, dx
    mov si, 18
    div si                  ; ax = track index, dx = sector - 1
    mov cl, dl
    inc cl
    xor dx, dx
    mov si, 2
    div si                  ; ax = cylinder, dx = head
    mov ch, al
    mov dh, dl
    mov dl, [boot_drive]
    mov ax, 0x0201
    int 0x13
    jc disk_error
    pop cx
    pop ax
    inc ax
    add bx, 512
    jnc .same_segment
    mov dx, es
    add dx, 0x1000
    mov es, dx
.same_segment:
    loop read_sectors
    ret

disk_error:
    mov al, 'D'
    out 0xE9, al
    cli
    hlt

; si -> zero-terminated text to port 0xE9
print16:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp print16
.done:
    ret

boot_drive: db 0
    times 510 - ($ - $$) db 0
    dw 0xAA55

; ------------------------------------------------------------------ stage 2
stage2:
    mov si, msg_loader
    call print16

    call kbc_wait
    mov al, 0xD1            ; write output port: A20 off, reset line high
    out 0x64, al
    call kbc_wait
    mov al, 0xDD
    out 0x60, al
    call kbc_wait
    call a20_enabled
    cmp al, 0
    jne a20_fail
    mov si, msg_a20_off
    call print16

    in al, 0x92             ; fast A20 through system control port A
    or al, 2
    and al, 0xFE
    out 0x92, al
    call a20_enabled
    cmp al, 1
    jne a20_fail
    mov si, msg_a20_92
    call print16
    in al, 0x92
    and al, 0xFC
    out 0x92, al
    call a20_enabled
    cmp al, 0
    jne a20_fail

    call kbc_wait
    mov al, 0xD1
    out 0x64, al
    call kbc_wait
    mov al, 0xDF            ; A20 on through the 8042 output port
    out 0x60, al
    call kbc_wait
    call a20_enabled
    cmp al, 1
    jne a20_fail
    mov si, msg_a20_8042
    call print16

    mov ax, ELF_BUFFER >> 4
    mov es, ax
    xor bx, bx
    mov ax, KERNEL_LBA
    mov cx, KERNEL_SECTORS
    call read_sectors
    xor ax, ax
    mov es, ax
    mov si, msg_loaded
    call print16

    cli
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp 0x08:protected_entry

a20_fail:
    mov si, msg_a20_fail
    call print16
    cli
    hlt

kbc_wait:                   ; until the 8042 input buffer is empty
    in al, 0x64
    test al, 2
    jnz kbc_wait
    ret

; al = 1 when A20 is enabled: 0000:0500 and FFFF:0510 differ as memory
a20_enabled:
    push ds
    push es
    xor ax, ax
    mov ds, ax
    mov ax, 0xFFFF
    mov es, ax
    mov byte [0x0500], 0x00
    mov byte [es:0x0510], 0xFF
    mov al, [0x0500]
    not al                  ; 0xFF (A20 on: no wrap) or 0x00 (wrapped)
    and al, 1
    pop es
    pop ds
    ret

gdt:
    dq 0
    dq 0x00CF9A000000FFFF   ; 0x08: flat 32-bit code, DPL 0
    dq 0x00CF92000000FFFF   ; 0x10: flat 32-bit data, DPL 0
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt

msg_loader:   db "loader: stage 2", 10, 0
msg_a20_off:  db "loader: A20 off through the 8042", 10, 0
msg_a20_92:   db "loader: A20 on through port 0x92", 10, 0
msg_a20_8042: db "loader: A20 on through the 8042", 10, 0
msg_a20_fail: db "loader: FAIL A20", 10, 0
msg_loaded:   db "loader: kernel read with int 13h", 10, 0

; ------------------------------------------------------------------ 32-bit
bits 32
protected_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, 0x7C00
    mov esi, msg_pm
    call print32

    mov edi, PAGE_DIR       ; page directory: empty
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov edi, PAGE_TABLE     ; one page table: 0-4 MiB, present, writable, user
    mov eax, 0x007
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [PAGE_DIR], PAGE_TABLE | 7
    mov dword [PAGE_DIR + (0xC0000000 >> 22) * 4], PAGE_TABLE | 7
    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [0x00300000], 0x5AA5C33C
    cmp dword [0xC0300000], 0x5AA5C33C
    jne .alias_fail
    mov esi, msg_paging
    call print32

    cmp dword [ELF_BUFFER], 0x464C457F
    jne .elf_fail
    mov ebx, [ELF_BUFFER + 28]          ; e_phoff
    add ebx, ELF_BUFFER
    movzx edx, word [ELF_BUFFER + 44]   ; e_phnum
.segment:
    cmp dword [ebx], 1                  ; PT_LOAD
    jne .next
    mov esi, [ebx + 4]                  ; p_offset
    add esi, ELF_BUFFER
    mov edi, [ebx + 8]                  ; p_vaddr (0xC01xxxxx: through the alias)
    mov ecx, [ebx + 16]                 ; p_filesz
    rep movsb
    mov ecx, [ebx + 20]                 ; p_memsz - p_filesz: .bss
    sub ecx, [ebx + 16]
    xor al, al
    rep stosb
.next:
    movzx eax, word [ELF_BUFFER + 42]   ; e_phentsize
    add ebx, eax
    dec edx
    jnz .segment
    mov esi, msg_entry
    call print32
    mov eax, [ELF_BUFFER + 24]          ; e_entry
    call hex32
    mov al, 10
    out 0xE9, al
    jmp [ELF_BUFFER + 24]

.alias_fail:
    mov esi, msg_alias_fail
    call print32
    cli
    hlt
.elf_fail:
    mov esi, msg_elf_fail
    call print32
    cli
    hlt

print32:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp print32
.done:
    ret

hex32:                      ; eax as 8 hex digits
    mov ecx, 8
.digit:
    rol eax, 4
    push eax
    and eax, 0xF
    mov al, [hex_digits + eax]
    out 0xE9, al
    pop eax
    loop .digit
    ret

hex_digits:     db "0123456789ABCDEF"
msg_pm:         db "loader: protected mode, 32-bit code", 10, 0
msg_paging:     db "loader: paging on, 0xC0000000 alias ok", 10, 0
msg_entry:      db "loader: ELF entry ", 0
msg_alias_fail: db "loader: FAIL alias", 10, 0
msg_elf_fail:   db "loader: FAIL ELF magic", 10, 0

    times (STAGE2_SECTORS + 1) * 512 - ($ - $$) db 0
