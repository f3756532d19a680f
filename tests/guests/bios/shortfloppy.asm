; int 13h on a floppy image shorter than its format: the image is this guest, one
; sector of A5h (LBA 2) and 100 bytes of 5Ah (the start of LBA 3), 1.44M geometry.
; QEMU (hw/block/fdc.c) and Bochs (floppy.cc) read the sectors past the end of
; such an image as zeros, without an error: Linux 0.11's bootsect reads whole
; tracks past the end of its unpadded kernel image and retries for ever when
; the read fails.  Writes past the end fail (QEMU's blk_pwrite refuses them).
%include "lib.inc"

BUF equ 0x9000

main:
    mov di, BUF                     ; fill the buffer with FFh
    mov cx, 18 * 512
    mov al, 0xFF
    cld
    rep stosb

    mov ax, 0x0211                  ; 17 sectors: C0 H0 R2..R18 = LBA 1..17
    mov cx, 0x0002
    xor dx, dx
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect ax, 0x0011
    expect byte [BUF + 512], 0xA5           ; LBA 2, in the image
    expect byte [BUF + 1023], 0xA5
    expect byte [BUF + 1024], 0x5A          ; LBA 3, the partial last sector
    expect byte [BUF + 1024 + 99], 0x5A
    mov di, BUF + 1024 + 100                ; the rest of LBA 3 .. LBA 17: zeros
    mov cx, 15 * 512 - 100
    xor al, al
    repe scasb
    expect cx, 0
    expect byte [BUF + 17 * 512], 0xFF      ; nothing past the 17 sectors

    mov ax, 0x0201                  ; the medium's last sector: C79 H1 R18
    mov cx, 0x4F12
    mov dx, 0x0100
    mov bx, BUF
    int 0x13
    expect_cf 0
    expect ax, 0x0001
    expect byte [BUF], 0

    mov ax, 0x0201                  ; past the medium: C80 is not on a 1.44M floppy
    mov cx, 0x5001
    xor dx, dx
    int 0x13
    expect_cf 1

    mov ax, 0x0301                  ; a write past the end of the image fails
    mov cx, 0x0005                  ; C0 H0 R5 = LBA 4
    xor dx, dx
    mov bx, BUF
    int 0x13
    expect_cf 1
    jmp test_passed

%include "report.inc"
guest_end:
