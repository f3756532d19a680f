; A DOS-style idle wait: poll int 16h AH=01h (no key) until 4 timer ticks (about
; 220 ms) have passed by the BIOS tick count at 40:6C, then say "PASS\n" on
; port 0E9h and halt.  The test compares the instructions this takes with the
; BIOS's idle skip on and off.
%include "lib.inc"

main:
    sti
    mov bx, [0x46C]
    add bx, 4
.poll:
    mov ah, 0x01
    int 0x16
    jnz .key                        ; nobody types in this test
    mov ax, [0x46C]
    cmp ax, bx
    jne .poll
    jmp test_passed
.key:
    mov si, msg_key
    call print_e9
    cli
    hlt

msg_key: db "FAIL key", 10, 0

%include "report.inc"
guest_end:
