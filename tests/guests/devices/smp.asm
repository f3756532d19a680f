; Multiprocessor guest (tests/test_smp.py): the bootstrap processor starts the
; application processor the way the MP specification (appendix B.4) and xv6 do, and
; both hammer one counter with LOCK INC.  Reports on the debug console (port 0xE9):
;   "bsp: apic=00 cpuid=00"   the BSP's APIC ID register and CPUID.1 EBX[31:24]
;   "ap: apic=01 cpuid=01 cs=0900"  the AP, started at vector 09h in 0900:0000
;                             (a trampoline there keeps CS in BX and jumps to
;                             0000:ap_main), after its own unreal-mode set-up
;   "ipi=1"                   the AP sent the BSP a fixed IPI (vector 40h) and the BSP
;                             took it in real mode and sent the EOI
;   "counter=60000"           both processors' LOCK INCs, none lost
;   "patched=2"               the BSP rewrote the immediate of a routine it had run
;                             before the AP flushed its own decoded code (the AP's
;                             CR0 writes): the BSP runs the new bytes
;   "done"
; With one processor the start-up IPI reaches nobody: "ap: none" after a bounded
; wait, then "counter=30000".  The APIC registers are reached with 32-bit
; addresses through FS in unreal mode (a flat 4 GiB FS cached by each processor).

%include "boot.inc"

LAPIC           equ 0xfee00000
APIC_ID         equ 0x020
APIC_EOI        equ 0x0b0
APIC_SVR        equ 0x0f0
APIC_ICR_LOW    equ 0x300
APIC_ICR_HIGH   equ 0x310
TRAMPOLINE      equ 0x9000          ; start-up vector 09h
IPI_VECTOR      equ 0x40
INCREMENTS      equ 30000
WAIT_LOOPS      equ 200000          ; the BSP's patience for an AP that does not exist
AP_STACK_TOP    equ 0x6000

main:   xor eax, eax
        mov [counter], eax
        mov [ipis], ax
        mov [ap_done], al
        call unreal
        call patched                    ; decoded and cached by the BSP
        mov ebx, LAPIC + APIC_SVR
        mov dword [fs:ebx], 0x1ff       ; software enable, spurious vector FFh
        mov al, IPI_VECTOR
        mov dx, ipi_handler
        call set_vector
        print "bsp: "
        call report_ids
        ; the trampoline: mov bx, cs; jmp 0000:ap_main
        mov word [TRAMPOLINE], 0xcb8c
        mov byte [TRAMPOLINE + 2], 0xea
        mov word [TRAMPOLINE + 3], ap_main
        mov word [TRAMPOLINE + 5], 0
        ; INIT (level assert), INIT de-assert, then two start-up IPIs, to APIC ID 1
        mov eax, 0xc500
        call send_ipi
        mov eax, 0x8500
        call send_ipi
        mov eax, 0x0600 + (TRAMPOLINE >> 12)
        call send_ipi
        mov eax, 0x0600 + (TRAMPOLINE >> 12)
        call send_ipi
        sti                             ; the AP's IPI arrives while we count
        call count
        mov ecx, WAIT_LOOPS
.wait:  cmp byte [ap_done], 0
        jne .joined
        dec ecx
        jnz .wait
        print "ap: none", 10
        jmp .report
.joined:
        mov si, ap_line                 ; the AP's report, printed here so that
        call puts                       ; lines never interleave
        print "ipi="
        mov ax, [ipis]
        call put_dec
        call put_nl
.report:
        cli
        print "counter="
        mov eax, [counter]
        call put_dec32
        call put_nl
        mov byte [patched + 1], 2
        call patched
        print "patched="
        call put_dec
        call put_nl
        print "done", 10
        jmp stop

; send_ipi: ICR low = EAX, destination APIC ID 1
send_ipi:
        mov ebx, LAPIC + APIC_ICR_HIGH
        mov dword [fs:ebx], 1 << 24
        mov ebx, LAPIC + APIC_ICR_LOW
        mov [fs:ebx], eax
        ret

; count: LOCK INC the shared counter INCREMENTS times
count:  mov ecx, INCREMENTS
.next:  lock inc dword [counter]
        dec ecx
        jnz .next
        ret

; report_ids: "apic=XX cpuid=XX" and a newline, from this processor's view
report_ids:
        print "apic="
        mov ebx, LAPIC + APIC_ID
        mov eax, [fs:ebx]
        shr eax, 24
        call put_hex8
        print " cpuid="
        mov eax, 1
        cpuid
        shr ebx, 24
        mov al, bl
        call put_hex8
        call put_nl
        ret

ipi_handler:
        inc word [ipis]
        push ebx
        mov ebx, LAPIC + APIC_EOI
        mov dword [fs:ebx], 0
        pop ebx
        iret

; ---------------------------------------------------------------- the AP
ap_main:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, AP_STACK_TOP
        mov [started_cs], bx
        cld
        call unreal
        mov ebx, LAPIC + APIC_SVR
        mov dword [fs:ebx], 0x1ff
        ; "ap: apic=.. cpuid=.. cs=...." into ap_line (the BSP prints it)
        mov di, ap_line
        mov si, ap_prefix
        call copy
        mov ebx, LAPIC + APIC_ID
        mov eax, [fs:ebx]
        shr eax, 24
        call store_hex8
        mov si, ap_cpuid
        call copy
        mov eax, 1
        cpuid
        shr ebx, 24
        mov al, bl
        call store_hex8
        mov si, ap_cs
        call copy
        mov ax, [started_cs]
        xchg al, ah
        call store_hex8
        xchg al, ah
        call store_hex8
        mov word [di], 10               ; newline and terminator
        call count
        ; a fixed IPI to the BSP (APIC ID 0), edge, physical destination
        mov ebx, LAPIC + APIC_ICR_HIGH
        mov dword [fs:ebx], 0
        mov ebx, LAPIC + APIC_ICR_LOW
        mov dword [fs:ebx], IPI_VECTOR
.sent:  cmp word [ipis], 0              ; the BSP has taken it
        je .sent
        mov byte [ap_done], 1
.park:  hlt
        jmp .park

; copy: the zero-terminated string at SI to DI (DI ends on the terminator)
copy:   lodsb
        test al, al
        jz .end
        stosb
        jmp copy
.end:   ret

; store_hex8: AL as two hex digits at DI
store_hex8:
        push ax
        shr al, 4
        call .nibble
        pop ax
        push ax
        and al, 0x0f
        call .nibble
        pop ax
        ret
.nibble:
        add al, '0'
        cmp al, '9'
        jbe .store
        add al, 'A' - '9' - 1
.store: stosb
        ret

; put_dec32: EAX as an unsigned decimal number
put_dec32:
        push eax
        push ebx
        push ecx
        push edx
        mov ebx, 10
        xor ecx, ecx
.divide:
        xor edx, edx
        div ebx
        push dx
        inc ecx
        test eax, eax
        jnz .divide
.digit: pop ax
        add al, '0'
        out DEBUGCON, al
        loop .digit
        pop edx
        pop ecx
        pop ebx
        pop eax
        ret

; patched: AX = 1 (the BSP rewrites the immediate); on the page after
; its callers, so that their blocks do not take in its bytes
patched:
        mov ax, 1
        ret

ap_prefix:  db "ap: apic=", 0
ap_cpuid:   db " cpuid=", 0
ap_cs:      db " cs=", 0


%include "lib.inc"

absolute VARIABLES
counter:    resd 1
ipis:       resw 1
ap_done:    resb 1
started_cs: resw 1
ap_line:    resb 64
