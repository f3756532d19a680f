; A FAT12 floppy boot sector: finds LOADER.BIN in the root directory, loads it by
; following its FAT12 cluster chain to 1000:0000 with int 13h AH=02h (one sector at
; a time, LBA converted to CHS with the BPB geometry), and jumps to it with DL = the
; boot drive.  Prints "FAT12 boot" first, and "E:x" on error, via int 10h AH=0Eh.
bits 16
org 0x7C00

LOAD_SEGMENT equ 0x1000
ROOT_BUFFER  equ 0x0500             ; 14 sectors of root directory: 0500-1EFF
FAT_BUFFER   equ 0x2000             ; 9 sectors of FAT: 2000-31FF

    jmp short start
    nop
oem:                db "PCMACHIN"
bytes_per_sector:   dw 512
sectors_per_cluster: db 1
reserved_sectors:   dw 1
fat_count:          db 2
root_entries:       dw 224
total_sectors:      dw 2880
media:              db 0xF0
sectors_per_fat:    dw 9
sectors_per_track:  dw 18
head_count:         dw 2
hidden_sectors:     dd 0
large_sectors:      dd 0
drive_number:       db 0
                    db 0
boot_signature:     db 0x29
volume_id:          dd 0x12345678
volume_label:       db "PCMACHINE  "
fs_type:            db "FAT12   "

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov [drive_number], dl
    mov si, msg_boot
    call print

    ; root directory: LBA = reserved + fats * sectors_per_fat
    mov al, [fat_count]
    cbw
    mul word [sectors_per_fat]
    add ax, [reserved_sectors]
    mov [root_lba], ax
    mov ax, [root_entries]          ; root sectors = entries * 32 / 512
    shr ax, 4
    mov [root_sectors], ax
    add ax, [root_lba]
    mov [data_lba], ax

    mov ax, [root_lba]
    mov cx, [root_sectors]
    mov bx, ROOT_BUFFER
    call read_sectors

    mov cx, [root_entries]          ; find LOADER  BIN
    mov di, ROOT_BUFFER
.search:
    push cx
    push di
    mov si, loader_name
    mov cx, 11
    repe cmpsb
    pop di
    pop cx
    je .found
    add di, 32
    loop .search
    mov al, 'N'
    jmp error
.found:
    mov ax, [di + 26]               ; first cluster
    mov [cluster], ax

    mov ax, [reserved_sectors]      ; the first FAT
    mov cx, [sectors_per_fat]
    mov bx, FAT_BUFFER
    call read_sectors

    mov ax, LOAD_SEGMENT
    mov es, ax
    xor bx, bx
.next_cluster:
    mov ax, [cluster]               ; LBA = data + (cluster - 2) * sectors per cluster
    sub ax, 2
    xor ch, ch
    mov cl, [sectors_per_cluster]
    mul cx
    add ax, [data_lba]
    call read_sectors               ; CX sectors to ES:BX, BX advanced
    mov ax, [cluster]               ; FAT12: entry at cluster * 3 / 2
    mov si, ax
    shr si, 1
    add si, ax
    mov dx, [FAT_BUFFER + si]
    test al, 1
    jz .even
    shr dx, 4
.even:
    and dx, 0x0FFF
    mov [cluster], dx
    cmp dx, 0x0FF8
    jb .next_cluster

    mov dl, [drive_number]
    jmp LOAD_SEGMENT:0

; read_sectors: CX sectors from LBA AX to ES:BX (BX advanced past them)
read_sectors:
    push ax
    push cx
    push dx
    xor dx, dx                      ; CHS: sector = LBA % spt + 1, head/cylinder
    div word [sectors_per_track]
    inc dl
    mov cl, dl
    xor dx, dx
    div word [head_count]
    mov dh, dl
    mov ch, al
    mov dl, [drive_number]
    mov ax, 0x0201
    int 0x13
    jnc .ok
    mov al, 'R'
    jmp error
.ok:
    pop dx
    pop cx
    pop ax
    add bx, 512
    inc ax
    loop read_sectors
    ret

error:
    push ax
    mov si, msg_error
    call print
    pop ax
    mov ah, 0x0E
    int 0x10
    cli
    hlt

print:
    lodsb
    test al, al
    jz .done
    mov ah, 0x0E
    xor bx, bx
    int 0x10
    jmp print
.done:
    ret

msg_boot:    db "FAT12 boot", 13, 10, 0
msg_error:   db "E:", 0
loader_name: db "LOADER  BIN"
root_lba:     dw 0
root_sectors: dw 0
data_lba:     dw 0
cluster:      dw 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
