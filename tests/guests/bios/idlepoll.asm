; A DOS-style idle wait (idlewait.inc): poll int 16h AH=01h (no key) until 4 timer
; ticks (about 220 ms) have passed by the BIOS tick count at 40:6C, then say
; "PASS\n" on port 0E9h and halt.  The test compares the instructions this takes
; with the BIOS's idle skip on and off.
%include "lib.inc"

main:
    jmp idle_wait

%include "idlewait.inc"
%include "report.inc"
guest_end:
