; Timer guest (tests/test_device_guests.py): programs the 8259A pair (ICW1-4, master
; remapped to 20h, slave to 28h, everything but IRQ0 masked) and the 8254 counter 0
; at 100 Hz (divisor 11932), and counts IRQ0 in a handler at vector 20h that sends a
; non-specific EOI.  Three phases, each reported on the debug console (port 0xE9):
;   "mode2 ticks=50 wakeups=50"  mode 2 (rate generator), STI; HLT until 50 ticks
;   "mode3 ticks=50 wakeups=50"  mode 3 (square wave), the same
;   "busy ticks=2"               mode 3, interrupts taken while the CPU spins
; then the in-service register read with OCW3 ("isr=00") and "done"; CLI; HLT.
; `wakeups` counts the returns from HLT: one per tick when nothing else interrupts.

%include "boot.inc"

PIT_DIVISOR     equ 11932           ; 1193182 Hz / 11932 = 100.0 Hz
HALT_TICKS      equ 50
BUSY_TICKS      equ 2

main:   print "timer: start", 10
        mov dx, irq0_handler
        call irq0_only              ; at vector 20h

        mov al, 0x34                ; counter 0, LSB then MSB, mode 2, binary
        call pit_start
        call halt_until_ticks
        print "mode2"
        call report_ticks

        mov al, 0x36                ; counter 0, LSB then MSB, mode 3, binary
        call pit_start
        call halt_until_ticks
        print "mode3"
        call report_ticks

        mov al, 0x36
        call pit_start
        sti
.spin:  cmp word [ticks], BUSY_TICKS
        jb .spin
        cli
        print "busy ticks="
        mov ax, [ticks]
        call put_dec
        call put_nl

        mov al, 0x0b                ; OCW3: read the in-service register
        out 0x20, al
        in al, 0x20
        print "isr="
        call put_hex8
        call put_nl
        print "done", 10
        jmp stop

; pit_start: program counter 0 with control word AL and PIT_DIVISOR; restart the count
pit_start:
        cli
        mov word [ticks], 0
        mov word [wakeups], 0
        out 0x43, al
        mov al, PIT_DIVISOR & 0xff
        out 0x40, al
        mov al, PIT_DIVISOR >> 8
        out 0x40, al
        ret

; halt_until_ticks: STI; HLT until HALT_TICKS interrupts have been counted
halt_until_ticks:
        sti
.idle:  hlt
        inc word [wakeups]
        cmp word [ticks], HALT_TICKS
        jb .idle
        cli
        ret

; report_ticks: " ticks=N wakeups=M" and a newline
report_ticks:
        print " ticks="
        mov ax, [ticks]
        call put_dec
        print " wakeups="
        mov ax, [wakeups]
        call put_dec
        jmp put_nl

irq0_handler:
        inc word [cs:ticks]
        push ax
        mov al, 0x20                ; OCW2: non-specific EOI
        out 0x20, al
        pop ax
        iret

%include "lib.inc"

absolute VARIABLES
ticks   resw 1
wakeups resw 1
