# swprot.s -- private-memory semantics, checked by the guest itself, in a
# KVM_X86_SW_PROTECTED_VM (the lab: Tests/Lab).  Long mode, one vCPU, loaded
# and entered at 0x100000 in a shared region; stack below 0x1f0000.
#
# Layout it expects (Tests/Lab/manifests/swprot-*.yaml):
#   0x000000 ..  2 MiB  shared    (boot area, this payload, the stack)
#   0x200000 .. 16 MiB  convertible, initially private, the only region in
#                       sharing.convertible; nothing is mapped above it
#
# Conversions go through KVM_HC_MAP_GPA_RANGE (vmmcall, RAX = 12, RBX = gpa,
# RCX = number of 4 KiB pages, RDX = attributes: bits 3:0 preferred page
# size 0 = 4K, 1 = 2M; bit 4 = encrypted, i.e. private).  Success is RAX = 0;
# a refusal, by KVM or by the launcher, is -KVM_EINVAL = -22 in RAX.
#
# Built twice from this source: swprot-punch (KEEP = 0, for on-share:
# punch-hole and on-unshare: discard) and swprot-keep (KEEP = 1, for
# on-share: keep and on-unshare: keep).  Each check prints "ok N name" or
# "FAIL N name"; the guest exits with 0 when every check passed, else with the
# number of the first failed check.

        .ifndef KEEP
        .equ    KEEP, 0
        .endif

        .equ    HC_MAP_GPA_RANGE, 12
        .equ    ENC, 0x10                       # KVM_MAP_GPA_RANGE_ENCRYPTED
        .equ    SZ_2M, 0x1                      # KVM_MAP_GPA_RANGE_PAGE_SZ_2M
        .equ    EINVAL_RET, -22                 # -KVM_EINVAL
        .equ    PAGE_A, 0x400000                # a 4 KiB page in the convertible region
        .equ    HUGE_B, 0x600000                # a 2 MiB range in it
        .equ    ODD_C, 0x801000                 # 2 MiB long, only 4 KiB aligned
        .equ    SECRET, 0x5ec2e75ec2e75ec2
        .equ    SHARED, 0x5a5a0000a5a5ffff

        .code64
        .text
        .globl  _start
_start:
        mov     $0x1f0000, %rsp
        xor     %r15d, %r15d                    # r15 = first failed check (0 = none)
        xor     %r14d, %r14d                    # r14 = current check number

# 1: private memory holds what the guest writes
        call    begin
        mov     $PAGE_A, %rdi
        mov     $SECRET, %rax
        call    fill
        mov     $PAGE_A, %rdi
        mov     $SECRET, %rax
        call    same
        lea     n_private(%rip), %rsi
        call    verdict

# 2: private -> shared (4 KiB) succeeds, and the shared view never shows the private bytes
        call    begin
        mov     $PAGE_A, %rbx
        mov     $1, %rcx
        xor     %edx, %edx
        call    map_expect_ok
        mov     $PAGE_A, %rdi
        xor     %eax, %eax                      # the shared side was never written: zeros
        call    same
        lea     n_to_shared(%rip), %rsi
        call    verdict

# 3: write the shared side, convert back to private (4 KiB): punch-hole gives
#    zeros, keep gives the old private bytes back
        call    begin
        mov     $PAGE_A, %rdi
        mov     $SHARED, %rax
        call    fill
        mov     $PAGE_A, %rbx
        mov     $1, %rcx
        mov     $ENC, %edx
        call    map_expect_ok
        mov     $PAGE_A, %rdi
        .if KEEP
        mov     $SECRET, %rax
        .else
        xor     %eax, %eax
        .endif
        call    same
        lea     n_to_private(%rip), %rsi
        call    verdict

# 4: shared again: on-unshare discard dropped the shared copy (zeros), keep
#    still has it
        call    begin
        mov     $PAGE_A, %rbx
        mov     $1, %rcx
        xor     %edx, %edx
        call    map_expect_ok
        mov     $PAGE_A, %rdi
        .if KEEP
        mov     $SHARED, %rax
        .else
        xor     %eax, %eax
        .endif
        call    same
        lea     n_unshare(%rip), %rsi
        call    verdict

# 5: a 2 MiB range, 2 MiB preferred page size: private -> shared -> private
        call    begin
        mov     $HUGE_B, %rdi
        mov     $SECRET, %rax
        call    fill_ends
        mov     $HUGE_B, %rbx
        mov     $512, %rcx
        mov     $SZ_2M, %edx
        call    map_expect_ok
        mov     $HUGE_B, %rdi
        xor     %eax, %eax
        call    same_ends
        mov     $HUGE_B, %rdi
        mov     $SHARED, %rax
        call    fill_ends
        mov     $HUGE_B, %rbx
        mov     $512, %rcx
        mov     $(SZ_2M | ENC), %edx
        call    map_expect_ok
        mov     $HUGE_B, %rdi
        .if KEEP
        mov     $SECRET, %rax
        .else
        xor     %eax, %eax
        .endif
        call    same_ends
        lea     n_huge(%rip), %rsi
        call    verdict

