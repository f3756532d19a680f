; What an INIT IPI keeps (tests/test_smp.py; needs two processors with SSE, such as
; `cpu.model: pentium3`).  The SDM (vol. 3, table 9-1, INIT column) says INIT leaves
; the x87 and SSE registers, MXCSR, the MSRs and the time-stamp counter as they
; were, where RESET clears them.  The bootstrap processor starts the application
; processor (INIT-SIPI-SIPI, vector 09h), which fills that state, then sends it
; INIT and a start-up IPI at vector 0Ah, where the AP reads it back.  Reports on
; the debug console (port 0xE9), as QEMU 7.2 (-smp 2 -cpu pentium3) prints them:
;   "fcw=0E7F"          the x87 control word the AP loaded (RESET: 0040)
;   "st0=40000000"      the high half of the double in ST0, 2.0 (RESET: +0.0)
;   "mxcsr=7F80"        the MXCSR the AP loaded (RESET: 1F80)
;   "xmm3=89ABCDEF"     the top dword of XMM3 (RESET: 0)
;   "mtrr=00000006"     MTRRphysBase0 (RESET: 0)
;   "tsc=1"             the TSC read after INIT is past the value the AP wrote
;                       to it before (RESET: counts from 0 again)
;   "done"

%include "boot.inc"

LAPIC           equ 0xfee00000
APIC_SVR        equ 0x0f0
APIC_ICR_LOW    equ 0x300
APIC_ICR_HIGH   equ 0x310
FIRST_START     equ 0x9000          ; start-up vector 09h
SECOND_START    equ 0xa000          ; start-up vector 0Ah
AP_STACK_TOP    equ 0x6000
MTRR_PHYS_BASE0 equ 0x200
IA32_TSC        equ 0x10
TSC_HIGH        equ 0x00010000      ; the TSC the AP sets: 1 << 48

main:   call unreal
        mov ebx, LAPIC + APIC_SVR
        mov dword [fs:ebx], 0x1ff
        mov byte [phase], 0
        mov bx, FIRST_START
        mov ax, ap_fill
        call trampoline
        mov bx, SECOND_START
        mov ax, ap_check
        call trampoline
        mov al, FIRST_START >> 12
        call start_ap
        mov al, 1
        call wait_phase
        mov al, SECOND_START >> 12
        call start_ap
        mov al, 2
        call wait_phase
        print "fcw="
        mov ax, [fcw]
        call put_hex16
        print 10, "st0="
        mov eax, [st0_value + 4]
        call put_hex32
        print 10, "mxcsr="
        mov ax, [mxcsr]
        call put_hex16
        print 10, "xmm3="
        mov eax, [xmm3_value + 12]
        call put_hex32
        print 10, "mtrr="
        mov eax, [mtrr]
        call put_hex32
        print 10, "tsc="
        mov al, [tsc_kept]
        add al, '0'
        out DEBUGCON, al
        print 10, "done", 10
        jmp stop

; trampoline: at BX, code that jumps to 0000:AX
trampoline:
        mov byte [bx], 0xea
        mov [bx + 1], ax
        mov word [bx + 3], 0
        ret

; start_ap: INIT (assert, de-assert), then two start-up IPIs at vector AL, to APIC ID 1
start_ap:
        push ax
        mov eax, 0xc500
        call send_ipi
        mov eax, 0x8500
        call send_ipi
        pop ax
        movzx eax, al
        or ah, 0x06
        call send_ipi
        call send_ipi
        ret

send_ipi:
        mov ebx, LAPIC + APIC_ICR_HIGH
        mov dword [fs:ebx], 1 << 24
        mov ebx, LAPIC + APIC_ICR_LOW
        mov [fs:ebx], eax
        ret

; wait_phase: until the AP has set `phase` to AL
wait_phase:
.wait:  cmp [phase], al
        jne .wait
        ret

; ---------------------------------------------------------------- the AP
; ap_setup: segments and stack in segment 0, SSE on (INIT clears CR4)
%macro ap_setup 0
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, AP_STACK_TOP
        mov eax, cr4
        or ax, 0x600                    ; OSFXSR, OSXMMEXCPT
        mov cr4, eax
%endmacro

ap_fill:
        ap_setup
        fninit
        fld1
        fadd st0, st0                   ; 2.0
        fldcw [new_fcw]
        ldmxcsr [new_mxcsr]
        movups xmm3, [pattern]
        mov ecx, MTRR_PHYS_BASE0
        xor edx, edx
        mov eax, 6                      ; write-back
        wrmsr
        mov ecx, IA32_TSC
        mov edx, TSC_HIGH
        xor eax, eax
        wrmsr
        mov byte [phase], 1
.park:  hlt
        jmp .park

ap_check:
        ap_setup
        rdtsc
        cmp edx, TSC_HIGH
        setae [tsc_kept]
        fnstcw [fcw]
        fst qword [st0_value]
        stmxcsr [mxcsr]
        movups [xmm3_value], xmm3
        mov ecx, MTRR_PHYS_BASE0
        rdmsr
        mov [mtrr], eax
        mov byte [phase], 2
.park:  hlt
        jmp .park

new_fcw:    dw 0x0e7f
new_mxcsr:  dd 0x7f80
pattern:    dd 0x01234567, 0x76543210, 0xfedcba98, 0x89abcdef

%include "lib.inc"

absolute VARIABLES
phase:      resb 1
tsc_kept:   resb 1
fcw:        resw 1
mxcsr:      resd 1
mtrr:       resd 1
            alignb 8
st0_value:  resq 1
xmm3_value: resd 4
