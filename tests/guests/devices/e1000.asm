; Intel 82540EM (e1000) guest (tests/test_device_guests.py): finds the card
; (8086:100E) by a PCI scan of bus 0, sets the bus master bit, resets it through
; CTRL.RST, reads the MAC and the checksum through EERD and the PHY's ID and
; status through MDIC, reads STATUS through the I/O BAR (IOADDR/IODATA), sets up
; an 8-descriptor receive ring and an 8-descriptor transmit ring with its
; interrupt line on the 8259A pair, then sends an ARP request for the gateway
; 10.0.2.2 (a legacy descriptor), an ICMP echo request to it with both
; checksums left 0 for the card to insert (a TCP/IP context descriptor and a data
; descriptor with IXSM and TXSM) and a DHCPDISCOVER, and prints the fields of the
; replies as the interrupt handler and the receive ring delivered them.  Lines on
; the debug console (port 0xE9):
;   pci       device.function, IDs, revision, subsystem, BAR0, BAR1, interrupt line
;   reset     CTRL and STATUS after CTRL.RST
;   eeprom    the MAC from words 0-2, the sum of the 64 words
;   phy       PHY ID 1 and 2, BMSR
;   io        STATUS read through IOADDR/IODATA
;   xxx tx    the status byte written back (DD) and TDH after the transmit
;   xxx rx    the descriptor's status and length, the ICR bits seen, fields of the
;             reply (as in rtl8139.asm)
;   end       RDH, RDT and the good-packets and octet statistics, interrupts taken
; Any failure prints "FAIL: ..." and stops.

%include "boot.inc"

PCI_ADDRESS     equ 0xcf8
PCI_DATA        equ 0xcfc
RX_RING         equ 0xc000          ; 8 descriptors of 16 bytes
TX_RING         equ 0xc800
RX_BUFFERS      equ 0x10000         ; 8 x 2 KiB, reached through FS (unreal mode)
RING            equ 8
TX_BUFFER       equ 0xa000
FRAME           equ 0xb000          ; a copy of the last frame received
CTRL            equ 0x0000
STATUS          equ 0x0008
EERD            equ 0x0014
MDIC            equ 0x0020
ICR             equ 0x00c0
IMS             equ 0x00d0
IMC             equ 0x00d8
RCTL            equ 0x0100
TCTL            equ 0x0400
RDBAL           equ 0x2800
RDBAH           equ 0x2804
RDLEN           equ 0x2808
RDH             equ 0x2810
RDT             equ 0x2818
TDBAL           equ 0x3800
TDBAH           equ 0x3804
TDLEN           equ 0x3808
TDH             equ 0x3810
TDT             equ 0x3818
GPRC            equ 0x4074
GPTC            equ 0x4080
GORCL           equ 0x4088
GOTCL           equ 0x4090
CTRL_RST        equ 0x04000000
ICR_TXDW        equ 0x01
ICR_RXT0        equ 0x80
RCTL_EN_BAM     equ 0x8002          ; 2 KiB buffers, FCS stored
TCTL_EN_PSP     equ 0x0004010a
TXD_LEGACY      equ 0x0b000000      ; EOP, IFCS, RS
TXD_CONTEXT     equ 0x20000000      ; DEXT, DTYP 0
TXD_DATA        equ 0x2b100000      ; DEXT, DTYP 1, EOP, IFCS, RS
POPTS_IXSM_TXSM equ 0x0300
MDIC_READ       equ 0x08000000 | 1 << 21
MDIC_READY      equ 0x10000000
SLAVE_BASE      equ 0x70
MAX_TICKS       equ 60              ; about three seconds without a reply: fail

main:   print "e1000: start", 10
        xor ax, ax
        mov di, VARIABLES
        mov cx, variables_end - VARIABLES
        rep stosb
        call unreal
        call find_nic
        call reset_nic
        call setup_rings
        call setup_irq
        sti
        ; ---- ARP request for 10.0.2.2 (a legacy descriptor)
        call arp_gateway
        ; ---- ICMP echo request to 10.0.2.2, checksums inserted by the card
        call echo_request
        mov cx, icmp_end - icmp_template
        print "icmp tx"
        call transmit_offloaded
        call echo_reply
        call dhcp_discover
        print "end rdh="
        mov si, RDH
        call reg_read
        call put_hex16
        print " rdt="
        mov si, RDT
        call reg_read
        call put_hex16
        print " gprc="
        mov si, GPRC
        call reg_read
        call put_hex32
        print " gptc="
        mov si, GPTC
        call reg_read
        call put_hex32
        print " gorc="
        mov si, GORCL
        call reg_read
        call put_hex32
        print " gotc="
        mov si, GOTCL
        call reg_read
        call put_hex32
        print " irqs="
        mov ax, [nic_irqs]
        call put_dec
        call put_nl
        print "done", 10
        jmp stop

; find_nic: scan bus 0 for 8086:100E; report it, keep its configuration address,
; BAR0's memory address, BAR1's I/O base and its interrupt line; set Bus Master
find_nic:
        mov ebx, 0x80000000
.next:  mov eax, ebx
        mov dx, PCI_ADDRESS
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        cmp eax, 0x100e8086
        je .found
        add ebx, 0x100
        cmp ebx, 0x80010000
        jb .next
        print "FAIL: no 82540EM", 10
        jmp stop
.found: mov [nic_address], ebx
        print "pci e1000 "
        mov eax, ebx
        shr eax, 11
        and al, 0x1f
        call put_hex8
        print "."
        mov eax, ebx
        shr ax, 8
        and al, 7
        call put_hex8
        print " class="
        mov al, 0x08
        call config_read
        call put_hex32
        print " sub="
        mov al, 0x2c
        call config_read
        call put_hex32
        mov al, 0x10                ; BAR0: the registers
        call config_read
        print " bar0="
        call put_hex32
        and eax, 0xfffffff0
        mov [mmio], eax
        mov al, 0x14                ; BAR1: IOADDR/IODATA
        call config_read
        print " bar1="
        call put_hex32
        and ax, 0xfffc
        mov [iobase], ax
        mov al, 0x3c                ; interrupt line
        call config_read
        mov [irq], al
        print " irq="
        call put_hex8
        call put_nl
        mov al, 0x04                ; command: set Bus Master
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

; reg_read: EAX = the register at offset SI; reg_write: EAX to the register at SI
reg_read:
        push ebx
        movzx esi, si
        mov ebx, [mmio]
        mov eax, [fs:ebx + esi]
        pop ebx
        ret

reg_write:
        push ebx
        movzx esi, si
        mov ebx, [mmio]
        mov [fs:ebx + esi], eax
        pop ebx
        ret

; reset_nic: CTRL.RST, the EEPROM's MAC and checksum, the PHY, STATUS through I/O
reset_nic:
        mov si, IMC
        mov eax, 0xffffffff
        call reg_write
        mov si, CTRL
        mov eax, CTRL_RST
        call reg_write
.reset: call reg_read
        test eax, CTRL_RST
        jnz .reset
        print "reset ctrl="
        call put_hex32
        print " status="
        mov si, STATUS
        call reg_read
        call put_hex32
        call put_nl
        print "eeprom mac="
        xor bx, bx                  ; word number
        xor bp, bp                  ; the sum of the words
.word:  call eeprom_word
        add bp, ax
        cmp bx, 3
        jae .next
        mov di, bx
        shl di, 1
        mov [mac + di], ax          ; words 0-2: the MAC, low byte first
.next:  inc bx
        cmp bx, 64
        jb .word
        mov si, mac
        mov cx, 6
        call put_bytes
        print " sum="
        mov ax, bp
        call put_hex16
        call put_nl
        print "phy id="
        mov ax, 2
        call phy_read
        call put_hex16
        mov ax, 3
        call phy_read
        call put_hex16
        print " bmsr="
        mov ax, 1
        call phy_read
        call put_hex16
        call put_nl
        print "io status="
        mov dx, [iobase]
        mov eax, STATUS
        out dx, eax                 ; IOADDR
        add dx, 4
        in eax, dx                  ; IODATA
        call put_hex32
        call put_nl
        ret

; eeprom_word: AX = EEPROM word BX, through EERD
eeprom_word:
        mov ax, bx
        movzx eax, ax
        shl eax, 8
        or al, 1                    ; START
        mov si, EERD
        call reg_write
.poll:  call reg_read
        test al, 0x10               ; DONE
        jz .poll
        shr eax, 16
        ret

; phy_read: AX = PHY register AX through MDIC
phy_read:
        movzx eax, ax
        shl eax, 16
        or eax, MDIC_READ
        mov si, MDIC
        call reg_write
.poll:  call reg_read
        test eax, MDIC_READY
        jz .poll
        ret

; setup_rings: the receive descriptors with their buffers, both rings' registers,
; the interrupt mask, then the transmitter and the receiver
setup_rings:
        mov di, RX_RING
        mov eax, RX_BUFFERS
        mov cx, RING
