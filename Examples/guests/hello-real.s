# hello-real.s -- real-mode hello world.
#
# Boot mode real; loaded and entered at 0x8000 (CS=0, IP=0x8000, DS=ES=SS=0).
# Prints "Hello from real mode\n" on COM1 (polling LSR bit 5 before each byte),
# then writes 0 to the exit port.  Stack: SS:SP = 0:0xf000 (grows down towards
# the code; uses far less than the 0x7000 bytes in between).

        .code16
        .text
        .globl  _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0xf000, %sp
        cld
        mov     $msg, %si
1:      lodsb
        test    %al, %al
        jz      2f
        call    putc
        jmp     1b
2:      xor     %al, %al                        # exit status 0
        out     %al, $0xf4
3:      hlt
        jmp     3b

# putc: write %al to COM1 once LSR bit 5 (THR empty) is set.  Clobbers %dx.
putc:
        push    %ax
        mov     $0x3fd, %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        pop     %ax
        mov     $0x3f8, %dx
        out     %al, %dx
        ret

msg:    .asciz  "Hello from real mode\n"
