; The VBE 2.0 protected-mode interface (int 10h AX=4F0Ah, VBE/Core 2.0 section
; 4.13): a table of offsets and the 32-bit code it points to, which an OS calls
; with a near CALL from its own 32-bit code segment (Linux's vesafb does, for
; panning and the palette).  The code is position independent and touches only
; the Bochs DISPI ports and the VGA DAC, the same registers as the BIOS's
; real-mode 4F05h/4F07h/4F09h.  Registers other than AX and those named may be
; changed, except ESI, EBP, DS and SS (as the standard allows).
; Rebuild plugins/data/vbe_pmi.bin with plugins/bios/build_vbe_pmi.sh (nasm).

        bits 32
        org 0

DISPI_INDEX     equ 0x1ce
DISPI_DATA      equ 0x1cf
DISPI_BPP       equ 3
DISPI_BANK      equ 5
DISPI_VIRT_WIDTH equ 6
DISPI_X_OFFSET  equ 8
DISPI_Y_OFFSET  equ 9
DAC_WRITE_INDEX equ 0x3c8
DAC_DATA        equ 0x3c9
INPUT_STATUS    equ 0x3da
VERTICAL_RETRACE equ 0x08
VBE_OK          equ 0x004f
VBE_FAILED      equ 0x014f

table:  dw set_window, set_display_start, set_palette, ports

; Function 05h: BH=00h, BL=00h (window A), DX = window position in granularity
; (64 KiB) units.  Returns AX.
set_window:
        test bx, bx
        jnz fail
        mov ecx, edx
        mov ax, DISPI_BANK
        call dispi_write
        mov eax, VBE_OK
        ret

; Function 07h: BL=00h (now) or 80h (at the next vertical retrace), DX:CX = the
; display start address in bytes / 4.  Returns AX.
set_display_start:
        cmp bl, 0x80
        je .retrace
        test bl, bl
        jnz fail
        jmp .set
.retrace:
        mov edi, edx
        mov dx, INPUT_STATUS
.wait:  in al, dx
        test al, VERTICAL_RETRACE
        jz .wait
        mov edx, edi
.set:   shl edx, 16
        mov dx, cx
        shl edx, 2
        mov edi, edx                    ; EDI = byte offset
        mov ax, DISPI_BPP
        call dispi_read
        cmp eax, 15
        jne .bits
        inc eax                         ; 15 bpp pixels take 16 bits
.bits:  mov ebx, eax                    ; EBX = bits per pixel
        mov ax, DISPI_VIRT_WIDTH
        call dispi_read
        imul eax, ebx
        shr eax, 3                      ; EAX = bytes per line
        test eax, eax
        jz fail
        mov ecx, eax
        mov eax, edi
        xor edx, edx
        div ecx                         ; EAX = line, EDX = byte in the line
        push edx
        mov ecx, eax
        mov ax, DISPI_Y_OFFSET
        call dispi_write
        pop eax
        shl eax, 3
        xor edx, edx
        div ebx                         ; EAX = pixel in the line
        mov ecx, eax
        mov ax, DISPI_X_OFFSET
        call dispi_write
        mov eax, VBE_OK
        ret

; Function 09h: BL=00h or 80h (set the primary palette), CX entries from DX,
; ES:EDI -> entries of blue, green, red, alignment.  Returns AX.
set_palette:
        cmp bl, 0x80
        je .ok
        test bl, bl
        jnz fail
.ok:    movzx ecx, cx
        movzx eax, dx
        lea ebx, [eax + ecx]
        cmp ebx, 256
        ja fail
        mov dx, DAC_WRITE_INDEX
        out dx, al
        inc edx                         ; DAC_DATA
        jecxz .done
.entry: mov al, [es:edi + 2]
        out dx, al
        mov al, [es:edi + 1]
        out dx, al
        mov al, [es:edi]
        out dx, al
        add edi, 4
        loop .entry
.done:  mov eax, VBE_OK
        ret

fail:   mov eax, VBE_FAILED
        ret

; dispi_write: DISPI register AX = CX
dispi_write:
        mov dx, DISPI_INDEX
        out dx, ax
        mov eax, ecx
        inc edx
        out dx, ax
        ret

; dispi_read: EAX = DISPI register AX (zero-extended)
dispi_read:
        mov dx, DISPI_INDEX
        out dx, ax
        inc edx
        xor eax, eax
        in ax, dx
        ret

; the ports an OS must allow (no memory locations besides the framebuffer)
ports:  dw DISPI_INDEX, DISPI_DATA, DAC_WRITE_INDEX, DAC_DATA, INPUT_STATUS, 0xffff
        dw 0xffff
