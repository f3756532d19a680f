; RTL8139 guest (tests/test_device_guests.py): finds the card (10EC:8139) by a PCI
; scan of bus 0, sets it up as the OSDev wiki's RTL8139 driver does (bus master
; bit, CONFIG1 power-on, software reset, RBSTART, IMR ROK|TOK, RCR
; AB|AM|APM|AAP|WRAP, CR RE|TE) with its interrupt line on the 8259A pair, sends
; an ARP request for the gateway 10.0.2.2, an ICMP echo request to it and a
; DHCPDISCOVER, and prints the fields of the replies as the interrupt handler and the receive ring
; delivered them.  Lines on the debug console (port 0xE9):
;   pci       device.function, BAR0, the interrupt line
;   mac       IDR0-5 after the reset
;   arp tx    TSD0 after the transmit (OWN, TOK, size)
;   arp rx    the ring header's status and length, ISR bits seen, ARP op, sender MAC and IP
;   icmp tx   TSD1
;   icmp rx   status, length, ISR bits, IP TTL and source, ICMP type, identifier,
;             sequence, whether the data came back unchanged
;   dhcp tx   TSD2 of a DHCPDISCOVER broadcast
;   dhcp rx   the offer: status, length, ISR bits, BOOTP op, xid, yiaddr, siaddr and
;             the options up to the end option
;   capr      CAPR and CBR at the end, CR (BUFE)
; Any failure prints "FAIL: ..." and stops.

%include "boot.inc"

PCI_ADDRESS     equ 0xcf8
PCI_DATA        equ 0xcfc
RX_BUFFER       equ 0x10000         ; 8K + 16 + 1500 bytes, reached through FS (unreal mode)
RX_SIZE         equ 8192
TX_BUFFER       equ 0xa000
FRAME           equ 0xb000          ; a copy of the last frame received
IDR0            equ 0x00
TSD0            equ 0x10
TSAD0           equ 0x20
RBSTART         equ 0x30
CR              equ 0x37
CAPR            equ 0x38
CBR             equ 0x3a
IMR             equ 0x3c
ISR             equ 0x3e
RX_CONFIG       equ 0x44
CONFIG1         equ 0x52
CR_RST          equ 0x10
CR_RE_TE        equ 0x0c
ISR_ROK         equ 0x01
ISR_TOK         equ 0x04
TSD_TOK         equ 0x8000
SLAVE_BASE      equ 0x70
MAX_TICKS       equ 20              ; about a second of timer ticks without a reply: fail

main:   print "rtl8139: start", 10
        xor ax, ax
        mov di, VARIABLES
        mov cx, variables_end - VARIABLES
        rep stosb
        call unreal
        call find_nic
        call setup_nic
        call setup_irq
        sti
        ; ---- ARP request for 10.0.2.2
        call arp_gateway
        ; ---- ICMP echo request to 10.0.2.2
        call echo_request
        mov si, TX_BUFFER + 14      ; the IP header's checksum
        mov cx, 20
        call inet_checksum
        mov [TX_BUFFER + 24], ax
        mov si, TX_BUFFER + 34      ; the ICMP message's checksum
        mov cx, icmp_end - icmp_template - 34
        call inet_checksum
        mov [TX_BUFFER + 36], ax
        mov cx, icmp_end - icmp_template
        print "icmp tx"
        call transmit
        call echo_reply
        call dhcp_discover
        print "capr "
        mov dx, [iobase]
        add dx, CAPR
        in ax, dx
        call put_hex16
        print " cbr="
        add dx, CBR - CAPR
        in ax, dx
        call put_hex16
        print " cr="
        mov dx, [iobase]
        add dx, CR
        in al, dx
        call put_hex8
        print " irqs="
        mov ax, [nic_irqs]
        call put_dec
        call put_nl
        print "done", 10
        jmp stop

; find_nic: scan bus 0 for 10EC:8139; report it, keep its configuration address,
; BAR0's I/O base and its interrupt line
find_nic:
        mov ebx, 0x80000000
.next:  mov eax, ebx
        mov dx, PCI_ADDRESS
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        cmp eax, 0x813910ec
        je .found
        add ebx, 0x100
        cmp ebx, 0x80010000
        jb .next
        print "FAIL: no RTL8139", 10
        jmp stop
.found: mov [nic_address], ebx
        print "pci rtl8139 "
        mov eax, ebx
        shr eax, 11
        and al, 0x1f
        call put_hex8
        print "."
        mov eax, ebx
        shr ax, 8
        and al, 7
        call put_hex8
        mov al, 0x10                ; BAR0
        call config_read
        print " bar0="
        call put_hex32
        and ax, 0xfffc
        mov [iobase], ax
        mov al, 0x3c                ; interrupt line
        call config_read
        mov [irq], al
        print " irq="
        call put_hex8
        call put_nl
        mov al, 0x04                ; command: set Bus Master, as the wiki says to
        call config_read
        or al, 0x04
        mov dx, PCI_DATA
        out dx, ax
        ret

; config_read: EAX = the card's configuration dword AL (CONFIG_ADDRESS left there)
config_read:
        movzx ecx, al
        mov eax, [nic_address]
        or eax, ecx
        mov dx, PCI_ADDRESS
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        ret

; setup_nic: power on, reset, read the MAC, then the receive ring and the filters
setup_nic:
        mov bx, [iobase]
        lea dx, [bx + CONFIG1]
        xor al, al
        out dx, al
        lea dx, [bx + CR]
        mov al, CR_RST
        out dx, al
.reset: in al, dx
        test al, CR_RST
        jnz .reset
        print "mac "
        lea dx, [bx + IDR0]
        mov di, mac
        mov cx, 6
.mac:   in al, dx
        mov [di], al
        inc di
        inc dx
        loop .mac
        mov si, mac
        mov cx, 6
        call put_bytes
        call put_nl
        lea dx, [bx + RBSTART]
        mov eax, RX_BUFFER
        out dx, eax
        lea dx, [bx + IMR]
        mov ax, ISR_ROK | ISR_TOK
        out dx, ax
        lea dx, [bx + RX_CONFIG]
        mov eax, 0x0f | 0x80        ; AB, AM, APM, AAP; WRAP
        out dx, eax
        lea dx, [bx + CR]
        mov al, CR_RE_TE
        out dx, al
        ret

; setup_irq: both 8259As remapped (master 20h, slave 70h), the timer on IRQ0
; (for the timeout) and the card on its interrupt line
setup_irq:
        mov bx, (SLAVE_BASE << 8) | 0x20
        call pic_remap
        mov al, 0x20
        mov dx, timer_handler
        call set_vector
        mov cl, [irq]
        mov al, cl
        add al, 0x20
        cmp cl, 8
        jb .vector
        add al, SLAVE_BASE - 0x28
.vector:
        mov dx, nic_handler
        call set_vector
        mov bx, 0xfffa              ; BL master: IRQ0 and the cascade open; BH slave
        mov ax, 1
        shl ax, cl
        not ax
        and bx, ax
        mov al, bl
        out 0x21, al
        mov al, bh
        out 0xa1, al
        ret

; transmit: send the CX bytes at TX_BUFFER from the next descriptor; print TSD
transmit:
        mov bx, [tx_index]
        shl bx, 2
        mov dx, [iobase]
        add dx, TSAD0
        add dx, bx
        mov eax, TX_BUFFER
        out dx, eax
        mov dx, [iobase]
        add dx, TSD0
        add dx, bx
        movzx eax, cx
        out dx, eax
.wait:  in eax, dx
        test eax, TSD_TOK
        jz .wait
        print " tsd="
        call put_hex32
        call put_nl
        inc word [tx_index]
        and word [tx_index], 3
        ret

; receive: wait (HLT) until the interrupt handler saw ROK; copy the frame at the
; ring's read offset to FRAME, keep its header, and move CAPR past it
receive:
        mov word [ticks], 0
.wait:  cli
        test byte [isr_seen], ISR_ROK
        jnz .got
        cmp word [ticks], MAX_TICKS
        ja .timeout
        sti
        hlt
        jmp .wait
.timeout:
        print "FAIL: no frame received", 10
        jmp stop
.got:   sti
        movzx ebx, word [rx_offset]
        add ebx, RX_BUFFER
        mov eax, [fs:ebx]
        mov [rx_header], eax
        shr eax, 16
        mov cx, ax
        lea esi, [ebx + 4]
        mov di, FRAME
.copy:  mov al, [fs:esi]
        mov [di], al
        inc esi
        inc di
        loop .copy
        mov ax, [rx_offset]
        add ax, [rx_header + 2]
        add ax, 4 + 3
        and ax, ~3
        cmp ax, RX_SIZE
        jb .capr
        sub ax, RX_SIZE
.capr:  mov [rx_offset], ax
        sub ax, 16
        mov dx, [iobase]
        add dx, CAPR
        out dx, ax
        ret

; put_header: " status=SSSS len=LLLL isr=II" of the frame received last; clears the
; ISR bits seen
put_header:
        print " status="
        mov ax, [rx_header]
        call put_hex16
        print " len="
        mov ax, [rx_header + 2]
        call put_hex16
        print " isr="
        cli
        mov ax, [isr_seen]
        mov word [isr_seen], 0
        sti
        call put_hex16
        ret

; nic_handler: read ISR, remember its bits, acknowledge them (write 1 to clear)
nic_handler:
        push ax
        push dx
        mov dx, [cs:iobase]
        add dx, ISR
        in ax, dx
        or [cs:isr_seen], ax
        out dx, ax
        inc word [cs:nic_irqs]
        mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop dx
        pop ax
        iret

%define ECHO_DATA "pcmachine rtl8139 echo data 0123"
%include "net.inc"

%include "lib.inc"

absolute VARIABLES
nic_address     resd 1
iobase          resw 1
irq             resb 1
mac             resb 6
gateway_mac     resb 6
tx_index        resw 1
rx_offset       resw 1
rx_header       resd 1
isr_seen        resw 1
nic_irqs        resw 1
ticks           resw 1
variables_end:
