; ATA guest test (tests/test_ata.py): a real-mode program at 0000:7C00 that drives
; the primary ATA channel through its ports, as a teaching kernel does.
;   1. polled WRITE SECTORS: LBA 10 <- 512 bytes (i ^ 5Ah), then FLUSH CACHE;
;   2. polled READ SECTORS of LBA 10, compared with what was written -> 'P';
;   3. IRQ14-driven READ SECTORS of LBA 0-1 (2 sectors, one interrupt each) through
;      both 8259As (slave base 70h: IRQ14 = vector 76h) -> 'I', then the first byte
;      of each sector read as a digit.
; Results go to the debug console port 0xE9; 'F' and a code on failure.
; Build: nasm -f bin -o ata_rw.bin ata_rw.asm (tests/guests/build.sh)

bits 16
org 0x7C00

ATA_DATA    equ 0x1F0
ATA_COUNT   equ 0x1F2
ATA_LBA0    equ 0x1F3
ATA_LBA1    equ 0x1F4
ATA_LBA2    equ 0x1F5
ATA_DEVICE  equ 0x1F6
ATA_STATUS  equ 0x1F7          ; reads: status, writes: command
ATA_CONTROL equ 0x3F6
WRITTEN     equ 0x8000
READBACK    equ 0x8400
IRQ_BUFFER  equ 0x9000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld

    mov di, WRITTEN                 ; the pattern to write
    xor cx, cx
fill:
    mov al, cl
    xor al, 0x5A
    stosb
    inc cx
    cmp cx, 512
    jne fill

    mov bl, 0x30                    ; WRITE SECTORS, LBA 10, 1 sector
    call issue_lba10
    call wait_drq
    mov si, WRITTEN
    mov cx, 256
    mov dx, ATA_DATA
    rep outsw
    call wait_ready
    mov dx, ATA_STATUS
    mov al, 0xE7                    ; FLUSH CACHE
    out dx, al
    call wait_ready

    mov bl, 0x20                    ; READ SECTORS, LBA 10, 1 sector
    call issue_lba10
    call wait_drq
    mov di, READBACK
    mov cx, 256
    mov dx, ATA_DATA
    rep insw
    mov si, WRITTEN
    mov di, READBACK
    mov cx, 512
    repe cmpsb
    mov al, '1'
    jne fail
    mov al, 'P'
    out 0xE9, al

    mov word [0x76 * 4], irq14      ; IRQ14 -> slave input 6 -> vector 76h
    mov word [0x76 * 4 + 2], 0
    mov al, 0x11                    ; ICW1: edge, cascade, ICW4
    out 0x20, al
    out 0xA0, al
    mov al, 0x08                    ; ICW2: vector bases
    out 0x21, al
    mov al, 0x70
    out 0xA1, al
    mov al, 0x04                    ; ICW3: slave on IR2 / slave id 2
    out 0x21, al
    mov al, 0x02
    out 0xA1, al
    mov al, 0x01                    ; ICW4: 8086 mode
    out 0x21, al
    out 0xA1, al
    mov al, 0xFB                    ; OCW1: master passes IR2 only
    out 0x21, al
    mov al, 0xBF                    ; slave passes IR6 (IRQ14) only
    out 0xA1, al
    mov dx, ATA_CONTROL
    xor al, al                      ; nIEN = 0
    out dx, al

    mov dx, ATA_DEVICE              ; READ SECTORS, LBA 0, 2 sectors
    mov al, 0xE0
    out dx, al
    mov dx, ATA_COUNT
    mov al, 2
    out dx, al
    xor al, al
    mov dx, ATA_LBA0
    out dx, al
    inc dx
    out dx, al
    inc dx
    out dx, al
    mov dx, ATA_STATUS
    mov al, 0x20
    out dx, al
    sti
idle:
    cmp byte [sectors_read], 2
    je irq_done
    hlt
    jmp idle

irq_done:
    cli
    mov al, 'I'
    out 0xE9, al
    mov al, [IRQ_BUFFER]            ; sector n of the image starts with byte n
    add al, '0'
    out 0xE9, al
    mov al, [IRQ_BUFFER + 512]
    add al, '0'
    out 0xE9, al
    hlt

irq14:                              ; one sector per interrupt
    push ax
    push cx
    push dx
    push di
    mov dx, ATA_STATUS
    in al, dx                       ; acknowledges the interrupt
    test al, 0x01
    jnz irq_error
    mov di, [buffer_pointer]
    mov cx, 256
    mov dx, ATA_DATA
    rep insw
    mov [buffer_pointer], di
    inc byte [sectors_read]
    mov al, 0x20                    ; non-specific EOI, slave then master
    out 0xA0, al
    out 0x20, al
    pop di
    pop dx
    pop cx
    pop ax
    iret
irq_error:
    mov al, '2'
    jmp fail

issue_lba10:                        ; command BL at LBA 10, count 1
    mov dx, ATA_DEVICE
    mov al, 0xE0
    out dx, al
    mov dx, ATA_COUNT
    mov al, 1
    out dx, al
    mov dx, ATA_LBA0
    mov al, 10
    out dx, al
    xor al, al
    mov dx, ATA_LBA1
    out dx, al
    mov dx, ATA_LBA2
    out dx, al
    mov dx, ATA_STATUS
    mov al, bl
    out dx, al
    ret

wait_drq:                           ; poll until BSY = 0, then require DRQ
    mov dx, ATA_STATUS
.busy:
    in al, dx
    test al, 0x80
    jnz .busy
    test al, 0x08
    mov al, '3'
    jz fail
    ret

wait_ready:                         ; poll until BSY = 0, then require no error
    mov dx, ATA_STATUS
.busy:
    in al, dx
    test al, 0x80
    jnz .busy
    test al, 0x21                   ; DF or ERR
    mov al, '4'
    jnz fail
    ret

fail:                               ; AL = failure code
    push ax
    mov al, 'F'
    out 0xE9, al
    pop ax
    out 0xE9, al
    cli
    hlt

buffer_pointer: dw IRQ_BUFFER
sectors_read:   db 0
