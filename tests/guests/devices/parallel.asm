; Parallel port guest (tests/test_device_guests.py, tests/test_snapshot_behaviour.py),
; reporting on the debug console (port 0xE9):
;   BDA: LPT1-3 base words (40:08), printers in the equipment word (int 11h bits
;        14-15), LPT1's time-out byte (40:78);
;   int 17h: status and initialise (AH=90h: not busy, selected), "via int 17h"
;        printed (AH=50h after each byte: acknowledged, selected), printers 1 and 3
;        and function 03h refused with CF=1 and AH unchanged;
;   ports (LPT1 at 378h): the data latch read back, and FFh with the direction bit;
;        the control register read back; "via ports" printed with the handshake a
;        driver uses (wait for BUSY# high, data, STROBE pulse), the status seen
;        after a pulse (busy, then ACK# low, then ready); no byte without SELECT IN
;        or with INIT# low, one byte for a strobe written twice;
;   IRQ7 with IRQ enable (control bit 4): masked, the request shows in the 8259A's
;        IRR until the status port is read; unmasked, the interrupt arrives (vector
;        0Fh, in service) and its handler's status read acknowledges it; none
;        without IRQ enable.
; The printer output is "via int 17h\r\nvia ports\r\nEIQN".  Lines end "done".

%include "boot.inc"

LPT_DATA        equ 0x378
LPT_STATUS      equ 0x379
LPT_CONTROL     equ 0x37a
STATUS_BUSY_N   equ 0x80
CONTROL_STROBE  equ 0x01
CONTROL_NORMAL  equ 0x0c            ; INIT# high, SELECT IN
CONTROL_IRQ     equ 0x10
CONTROL_INPUT   equ 0x20
IRQ7_VECTOR     equ 0x0f            ; the BIOS's master base 08h + 7
OCW3_READ_IRR   equ 0x0a
OCW3_READ_ISR   equ 0x0b

main:   print "parallel: start", 10
        cli
        call bda
        call bios
        call registers
        call handshake
        call irq7
        print "done", 10
        jmp stop

; ---------------------------------------------------------------- BIOS data area
bda:    print "bda lpt="
        mov ax, [0x408]
        call put_hex16
        print " "
        mov ax, [0x40a]
        call put_hex16
        print " "
        mov ax, [0x40c]
        call put_hex16
        print " count="
        int 0x11
        shr ax, 14
        call put_dec
        print " timeout="
        mov al, [0x478]
        call put_hex8
        call put_nl
        ret

; ---------------------------------------------------------------- int 17h
; int17: int 17h with AX and DX as given; reports " ah=XX cf=N"
int17:  int 0x17
        setc bl
        print " ah="
        mov al, ah
        call put_hex8
        print " cf="
        mov al, bl
        add al, '0'
        out DEBUGCON, al
        ret

bios:   print "int17 status"
        mov ax, 0x0200
        xor dx, dx
        call int17
        print " init"
        mov ax, 0x0100
        call int17
        call put_nl
        mov si, via_bios
        mov byte [any_ah], 0
        mov byte [all_ah], 0xff
.print: lodsb
        test al, al
        jz .printed
        mov ah, 0x00
        xor dx, dx
        int 0x17
        jc .failed
        or [any_ah], ah
        and [all_ah], ah
        jmp .print
.failed:
        print "int17 print: CF set", 10
        ret
.printed:
        print "int17 print ah="
        mov al, [all_ah]
        call put_hex8
        print " any="
        mov al, [any_ah]
        call put_hex8
        call put_nl
        print "int17 refused"
        mov ax, 0x0200
        mov dx, 1
        call int17
        mov ax, 0x0041
        mov dx, 3
        call int17
        mov ax, 0x0300
        xor dx, dx
        call int17
        call put_nl
        ret

via_bios: db "via int 17h", 13, 10, 0
via_ports: db "via ports", 13, 10, 0

; ---------------------------------------------------------------- registers
registers:
        print "data="
        mov dx, LPT_DATA
        mov al, 0x5a
        out dx, al
        in al, dx
        call put_hex8
        print " control="
        mov dx, LPT_CONTROL
        in al, dx
        call put_hex8
        mov al, CONTROL_NORMAL | CONTROL_INPUT
        out dx, al
        print " input data="
        mov dx, LPT_DATA
        in al, dx
        call put_hex8
        print " control="
        mov dx, LPT_CONTROL
        in al, dx
        call put_hex8
        mov al, CONTROL_NORMAL
        out dx, al
        print " status="
        mov dx, LPT_STATUS
        in al, dx
        call put_hex8
        call put_nl
        ret

; ---------------------------------------------------------------- handshake
; strobe: one STROBE pulse with control bits AL (bit 0 clear)
strobe: push dx
        mov dx, LPT_CONTROL
        or al, CONTROL_STROBE
        out dx, al
        and al, ~CONTROL_STROBE
        out dx, al
        pop dx
        ret

; wait_ready: read the status port until BUSY# is high (at most 100 reads); AL = it
wait_ready:
        push cx
        push dx
        mov cx, 100
        mov dx, LPT_STATUS
.poll:  in al, dx
        test al, STATUS_BUSY_N
        loopz .poll
        pop dx
        pop cx
        ret

; putc: print AL as a driver does: wait until the printer is not busy, latch the
; byte, pulse STROBE with the control bits in [control]
putc:   push dx
        push ax
        call wait_ready
        pop ax
        mov dx, LPT_DATA
        out dx, al
        mov al, [control]
        call strobe
        pop dx
        ret

; status3: three status reads, reported
status3:
        mov cx, 3
        mov dx, LPT_STATUS
.read:  print " "
        in al, dx
        call put_hex8
        loop .read
        ret

handshake:
        mov byte [control], CONTROL_NORMAL
        mov si, via_ports
        lodsb
        call putc
        print "strobe status"
        call status3
        call put_nl
.rest:  lodsb
        test al, al
        jz .sent
        call putc
        jmp .rest
.sent:  print "deselected status"
        mov byte [control], CONTROL_NORMAL & ~0x08
        mov al, 'X'
        call putc
        call status3
        print " init held status"
        mov byte [control], CONTROL_NORMAL & ~0x04
        mov al, 'Y'
        call putc
        call status3
        call put_nl
        print "strobe twice status"
        call wait_ready
        mov dx, LPT_DATA
        mov al, 'E'
        out dx, al
        mov dx, LPT_CONTROL
        mov al, CONTROL_NORMAL | CONTROL_STROBE
        out dx, al
        out dx, al
        mov al, CONTROL_NORMAL
        out dx, al
        call status3
        call put_nl
        ret

; ---------------------------------------------------------------- IRQ7
; irr_isr: report " irr=XX" (IRQ7's bit of the master's IRR)
irr7:   print " irr="
        mov al, OCW3_READ_IRR
        out 0x20, al
        in al, 0x20
        and al, 0x80
        call put_hex8
        ret

irq7:   mov al, IRQ7_VECTOR
        mov dx, irq7_handler
        call set_vector
        mov byte [irq_count], 0
        print "irq7 masked"
        mov byte [control], CONTROL_NORMAL | CONTROL_IRQ
        mov al, 'I'
        call putc
        call irr7
        print " status="
        mov dx, LPT_STATUS
        in al, dx
        call put_hex8
        call irr7
        call put_nl
        in al, 0x21                 ; unmask IRQ7 (the BIOS leaves the timer on)
        and al, 0x7f
        out 0x21, al
        mov al, 'Q'
        call putc
        mov cx, 5                   ; a few timer ticks at most
        sti
.wait:  hlt
        cmp byte [irq_count], 0
        loope .wait
        cli
        print "irq7 count="
        mov al, [irq_count]
        call put_hex8
        print " status="
        mov al, [irq_status]
        call put_hex8
        print " isr="
        mov al, [irq_isr]
        call put_hex8
        call put_nl
        mov byte [control], CONTROL_NORMAL
        mov al, 'N'
        call putc
        sti
        hlt                         ; a timer tick later
        cli
        print "irq7 disabled count="
        mov al, [irq_count]
        call put_hex8
        call irr7
        call put_nl
        call wait_ready
        ret

; IRQ7: count it, read the status port (the acknowledge), note the in-service
; register, EOI
irq7_handler:
        push ax
        push dx
        inc byte [irq_count]
        mov dx, LPT_STATUS
        in al, dx
        mov [irq_status], al
        mov al, OCW3_READ_ISR
        out 0x20, al
        in al, 0x20
        mov [irq_isr], al
        mov al, 0x20
        out 0x20, al
        pop dx
        pop ax
        iret

%include "lib.inc"

absolute VARIABLES
control:    resb 1
any_ah:     resb 1
all_ah:     resb 1
irq_count:  resb 1
irq_status: resb 1
irq_isr:    resb 1
