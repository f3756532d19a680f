; ATA bus master DMA guest (tests/test_device_guests.py): finds the PIIX3 IDE
; function by its class code through PCI configuration mechanism #1, enables its
; I/O and Bus Master bits, and moves sectors of the primary master disk by DMA
; (Physical Region Descriptor tables at BMIBA, SFF-8038i) as an OSDev-style
; driver does, with IRQ14 on the slave 8259A (vector 76h).  One line per step on
; the debug console (port 0xE9):
;   pci       the function's bus/device/function and BAR4
;   identify  IDENTIFY words 49 (bit 8: DMA), 63 (multiword DMA) and 88 (Ultra DMA)
;   mode      SET FEATURES 03h 22h (multiword DMA 2), IDENTIFY word 63 again
;   write     WRITE DMA of LBA 50-51 from two 512-byte regions (two PRDs), the bus
;             master status the IRQ handler saw and after it, the device status
;   read      READ DMA of LBA 50-51 into two other regions, compared with the data
;   long      READ DMA of one sector into a 4 KiB PRD: active stays set until Stop
;   short     READ DMA of two sectors into one 512-byte PRD: the first sector
;             moves, no interrupt, the bus master goes inactive, the device ready
;   master    READ DMA with the PCI Bus Master bit clear: nothing moves, DRQ stays
;             up, until the bit is set
;   code      a routine run once, then overwritten by READ DMA of a sector that
;             holds another routine, then run again: the new code runs
; Any failure prints "FAIL: ..." and stops.  The disk is made by the test.

%include "boot.inc"

ATA_COUNT       equ 0x1f2
ATA_DEVICE      equ 0x1f6
ATA_STATUS      equ 0x1f7           ; reads: status, writes: command
ATA_FEATURES    equ 0x1f1
ATA_ALT_STATUS  equ 0x3f6
ATA_DATA        equ 0x1f0
DEVICE_LBA      equ 0xe0
STATUS_BSY      equ 0x80
STATUS_DRQ      equ 0x08
CMD_READ_DMA    equ 0xc8
CMD_WRITE_DMA   equ 0xca
CMD_IDENTIFY    equ 0xec
CMD_SET_FEATURES equ 0xef
BM_START        equ 0x01
BM_TO_MEMORY    equ 0x08
ATA_VECTOR      equ 0x76
PCI_ADDRESS     equ 0xcf8
PCI_DATA        equ 0xcfc
PRD_TABLE       equ 0x6000
IDENTIFY_BUFFER equ 0x6800
WRITE_A         equ 0x9000          ; above the program, which ends below 0x9000
WRITE_B         equ 0x9200
READ_A          equ 0x9800
READ_B          equ 0x9a00
LONG_BUFFER     equ 0xa000
ROUTINE         equ 0xc000          ; a page of its own: decoded code is cached per page

main:   print "ata dma: start", 10
        mov byte [irq_count], 0
        mov byte [lba], 50
        call find_ide
        mov bx, 0x7020              ; master base 20h, slave base 70h
        call pic_remap
        mov al, ATA_VECTOR
        mov dx, ata_handler
        call set_vector
        mov al, 0xfb                ; master: only the cascade input
        out 0x21, al
        mov al, 0xbf                ; slave: only IRQ14
        out 0xa1, al
        mov dx, ATA_ALT_STATUS      ; device control: nIEN clear (a BIOS may leave it set)
        xor al, al
        out dx, al

; ---- IDENTIFY and the transfer mode
        call identify
        print "identify w49="
        mov ax, [IDENTIFY_BUFFER + 49 * 2]
        call put_hex16
        print " w63="
        mov ax, [IDENTIFY_BUFFER + 63 * 2]
        call put_hex16
        print " w88="
        mov ax, [IDENTIFY_BUFFER + 88 * 2]
        call put_hex16
        call put_nl
        call wait_not_busy
        mov dx, ATA_FEATURES
        mov al, 0x03                ; set transfer mode
        out dx, al
        mov dx, ATA_COUNT
        mov al, 0x22                ; multiword DMA 2
        out dx, al
        mov dx, ATA_STATUS
        mov al, CMD_SET_FEATURES
        call irq_command
        call wait_irq
        print "mode status="
        mov al, [irq_status]
        call put_hex8
        call identify
        print " w63="
        mov ax, [IDENTIFY_BUFFER + 63 * 2]
        call put_hex16
        call put_nl

; ---- WRITE DMA, two PRDs
        mov di, WRITE_A
        mov cx, 1024
        xor al, al
.fill:  stosb
        add al, 7
        loop .fill
        mov di, PRD_TABLE
        mov ax, WRITE_A
        mov cx, 512
        call add_prd
        mov ax, WRITE_B
        call add_last_prd
        mov bl, 0                   ; the device reads memory
        mov cx, (CMD_WRITE_DMA << 8) | 2
        call dma_command
        call wait_irq
        print "write dma lba 50 x2"
        call report_irq
        call put_nl

; ---- READ DMA back, two PRDs
        mov di, PRD_TABLE
        mov ax, READ_A
        mov cx, 512
        call add_prd
        mov ax, READ_B
        call add_last_prd
        mov bl, BM_TO_MEMORY
        mov cx, (CMD_READ_DMA << 8) | 2
        call dma_command
        call wait_irq
        print "read dma lba 50 x2"
        call report_irq
        call put_nl
        mov si, WRITE_A
        mov di, READ_A
        mov cx, 1024
        repe cmpsb
        jne .differ
        print "read back same", 10
        jmp .long
.differ:
        print "FAIL: read back differs", 10
        jmp stop

; ---- a PRD longer than the transfer: active stays set until Stop
.long:  mov di, PRD_TABLE
        mov ax, LONG_BUFFER
        mov cx, 4096
        call add_last_prd
        mov bl, BM_TO_MEMORY
        mov cx, (CMD_READ_DMA << 8) | 1
        call dma_command
        call wait_irq
        print "long prd"
        call report_irq
        call put_nl

; ---- PRDs too short: one sector moves, no interrupt, inactive
        mov word [LONG_BUFFER + 512], 0x1234
        mov di, PRD_TABLE
        mov ax, LONG_BUFFER
        mov cx, 512
        call add_last_prd
        mov bl, BM_TO_MEMORY
        mov cx, (CMD_READ_DMA << 8) | 2
        call dma_command_running
.wait_inactive:
        call bm_status
        test al, 1
        jnz .wait_inactive
        print "short prd bm="
        call put_hex8
        print " status="
        mov dx, ATA_ALT_STATUS
        in al, dx
        call put_hex8
        print " irqs="
        mov al, [irq_count]
        call put_dec8
        print " first="
        mov ax, [LONG_BUFFER]
        call put_hex16
        print " beyond="
        mov ax, [LONG_BUFFER + 512]
        call put_hex16
        call put_nl
        call stop_bm

; ---- the Bus Master bit
        mov ax, 0x0001              ; I/O only
        call set_pci_command
        mov di, PRD_TABLE
        mov ax, LONG_BUFFER
        mov cx, 512
        call add_last_prd
        mov word [LONG_BUFFER], 0
        mov bl, BM_TO_MEMORY
        mov cx, (CMD_READ_DMA << 8) | 1
        call dma_command
        mov cx, 2000                ; 2000 polls: far beyond the command and transfer delays
.poll:  mov dx, ATA_ALT_STATUS
        in al, dx
        loop .poll
        print "master off status="
        call put_hex8
        print " bm="
        call bm_status
        call put_hex8
        print " irqs="
        mov al, [irq_count]
        call put_dec8
        print " data="
        mov ax, [LONG_BUFFER]
        call put_hex16
        call put_nl
        mov ax, 0x0005              ; I/O and Bus Master
        call set_pci_command
        call wait_irq
        print "master on"
        call report_irq
        print " data="
        mov ax, [LONG_BUFFER]
        call put_hex16
        call put_nl

; ---- DMA over code that already ran
        mov si, routine_a
        mov di, ROUTINE
        mov cx, routine_a_end - routine_a
        rep movsb
        call ROUTINE
        print "code before="
        call put_hex8
        mov di, WRITE_A             ; sector 60 = routine B
        mov si, routine_b
        mov cx, routine_b_end - routine_b
        rep movsb
        mov di, PRD_TABLE
        mov ax, WRITE_A
        mov cx, 512
        call add_last_prd
        mov bl, 0
        mov byte [lba], 60
        mov cx, (CMD_WRITE_DMA << 8) | 1
        call dma_command
        call wait_irq
        call stop_bm
        mov di, PRD_TABLE
        mov ax, ROUTINE
        mov cx, 512
        call add_last_prd
        mov bl, BM_TO_MEMORY
        mov cx, (CMD_READ_DMA << 8) | 1
        call dma_command
        call wait_irq
        call stop_bm
        call ROUTINE
        print " after="
        call put_hex8
        call put_nl
        print "done", 10
        jmp stop

routine_a:
        mov al, 0xaa
        ret
routine_a_end:
routine_b:
        mov al, 0xbb
        ret
routine_b_end:

; find_ide: scan bus 0 for class 01h subclass 01h; report it, keep its
; configuration address in [ide_address] and BAR4's I/O base in [bmiba]
find_ide:
        mov ebx, 0x80000000
.next:  mov eax, ebx
        or al, 0x08                 ; class code, revision
        mov dx, PCI_ADDRESS
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        shr eax, 16
        cmp ax, 0x0101
        je .found
        add ebx, 0x100              ; next function
        cmp ebx, 0x80010000
        jb .next
        print "FAIL: no IDE controller", 10
        jmp stop
.found: mov [ide_address], ebx
        print "pci ide "
        mov eax, ebx
        shr eax, 11
        and ax, 0x1f
        call put_hex8
        print "."
        mov eax, ebx
        shr ax, 8
        and al, 7
        call put_hex8
        mov eax, ebx
        or al, 0x20                 ; BAR4
        mov dx, PCI_ADDRESS
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        print " bar4="
        call put_hex32
        and ax, 0xfffc
        mov [bmiba], ax
        call put_nl
        mov ax, 0x0005              ; I/O and Bus Master
        ; fall through
; set_pci_command: the IDE function's command register <- AX
set_pci_command:
        push ax
        mov eax, [ide_address]
        or al, 0x04
        mov dx, PCI_ADDRESS
        out dx, eax
        pop ax
        mov dx, PCI_DATA
        out dx, ax
        ret

; identify: IDENTIFY DEVICE into IDENTIFY_BUFFER (IRQ-driven)
identify:
        call wait_not_busy
        mov dx, ATA_DEVICE
        mov al, DEVICE_LBA
        out dx, al
        mov dx, ATA_STATUS
        mov al, CMD_IDENTIFY
        call irq_command
        call wait_irq
        mov di, IDENTIFY_BUFFER
        mov cx, 256
        mov dx, ATA_DATA
        rep insw
        ret

; add_prd: PRD at DI <- region AX (segment 0), CX bytes; DI += 8.
; add_last_prd: the same with end of table set
add_prd:
        xor dx, dx
        jmp put_prd
add_last_prd:
        mov dx, 0x8000
put_prd:
        mov [di], ax
        mov word [di + 2], 0
        mov [di + 4], cx
        mov [di + 6], dx
        add di, 8
        ret

; dma_command: the DMA command CH for CL sectors at LBA [lba] on the master, with
; the bus master direction BL: PRD table, status cleared, direction, the command,
; then Start.  dma_command_running: the same without waiting for anything after
dma_command:
dma_command_running:
        call wait_not_busy
        mov dx, [bmiba]
        add dx, 4
        mov eax, PRD_TABLE
        out dx, eax
        sub dx, 2
        mov al, 0x06                ; clear interrupt and error
        out dx, al
        sub dx, 2
        mov al, bl
        out dx, al
        mov dx, ATA_DEVICE
        mov al, DEVICE_LBA
        out dx, al
        mov dx, ATA_COUNT
        mov al, cl
        out dx, al
        inc dx
        mov al, [lba]
        out dx, al
        inc dx
        xor al, al
        out dx, al
        inc dx
        out dx, al
        mov dx, ATA_STATUS
        mov al, ch
        call irq_command
        mov dx, [bmiba]
        mov al, bl
        or al, BM_START
        out dx, al
        ret

; stop_bm: clear Start
stop_bm:
        push ax
        push dx
        mov dx, [bmiba]
        xor al, al
        out dx, al
        pop dx
        pop ax
        ret

; bm_status: AL = the primary channel's bus master status
bm_status:
        push dx
        mov dx, [bmiba]
        add dx, 2
        in al, dx
        pop dx
        ret

; report_irq: " bm=XX (the handler's) after=XX stopped=XX (after Stop) status=XX irqs=N"
report_irq:
        print " bm="
        mov al, [irq_bm]
        call put_hex8
        print " after="
        call bm_status
        call put_hex8
        call stop_bm
        print " stopped="
        call bm_status
        call put_hex8
        print " status="
        mov al, [irq_status]
        call put_hex8
        print " irqs="
        mov al, [irq_count]
        jmp put_dec8

; irq_command: OUT DX, AL with interrupts off and the IRQ flag cleared
irq_command:
        cli
        mov byte [irq_seen], 0
        out dx, al
        ret

; wait_irq: HLT until the handler has run (STI; HLT: no interrupt in between)
wait_irq:
        cmp byte [irq_seen], 0
        jne .seen
        sti
        hlt
        cli
        jmp wait_irq
.seen:  ret

; wait_not_busy: poll until BSY clears
wait_not_busy:
        push ax
        push dx
        mov dx, ATA_ALT_STATUS
.poll:  in al, dx
        test al, STATUS_BSY
        jnz .poll
        pop dx
        pop ax
        ret

; the IRQ14 handler: the bus master status first (as Linux's ata_bmdma_port_intr
; does), then the device status (acknowledges INTRQ), then clear the bus master's
; interrupt bit and send EOI to both 8259As
ata_handler:
        push ax
        push dx
        call bm_status
        mov [irq_bm], al
        mov dx, ATA_STATUS
        in al, dx
        mov [irq_status], al
        mov dx, [bmiba]
        add dx, 2
        mov al, 0x04
        out dx, al
        inc byte [irq_count]
        mov byte [irq_seen], 1
        mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop dx
        pop ax
        iret

; put_dec8: AL as an unsigned decimal number
put_dec8:
        push ax
        xor ah, ah
        call put_dec
        pop ax
        ret

%include "lib.inc"

absolute VARIABLES
ide_address resd 1
bmiba       resw 1
lba         resb 1
irq_seen    resb 1
irq_status  resb 1
irq_bm      resb 1
irq_count   resb 1
