; Empty floppy drive guest (tests/test_floppy_swap.py): booted from the hard disk
; of a machine whose drive A has no disk (`--fda empty`, as QEMU's pc has by
; default).  Reports on port 0xE9 what a DOS sees of drive A, then waits for the
; host to put a disk in and reads it:
;   equipment=XXXX    int 11h, bits 0 (floppy drives present) and 6-7 (drives - 1)
;   cmos10=XX         CMOS register 10h: drive A's type in the high nibble (4: 1.44M)
;   type ah=XX        int 13h AH=15h on drive A (02h: a floppy with a change line)
;   drive bl=XX cx=XXXX dh=XX  int 13h AH=08h: the drive's type and its largest
;                     format (the BIOS answers from CMOS, a disk in or not)
;   bios ah=XX        int 13h AH=02h with no disk (80h: timeout, not ready)
; READY-1: polls int 13h AH=16h while it answers 80h (no disk); the host puts a
; disk in: "ah16=06", then the disk's first sector ("bios TEXT", 10 bytes), DONE.

%include "boot.inc"

main:   print "emptyfloppy: start", 10
        int 0x11
        and ax, 0x00c1
        print "equipment="
        call put_hex16
        call put_nl
        mov al, 0x10
        out 0x70, al
        in al, 0x71
        print "cmos10="
        call put_hex8
        call put_nl
        mov ah, 0x15
        xor dl, dl
        int 0x13
        print "type ah="
        mov al, ah
        call put_hex8
        call put_nl
        push es
        mov ah, 0x08
        xor dl, dl
        int 0x13
        pop es
        print "drive bl="
        mov al, bl
        call put_hex8
        print " cx="
        mov ax, cx
        call put_hex16
        print " dh="
        mov al, dh
        call put_hex8
        call put_nl
        call bios_read
        mov si, ready1
        call show
.wait:  mov ah, 0x16
        xor dl, dl
        int 0x13
        cmp ah, 0x80
        je .wait
        print "ah16="
        mov al, ah
        call put_hex8
        call put_nl
        call bios_read
        mov si, done
        call show
        jmp stop

; bios_read: drive A, cylinder 0, head 0, sector 1
bios_read:
        mov cx, 0x0001
        jmp floppy_read

ready1  db "READY-1", 10, 0
done    db "DONE", 10, 0

%include "floppy.inc"
%include "lib.inc"
