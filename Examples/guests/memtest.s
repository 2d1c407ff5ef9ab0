# memtest.s -- long-mode memory test over a fixed list of ranges.
#
# Boot mode long; loaded and entered at 0x100000.  For every (base, size) pair
# in `ranges` below it fills three 4 KiB pages -- the first, the one at
# base + size/2 and the last -- with the pattern (address XOR PATTERN), one
# quadword at a time.  Only after all pages of all ranges are written does it
# read everything back, so two ranges that alias the same host memory are
# caught too.
#   success: prints "memtest: 2 ranges OK\n", exit status 0
#   failure: prints "memtest: FAIL at 0x<16 hex digits>\n" (first bad
#            quadword), exit status 1
# The ranges must be identity mapped by the launcher (they are guest RAM):
#   0x00200000 size 0x00200000   upper half of a 4 MiB "ram" region at GPA 0
#   0x10000000 size 0x00400000   the 4 MiB region "ram-hi"
# Stack: the 64 KiB below 0x100000 (RSP starts at 0x100000).

        .equ    PATTERN, 0xa5a5a5a55a5a5a5a
        .equ    PAGE,    0x1000

        .code64
        .text
        .globl  _start
_start:
        mov     $0x100000, %esp
        xor     %r12d, %r12d                    # pass 0: write
        call    sweep
        mov     $1, %r12d                       # pass 1: verify
        call    sweep
        lea     msg_ok1(%rip), %rsi
        call    puts
        mov     $NRANGES, %eax
        call    putdec
        lea     msg_ok2(%rip), %rsi
        call    puts
        xor     %eax, %eax
        jmp     exit_al

# sweep: for each range, run `page` on its first, middle and last page.
# %r12 selects the pass (0 write, 1 verify).
sweep:
        lea     ranges(%rip), %r13
1:      lea     ranges_end(%rip), %rax
        cmp     %rax, %r13
        jae     2f
        mov     (%r13), %r14                    # base
        mov     8(%r13), %r15                   # size
        mov     %r14, %rdi                      # first page
        call    page
        mov     %r15, %rdi                      # middle page: base + size/2, page aligned
        shr     $1, %rdi
        and     $~(PAGE - 1), %rdi
        add     %r14, %rdi
        call    page
        lea     -PAGE(%r14,%r15), %rdi          # last page
        call    page
        add     $16, %r13
        jmp     1b
2:      ret

# page: write (pass 0) or check (pass 1) the 4 KiB page at %rdi.
page:
        mov     $PATTERN, %r9
        lea     PAGE(%rdi), %r10                # end of page
1:      mov     %rdi, %rax
        xor     %r9, %rax                       # expected value for this quadword
        test    %r12d, %r12d
        jnz     2f
        mov     %rax, (%rdi)
        jmp     3f
2:      cmp     %rax, (%rdi)
        jne     fail
3:      add     $8, %rdi
        cmp     %r10, %rdi
        jb      1b
        ret

fail:
        lea     msg_fail(%rip), %rsi
        call    puts
        mov     %rdi, %rax
        call    puthex64
        mov     $'\n', %al
        call    putc
        mov     $1, %al
        jmp     exit_al

        .include "serial64.inc"

        .section .rodata
        .balign 8
ranges:                                         # (base, size); sizes multiples of 8 KiB
        .quad   0x00200000, 0x00200000          # "ram" at 0 (4 MiB), above the payload
        .quad   0x10000000, 0x00400000          # "ram-hi"
ranges_end:
        .equ    NRANGES, (ranges_end - ranges) / 16
msg_ok1:  .asciz "memtest: "
msg_ok2:  .asciz " ranges OK\n"
msg_fail: .asciz "memtest: FAIL at 0x"
