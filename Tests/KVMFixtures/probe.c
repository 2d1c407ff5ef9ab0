/* probe.c — an independent re-implementation of `HostInfo.probe()` for KVMTests.
 *
 * Built and run by Tests/KVMTests/HostProbeTests.swift (`cc -Wall -Werror -o <tmp> probe.c`), which
 * compares its output field by field with the Swift probe. It deliberately shares no code with
 * Sources/CKVM: ioctl numbers and capability numbers are raw values from KVM_UAPI.md, so a
 * mistake in ckvm.h cannot hide in both.
 *
 * Output: one "key value" line per fact:
 *   api 12
 *   vm_types_bitmap 1
 *   cap <number> <value>              (system fd)
 *   vm <type> created 1|0             (for each VM type the bitmap announces)
 *   vm <type> cap <number> <value>    (VM fd)
 *   page_size 4096
 *   vendor AuthenticAMD               (x86 only)
 *   phys_addr_bits 48                 (x86: CPUID 0x80000008 EAX[7:0])
 *   sev_cbit 51 | none
 *   release 6.18.44
 *   machine x86_64
 * Exit status: 0, or 2 when /dev/kvm cannot be opened.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* _IO(0xAE, nr): no size, no direction. */
#define PROBE_KVM_GET_API_VERSION 0xAE00UL
#define PROBE_KVM_CREATE_VM 0xAE01UL
#define PROBE_KVM_CHECK_EXTENSION 0xAE03UL

/* KVM_UAPI.md §1.3 */
static const int system_caps[] = {
    9,   /* KVM_CAP_NR_VCPUS */
    10,  /* KVM_CAP_NR_MEMSLOTS */
    66,  /* KVM_CAP_MAX_VCPUS */
    81,  /* KVM_CAP_READONLY_MEM */
    201, /* KVM_CAP_EXIT_HYPERCALL */
    231, /* KVM_CAP_USER_MEMORY2 */
    232, /* KVM_CAP_MEMORY_FAULT_INFO */
    233, /* KVM_CAP_MEMORY_ATTRIBUTES */
    234, /* KVM_CAP_GUEST_MEMFD */
    235, /* KVM_CAP_VM_TYPES */
    236, /* KVM_CAP_PRE_FAULT_MEMORY */
    244, /* KVM_CAP_GUEST_MEMFD_FLAGS */
#if defined(__aarch64__)
    165, /* KVM_CAP_ARM_VM_IPA_SIZE */
#endif
};
static const int vm_caps[] = {66, 81, 233, 234, 244};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        perror("open /dev/kvm");
        return 2;
    }
    printf("api %d\n", ioctl(kvm, PROBE_KVM_GET_API_VERSION, 0));
    long bitmap = 0;
    for (size_t i = 0; i < COUNT(system_caps); i++) {
        int value = ioctl(kvm, PROBE_KVM_CHECK_EXTENSION, (unsigned long)system_caps[i]);
        printf("cap %d %d\n", system_caps[i], value);
        if (system_caps[i] == 235 && value > 0) bitmap = value;
    }
    printf("vm_types_bitmap %ld\n", bitmap);
#if defined(__x86_64__)
    if (bitmap == 0) bitmap = 1; /* no KVM_CAP_VM_TYPES: only KVM_X86_DEFAULT_VM */
    for (unsigned long type = 0; type < 64; type++) {
        if (!(bitmap & (1L << type))) continue;
        int vm = ioctl(kvm, PROBE_KVM_CREATE_VM, type);
        printf("vm %lu created %d\n", type, vm >= 0);
        if (vm < 0) continue;
        for (size_t i = 0; i < COUNT(vm_caps); i++)
            printf("vm %lu cap %d %d\n", type, vm_caps[i], ioctl(vm, PROBE_KVM_CHECK_EXTENSION, (unsigned long)vm_caps[i]));
        close(vm);
    }
#endif
    printf("page_size %ld\n", sysconf(_SC_PAGESIZE));
#if defined(__x86_64__)
    unsigned int a, b, c, d;
    __cpuid(0, a, b, c, d);
    char vendor[13];
    unsigned int regs[3] = {b, d, c};
    for (int i = 0; i < 12; i++) vendor[i] = (char)(regs[i / 4] >> (8 * (i % 4)));
    vendor[12] = 0;
    printf("vendor %s\n", vendor);
    if (__get_cpuid(0x80000008, &a, &b, &c, &d)) printf("phys_addr_bits %u\n", a & 0xff);
    int cbit = -1;
    if (strcmp(vendor, "AuthenticAMD") == 0 && __get_cpuid(0x8000001f, &a, &b, &c, &d) && (a & 3)) cbit = (int)(b & 0x3f);
    if (cbit >= 0)
        printf("sev_cbit %d\n", cbit);
    else
        printf("sev_cbit none\n");
#endif
    struct utsname u;
    if (uname(&u) == 0) printf("release %s\nmachine %s\n", u.release, u.machine);
    close(kvm);
    return 0;
}
