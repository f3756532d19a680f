; ATA disk guest (tests/test_device_guests.py): drives the primary channel's master
; disk through ports 1F0h-1F7h/3F6h as a teaching kernel does, and reports each step
; on the debug console (port 0xE9), one line per step:
;   identify  IDENTIFY DEVICE: model string, default CHS, LBA capacity, READ/WRITE
;             MULTIPLE block size, integrity checksum
;   polled (nIEN set, status polled): READ SECTORS by LBA28 (LBA 100 and the last
;             sector 8191) and by CHS (1/2/3), WRITE SECTORS by LBA28 (2000) and by
;             CHS (2/3/4), each write read back and compared
;   irq (nIEN clear, IRQ14 on the slave 8259A, vector 76h, EOI to both): READ SECTORS
;             LBA 300, WRITE SECTORS LBA 2100 then read back; a 4-sector READ SECTORS
;             at LBA 400 whose data is taken with one REP INSW after the first
;             interrupt; READ SECTORS past the end (LBA 8192), expected ERR with IDNF
; A read reports "[first 8 bytes] sum=XXXX" (16-bit sum of the 256 data words); a
; write fills 512 bytes with a 16-character label and then byte i = 3 * i + seed.
; Lines end "done"; any failure prints "FAIL: ..." and stops.  The disk is a 4 MiB
; image made by the test (8192 sectors, default geometry 8/16/63).

%include "boot.inc"

ATA_DATA        equ 0x1f0
ATA_ERROR       equ 0x1f1
ATA_COUNT       equ 0x1f2
ATA_SECTOR      equ 0x1f3           ; LBA bits 0-7
ATA_CYL_LOW     equ 0x1f4           ; LBA bits 8-15
ATA_CYL_HIGH    equ 0x1f5           ; LBA bits 16-23
ATA_DEVICE      equ 0x1f6
ATA_STATUS      equ 0x1f7           ; reads: status, writes: command
ATA_CONTROL     equ 0x3f6
DEVICE_LBA      equ 0xe0            ; LBA mode, master (obsolete bits 7 and 5 set)
DEVICE_CHS      equ 0xa0
CONTROL_NIEN    equ 0x02
STATUS_BSY      equ 0x80
STATUS_DRQ      equ 0x08
STATUS_ERR      equ 0x01
CMD_READ        equ 0x20
CMD_WRITE       equ 0x30
CMD_IDENTIFY    equ 0xec
ATA_VECTOR      equ 0x76            ; slave base 70h + IRQ14 - 8
READ_BUFFER     equ 0x9000          ; 4 sectors
WRITE_BUFFER    equ 0xa000

main:   print "ata: start", 10
        mov byte [irq_count], 0
        mov dx, ATA_CONTROL
        mov al, CONTROL_NIEN        ; polled steps: no INTRQ
        out dx, al
        call identify

; ---- polled
        mov ax, 100
        call polled_read_lba
        print "polled read lba 100"
        call report_read

        mov ax, 8191
        call polled_read_lba
        print "polled read lba 8191"
        call report_read

        mov di, 1                   ; cylinder 1, head 2, sector 3
        mov bx, 0x0302
        mov cx, (CMD_READ << 8) | 1
        call ata_command_chs
        call polled_data_in
        print "polled read chs 1/2/3"
        call report_read

        mov si, label_lba_write
        mov al, 0x11
        call fill_write_buffer
        mov ax, 2000
        mov cx, (CMD_WRITE << 8) | 1
        call ata_command_lba
        call polled_data_out
        print "polled write lba 2000 status="
        call put_hex8
        mov ax, 2000
        call polled_read_lba
        call report_compare

        mov si, label_chs_write
        mov al, 0x22
        call fill_write_buffer
        mov di, 2                   ; cylinder 2, head 3, sector 4
        mov bx, 0x0403
        mov cx, (CMD_WRITE << 8) | 1
        call ata_command_chs
        call polled_data_out
        print "polled write chs 2/3/4 status="
        call put_hex8
        mov di, 2
        mov bx, 0x0403
        mov cx, (CMD_READ << 8) | 1
        call ata_command_chs
        call polled_data_in
        call report_compare

