; Key polls that are not a wait: DOS polls int 16h AH=01h for Ctrl+C before each
; character it prints and in many of the calls it serves, a few hundred
; instructions apart.  Such polls must not let virtual time jump to the next timer
; tick (that made every character of FreeDOS's output cost 55 ms).  Then a real
; wait must still be skipped.  Reports "PASS\n" on port 0E9h.
;
; 1. 200 characters taken from a string by a routine that polls for Ctrl+C
;    first, as DOS's character output does: SI moves on each time.
; 2. 200 polls with the same registers each time but a different word on the
;    stack (the caller's frame differs, as in DOS's calls for a program).
;    Both must end within one timer tick of their start (BIOS count at 40:6Ch).
; 3. A wait for 4 ticks polling int 16h AH=01h in a tight loop (idlewait.inc,
;    as idlepoll.asm): the test counts its instructions.
%include "lib.inc"

COUNT equ 200

main:
    sti
; ---- 1. a Ctrl+C check before each character
    mov bx, [0x46C]
    mov si, text
    mov cx, COUNT
.print:
    call break_check
    lodsb
    add [checksum], al
    loop .print
    mov ax, [0x46C]
    sub ax, bx
    cmp ax, 1
    jbe .phase2                     ; at most one tick passed
    push word 1
    jmp test_failed
; ---- 2. the same registers, another word on the stack each time
.phase2:
    mov bx, [0x46C]
    mov cx, COUNT
.call:
    push cx                         ; the caller's frame: differs every turn
    push bx
    call clean_poll
    pop bx
    pop cx
    loop .call
    mov ax, [0x46C]
    sub ax, bx
    cmp ax, 1
    jbe .phase3
    push word 2
    jmp test_failed
; ---- 3. a real wait: skipped
.phase3:
    jmp idle_wait

; break_check: poll for a key as DOS does for Ctrl+C (no key here: return)
break_check:
    push ax
    mov ah, 0x01
    int 0x16
    pop ax
    ret

; clean_poll: the poll with every register but SP the same each time
clean_poll:
    xor ax, ax
    xor bx, bx
    xor cx, cx
    xor dx, dx
    mov ah, 0x01
    int 0x16
    ret

checksum: db 0
text: times COUNT db 'a'

%include "idlewait.inc"
%include "report.inc"
guest_end:
