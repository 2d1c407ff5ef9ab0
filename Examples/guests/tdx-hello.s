# tdx-hello.s -- a reset-vector firmware image for an Intel TDX guest (TD).
#
# Payload format firmware: a 16 KiB flat image that ends at 4 GiB (loaded at
# 0xffffc000), added to the TD's private memory by KVM_TDX_INIT_MEM_REGION and
# measured. A TD has no VMM-chosen entry point: the TDX module starts every
# vCPU at the reset vector 0xfffffff0 in 32-bit protected mode, paging off,
# flat segments, with RBX[5:0] = GPAW and ESI = the vCPU index
# (KVM_UAPI.md §8: no SET_REGS/SET_SREGS for TDs).
#
# Layout (GPA):
#   0xffffc000  PML4    entry 0 -> PDPT
#   0xffffd000  PDPT    entry 3 -> PD
#   0xffffe000  PD      entry 511: 2 MiB page 0xffe00000 (this image)
#   0xfffff000  GDT, 32-bit code, then 64-bit code and the message
#   0xfffffff0  reset vector: jmp start32
#
# All page tables are part of the measured image, so nothing the vCPU reads
# before it runs is host-written. A TD cannot use port I/O or hlt directly
# (both raise #VE); it asks the host with TDG.VP.VMCALL (tdcall, leaf 0):
#   <Instruction.IO> (r11 = 30): r12 = size, r13 = 1 (write), r14 = port,
#       r15 = value; KVM turns it into KVM_EXIT_IO, so the launcher's COM1
#       (0x3f8) and exit port (0xf4) handlers see it as plain `out`.
#   <Instruction.HLT> (r11 = 12): this vCPU is done.
# vCPU 0 prints "Hello from a TD\n" on COM1 and writes 0 to the exit port;
# the other vCPUs halt. Checked against the TDX module ABI and KVM's tdx.c;
# never run on TDX hardware.

        .set    IMAGE,          0xffffc000
        .set    PML4,           IMAGE
        .set    PDPT,           IMAGE + 0x1000
        .set    PD,             IMAGE + 0x2000
        .set    PTE_P_W,        0x3             # present, writable
        .set    PTE_PS,         0x80            # 2 MiB page
        .set    TDVMCALL_HLT,   12
        .set    TDVMCALL_IO,    30
        .set    TDVMCALL_REGS,  0xfc00          # rcx: r10-r15 go to the host

# OUT_BYTE: TDG.VP.VMCALL<Instruction.IO>, write r15b to port r14w. A macro,
# not a call: the firmware runs without a stack.
        .macro  OUT_BYTE
        xor     %eax, %eax                      # TDG.VP.VMCALL
        mov     $TDVMCALL_REGS, %ecx
        xor     %r10d, %r10d                    # a GHCI standard TDVMCALL
        mov     $TDVMCALL_IO, %r11d
        mov     $1, %r12d                       # one byte
        mov     $1, %r13d                       # write (out)
        tdcall
        .endm

        .text
        .globl  _start
_start:
# --- 0xffffc000: PML4 -------------------------------------------------------
pml4:   .quad   PDPT + PTE_P_W
        .fill   511, 8, 0
# --- 0xffffd000: PDPT -------------------------------------------------------
pdpt:   .quad   0, 0, 0
        .quad   PD + PTE_P_W                    # 3 GiB .. 4 GiB
        .fill   508, 8, 0
# --- 0xffffe000: PD ---------------------------------------------------------
pd:     .fill   511, 8, 0
        .quad   0xffe00000 + PTE_P_W + PTE_PS   # 0xffe00000 .. 4 GiB
# --- 0xfffff000: GDT and code -----------------------------------------------
gdt:    .quad   0
        .quad   0x00af9b000000ffff              # 0x08: 64-bit code
        .quad   0x00cf93000000ffff              # 0x10: data
gdt_end:
gdtr:   .word   gdt_end - gdt - 1
        .long   gdt

        .code32
start32:
        mov     %cr4, %eax                      # keep the bits the TDX module fixed
        or      $0x20, %eax                     # CR4.PAE
        mov     %eax, %cr4
        mov     $PML4, %eax
        mov     %eax, %cr3
        mov     $0xc0000080, %ecx               # IA32_EFER
        rdmsr
        or      $0x100, %eax                    # EFER.LME
        wrmsr
        lgdt    gdtr
        mov     %cr0, %eax
        or      $0x80000000, %eax               # CR0.PG: long mode
        mov     %eax, %cr0
        ljmp    $0x08, $start64

        .code64
start64:
        mov     $0x10, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        test    %esi, %esi                      # vCPU index (from the TDX module)
        jnz     halt
        lea     msg(%rip), %rbx
1:      movzbl  (%rbx), %r15d
        test    %r15d, %r15d
        jz      2f
        mov     $0x3f8, %r14d                   # COM1
        OUT_BYTE
        inc     %rbx
        jmp     1b
2:      xor     %r15d, %r15d                    # exit status 0
        mov     $0xf4, %r14d                    # exit port
        OUT_BYTE
halt:   xor     %eax, %eax                      # TDG.VP.VMCALL
        mov     $TDVMCALL_REGS, %ecx
        xor     %r10d, %r10d                    # a GHCI standard TDVMCALL
        mov     $TDVMCALL_HLT, %r11d
        xor     %r12d, %r12d                    # interrupts not blocked
        tdcall
        jmp     halt

msg:    .asciz  "Hello from a TD\n"

# --- 0xfffffff0: the reset vector -------------------------------------------
        .org    0x3ff0
        .code32
reset:  jmp     start32
        .org    0x4000, 0xf4
