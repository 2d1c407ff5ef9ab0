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

// MARK: - Struct layouts

// The argument structs (memory slots, guest_memfd, registers, CPUID, SEV and TDX payloads) are declared in
// ckvm_uapi.h, generated from Scripts/uapi/kvm-uapi.json with the C reproducer's copies; only kvm_run is here.

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

/// Number of interrupt vectors tracked by `ckvm_sregs.interrupt_bitmap` (KVM_NR_INTERRUPTS).
#define CKVM_KVM_NR_INTERRUPTS 256

// kvm_cpuid_entry2.flags
#define CKVM_KVM_CPUID_FLAG_SIGNIFCANT_INDEX (1U << 0)
#define CKVM_KVM_CPUID_FLAG_STATEFUL_FUNC (1U << 1)
#define CKVM_KVM_CPUID_FLAG_STATE_READ_NEXT (1U << 2)
/// KVM's limit on CPUID entries (KVM_MAX_CPUID_ENTRIES, §4).
#define CKVM_KVM_MAX_CPUID_ENTRIES 256

/// Byte offset of `entries` in `ckvm_cpuid2`.
#define CKVM_CPUID2_ENTRIES_OFFSET 8

// KVM_PIT_SPEAKER_DUMMY: ckvm_uapi.h (generated).

// SEV command ids: ckvm_uapi.h (generated).
// kvm_sev_snp_launch_update.type
#define CKVM_KVM_SEV_PAGE_TYPE_INVALID 0
// KVM_SEV_SNP_PAGE_TYPE_*: ckvm_uapi.h (generated).
#define CKVM_KVM_SEV_SNP_FINISH_DATA_SIZE 32
// kvm_sev_snp_launch_finish: the ID block and ID authentication structure its uaddrs point at (kvm.h:904-905).
#define CKVM_KVM_SEV_SNP_ID_BLOCK_SIZE 96
#define CKVM_KVM_SEV_SNP_ID_AUTH_SIZE 4096

// TDX command ids: ckvm_uapi.h (generated).
#define CKVM_KVM_TDX_MEASURE_MEMORY_REGION (1U << 0)

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
