; SSE results, MXCSR flags, #XM and FXSAVE (pcmachine tests/guests/sse): a boot
; sector that sets CR4.OSFXSR and OSXMMEXCPT, runs scalar SSE operations on a table
; of operands and MXCSR values and prints each result with the MXCSR after it in
; hex on the debug console (port 0xE9), then takes a #XM (1/0 with ZE unmasked),
; checks the destination was not written, and prints FXSAVE's MXCSR/MXCSR_MASK and
; XMM0-XMM1.  Compare: qemu-system-i386 -cpu pentium3 -fda sse.bin
; -debugcon file:out.txt (expected_qemu.txt).
        org 0x7C00
        bits 16
SECTORS equ 4
start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov ax, 0x0200 + SECTORS
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        jc $
        jmp main
        times 510 - ($ - $$) db 0
        dw 0xAA55

main:
        mov eax, cr0
        and eax, ~0x0C                  ; EM and TS off
        or eax, 0x22                    ; MP, NE
        mov cr0, eax
        mov eax, cr4
        or eax, 0x600                   ; OSFXSR, OSXMMEXCPT
        mov cr4, eax
        mov word [19 * 4], xm_handler
        mov word [19 * 4 + 2], 0
        mov si, cases
.case:  ldmxcsr [si + 8]
        movss xmm0, [si]
        movss xmm1, [si + 4]
        movzx bx, byte [si + 12]
        push si
        call [ops + bx]
        pop si
        movss [result], xmm0
        stmxcsr [flags]
        mov eax, [result]
        call hex32
        mov al, ' '
        out 0xE9, al
        mov ax, [flags]
        call hex16
        call newline
        add si, 16
        cmp si, cases_end
        jb .case
        ; an unmasked divide by zero: #XM, XMM0 unchanged
        mov dword [flags], 0x1D80
        ldmxcsr [flags]
        movss xmm0, [one]
        movss xmm1, [zero]
        mov byte [taken], 0
faulting:
        divss xmm0, xmm1
after:
        mov al, [taken]
        call hex8
        call newline
        movss [result], xmm0
        mov eax, [result]
        call hex32
        call newline
        ; FXSAVE: MXCSR, MXCSR_MASK, XMM0, XMM1
        mov dword [flags], 0x1F80
        ldmxcsr [flags]
        fxsave [area]
        mov si, area + 24
        mov cx, 8
        call dump
        call newline
        mov si, area + 160
        mov cx, 32
        call dump
        call newline
        mov si, done
.msg:   lodsb
        test al, al
        jz .end
        out 0xE9, al
        jmp .msg
.end:   cli
        hlt
        jmp .end

xm_handler:                             ; report, skip the DIVSS (4 bytes)
        mov byte [taken], 0x19
        stmxcsr [flags]
        mov ax, [flags]
        call hex16
        mov al, ' '
        out 0xE9, al
        push bp
        mov bp, sp
        add word [bp + 2], after - faulting
        pop bp
        iret

dump:   lodsb
        call hex8
        loop dump
        ret

op_add:  addss xmm0, xmm1
        ret
op_sub:  subss xmm0, xmm1
        ret
op_mul:  mulss xmm0, xmm1
        ret
op_div:  divss xmm0, xmm1
        ret
op_sqrt: sqrtss xmm0, xmm1
        ret
op_max:  maxss xmm0, xmm1
        ret
op_min:  minss xmm0, xmm1
        ret
op_cmplt: cmpltss xmm0, xmm1
        ret
op_cvt:  cvtss2si eax, xmm0
        jmp to_xmm0
op_comi: comiss xmm0, xmm1
        pushf
        pop ax
        and ax, 0x8D5
        movzx eax, ax
        jmp to_xmm0
op_ucomi: ucomiss xmm0, xmm1
        pushf
        pop ax
        and ax, 0x8D5
        movzx eax, ax
        jmp to_xmm0
op_cvti: cvtsi2ss xmm0, [si + 4]
        ret
to_xmm0: mov [result], eax              ; (MOVD xmm, r32 is SSE2)
        movss xmm0, [result]
        ret

%include "../hexout.inc"

O_ADD equ 0
O_SUB equ 2
O_MUL equ 4
O_DIV equ 6
O_SQRT equ 8
O_MAX equ 10
O_MIN equ 12
O_CMPLT equ 14
O_CVT equ 16
O_COMI equ 18
O_UCOMI equ 20
O_CVTI equ 22
ops:    dw op_add, op_sub, op_mul, op_div, op_sqrt, op_max, op_min, op_cmplt, op_cvt
        dw op_comi, op_ucomi, op_cvti
%macro case 4
        dd %1, %2, %3
        db %4, 0, 0, 0
%endmacro
        align 4
; a, b, MXCSR, operation (all exceptions masked; RC in bits 14:13, FZ bit 15)
cases:
        case 0x3F800000, 0x40400000, 0x1F80, O_DIV       ; 1/3: PE, each rounding mode
        case 0x3F800000, 0x40400000, 0x3F80, O_DIV
        case 0xBF800000, 0x40400000, 0x3F80, O_DIV
        case 0x3F800000, 0x40400000, 0x5F80, O_DIV
        case 0x3F800000, 0x40400000, 0x7F80, O_DIV
        case 0x3F800000, 0x00000000, 0x1F80, O_DIV       ; ZE
        case 0x00000000, 0x00000000, 0x1F80, O_DIV       ; IE
        case 0x7F800000, 0xFF800000, 0x1F80, O_ADD       ; inf - inf: IE
        case 0x7FA00000, 0x3F800000, 0x1F80, O_ADD       ; SNaN: IE, quieted
        case 0x7FC00002, 0xFFC00001, 0x1F80, O_ADD       ; two QNaNs
        case 0x7F7FFFFF, 0x40000000, 0x1F80, O_MUL       ; OE PE
        case 0x7F7FFFFF, 0x40000000, 0x7F80, O_MUL
        case 0x00800000, 0x3F000000, 0x1F80, O_MUL       ; exact tiny
        case 0x00800001, 0x3F000000, 0x1F80, O_MUL       ; inexact tiny: UE PE
        case 0x00800001, 0x3F000000, 0x9F80, O_MUL       ; FZ
        case 0x00000001, 0x00000000, 0x1F80, O_ADD       ; denormal operand: DE
        case 0x3F800000, 0xBF800000, 0x3F80, O_ADD       ; x - x rounding down: -0
        case 0x3F800000, 0x3F800000, 0x1F80, O_SUB
        case 0x00000000, 0x40000000, 0x1F80, O_SQRT      ; sqrt 2
        case 0x00000000, 0xBF800000, 0x1F80, O_SQRT      ; IE
        case 0x7FC00000, 0x3F800000, 0x1F80, O_MAX       ; NaN: the source, IE
        case 0x80000000, 0x00000000, 0x1F80, O_MIN       ; zeros: the source
        case 0x7FC00000, 0x3F800000, 0x1F80, O_CMPLT     ; QNaN: IE
        case 0x3FC00000, 0, 0x1F80, O_CVT                ; 1.5 -> 2
        case 0x40200000, 0, 0x1F80, O_CVT                ; 2.5 -> 2
        case 0x4F000000, 0, 0x1F80, O_CVT                ; 2^31: IE
        case 0x7FC00000, 0x3F800000, 0x1F80, O_COMI      ; IE, ZF PF CF
        case 0x7FC00000, 0x3F800000, 0x1F80, O_UCOMI     ; no IE
        case 0x3F800000, 0x40000000, 0x1F80, O_COMI      ; less: CF
        case 0, 0x01000001, 0x1F80, O_CVTI               ; 16777217: PE
        case 0, 0x01000001, 0x5F80, O_CVTI
cases_end:
one:    dd 0x3F800000
zero:   dd 0
result: dd 0
flags:  dd 0
taken:  db 0
done:   db "done", 10, 0
        align 16
area:   times 512 db 0
        times (SECTORS + 1) * 512 - ($ - $$) db 0
