; Floppy swap guest (tests/test_floppy_swap.py): reads cylinder 1, head 0, sector 1
; of drive A through int 13h and through the 82077AA (ports 3F0h-3F7h, DMA channel
; 2, status polled), then waits for the host to change the disk three times and
; reads the new one each time.  One line per step on the debug console (port
; 0xE9); the "READY-n" and "DONE" markers also go to the screen (int 10h), so
; `--wait` steps can follow them:
;   geometry C/H/S      int 13h AH=08h (the medium's geometry; with the drive
;                       empty, the largest format of its CMOS type)
;   bios TEXT           int 13h AH=02h: the first 10 bytes of the sector (the
;                       test writes "diskN:LBA " into every sector), or ah=XX
;   fdc TEXT st0=XX     SEEK to cylinder 1, READ DATA by DMA into 1000h
;   dir=XX              the digital input register (bit 7: disk change)
; READY-1: waits for DIR bit 7 (the host swaps in a 720K disk), reports the change
; through AH=16h twice (06h, then 00h: a change is reported once), reads again and
; writes "guest:0019 " into the next sector (int 13h AH=03h).
; READY-2: polls AH=16h until it reports something (the host ejects the disk:
; 80h), then a read (80h), a seek to another cylinder (DIR bit 7 stays set) and a
; controller read (abnormal end).  READY-3: polls AH=16h until the 80h ends (the
; host puts a 1.44M disk in: 06h) and reads it.  Then "DONE" and a halt.

%include "boot.inc"

FDC_DOR         equ 0x3f2
FDC_MSR         equ 0x3f4
FDC_FIFO        equ 0x3f5
FDC_DIR         equ 0x3f7
DMA_BUFFER      equ 0x1000

main:   print "floppyswap: start", 10
        call fdc_init
        call read_all
        mov si, ready1
        call show
.wait1: mov dx, FDC_DIR
        in al, dx
        test al, 0x80
        jz .wait1
        print "changed dir="
        call put_hex8
        call put_nl
        call change_status
        call change_status
        call read_all
        call bios_write
        mov si, ready2
        call show
.wait2: mov ah, 0x16
        xor dl, dl
        int 0x13
        test ah, ah
        jz .wait2
        print "ah16="
        mov al, ah
        call put_hex8
        call put_nl
        call geometry
        call bios_read
        mov cl, 2
        call fdc_seek
        call show_dir
        call fdc_read
        mov si, ready3
        call show
.wait3: mov ax, 0x0201
        mov cx, 0x0101
        xor dx, dx
        mov bx, SECTOR_BUFFER
        int 0x13
        cmp ah, 0x80
        je .wait3
        print "read ah="
        mov al, ah
        call put_hex8
        call put_nl
        call read_all
        mov si, done
        call show
        jmp stop

ready1  db "READY-1", 10, 0
ready2  db "READY-2", 10, 0
ready3  db "READY-3", 10, 0
done    db "DONE", 10, 0

; read_all: geometry, the sector through the BIOS and through the controller, DIR
read_all:
        call geometry
        call bios_read
        mov cl, 1
        call fdc_seek
        call fdc_read
        jmp show_dir

; change_status: int 13h AH=16h on drive A, "ah16=XX"
change_status:
        mov ah, 0x16
        xor dl, dl
        int 0x13
        print "ah16="
        mov al, ah
        call put_hex8
        jmp put_nl

; geometry: int 13h AH=08h on drive A, "geometry C/H/S"
geometry:
        push es
        mov ah, 0x08
        xor dl, dl
        int 0x13
        pop es
        print "geometry "
        mov al, cl
        xor ah, ah
        shl ax, 2
        mov al, ch
        inc ax
        call put_dec
        mov al, '/'
        out DEBUGCON, al
        mov al, dh
        xor ah, ah
        inc ax
        call put_dec
        mov al, '/'
        out DEBUGCON, al
        mov al, cl
        and ax, 0x3f
        call put_dec
        jmp put_nl

; bios_read: cylinder 1, head 0, sector 1 through int 13h AH=02h
bios_read:
        mov cx, 0x0101
        jmp floppy_read

