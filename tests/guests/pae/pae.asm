; PAE and global-page checks (pcmachine tests/guests/pae): a boot sector that loads
; the rest, enters flat 32-bit protected mode and checks, printing one line per
; check on the debug console (port 0xE9):
;   PAE paging with 4 KiB and 2 MiB pages, accessed/dirty bits, #PF error codes
;   (not present, write protection with CR0.WP, reserved bits with RSVD), a page
;   above 4 GiB, the PDPTE registers (#GP(0) for a reserved bit on MOV CR3, their
;   contents kept until the next load), global pages across MOV CR3, INVLPG and a
;   CR4.PGE toggle, and 32-bit paging with 4 MiB pages (PSE, PSE-36 if CPUID says).
; Build with build.sh (nasm).  Compare: qemu-system-i386 -cpu pentium2 -fda pae.bin
; -debugcon file:out.txt; bochs with port_e9_hack (see tests/test_cpu_paging_pae.py).
        org 0x7C00
        bits 16
SECTORS equ 16
PDPT    equ 0x20000             ; PAE structures (see setup_pae)
PD0     equ 0x21000
PT0     equ 0x22000
PD1     equ 0x23000
PD3     equ 0x24000
BADPDPT equ 0x25000
PD32    equ 0x26000             ; 32-bit page directory
STACK   equ 0x70000

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov ax, 0x0200 + SECTORS
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        jc $
        in al, 0x92
        or al, 2
        out 0x92, al
        lgdt [gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32

gdt:    dq 0
        dq 0x00CF9A000000FFFF   ; 0x08 flat code
        dq 0x00CF92000000FFFF   ; 0x10 flat data
gdtr:   dw 23
        dd gdt
        times 510 - ($ - $$) db 0
        dw 0xAA55

        bits 32
pm32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, STACK
        ; IDT: every vector to `unexpected`, #GP and #PF to `fault`
        mov edi, idt
        xor ecx, ecx
.gate:  mov eax, unexpected
        cmp ecx, 13
        jb .set
        cmp ecx, 14
        ja .set
        mov eax, fault
.set:   mov [edi], ax
        mov word [edi + 2], 0x08
        mov word [edi + 4], 0x8E00
        shr eax, 16
        mov [edi + 6], ax
        add edi, 8
        inc ecx
        cmp ecx, 32
        jb .gate
        lidt [idtr]
        mov esi, s_hello
        call puts
        mov eax, 1
        cpuid
        mov esi, s_cpuid
        mov eax, edx
        and eax, 0x00022068     ; PSE-36, PGE, PAE, PSE
        call put_named
        mov [features], edx
        call setup_pae
        call pae_tests
        call pge_tests
        call pse_tests
        mov esi, s_done
        call puts
        cli
        hlt
        jmp $

; ---------------------------------------------------------------- faults
; #GP and #PF: record vector (from the gate's slot), error code and CR2, resume at [resume]
fault:  pop dword [last_err]
        mov dword [last_vec], 14
        push eax
        mov eax, cr2
        mov [last_cr2], eax
        ; #GP sets no CR2: the check says which it expects
        cmp dword [expect_gp], 0
        je .pf
        mov dword [last_vec], 13
.pf:    mov eax, [resume]
        mov [esp + 4], eax
        pop eax
        iretd

unexpected:
        mov esi, s_unexpected
        call puts
        cli
        hlt

; arm: resume address in eax
arm:    mov [resume], eax
        mov dword [last_vec], 0xFF
        mov dword [last_err], 0
        xor eax, eax
        mov cr2, eax
        ret

; report: esi = name; prints "name: v=XX e=XXXXXXXX cr2=XXXXXXXX" or "name: none"
report: call puts_raw
        cmp dword [last_vec], 0xFF
        jne .fault
        mov esi, s_none
        jmp puts_raw_nl
.fault: mov esi, s_v
        call puts_raw
        mov eax, [last_vec]
        call hex8
        mov esi, s_e
        call puts_raw
        mov eax, [last_err]
        call hex32
        mov esi, s_cr2
        call puts_raw
        mov eax, [last_cr2]
        call hex32
        mov al, 10
        out 0xE9, al
        ret

%macro CHECK 2                  ; name, instruction that may fault
        mov eax, %%after
        call arm
        %2
%%after:
        mov esi, %1
        call report
%endmacro

%macro PTE 3                    ; table, index, 64-bit value
        mov dword [%1 + 8 * (%2)], (%3) & 0xFFFFFFFF
        mov dword [%1 + 8 * (%2) + 4], (%3) >> 32
%endmacro

; ---------------------------------------------------------------- PAE
setup_pae:
        mov edi, PDPT
        mov ecx, (PD32 + 0x1000 - PDPT) / 4
        xor eax, eax
        rep stosd
        PTE PDPT, 0, PD0 | 1
        PTE PDPT, 1, PD1 | 1
        PTE PDPT, 3, PD3 | 1
        PTE PD0, 0, PT0 | 7
        PTE PD0, 1, 0x200000 | 0x83             ; 2 MiB page at 2 MiB
        ; PT0: identity map of the first 2 MiB, then the special pages
        mov edi, PT0
        mov eax, 3
.map:   mov [edi], eax
        add edi, 8
        add eax, 0x1000
        cmp eax, 0x200000
        jb .map
        PTE PT0, 0x1FF, 0x1FF000                  ; not present
        PTE PT0, 0x1FE, 0x1FE000 | 1              ; read-only
        PTE PT0, 0x1FD, 0x10000000000 | 0x1FD003  ; bit 40: reserved (MAXPHYADDR 36)
        PTE PT0, 0x1FC, 0x800000000 | 3           ; 32 GiB: above 4 GiB, inside 36 bits
        PTE PD1, 0, 0x200000 | 0x83               ; linear 1 GiB: alias of the 2 MiB page
        PTE PD1, 1, 0x400000 | 0x2083             ; 2 MiB page with bit 13: reserved
        PTE PD1, 2, 0x8000000000 | PT0 | 3        ; page table pointer with bit 39: reserved
        PTE PD3, 0, PT0 | 3                       ; linear 3 GiB: same table as linear 0
        PTE BADPDPT, 0, PD0 | 1
        PTE BADPDPT, 2, PD0 | 0x21                ; bit 5: reserved in a PDPTE
        ret

pae_tests:
        mov eax, cr4
        or eax, 0x20
        mov cr4, eax
        mov eax, PDPT
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    mov esi, s_paeon
        call puts
        mov dword [0x200010], 0x12345678
        mov esi, s_alias
        mov eax, [0x40000010]
        call put_named
        mov esi, s_ad2m
        mov eax, [PD0 + 8]
        call put_named
        mov esi, s_a2m
        mov eax, [PD1]
        call put_named
        mov dword [0x100000], 1
        mov esi, s_ad4k
        mov eax, [PT0 + 8 * 0x100]
        call put_named
        mov esi, s_apde
        mov eax, [PD0]
        call put_named
        CHECK s_np_read, {mov eax, [0x1FF004]}
        CHECK s_np_write, {mov [0x1FF008], eax}
        CHECK s_ro_nowp, {mov [0x1FE000], eax}
        mov eax, cr0
        or eax, 0x10000
        mov cr0, eax
        CHECK s_ro_wp, {mov [0x1FE004], eax}
        mov eax, cr0
        and eax, ~0x10000
        mov cr0, eax
        CHECK s_rsvd_read, {mov eax, [0x1FD000]}
        CHECK s_rsvd_write, {mov [0x1FD010], eax}
        CHECK s_above4g, {mov eax, [0x1FC000]}
        CHECK s_rsvd_2m, {mov eax, [0x40200000]}
        CHECK s_rsvd_pde, {mov eax, [0x40400000]}
        CHECK s_pdpte_np, {mov eax, [0x80000000]}
        mov eax, [0xC0000000 + pm32]
        cmp eax, [pm32]
        sete al
        movzx eax, al
        mov esi, s_pdpte3
        call put_named
        ; a reserved bit in a present PDPTE: MOV CR3 raises #GP(0), CR3 stays
        mov dword [expect_gp], 1
        mov ebx, BADPDPT
        CHECK s_pdpte_gp, {mov cr3, ebx}
        mov dword [expect_gp], 0
        mov esi, s_cr3
        mov eax, cr3
        call put_named
        ; the PDPTE registers keep their contents until the next load
        mov dword [PDPT + 8], 0
        CHECK s_pdpte_kept, {mov eax, [0x40000010]}
        mov eax, PDPT
        mov cr3, eax
        CHECK s_pdpte_reload, {mov eax, [0x40000010]}
        mov dword [PDPT + 8], PD1 | 1
        mov eax, PDPT
        mov cr3, eax
        ret

; ---------------------------------------------------------------- global pages
pge_tests:
        mov dword [0x180000], 'A'
        mov dword [0x181000], 'B'
        mov dword [0x182000], 'C'
        mov dword [0x183000], 'D'
        PTE PT0, 0x180, 0x181000 | 0x103          ; global
        PTE PT0, 0x182, 0x183000 | 0x003          ; not global
        mov eax, cr4
        or eax, 0x80
        mov cr4, eax                              ; PGE on: flushes, reloads the PDPTEs
        mov eax, [0x180000]
        mov ebx, [0x182000]
        call put_pair                             ; B D
        PTE PT0, 0x180, 0x180000 | 0x103
        PTE PT0, 0x182, 0x182000 | 0x003
        mov eax, cr3
        mov cr3, eax                              ; drops the non-global entry only
        mov eax, [0x180000]
        mov ebx, [0x182000]
        call put_pair                             ; B C
        invlpg [0x180000]
        mov eax, [0x180000]
        mov ebx, [0x182000]
        call put_pair                             ; A C
        PTE PT0, 0x180, 0x181000 | 0x103
        mov eax, cr3
        mov cr3, eax
        mov eax, [0x180000]
        mov ebx, [0x182000]
        call put_pair                             ; A C
        mov eax, cr4
        and eax, ~0x80
        mov cr4, eax                              ; PGE toggled: everything goes
        or eax, 0x80
        mov cr4, eax
        mov eax, [0x180000]
        mov ebx, [0x182000]
        call put_pair                             ; B C
        ret

; ---------------------------------------------------------------- 32-bit paging, 4 MiB pages
pse_tests:
        mov eax, cr0
        and eax, ~0x80000000
        mov cr0, eax
        mov eax, cr4
        and eax, ~0xA0                            ; PAE and PGE off
        or eax, 0x10                              ; PSE on
        mov cr4, eax
        mov dword [PD32], 0x83                    ; 4 MiB identity page
        mov dword [PD32 + 4], 0x400000 | 0x2083   ; bit 13: PSE-36 address bit 32, else reserved
        mov dword [PD32 + 8], 0x800000 | 0x200083 ; bit 21: reserved
        mov eax, PD32
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    CHECK s_pse36, {mov eax, [0x400000]}
        CHECK s_pse_rsvd, {mov eax, [0x800000]}
        mov esi, s_pde32
        mov eax, [PD32]
        call put_named
        ret

; ---------------------------------------------------------------- output
put_pair:                       ; "global: X Y" from the low bytes of eax, ebx
        mov esi, s_global
        push eax
        call puts_raw
        pop eax
        out 0xE9, al
        mov al, ' '
        out 0xE9, al
        mov al, bl
        out 0xE9, al
        mov al, 10
        out 0xE9, al
        ret

put_named:                      ; "name: XXXXXXXX"
        push eax
        call puts_raw
        mov al, ' '
        out 0xE9, al
        pop eax
        call hex32
        mov al, 10
        out 0xE9, al
        ret

puts:   call puts_raw
        mov al, 10
        out 0xE9, al
        ret
puts_raw_nl:
        call puts_raw
        mov al, 10
        out 0xE9, al
        ret
puts_raw:
        lodsb
        test al, al
        jz .done
        out 0xE9, al
        jmp puts_raw
.done:  ret

hex32:  push eax
        shr eax, 16
        call hex16
        pop eax
hex16:  push eax
        shr eax, 8
        call hex8
        pop eax
hex8:   push eax
        shr al, 4
        call .digit
        pop eax
.digit: and al, 0xF
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'A' - '9' - 1
.out:   out 0xE9, al
        ret

s_hello:        db "pae guest", 0
s_cpuid:        db "cpuid.1 edx & pse36|pge|pae|pse:", 0
s_done:         db "done", 0
s_unexpected:   db "unexpected exception", 0
s_none:         db ": none", 0
s_v:            db ": v=", 0
s_e:            db " e=", 0
s_cr2:          db " cr2=", 0
s_paeon:        db "pae paging on", 0
s_alias:        db "2M alias reads:", 0
s_ad2m:         db "2M PDE after a write:", 0
s_a2m:          db "2M PDE after a read:", 0
s_ad4k:         db "4K PTE after a write:", 0
s_apde:         db "PDE of the table:", 0
s_np_read:      db "not present read", 0
s_np_write:     db "not present write", 0
s_ro_nowp:      db "read-only write, WP=0", 0
s_ro_wp:        db "read-only write, WP=1", 0
s_rsvd_read:    db "PTE bit 40 read", 0
s_rsvd_write:   db "PTE bit 40 write", 0
s_above4g:      db "page at 32 GiB", 0
s_rsvd_2m:      db "2M PDE bit 13", 0
s_rsvd_pde:     db "PDE bit 39", 0
s_pdpte_np:     db "PDPTE not present", 0
s_pdpte3:       db "PDPTE 3 alias:", 0
s_pdpte_gp:     db "MOV CR3, PDPTE bit 5", 0
s_cr3:          db "CR3 after:", 0
s_pdpte_kept:   db "PDPTE cleared in memory", 0
s_pdpte_reload: db "after MOV CR3", 0
s_global:       db "global/not: ", 0
s_pse36:        db "4M PDE bit 13", 0
s_pse_rsvd:     db "4M PDE bit 21", 0
s_pde32:        db "4M PDE after a read:", 0

        align 4
features:       dd 0
resume:         dd 0
last_vec:       dd 0
last_err:       dd 0
last_cr2:       dd 0
expect_gp:      dd 0
idtr:           dw 32 * 8 - 1
                dd idt
        align 8
idt:    times 32 * 8 db 0
        times (SECTORS + 1) * 512 - ($ - $$) db 0
