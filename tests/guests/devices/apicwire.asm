; The 8259A's interrupts after the local APIC is enabled (tests/test_device_guests.py):
; the Bochs BIOS's rombios32 and many hobby kernels set the SVR's enable bit without
; programming LVT LINT0, and still expect the timer's IRQ0.  QEMU resets the
; bootstrap processor's LINT0 to ExtINT (virtual wire), Bochs's 8259A bypasses
; LINT0: either way the ticks keep coming.  Reports on the debug console (0xE9):
;   "lint0=XXXXXXXX"   LVT LINT0 as the guest finds it (00000700: ExtINT, unmasked)
;   "svr=XXXXXXXX"     after setting the enable bit
;   "ticks=03"         three IRQ0 ticks taken in STI; HLT with the APIC enabled

%include "boot.inc"

LAPIC     equ 0xfee00000
APIC_SVR  equ 0xf0
APIC_LINT0 equ 0x350

main:   call unreal
        mov byte [ticks], 0
        mov ebx, LAPIC + APIC_LINT0
        mov eax, [fs:ebx]
        print "lint0="
        call put_hex32
        call put_nl
        mov ebx, LAPIC + APIC_SVR
        mov dword [fs:ebx], 0x1ff       ; software enable, spurious vector FFh
        mov eax, [fs:ebx]
        print "svr="
        call put_hex32
        call put_nl
        mov dx, tick
        call irq0_only
        sti
.wait:  hlt
        cmp byte [ticks], 3
        jb .wait
        cli
        print "ticks="
        mov al, [ticks]
        call put_hex8
        call put_nl
        jmp stop

tick:   inc byte [ticks]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret

%include "lib.inc"

absolute VARIABLES
ticks:  resb 1
