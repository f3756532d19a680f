; ATA soft reset with only a master on the channel (tests/test_ata.py), as the
; Stanford Pintos IDE driver probes a channel: for each device, select it, write
; 55h/AAh patterns to Sector Count and LBA Low and read them back (both read back:
; "present", the device-1 registers answering too); then SRST; then for device 1
; poll Sector Count = 1 and LBA Low = 1 (Pintos polls 3000 times, 10 ms apart).
; Reports on the debug console (port 0xE9):
;   "present 0=1 1=1"           the register read-back test
;   "dev0 01 01 00 00 e=01 s=50" count, LBA low/mid/high, error, status after SRST
;   "dev1 01 01 FF FF e=01 s=00 polls=0000"  device 1 (absent): signed as QEMU
;                                does (no device: cylinder FFFFh), status 0; polls
;                                before Sector Count = LBA Low = 1
; QEMU 7.2 (-fda this -hda any disk -debugcon) prints the same but e=00: it reads
; 0 from an absent device's error register, Bochs the shared register file.

%include "boot.inc"

ATA_COUNT   equ 0x1F2
ATA_LBA0    equ 0x1F3
ATA_LBA1    equ 0x1F4
ATA_LBA2    equ 0x1F5
ATA_DEVICE  equ 0x1F6
ATA_STATUS  equ 0x1F7
ATA_ERROR   equ 0x1F1
ATA_CONTROL equ 0x3F6
POLLS       equ 3000

main:   print "present 0="
        mov al, 0xA0
        call probe
        print " 1="
        mov al, 0xB0
        call probe
        call put_nl
        mov dx, ATA_CONTROL             ; SRST pulse, interrupts enabled (nIEN clear)
        xor al, al
        out dx, al
        mov al, 0x04
        out dx, al
        call delay
        xor al, al
        out dx, al
        mov dx, ATA_DEVICE              ; device 0: wait for BSY to clear
        mov al, 0xA0
        out dx, al
        mov dx, ATA_STATUS
.busy:  in al, dx
        test al, 0x80
        jnz .busy
        print "dev0 "
        call registers
        call put_nl
        mov dx, ATA_DEVICE
        mov al, 0xB0
        out dx, al
        xor cx, cx                      ; device 1: Pintos' signature poll
.poll:  mov dx, ATA_COUNT
        in al, dx
        cmp al, 1
        jne .again
        mov dx, ATA_LBA0
        in al, dx
        cmp al, 1
        je .signed
.again: call delay
        inc cx
        cmp cx, POLLS
        jb .poll
.signed:
        print "dev1 "
        call registers
        print " polls="
        mov ax, cx
        call put_hex16
        call put_nl
        jmp stop

; probe: select the device AL, write the pattern, print 1 if it reads back, else 0
probe:  mov dx, ATA_DEVICE
        out dx, al
        mov bx, 3
.write: mov dx, ATA_COUNT
        mov al, 0x55
        out dx, al
        mov dx, ATA_LBA0
        mov al, 0xAA
        out dx, al
        mov dx, ATA_COUNT
        mov al, 0xAA
        out dx, al
        mov dx, ATA_LBA0
        mov al, 0x55
        out dx, al
        dec bx
        jnz .write
        mov dx, ATA_COUNT               ; the last pair written: 55h, AAh
        mov al, 0x55
        out dx, al
        mov dx, ATA_LBA0
        mov al, 0xAA
        out dx, al
        mov dx, ATA_COUNT
        in al, dx
        cmp al, 0x55
        jne .absent
        mov dx, ATA_LBA0
        in al, dx
        cmp al, 0xAA
        jne .absent
        print "1"
        ret
.absent:
        print "0"
        ret

; registers: count, LBA low, mid, high, "e=" error, "s=" status of the selected device
registers:
        mov dx, ATA_COUNT
.next:  in al, dx
        call put_hex8
        print " "
        inc dx
        cmp dx, ATA_DEVICE
        jb .next
        print "e="
        mov dx, ATA_ERROR
        in al, dx
        call put_hex8
        print " s="
        mov dx, ATA_STATUS
        in al, dx
        call put_hex8
        ret

; delay: about 10 microseconds of port reads (each ISA read takes about 1 us)
delay:  push cx
        push ax
        mov cx, 10
.read:  in al, 0x80
        loop .read
        pop ax
        pop cx
        ret

%include "lib.inc"
