; Boot sector for compare.py: one loop of `machine bench` (loops.inc), run ROUNDS
; times, booted from a floppy by pcmachine, QEMU and Bochs alike, then ending the
; emulator by itself so its host time is just the run.
;   nasm -f bin -DPROTECTED -DROUNDS=n -DOUTER=n -DINNER=n compare_boot.asm
; (without -DPROTECTED the real-mode loop).  The loop runs between two writes of
; MARK_START and MARK_END to port MARK_PORT (unused by the three), where
; `machine run --trace-events io` sees their instruction counts: from the first
; OUT (excluded) to the second (included) the guest executes
;   2 + ROUNDS * (body + 2)
; instructions (the body is the loop of loops.inc, DEC and JNZ count the
; rounds), then the exits:
; - Bochs: "Shutdown" written to port 8900h quits it;
; - QEMU: writing 10h to its isa-debug-exit device (-device isa-debug-exit,
;   iobase=0x501) exits with status (10h << 1) | 1 = 21h;
; - pcmachine: HLT with interrupts disabled ends `machine run`.
%include "loops.inc"

%ifndef ROUNDS
%define ROUNDS 1
%endif
%ifndef OUTER
%define OUTER 500
%endif
%ifndef INNER
%define INNER 1000
%endif
MARK_PORT equ 0x00EB
MARK_START equ 0x51
MARK_END equ 0x5E
ROUND_COUNT equ 0x0600        ; after the loop's work buffer (0500-05FF)

bits 16
org 0x7C00

start:
%ifdef PROTECTED
    PROTECTED_ENTER
%else
    REALMODE_ENTER
%endif
    mov dword [ROUND_COUNT], ROUNDS
    mov al, MARK_START
    out MARK_PORT, al
round:
%ifdef PROTECTED
    PROTECTED_LOOP OUTER, INNER
%else
    REALMODE_LOOP OUTER, INNER
%endif
    dec dword [ROUND_COUNT]
    jnz round
    mov al, MARK_END
    out MARK_PORT, al

    mov dx, 0x8900            ; Bochs
%assign i 1
%rep 8
%substr letter "Shutdown" i
    mov al, letter
    out dx, al
%assign i i + 1
%endrep
    mov dx, 0x0501            ; QEMU
    mov al, 0x10
    out dx, al
    cli                       ; pcmachine
    hlt
    jmp $

%ifdef PROTECTED
    PROTECTED_MIX
    PROTECTED_GDT
%else
    REALMODE_MIX
%endif

    times 510 - ($ - $$) db 0
    dw 0xAA55
