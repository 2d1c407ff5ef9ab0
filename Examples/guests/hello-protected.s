# hello-protected.s -- 32-bit protected-mode hello world.
#
# Boot mode protected (CR0.PE=1, paging off, flat 4 GiB segments 0x08/0x10);
# loaded and entered at 0x100000.  Prints "Hello from protected mode\n" on COM1
# (polling LSR bit 5 before each byte), then writes 0 to the exit port.
# Stack: the 64 KiB below 0x100000 (ESP starts at 0x100000).

        .code32
        .text
        .globl  _start
_start:
        mov     $0x100000, %esp
        cld
        mov     $msg, %esi
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
        push    %eax
        mov     $0x3fd, %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        pop     %eax
        mov     $0x3f8, %dx
        out     %al, %dx
        ret

msg:    .asciz  "Hello from protected mode\n"
