; 8259A: an edge request that falls before INTA.  COM1's THRE interrupt is
; enabled and disabled again while IF=0 (what NuttX's 16550 driver does in
; u16550_txint inside a critical section); IRQ4 is the only unmasked input.
; After STI the 8259A answers the INTA with IR7 and sets no ISR bit (datasheet:
; "If the IR input goes low before [the first INTA] a DEFAULT IR7 will occur").
; Reports on port 0xE9: "V=27 ISR=00" on the 8259A (pcmachine, Bochs),
; "V=24 ISR=10" on QEMU (whose 8259 keeps an edge request after its line falls).
bits 16
org 0x7C00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    ; IVT 0x20-0x2F -> stubs that store their vector
    mov di, 0x20 * 4
    mov bx, stubs
    mov cx, 16
.ivt:
    mov [di], bx
    mov word [di + 2], 0
    add di, 4
    add bx, stub_len
    loop .ivt
    ; master 8259: edge, vectors 20h, slave on IR2; slave 28h
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1
    out 0x21, al
    out 0xA1, al
    mov al, 0xEF                ; only IRQ4
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al
    ; COM1: 8N1, OUT2 (the PC's IRQ gate), no interrupts yet
    mov dx, 0x3FB
    mov al, 0x03
    out dx, al
    mov dx, 0x3FC
    mov al, 0x08
    out dx, al
    mov dx, 0x3F9
    xor al, al
    out dx, al
    mov dx, 0x3FA
    in al, dx                   ; clear anything pending
    mov byte [vec], 0xFF
    ; the pulse, with IF=0
    mov dx, 0x3F9
    mov al, 0x02                ; ETBEI: THR is empty, IRQ4 rises
    out dx, al
    xor al, al                  ; IRQ4 falls again
    out dx, al
    sti
    nop
    nop
    cli
    ; report
    mov si, msg_v
    call puts
    mov al, [vec]
    call hex2
    mov si, msg_isr
    call puts
    mov al, [isr]
    call hex2
    mov al, 10
    out 0xE9, al
    hlt
    jmp $-1

handler:                        ; AL = vector
    mov [vec], al
    mov al, 0x0B                ; OCW3: read ISR
    out 0x20, al
    in al, 0x20
    mov [isr], al
    cmp byte [vec], 0x27
    je .noeoi                   ; a spurious IR7 gets no EOI
    mov al, 0x20
    out 0x20, al
.noeoi:
    pop ax
    iret

puts:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp puts
.done:
    ret

hex2:
    push ax
    shr al, 4
    call .nib
    pop ax
.nib:
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 7
.out:
    out 0xE9, al
    ret

%assign v 0x20
stubs:
%rep 16
    push ax
    mov al, v
    jmp handler
%assign v v+1
%endrep
stub_len equ (($ - stubs) / 16)

msg_v:   db "V=", 0
msg_isr: db " ISR=", 0
vec:     db 0
isr:     db 0
    times 510 - ($ - $$) db 0
    dw 0xAA55
