; A boot sector that programs the Bochs VBE (DISPI) ports directly, as Linux
; bochsfb and hobby kernels do: 640x480x32 with the linear framebuffer, then draws
; pixel (x, y) = red x & FFh, green y & FFh, blue (x + y) >> 1 & FFh into the LFB at
; E0000000h (through a flat FS in unreal mode) and idles with interrupts on, so the
; machine keeps running for viewers (tests/test_vnc.py).
        bits 16
        org 0x7c00

WIDTH equ 640
HEIGHT equ 480

start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov si, dispi                   ; (index, value) pairs
.reg:   lodsw
        cmp ax, 0xffff
        je .unreal
        mov dx, 0x1ce
        out dx, ax
        lodsw
        inc dx
        out dx, ax
        jmp .reg
.unreal:
        lgdt [gdt_pointer]              ; FS: base 0, limit 4 GiB, back in real mode
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp $ + 2
        mov bx, 0x08
        mov fs, bx
        and al, 0xfe
        mov cr0, eax
        jmp $ + 2
        xor ax, ax
        mov fs, ax
        mov edi, 0xe0000000
        xor edx, edx                    ; y
.row:   xor ecx, ecx                    ; x
.pixel: mov eax, ecx
        and eax, 0xff
        shl eax, 16
        mov ebx, edx
        and ebx, 0xff
        shl ebx, 8
        or eax, ebx
        mov ebx, ecx
        add ebx, edx
        shr ebx, 1
        and ebx, 0xff
        or eax, ebx
        mov [fs:edi], eax
        add edi, 4
        inc ecx
        cmp ecx, WIDTH
        jb .pixel
        inc edx
        cmp edx, HEIGHT
        jb .row
        sti
.idle:  hlt
        jmp .idle

dispi:  dw 4, 0                         ; ENABLE = 0
        dw 1, WIDTH                     ; XRES
        dw 2, HEIGHT                    ; YRES
        dw 3, 32                        ; BPP
        dw 4, 0x41                      ; ENABLE: enabled, LFB
        dw 0xffff

        align 8
gdt:    dq 0
        dq 0x00cf92000000ffff
gdt_pointer:
        dw gdt_pointer - gdt - 1
        dd gdt

        times 510 - ($ - $$) db 0
        dw 0xaa55
