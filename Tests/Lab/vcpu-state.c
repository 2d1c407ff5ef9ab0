/*
 * vcpu-state: what a real KVM reports of a vCPU's state, for the lab's check of kvmplan's SEV-SNP VMSA model
 * (Sources/Plan/SNPVMSA.swift). The VMSA KVM measures is built from this state; the lab kernel has SVM but no
 * SNP, so what is checked here is the state the model starts from and the KVM_SET_SREGS/KVM_GET_SREGS round
 * trip of kvmplan's boots, on a real kvm_amd.
 *
 * Reads boot blocks from stdin (Tests/Lab/vcpu-state.input, written from X86BootRegisters by the test
 * "the lab's vCPU-state fixtures" in Tests/CompilerTests/SNPVMSATests.swift):
 *   boot NAME
 *   cs|data BASE LIMIT SELECTOR TYPE PRESENT DPL DB S L G AVL
 *   gdt BASE LIMIT   cr0 V   cr0-clear V   cr3 V   cr4 V   efer V   rip V   rsi V   rdi V   rsp V   rflags V
 *   end
 * and prints the reset state of vCPU 0 after KVM_SET_CPUID2, as in kvmplan's plans (segments, control registers,
 * RDX/RIP/RFLAGS, DR6/DR7, XCR0, FCW, the PAT), then for each block a fresh vCPU's KVM_GET_SREGS/KVM_GET_REGS after the launcher's calls
 * (KVM_GET_SREGS, the block's changes, KVM_SET_SREGS, KVM_SET_REGS). The lab compares the output with
 * Tests/Lab/vcpu-state.expected, which the same test writes from the model.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

static void segment(const char *name, const struct kvm_segment *s)
{
    printf("%s base=0x%llx limit=0x%x selector=0x%x type=0x%x present=%d dpl=%d db=%d s=%d l=%d g=%d avl=%d unusable=%d\n",
           name, (unsigned long long)s->base, s->limit, s->selector, s->type, s->present, s->dpl, s->db, s->s, s->l, s->g,
           s->avl, s->unusable);
}

static void state(int vcpu)
{
    struct kvm_sregs s;
    struct kvm_regs r;
    if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0) fail("KVM_GET_SREGS");
    if (ioctl(vcpu, KVM_GET_REGS, &r) < 0) fail("KVM_GET_REGS");
    segment("cs", &s.cs); segment("ds", &s.ds); segment("es", &s.es); segment("fs", &s.fs);
    segment("gs", &s.gs); segment("ss", &s.ss); segment("tr", &s.tr); segment("ldt", &s.ldt);
    printf("gdt base=0x%llx limit=0x%x\n", (unsigned long long)s.gdt.base, s.gdt.limit);
    printf("idt base=0x%llx limit=0x%x\n", (unsigned long long)s.idt.base, s.idt.limit);
    printf("cr0=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx\n", (unsigned long long)s.cr0, (unsigned long long)s.cr3,
           (unsigned long long)s.cr4, (unsigned long long)s.efer);
    printf("rax=0x%llx rbx=0x%llx rcx=0x%llx rdx=0x%llx rsi=0x%llx rdi=0x%llx rsp=0x%llx rbp=0x%llx\n",
           (unsigned long long)r.rax, (unsigned long long)r.rbx, (unsigned long long)r.rcx, (unsigned long long)r.rdx,
           (unsigned long long)r.rsi, (unsigned long long)r.rdi, (unsigned long long)r.rsp, (unsigned long long)r.rbp);
    printf("rip=0x%llx rflags=0x%llx\n", (unsigned long long)r.rip, (unsigned long long)r.rflags);
}

static unsigned long long word(const char *line, const char *key)
{
    unsigned long long v;
    char name[32];
    if (sscanf(line, "%31s %llx", name, &v) != 2 || strcmp(name, key) != 0) {
        fprintf(stderr, "vcpu-state: expected %s, got: %s", key, line);
        exit(2);
    }
    return v;
}

static void read_segment(const char *line, struct kvm_segment *s)
{
    char name[32];
    unsigned long long base, f[10];
    if (sscanf(line, "%31s %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx", name, &base, &f[0], &f[1], &f[2],
               &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9]) != 12) {
        fprintf(stderr, "vcpu-state: bad segment line: %s", line);
        exit(2);
    }
    memset(s, 0, sizeof *s);
    s->base = base; s->limit = (unsigned)f[0]; s->selector = (unsigned short)f[1]; s->type = (unsigned char)f[2];
    s->present = f[3]; s->dpl = f[4]; s->db = f[5]; s->s = f[6]; s->l = f[7]; s->g = f[8]; s->avl = f[9];
}

/* KVM_SET_CPUID2 with what KVM supports, as kvmplan's plans do after KVM_CREATE_VCPU (long mode needs LM in it). */
static void set_cpuid(int kvm, int vcpu)
{
    static struct { struct kvm_cpuid2 header; struct kvm_cpuid_entry2 entries[256]; } cpuid;
    cpuid.header.nent = 256;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0) fail("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(vcpu, KVM_SET_CPUID2, &cpuid) < 0) fail("KVM_SET_CPUID2");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) fail("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) fail("KVM_CREATE_VM");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) fail("KVM_CREATE_VCPU");
    set_cpuid(kvm, vcpu);

    printf("== reset\n");
    state(vcpu);
    struct kvm_debugregs d;
    if (ioctl(vcpu, KVM_GET_DEBUGREGS, &d) < 0) fail("KVM_GET_DEBUGREGS");
    printf("dr6=0x%llx dr7=0x%llx\n", (unsigned long long)d.dr6, (unsigned long long)d.dr7);
    struct kvm_xcrs x;
    if (ioctl(vcpu, KVM_GET_XCRS, &x) < 0) fail("KVM_GET_XCRS");
    for (unsigned i = 0; i < x.nr_xcrs; i++)
        if (x.xcrs[i].xcr == 0) printf("xcr0=0x%llx\n", (unsigned long long)x.xcrs[i].value);
    struct kvm_fpu fpu;
    if (ioctl(vcpu, KVM_GET_FPU, &fpu) < 0) fail("KVM_GET_FPU");
    /* FCW only: KVM_GET_FPU does not report MXCSR (x86.c:11427-11448 in 6.12), and KVM_GET_XSAVE reports the
     * init value, not the vCPU's, while the state's header lacks SSE; the model's MXCSR rests on the source. */
    printf("fcw=0x%x\n", fpu.fcw);
    struct { struct kvm_msrs header; struct kvm_msr_entry entry; } msrs = { { .nmsrs = 1 }, { .index = 0x277 } };
    if (ioctl(vcpu, KVM_GET_MSRS, &msrs) != 1) fail("KVM_GET_MSRS(IA32_PAT)");
    printf("pat=0x%llx\n", (unsigned long long)msrs.entry.data);

    char line[256], name[64];
    int next = 1;
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "boot %63s", name) != 1) continue;
        int v = ioctl(vm, KVM_CREATE_VCPU, next++);
        if (v < 0) fail("KVM_CREATE_VCPU");
        set_cpuid(kvm, v);
        struct kvm_sregs s;
        struct kvm_regs r;
        if (ioctl(v, KVM_GET_SREGS, &s) < 0) fail("KVM_GET_SREGS");
        struct kvm_segment data;
        unsigned long long cr0, clear, set;
#define NEXT() do { if (!fgets(line, sizeof line, stdin)) { fprintf(stderr, "vcpu-state: truncated\n"); exit(2); } } while (0)
        NEXT(); read_segment(line, &s.cs);
        NEXT(); read_segment(line, &data);
        s.ds = s.es = s.fs = s.gs = s.ss = data;
        NEXT();
        if (strncmp(line, "gdt -", 5) != 0) {
            unsigned long long base, limit;
            if (sscanf(line, "gdt %llx %llx", &base, &limit) != 2) { fprintf(stderr, "vcpu-state: bad gdt: %s", line); exit(2); }
            s.gdt.base = base; s.gdt.limit = (unsigned short)limit;
        }
        NEXT(); cr0 = word(line, "cr0");
        NEXT(); clear = word(line, "cr0-clear");
        if (cr0 != ~0ULL) s.cr0 = cr0;
        s.cr0 &= ~clear;
        NEXT(); if ((set = word(line, "cr3")) != ~0ULL) s.cr3 = set;
        NEXT(); if ((set = word(line, "cr4")) != ~0ULL) s.cr4 = set;
        NEXT(); if ((set = word(line, "efer")) != ~0ULL) s.efer = set;
        if (ioctl(v, KVM_SET_SREGS, &s) < 0) fail("KVM_SET_SREGS");
        memset(&r, 0, sizeof r);
        NEXT(); r.rip = word(line, "rip");
        NEXT(); r.rsi = word(line, "rsi");
        NEXT(); r.rdi = word(line, "rdi");
        NEXT(); r.rsp = word(line, "rsp");
        NEXT(); r.rflags = word(line, "rflags");
        if (ioctl(v, KVM_SET_REGS, &r) < 0) fail("KVM_SET_REGS");
        printf("== %s\n", name);
        state(v);
    }
    return 0;
}
