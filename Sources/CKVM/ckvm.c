// ckvm.c — layout checks and fixed-arity syscall helpers for ckvm.h.
// See the ABI notes at the top of include/ckvm.h.

#define _GNU_SOURCE 1

#include "ckvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

// Request numbers and the argument-struct sizes they encode: ckvm_uapi.c (generated from the uapi table).

// MARK: - Layouts (KVM_UAPI.md §1.5)

#define CKVM_ASSERT_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " is " #size " bytes")
#define CKVM_ASSERT_OFFSET(type, field, off) \
    _Static_assert(offsetof(type, field) == (off), #type "." #field " is at " #off)

CKVM_ASSERT_SIZE(struct ckvm_userspace_memory_region, 32);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region, flags, 4);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region, guest_phys_addr, 8);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region, memory_size, 16);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region, userspace_addr, 24);

CKVM_ASSERT_SIZE(struct ckvm_userspace_memory_region2, 160);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, flags, 4);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, guest_phys_addr, 8);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, memory_size, 16);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, userspace_addr, 24);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, guest_memfd_offset, 32);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, guest_memfd, 40);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, pad1, 44);
CKVM_ASSERT_OFFSET(struct ckvm_userspace_memory_region2, pad2, 48);

CKVM_ASSERT_SIZE(struct ckvm_create_guest_memfd, 64);
CKVM_ASSERT_OFFSET(struct ckvm_create_guest_memfd, flags, 8);
CKVM_ASSERT_OFFSET(struct ckvm_create_guest_memfd, reserved, 16);

CKVM_ASSERT_SIZE(struct ckvm_memory_attributes, 32);
CKVM_ASSERT_OFFSET(struct ckvm_memory_attributes, size, 8);
CKVM_ASSERT_OFFSET(struct ckvm_memory_attributes, attributes, 16);
CKVM_ASSERT_OFFSET(struct ckvm_memory_attributes, flags, 24);

CKVM_ASSERT_SIZE(struct ckvm_pre_fault_memory, 64);
CKVM_ASSERT_OFFSET(struct ckvm_pre_fault_memory, size, 8);
CKVM_ASSERT_OFFSET(struct ckvm_pre_fault_memory, flags, 16);
CKVM_ASSERT_OFFSET(struct ckvm_pre_fault_memory, padding, 24);

CKVM_ASSERT_SIZE(struct ckvm_enable_cap, 104);
CKVM_ASSERT_OFFSET(struct ckvm_enable_cap, flags, 4);
CKVM_ASSERT_OFFSET(struct ckvm_enable_cap, args, 8);
CKVM_ASSERT_OFFSET(struct ckvm_enable_cap, pad, 40);

CKVM_ASSERT_SIZE(union ckvm_run_exit, 256);
CKVM_ASSERT_SIZE(struct ckvm_run, 2352);
CKVM_ASSERT_OFFSET(struct ckvm_run, immediate_exit, 1);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit_reason, 8);
CKVM_ASSERT_OFFSET(struct ckvm_run, ready_for_interrupt_injection, 12);
CKVM_ASSERT_OFFSET(struct ckvm_run, if_flag, 13);
CKVM_ASSERT_OFFSET(struct ckvm_run, flags, 14);
CKVM_ASSERT_OFFSET(struct ckvm_run, cr8, 16);
CKVM_ASSERT_OFFSET(struct ckvm_run, apic_base, 24);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit, 32);
CKVM_ASSERT_OFFSET(struct ckvm_run, kvm_valid_regs, 288);
CKVM_ASSERT_OFFSET(struct ckvm_run, kvm_dirty_regs, 296);
CKVM_ASSERT_OFFSET(struct ckvm_run, sync_regs, 304);
// Union members, as offsets from the start of kvm_run (§1.5).
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.io.size, 33);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.io.port, 34);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.io.count, 36);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.io.data_offset, 40);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.mmio.data, 40);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.mmio.len, 48);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.mmio.is_write, 52);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.hypercall.nr, 32);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.hypercall.args, 40);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.hypercall.ret, 88);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.hypercall.flags, 96);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.memory_fault.flags, 32);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.memory_fault.gpa, 40);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.memory_fault.size, 48);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.system_event.ndata, 36);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.system_event.data, 40);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.internal.ndata, 36);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.internal.data, 40);
CKVM_ASSERT_OFFSET(struct ckvm_run, exit.fail_entry.cpu, 40);

#if defined(__x86_64__)
CKVM_ASSERT_SIZE(struct ckvm_regs, 144);
CKVM_ASSERT_OFFSET(struct ckvm_regs, rip, 128);
CKVM_ASSERT_OFFSET(struct ckvm_regs, rflags, 136);
CKVM_ASSERT_SIZE(struct ckvm_segment, 24);
CKVM_ASSERT_OFFSET(struct ckvm_segment, selector, 12);
CKVM_ASSERT_OFFSET(struct ckvm_segment, type, 14);
CKVM_ASSERT_OFFSET(struct ckvm_segment, unusable, 22);
CKVM_ASSERT_SIZE(struct ckvm_dtable, 16);
CKVM_ASSERT_SIZE(struct ckvm_sregs, 312);
CKVM_ASSERT_OFFSET(struct ckvm_sregs, gdt, 192);
CKVM_ASSERT_OFFSET(struct ckvm_sregs, idt, 208);
CKVM_ASSERT_OFFSET(struct ckvm_sregs, cr0, 224);
CKVM_ASSERT_OFFSET(struct ckvm_sregs, efer, 264);
CKVM_ASSERT_OFFSET(struct ckvm_sregs, apic_base, 272);
CKVM_ASSERT_OFFSET(struct ckvm_sregs, interrupt_bitmap, 280);
CKVM_ASSERT_SIZE(struct ckvm_cpuid_entry2, 40);
CKVM_ASSERT_SIZE(struct ckvm_cpuid2, 8);
CKVM_ASSERT_OFFSET(struct ckvm_cpuid2, entries, CKVM_CPUID2_ENTRIES_OFFSET);
CKVM_ASSERT_SIZE(struct ckvm_enc_region, 16);

CKVM_ASSERT_SIZE(struct ckvm_sev_cmd, 24);
CKVM_ASSERT_OFFSET(struct ckvm_sev_cmd, data, 8);
CKVM_ASSERT_OFFSET(struct ckvm_sev_cmd, error, 16);
CKVM_ASSERT_OFFSET(struct ckvm_sev_cmd, sev_fd, 20);
CKVM_ASSERT_SIZE(struct ckvm_sev_init, 48);
CKVM_ASSERT_OFFSET(struct ckvm_sev_init, flags, 8);
CKVM_ASSERT_OFFSET(struct ckvm_sev_init, ghcb_version, 12);
CKVM_ASSERT_OFFSET(struct ckvm_sev_init, pad2, 16);
CKVM_ASSERT_SIZE(struct ckvm_sev_snp_launch_start, 64);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_start, gosvw, 8);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_start, flags, 24);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_start, pad1, 32);
CKVM_ASSERT_SIZE(struct ckvm_sev_snp_launch_update, 64);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_update, len, 16);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_update, type, 24);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_update, flags, 26);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_update, pad1, 28);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_update, pad2, 32);
CKVM_ASSERT_SIZE(struct ckvm_sev_snp_launch_finish, 88);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_finish, id_block_en, 16);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_finish, host_data, 19);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_finish, pad0, 51);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_finish, flags, 54);
CKVM_ASSERT_OFFSET(struct ckvm_sev_snp_launch_finish, pad1, 56);

CKVM_ASSERT_SIZE(struct ckvm_tdx_cmd, 24);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_cmd, flags, 4);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_cmd, data, 8);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_cmd, hw_error, 16);
CKVM_ASSERT_SIZE(struct ckvm_tdx_capabilities, 2056);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_capabilities, user_tdvmcallinfo_1_r12, 40);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_capabilities, reserved, 48);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_capabilities, cpuid_nent, 2048);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_capabilities, cpuid_entries, 2056);
CKVM_ASSERT_SIZE(struct ckvm_tdx_init_vm, 264);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_vm, mrconfigid, 16);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_vm, mrowner, 64);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_vm, mrownerconfig, 112);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_vm, reserved, 160);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_vm, cpuid_nent, 256);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_vm, cpuid_entries, 264);
CKVM_ASSERT_SIZE(struct ckvm_tdx_init_mem_region, 24);
CKVM_ASSERT_OFFSET(struct ckvm_tdx_init_mem_region, nr_pages, 16);
#endif

// MARK: - Host memory constants

#define CKVM_HUGETLB_FLAG_ENCODE_SHIFT 26

const unsigned int CKVM_MFD_CLOEXEC = MFD_CLOEXEC;
const unsigned int CKVM_MFD_HUGETLB = MFD_HUGETLB;
const unsigned int CKVM_MFD_HUGE_2MB = 21U << CKVM_HUGETLB_FLAG_ENCODE_SHIFT;
const unsigned int CKVM_MFD_HUGE_1GB = 30U << CKVM_HUGETLB_FLAG_ENCODE_SHIFT;
const int CKVM_MAP_NORESERVE = MAP_NORESERVE;
const int CKVM_MAP_HUGETLB = MAP_HUGETLB;
const int CKVM_MAP_HUGE_2MB = 21 << CKVM_HUGETLB_FLAG_ENCODE_SHIFT;
const int CKVM_MAP_HUGE_1GB = 30 << CKVM_HUGETLB_FLAG_ENCODE_SHIFT;
const int CKVM_FALLOC_FL_KEEP_SIZE = FALLOC_FL_KEEP_SIZE;
const int CKVM_FALLOC_FL_PUNCH_HOLE = FALLOC_FL_PUNCH_HOLE;
const int CKVM_MADV_DONTNEED = MADV_DONTNEED;
const int CKVM_MADV_REMOVE = MADV_REMOVE;

// MARK: - Helpers

static inline long ckvm_result(long r) { return r < 0 ? -(long)errno : r; }

long ckvm_ioctl_none(int fd, unsigned long req) { return ckvm_result(ioctl(fd, req, 0UL)); }  /* an explicit zero: KVM rejects a non-zero argument to KVM_GET_API_VERSION and KVM_RUN */

long ckvm_ioctl_int(int fd, unsigned long req, unsigned long arg) { return ckvm_result(ioctl(fd, req, arg)); }

long ckvm_ioctl_ptr(int fd, unsigned long req, void *_Nullable arg) { return ckvm_result(ioctl(fd, req, arg)); }

int ckvm_memfd_create(const char *_Nonnull name, unsigned int flags) {
    return (int)ckvm_result(memfd_create(name, flags));
}

int ckvm_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return (int)ckvm_result(fallocate(fd, mode, (off_t)offset, (off_t)length));
}

int ckvm_mmap(void *_Nullable addr, size_t length, int prot, int flags, int fd, int64_t offset,
              void *_Nullable *_Nonnull out) {
    void *p = mmap(addr, length, prot, flags, fd, (off_t)offset);
    if (p == MAP_FAILED) return -errno;
    *out = p;
    return 0;
}

int ckvm_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *_Nonnull eax, uint32_t *_Nonnull ebx,
               uint32_t *_Nonnull ecx, uint32_t *_Nonnull edx) {
    *eax = *ebx = *ecx = *edx = 0;
#if defined(__x86_64__)
    unsigned int a = 0, b = 0, c = 0, d = 0;
    // __get_cpuid_count checks the leaf against the maximum basic or extended leaf first.
    if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d)) return 0;
    *eax = a;
    *ebx = b;
    *ecx = c;
    *edx = d;
    return 1;
#else
    (void)leaf;
    (void)subleaf;
    return 0;
#endif
}
