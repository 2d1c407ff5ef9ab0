# swprot-smp.s -- four (or more, up to 6) vCPUs of a KVM_X86_SW_PROTECTED_VM
# convert disjoint ranges at the same time, each checking what it reads.
# Long mode; every vCPU enters at 0x100000 with RDI = index, RSI = count;
# stacks below 0x1f0000 - index * 0x8000 (shared region).
#
# vCPU i owns the 2 MiB range R = 0x400000 + i * 0x200000 of the convertible
# region (Tests/Lab/manifests/swprot-smp.yaml: on-share punch-hole,
# on-unshare discard).  32 rounds, alternating the preferred page size
# (4 KiB, 2 MiB) of KVM_HC_MAP_GPA_RANGE:
#   write a private pattern to R's first and last page and read it back;
#   convert R to shared: the shared side reads zero (discarded last round);
#   write the shared side; convert R back to private: it reads zero (the
#   private pages were punched).
# A failed check or hypercall adds one to the shared failure counter.  vCPU 0
# waits until every vCPU has checked out, prints "smp conversions: N vCPUs,
# F failures" and exits with 0 when F = 0, else 1; the others halt.

        .equ    HC_MAP_GPA_RANGE, 12
        .equ    ENC, 0x10
        .equ    ROUNDS, 32

        .code64
        .text
        .globl  _start
_start:
        mov     %rdi, %r12                      # r12 = index
        mov     %rsi, %r13                      # r13 = vCPU count
        mov     %rdi, %rax
        shl     $15, %rax
        mov     $0x1f0000, %rsp
        sub     %rax, %rsp
        mov     %r12, %rbp
        shl     $21, %rbp
        add     $0x400000, %rbp                 # rbp = R
        xor     %r14d, %r14d                    # r14 = round

round:
        # the pattern: index in the top byte, round in the low bits
        mov     %r12, %rax
        shl     $56, %rax
        or      %r14, %rax
        mov     %rax, %r15                      # r15 = this round's pattern
        mov     %rbp, %rdi
        call    fill_ends
        mov     %rbp, %rdi
        mov     %r15, %rax
        call    check_ends
        # private -> shared
        mov     %r14, %rdx
        and     $1, %edx                        # odd rounds prefer 2 MiB pages
        call    map_r
        mov     %rbp, %rdi
        xor     %eax, %eax
        call    check_ends
        mov     %rbp, %rdi
        mov     %r15, %rax
        not     %rax
        call    fill_ends
        # shared -> private
        mov     %r14, %rdx
        and     $1, %edx
        or      $ENC, %edx
        call    map_r
        mov     %rbp, %rdi
        xor     %eax, %eax
        call    check_ends
        inc     %r14
        cmp     $ROUNDS, %r14
        jb      round

        lock incl checked_out(%rip)
        test    %r12, %r12
        jnz     halt
1:      pause
        mov     checked_out(%rip), %eax
        cmp     %r13, %rax
        jb      1b
        lea     s_head(%rip), %rsi
        call    puts
        mov     %r13, %rax
        call    putdec
        lea     s_mid(%rip), %rsi
        call    puts
        mov     failures(%rip), %eax
        call    putdec
        lea     s_tail(%rip), %rsi
        call    puts
        xor     %eax, %eax
        cmpl    $0, failures(%rip)
        setne   %al
        jmp     exit_al
halt:   hlt
        jmp     halt

# map_r: KVM_HC_MAP_GPA_RANGE(R, 512 pages, %rdx); a non-zero result is a failure
map_r:
        mov     $HC_MAP_GPA_RANGE, %eax
        mov     %rbp, %rbx
        mov     $512, %ecx
        vmmcall
        test    %rax, %rax
        jz      1f
        lock incl failures(%rip)
1:      ret

# fill_ends: %rax into every quadword of the first and last page of the 2 MiB range at %rdi
fill_ends:
        push    %rdi
        mov     $512, %ecx
        cld
        rep stosq
        pop     %rdi
        add     $(0x200000 - 0x1000), %rdi
        mov     $512, %ecx
        rep stosq
        ret

# check_ends: one failure per page of those two that is not all %rax
check_ends:
        call    check_page
        add     $(0x200000 - 0x2000), %rdi
check_page:
        mov     $512, %ecx
1:      cmp     %rax, (%rdi)
        jne     2f
        add     $8, %rdi
        dec     %ecx
        jnz     1b
        ret
2:      lock incl failures(%rip)
        shl     $3, %rcx
        add     %rcx, %rdi                      # rdi = end of the page, as on success
        ret

        .include "serial64.inc"

        .section .rodata
s_head: .asciz "smp conversions: "
s_mid:  .asciz " vCPUs, "
s_tail: .asciz " failures\n"

        .data
        .balign 64
checked_out: .long 0
        .balign 64
failures:    .long 0
