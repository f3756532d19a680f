; CMOS/RTC and serial guest (tests/test_device_guests.py), reporting on the debug
; console (port 0xE9):
;   COM1 (16550A at 3F8h): divisor latch 1 (115200 baud), 8N1, FIFOs on; scratch
;        register; loopback (MCR bit 4) echoes a byte and maps RTS/OUT1/OUT2 onto
;        CTS/RI/DCD; then "hello from COM1" is sent polling THRE, and TEMT is awaited
;        so that every byte has left before the guest stops
;   RTC (MC146818 at 70h/71h): the date and time read after update-in-progress
;        clears, twice until both reads agree, in BCD (as the BIOS leaves status B)
;        and in binary (status B DM); a time set with SET (2026-12-31 23:59:59);
;        the periodic interrupt at 1024 Hz (status A rate 6, status B PIE) on IRQ8,
;        slave 8259A vector 28h, register C read to acknowledge, EOI to both;
;        512 of them counted with STI; HLT, then the RTC read after each until the
;        year has rolled over; the hours in 12-hour mode.
; Lines end "done".

%include "boot.inc"

COM1            equ 0x3f8
UART_LCR        equ COM1 + 3
UART_MCR        equ COM1 + 4
UART_LSR        equ COM1 + 5
UART_MSR        equ COM1 + 6
UART_SCR        equ COM1 + 7
LCR_DLAB        equ 0x80
LCR_8N1         equ 0x03
LSR_DR          equ 0x01
LSR_THRE        equ 0x20
LSR_TEMT        equ 0x40
MCR_LOOPBACK    equ 0x10
CMOS_INDEX      equ 0x70
CMOS_DATA       equ 0x71
RTC_SECONDS     equ 0x00
RTC_MINUTES     equ 0x02
RTC_HOURS       equ 0x04
RTC_DAY         equ 0x07
RTC_MONTH       equ 0x08
RTC_YEAR        equ 0x09
RTC_A           equ 0x0a
RTC_B           equ 0x0b
RTC_C           equ 0x0c
RTC_CENTURY     equ 0x32
A_UIP           equ 0x80
A_RATE_1024HZ   equ 0x06
B_SET           equ 0x80
B_PIE           equ 0x40
B_BINARY        equ 0x04
B_24HOUR        equ 0x02
C_PF            equ 0x40
RTC_VECTOR      equ 0x28            ; slave base 28h + IRQ8 - 8
PERIODIC_COUNT  equ 512

main:   print "rtcserial: start", 10
        mov word [periodic], 0
        call serial
        cli

        call read_time
        mov al, RTC_B
        call cmos_read
        mov ah, al
        print "rtc bcd "
        mov bx, put_hex8
        call put_time
        print " b="
        mov al, ah
        call put_hex8
        call put_nl

        mov al, RTC_B
        mov ah, B_BINARY
        call cmos_set_bits
        call read_time
        print "rtc binary "
        mov bx, put_dec2
        call put_time
        call put_nl

        mov al, RTC_B
        mov ah, B_SET
        call cmos_set_bits
        mov si, new_time
.set:   lodsw                       ; AL = register, AH = value
        test al, al
        js .set_done
        call cmos_write
        jmp .set
.set_done:
        mov al, RTC_B
        mov ah, B_SET
        call cmos_clear_bits

        mov bx, 0x2820
        call pic_remap
        mov al, RTC_VECTOR
        mov dx, rtc_handler
        call set_vector
        mov al, 0xfb                ; master: the cascade input IRQ2 only
        out 0x21, al
        mov al, 0xfe                ; slave: IRQ8 only
        out 0xa1, al
        mov al, RTC_A
        call cmos_read
        and al, 0xf0
        or al, A_RATE_1024HZ
        mov ah, al
        mov al, RTC_A
        call cmos_write
        mov al, RTC_C               ; drop stale flags
        call cmos_read
        print "rtc periodic start", 10
        mov al, RTC_B
        mov ah, B_PIE
        call cmos_set_bits
        sti
.count: hlt
        cmp word [periodic], PERIODIC_COUNT
        jb .count
        cli
        print "rtc periodic ticks="
        mov ax, [periodic]
        call put_dec
        call put_nl

.roll:  sti                         ; the handler uses the index port: read with CLI
        hlt
        cli
        call read_time
        cmp byte [now + 5], 26      ; year
        je .roll
        print "rtc after "
        mov bx, put_dec2
        call put_time
        call put_nl

        mov al, RTC_B
        mov ah, B_24HOUR
        call cmos_clear_bits
        mov al, RTC_HOURS
        call cmos_read
        print "rtc 12h hours="
        call put_hex8
        call put_nl
        print "done", 10
        jmp stop

; register, value pairs written while SET is 1 (binary): 2026-12-31 23:59:59
new_time db RTC_YEAR, 26, RTC_MONTH, 12, RTC_DAY, 31, RTC_HOURS, 23
         db RTC_MINUTES, 59, RTC_SECONDS, 59, 0xff, 0

