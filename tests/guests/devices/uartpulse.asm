; 8259A: an edge request that falls before INTA (tests/test_device_guests.py).
; COM1's THRE interrupt is enabled and disabled again while IF=0, as NuttX's 16550
; driver does in u16550_txint inside a critical section; IRQ4 is the only unmasked
; input.  After STI the 8259A answers the INTA with IR7 and sets no ISR bit
; (datasheet: "If the IR input goes low before [the first INTA] a DEFAULT IR7 will
; occur").  Reports on the debug console (port 0xE9):
;   "V=27 ISR=00"   the 8259A (pcmachine, Bochs)
;   "V=24 ISR=10"   QEMU 7.2, whose 8259 keeps an edge request after its line falls

%include "boot.inc"

main:   mov bx, 0x2820
        call pic_remap                  ; master 20h, slave 28h, all masked
        mov al, 0x24
        mov dx, irq4
        call set_vector
        mov al, 0x27
        mov dx, irq7
        call set_vector
        mov al, 0xef                    ; only IRQ4
        out 0x21, al
        mov dx, 0x3fb                   ; COM1: 8N1
        mov al, 0x03
        out dx, al
        mov dx, 0x3fc                   ; MCR: OUT2, the PC's IRQ gate
        mov al, 0x08
        out dx, al
        mov dx, 0x3f9                   ; IER: no interrupts yet
        xor al, al
        out dx, al
        mov dx, 0x3fa
        in al, dx                       ; IIR: clear anything pending
        mov byte [vector], 0xff
        mov dx, 0x3f9                   ; the pulse, with IF=0:
        mov al, 0x02                    ; ETBEI: THR is empty, IRQ4 rises
        out dx, al
        xor al, al                      ; and falls again
        out dx, al
        sti
        nop
        nop
        cli
        print "V="
        mov al, [vector]
        call put_hex8
        print " ISR="
        mov al, [in_service]
        call put_hex8
        call put_nl
        jmp stop

irq4:   mov byte [vector], 0x24
        call read_isr
        push ax
        mov al, 0x20                    ; EOI
        out 0x20, al
        pop ax
        iret

irq7:   mov byte [vector], 0x27         ; a spurious IR7 gets no EOI
        call read_isr
        iret

; read_isr: the master's in-service register -> [in_service]
read_isr:
        push ax
        mov al, 0x0b                    ; OCW3: reads of 20h return the ISR
        out 0x20, al
        in al, 0x20
        mov [in_service], al
        pop ax
        ret

%include "lib.inc"

absolute VARIABLES
vector:     resb 1
in_service: resb 1
