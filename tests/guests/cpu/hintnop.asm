; CPU guest: the P6 family's reserved NOPs, 0F 18-0F 1F with a ModRM operand
; ("NOP Ev"; 0F 1F /0 is the documented multi-byte NOP, 0F 18 /0-3 the SSE
; prefetch hints).  They touch no memory and raise nothing, even with an operand
; past the segment limit.  CET's ENDBR32 (F3 0F 1E FB) is one of them: Debian's
; and Ubuntu's 32-bit libgcc (__udivdi3, __umoddi3) start with it, so code built
; with today's gcc -m32 runs it as a NOP on every processor without CET.  Before
; the P6 they are #UD.  Three turns of a loop, so they run inside decoded blocks
; (and in tier 2).  Reports on port 0xE9: "abcdef" per turn then "K" on a P6 or
; later; "U" (the #UD handler) before.
bits 16
org 0x7C00

start:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [6 * 4], undefined         ; #UD
    mov word [6 * 4 + 2], 0
    mov cx, 3
turn:
    endbr32                             ; F3 0F 1E FB
    mov al, 'a'
    out 0xE9, al
    nop dword [bx + si]                 ; 66 0F 1F /0
    mov al, 'b'
    out 0xE9, al
    nop word [si]                       ; 0F 1F /0
    mov al, 'c'
    out 0xE9, al
    prefetchnta [0x1234]                ; 0F 18 /0
    mov al, 'd'
    out 0xE9, al
    db 0x0F, 0x19, 0xC0                 ; 0F 19, register form
    mov al, 'e'
    out 0xE9, al
    db 0x0F, 0x1D, 0x0E, 0xFF, 0xFF     ; 0F 1D /1 [0xFFFF]: a word past the limit
    mov al, 'f'
    out 0xE9, al
    loop turn
    mov al, 'K'
    out 0xE9, al
    cli
    hlt

undefined:
    mov al, 'U'
    out 0xE9, al
    cli
    hlt
