; CPU guest: a store into the instructions right after it, in the same decoded
; block (iPXE patches the vector of an `int n` this way before running it).
; Pentium and later see the new bytes at once (SDM vol. 3, 11.6); a 486 runs what
; its prefetch queue already holds, so the old bytes, until a jump.  Reports on
; port 0xE9: "abcI" on a Pentium or later, "?abS" on a 486.
bits 16
org 0x7C00

start:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x60 * 4], new_vector     ; int 60h: the patched vector
    mov word [0x60 * 4 + 2], 0
    mov word [0x61 * 4], old_vector     ; int 61h: the vector before the patch
    mov word [0x61 * 4 + 2], 0
    mov cx, 3
    mov bl, 'a'
again:
    mov [cs:patched + 1], bl            ; the immediate of the next instruction
patched:
    mov al, '?'
    out 0xE9, al                        ; the block ends here
    inc bl
    loop again

    mov byte [cs:vector + 1], 0x60      ; the next instruction becomes int 60h
vector:
    int 0x61
    hlt

new_vector:
    mov al, 'I'
    out 0xE9, al
    iret

old_vector:
    mov al, 'S'
    out 0xE9, al
    iret
