; CPU benchmark: the real-mode loop of loops.inc.  Loaded at 0000:7C00 by
; `machine bench`; ends with HLT (interrupts disabled), after which the bench goes
; on at `start` for longer runs.
; Executes 6 + 6 + 500 * (5 + 1,000 * 14) + 1 = 7,002,513 instructions.
%include "loops.inc"
bits 16
org 0x7C00

start:
    REALMODE_ENTER
    REALMODE_LOOP 500, 1000
    hlt

    REALMODE_MIX
