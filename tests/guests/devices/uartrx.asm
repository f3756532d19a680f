; COM1 receive guest (tests/test_snapshot_behaviour.py), reporting on the debug
; console (port 0xE9).  The 16550A is put in loopback with its FIFOs on, the receive
; trigger at 14 bytes and the received-data interrupt enabled (IER bit 0) on IRQ4
; (master 8259A remapped to vector 08h: vector 0Ch).  The guest sends bursts of
; five bytes to itself; fewer than 14 bytes never reach the trigger level, so each
; burst is delivered only by the character-timeout interrupt (IIR = CCh, four
; character times after the last byte: 4.2 ms at 9600 baud), while the CPU waits in
; HLT.  The handler prints IIR and the bytes it drains; a burst ending in '.'
; ends the run.  Lines: "iir=CC abcde" ... "uart rx done".

%include "boot.inc"

COM1            equ 0x3f8
UART_IER        equ COM1 + 1
UART_IIR        equ COM1 + 2
UART_FCR        equ COM1 + 2
UART_LCR        equ COM1 + 3
UART_MCR        equ COM1 + 4
UART_LSR        equ COM1 + 5
UART_VECTOR     equ 0x0c            ; master base 08h + IRQ4
BURSTS          equ 4

main:   mov byte [finished], 0
        mov bx, 0x7008              ; master vectors 08h-0Fh, slave 70h-77h
        call pic_remap
        mov al, UART_VECTOR
        mov dx, uart_handler
        call set_vector
        mov dx, UART_LCR            ; divisor 12: 9600 baud
        mov al, 0x80
        out dx, al
        mov dx, COM1
        mov al, 12
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, UART_LCR            ; 8N1, DLAB off
        mov al, 0x03
        out dx, al
        mov dx, UART_FCR            ; FIFOs on, both cleared, receive trigger 14
        mov al, 0xc7
        out dx, al
        mov dx, UART_MCR            ; loopback, OUT2 (gates the IRQ line)
        mov al, 0x18
        out dx, al
        mov dx, UART_IER            ; received data available (and timeout)
        mov al, 0x01
        out dx, al
        mov al, 0xef                ; master: IRQ4 only
        out 0x21, al
        print "uart rx ready", 10
        mov si, bursts
.burst: mov byte [drained], 0
        mov cx, 5
        mov dx, COM1
.send:  lodsb
        out dx, al
        loop .send
        sti
.wait:  hlt                         ; the timeout interrupt ends the wait
        cmp byte [drained], 0
        je .wait
        cli
        cmp byte [finished], 0
        je .burst
        print "uart rx done", 10
        jmp stop

bursts: db "abcde", "fghij", "klmno", "pqrs."

; IRQ4: report IIR, drain the receive FIFO while LSR shows data, EOI
uart_handler:
        push ax
        push dx
        print "iir="
        mov dx, UART_IIR
        in al, dx
        call put_hex8
        mov al, ' '
        out DEBUGCON, al
.drain: mov dx, UART_LSR
        in al, dx
        test al, 1
        jz .done
        mov dx, COM1
        in al, dx
        out DEBUGCON, al
        cmp al, '.'
        jne .drain
        mov byte [finished], 1
        jmp .drain
.done:  call put_nl
        mov byte [drained], 1
        mov al, 0x20
        out 0x20, al
        pop dx
        pop ax
        iret

%include "lib.inc"

absolute VARIABLES
drained:  resb 1
finished: resb 1
