; A bzImage-format test kernel for the Linux boot protocol loader (--kernel,
; --initrd, --append).  The real-mode part reads back the setup-header fields the
; loader filled, the command line and the BIOS E820 map, and reports them on port
; 0E9h; it then enters protected mode and jumps to the 32-bit part at 100000h
; (code32_start), which reports the initrd's size, first bytes and byte sum.
; Build: nasm -f bin -o bzimage.bin bzimage.asm

SETUP_SECTS equ 2

        bits 16
        org 0
        times 0x1F1 db 0
        db SETUP_SECTS          ; 1F1 setup_sects
        dw 0                    ; 1F2 root_flags
        dd 0                    ; 1F4 syssize
        dw 0                    ; 1F8 ram_size
        dw 0x1234               ; 1FA vid_mode (the loader writes FFFFh)
        dw 0                    ; 1FC root_dev
        dw 0xAA55               ; 1FE boot_flag
        jmp short setup         ; 200 jump: the entry at seg+20h:0
        db "HdrS"               ; 202 header
        dw 0x020F               ; 206 version 2.15
        dd 0                    ; 208 realmode_swtch
        dw 0                    ; 20C start_sys_seg
        dw 0                    ; 20E kernel_version
        db 0                    ; 210 type_of_loader
        db 0x01                 ; 211 loadflags: LOADED_HIGH
        dw 0                    ; 212 setup_move_size
        dd 0x100000             ; 214 code32_start
        dd 0                    ; 218 ramdisk_image
        dd 0                    ; 21C ramdisk_size
        dd 0                    ; 220 bootsect_kludge
        dw 0                    ; 224 heap_end_ptr
        db 0, 0                 ; 226 ext_loader_ver, ext_loader_type
        dd 0                    ; 228 cmd_line_ptr
        dd 0x7FFFFFF            ; 22C initrd_addr_max: below 128 MiB
        dd 0x100000             ; 230 kernel_alignment
        db 0, 0                 ; 234 relocatable_kernel, min_alignment
        dw 0                    ; 236 xloadflags
        dd 64                   ; 238 cmdline_size

; Offsets from here on are relative to CS = seg + 20h, i.e. file offset - 200h.
setup:
        cli
        mov ax, cs
        sub ax, 0x20
        mov ds, ax              ; DS = seg: the header at its file offsets
        mov [cs:seg_value - 0x200], ax
        mov si, cs_msg
        call str16
        mov ax, cs
        call hex16_4
        mov si, ss_msg
        call str16
        mov ax, ss
        call hex16_4
        mov si, sp_msg
        call str16
        mov ax, sp
        call hex16_4
        mov si, loader_msg
        call str16
        mov al, [0x210]
        call hex16_2
        mov si, flags_msg
        call str16
        mov al, [0x211]
        call hex16_2
        mov si, heap_msg
        call str16
        mov ax, [0x224]
        call hex16_4
        mov si, vid_msg
        call str16
        mov ax, [0x1FA]
        call hex16_4
        mov si, cmdptr_msg
        call str16
        mov eax, [0x228]
        call hex16_8
        mov si, rdimage_msg
        call str16
        mov eax, [0x218]
        call hex16_8
        mov si, rdsize_msg
        call str16
        mov eax, [0x21C]
        call hex16_8
        ; the command line, through a segment at cmd_line_ptr
        mov si, cmdline_msg
        call str16
        mov eax, [0x228]
        mov bx, ax
        and bx, 15
        shr eax, 4
        push ds
        mov ds, ax
.cmd:   mov al, [bx]
        test al, al
        jz .cmd_end
        out 0xE9, al
        inc bx
        jmp .cmd
.cmd_end:
        pop ds
        mov al, '"'
        out 0xE9, al
        mov al, 10
        out 0xE9, al
        ; int 15h E820: count the entries and sum the usable bytes above 1 MiB
        push es
        mov ax, ds
        mov es, ax
        xor ebx, ebx
        xor bp, bp
