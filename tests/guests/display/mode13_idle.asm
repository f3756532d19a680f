; mode13.asm, idling with interrupts enabled after drawing, so the machine keeps
; running for the VNC tests.
%define IDLE_AFTER_DRAWING
%include "mode13.asm"
