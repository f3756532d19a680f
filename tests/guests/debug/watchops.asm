; Watchpoints without stepping (tests/test_debugger.py): a boot sector whose
; instructions load, store and read-modify-write a watched data area (VAR,
; 0000:0500) and a watched stack (below 0000:7000), each kind of instruction
; that makes several accesses or changes a register between them: MOV, ADD to
; memory, XCHG, XADD, CMPXCHG, BTS, PUSH/POP of memory, CALL/RET (near and
; through memory), PUSHA/POPA, ENTER/LEAVE, PUSHF/POPF, MOVS, LODS, STOS, REP
; MOVSB, INT/IRET, FILD/FISTP; first in real mode, then in 32-bit protected mode
; with paging on (the first 4 MiB mapped to themselves), three turns each so
; that the loops' blocks run more than once.  A watch hit inside a block sends
; its instruction back to run alone; the test checks every stop against a run
; that steps each instruction.  Ends with 'D' on port E9h and HLT.
; Build: ./build.sh (nasm -f bin)

bits 16
org 0x7C00

VAR     equ 0x0500
STACK   equ 0x7000
PD      equ 0x9000                  ; page directory
PT      equ 0xA000                  ; its first page table

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, STACK
    mov word [0x60 * 4], handler16  ; INT 60h
    mov word [0x60 * 4 + 2], 0
    mov word [VAR + 16], sub16      ; CALL [VAR + 16]
    fninit
    mov cx, 3
.turn:
    mov ax, [VAR]
    add ax, 3
    mov [VAR], ax
    add word [VAR + 2], 5
    xchg ax, [VAR + 4]
    xadd [VAR + 6], ax
    mov bx, cx
    cmpxchg [VAR + 6], bx
    bts word [VAR + 8], cx
    push word [VAR]
    pop word [VAR + 10]
    call sub16
    call word [VAR + 16]
    pusha
    popa
    enter 4, 0
    leave
    pushf
    popf
    mov si, VAR
    mov di, VAR + 12
    movsw
    lodsw
    stosw
    push cx
    mov cx, 3
    mov si, VAR + 1
    mov di, VAR + 9
    rep movsb
    pop cx
    int 0x60
    fild word [VAR + 2]
    fistp word [VAR + 14]
    loop .turn

    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:protected

sub16:
    add word [VAR + 4], 1
    ret

handler16:
    add word [VAR + 6], 2
    iret

bits 32
protected:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK
    mov edi, PT                     ; identity-map the first 4 MiB
    mov eax, 3                      ; present, writable
.map:
    stosd
    add eax, 0x1000
    cmp edi, PT + 0x1000
    jne .map
    mov dword [PD], PT | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [VAR + 16], sub32
    mov ecx, 3
.turn:
    mov eax, [VAR]
    add eax, 3
    mov [VAR], eax
    add dword [VAR + 4], 5
    xchg eax, [VAR + 8]
    xadd [VAR + 12], eax
    mov ebx, ecx
    cmpxchg [VAR + 12], ebx
    bts dword [VAR], ecx
    push dword [VAR]
    pop dword [VAR + 4]
    call sub32
    call dword [VAR + 16]
    pushad
    popad
    enter 8, 0
    leave
    pushfd
    popfd
    mov esi, VAR
    mov edi, VAR + 8
    movsd
    lodsd
    stosd
    push ecx
    mov ecx, 5
    mov esi, VAR + 1
    mov edi, VAR + 7
    rep movsb
    pop ecx
    fild dword [VAR + 4]
    fistp dword [VAR + 12]
    loop .turn
    mov al, 'D'
    out 0xE9, al
    hlt                             ; interrupts off: the run ends here

sub32:
    add dword [VAR + 8], 1
    ret

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 08: flat 32-bit code
    dq 0x00CF92000000FFFF           ; 10: flat data
gdtr:
    dw gdtr - gdt - 1
    dd gdt

times 510 - ($ - $$) db 0
dw 0xAA55