; bios_write: "guest:0019 " into cylinder 1, head 0, sector 2 through int 13h
; AH=03h (LBA 19 of a 720K disk), "bios write ah=XX"
bios_write:
        mov si, .label
        mov di, SECTOR_BUFFER
        mov cx, 11
        rep movsb
        mov ax, 0x0301
        mov cx, 0x0102
        xor dx, dx
        mov bx, SECTOR_BUFFER
        int 0x13
        print "bios write ah="
        mov al, ah
        call put_hex8
        jmp put_nl
.label  db "guest:0019 "

show_dir:
        print "dir="
        mov dx, FDC_DIR
        in al, dx
        call put_hex8
        jmp put_nl

; fdc_out: AL to the FIFO once the controller wants a command byte
fdc_out:
        push ax
        mov dx, FDC_MSR
.wait:  in al, dx
        and al, 0xc0
        cmp al, 0x80
        jne .wait
        pop ax
        mov dx, FDC_FIFO
        out dx, al
        ret

; fdc_in: a result byte into AL
fdc_in: mov dx, FDC_MSR
.wait:  in al, dx
        and al, 0xc0
        cmp al, 0xc0
        jne .wait
        mov dx, FDC_FIFO
        in al, dx
        ret

; fdc_sense: SENSE INTERRUPT STATUS until an interrupt is reported; AL = ST0
fdc_sense:
        mov al, 0x08
        call fdc_out
        call fdc_in
        cmp al, 0x80                ; invalid: nothing to report yet
        je fdc_sense
        push ax
        call fdc_in                 ; present cylinder
        pop ax
        ret

; fdc_init: reset (four ready-changed reports), SPECIFY, RECALIBRATE drive 0
fdc_init:
        mov dx, FDC_DOR
        xor al, al
        out dx, al
        mov al, 0x1c                ; motor A, DMA and IRQ enabled, out of reset, drive 0
        out dx, al
        mov cx, 4
.sense: push cx
        call fdc_sense
        pop cx
        loop .sense
        mov al, 0x03                ; SPECIFY
        call fdc_out
        mov al, 0xdf
        call fdc_out
        mov al, 0x02                ; DMA mode
        call fdc_out
        mov al, 0x07                ; RECALIBRATE drive 0
        call fdc_out
        xor al, al
        call fdc_out
        jmp fdc_sense

; fdc_seek: SEEK drive 0, head 0 to cylinder CL
fdc_seek:
        mov al, 0x0f
        call fdc_out
        xor al, al
        call fdc_out
        mov al, cl
        call fdc_out
        jmp fdc_sense

; fdc_read: READ DATA cylinder 1, head 0, sector 1 by DMA into DMA_BUFFER;
; "fdc TEXT st0=XX" (TEXT only after a normal end) or "fdc st0=XX st1=XX"
fdc_read:
        mov al, 0x06
        out 0x0a, al                ; mask channel 2
        out 0x0c, al                ; clear the flip-flop
        mov al, 0x46                ; single, increment, write to memory, channel 2
        out 0x0b, al
        mov al, DMA_BUFFER & 0xff
        out 0x04, al
        mov al, DMA_BUFFER >> 8
        out 0x04, al
        xor al, al
        out 0x81, al                ; page 0
        mov al, 0xff                ; 512 bytes: count 511
        out 0x05, al
        mov al, 0x01
        out 0x05, al
        mov al, 0x02
        out 0x0a, al                ; unmask channel 2
        mov si, .command
        mov cx, 9
.send:  lodsb
        push cx
        call fdc_out
        pop cx
        loop .send
        mov di, results
        mov cx, 7
.result:
        push cx
        call fdc_in
        pop cx
        stosb
        loop .result
        print "fdc "
        test byte [results], 0xc0
        jnz .abnormal
        mov si, DMA_BUFFER
        mov cx, 10
.text:  lodsb
        out DEBUGCON, al
        loop .text
        print " st0="
        mov al, [results]
        call put_hex8
        jmp put_nl
.abnormal:
        print "st0="
        mov al, [results]
        call put_hex8
        print " st1="
        mov al, [results + 1]
        call put_hex8
        jmp put_nl
.command:
        db 0x46, 0x00, 1, 0, 1, 2, 18, 0x1b, 0xff   ; MFM READ DATA drive 0: C H R N EOT GPL DTL

%include "floppy.inc"
%include "lib.inc"

absolute VARIABLES
results resb 7
