; A multiboot (v1) test kernel: checks what the loader hands over (EAX magic,
; flat 32-bit segments, A20, the information structure: memory sizes, command
; line, modules, memory map, loader name; for the ELF file, the section header
; table GRUB passes with flag 5: the symbol table's name through .shstrtab and the
; address of the symbol `start` through .symtab and .strtab, as kernels look up
; their own symbols for stack traces) and reports it on port 0E9h.
; Built twice (build.sh): as an ELF file linked at 100000h (multiboot.elf), and
; as a flat binary with the a.out-kludge addresses (multiboot_aout.bin, -DAOUT).

MB_MAGIC  equ 0x1BADB002
%ifdef AOUT
MB_FLAGS  equ 0x00010003        ; page-align modules, memory info, a.out kludge
        bits 32
        org 0x100000
%else
MB_FLAGS  equ 0x00000003
        bits 32
        section .text
        global start
%endif

header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)
%ifdef AOUT
        dd header               ; header_addr
        dd 0x100000             ; load_addr
        dd data_end             ; load_end_addr
        dd bss_end              ; bss_end_addr
        dd start                ; entry_addr
%endif

start:
        mov esp, stack_top
        mov [magic], eax
        mov [info], ebx
        mov ebx, magic_msg
        call str
        mov eax, [magic]
        call hex
        mov ebx, segs_msg
        call str
        mov ax, cs
        call hex4
        mov ax, ds
        call hex4
        mov ax, ss
        call hex4
        mov ebx, cr0_msg
        call str
        mov eax, cr0
        and eax, 0x80000001
        call hex
        ; A20: 0x000000 and 0x100000 must be different bytes
        mov ebx, a20_msg
        call str
        mov edi, 0x112345
        mov byte [edi], 0x5A
        mov byte [edi - 0x100000], 0xA5
        movzx eax, byte [edi]
        call hex
        mov ebx, bss_msg
        call str
        mov eax, [bss_word]
        call hex
        mov esi, [info]
        mov ebx, flags_msg
        call str
        mov eax, [esi]
        call hex
        mov ebx, lower_msg
        call str
        mov eax, [esi + 4]
        call hex
        mov ebx, upper_msg
        call str
        mov eax, [esi + 8]
        call hex
        mov ebx, cmdline_msg
        call str
        mov ebx, [esi + 16]
        call str
        mov ebx, quote_nl
        call str
        mov ebx, mods_msg
        call str
        mov eax, [esi + 20]
        call hex
        cmp dword [esi + 20], 0
        je .no_module
        mov edi, [esi + 24]
        mov ebx, module_msg
        call str
        mov eax, [edi]                  ; mod_start (page aligned)
        and eax, 0xFFF
        call hex
        mov eax, [edi + 4]
        sub eax, [edi]                  ; length
        call hex
        mov ebx, [edi]                  ; the first 8 bytes, as text
        mov ecx, 8
.head:  mov al, [ebx]
        out 0xE9, al
        inc ebx
        loop .head
        mov al, 10
        out 0xE9, al
        mov ebx, [edi + 8]
        call str
        mov al, 10
        out 0xE9, al
.no_module:
        ; memory map: count entries, then sum the type-1 lengths above 1 MiB
        mov ebx, mmap_msg
        call str
        mov edi, [esi + 48]
        mov ecx, [esi + 44]
        add ecx, edi
        xor eax, eax
        xor edx, edx
.entry: cmp edi, ecx
        jae .mmap_done
        inc eax
        cmp dword [edi + 20], 1
        jne .skip
        cmp dword [edi + 4], 0x100000
        jb .skip
        add edx, [edi + 12]
.skip:  add edi, [edi]
        add edi, 4
        jmp .entry
.mmap_done:
        call hex
        mov eax, edx
        call hex
        mov ebx, name_msg
        call str
        mov ebx, [esi + 64]
        call str
        mov al, 10
        out 0xE9, al
%ifndef AOUT
        test dword [esi], 0x20          ; the ELF section header table
        jz .done
        mov ebx, shdr_msg
        call str
        mov eax, [esi + 28]             ; num
        call hex
        mov eax, [esi + 40]             ; shndx
        call hex
        mov edi, [esi + 36]             ; the table
        mov ecx, [esi + 28]
.find:  dec ecx
        js .done
        mov ebx, ecx
        imul ebx, [esi + 32]
        add ebx, edi
        cmp dword [ebx + 4], 2          ; SHT_SYMTAB
        jne .find
        mov eax, [esi + 40]             ; its name, from .shstrtab's sh_addr
        imul eax, [esi + 32]
        mov edx, [edi + eax + 12]
        add edx, [ebx]
        push ebx
        mov ebx, symtab_msg
        call str
        mov ebx, edx
        call str
        mov al, 10
        out 0xE9, al
        pop ebx
        mov eax, [ebx + 24]             ; sh_link: the .strtab
        imul eax, [esi + 32]
        mov ebp, [edi + eax + 12]
        mov edx, [ebx + 12]             ; the symbols
        mov ecx, [ebx + 20]
        add ecx, edx
.symbol:
        add edx, 16
        cmp edx, ecx
        jae .done
        mov ebx, [edx]                  ; st_name
        add ebx, ebp
        push edi
        mov edi, start_name
.cmp:   mov al, [ebx]
        cmp al, [edi]
        jne .next
        inc ebx
        inc edi
        test al, al
        jnz .cmp
        pop edi
        mov ebx, start_msg
        call str
        mov eax, [edx + 4]              ; st_value
        call hex
        jmp .done
.next:  pop edi
        jmp .symbol
%endif
.done:  cli
        hlt

str:    mov al, [ebx]
        test al, al
        jz .done
        out 0xE9, al
        inc ebx
        jmp str
.done:  ret
hex4:   shl eax, 16
        mov ecx, 4
        jmp hexn
hex:    mov ecx, 8
hexn:   rol eax, 4
        push eax
        and al, 15
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:   out 0xE9, al
        pop eax
        loop hexn
        mov al, 10
        out 0xE9, al
        ret

magic_msg:   db "eax=", 0
segs_msg:    db "cs ds ss=", 10, 0
cr0_msg:     db "cr0.pg.pe=", 0
a20_msg:     db "a20 byte at 112345h=", 0
bss_msg:     db "bss=", 0
flags_msg:   db "flags=", 0
lower_msg:   db "mem_lower=", 0
upper_msg:   db "mem_upper=", 0
cmdline_msg: db 'cmdline="', 0
quote_nl:    db '"', 10, 0
mods_msg:    db "mods_count=", 0
module_msg:  db "module page offset, length, head, string=", 10, 0
mmap_msg:    db "mmap entries, usable bytes above 1 MiB=", 10, 0
name_msg:    db "boot_loader_name=", 0
%ifndef AOUT
shdr_msg:    db "sections, shstrndx=", 10, 0
symtab_msg:  db "symbol table: ", 0
start_msg:   db "start=", 0
start_name:  db "start", 0
%endif
magic:       dd 0
info:        dd 0
data_end:

%ifdef AOUT
        alignb 4
%else
        section .bss
        alignb 4
%endif
bss_word:    resd 1
             resb 4096
stack_top:
bss_end:
