; STI; HLT with an interrupt already pending (tests/test_device_guests.py): the
; idle loop of Pintos, Linux (safe_halt) and others enables interrupts right before
; HLT so that none slips in between; one that is pending by then is taken at once,
; after the HLT (STI holds it off for one instruction), and the HLT ends with it.
; The guest programs PIT counter 0 in mode 2 with the longest period (65536
; counts, 54.9 ms), waits with interrupts off until the 8259A's IRR shows IRQ0,
; then runs STI; HLT and reads the counter before the STI and after the HLT.
; Reports on the debug console (port 0xE9):
;   "irq0 pending"
;   "ticks=01 counter FFxx -> FFyy"   the handler ran once and the counter moved by a
;                                      few counts: no time skipped to the next tick
;                                      (which would leave it near 0000)

%include "boot.inc"

main:   mov dx, tick
        call irq0_only
        mov al, 0x34                    ; counter 0, LSB then MSB, mode 2
        out 0x43, al
        xor al, al
        out 0x40, al                    ; divisor 0 = 65536
        out 0x40, al
        mov al, 0x0a                    ; OCW3: reads of 20h return the IRR
        out 0x20, al
.wait:  in al, 0x20
        test al, 1
        jz .wait
        print "irq0 pending", 10
        call counter
        mov bx, ax
        sti
        hlt
        cli
        call counter
        mov cx, ax
        print "ticks="
        mov al, [ticks]
        call put_hex8
        print " counter "
        mov ax, bx
        call put_hex16
        print " -> "
        mov ax, cx
        call put_hex16
        call put_nl
        jmp stop

; counter: AX = PIT counter 0, latched
counter:
        xor al, al
        out 0x43, al
        in al, 0x40
        mov ah, al
        in al, 0x40
        xchg al, ah
        ret

tick:   inc byte [ticks]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret

%include "lib.inc"

absolute VARIABLES
ticks:  resb 1
