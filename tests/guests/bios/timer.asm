; int 08h/1Ch tick counting, int 1Ah tick and RTC functions, midnight rollover,
; int 15h AH=86h wait, on the pc.yaml machine (PIT at 18.2 Hz, RTC started at
; 2026-01-01 00:00:00 by the test).
%include "lib.inc"

main:
    sti
    mov ah, 0x04                    ; RTC date
    int 0x1A
    expect_cf 0
    expect cx, 0x2026
    expect dx, 0x0101
    mov ah, 0x02                    ; RTC time: the first seconds of the day
    int 0x1A
    expect_cf 0
    expect cx, 0x0000
    cmp dh, 0x05
    expect_cf 1

    mov ah, 0x00                    ; ticks advance while we wait in HLT
    int 0x1A
    mov bx, dx
.tick:
    hlt
    mov ah, 0x00
    int 0x1A
    cmp dx, bx
    je .tick

    xor ax, ax                      ; a user int 1Ch hook sees every tick
    mov es, ax
    mov eax, [es:0x1C*4]
    mov [old_1c], eax
    cli
    mov word [es:0x1C*4], user_1c
    mov word [es:0x1C*4+2], 0
    sti
    mov cx, 3
.three_ticks:
    hlt
    cmp word [hook_count], 3
    jb .three_ticks
    cli
    mov eax, [old_1c]
    mov [es:0x1C*4], eax
    sti

    mov ah, 0x01                    ; set the count just before midnight
    mov cx, 0x0018
    mov dx, 0x00AF
    int 0x1A
    expect_cf 0
.midnight:
    hlt
    mov ah, 0x00
    int 0x1A
    cmp cx, 0x0018
    je .midnight
    expect al, 1                    ; rolled over: flag set once
    expect cx, 0
    cmp dx, 3
    expect_cf 1
    mov ah, 0x00
    int 0x1A
    expect al, 0

    mov ah, 0x00                    ; int 15h/86h: 330 ms = 6 ticks
    int 0x1A
    mov bx, dx
    mov ah, 0x86
    mov cx, 0x0005
    mov dx, 0x09090                 ; 0x59090 us = 364,688 us
    int 0x15
    expect_cf 0
    mov ah, 0x00
    int 0x1A
    sub dx, bx
    cmp dx, 6
    expect_cf 0
    cmp dx, 8
    expect_cf 1

    mov ah, 0x03                    ; set and read back the RTC time and date
    mov cx, 0x1234
    mov dx, 0x5600
    int 0x1A
    expect_cf 0
    mov ah, 0x05
    mov cx, 0x2027
    mov dx, 0x1231
    int 0x1A
    expect_cf 0
    mov ah, 0x02
    int 0x1A
    expect cx, 0x1234
    and dh, 0xFE
    expect dh, 0x56
    mov ah, 0x04
    int 0x1A
    expect cx, 0x2027
    expect dx, 0x1231

    mov ah, 0x06                    ; alarm: set, refused while set, reset
    mov cx, 0x2300
    xor dh, dh
    int 0x1A
    expect_cf 0
    mov ah, 0x06
    int 0x1A
    expect_cf 1
    mov ah, 0x07
    int 0x1A
    expect_cf 0
    mov ah, 0x06
    int 0x1A
    expect_cf 0
    mov ah, 0x07
    int 0x1A
    jmp test_passed

user_1c:
    inc word [cs:hook_count]
    iret

old_1c:     dd 0
hook_count: dw 0

%include "report.inc"
guest_end:
