; A boot sector that reads a CD the way a hobby kernel's ATAPI driver does, by
; polling: find the packet device on the secondary channel by its signature
; (LBA mid/high 14h/EBh), send PACKET with a 2048-byte limit and READ(10) of
; block 16 (an ISO 9660 volume descriptor), read the DRQ block, and print its
; bytes 1-5 ("CD001") and a newline on port E9h.  Anything unexpected prints
; "FAIL" and a letter.  Then it halts with interrupts off.
        bits 16
        org 0x7c00

BASE    equ 0x170
start:  cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        mov dx, BASE + 6
        mov al, 0xA0                    ; device 0
        out dx, al
        mov dx, BASE + 4
        in al, dx
        mov ah, 'S'
        cmp al, 0x14
        jne fail
        inc dx
        in al, dx
        cmp al, 0xEB
        jne fail
        mov dx, BASE + 1                ; features: PIO
        xor al, al
        out dx, al
        mov dx, BASE + 4                ; byte count limit 0800h
        out dx, al
        inc dx
        mov al, 0x08
        out dx, al
        mov dx, BASE + 7
        mov al, 0xA0                    ; PACKET
        out dx, al
        mov ah, 'P'
        call wait_drq
        mov si, packet
        mov cx, 6
        mov dx, BASE
        rep outsw
        mov ah, 'R'
        call wait_drq
        mov dx, BASE + 2                ; interrupt reason: IO, data to the host
        in al, dx
        and al, 3
        mov ah, 'I'
        cmp al, 2
        jne fail
        mov dx, BASE + 4                ; byte count of this DRQ block
        in al, dx
        mov cl, al
        inc dx
        in al, dx
        mov ch, al
        mov ah, 'C'
        cmp cx, 2048
        jne fail
        shr cx, 1
        mov di, 0x8000
        mov dx, BASE
        rep insw
        mov si, 0x8001
        mov cx, 5
        mov dx, 0xE9
        rep outsb
        mov al, 10
        out dx, al
        hlt

wait_drq:                               ; BSY clear, then DRQ; ERR fails
        mov dx, BASE + 7
.poll:  in al, dx
        test al, 0x80
        jnz .poll
        test al, 0x01
        jnz fail
        test al, 0x08
        jz .poll
        ret

fail:   mov dx, 0xE9
        mov si, failed
        mov cx, 4
        rep outsb
        mov al, ah
        out dx, al
        mov al, 10
        out dx, al
        hlt

failed: db "FAIL"
packet: db 0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
