; CPU benchmark: the real-mode loop's work in 32-bit flat protected mode with
; paging on (identity-mapped 0-4 MiB through one page table), the way a teaching
; kernel runs.  Loaded at 0000:7C00 by `machine bench`; switches to protected
; mode, builds the page tables, enables paging and ends with HLT.
; Executes 3,099 (set-up) + 500 * (5 + 1,000 * 14) + 1 = 7,005,600 instructions.
bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdt_descriptor]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:flat

bits 32
flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov edi, 0x81000          ; page table: 0-4 MiB identity, present + writable
    mov eax, 0x003
    mov ecx, 1024
fill:
    stosd
    add eax, 0x1000
    loop fill
    mov dword [0x80000], 0x81003
    mov eax, 0x80000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
restart:                      ; `machine bench` goes on here after the HLT (offset 5Ah)
    mov edi, 0x0500           ; the work buffer is 0500-05FF
    xor ebx, ebx
    xor ebp, ebp
    mov edx, 500              ; outer iterations
    cld
outer:
    mov ecx, 1000             ; inner iterations
    xor esi, esi
    nop
inner:
    mov eax, [esi + 0x0500]   ; load
    add eax, ecx              ; ALU on registers
    xor ebx, eax
    mov [esi + 0x0500], eax   ; store
    add esi, 4
    and esi, 0x00FC           ; wrap inside the buffer
    call mix                  ; near call/return through the stack
    cmp ebp, ebx
    adc ebp, 0
    inc ebx
    dec ecx
    jnz inner
    dec edx
    jnz outer
    hlt

mix:
    shl ebx, 1
    ret

gdt:
    dq 0
    dq 0x00CF9A000000FFFF     ; 0x08: flat 32-bit code
    dq 0x00CF92000000FFFF     ; 0x10: flat 32-bit data
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt
