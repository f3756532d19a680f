; MMX results and FXSAVE (pcmachine tests/guests/mmx): a boot sector that runs every
; MMX instruction on three operand pairs and prints each 64-bit result in hex on the
; debug console (port 0xE9), then the EMMS/x87 state and an FXSAVE image.  Compare:
; qemu-system-i386 -cpu pentium2 -fda mmx.bin -debugcon file:out.txt (expected_qemu.txt).
        org 0x7C00
        bits 16
SECTORS equ 8
start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov ax, 0x0200 + SECTORS
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        jc $
        jmp main
        times 510 - ($ - $$) db 0
        dw 0xAA55

main:
        mov eax, cr0
        and eax, ~0x0C                  ; EM and TS off
        or eax, 0x22                    ; MP, NE
        mov cr0, eax
        fninit
        mov si, pairs
.pair:  mov eax, [si]
        mov [opa], eax
        mov eax, [si + 4]
        mov [opa + 4], eax
        mov eax, [si + 8]
        mov [opb], eax
        mov eax, [si + 12]
        mov [opb + 4], eax
        mov eax, [si + 16]
        mov [count], eax
        mov dword [count + 4], 0
        push si
        call run_ops
        pop si
        add si, 20
        cmp si, pairs_end
        jb .pair
        ; the x87 state after MMX code, after EMMS, and FXSAVE of an x87 stack
        fnstsw ax
        call hex16
        call newline
        emms
        fnstenv [env]
        mov ax, [env + 4]
        call hex16
        call newline
        fninit
        fld1
        fldpi
        fxsave [area]
        mov si, area
        mov cx, 160
.dump:  lodsb
        call hex8
        test cx, 15
        jnz .same
        cmp cx, 160
        je .same
.same:  dec cx
        test cx, 15
        jnz .next
        call newline
.next:  test cx, cx
        jnz .dump
        mov si, done
.msg:   lodsb
        test al, al
        jz .end
        out 0xE9, al
        jmp .msg
.end:   call newline
        cli
        hlt
        jmp $

run_ops:
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddsb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddsw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubsb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubsw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddusb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddusw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubusb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psubusw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pmullw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pmulhw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pmaddwd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pcmpeqb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pcmpeqw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pcmpeqd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pcmpgtb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pcmpgtw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pcmpgtd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        packsswb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        packssdw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        packuswb mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpcklbw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpcklwd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpckldq mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpckhbw mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpckhwd mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpckhdq mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pand mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pandn mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        por mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pxor mm0, mm1
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psllw mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pslld mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psllq mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrlw mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrld mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrlq mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psraw mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrad mm0, mm2
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psllw mm0, 3
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        pslld mm0, 17
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psllq mm0, 33
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrlw mm0, 15
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrld mm0, 31
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrlq mm0, 63
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psraw mm0, 16
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        psrad mm0, 5
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        paddw mm0, [opb]
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        punpcklbw mm0, [opb]
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        movd mm0, [opb]
        movq [out], mm0
        call put_out
        movq mm0, [opa]
        movq mm1, [opb]
        movq mm2, [count]
        movq mm0, mm1
        movq [out], mm0
        call put_out
        ret

put_out:
        mov eax, [out + 4]
        call hex32
        mov eax, [out]
        call hex32
%include "../hexout.inc"

        align 4
pairs:  dd 0x7FFF8001, 0x80FF017F, 0x7FFF0001, 0x807F01FF, 4
        dd 0x12345678, 0x9ABCDEF0, 0x0F0F0F0F, 0xF0F0F0F0, 9
        dd 0xFFFFFFFF, 0x80000000, 0x00000001, 0x7FFFFFFF, 40
pairs_end:
done:   db "done", 0
        align 16
opa:    dq 0
opb:    dq 0
count:  dq 0
out:    dq 0
env:    times 14 db 0
        align 16
area:   times 512 db 0
        times (SECTORS + 1) * 512 - ($ - $$) db 0
