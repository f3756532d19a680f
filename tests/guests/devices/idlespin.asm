; Idle-spin guest (tests/test_device_guests.py): a kernel's `for (;;);` idle loop.
; Programs the 8259A pair (IRQ0 only, vectors 20h up) and the 8254 counter 0 at
; about 1 kHz (mode 2), then waits in JMP $ with interrupts on: first the short
; form (EB FE), then, from the tenth tick on, the near form (E9 FD FF; the IRQ0
; handler changes its IRET frame to go there).  At the twentieth tick it prints
; "ticks=20 spins=N" (N: the returns into each loop, 10 and 10) and stops.
; The CPU counts the turns of such a loop up to the next clock event at once; the
; test runs the guest with and without an instruction hook (which turns that
; off) and compares the instruction counts and virtual times of everything.

%include "boot.inc"

PIT_DIVISOR     equ 1193            ; 1193182 Hz / 1193 = 1000.2 Hz
SWITCH_TICKS    equ 10
END_TICKS       equ 20

main:   print "idlespin: start", 10
        mov word [ticks], 0
        mov word [short_spins], 0
        mov word [near_spins], 0
        mov dx, irq0_handler
        call irq0_only              ; at vector 20h
        mov al, 0x34                ; counter 0, LSB then MSB, mode 2, binary
        out 0x43, al
        mov al, PIT_DIVISOR & 0xff
        out 0x40, al
        mov al, PIT_DIVISOR >> 8
        out 0x40, al
        sti
short_spin:
        jmp short short_spin        ; EB FE
near_spin:
        db 0xe9                     ; jmp near near_spin: E9 FD FF
        dw -3

irq0_handler:
        push ax
        push bp
        mov al, 0x20                ; OCW2: non-specific EOI
        out 0x20, al
        inc word [ticks]
        mov bp, sp                  ; [bp+4]: the IP the IRET returns to
        cmp word [bp + 4], near_spin
        je .near
        inc word [short_spins]
        jmp .counted
.near:  inc word [near_spins]
.counted:
        cmp word [ticks], SWITCH_TICKS
        jne .not_switch
        mov word [bp + 4], near_spin
.not_switch:
        cmp word [ticks], END_TICKS
        je finish
        pop bp
        pop ax
        iret

finish: print "ticks="
        mov ax, [ticks]
        call put_dec
        print " spins="
        mov ax, [short_spins]
        call put_dec
        print ","
        mov ax, [near_spins]
        call put_dec
        call put_nl
        jmp stop

%include "lib.inc"

absolute VARIABLES
ticks       resw 1
short_spins resw 1
near_spins  resw 1
