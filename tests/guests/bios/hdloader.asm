; The loader of loader.asm assembled for 0000:8000, where the MBRs load it.
%define ORIGIN 0x8000
%include "loader.asm"
