# memfault.s -- the lab's memory-fault guest.  Long mode, one vCPU, loaded
# and entered at 0x100000.  It announces itself, then writes to GPA 0xfff000,
# which Tests/Lab/manifests/memfault.yaml leaves without a memslot (an MMIO
# hole) and the lab's hand-edited plan marks PRIVATE: KVM cannot serve a
# private gfn without guest_memfd and exits with KVM_EXIT_MEMORY_FAULT
# (flags = PRIVATE), which the launcher must turn into exit status 125 at
# once.  If the write ever completes, the guest says so and exits with 7.

        .code64
        .text
        .globl  _start
_start:
        mov     $0x1f0000, %rsp
        lea     s_touch(%rip), %rsi
        call    puts
        movq    $1, 0xfff000
        lea     s_after(%rip), %rsi
        call    puts
        mov     $7, %al
        jmp     exit_al

        .include "serial64.inc"

        .section .rodata
s_touch: .asciz "memfault: writing to the private gfn 0xfff000 (no guest_memfd)\n"
s_after: .asciz "memfault: the write completed (it must not)\n"
