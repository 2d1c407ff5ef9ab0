# smp.s -- long-mode multi-vCPU check-in.
#
# Boot mode long, any number of vCPUs (1..16); all loaded and entered at
# 0x100000 with RDI = vCPU index, RSI = number of vCPUs.
# Every vCPU sets RSP = 0x300000 + index * 0x10000 (its stack is the 64 KiB
# below that, i.e. 0x2f0000 + index * 0x10000 .. 0x300000 + index * 0x10000),
# takes a spinlock (`lock xchg`), prints "cpu N up\n" (N = index, decimal),
# releases the lock and atomically increments the check-in counter.
# vCPUs other than 0 then `hlt`; vCPU 0 waits until the counter equals RSI
# and writes 0 to the exit port.  The lines come out in arrival order, so
# only their set (not their order) is fixed.  Lock and counter live in the
# payload itself (.data), so they start at 0 when the image is loaded.

        .code64
        .text
        .globl  _start
_start:
        mov     %rdi, %r12                      # r12 = index   (puts & co. keep r12/r13)
        mov     %rsi, %r13                      # r13 = vCPU count
        mov     %rdi, %rax
        shl     $16, %rax
        add     $0x300000, %rax
        mov     %rax, %rsp

        mov     $1, %eax                        # acquire print_lock
1:      xchg    %eax, print_lock(%rip)          # xchg with memory is always locked
        test    %eax, %eax
        jz      3f
2:      pause                                   # spin read-only until it looks free
        cmpl    $0, print_lock(%rip)
        jne     2b
        mov     $1, %eax
        jmp     1b
3:      lea     msg_cpu(%rip), %rsi
        call    puts
        mov     %r12, %rax
        call    putdec
        lea     msg_up(%rip), %rsi
        call    puts
        movl    $0, print_lock(%rip)            # release (stores are not reordered with older stores)

        lock incl checked_in(%rip)
        test    %r12, %r12
        jnz     5f
4:      pause                                   # vCPU 0: wait for everyone
        mov     checked_in(%rip), %eax
        cmp     %r13, %rax
        jb      4b
        xor     %eax, %eax
        jmp     exit_al
5:      hlt                                     # other vCPUs are done
        jmp     5b

        .include "serial64.inc"

        .section .rodata
msg_cpu: .asciz "cpu "
msg_up:  .asciz " up\n"

        .data
        .balign 64
print_lock: .long 0
        .balign 64
checked_in: .long 0
