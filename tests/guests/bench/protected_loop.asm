; CPU benchmark: the protected-mode loop of loops.inc, in 32-bit flat protected
; mode with paging on.  Loaded at 0000:7C00 by `machine bench`; switches to
; protected mode, builds the page tables, enables paging and ends with HLT.
; Executes 3,094 (set-up) + 5 + 500 * (5 + 1,000 * 14) + 1 = 7,005,600 instructions.
%include "loops.inc"
bits 16
org 0x7C00

start:
    PROTECTED_ENTER
restart:                      ; `machine bench` goes on here after the HLT (offset 5Ah)
    PROTECTED_LOOP 500, 1000
    hlt

    PROTECTED_MIX
    PROTECTED_GDT