; ---- interrupt driven
        mov bx, 0x7020              ; master base 20h, slave base 70h
        call pic_remap
        mov al, ATA_VECTOR
        mov dx, ata_handler
        call set_vector
        mov al, 0xfb                ; master: only the cascade input IRQ2
        out 0x21, al
        mov al, 0xbf                ; slave: only IRQ14
        out 0xa1, al
        mov dx, ATA_CONTROL
        xor al, al                  ; nIEN clear: INTRQ reaches IRQ14
        out dx, al

        mov ax, 300
        mov cx, (CMD_READ << 8) | 1
        call irq_command_lba
        call wait_irq
        call read_data
        print "irq read lba 300"
        call report_read_irqs

        mov si, label_irq_write
        mov al, 0x33
        call fill_write_buffer
        mov ax, 2100
        mov cx, (CMD_WRITE << 8) | 1
        call irq_command_lba
        call wait_drq
        jc fail_status
        mov si, WRITE_BUFFER
        mov cx, 256
        mov dx, ATA_DATA
        rep outsw
        call wait_irq
        print "irq write lba 2100 status="
        mov al, [irq_status]
        call put_hex8
        mov ax, 2100
        mov cx, (CMD_READ << 8) | 1
        call irq_command_lba
        call wait_irq
        call read_data
        call report_compare

        mov ax, 400                 ; 4 sectors, back to back after the first IRQ
        mov cx, (CMD_READ << 8) | 4
        call irq_command_lba
        call wait_irq
        mov di, READ_BUFFER
        mov cx, 4 * 256
        mov dx, ATA_DATA
        sti                         ; the later sectors interrupt the transfer
        rep insw
        cli
        call wait_not_busy
        mov ah, al
        print "irq read lba 400 x4"
        mov si, READ_BUFFER
        mov cx, 4
.sector:
        call report_sector
        add si, 512
        loop .sector
        print " irqs="
        mov al, [irq_count]
        call put_dec8
        print " status="
        mov al, ah
        call put_hex8
        call put_nl

        mov ax, 8192                ; one past the last sector
        mov cx, (CMD_READ << 8) | 1
        call irq_command_lba
        call wait_irq
        print "irq read lba 8192 status="
        mov al, [irq_status]
        call put_hex8
        print " error="
        mov dx, ATA_ERROR
        in al, dx
        call put_hex8
        print " irqs="
        mov al, [irq_count]
        call put_dec8
        call put_nl
        print "done", 10
        jmp stop

label_lba_write db "POLLED LBA 2000 "
label_chs_write db "POLLED CHS 2/3/4"
label_irq_write db "IRQ LBA 2100    "

; identify: IDENTIFY DEVICE by polling; reports the model, geometry and capacity
identify:
        call wait_not_busy
        mov dx, ATA_DEVICE
        mov al, DEVICE_CHS
        out dx, al
        mov dx, ATA_STATUS
        mov al, CMD_IDENTIFY
        out dx, al
        call polled_data_in
        print "identify model=["
        mov si, READ_BUFFER + 27 * 2    ; words 27-46, first character in the high byte
        mov cx, 20
.model: lodsw
        xchg al, ah
        out DEBUGCON, al
        mov al, ah
        out DEBUGCON, al
        loop .model
        print "] chs="
        mov ax, [READ_BUFFER + 1 * 2]
        call put_dec
        print "/"
        mov ax, [READ_BUFFER + 3 * 2]
        call put_dec
        print "/"
        mov ax, [READ_BUFFER + 6 * 2]
        call put_dec
        print " sectors="
        mov ax, [READ_BUFFER + 61 * 2]
        call put_hex16
        mov ax, [READ_BUFFER + 60 * 2]
        call put_hex16
        print " multiple="
        mov al, [READ_BUFFER + 47 * 2]
        call put_dec8
        print " checksum="
        mov si, READ_BUFFER         ; all 512 bytes sum to 0 when word 255 is valid
        mov cx, 512
        xor ah, ah
.sum:   lodsb
        add ah, al
        loop .sum
        mov al, ah
        call put_hex8
        call put_nl
        ret

; ata_command_lba: command CH for CL sectors at LBA AX (bits 16-27 zero), master
ata_command_lba:
        push ax
        call wait_not_busy
        mov dx, ATA_DEVICE
        mov al, DEVICE_LBA
        out dx, al
        pop ax
        mov dx, ATA_COUNT
        xchg al, cl
        out dx, al
        xchg al, cl
        inc dx
        out dx, al                  ; LBA 0-7
        inc dx
        mov al, ah
        out dx, al                  ; LBA 8-15
        inc dx
        xor al, al
        out dx, al                  ; LBA 16-23
        mov dx, ATA_STATUS
        mov al, ch
        out dx, al
        ret

; ata_command_chs: command CH for CL sectors at cylinder DI, head BL, sector BH
ata_command_chs:
        call wait_not_busy
        mov dx, ATA_DEVICE
        mov al, DEVICE_CHS
        or al, bl
        out dx, al
        mov dx, ATA_COUNT
        mov al, cl
        out dx, al
        inc dx
        mov al, bh
        out dx, al
        inc dx
        mov ax, di
        out dx, al
        inc dx
        mov al, ah
        out dx, al
        mov dx, ATA_STATUS
        mov al, ch
        out dx, al
        ret

; irq_command_lba: ata_command_lba with interrupts off and the IRQ flag cleared
irq_command_lba:
        cli
        mov byte [irq_seen], 0
        jmp ata_command_lba

; polled_read_lba: READ SECTORS of one sector at LBA AX into READ_BUFFER by polling
polled_read_lba:
        mov cx, (CMD_READ << 8) | 1
        call ata_command_lba
        ; fall through
; polled_data_in: wait for DRQ and read one sector into READ_BUFFER
polled_data_in:
        call wait_drq
        jc fail_status
        ; fall through
read_data:
        mov di, READ_BUFFER
        mov cx, 256
        mov dx, ATA_DATA
        rep insw
        ret

; polled_data_out: wait for DRQ, send WRITE_BUFFER, wait for completion; AL = status
polled_data_out:
        call wait_drq
        jc fail_status
        mov si, WRITE_BUFFER
        mov cx, 256
        mov dx, ATA_DATA
        rep outsw
        jmp wait_not_busy

; wait_not_busy: poll until BSY clears; AL = status
wait_not_busy:
        push dx
        mov dx, ATA_STATUS
.poll:  in al, dx
        test al, STATUS_BSY
        jnz .poll
        pop dx
        ret

; wait_drq: poll until BSY clears; CF set (and AL = status) unless DRQ without ERR
wait_drq:
        call wait_not_busy
        test al, STATUS_ERR
        jnz .error
        test al, STATUS_DRQ
        jz .error
        clc
        ret
.error: stc
        ret

; wait_irq: STI; HLT until the handler has seen INTRQ, then CLI
wait_irq:
        cmp byte [irq_seen], 0
        jne .seen
        sti
        hlt
        cli
        jmp wait_irq
.seen:  ret

ata_handler:
        push ax
        push dx
        mov dx, ATA_STATUS          ; reading the status acknowledges INTRQ
        in al, dx
        mov [cs:irq_status], al
        mov byte [cs:irq_seen], 1
        inc byte [cs:irq_count]
        mov al, 0x20                ; non-specific EOI: slave first, then master
        out 0xa0, al
        out 0x20, al
        pop dx
        pop ax
        iret

; fill_write_buffer: the 16-byte label at SI, then byte i = 3 * i + AL
fill_write_buffer:
        mov di, WRITE_BUFFER
        mov cx, 16
        rep movsb
        mov ah, 16 * 3
        add al, ah
.next:  stosb
        add al, 3
        cmp di, WRITE_BUFFER + 512
        jb .next
        ret

; report_read: the sector in READ_BUFFER, then a newline
report_read:
        mov si, READ_BUFFER
        call report_sector
        jmp put_nl

; report_read_irqs: report_read with the interrupt count
report_read_irqs:
        mov si, READ_BUFFER
        call report_sector
        print " irqs="
        mov al, [irq_count]
        call put_dec8
        jmp put_nl

; report_sector: " [8 bytes at SI] sum=XXXX" (16-bit sum of the sector's words)
report_sector:
        push ax
        push cx
        push si
        print " ["
        mov cx, 8
.label: lodsb
        out DEBUGCON, al
        loop .label
        print "] sum="
        pop si
        push si
        xor dx, dx
        mov cx, 256
.sum:   lodsw
        add dx, ax
        loop .sum
        mov ax, dx
        call put_hex16
        pop si
        pop cx
        pop ax
        ret

; report_compare: " readback=same" or " readback=differs" and a newline
report_compare:
        mov si, WRITE_BUFFER
        mov di, READ_BUFFER
        mov cx, 512
        repe cmpsb
        jne .differs
        print " readback=same", 10
        ret
.differs:
        print " readback=differs", 10
        ret

; put_dec8: AL as an unsigned decimal number
put_dec8:
        push ax
        xor ah, ah
        call put_dec
        pop ax
        ret

fail_status:
        print "FAIL: status="
        call put_hex8
        call put_nl
        jmp stop

%include "lib.inc"

absolute VARIABLES
irq_seen   resb 1                   ; set by the IRQ14 handler
irq_count  resb 1                   ; IRQ14s so far
irq_status resb 1                   ; the status the handler read
