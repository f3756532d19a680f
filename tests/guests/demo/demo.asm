; pcmachine's bundled demo disk: booted by `machine run pc.yaml` when no medium is
; given.  It greets the user through int 10h teletype, draws a colour bar straight
; into VGA memory, and halts.  (It grows into the demo OS later.)
        bits 16
        org 0x7c00

start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        mov ax, 0x0003
        int 0x10
        mov si, banner
        call print
        mov ax, 0xb800                  ; a colour bar on row 10, one cell per attribute
        mov es, ax
        mov di, 10 * 160
        mov cx, 80
        mov ax, 0x00db                  ; full block
.bar:   stosw
        add ah, 0x01
        and ah, 0x0f
        loop .bar
        mov ah, 0x02                    ; cursor below the bar
        xor bh, bh
        mov dx, 0x0c00
        int 0x10
        mov si, usage
        call print
.halt:  hlt
        jmp .halt

; Print the NUL-terminated string at DS:SI with int 10h AH=0Eh.
print:  lodsb
        test al, al
        jz .ret
        mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        jmp print
.ret:   ret

banner  db "pcmachine demo disk", 13, 10
        db "This boot sector was loaded by the BIOS to 0000:7C00.", 13, 10, 0
usage   db "Boot your own image: machine run pc.yaml --fda floppy.img", 13, 10
        db "Halting with interrupts disabled.", 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
