; Keyboard echo guest (tests/test_device_guests.py): an IRQ1 handler reads scan codes
; from port 60h (set 1, as the 8042 translates them), turns make codes into ASCII on a
; US layout (letters, digits, punctuation, space, with either Shift held) and echoes
; each character to VGA text memory (B800h) and to the debug console; Enter starts a
; new line (scrolling at the bottom), Backspace erases.  Break codes and E0-prefixed
; keys other than keypad Enter are ignored.  The handler ends with a non-specific EOI,
; so every key can follow.  Setup: PIC pair remapped to 20h/28h with IRQ1 the only
; line open; the 8042 command byte gets IRQ1 and translation on (keyboard disabled
; while it changes); the hardware cursor follows the text.  Row 0 says when it is
; ready; typed text starts on row 2.

%include "boot.inc"

KBC_DATA        equ 0x60
KBC_STATUS      equ 0x64            ; reads: status, writes: command
STATUS_OBF      equ 0x01
STATUS_IBF      equ 0x02
CMD_READ_CCB    equ 0x20
CMD_WRITE_CCB   equ 0x60
CMD_DISABLE_KBD equ 0xad
CMD_ENABLE_KBD  equ 0xae
CCB_IRQ1        equ 0x01
CCB_KBD_OFF     equ 0x10
CCB_TRANSLATE   equ 0x40
KEYBOARD_VECTOR equ 0x21
SCREEN_SEGMENT  equ 0xb800
COLUMNS         equ 80
ROWS            equ 25
FIRST_ROW       equ 2
TEXT_ATTRIBUTE  equ 0x07
SC_ENTER        equ 0x1c
SC_BACKSPACE    equ 0x0e
SC_LSHIFT       equ 0x2a
SC_RSHIFT       equ 0x36
SC_PREFIX       equ 0xe0
BREAK_BIT       equ 0x80

main:   mov byte [shift], 0
        mov byte [prefixed], 0
        mov bx, 0x2820
        call pic_remap
        mov al, KEYBOARD_VECTOR
        mov dx, keyboard_handler
        call set_vector
        call clear_screen

        mov al, CMD_DISABLE_KBD
        call kbc_command
.flush: in al, KBC_STATUS           ; drop anything typed before we took over
        test al, STATUS_OBF
        jz .flushed
        in al, KBC_DATA
        jmp .flush
.flushed:
        mov al, CMD_READ_CCB
        call kbc_command
        call kbc_read
        and al, ~CCB_KBD_OFF
        or al, CCB_IRQ1 | CCB_TRANSLATE
        mov ah, al
        mov al, CMD_WRITE_CCB
        call kbc_command
        mov al, ah
        call kbc_data
        mov al, CMD_ENABLE_KBD
        call kbc_command

        mov al, 0xfd                ; unmask IRQ1 only
        out 0x21, al
        mov si, ready_text
        xor di, di
        call screen_string
        print "kbd: ready", 10
        sti
.idle:  hlt
        jmp .idle

ready_text db "Keyboard echo ready", 0

; kbc_command / kbc_data: AL to port 64h / 60h once the input buffer is empty
kbc_command:
        call kbc_wait_input
        out KBC_STATUS, al
        ret
kbc_data:
        call kbc_wait_input
        out KBC_DATA, al
        ret
kbc_wait_input:
        push ax
.busy:  in al, KBC_STATUS
        test al, STATUS_IBF
        jnz .busy
        pop ax
        ret

; kbc_read: AL = the next byte of the output buffer (waits for OBF)
kbc_read:
        in al, KBC_STATUS
        test al, STATUS_OBF
        jz kbc_read
        in al, KBC_DATA
        ret

keyboard_handler:
        push ax
        push bx
        push ds
        xor ax, ax
        mov ds, ax
        in al, KBC_DATA
        cmp byte [prefixed], 0
        mov byte [prefixed], 0
        jne .prefixed
        cmp al, SC_PREFIX
        je .prefix
        cmp al, SC_LSHIFT
        je .shift_down
        cmp al, SC_RSHIFT
        je .shift_down
        cmp al, SC_LSHIFT | BREAK_BIT
        je .shift_up
        cmp al, SC_RSHIFT | BREAK_BIT
        je .shift_up
        test al, BREAK_BIT
        jnz .eoi
        cmp al, SC_ENTER
        je .enter
        cmp al, SC_BACKSPACE
        je .backspace
        cmp al, KEYMAP_SIZE
        jae .eoi
        mov bx, keymap
        cmp byte [shift], 0
        je .lookup
        mov bx, keymap_shift
.lookup:
        xlatb
        test al, al
        jz .eoi
        call echo_char
        jmp .eoi
.prefix:
        mov byte [prefixed], 1
        jmp .eoi
.prefixed:                          ; E0 xx: keypad Enter is Enter, the rest ignored
        cmp al, SC_ENTER
        jne .eoi
.enter: call new_line
        jmp .eoi
.backspace:
        call erase_char
        jmp .eoi
.shift_down:
        inc byte [shift]
        jmp .eoi
.shift_up:
        cmp byte [shift], 0
        je .eoi
        dec byte [shift]
.eoi:   mov al, 0x20                ; OCW2: non-specific EOI
        out 0x20, al
        pop ds
        pop bx
        pop ax
        iret

; echo_char: AL at the cursor (screen and debug console); the cursor advances
echo_char:
        push di
        push es
        out DEBUGCON, al
        mov di, SCREEN_SEGMENT
        mov es, di
        mov di, [cursor]
        shl di, 1
        mov ah, TEXT_ATTRIBUTE
        mov [es:di], ax
        inc word [cursor]
        cmp word [cursor], COLUMNS * ROWS
        jb .done
        call scroll
.done:  call move_cursor
        pop es
        pop di
        ret

; new_line: the cursor to the start of the next row (scrolling at the bottom)
new_line:
        push ax
        push bx
        push dx
        mov al, 10
        out DEBUGCON, al
        mov ax, [cursor]
        xor dx, dx
        mov bx, COLUMNS
        div bx
        inc ax
        mul bx
        mov [cursor], ax
        cmp ax, COLUMNS * ROWS
        jb .done
        call scroll
.done:  call move_cursor
        pop dx
        pop bx
        pop ax
        ret

; erase_char: back one column (not past the start of the row) and blank it
erase_char:
        push ax
        push bx
        push dx
        push di
        push es
        mov ax, [cursor]
        xor dx, dx
        mov bx, COLUMNS
        div bx
        test dx, dx
        jz .done
        mov al, 8
        out DEBUGCON, al
        dec word [cursor]
        mov di, SCREEN_SEGMENT
        mov es, di
        mov di, [cursor]
        shl di, 1
        mov word [es:di], (TEXT_ATTRIBUTE << 8) | ' '
        call move_cursor
.done:  pop es
        pop di
        pop dx
        pop bx
        pop ax
        ret

; scroll: rows FIRST_ROW+1.. move up one, the last row is blanked and the cursor
; goes to its start
scroll: push ax
        push cx
        push si
        push di
        push ds
        push es
        mov ax, SCREEN_SEGMENT
        mov ds, ax
        mov es, ax
        mov di, FIRST_ROW * COLUMNS * 2
        mov si, (FIRST_ROW + 1) * COLUMNS * 2
        mov cx, (ROWS - FIRST_ROW - 1) * COLUMNS
        rep movsw
        mov ax, (TEXT_ATTRIBUTE << 8) | ' '
        mov cx, COLUMNS
        rep stosw
        pop es
        pop ds
        mov word [cursor], (ROWS - 1) * COLUMNS
        pop di
        pop si
        pop cx
        pop ax
        ret

; move_cursor: the CRTC cursor location registers (0Eh/0Fh) follow `cursor`
move_cursor:
        push ax
        push bx
        push dx
        mov bx, [cursor]
        mov dx, 0x3d4
        mov al, 0x0e
        mov ah, bh
        out dx, ax
        mov al, 0x0f
        mov ah, bl
        out dx, ax
        pop dx
        pop bx
        pop ax
        ret

; clear_screen: blank 80x25 text and put the cursor at row FIRST_ROW
clear_screen:
        push es
        mov ax, SCREEN_SEGMENT
        mov es, ax
        xor di, di
        mov ax, (TEXT_ATTRIBUTE << 8) | ' '
        mov cx, COLUMNS * ROWS
        rep stosw
        pop es
        mov word [cursor], FIRST_ROW * COLUMNS
        jmp move_cursor

; screen_string: the zero-terminated string at SI to the screen at cell DI
screen_string:
        push es
        mov ax, SCREEN_SEGMENT
        mov es, ax
        shl di, 1
        mov ah, TEXT_ATTRIBUTE
.next:  lodsb
        test al, al
        jz .done
        stosw
        jmp .next
.done:  pop es
        ret

; Set 1 make codes 00h-39h -> ASCII (0: no character)
keymap:
        db 0, 0, "1234567890-=", 0, 0
        db "qwertyuiop[]", 0, 0
        db "asdfghjkl;'`", 0, "\"
        db "zxcvbnm,./", 0, "*", 0, " "
keymap_shift:
        db 0, 0, "!@#$%^&*()_+", 0, 0
        db "QWERTYUIOP{}", 0, 0
        db "ASDFGHJKL:", '"', "~", 0, "|"
        db "ZXCVBNM<>?", 0, "*", 0, " "
KEYMAP_SIZE equ keymap_shift - keymap

%include "lib.inc"

absolute VARIABLES
cursor   resw 1                     ; screen cell of the next character
shift    resb 1                     ; Shift keys held
prefixed resb 1                     ; the previous byte was E0h