.rx:    mov [di], eax
        mov dword [di + 4], 0
        mov dword [di + 8], 0
        mov dword [di + 12], 0
        add eax, 2048
        add di, 16
        loop .rx
        mov di, TX_RING
        mov cx, RING * 16 / 2
        xor ax, ax
        rep stosw
        mov si, RDBAL
        mov eax, RX_RING
        call reg_write
        mov si, RDBAH
        xor eax, eax
        call reg_write
        mov si, RDLEN
        mov eax, RING * 16
        call reg_write
        mov si, RDH
        xor eax, eax
        call reg_write
        mov si, RDT
        mov eax, RING - 1
        call reg_write
        mov si, TDBAL
        mov eax, TX_RING
        call reg_write
        mov si, TDBAH
        xor eax, eax
        call reg_write
        mov si, TDLEN
        mov eax, RING * 16
        call reg_write
        mov si, TDH
        xor eax, eax
        call reg_write
        mov si, TDT
        call reg_write
        mov si, IMS
        mov eax, ICR_RXT0 | ICR_TXDW
        call reg_write
        mov si, TCTL
        mov eax, TCTL_EN_PSP
        call reg_write
        mov si, RCTL
        mov eax, RCTL_EN_BAM
        call reg_write
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

; transmit: send the CX bytes at TX_BUFFER in a legacy descriptor
transmit:
        mov bx, [tx_index]
        shl bx, 4
        add bx, TX_RING
        mov dword [bx], TX_BUFFER
        mov dword [bx + 4], 0
        movzx eax, cx
        or eax, TXD_LEGACY
        mov [bx + 8], eax
        mov dword [bx + 12], 0
        call next_tx
        jmp hand_over

; transmit_offloaded: the CX bytes at TX_BUFFER (an IPv4 frame) after a context
; descriptor asking for the IP header checksum (bytes 14-33, stored at 24) and
; the checksum of the rest (from 34, stored at 36: ICMP's)
transmit_offloaded:
        mov bx, [tx_index]
        shl bx, 4
        add bx, TX_RING
        mov dword [bx], 33 << 16 | 24 << 8 | 14       ; IPCSE, IPCSO, IPCSS
        mov dword [bx + 4], 36 << 8 | 34              ; TUCSE 0: to the end; TUCSO, TUCSS
        mov dword [bx + 8], TXD_CONTEXT
        mov dword [bx + 12], 0
        call next_tx
        mov bx, [tx_index]
        shl bx, 4
        add bx, TX_RING
        mov dword [bx], TX_BUFFER
        mov dword [bx + 4], 0
        movzx eax, cx
        or eax, TXD_DATA
        mov [bx + 8], eax
        mov dword [bx + 12], POPTS_IXSM_TXSM
        call next_tx
        ; fall through

; hand_over: TDT past the descriptors written; wait for DD in the last (at BX)
hand_over:
        mov si, TDT
        movzx eax, word [tx_index]
        call reg_write
.wait:  test byte [bx + 12], 1
        jz .wait
        print " dd="
        mov al, [bx + 12]
        call put_hex8
        print " tdh="
        mov si, TDH
        call reg_read
        call put_hex16
        call put_nl
        ret

next_tx:
        inc word [tx_index]
        and word [tx_index], RING - 1
        ret

; receive: wait (HLT) until the interrupt handler saw RXT0; copy the frame in the
; next descriptor's buffer to FRAME, keep its status and length, give it back
receive:
        mov word [ticks], 0
.wait:  mov bx, [rx_index]
        shl bx, 4
        add bx, RX_RING
        cli
        test byte [bx + 12], 1      ; DD
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
        mov al, [bx + 12]
        mov [rx_status], al
        mov cx, [bx + 8]
        mov [rx_length], cx
        mov esi, [bx]
        mov di, FRAME
.copy:  mov al, [fs:esi]
        mov [di], al
        inc esi
        inc di
        loop .copy
        mov byte [bx + 12], 0
        mov si, RDT
        movzx eax, word [rx_index]
        call reg_write              ; this descriptor back to the card
        inc word [rx_index]
        and word [rx_index], RING - 1
        ret

; put_header: " status=SS len=LLLL icr=IIIIIIII" of the frame received last; clears
; the ICR bits seen
put_header:
        print " status="
        mov al, [rx_status]
        call put_hex8
        print " len="
        mov ax, [rx_length]
        call put_hex16
        print " icr="
        cli
        mov eax, [icr_seen]
        mov dword [icr_seen], 0
        sti
        call put_hex32
        ret

; nic_handler: read ICR (which clears it), remember its bits
nic_handler:
        push eax
        push ebx
        mov ebx, [cs:mmio]
        mov eax, [fs:ebx + ICR]
        or [cs:icr_seen], eax
        inc word [cs:nic_irqs]
        mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop ebx
        pop eax
        iret

%define ECHO_DATA "pcmachine e1000 echo data 012345"
%include "net.inc"

%include "lib.inc"

absolute VARIABLES
nic_address     resd 1
mmio            resd 1
iobase          resw 1
irq             resb 1
mac             resb 6
gateway_mac     resb 6
tx_index        resw 1
rx_index        resw 1
rx_status       resb 1
rx_length       resw 1
icr_seen        resd 1
nic_irqs        resw 1
ticks           resw 1
variables_end:
