; A small protected-mode kernel, linked at 0xC0100000 as an ELF executable and
; started by loader.asm (tests/test_cpu_protected.py).  Each stage prints one line
; to the debug console port 0xE9; "FAIL" lines name a broken expectation.
;   1. its own GDT (kernel/user segments, two TSSs, a call gate), IDT, LTR;
;   2. paging: #PF on a missing page handled and the write resumed (CR2, error
;      code, accessed/dirty bits), a 4 MiB PSE page, CR0.WP on a read-only page;
;   3. ring 3 entered with IRETD: int 0x80 through a DPL-3 trap gate returns a
;      result, a supervisor page faults from ring 3, a call gate copies one
;      parameter to ring 0, CLI and IN from ring 3 raise #GP(0) (IOPL, I/O
;      bitmap), loading the kernel data selector raises #GP(0010);
;   4. a hardware task switch (CALL to a TSS, IRET along the back link);
;   5. a virtual-8086 task writes port 0xE9 (allowed by the I/O bitmap) and calls
;      BIOS int 12h and int 10h through the #GP monitor;
;   6. LAR, LSL, VERR, VERW.
; Build: tests/guests/pm/build.sh

bits 32

PAGE_DIR     equ 0x80000        ; built by the loader (identity 0-4 MiB + 0xC0000000)
PAGE_TABLE   equ 0x81000
FAULT_TABLE  equ 0x82000        ; page table the #PF handler installs for 0xD0000000
FAULT_FRAME  equ 0x300000
USER_SUPER   equ 0x3FF000       ; made supervisor-only; ring 3 touches it
READ_ONLY    equ 0x3FE000       ; made read-only for the CR0.WP test
V86_CODE     equ 0x9000

KERNEL_CS    equ 0x08
KERNEL_DS    equ 0x10
USER_CS      equ 0x1B
USER_DS      equ 0x23
TSS1_SEL     equ 0x28
TSS2_SEL     equ 0x30
GATE_SEL     equ 0x3B

%macro PRINT 1+
    [section .rodata]
%%text: db %1, 0
    __SECT__
    push esi
    mov esi, %%text
    call print_str
    pop esi
%endmacro

%macro EXPECT 2                 ; condition code meaning "ok", what was expected
    j%1 %%ok
    PRINT "FAIL: ", %2, 10
    cli
    hlt
%%ok:
%endmacro

section .text
global _start
_start:
    mov esp, kernel_stack_top
    PRINT "kernel: running at "
    call .here
.here:
    pop eax
    call print_hex
    call newline

    ; ---------------------------------------------------------- GDT, IDT, TSS
    mov edi, gdt + TSS1_SEL
    mov eax, tss1
    mov ebx, tss1_end - tss1 - 1
    mov cl, 0x89
    call set_descriptor
    mov edi, gdt + TSS2_SEL
    mov eax, tss2
    mov ebx, 0x67
    mov cl, 0x89
    call set_descriptor
    mov eax, call_gate_entry    ; call gate: DPL 3, 1 dword parameter, to ring 0
    mov [gdt + 0x38], ax
    mov word [gdt + 0x38 + 2], KERNEL_CS
    mov byte [gdt + 0x38 + 4], 1
    mov byte [gdt + 0x38 + 5], 0xEC
    shr eax, 16
    mov [gdt + 0x38 + 6], ax
    lgdt [gdt_descriptor]
    jmp KERNEL_CS:.reload
.reload:
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax

    mov eax, 13
    mov ebx, gp_handler
    mov cl, 0x8E                ; interrupt gate, DPL 0
    call set_gate
    mov eax, 14
    mov ebx, pf_handler
    mov cl, 0x8E
    call set_gate
    mov eax, 0x80
    mov ebx, syscall_handler
    mov cl, 0xEF                ; trap gate, DPL 3
    call set_gate
    lidt [idt_descriptor]

    mov dword [tss1 + 4], kernel_stack_top      ; ESP0
    mov dword [tss1 + 8], KERNEL_DS             ; SS0
    mov word [tss1 + 0x66], io_bitmap - tss1    ; I/O map base
    mov edi, io_bitmap                          ; deny every port ...
    mov al, 0xFF
    mov ecx, 8192 + 1
    rep stosb
    and byte [io_bitmap + (0xE9 >> 3)], ~(1 << (0xE9 & 7))   ; ... but 0xE9
    mov ax, TSS1_SEL
    ltr ax
    mov al, 0xFF                ; mask both 8259As: ring 3 runs with IF = 1
    out 0x21, al
    out 0xA1, al
    PRINT "kernel: GDT, IDT and TSS loaded", 10

    ; ---------------------------------------------------------- paging
    mov dword [0xD0000000], 0x600DF00D          ; not present: #PF, mapped, resumed
    cmp dword [0xD0000000], 0x600DF00D
    EXPECT e, "resumed write"
    mov eax, [FAULT_TABLE]
    and eax, 0x60
    cmp eax, 0x60
    EXPECT e, "accessed and dirty bits in the PTE"
    PRINT "kernel: page fault handled and resumed, A/D bits set", 10

    mov eax, cr4
    or eax, 0x10                                ; CR4.PSE
    mov cr4, eax
    mov dword [PAGE_DIR + (0xE0000000 >> 22) * 4], 0x00400000 | 0x83
    mov dword [PAGE_DIR + 4], 0x00400000 | 0x83 ; 4-8 MiB identity, one 4 MiB page
    mov dword [0xE0012344], 0x4D1B4D1B
    cmp dword [0x00412344], 0x4D1B4D1B
    EXPECT e, "4 MiB page alias"
    test dword [PAGE_DIR + (0xE0000000 >> 22) * 4], 0x40
    EXPECT nz, "dirty bit in the 4 MiB PDE"
    PRINT "kernel: 4 MiB page ok", 10

    and dword [PAGE_TABLE + (READ_ONLY >> 12) * 4], ~2
    invlpg [READ_ONLY]
    mov dword [READ_ONLY], 1                    ; CR0.WP = 0: supervisor may write
    mov eax, cr0
    or eax, 0x10000                             ; CR0.WP
    mov cr0, eax
    mov dword [READ_ONLY], 2                    ; now #PF (error 3), made writable
    cmp dword [READ_ONLY], 2
    EXPECT e, "write after the WP fault"
    PRINT "kernel: CR0.WP protects read-only pages", 10

    ; ---------------------------------------------------------- ring 3
    and dword [PAGE_TABLE + (USER_SUPER >> 12) * 4], ~4
    invlpg [USER_SUPER]
    push dword USER_DS
    push dword user_stack_top
    push dword 0x202                            ; IF = 1, IOPL 0
    push dword USER_CS
    push dword user_entry
    iretd

user_entry:
    mov ax, USER_DS             ; IRET to ring 3 made DS/ES (DPL 0) null
    mov ds, ax
    mov es, ax
    PRINT "user: ring 3, CPL "
    mov eax, cs
    and eax, 3
    call print_hex
    call newline
    mov eax, 1
    mov ebx, 20
    mov ecx, 22
    int 0x80
    cmp eax, 42
    EXPECT e, "int 0x80 result"
    PRINT "user: int 0x80 returned "
    call print_hex
    call newline
    mov eax, [USER_SUPER]                       ; #PF error 5, then allowed
    PRINT "user: supervisor page fault handled", 10
    push dword 0x11223344
    call GATE_SEL:0
    cmp esp, user_stack_top
    EXPECT e, "RETF 4 released the parameter"
    cli                                         ; #GP(0): CPL 3 > IOPL 0
    in al, 0x60                                 ; #GP(0): I/O bitmap denies 0x60
    mov ax, KERNEL_DS                           ; #GP(0010): DPL 0 data from CPL 3
    mov ds, ax
    PRINT "FAIL: loaded a DPL 0 selector in ring 3", 10
    jmp $

after_user:
    mov esp, kernel_stack_top
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    PRINT "kernel: back from ring 3", 10

    ; ---------------------------------------------------------- task switch
    mov dword [tss1 + 0x1C], PAGE_DIR           ; CR3 (loaded when task 1 resumes)
    mov dword [tss2 + 0x1C], PAGE_DIR
    mov dword [tss2 + 0x20], task2_entry        ; EIP
    mov dword [tss2 + 0x24], 0x2                ; EFLAGS
    mov dword [tss2 + 0x38], task2_stack_top    ; ESP
    mov dword [tss2 + 0x4C], KERNEL_CS          ; CS
    mov eax, KERNEL_DS
    mov [tss2 + 0x48], eax                      ; ES
    mov [tss2 + 0x50], eax                      ; SS
    mov [tss2 + 0x54], eax                      ; DS
    mov ebx, 0x5A5A0001
    call TSS2_SEL:0
    PRINT "kernel: back in task 1, ebx="
    mov eax, ebx
    call print_hex
    call newline
    str ax
    cmp ax, TSS1_SEL
    EXPECT e, "TR of task 1"
    test byte [gdt + TSS2_SEL + 5], 2
    EXPECT z, "task 2 not busy after IRET"

    ; ---------------------------------------------------------- virtual-8086
    mov esi, v86_code
    mov edi, V86_CODE
    mov ecx, v86_code_end - v86_code
    rep movsb
    push dword 0                                ; GS
    push dword 0                                ; FS
    push dword 0                                ; DS
    push dword 0                                ; ES
    push dword 0                                ; SS
    push dword 0x8FF0                           ; SP
    push dword 0x00020002                       ; VM = 1, IOPL 0
    push dword 0                                ; CS
    push dword V86_CODE                         ; IP
    iretd

after_v86:
    mov esp, kernel_stack_top
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    PRINT "kernel: back from virtual-8086 mode", 10

    ; ---------------------------------------------------------- LAR LSL VERR VERW
    mov ecx, USER_CS
    lar eax, ecx
    EXPECT z, "LAR valid"
    cmp eax, 0x00CFFB00                         ; accessed by now
    EXPECT e, "LAR access rights"
    mov ecx, TSS1_SEL
    lsl eax, ecx
    EXPECT z, "LSL valid"
    cmp eax, tss1_end - tss1 - 1
    EXPECT e, "LSL limit"
    mov ecx, 0x48                               ; beyond the GDT limit
    lsl eax, ecx
    EXPECT nz, "LSL of a selector outside the GDT"
    mov ax, KERNEL_DS
    verw ax
    EXPECT z, "VERW data"
    mov ax, KERNEL_CS
    verw ax
    EXPECT nz, "VERW code"
    verr ax
    EXPECT z, "VERR readable code"
    PRINT "kernel: LAR, LSL, VERR, VERW ok", 10
    PRINT "kernel: all stages passed", 10
    cli
    hlt

; ------------------------------------------------------------------ task 2
task2_entry:
    PRINT "task 2: running, TR="
    str ax
    movzx eax, ax
    call print_hex
    PRINT " back link="
    movzx eax, word [tss2]
    call print_hex
    call newline
    pushfd
    pop eax
    test eax, 0x4000
    EXPECT nz, "NT set in the called task"
    mov ebx, 0x7A5C0002
    iretd
    jmp task2_entry

; ------------------------------------------------------------------ handlers
syscall_handler:                ; int 0x80: eax = ebx + ecx
    pushfd
    test dword [esp], 0x200
    EXPECT nz, "trap gate keeps IF"
    popfd
    mov eax, ebx
    add eax, ecx
    iretd

call_gate_entry:                ; [esp] EIP, CS, parameter, ESP, SS
    PRINT "kernel: call gate at CPL "
    mov eax, cs
    and eax, 3
    call print_hex
    PRINT ", parameter "
    mov eax, [esp + 8]
    call print_hex
    call newline
    retf 4

pf_handler:
    pushad
    PRINT "kernel: #PF cr2="
    mov eax, cr2
    call print_hex
    PRINT " error="
    mov eax, [esp + 32]
    call print_hex
    call newline
    mov eax, cr2
    cmp eax, 0xD0000000
    je .map_missing
    cmp eax, READ_ONLY
    je .make_writable
    cmp eax, USER_SUPER
    je .allow_user
    PRINT "FAIL: unexpected page fault", 10
    cli
    hlt
.map_missing:
    mov edi, FAULT_TABLE
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [FAULT_TABLE], FAULT_FRAME | 3
    mov dword [PAGE_DIR + (0xD0000000 >> 22) * 4], FAULT_TABLE | 3
    jmp .resume
.make_writable:
    or dword [PAGE_TABLE + (READ_ONLY >> 12) * 4], 2
    invlpg [READ_ONLY]
    jmp .resume
.allow_user:
    or dword [PAGE_TABLE + (USER_SUPER >> 12) * 4], 4
    invlpg [USER_SUPER]
.resume:
    popad
    add esp, 4
    iretd

gp_handler:                     ; [esp+32] error, EIP, CS, EFLAGS, ESP, SS (ES DS FS GS)
    pushad
    test dword [esp + 44], 0x20000
    jnz v86_monitor
    pushfd
    test dword [esp], 0x200
    EXPECT z, "interrupt gate clears IF"
    popfd
    PRINT "kernel: #GP error="
    mov eax, [esp + 32]
    call print_hex
    PRINT " from cs="
    mov eax, [esp + 40]
    call print_hex
    call newline
    mov ebx, [esp + 36]
    mov al, [ebx]
    cmp al, 0xFA                ; CLI: skip it
    je .skip1
    cmp al, 0xE4                ; IN AL, imm8: skip it
    je .skip2
    cmp dword [esp + 32], KERNEL_DS
    EXPECT e, "#GP error code is the selector"
    jmp after_user
.skip2:
    inc dword [esp + 36]
.skip1:
    inc dword [esp + 36]
    popad
    add esp, 4
    iretd

; The virtual-8086 monitor: emulates INT n and IRET for the V86 task (IOPL 0
; makes them fault); INT 81h ends the task.
v86_monitor:
    mov ax, KERNEL_DS           ; leaving V86 made DS/ES null; IRETD restores them
    mov ds, ax
    mov es, ax
    movzx edi, word [esp + 40]  ; CS
    shl edi, 4
    movzx eax, word [esp + 36]  ; IP
    add edi, eax
    movzx ebp, word [esp + 52]  ; SS
    shl ebp, 4
    movzx ecx, word [esp + 48]  ; SP
    mov al, [edi]
    cmp al, 0xCD
    je .int
    cmp al, 0xCF
    je .iret
    PRINT "FAIL: unexpected V86 #GP", 10
    cli
    hlt
