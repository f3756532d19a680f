; REP INSB interrupted part-way (tests/test_device_guests.py): loaded at 0000:7C00
; without a BIOS; a test device on port 300h raises INTR (vector 40h) during the
; third read.  The Intel SDM (REP: "interrupts are recognized between iterations")
; says the handler runs with CX = 5 still to go and the instruction then resumes, so
; all 8 bytes arrive.  The handler stores CX and DI at 0000:7000.

        bits 16
        org 0x7c00

DEVICE_PORT  equ 0x300
TEST_VECTOR  equ 0x40
BUFFER       equ 0x8000
SEEN         equ 0x7000

        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        mov word [TEST_VECTOR * 4], handler
        mov word [TEST_VECTOR * 4 + 2], 0
        mov word [SEEN], 0xffff
        mov di, BUFFER
        mov cx, 8
        mov dx, DEVICE_PORT
        cld
        sti
        rep insb
        cli
        hlt

handler:
        mov [SEEN], cx
        mov [SEEN + 2], di
        iret
