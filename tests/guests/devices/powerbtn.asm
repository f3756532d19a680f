; ACPI power button guest (tests/test_powerbtn.py): takes the fixed-feature power
; button's SCI the way an ACPI OS does and powers off.  Reports on the debug
; console (port 0xE9):
;   "fadt: pm1a_evt=0600 pm1a_cnt=0604 sci=0009 flags=00000025"   from the FADT,
;                             found through the RSDP and the RSDT; flags bit 4
;                             (PWR_BUTTON) clear: the button is the fixed feature
;                             ("no fixed power button" and HLT otherwise)
;   "elcr2=0E"                the SCI made level-triggered in the ELCR: bit 1 (IRQ 9)
;                             beside the PCI IRQs 10 and 11 the BIOS set (it leaves
;                             the SCI edge-triggered; an OS sets it, as Linux's
;                             acpi_pic_sci_set_trigger does)
;   "powerbtn: waiting"       PM1_STS cleared, PWRBTN_EN set, IRQ 9 unmasked on the
;                             slave 8259A (vector 29h), HLT until the SCI (this line
;                             also goes to the screen, for the tests' waits)
;   "sci: pm1_sts=0100 irr=02"       in the handler: PWRBTN_STS, the SCI level
;                             still up on the slave's IR1
;   "cleared: pm1_sts=0000 irr=00"   after writing PWRBTN_STS back (write 1 to
;                             clear): the level has dropped; then EOI
;   "sci count=1"             after 1,000 more loops with interrupts on (a level
;                             left up would have interrupted again)
;   "s5"                      SLP_TYP 0 | SLP_EN to PM1a_CNT: the machine is off;
;                             "still running" would follow if it were not.

%include "boot.inc"

PWRBTN_STS      equ 0x0100
PWRBTN_EN       equ 0x0100
SLP_EN          equ 0x2000
FADT_PWR_BUTTON equ 0x10
SCI_IRQ         equ 9
SLAVE_BASE      equ 0x28
SCI_VECTOR      equ SLAVE_BASE + SCI_IRQ - 8
ELCR2           equ 0x4d1
SPIN            equ 1000

main:   print "powerbtn: start", 10
        mov word [sci_count], 0
        call find_fadt
        jc stop
        mov eax, [es:di + 56]           ; PM1a_EVT_BLK
        mov [pm1a_evt], ax
        mov eax, [es:di + 64]           ; PM1a_CNT_BLK
        mov [pm1a_cnt], ax
        mov ax, [es:di + 46]            ; SCI_INT
        mov [sci], ax
        mov eax, [es:di + 112]          ; Flags
        mov [flags], eax
        xor ax, ax
        mov es, ax
        print "fadt: pm1a_evt="
        mov ax, [pm1a_evt]
        call put_hex16
        print " pm1a_cnt="
        mov ax, [pm1a_cnt]
        call put_hex16
        print " sci="
        mov ax, [sci]
        call put_hex16
        print " flags="
        mov eax, [flags]
        call put_hex32
        call put_nl
        test byte [flags], FADT_PWR_BUTTON
        jz .fixed
        print "no fixed power button", 10
        jmp stop
.fixed: cmp word [sci], SCI_IRQ
        je .sci
        print "the SCI is not on IRQ 9", 10
        jmp stop

.sci:   mov bx, (SLAVE_BASE << 8) | 0x20
        call pic_remap
        mov al, SCI_VECTOR
        mov dx, sci_handler
        call set_vector
        mov dx, ELCR2
        in al, dx
        or al, 1 << (SCI_IRQ - 8)
        out dx, al
        in al, dx
        print "elcr2="
        call put_hex8
        call put_nl
        mov dx, [pm1a_evt]
        mov ax, 0xffff                  ; PM1_STS: clear whatever is pending
        out dx, ax
        add dx, 2
        mov ax, PWRBTN_EN               ; PM1_EN: the power button only
        out dx, ax
        mov al, 0xfb                    ; master: the cascade input IRQ2 only
        out 0x21, al
        mov al, ~(1 << (SCI_IRQ - 8)) & 0xff
        out 0xa1, al                    ; slave: the SCI only
        mov si, waiting
        call show
        sti
.wait:  hlt
        cmp word [sci_count], 0
        je .wait
        mov cx, SPIN
.spin:  loop .spin
        cli
        print "sci count="
        mov ax, [sci_count]
        call put_dec
        call put_nl
        print "s5", 10
        mov dx, [pm1a_cnt]
        mov ax, SLP_EN                  ; SLP_TYP 0, \_S5 of our DSDT (acpi.asm parses it)
        out dx, ax
        print "still running", 10
        jmp stop

; sci_handler: IRQ 9; reads PM1_STS, clears PWRBTN_STS, EOI to both 8259As
sci_handler:
        push ax
        push bx
        push dx
        inc word [sci_count]
        mov dx, [pm1a_evt]
        in ax, dx
        mov bx, ax
        print "sci: pm1_sts="
        call put_hex16
        call put_irr
        test bx, PWRBTN_STS
        jz .eoi
        mov ax, PWRBTN_STS              ; write 1 to clear: the SCI level drops
        out dx, ax
        in ax, dx
        print "cleared: pm1_sts="
        call put_hex16
        call put_irr
.eoi:   mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop dx
        pop bx
        pop ax
        iret

; put_irr: " irr=XX" (the slave 8259A's request register) and a newline
put_irr:
        push ax
        print " irr="
        mov al, 0x0a                    ; OCW3: read IRR
        out 0xa0, al
        in al, 0xa0
        call put_hex8
        call put_nl
        pop ax
        ret

; find_fadt: ES:DI = the FADT, from the RSDP (on a 16-byte boundary in E0000-FFFFF)
; through the RSDT, as an OS finds it; CF set (and a report) when there is none
find_fadt:
        call find_rsdp
        jnc .found
        ret
.found: mov eax, [es:di + 16]           ; the RSDT
        call far_pointer
        mov cx, [es:di + 4]
        sub cx, 36
        shr cx, 2                       ; its entries
        add di, 36
.entry: jcxz .none
        push es
        push di
        mov eax, [es:di]
        call far_pointer
        cmp dword [es:di], "FACP"
        je .fadt
        pop di
        pop es
        add di, 4
        dec cx
        jmp .entry
.fadt:  add sp, 4                       ; ES:DI is the FADT
        clc
        ret
.none:  print "fadt: none", 10
        stc
        ret

; far_pointer: physical address EAX (below 1 MiB) -> ES:DI
far_pointer:
        mov edx, eax
        shr edx, 4
        mov es, dx
        and ax, 0x0f
        mov di, ax
        ret

waiting db "powerbtn: waiting", 10, 0

%include "lib.inc"

absolute VARIABLES
pm1a_evt:   resw 1
pm1a_cnt:   resw 1
sci:        resw 1
flags:      resd 1
sci_count:  resw 1
