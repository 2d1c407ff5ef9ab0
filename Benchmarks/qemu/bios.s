# A 64 KiB firmware image for QEMU's microvm machine: the same tiny guest as Examples/guests/hello-real
# (prints one line on COM1 and writes 0 to port 0xf4, here QEMU's isa-debug-exit), so QEMU can be timed
# booting an equivalent guest. The CPU starts at the reset vector, the image's last 16 bytes.
        .code16
        .text
        .globl _start
_start:
        cli
        mov     %cs, %ax
        mov     %ax, %ds
        mov     $msg, %si
1:      lodsb
        test    %al, %al
        jz      2f
        mov     $0x3f8, %dx
        out     %al, %dx
        jmp     1b
2:      mov     $0xf4, %dx
        xor     %al, %al
        out     %al, %dx        # isa-debug-exit: QEMU exits with status (0 << 1) | 1 = 1
        hlt
        jmp     2b
msg:    .asciz  "Hello from real mode\n"

        .org    0xfff0
reset:  ljmp    $0xf000, $_start
        .org    0x10000
