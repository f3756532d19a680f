; Stepping across hardware interrupts (tests/test_debugger.py): a boot sector that
; runs the PIT's channel 0 fast (divisor 20, an IRQ 0 every ~17 us, a few hundred
; instructions at pc.yaml's 20 M instructions per virtual second), takes IRQ 0 in
; a handler of its own that counts in `ticks` (0000:0600), and spins in `spin`
; (0000:7C40).  A single step may land in `timer` (0000:7C50) or, with
; step-interrupts over, run it through to its IRET.
; Build: ./build.sh (nasm -f bin)

bits 16
org 0x7C00

TICKS equ 0x600

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    mov word [TICKS], 0
    mov word [8 * 4], timer         ; IRQ 0 = vector 8 (the BIOS's PIC base)
    mov word [8 * 4 + 2], 0
    mov al, 0x34                    ; channel 0, lobyte/hibyte, mode 2
    out 0x43, al
    mov al, 20
    out 0x40, al
    xor al, al
    out 0x40, al
    in al, 0x21                     ; unmask IRQ 0
    and al, 0xFE
    out 0x21, al
    sti
    jmp spin

    times 0x40 - ($ - $$) db 0x90
spin:                               ; 0000:7C40
    inc bx
    jmp spin

    times 0x50 - ($ - $$) db 0x90
timer:                              ; 0000:7C50
    inc word [TICKS]
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret

    times 510 - ($ - $$) db 0
    dw 0xAA55