; serial: program COM1 and report its scratch register and loopback, then say hello
serial: mov dx, UART_LCR
        mov al, LCR_DLAB
        out dx, al
        mov dx, COM1                ; DLL, DLM: divisor 1
        mov al, 1
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, UART_LCR
        mov al, LCR_8N1
        out dx, al
        mov dx, COM1 + 1            ; IER: no interrupts
        xor al, al
        out dx, al
        inc dx                      ; FCR: FIFOs on and cleared, trigger 14
        mov al, 0xc7
        out dx, al
        mov dx, UART_SCR
        mov al, 0xa5
        out dx, al
        in al, dx
        print "serial scratch="
        call put_hex8
        mov dx, UART_MCR
        mov al, MCR_LOOPBACK | 0x0e ; loopback; RTS, OUT1, OUT2 on; DTR off
        out dx, al
        mov dx, COM1
        mov al, 0x5a
        out dx, al
        mov dx, UART_LSR
.echo:  in al, dx
        test al, LSR_DR
        jz .echo
        mov dx, COM1
        in al, dx
        print " loopback="
        call put_hex8
        mov dx, UART_MSR
        in al, dx
        and al, 0xf0                ; DCD RI DSR CTS
        print " msr="
        call put_hex8
        mov dx, UART_MCR
        mov al, 0x0b                ; DTR, RTS, OUT2: normal operation
        out dx, al
        mov si, hello
.next:  lodsb
        test al, al
        jz .sent
        mov ah, al
        mov dx, UART_LSR
.thre:  in al, dx
        test al, LSR_THRE
        jz .thre
        mov al, ah
        mov dx, COM1
        out dx, al
        jmp .next
.sent:  mov dx, UART_LSR
.temt:  in al, dx
        test al, LSR_TEMT
        jz .temt
        print " sent", 10
        ret

hello   db "hello from COM1", 13, 10, 0

; cmos_read: AL = CMOS register AL; cmos_write: register AL = AH
cmos_read:
        out CMOS_INDEX, al
        in al, CMOS_DATA
        ret
cmos_write:
        out CMOS_INDEX, al
        xchg al, ah
        out CMOS_DATA, al
        xchg al, ah
        ret

; cmos_set_bits / cmos_clear_bits: register AL |= AH / &= ~AH
cmos_set_bits:
        push bx
        mov bl, al
        call cmos_read
        or al, ah
        jmp cmos_store_bits
cmos_clear_bits:
        push bx
        mov bl, al
        call cmos_read
        not ah
        and al, ah
        not ah
cmos_store_bits:
        mov bh, ah
        mov ah, al
        mov al, bl
        call cmos_write
        mov ah, bh
        pop bx
        ret

; read_time: the date and time into `now` once update-in-progress is clear, read
; again until two reads agree (an update may fall between them)
read_time:
        push cx
        push si
        push di
.again: mov di, now
        call read_fields
        mov di, check
        call read_fields
        mov si, now
        mov di, check
        mov cx, FIELDS
        repe cmpsb
        jne .again
        pop di
        pop si
        pop cx
        ret

read_fields:
        mov al, RTC_A
        call cmos_read
        test al, A_UIP
        jnz read_fields
        mov si, field_registers
        mov cx, FIELDS
.next:  lodsb
        call cmos_read
        stosb
        loop .next
        ret

; put_time: `now` as CCYY-MM-DD hh:mm:ss, each field printed by the routine at BX
put_time:
        push ax
        mov al, [now + 6]
        call bx
        mov al, [now + 5]
        call bx
        mov al, '-'
        out DEBUGCON, al
        mov al, [now + 4]
        call bx
        mov al, '-'
        out DEBUGCON, al
        mov al, [now + 3]
        call bx
        mov al, ' '
        out DEBUGCON, al
        mov al, [now + 2]
        call bx
        mov al, ':'
        out DEBUGCON, al
        mov al, [now + 1]
        call bx
        mov al, ':'
        out DEBUGCON, al
        mov al, [now]
        call bx
        pop ax
        ret

; put_dec2: AL (0-99) as two decimal digits
put_dec2:
        push ax
        push bx
        xor ah, ah
        mov bl, 10
        div bl
        add ax, '00'
        out DEBUGCON, al
        mov al, ah
        out DEBUGCON, al
        pop bx
        pop ax
        ret

rtc_handler:
        push ax
        mov al, RTC_C               ; reading C acknowledges the interrupt
        out CMOS_INDEX, al
        in al, CMOS_DATA
        test al, C_PF
        jz .eoi
        inc word [cs:periodic]
.eoi:   mov al, 0x20                ; non-specific EOI: slave, then master
        out 0xa0, al
        out 0x20, al
        pop ax
        iret

FIELDS equ 7
field_registers db RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY, RTC_MONTH, RTC_YEAR, RTC_CENTURY

%include "lib.inc"

absolute VARIABLES
now      resb FIELDS                ; seconds, minutes, hours, day, month, year, century
check    resb FIELDS                ; the second read
periodic resw 1                     ; periodic interrupts counted
