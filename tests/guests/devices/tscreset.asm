; The time-stamp counter across a reset (tests/test_device_guests.py): the guest
; lets time pass with HLT (idle time the machine skips), reads the TSC, resets
; the machine through the keyboard controller (command FEh) and, booted again,
; reads it once more.  The TSC counts on through such a reset in QEMU 7.2 and
; Bochs 2.7 (a keyboard-controller reset is an INIT on a P6 board), so the second
; reading is the larger.  The state between the two boots lives at 9000:0000,
; which nothing clears.  Reports on the debug console (port 0xE9): "tsc: kept
; counting" or "tsc: went back".

%include "boot.inc"

SAVED_SEGMENT equ 0x9000
MAGIC         equ 0x21435354            ; "TSC!"
IDLE_TICKS    equ 20                    ; timer interrupts waited for in HLT

main:   mov ax, SAVED_SEGMENT
        mov es, ax
        cmp dword [es:0], MAGIC
        je .again
        mov dword [es:0], MAGIC
        mov cx, IDLE_TICKS
        sti
.idle:  hlt
        loop .idle
        cli
        rdtsc
        mov [es:4], eax
        mov [es:8], edx
        mov al, 0xfe                    ; pulse the reset line
        out 0x64, al
.wait:  hlt
        jmp .wait
.again: rdtsc
        mov dword [es:0], 0
        sub eax, [es:4]
        sbb edx, [es:8]
        jb .back
        print "tsc: kept counting", 10
        jmp stop
.back:  print "tsc: went back", 10
        jmp stop

%include "lib.inc"

absolute VARIABLES
