; ACPI guest (tests/test_acpi.py): finds the tables the way an OS does and powers
; the machine off through them.  Reports on the debug console (port 0xE9):
;   "rsdp=000F....  rev=00"   the RSDP found on a 16-byte boundary in E0000-FFFFF
;                             with a valid checksum (none: "rsdp: none", then HLT)
;   "table FACP" ...          every table the RSDT points to (checksums checked:
;                             a bad one prints "bad checksum")
;   "fadt: pm1a_cnt=0604 pm_tmr=0608 sci=0009"
;   "s5: slp_typ=0000"        \_S5's first package element, parsed from the DSDT
;   "madt: cpus=N ioapic=FEC00000 overrides=I"  enabled local APICs, the first I/O
;                             APIC, interrupt source overrides
;   "pm timer +T"             PM timer ticks over a 20,000-instruction loop
;   "s5"                      then SLP_TYP | SLP_EN to PM1a_CNT: the machine is off;
;                             "still running" would follow if it were not.

%include "boot.inc"

LOOPS equ 10000

main:   print "acpi: start", 10
        call find_rsdp
        jc stop
        print "rsdp="
        mov ax, es
        movzx eax, ax
        shl eax, 4
        movzx edx, di
        add eax, edx
        call put_hex32
        print "  rev="
        mov al, [es:di + 15]
        call put_hex8
        call put_nl
        mov eax, [es:di + 16]           ; the RSDT
        call map_table
        jc stop
        mov [rsdt_seg], es
        mov [rsdt_off], di
        mov ecx, [es:di + 4]
        sub ecx, 36
        shr ecx, 2
        mov [entries], cx
        mov word [cursor], 36
.entry: cmp word [entries], 0
        je .walked
        dec word [entries]
        mov es, [rsdt_seg]
        mov di, [rsdt_off]
        add di, [cursor]
        add word [cursor], 4
        mov eax, [es:di]
        call map_table
        jc .entry
        cmp dword [es:di], "FACP"
        jne .not_fadt
        call fadt
.not_fadt:
        cmp dword [es:di], "APIC"
        jne .entry
        call madt
        jmp .entry

.walked:
        mov dx, [pm_tmr]
        in eax, dx
        mov ebx, eax
        mov ecx, LOOPS
.spin:  dec ecx
        jnz .spin
        in eax, dx
        sub eax, ebx
        and eax, 0xffffff
        print "pm timer +"
        call put_dec
        call put_nl
        print "s5", 10
        mov ax, [slp_typ]
        shl ax, 10
        or ax, 0x2000                   ; SLP_EN
        mov dx, [pm1a_cnt]
        out dx, ax
        print "still running", 10
        jmp stop


; map_table: EAX (physical, below 1 MiB) -> ES:DI; prints "table SIGN" and checks
; the checksum over the header's length; CF set (and "bad checksum") if it fails
map_table:
        mov edx, eax
        shr edx, 4
        mov es, dx
        and ax, 0x0f
        mov di, ax
        print "table "
        mov cx, 4
        push di
.sign:  mov al, [es:di]
        out DEBUGCON, al
        inc di
        loop .sign
        pop di
        call put_nl
        mov cx, [es:di + 4]
        call checksum
        test al, al
        jz .ok
        print "bad checksum", 10
        stc
        ret
.ok:    clc
        ret

; fadt: the table at ES:DI; keeps PM1a_CNT and PM_TMR, parses the DSDT
fadt:   mov eax, [es:di + 64]
        mov [pm1a_cnt], ax
        mov eax, [es:di + 76]
        mov [pm_tmr], ax
        print "fadt: pm1a_cnt="
        mov ax, [pm1a_cnt]
        call put_hex16
        print " pm_tmr="
        mov ax, [pm_tmr]
        call put_hex16
        print " sci="
        mov ax, [es:di + 46]
        call put_hex16
        call put_nl
        push es
        push di
        mov eax, [es:di + 40]
        call map_table
        jc .done
        mov cx, [es:di + 4]
        sub cx, 4
.find:  cmp dword [es:di], "_S5_"
        je .s5
        inc di
        loop .find
        print "s5: none", 10
        jmp .done
.s5:    add di, 4
        cmp byte [es:di], 0x12          ; PackageOp
        jne .done
        add di, 3                       ; PkgLength (one byte), NumElements
        mov al, [es:di]
        xor ah, ah
        cmp al, 0x0a                    ; BytePrefix
        jne .small
        mov al, [es:di + 1]
.small: mov [slp_typ], ax
        print "s5: slp_typ="
        call put_hex16
        call put_nl
.done:  pop di
        pop es
        ret

; madt: count the enabled local APICs, the first I/O APIC, the overrides
madt:   push di
        mov cx, [es:di + 4]
        add cx, di                      ; end
        add di, 44
        xor bx, bx                      ; processors
        xor si, si                      ; overrides
        xor edx, edx                    ; the first I/O APIC's address
.next:  cmp di, cx
        jae .report
        mov al, [es:di]
        cmp al, 0
        jne .not_cpu
        test byte [es:di + 4], 1
        jz .advance
        inc bx
        jmp .advance
.not_cpu:
        cmp al, 1
        jne .not_ioapic
        test edx, edx
        jnz .advance
        mov edx, [es:di + 4]
        jmp .advance
.not_ioapic:
        cmp al, 2
        jne .advance
        inc si
.advance:
        movzx ax, byte [es:di + 1]
        add di, ax
        jmp .next
.report:
        print "madt: cpus="
        mov ax, bx
        call put_dec
        print " ioapic="
        mov eax, edx
        call put_hex32
        print " overrides="
        mov ax, si
        call put_dec
        call put_nl
        pop di
        ret

%include "lib.inc"

absolute VARIABLES
rsdt_seg:   resw 1
rsdt_off:   resw 1
entries:    resw 1
cursor:     resw 1
pm1a_cnt:   resw 1
pm_tmr:     resw 1
slp_typ:    resw 1
