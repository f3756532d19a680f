; Int 13h on hard disks of real sizes (tests/test_bios_disk.py): a boot sector on
; the floppy that works on drive 80h as a boot loader does and reports raw bytes
; on port 0E9h:
;   1. AH=08h: CF, AH, CL, CH, DH, DL (6 bytes);
;   2. AH=02h reads at three CHS addresses worked out from that geometry -- the
;      last addressable sector (Cmax, Hmax, Smax), the first sector of the last
;      cylinder (Cmax, 0, 1) and (256, 1, 1) when the disk has 257 cylinders or
;      more -- each: CF, AH, AL, then the first dword of the sector (7 bytes);
;   3. AH=03h writes "CHSW" + 0x12345678 to (Cmax, 1, 2): CF, AH, AL;
;   4. AH=02h at cylinder Cmax+1 (when it fits in 10 bits): CF, AH, AL;
;   5. AH=48h: CF, AH, then the 1Ah-byte result buffer;
;   6. AH=42h reads the last LBA (from AH=48h): CF, AH, the DAP count, first dword;
;   7. AH=43h writes "EXTW" to the last LBA but one: CF, AH, DAP count;
;   8. AH=42h at LBA = sector count: CF, AH, DAP count.
; Then "END" and hlt.  The disk's sectors hold their LBA in their first dword.
; Build: ./build.sh

bits 16
org 0x7C00

BUFFER  equ 0x8000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld

    mov ah, 0x08                    ; 1. geometry
    mov dl, 0x80
    int 0x13
    pushf
    mov [result], ah
    mov [geometry], cx
    mov [geometry + 2], dh
    popf
    call out_cf_ah
    mov si, geometry
    mov cx, 2
    call out_bytes
    mov al, [geometry + 2]
    out 0xE9, al
    mov al, dl
    out 0xE9, al
    mov ax, [geometry]              ; Cmax = CH | (CL bits 6-7) << 2
    mov bl, al
    xchg al, ah
    shr ah, 6
    mov [cmax], ax
    and bl, 0x3F
    mov [smax], bl

    mov ax, [cmax]                  ; 2. CHS reads
    mov dh, [geometry + 2]
    mov cl, [smax]
    call read_chs
    mov ax, [cmax]
    xor dh, dh
    mov cl, 1
    call read_chs
    cmp word [cmax], 256
    jb .small
    mov ax, 256
    mov dh, 1
    mov cl, 1
    call read_chs
.small:
    mov di, BUFFER                  ; 3. CHS write
    mov dword [di], 'CHSW'
    mov dword [di + 4], 0x12345678
    mov ax, [cmax]
    mov dh, 1
    mov cl, 2
    mov bx, 0x0301
    call chs_call
    call out_result

    mov ax, [cmax]                  ; 4. past the last cylinder
    inc ax
    cmp ax, 1024
    jae .no_beyond
    xor dh, dh
    mov cl, 1
    mov bx, 0x0201
    call chs_call
    call out_result
.no_beyond:
    mov si, params                  ; 5. AH=48h
    mov word [si], 0x1A
    mov ah, 0x48
    mov dl, 0x80
    int 0x13
    call out_cf_ah
    mov si, params
    mov cx, 0x1A
    call out_bytes

    mov eax, [params + 16]          ; 6. AH=42h at the last LBA
    dec eax
    mov bx, 0x4200
    call lba_call
    mov si, BUFFER
    mov cx, 4
    call out_bytes
    mov di, BUFFER                  ; 7. AH=43h at the last LBA but one
    mov dword [di], 'EXTW'
    mov eax, [params + 16]
    sub eax, 2
    mov bx, 0x4300
    call lba_call
    mov eax, [params + 16]          ; 8. AH=42h past the end
    mov bx, 0x4200
    call lba_call

    mov si, msg_end
    mov cx, 3
    call out_bytes
    hlt

; read_chs: AX cylinder, DH head, CL sector; one sector to BUFFER; reports
; CF, AH, AL and the sector's first dword
read_chs:
    mov dword [BUFFER], 0xFFFFFFFF
    mov bx, 0x0201
    call chs_call
    call out_result
    mov si, BUFFER
    mov cx, 4
    jmp out_bytes

; chs_call: AX cylinder, DH head, CL sector, BX = function and count; int 13h on 80h
chs_call:
    mov ch, al                      ; CH = cylinder bits 0-7
    shl ah, 6
    or cl, ah                       ; CL bits 6-7 = cylinder bits 8-9
    mov ax, bx
    mov dl, 0x80
    mov bx, BUFFER
    int 0x13
    ret

; lba_call: EAX the LBA, BH the function; one block through the DAP; reports CF,
; AH and the DAP's block count afterwards
lba_call:
    mov si, dap
    mov byte [si], 0x10
    mov byte [si + 1], 0
    mov word [si + 2], 1
    mov word [si + 4], BUFFER
    mov word [si + 6], 0
    mov [si + 8], eax
    mov dword [si + 12], 0
    mov ah, bh
    mov dl, 0x80
    int 0x13
    call out_cf_ah
    mov al, [dap + 2]
    out 0xE9, al
    ret

; out_result: CF, AH, AL after an int 13h call
out_result:
    call out_cf_ah
    out 0xE9, al
    ret

; out_cf_ah: the carry flag as 0/1 and AH; keeps AL
out_cf_ah:
    push ax
    setc al
    out 0xE9, al
    mov al, ah
    out 0xE9, al
    pop ax
    ret

; out_bytes: CX bytes at DS:SI
out_bytes:
    lodsb
    out 0xE9, al
    loop out_bytes
    ret

msg_end  db "END"

    times 510 - ($ - $$) db 0
    dw 0xAA55

; data past the boot sector (not loaded: only addresses are used)
result   equ 0x7E00
geometry equ 0x7E02
cmax     equ 0x7E06
smax     equ 0x7E08
dap      equ 0x7E10
params   equ 0x7E20
