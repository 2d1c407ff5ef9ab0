// ckvm.h — the C half of kvmplan's one door into the kernel.
//
// ABI
// ===
// This header carries its own copy of the KVM user-space ABI (Linux `include/uapi/linux/kvm.h`
// and `arch/x86/include/uapi/asm/kvm.h`) as the newest kernels define it (6.18 … 7.2). It
// deliberately does NOT include the system's <linux/kvm.h>: distribution headers lag behind the
// running kernel (the build machines ship 6.1, which has no guest_memfd). Every value and layout
// here is taken from the project's KVM_UAPI.md; section numbers below refer to that file.
//
// * Target: 64-bit little-endian Linux (x86_64, arm64; LP64). Struct layouts are pinned with
//   `_Static_assert`s in ckvm.c (sizes and field offsets of KVM_UAPI.md §1.5), so a drifting
//   definition fails the build instead of corrupting an ioctl argument.
// * Names: every type is `ckvm_<kernel name>` and every constant `CKVM_<KERNEL_NAME>`. Request
//   numbers are `extern const unsigned long CKVM_KVM_*`, computed in ckvm_uapi.c with the generic
//   `_IOC` encoding (dir << 30 | size << 16 | type << 8 | nr; identical on x86_64 and arm64).
//   Plain numeric constants are enums or `#define`s of integer literals, which Swift imports.
//   No function-like macros are exported (Swift cannot import them).
// * Helpers: fixed-arity wrappers for the variadic and GNU-only libc calls. Each returns its
//   result (>= 0) or `-errno`; none of them retries EINTR — the caller (KVM/Syscalls.swift)
//   does that in exactly one place.
// * Structs with a trailing flexible array (`kvm_cpuid2`, TDX payloads) are declared with the
//   array; Swift does not import flexible members, so Swift code addresses the entries through
//   `CKVM_*_OFFSET_*` constants and raw memory of the right size.
// * x86-only definitions are guarded by `#if defined(__x86_64__)`.

#ifndef CKVM_H
#define CKVM_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__LP64__)
#error "ckvm.h describes the LP64 KVM ABI only (x86_64, arm64)"
#endif

// Nullability annotations are a Clang extension; other compilers (gcc for C reproducers) drop them.
#if defined(__has_feature)
#if !__has_feature(nullability)
#define _Nullable
#define _Nonnull
#endif
#else
#define _Nullable
#define _Nonnull
#endif

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Generated constants

// KVMIO, the API version, the request numbers (defined in ckvm_uapi.c), the KVM_CAP_* numbers, the VM types,
// the memslot/guest_memfd/attribute flags, the SEV/TDX command ids and the exit reasons come from the one uapi
// table, Scripts/uapi/kvm-uapi.json (`python3 Scripts/generate-uapi.py`).
#include "ckvm_uapi.h"

// MARK: - Flags (§1.4; memslot, guest_memfd and attribute flags are in ckvm_uapi.h)

// kvm_run.memory_fault.flags, kvm_run.hypercall.flags, KVM_HC_MAP_GPA_RANGE and its attributes: ckvm_uapi.h
// (generated; the zero values KVM_MAP_GPA_RANGE_PAGE_SZ_4K and _DECRYPTED are not named).

// kvm_run.io.direction, kvm_run.internal.suberror, kvm_run.system_event.type: ckvm_uapi.h (generated).

// MARK: - Memory slots and guest_memfd (§1.5)

/// `struct kvm_userspace_memory_region`, 32 bytes (KVM_SET_USER_MEMORY_REGION).
struct ckvm_userspace_memory_region {
    uint32_t slot;             // bits 15:0 slot id, bits 31:16 address-space id
    uint32_t flags;            // CKVM_KVM_MEM_*
    uint64_t guest_phys_addr;
    uint64_t memory_size;      // bytes; 0 deletes the slot
    uint64_t userspace_addr;   // start of the host mapping
};

/// `struct kvm_userspace_memory_region2`, 160 bytes (KVM_SET_USER_MEMORY_REGION2).
/// The first 32 bytes are identical to `ckvm_userspace_memory_region`.
struct ckvm_userspace_memory_region2 {
    uint32_t slot;
    uint32_t flags;
    uint64_t guest_phys_addr;
    uint64_t memory_size;
    uint64_t userspace_addr;
    uint64_t guest_memfd_offset;
    uint32_t guest_memfd;      // a guest_memfd of this VM (with CKVM_KVM_MEM_GUEST_MEMFD)
    uint32_t pad1;
    uint64_t pad2[14];
};

/// `struct kvm_create_guest_memfd`, 64 bytes (KVM_CREATE_GUEST_MEMFD).
struct ckvm_create_guest_memfd {
    uint64_t size;             // bytes, host-page aligned, > 0
    uint64_t flags;            // CKVM_GUEST_MEMFD_FLAG_*
    uint64_t reserved[6];      // must be zero
};

/// `struct kvm_memory_attributes`, 32 bytes (KVM_SET_MEMORY_ATTRIBUTES).
struct ckvm_memory_attributes {
    uint64_t address;
    uint64_t size;
    uint64_t attributes;       // CKVM_KVM_MEMORY_ATTRIBUTE_*
    uint64_t flags;            // must be zero
};

/// `struct kvm_pre_fault_memory`, 64 bytes (KVM_PRE_FAULT_MEMORY, vCPU fd).
struct ckvm_pre_fault_memory {
    uint64_t gpa;              // in/out
    uint64_t size;             // in/out: the remainder after a partial call
    uint64_t flags;            // must be zero
    uint64_t padding[5];
};

/// `struct kvm_enable_cap`, 104 bytes (KVM_ENABLE_CAP).
struct ckvm_enable_cap {
    uint32_t cap;
    uint32_t flags;
    uint64_t args[4];
    uint8_t pad[64];
};

// MARK: - kvm_run (the mmap'ed vCPU communication page; fixed part 2352 bytes)

/// KVM_EXIT_IO. Data lives at `data_offset` bytes from the start of kvm_run: `size * count` bytes.
struct ckvm_run_io {
    uint8_t direction;         // CKVM_KVM_EXIT_IO_IN / _OUT
    uint8_t size;              // bytes per access: 1, 2 or 4
    uint16_t port;
    uint32_t count;
    uint64_t data_offset;
};

/// KVM_EXIT_MMIO. For reads, userspace fills `data[0..<len]` before the next KVM_RUN.
struct ckvm_run_mmio {
    uint64_t phys_addr;
    uint8_t data[8];
    uint32_t len;
    uint8_t is_write;
};

/// KVM_EXIT_HYPERCALL. `flags` shares storage with the older `__u32 longmode`.
struct ckvm_run_hypercall {
    uint64_t nr;
    uint64_t args[6];
    uint64_t ret;              // written by userspace before re-entering KVM_RUN
    uint64_t flags;            // CKVM_KVM_EXIT_HYPERCALL_LONG_MODE
};

/// KVM_EXIT_FAIL_ENTRY.
struct ckvm_run_fail_entry {
    uint64_t hardware_entry_failure_reason;
    uint32_t cpu;
};

/// KVM_EXIT_INTERNAL_ERROR.
struct ckvm_run_internal {
    uint32_t suberror;         // CKVM_KVM_INTERNAL_ERROR_*
    uint32_t ndata;            // valid entries of data (KVM_CAP_INTERNAL_ERROR_DATA)
    uint64_t data[16];
};

/// KVM_EXIT_SYSTEM_EVENT. `data[0]` shares storage with the older `__u64 flags`.
struct ckvm_run_system_event {
    uint32_t type;             // CKVM_KVM_SYSTEM_EVENT_*
    uint32_t ndata;
    uint64_t data[16];
};

/// KVM_EXIT_MEMORY_FAULT (accompanies KVM_RUN returning -1/EFAULT).
struct ckvm_run_memory_fault {
    uint64_t flags;            // CKVM_KVM_MEMORY_EXIT_FLAG_PRIVATE
    uint64_t gpa;
    uint64_t size;
};

/// KVM_EXIT_UNKNOWN.
struct ckvm_run_hw {
    uint64_t hardware_exit_reason;
};

/// The 256-byte exit union at offset 32 of kvm_run. Named (the kernel's is anonymous) so that
/// Swift can address the members as `run.exit.io` and so on.
union ckvm_run_exit {
    struct ckvm_run_hw hw;
    struct ckvm_run_fail_entry fail_entry;
    struct ckvm_run_io io;
    struct ckvm_run_mmio mmio;
    struct ckvm_run_hypercall hypercall;
    struct ckvm_run_internal internal;
    struct ckvm_run_system_event system_event;
    struct ckvm_run_memory_fault memory_fault;
    char padding[256];
};

/// `struct kvm_run` (non-s390), fixed part 2352 bytes. The vCPU fd must be mapped with
/// KVM_GET_VCPU_MMAP_SIZE bytes, which is larger (I/O data and coalesced-MMIO pages follow).
struct ckvm_run {
    uint8_t request_interrupt_window;
    uint8_t immediate_exit;    // the kernel calls it immediate_exit__unsafe since 6.13
    uint8_t padding1[6];
    uint32_t exit_reason;
    uint8_t ready_for_interrupt_injection;
    uint8_t if_flag;
    uint16_t flags;
    uint64_t cr8;
    uint64_t apic_base;
    union ckvm_run_exit exit;
    uint64_t kvm_valid_regs;
    uint64_t kvm_dirty_regs;
    char sync_regs[2048];
};

// MARK: - x86 registers, CPUID, and confidential-computing payloads

#if defined(__x86_64__)

/// `struct kvm_regs` (x86), 144 bytes (KVM_GET_REGS / KVM_SET_REGS).
struct ckvm_regs {
    uint64_t rax, rbx, rcx, rdx;
    uint64_t rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11;
    uint64_t r12, r13, r14, r15;
    uint64_t rip, rflags;
};

/// `struct kvm_segment` (x86), 24 bytes.
struct ckvm_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type;
    uint8_t present, dpl, db, s, l, g, avl;
    uint8_t unusable;
    uint8_t padding;
};

/// `struct kvm_dtable` (x86), 16 bytes.
struct ckvm_dtable {
    uint64_t base;
    uint16_t limit;
    uint16_t padding[3];
};

/// Number of interrupt vectors tracked by `ckvm_sregs.interrupt_bitmap` (KVM_NR_INTERRUPTS).
#define CKVM_KVM_NR_INTERRUPTS 256

/// `struct kvm_sregs` (x86), 312 bytes (KVM_GET_SREGS / KVM_SET_SREGS).
struct ckvm_sregs {
    struct ckvm_segment cs, ds, es, fs, gs, ss;
    struct ckvm_segment tr, ldt;
    struct ckvm_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer;
    uint64_t apic_base;
    uint64_t interrupt_bitmap[(CKVM_KVM_NR_INTERRUPTS + 63) / 64];
};

// kvm_cpuid_entry2.flags
#define CKVM_KVM_CPUID_FLAG_SIGNIFCANT_INDEX (1U << 0)
#define CKVM_KVM_CPUID_FLAG_STATEFUL_FUNC (1U << 1)
#define CKVM_KVM_CPUID_FLAG_STATE_READ_NEXT (1U << 2)
/// KVM's limit on CPUID entries (KVM_MAX_CPUID_ENTRIES, §4).
#define CKVM_KVM_MAX_CPUID_ENTRIES 256

/// `struct kvm_cpuid_entry2` (x86), 40 bytes.
struct ckvm_cpuid_entry2 {
    uint32_t function;
    uint32_t index;
    uint32_t flags;            // CKVM_KVM_CPUID_FLAG_*
    uint32_t eax, ebx, ecx, edx;
    uint32_t padding[3];
};

/// `struct kvm_cpuid2` (x86): an 8-byte header followed by `nent` entries of 40 bytes
/// (KVM_SET_CPUID2, KVM_GET_SUPPORTED_CPUID; also embedded in TDX payloads).
struct ckvm_cpuid2 {
    uint32_t nent;
    uint32_t padding;
    struct ckvm_cpuid_entry2 entries[];
};
/// Byte offset of `entries` in `ckvm_cpuid2`.
#define CKVM_CPUID2_ENTRIES_OFFSET 8

/// `struct kvm_irq_level`, 8 bytes (KVM_IRQ_LINE): `irq` is the GSI, `level` 1 raises it, 0 lowers it.
struct ckvm_irq_level {
    uint32_t irq;
    uint32_t level;
};

/// `struct kvm_pit_config`, 64 bytes (KVM_CREATE_PIT2).
struct ckvm_pit_config {
    uint32_t flags;
    uint32_t pad[15];
};
// KVM_PIT_SPEAKER_DUMMY: ckvm_uapi.h (generated).

/// `struct kvm_enc_region`, 16 bytes (KVM_MEMORY_ENCRYPT_REG_REGION, SEV/SEV-ES).
struct ckvm_enc_region {
    uint64_t addr;
    uint64_t size;
};

// SEV command ids: ckvm_uapi.h (generated).
// kvm_sev_snp_launch_update.type
#define CKVM_KVM_SEV_PAGE_TYPE_INVALID 0
// KVM_SEV_SNP_PAGE_TYPE_*: ckvm_uapi.h (generated).
#define CKVM_KVM_SEV_SNP_FINISH_DATA_SIZE 32
// kvm_sev_snp_launch_finish: the ID block and ID authentication structure its uaddrs point at (kvm.h:904-905).
#define CKVM_KVM_SEV_SNP_ID_BLOCK_SIZE 96
#define CKVM_KVM_SEV_SNP_ID_AUTH_SIZE 4096

/// `struct kvm_sev_cmd`, 24 bytes: the KVM_MEMORY_ENCRYPT_OP argument on SEV VMs.
struct ckvm_sev_cmd {
    uint32_t id;               // CKVM_KVM_SEV_*
    uint32_t pad0;
    uint64_t data;             // user pointer to the command's payload
    uint32_t error;            // out: firmware error code
    uint32_t sev_fd;           // an open /dev/sev
};

/// `struct kvm_sev_init`, 48 bytes (KVM_SEV_INIT2).
struct ckvm_sev_init {
    uint64_t vmsa_features;
    uint32_t flags;            // must be zero
    uint16_t ghcb_version;
    uint16_t pad1;
    uint32_t pad2[8];
};

/// `struct kvm_sev_snp_launch_start`, 64 bytes (KVM_SEV_SNP_LAUNCH_START).
struct ckvm_sev_snp_launch_start {
    uint64_t policy;
    uint8_t gosvw[16];
    uint16_t flags;            // must be zero
    uint8_t pad0[6];
    uint64_t pad1[4];
};

/// `struct kvm_sev_snp_launch_update`, 64 bytes (KVM_SEV_SNP_LAUNCH_UPDATE).
struct ckvm_sev_snp_launch_update {
    uint64_t gfn_start;        // in/out
    uint64_t uaddr;            // in/out
    uint64_t len;              // in/out, 4 KiB aligned
    uint8_t type;              // CKVM_KVM_SEV_SNP_PAGE_TYPE_*
    uint8_t pad0;
    uint16_t flags;            // must be zero
    uint32_t pad1;
    uint64_t pad2[4];
};

/// `struct kvm_sev_snp_launch_finish`, 88 bytes (KVM_SEV_SNP_LAUNCH_FINISH).
struct ckvm_sev_snp_launch_finish {
    uint64_t id_block_uaddr;
    uint64_t id_auth_uaddr;
    uint8_t id_block_en;
    uint8_t auth_key_en;
    uint8_t vcek_disabled;
    uint8_t host_data[CKVM_KVM_SEV_SNP_FINISH_DATA_SIZE];
    uint8_t pad0[3];
    uint16_t flags;            // must be zero
    uint64_t pad1[4];
};

// TDX command ids: ckvm_uapi.h (generated).
#define CKVM_KVM_TDX_MEASURE_MEMORY_REGION (1U << 0)

/// `struct kvm_tdx_cmd`, 24 bytes: the KVM_MEMORY_ENCRYPT_OP argument on TDX VMs and vCPUs.
struct ckvm_tdx_cmd {
    uint32_t id;               // CKVM_KVM_TDX_*
    uint32_t flags;
    uint64_t data;             // immediate value or user pointer
    uint64_t hw_error;         // out: SEAMCALL status; must be zero on input
};

/// `struct kvm_tdx_capabilities`, 2056 bytes + `cpuid_nent` CPUID entries (KVM_TDX_CAPABILITIES).
/// The kernel embeds a `struct kvm_cpuid2`; it is flattened here (header fields + entries).
struct ckvm_tdx_capabilities {
    uint64_t supported_attrs;
    uint64_t supported_xfam;
    uint64_t kernel_tdvmcallinfo_1_r11;
    uint64_t user_tdvmcallinfo_1_r11;
    uint64_t kernel_tdvmcallinfo_1_r12;
    uint64_t user_tdvmcallinfo_1_r12;
    uint64_t reserved[250];
    uint32_t cpuid_nent;
    uint32_t cpuid_padding;
    struct ckvm_cpuid_entry2 cpuid_entries[];
};

/// `struct kvm_tdx_init_vm`, 264 bytes + `cpuid_nent` CPUID entries (KVM_TDX_INIT_VM).
/// The kernel embeds a `struct kvm_cpuid2` at offset 256; it is flattened here.
struct ckvm_tdx_init_vm {
    uint64_t attributes;
    uint64_t xfam;
    uint64_t mrconfigid[6];
    uint64_t mrowner[6];
    uint64_t mrownerconfig[6];
    uint64_t reserved[12];     // must be zero
    uint32_t cpuid_nent;
    uint32_t cpuid_padding;    // must be zero
    struct ckvm_cpuid_entry2 cpuid_entries[];
};

/// `struct kvm_tdx_init_mem_region`, 24 bytes (KVM_TDX_INIT_MEM_REGION, vCPU fd).
struct ckvm_tdx_init_mem_region {
    uint64_t source_addr;
    uint64_t gpa;
    uint64_t nr_pages;         // in/out
};

#endif  // __x86_64__

// MARK: - Host memory constants (for mmap, memfd_create, fallocate, madvise)

/// `MFD_CLOEXEC`, `MFD_HUGETLB` and the huge page size encodings (`21 << 26`, `30 << 26`).
extern const unsigned int CKVM_MFD_CLOEXEC;
extern const unsigned int CKVM_MFD_HUGETLB;
extern const unsigned int CKVM_MFD_HUGE_2MB;
extern const unsigned int CKVM_MFD_HUGE_1GB;
/// `MAP_NORESERVE`, `MAP_HUGETLB` and `MAP_HUGE_2MB` / `MAP_HUGE_1GB`.
extern const int CKVM_MAP_NORESERVE;
extern const int CKVM_MAP_HUGETLB;
extern const int CKVM_MAP_HUGE_2MB;
extern const int CKVM_MAP_HUGE_1GB;
/// `FALLOC_FL_KEEP_SIZE` and `FALLOC_FL_PUNCH_HOLE`.
extern const int CKVM_FALLOC_FL_KEEP_SIZE;
extern const int CKVM_FALLOC_FL_PUNCH_HOLE;
/// `MADV_DONTNEED` and `MADV_REMOVE`.
extern const int CKVM_MADV_DONTNEED;
extern const int CKVM_MADV_REMOVE;

// MARK: - Helpers (each returns the result, or -errno)
//
// Only the calls Swift cannot make directly are wrapped: `ioctl` (variadic), the GNU-only
// `memfd_create` and `fallocate`, `mmap` (whose MAP_FAILED is a macro cast) and CPUID. Plain
// calls such as open/close/munmap go through Glibc in KVM/Syscalls.swift.

/// `ioctl(fd, req)` with no argument.
long ckvm_ioctl_none(int fd, unsigned long req);
/// `ioctl(fd, req, arg)` with an integer argument (KVM_CREATE_VM, KVM_CHECK_EXTENSION, …).
long ckvm_ioctl_int(int fd, unsigned long req, unsigned long arg);
/// `ioctl(fd, req, arg)` with a pointer argument (struct in/out).
long ckvm_ioctl_ptr(int fd, unsigned long req, void *_Nullable arg);
/// `memfd_create(name, flags)`.
int ckvm_memfd_create(const char *_Nonnull name, unsigned int flags);
/// `fallocate(fd, mode, offset, length)`.
int ckvm_fallocate(int fd, int mode, int64_t offset, int64_t length);
/// `mmap(addr, length, prot, flags, fd, offset)`: stores the mapping in `*out` and returns 0,
/// or returns -errno and leaves `*out` untouched.
int ckvm_mmap(void *_Nullable addr, size_t length, int prot, int flags, int fd, int64_t offset,
              void *_Nullable *_Nonnull out);

/// Executes CPUID with `leaf`/`subleaf`. Returns 1 and fills the registers when the leaf exists
/// (x86 only: the leaf is at most the maximum basic or extended leaf), else 0 and zeroes them.
int ckvm_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *_Nonnull eax, uint32_t *_Nonnull ebx,
               uint32_t *_Nonnull ecx, uint32_t *_Nonnull edx);

#ifdef __cplusplus
}
#endif

#endif  // CKVM_H
