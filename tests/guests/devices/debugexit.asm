; QEMU's isa-debug-exit device (tests/test_debugexit.py): the write the Stanford
; Pintos kernel makes when it powers off, then the one kernels tested as in
; "Writing an OS in Rust" make.  Reports on the debug console (port 0xE9):
;   "debugexit: read 0501=XX"   a byte read of port 501h: 00 from the device,
;                               FF when nothing claims the port
;   "out 0501,31"               Pintos' `outb (0x501, 0x31)`: with the device at
;                               its default 501h the run ends here, status 63h
;   "out 00F4,00000010"         a dword write to port F4h: with the device at
;                               iobase F4h, iosize 4 the run ends here, status 21h
;   "still running"             neither write ended the run; then CLI, HLT

%include "boot.inc"

main:   print "debugexit: read 0501="
        mov dx, 0x501
        in al, dx
        call put_hex8
        call put_nl
        print "out 0501,31", 10
        mov al, 0x31
        out dx, al
        print "out 00F4,00000010", 10
        mov eax, 0x10
        out 0xf4, eax
        print "still running", 10
        jmp stop

%include "lib.inc"
