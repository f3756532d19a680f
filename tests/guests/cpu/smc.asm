; CPU guest: self-modifying code.  Reports on port 0xE9.
; 1. Patch the immediate of an instruction that already ran (so its decoded form
;    is cached) and run it again: it must use the new byte.
; 2. Replace a whole instruction (NOP -> INC) inside a loop body.
bits 16
org 0x7C00

start:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov cx, 2
again:
patched:
    mov al, 'a'                 ; the immediate byte is rewritten below
    out 0xE9, al
    mov byte [patched + 1], 'b'
    loop again                  ; reports "ab"

    xor bx, bx
    mov cx, 3
body:
    nop                         ; becomes INC BX after the first pass
    mov byte [body], 0x43       ; 0x43 = INC BX
    loop body
    mov al, bl
    add al, '0'                 ; two increments: reports '2'
    out 0xE9, al
    hlt