.e820:  mov eax, 0xE820
        mov edx, 0x534D4150
        mov ecx, 20
        mov di, e820_entry                  ; ES = seg: a file offset
        int 0x15
        jc .e820_done
        cmp eax, 0x534D4150
        jne .e820_done
        inc bp
        test ebx, ebx
        jnz .e820
.e820_done:
        pop es
        mov si, e820_msg
        call str16
        mov ax, bp
        call hex16_4
        ; protected mode: a flat GDT, then the 32-bit part at code32_start
        in al, 0x92
        or al, 2
        and al, 0xFE
        out 0x92, al
        xor eax, eax
        mov ax, ds
        shl eax, 4
        mov esi, eax                        ; ESI = the setup (stand-in for boot_params)
        add eax, gdt
        mov [gdt_ptr + 2], eax
        lgdt [gdt_ptr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:0x100000

str16:                                      ; DS:SI (offsets in the file), CS-relative
        push ds
        push cs
        pop ds
        sub si, 0x200
.next:  lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp .next
.done:  pop ds
        ret
hex16_8:                                    ; EAX as 8 hex digits and a newline
        mov cx, 8
        jmp hex16
hex16_4:
        shl eax, 16
        mov cx, 4
        jmp hex16
hex16_2:
        shl eax, 24
        mov cx, 2
hex16:  rol eax, 4
        push ax
        and al, 15
        add al, '0'
        cmp al, '9'
        jbe .digit
        add al, 7
.digit: out 0xE9, al
        pop ax
        loop hex16
        mov al, 10
        out 0xE9, al
        ret

seg_value:   dw 0
cs_msg:      db "cs=", 0
ss_msg:      db "ss=", 0
sp_msg:      db "sp=", 0
loader_msg:  db "type_of_loader=", 0
flags_msg:   db "loadflags=", 0
heap_msg:    db "heap_end_ptr=", 0
vid_msg:     db "vid_mode=", 0
cmdptr_msg:  db "cmd_line_ptr=", 0
rdimage_msg: db "ramdisk_image=", 0
rdsize_msg:  db "ramdisk_size=", 0
cmdline_msg: db 'cmdline="', 0
e820_msg:    db "e820_entries=", 0
        align 8
gdt:    dq 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
gdt_ptr: dw 23
        dd 0
e820_entry: times 24 db 0
        times (SETUP_SECTS + 1) * 512 - ($ - $$) db 0

; The protected-mode kernel, loaded at 100000h.
        bits 32
pm_start equ $
%define PM(x) (x - pm_start + 0x100000)
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x90000
        mov ebx, PM(pm_msg)
        call str32
        mov ecx, [esi + 0x21C]              ; ramdisk_size
        mov edi, [esi + 0x218]              ; ramdisk_image
        xor eax, eax
        xor edx, edx
.sum:   jecxz .sum_done
        mov al, [edi]
        add edx, eax
        inc edi
        dec ecx
        jmp .sum
.sum_done:
        mov ebx, PM(sum_msg)
        call str32
        mov eax, edx
        call hex32
        mov ebx, PM(head_msg)
        call str32
        mov edi, [esi + 0x218]
        mov ecx, 8
.head:  mov al, [edi]
        out 0xE9, al
        inc edi
        loop .head
        mov al, 10
        out 0xE9, al
        cli
        hlt

str32:  mov al, [ebx]
        test al, al
        jz .done
        out 0xE9, al
        inc ebx
        jmp str32
.done:  ret
hex32:  mov ecx, 8
.digit: rol eax, 4
        push eax
        and al, 15
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:   out 0xE9, al
        pop eax
        loop .digit
        mov al, 10
        out 0xE9, al
        ret

pm_msg:   db "protected mode at 100000h", 10, 0
sum_msg:  db "initrd_sum=", 0
head_msg: db "initrd_head=", 0