# 6: the page-size bits are a preference: 2 MiB preferred on a range that is
#    only 4 KiB aligned is accepted (KVM itself sends such requests)
        call    begin
        mov     $ODD_C, %rbx
        mov     $512, %rcx
        mov     $SZ_2M, %edx
        call    map_expect_ok
        mov     $ODD_C, %rbx
        mov     $512, %rcx
        mov     $(SZ_2M | ENC), %edx
        call    map_expect_ok
        lea     n_hint(%rip), %rsi
        call    verdict

# 7: refused by the launcher with -KVM_EINVAL: a page outside sharing.convertible
        call    begin
        mov     $0x100000, %rbx
        mov     $1, %rcx
        xor     %edx, %edx
        call    map_expect_einval
        lea     n_outside(%rip), %rsi
        call    verdict

# 8: refused by the launcher: reserved attribute bits
        call    begin
        mov     $PAGE_A, %rbx
        mov     $1, %rcx
        mov     $0x20, %edx
        call    map_expect_einval
        lea     n_reserved(%rip), %rsi
        call    verdict

# 9: refused by the launcher: a range that runs past the region's end
        call    begin
        mov     $0xfff000, %rbx
        mov     $2, %rcx
        xor     %edx, %edx
        call    map_expect_einval
        lea     n_past_end(%rip), %rsi
        call    verdict

# 10: refused by KVM itself (unaligned gpa): the same -KVM_EINVAL, so a guest
#     cannot tell the launcher's refusals from the kernel's
        call    begin
        mov     $(PAGE_A + 8), %rbx
        mov     $1, %rcx
        xor     %edx, %edx
        call    map_expect_einval
        lea     n_kernel(%rip), %rsi
        call    verdict

# 11: refusals changed nothing: page A is still shared and still holds what
#     test 4 found there
        call    begin
        mov     $PAGE_A, %rdi
        .if KEEP
        mov     $SHARED, %rax
        .else
        xor     %eax, %eax
        .endif
        call    same
        lea     n_unchanged(%rip), %rsi
        call    verdict

        mov     %r15, %rax
        jmp     exit_al

# --- helpers ---------------------------------------------------------------

# begin: next check number in r14; clears r13 (this check's failure flag)
begin:
        inc     %r14
        xor     %r13d, %r13d
        ret

# verdict: print "ok N name" or "FAIL N name" (name at %rsi); record the first failure
verdict:
        push    %rsi
        lea     s_ok(%rip), %rsi
        test    %r13, %r13
        jz      1f
        lea     s_fail(%rip), %rsi
        test    %r15, %r15
        jnz     1f
        mov     %r14, %r15
1:      call    puts
        mov     %r14, %rax
        call    putdec
        mov     $' ', %al
        call    putc
        pop     %rsi
        call    puts
        mov     $'\n', %al
        call    putc
        ret

# hypercall: KVM_HC_MAP_GPA_RANGE(rbx, rcx, rdx) → rax
hypercall:
        mov     $HC_MAP_GPA_RANGE, %eax
        vmmcall
        ret

map_expect_ok:
        call    hypercall
        test    %rax, %rax
        jz      1f
        mov     $1, %r13
1:      ret

map_expect_einval:
        call    hypercall
        cmp     $EINVAL_RET, %rax
        je      1f
        mov     $1, %r13
1:      ret

# fill: 512 quadwords of %rax at %rdi (one 4 KiB page).   Clobbers: %rcx %rdi
fill:
        mov     $512, %ecx
        cld
        rep stosq
        ret

# same: sets r13 unless every quadword of the page at %rdi equals %rax.  Clobbers: %rcx %rdi
same:
        mov     $512, %ecx
1:      cmp     %rax, (%rdi)
        je      2f
        mov     $1, %r13
2:      add     $8, %rdi
        dec     %ecx
        jnz     1b
        ret

# fill_ends / same_ends: the first and the last page of a 2 MiB range at %rdi
fill_ends:
        push    %rdi
        call    fill
        pop     %rdi
        add     $(0x200000 - 0x1000), %rdi
        jmp     fill
same_ends:
        push    %rdi
        call    same
        pop     %rdi
        add     $(0x200000 - 0x1000), %rdi
        jmp     same

        .include "serial64.inc"

        .section .rodata
s_ok:   .asciz "ok "
s_fail: .asciz "FAIL "
n_private:   .asciz "private write/read"
n_to_shared: .asciz "private->shared 4KiB; shared view hides private bytes"
n_to_private: .asciz "shared->private 4KiB; on-share policy"
n_unshare:   .asciz "private->shared again; on-unshare policy"
n_huge:      .asciz "2MiB private->shared->private"
n_hint:      .asciz "2MiB page size on a 4KiB-aligned range is a hint"
n_outside:   .asciz "outside sharing.convertible refused with -KVM_EINVAL"
n_reserved:  .asciz "reserved attribute bits refused with -KVM_EINVAL"
n_past_end:  .asciz "range past the region end refused with -KVM_EINVAL"
n_kernel:    .asciz "KVM's own refusal (unaligned gpa) is -KVM_EINVAL too"
n_unchanged: .asciz "refusals changed nothing"
