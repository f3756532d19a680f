; PCI guest (tests/test_pci.py): enumerates bus 0 the way an OS's PCI driver does,
; first through configuration mechanism #1 (ports 0xCF8/0xCFC), then through the
; PCI BIOS (int 1Ah AX=B1xxh).  Reports on the debug console (port 0xE9):
;   "00:01.1 8086:7010 class 010180 rev 00"   one line per function found by the
;                                             port scan (function 0 absent or not
;                                             multi-function: the device's other
;                                             functions are skipped)
;   "b101 ah=00 al=01 bx=0210 cl=00 edx=20494350"   PCI BIOS present
;                                             (or "b101 ah=81 cf=1" without PCI: stop)
;   "b102 8086:7010 #0: ah=00 bx=0009"        find device (BH bus, BL devfn)
;   "b102 8086:1237 #1: ah=86 cf=1"           past the last match
;   "b102 ffff:ffff #0: ah=83 cf=1"           bad vendor ID
;   "b103 030000 #0: ah=00 bx=0010"           find class code
;   "b10a 00:02.0 reg 10: ah=00 ecx=E0000008" read dword (the VGA's BAR0)
;   "b109 00:01.0 reg 60: ah=00 cx=0A0A"      read word (PIIX3 PIRQA/B routes, set at POST)
;   "b10a reg 02: ah=87 cf=1"                 misaligned register
;   "b10b 00:01.0 reg 61 <- 0B; b108: cl=0B"  write a byte, read it back

%include "boot.inc"

        cpu 386

main:   print "pci: start", 10
        xor bx, bx                      ; BX = devfn on bus 0
.scan:  call config_address
        mov dx, 0xcfc
        in eax, dx
        cmp ax, 0xffff
        je .absent
        call show_function
        test bl, 7
        jnz .next                       ; functions 1-7 are only reached for a
        mov al, 0x0e                    ; multi-function device
        call config_address_reg
        mov dx, 0xcfe
        in al, dx
        test al, 0x80
        jnz .next
        jmp .next_device
.absent:
        test bl, 7
        jnz .next
.next_device:
        or bl, 7
.next:  inc bx
        cmp bx, 256
        jb .scan

        ; ---- PCI BIOS
        mov ax, 0xb101
        xor edx, edx
        int 0x1a
        jnc .present
        print "b101 ah="
        mov al, ah
        call put_hex8
        print " cf=1", 10
        jmp done
.present:
        push ax
        print "b101 ah="
        mov al, ah
        call put_hex8
        print " al="
        pop ax
        call put_hex8
        print " bx="
        mov ax, bx
        call put_hex16
        print " cl="
        mov al, cl
        call put_hex8
        print " edx="
        mov eax, edx
        call put_hex32
        call put_nl

        print "b102 8086:7010 #0: "
        mov ax, 0xb102
        mov cx, 0x7010
        mov dx, 0x8086
        xor si, si
        int 0x1a
        call show_result_bx

        print "b102 8086:1237 #1: "
        mov ax, 0xb102
        mov cx, 0x1237
        mov dx, 0x8086
        mov si, 1
        int 0x1a
        call show_result_bx

        print "b102 ffff:ffff #0: "
        mov ax, 0xb102
        mov cx, 0xffff
        mov dx, 0xffff
        xor si, si
        int 0x1a
        call show_result_bx

        print "b103 030000 #0: "
        mov ax, 0xb103
        mov ecx, 0x030000
        xor si, si
        int 0x1a
        call show_result_bx

        print "b10a 00:02.0 reg 10: "
        mov ax, 0xb10a
        mov bx, 0x0010
        mov di, 0x10
        int 0x1a
        jc .failed_read
        call show_ah
        print " ecx="
        mov eax, ecx
        call put_hex32
        call put_nl

        print "b109 00:01.0 reg 60: "
        mov ax, 0xb109
        mov bx, 0x0008
        mov di, 0x60
        int 0x1a
        jc .failed_read
        call show_ah
        print " cx="
        mov ax, cx
        call put_hex16
        call put_nl

        print "b10a reg 02: "
        mov ax, 0xb10a
        mov bx, 0x0008
        mov di, 0x02
        int 0x1a
        call show_result_bx

        print "b10b 00:01.0 reg 61 <- 0B; b108: "
        mov ax, 0xb10b
        mov bx, 0x0008
        mov di, 0x61
        mov cl, 0x0b
        int 0x1a
        jc .failed_read
        mov ax, 0xb108
        xor cl, cl
        int 0x1a
        jc .failed_read
        print "cl="
        mov al, cl
        call put_hex8
        call put_nl
        jmp done
.failed_read:
        call show_result_bx.flags
done:   print "pci: done", 10
        jmp stop

; config_address: CONFIG_ADDRESS <- enable | bus 0 | devfn BL | register 0;
; config_address_reg: the same with the dword of register AL
config_address:
        xor al, al
config_address_reg:
        push eax
        push dx
        and eax, 0xfc
        mov ah, bl
        or eax, 0x80000000
        mov dx, 0xcf8
        out dx, eax
        pop dx
        pop eax
        ret

; show_function: "dd:dd.f vvvv:dddd class cccccc rev rr" for devfn BL, IDs in EAX
show_function:
        push eax
        xor al, al
        call put_hex8                   ; bus 0
        mov al, ':'
        out DEBUGCON, al
        mov al, bl
        shr al, 3
        call put_hex8
        mov al, '.'
        out DEBUGCON, al
        mov al, bl
        and al, 7
        add al, '0'
        out DEBUGCON, al
        mov al, ' '
        out DEBUGCON, al
        pop eax
        call put_hex16                  ; vendor
        mov al, ':'
        out DEBUGCON, al
        shr eax, 16
        call put_hex16                  ; device
        print " class "
        mov al, 0x08
        call config_address_reg
        mov dx, 0xcfc
        in eax, dx
        push ax
        shr eax, 8
        push ax
        shr eax, 8
        call put_hex16                  ; class, subclass
        pop ax
        call put_hex8                   ; programming interface
        print " rev "
        pop ax
        call put_hex8
        jmp put_nl

; show_ah: "ah=XX"
show_ah:
        push ax
        print "ah="
        mov al, ah
        call put_hex8
        pop ax
        ret

; show_result_bx: "ah=XX bx=XXXX" after a successful call, "ah=XX cf=1" after a
; failed one (the flags of the int 1Ah just returned)
show_result_bx:
        jc .flags
        call show_ah
        print " bx="
        mov ax, bx
        call put_hex16
        jmp put_nl
.flags: call show_ah
        print " cf=1", 10
        ret

%include "lib.inc"