.int:
    movzx eax, byte [edi + 1]
    cmp eax, 0x81
    je .exit
    sub cx, 6
    mov [esp + 48], cx
    add ebp, ecx
    mov dx, [esp + 36]
    add dx, 2
    mov [ebp], dx               ; IP after INT n
    mov dx, [esp + 40]
    mov [ebp + 2], dx           ; CS
    mov dx, [esp + 44]
    mov [ebp + 4], dx           ; FLAGS
    movzx edx, word [eax * 4]
    mov [esp + 36], edx         ; CS:IP from the real-mode IVT
    movzx edx, word [eax * 4 + 2]
    mov [esp + 40], edx
    and dword [esp + 44], ~0x300
    popad
    add esp, 4
    iretd
.iret:
    add ebp, ecx
    movzx edx, word [ebp]
    mov [esp + 36], edx
    movzx edx, word [ebp + 2]
    mov [esp + 40], edx
    movzx edx, word [ebp + 4]
    and edx, ~0x3000            ; the V86 task cannot change IOPL
    mov eax, [esp + 44]
    and eax, 0xFFFF3000
    or eax, edx
    mov [esp + 44], eax
    add cx, 6
    mov [esp + 48], cx
    popad
    add esp, 4
    iretd
.exit:
    PRINT "v86: BIOS int 12h returned ax="
    mov eax, [esp + 28]         ; the task's EAX (PUSHAD slot)
    and eax, 0xFFFF
    call print_hex
    call newline
    jmp after_v86

; ------------------------------------------------------------------ V86 code
bits 16
v86_code:                       ; copied to 0000:9000 (V86_CODE)
    mov si, V86_CODE + (v86_text - v86_code)
.print:
    lodsb                       ; OUT from V86: allowed by the TSS I/O bitmap
    test al, al
    jz .printed
    out 0xE9, al
    jmp .print
.printed:
    int 0x12                    ; conventional memory in KiB
    mov bx, ax
    mov ax, 0x0E56              ; teletype 'V'
    int 0x10
    mov ax, bx
    int 0x81
v86_text:
    db "v86: port 0xE9 through the I/O bitmap", 10, 0
v86_code_end:
bits 32

; ------------------------------------------------------------------ helpers
print_str:                      ; esi -> zero-terminated text
    push eax
    push esi
.next:
    lodsb
    test al, al
    jz .done
    out 0xE9, al
    jmp .next
.done:
    pop esi
    pop eax
    ret

print_hex:                      ; eax as 8 hex digits
    push eax
    push ecx
    push edx
    mov ecx, 8
.digit:
    rol eax, 4
    mov edx, eax
    and edx, 0xF
    push eax
    mov al, [hex_digits + edx]
    out 0xE9, al
    pop eax
    loop .digit
    pop edx
    pop ecx
    pop eax
    ret

newline:
    push eax
    mov al, 10
    out 0xE9, al
    pop eax
    ret

set_descriptor:                 ; edi -> entry, eax base, ebx limit (bytes), cl access
    mov [edi], bx
    mov [edi + 2], ax
    shr eax, 16
    mov [edi + 4], al
    mov [edi + 5], cl
    shr ebx, 16
    and bl, 0x0F
    mov [edi + 6], bl
    mov [edi + 7], ah
    ret

set_gate:                       ; eax vector, ebx handler, cl type/DPL byte
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], KERNEL_CS
    mov byte [edi + 4], 0
    mov [edi + 5], cl
    shr ebx, 16
    mov [edi + 6], bx
    ret

section .rodata
hex_digits: db "0123456789ABCDEF"

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; 0x08 kernel code
    dq 0x00CF92000000FFFF       ; 0x10 kernel data
    dq 0x00CFFA000000FFFF       ; 0x18 user code (DPL 3)
    dq 0x00CFF2000000FFFF       ; 0x20 user data (DPL 3)
    dq 0                        ; 0x28 TSS of task 1 (filled in)
    dq 0                        ; 0x30 TSS of task 2 (filled in)
    dq 0                        ; 0x38 call gate (filled in)
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt
idt_descriptor:
    dw 256 * 8 - 1
    dd idt

section .bss
alignb 4096
idt:        resb 256 * 8
tss1:       resb 104
io_bitmap:  resb 8192 + 1
tss1_end:
alignb 16
tss2:       resb 104
alignb 16
            resb 4096
kernel_stack_top:
            resb 4096
user_stack_top:
            resb 4096
task2_stack_top:
