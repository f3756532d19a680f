; edu guest (tests/test_pci_interrupts.py): drives QEMU's educational PCI device
; (1234:11e8) the way a student's driver does, in real mode with its BAR reached
; through FS in unreal mode, and takes its INTA# through the IRQ the BIOS routed
; (PIRQ -> ISA IRQ, level-triggered in the ELCR).  Reports on port 0xE9:
;   "edu: 00:03.0 bar0=FEB00000 line=0B pin=01"  found with int 1Ah B102h; BAR0,
;                                             interrupt line and pin from config space
;   "id=010000ED live=EDCBA987"               identification; liveness inverts
;   "irr: raised=1 acked=0"                   (interrupts off) raising sets the IRQ's
;                                             request bit in the slave 8259A and the
;                                             acknowledge clears it: a level
;   "disable: irr=0 enable: irr=1"            command bit 10 (Interrupt Disable)
;                                             disconnects INTA#, clearing it reconnects
;   "fact=00375F00 irqs=1 status=00000001"    10! computed, its interrupt taken by the
;                                             handler (which acknowledges the status)
;   "dma: copy=ok irqs=3 status=00000100"     16 bytes RAM -> buffer -> RAM, with the
;                                             DMA interrupt after each transfer
;   "edu: done"
; or "edu: none" when the profile has no edu device.

%include "boot.inc"

        cpu 386

EDU_VENDOR      equ 0x1234
EDU_DEVICE      equ 0x11e8
REG_ID          equ 0x00
REG_LIVE        equ 0x04
REG_FACT        equ 0x08
REG_STATUS      equ 0x20
REG_INT_STATUS  equ 0x24
REG_INT_RAISE   equ 0x60
REG_INT_ACK     equ 0x64
REG_DMA_SRC     equ 0x80
REG_DMA_DST     equ 0x88
REG_DMA_COUNT   equ 0x90
REG_DMA_CMD     equ 0x98
EDU_BUFFER      equ 0x40000
SOURCE          equ 0x6000              ; 16 bytes of pattern
TARGET          equ 0x6100              ; where they come back

main:   mov word [irqs], 0
        call unreal
        mov ax, 0xb102
        mov cx, EDU_DEVICE
        mov dx, EDU_VENDOR
        xor si, si
        int 0x1a
        jnc .found
        print "edu: none", 10
        jmp stop
.found: mov [devfn], bx
        print "edu: 00:"
        mov al, bl
        shr al, 3
        call put_hex8
        print "."
        mov al, bl
        and al, 7
        add al, '0'
        out DEBUGCON, al
        mov di, 0x10
        mov ax, 0xb10a
        int 0x1a
        and ecx, 0xfffffff0
        mov [bar], ecx
        print " bar0="
        mov eax, ecx
        call put_hex32
        mov di, 0x3c
        mov ax, 0xb108
        int 0x1a
        mov [line], cl
        print " line="
        mov al, cl
        call put_hex8
        mov di, 0x3d
        mov ax, 0xb108
        int 0x1a
        print " pin="
        mov al, cl
        call put_hex8
        call put_nl

        ; ---- identification and liveness
        mov ebx, [bar]
        print "id="
        mov eax, [fs:ebx + REG_ID]
        call put_hex32
        mov dword [fs:ebx + REG_LIVE], 0x12345678
        print " live="
        mov eax, [fs:ebx + REG_LIVE]
        call put_hex32
        call put_nl

        ; ---- the interrupt: vector and mask of the routed IRQ (8-15, slave 8259A)
        mov al, [line]
        sub al, 8
        mov cl, al
        mov al, 1
        shl al, cl
        mov [irq_bit], al
        mov al, [line]
        add al, 0x70 - 8
        mov dx, handler
        call set_vector

        ; level: the request bit follows INTA# (interrupts off, line masked)
        print "irr: raised="
        mov dword [fs:ebx + REG_INT_RAISE], 0x2
        call show_irr
        print " acked="
        mov dword [fs:ebx + REG_INT_ACK], 0x2
        call show_irr
        call put_nl

        ; Interrupt Disable in the command register
        mov dword [fs:ebx + REG_INT_RAISE], 0x8
        mov di, 0x04
        mov ax, 0xb109
        mov bx, [devfn]
        int 0x1a
        or cx, 0x0400
        mov ax, 0xb10c
        int 0x1a
        print "disable: irr="
        call show_irr
        and cx, 0xfbff
        or cx, 0x0004                   ; and bus master on, for the DMA below
        mov ax, 0xb10c
        int 0x1a
        print " enable: irr="
        call show_irr
        call put_nl
        mov ebx, [bar]
        mov dword [fs:ebx + REG_INT_ACK], 0x8

        ; unmask the IRQ and the cascade
        in al, 0xa1
        mov ah, [irq_bit]
        not ah
        and al, ah
        out 0xa1, al
        in al, 0x21
        and al, 0xfb
        out 0x21, al

        ; ---- factorial with its interrupt
        mov dword [fs:ebx + REG_STATUS], 0x80
        mov dword [fs:ebx + REG_FACT], 10
        mov ax, 1
        call wait_irqs
        print "fact="
        mov eax, [fs:ebx + REG_FACT]
        call put_hex32
        call show_irqs

        ; ---- DMA: RAM -> buffer -> RAM, an interrupt after each
        mov di, SOURCE
        mov cx, 16
        mov al, 0x5a
.fill:  mov [di], al
        add al, 0x11
        inc di
        loop .fill
        mov dword [fs:ebx + REG_DMA_SRC], SOURCE
        mov dword [fs:ebx + REG_DMA_DST], EDU_BUFFER
        mov dword [fs:ebx + REG_DMA_COUNT], 16
        mov dword [fs:ebx + REG_DMA_CMD], 0x1 | 0x4
        mov ax, 2
        call wait_irqs
        mov dword [fs:ebx + REG_DMA_SRC], EDU_BUFFER
        mov dword [fs:ebx + REG_DMA_DST], TARGET
        mov dword [fs:ebx + REG_DMA_CMD], 0x1 | 0x2 | 0x4
        mov ax, 3
        call wait_irqs
        print "dma: copy="
        mov si, SOURCE
        mov di, TARGET
        mov cx, 16
        repe cmpsb
        je .same
        print "bad"
        jmp .shown
.same:  print "ok"
.shown: call show_irqs
        print "edu: done", 10
        jmp stop

; wait_irqs: sleep until the handler has run AX times
wait_irqs:
        sti
.wait:  cmp [irqs], ax
        jae .done
        hlt
        jmp .wait
.done:  cli
        ret

; show_irqs: " irqs=N status=XXXXXXXX" (the status the handler acknowledged last) and a newline
show_irqs:
        print " irqs="
        mov ax, [irqs]
        call put_dec
        print " status="
        mov eax, [last_status]
        call put_hex32
        jmp put_nl

; show_irr: the slave 8259A's request bit of the IRQ as 0 or 1
show_irr:
        push ax
        mov al, 0x0a                    ; OCW3: read IRR
        out 0xa0, al
        in al, 0xa0
        and al, [irq_bit]
        setnz al
        add al, '0'
        out DEBUGCON, al
        pop ax
        ret

; the IRQ handler: read the interrupt status, acknowledge all of it, EOI
handler:
        push eax
        push ebx
        mov ebx, [bar]
        mov eax, [fs:ebx + REG_INT_STATUS]
        mov [last_status], eax
        mov [fs:ebx + REG_INT_ACK], eax
        inc word [irqs]
        mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop ebx
        pop eax
        iret

%include "lib.inc"

absolute VARIABLES
bar:            resd 1
last_status:    resd 1
devfn:          resw 1
irqs:           resw 1
line:           resb 1
irq_bit:        resb 1
