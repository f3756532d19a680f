; Crash-consistency guest (tests/test_disk_safety.py): a boot sector that writes
; LBA 1 .. LAST-1 of the primary master over and over through ATA PIO, COUNT
; sectors per WRITE SECTORS command, and after each command has completed (BSY
; and DRQ clear, no ERR) reports it on port 0E9h as a text line "GEN LBA\n"
; (the generation, from 1, and the command's first LBA, both decimal).
; Each sector holds 64 copies of the pair (dword LBA, dword GEN), so a torn or
; misplaced sector shows.  It never stops: the test kills the emulator.
; On an ATA error it prints "ERR\n" and halts.
; Build: ./build.sh (nasm -f bin)

bits 16
org 0x7C00

ATA_DATA    equ 0x1F0
ATA_COUNT   equ 0x1F2
ATA_LBA0    equ 0x1F3
ATA_STATUS  equ 0x1F7          ; reads: status, writes: command
COUNT       equ 8
FIRST       equ 1
LAST        equ 1 + COUNT * 128
BUFFER      equ 0x8000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    mov dword [gen], 1
next_generation:
    mov dword [lba], FIRST
next_command:
    mov di, BUFFER                  ; COUNT sectors of (LBA, GEN) pairs
    mov ebx, [lba]
    mov cx, COUNT
.sector:
    push cx
    mov cx, 64
.pair:
    mov eax, ebx
    stosd
    mov eax, [gen]
    stosd
    loop .pair
    inc ebx
    pop cx
    loop .sector

    call wait_idle
    mov dx, ATA_COUNT
    mov al, COUNT
    out dx, al
    mov eax, [lba]                  ; LBA28: 1F3h-1F5h, bits 24-27 in 1F6h
    inc dx
    out dx, al
    shr eax, 8
    inc dx
    out dx, al
    shr eax, 8
    inc dx
    out dx, al
    shr eax, 8
    and al, 0x0F
    or al, 0xE0
    inc dx
    out dx, al
    inc dx
    mov al, 0x30                    ; WRITE SECTORS
    out dx, al
    mov si, BUFFER
    mov bp, COUNT
.block:
    call wait_drq
    mov cx, 256
    mov dx, ATA_DATA
    rep outsw
    dec bp
    jnz .block
    call wait_idle

    mov ax, [gen]                   ; the command completed: report it
    call print_dec
    mov al, ' '
    out 0xE9, al
    mov ax, [lba]
    call print_dec
    mov al, 10
    out 0xE9, al

    add dword [lba], COUNT
    cmp dword [lba], LAST
    jb next_command
    inc dword [gen]
    jmp next_generation

; wait_idle: until BSY and DRQ are clear; ERR fails
wait_idle:
    mov dx, ATA_STATUS
.poll:
    in al, dx
    test al, 0x88
    jnz .poll
    test al, 0x01
    jnz failed
    ret

; wait_drq: until BSY is clear and DRQ set; ERR fails
wait_drq:
    mov dx, ATA_STATUS
.poll:
    in al, dx
    test al, 0x80
    jnz .poll
    test al, 0x01
    jnz failed
    test al, 0x08
    jz .poll
    ret

failed:
    mov si, msg_error
.next:
    lodsb
    test al, al
    jz .halt
    out 0xE9, al
    jmp .next
.halt:
    hlt
    jmp .halt

; print_dec: AX in decimal on port 0E9h
print_dec:
    mov bx, 10
    xor cx, cx
.divide:
    xor dx, dx
    div bx
    push dx
    inc cx
    test ax, ax
    jnz .divide
.digit:
    pop ax
    add al, '0'
    out 0xE9, al
    loop .digit
    ret

msg_error db "ERR", 10, 0
gen dd 0
lba dd 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
