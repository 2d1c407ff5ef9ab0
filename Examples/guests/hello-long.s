# hello-long.s -- long-mode hello world.
#
# Boot mode long; loaded and entered at 0x100000 (flat hello-long.bin), or as
# ELF hello-long.elf: .text at 0x100000, .rodata at 0x101000 (two PT_LOADs).
# Prints "Hello from long mode\n" on COM1, then `hlt` (launcher exits 0).
# Stack: the 64 KiB below 0x100000 (RSP starts at 0x100000).

        .code64
        .text
        .globl  _start
_start:
        mov     $0x100000, %esp                 # zero-extends into %rsp
        lea     msg(%rip), %rsi
        call    puts
1:      hlt                                     # this vCPU is done
        jmp     1b

        .include "serial64.inc"

        .section .rodata
msg:    .asciz  "Hello from long mode\n"
