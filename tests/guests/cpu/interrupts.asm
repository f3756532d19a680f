; CPU guest: interrupts and exceptions through the real-mode IVT.
; Loaded at 0000:7C00 with interrupts disabled.  Reports one byte per event on
; port 0xE9 and ends with "OK" and CLI/HLT.  The test supplies an interrupt
; controller that answers INTA with vector 0x08 after it raised INTR.
bits 16
org 0x7C00

%macro set_vector 2
    mov word [%1 * 4], %2
    mov word [%1 * 4 + 2], 0
%endmacro

start:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    set_vector 0x00, divide_error
    set_vector 0x03, breakpoint
    set_vector 0x04, overflow
    set_vector 0x05, bound_range
    set_vector 0x06, invalid_opcode
    set_vector 0x07, no_coprocessor
    set_vector 0x08, timer_irq
    set_vector 0x0D, general_protection
    set_vector 0x40, software

    int 0x40                    ; 'S'
    int3                        ; 'B'
    mov al, 0x7F
    add al, 1                   ; OF=1
    into                        ; 'O'
    xor dx, dx
    mov ax, 1
    xor cx, cx
    div cx                      ; #DE: 'D', handler skips the 2-byte DIV
    mov bx, bounds
    mov ax, 9
    bound ax, [bx]              ; #BR: 'R', handler moves AX inside the bounds
    ud2                         ; #UD: 'U', handler skips 2 bytes
    mov eax, cr0
    or al, 4                    ; CR0.EM: x87 instructions raise #NM
    mov cr0, eax
    fninit                      ; #NM: 'N', handler clears EM and skips 2 bytes
    mov bx, 0xFFFF
    mov ax, [bx]                ; word at offset FFFF: #GP: 'G', skips 2 bytes
    sti                         ; hardware interrupt after the STI shadow
    hlt                         ; 'T' from IRQ vector 8 wakes the HLT
    cli
    mov al, 'O'
    out 0xE9, al
    mov al, 'K'
    out 0xE9, al
    hlt

report:                         ; AL = byte to report
    out 0xE9, al
    ret

skip2:                          ; add 2 to the faulting IP on the stack
    push bp
    mov bp, sp
    add word [bp + 4], 2
    pop bp
    ret

software:
    mov al, 'S'
    call report
    iret
breakpoint:
    mov al, 'B'
    call report
    iret
overflow:
    mov al, 'O'
    call report
    iret
divide_error:
    mov al, 'D'
    call report
    call skip2
    iret
bound_range:
    mov al, 'R'
    call report
    mov ax, 5                   ; inside [2, 6]: BOUND succeeds when retried
    iret
invalid_opcode:
    mov al, 'U'
    call report
    call skip2
    iret
no_coprocessor:
    mov al, 'N'
    call report
    mov eax, cr0
    and al, ~4
    mov cr0, eax
    call skip2
    iret
general_protection:
    mov al, 'G'
    call report
    call skip2
    iret
timer_irq:
    mov al, 'T'
    call report
    iret

bounds: dw 2, 6
