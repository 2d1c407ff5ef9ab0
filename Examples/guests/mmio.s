# mmio.s -- long-mode guest that touches an MMIO hole and a read-only slot.
#
# Boot mode long; loaded and entered at 0x100000.
# The launcher only promises to identity map guest RAM, so this guest first
# switches to its own page tables (in its .bss, 0x101000-0x106fff) that
# identity map the whole low 4 GiB with 2 MiB pages.  Then it
#   1. writes the dword 0xdeadbeef to GPA 0xfe000000 (MMIO hole, backing none)
#        -> launcher stderr: "mmio write 0xfe000000 4 bytes: efbeadde"
#   2. writes the byte 0x5a to GPA 0xc00000 (read-only slot, 64 KiB)
#        -> launcher stderr: "mmio write 0xc00000 1 bytes: 5a"
#   3. reads the dword at GPA 0xc00000 and prints "rom: 0x<8 hex digits>\n"
#      (the slot's original contents: the write in step 2 must not stick;
#      "rom: 0x00000000" for a zero-filled slot)
#   4. prints "mmio done\n" and exits with status 0.
# Stack: the 64 KiB below 0x100000 (RSP starts at 0x100000).

        .equ    MMIO_HOLE, 0xfe000000
        .equ    ROM,       0x00c00000
        .equ    PTE_P_RW,  0x03                 # present, writable
        .equ    PTE_PS,    0x80                 # 2 MiB page

        .code64
        .text
        .globl  _start
_start:
        mov     $0x100000, %esp

        # Build PML4 -> PDPT -> 4 page directories (2048 x 2 MiB = 4 GiB).
        lea     pml4(%rip), %rdi                # zero all 6 table pages
        xor     %eax, %eax
        mov     $(6 * 4096 / 8), %ecx
        cld
        rep stosq
        lea     pdpt(%rip), %rax
        or      $PTE_P_RW, %rax
        mov     %rax, pml4(%rip)                # PML4[0] -> PDPT
        lea     pd(%rip), %rax
        or      $PTE_P_RW, %rax
        lea     pdpt(%rip), %rdi
        mov     $4, %ecx
1:      mov     %rax, (%rdi)                    # PDPT[i] -> PD i
        add     $4096, %rax
        add     $8, %rdi
        loop    1b
        lea     pd(%rip), %rdi
        mov     $(PTE_P_RW | PTE_PS), %eax      # PD entry n maps n * 2 MiB
        mov     $2048, %ecx
2:      mov     %rax, (%rdi)
        add     $0x200000, %rax
        add     $8, %rdi
        loop    2b
        lea     pml4(%rip), %rax
        mov     %rax, %cr3                      # also flushes the TLB

        mov     $MMIO_HOLE, %eax                # > 2 GiB: go through a register
        movl    $0xdeadbeef, (%rax)             # 1. MMIO exit, 4 bytes
        mov     $ROM, %ebx
        movb    $0x5a, (%rbx)                   # 2. MMIO exit, 1 byte (read-only slot)
        mov     (%rbx), %r12d                   # 3. plain read of the slot

        lea     msg_rom(%rip), %rsi
        call    puts
        mov     %r12d, %eax
        call    puthex32
        lea     msg_done(%rip), %rsi            # begins with the "\n" ending the rom line
        call    puts
        xor     %eax, %eax
        jmp     exit_al

        .include "serial64.inc"

        .section .rodata
msg_rom:  .asciz "rom: 0x"
msg_done: .asciz "\nmmio done\n"

        .bss
        .balign 4096
pml4:   .space  4096
pdpt:   .space  4096
pd:     .space  4 * 4096
