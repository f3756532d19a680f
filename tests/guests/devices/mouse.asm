; PS/2 mouse through the BIOS (tests/test_bios_mouse.py): int 15h C2xxh as a DOS
; mouse driver uses it, then packets delivered to a device handler by the BIOS's
; IRQ 12 handler.  Reports on the debug console (port 0xE9):
;   "pointing device: 01"        int 11h's equipment word, bit 2 (a PS/2 mouse
;                                is attached: IBM's PS/2 BIOS and SeaBIOS set it;
;                                DOS-era OSes test it before touching port 64h)
;   "no handler: cf=1 ah=05"     C200h BH=1 before C207h
;   "init: cf=0 bx=00AA"         C205h BH=3 (reset: BH = ID 00, BL = AAh); when it
;                                fails: "no mouse" and the guest stops
;   "type: bh=00"                C204h
;   "bad rate: cf=1 ah=02"       C202h BH=9
;   "status: bl=00 cl=03 dl=64"  C206h BH=0 after rate 100 (C202h BH=5) and
;                                8 counts/mm (C203h BH=3); disabled, scaling 1:1
;   "enabled: cf=0"              C207h ES:BX = handler, C200h BH=1
;   "waiting for the mouse"      also on the screen (`machine run --wait`), as "done" 
; then, for each of PACKETS packets: "packet s=.. x=.. y=.." (status, X, Y as the
; handler found them on its stack), "disabled: cf=0", "done".

%include "boot.inc"

PACKETS equ 2

main:   print "mouse: start", 10
        int 0x11
        shr al, 2
        and al, 1
        print "pointing device: "
        call put_hex8
        call put_nl
        mov word [count], 0
        mov ax, 0xc200
        mov bh, 1
        int 0x15
        setc [last_cf]
        print "no handler: "
        call report_cf_ah

        mov ax, 0xc205
        mov bh, 3
        int 0x15
        setc [last_cf]
        print "init: cf="
        call put_cf
        print " bx="
        mov ax, bx
        call put_hex16
        call put_nl
        cmp byte [last_cf], 0
        je .present
        print "no mouse", 10
        jmp stop
.present:

        mov ax, 0xc204
        int 0x15
        setc [last_cf]
        print "type: bh="
        mov al, bh
        call put_hex8
        call put_nl

        mov ax, 0xc202
        mov bh, 9
        int 0x15
        setc [last_cf]
        print "bad rate: "
        call report_cf_ah

        mov ax, 0xc202
        mov bh, 5
        int 0x15
        setc [last_cf]
        mov ax, 0xc203
        mov bh, 3
        int 0x15
        setc [last_cf]
        mov ax, 0xc206
        mov bh, 0
        int 0x15
        setc [last_cf]
        print "status: bl="
        mov al, bl
        call put_hex8
        print " cl="
        mov al, cl
        call put_hex8
        print " dl="
        mov al, dl
        call put_hex8
        call put_nl

        push cs
        pop es
        mov bx, handler
        mov ax, 0xc207
        int 0x15
        setc [last_cf]
        mov ax, 0xc200
        mov bh, 1
        int 0x15
        setc [last_cf]
        print "enabled: cf="
        call put_cf
        call put_nl
        mov si, waiting             ; on the screen too: what `machine run --wait` waits for
        call show

        sti
.wait:  hlt
        cmp word [count], PACKETS
        jb .wait
        cli
        mov si, packets
        mov cx, PACKETS
.show:  print "packet s="
        lodsb
        call put_hex8
        print " x="
        lodsb
        call put_hex8
        print " y="
        lodsb
        call put_hex8
        call put_nl
        loop .show

        mov ax, 0xc200
        mov bh, 0
        int 0x15
        setc [last_cf]
        print "disabled: cf="
        call put_cf
        call put_nl
        mov si, done                ; on the screen too
        call show
        jmp stop

; handler: far-called by the BIOS with the words status, X, Y, 0 on the stack
handler:
        push bp
        mov bp, sp
        push ax
        push di
        mov di, [count]
        cmp di, PACKETS
        jae .full
        imul di, di, 3
        add di, packets
        mov al, [bp + 12]               ; status
        mov [di], al
        mov al, [bp + 10]               ; X
        mov [di + 1], al
        mov al, [bp + 8]                ; Y
        mov [di + 2], al
        inc word [count]
.full:  pop di
        pop ax
        pop bp
        retf

; put_cf: "0" or "1": the carry flag the last int 15h returned
put_cf: push ax
        mov al, [last_cf]
        add al, '0'
        out DEBUGCON, al
        pop ax
        ret

; report_cf_ah: "cf=C ah=XX" and a newline
report_cf_ah:
        print "cf="
        call put_cf
        print " ah="
        mov al, ah
        call put_hex8
        call put_nl
        ret

waiting db "waiting for the mouse", 10, 0
done    db "done", 10, 0

%include "lib.inc"

absolute VARIABLES
count:      resw 1
last_cf:    resb 1
packets:    resb 3 * PACKETS
