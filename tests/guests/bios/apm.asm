; Int 15h AH=53h, the APM BIOS: installation check, the real-mode connection and its
; errors, status calls, then "all devices off", which must power the PC off (the
; test checks the stop reason); "PASS" is printed just before, so a BIOS that
; returns from the off call halts after "PASS" and fails the test on the reason.
%include "lib.inc"

main:
    mov ax, 0x5300                  ; installation check: APM 1.2, "PM"
    xor bx, bx
    int 0x15
    expect_cf 0
    expect ax, 0x0102
    expect bx, 0x504D
    mov ax, 0x5300                  ; only the BIOS (device 0) answers it
    mov bx, 0x0001
    int 0x15
    expect_cf 1
    expect ah, 0x09

    mov ax, 0x5304                  ; disconnect before a connection: 03h
    xor bx, bx
    int 0x15
    expect_cf 1
    expect ah, 0x03
    mov ax, 0x5307                  ; power calls need a connection: 03h
    mov bx, 0x0001
    mov cx, 0x0003
    int 0x15
    expect_cf 1
    expect ah, 0x03

    mov ax, 0x5301                  ; real-mode connect, then again: 02h
    xor bx, bx
    int 0x15
    expect_cf 0
    mov ax, 0x5301
    xor bx, bx
    int 0x15
    expect_cf 1
    expect ah, 0x02
    mov ax, 0x5303                  ; no 32-bit protected-mode interface: 08h
    xor bx, bx
    int 0x15
    expect_cf 1
    expect ah, 0x08

    mov ax, 0x530E                  ; driver version 1.1: connection version 1.1
    xor bx, bx
    mov cx, 0x0101
    int 0x15
    expect_cf 0
    expect ax, 0x0101
    mov ax, 0x530B                  ; no PM events pending: 80h
    xor bx, bx
    int 0x15
    expect_cf 1
    expect ah, 0x80
    mov ax, 0x530A                  ; power status: on AC, no battery
    mov bx, 0x0001
    int 0x15
    expect_cf 0
    expect bh, 0x01
    expect ch, 0x80
    mov ax, 0x5308                  ; enable power management for all devices
    mov bx, 0x0001
    mov cx, 0x0001
    int 0x15
    expect_cf 0
    mov ax, 0x5307                  ; standby cannot be entered here: 60h
    mov bx, 0x0001
    mov cx, 0x0001
    int 0x15
    expect_cf 1
    expect ah, 0x60

    mov si, msg_pass
    call print_e9
    mov ax, 0x5307                  ; all devices off
    mov bx, 0x0001
    mov cx, 0x0003
    int 0x15
    cli
    hlt

%include "report.inc"
guest_end:
