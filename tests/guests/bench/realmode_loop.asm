; CPU benchmark: a real-mode integer loop (register ALU, memory operands, a stack
; call, a conditional branch), the kind of code a real-mode kernel or BIOS runs.
; Loaded at 0000:7C00 by `machine bench`; ends with HLT (interrupts disabled),
; after which the bench goes on at `start` for longer runs.
; Executes 12 + 500 * (5 + 1,000 * 14) + 1 = 7,002,513 instructions.
bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    mov di, 0x0500            ; the work buffer is 0500-05FF
    xor bx, bx
    xor bp, bp
    mov dx, 500               ; outer iterations
    cld
    nop
outer:
    mov cx, 1000              ; inner iterations
    xor si, si
    nop
inner:
    mov ax, [si + 0x0500]      ; load
    add ax, cx                ; ALU on registers
    xor bx, ax
    mov [si + 0x0500], ax      ; store
    add si, 2
    and si, 0x00FE            ; wrap inside the buffer
    call mix                  ; near call/return through the stack
    cmp bp, bx
    adc bp, 0
    inc bx
    dec cx
    jnz inner
    dec dx
    jnz outer
    hlt

mix:
    shl bx, 1
    ret
