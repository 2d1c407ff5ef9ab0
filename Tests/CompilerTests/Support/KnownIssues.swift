import Testing

/// Bugs these tests found in code the tests do not own (Sources/Compiler, Sources/Rules), reported to their
/// owners. Each test that trips one wraps it in `withKnownIssue` so the suite stays green; when a bug is
/// fixed, its tests pass without the wrapper firing.
enum KnownIssues {
    /// Lowering.swift `lowerPayload`: for a convertible region whose guest_memfd has `mmap: true` (allowed on
    /// SNP, TDX and CCA, where INIT_SHARED is not), the launch command reads `%map.NAME`, the mmap of that
    /// guest_memfd. Its pages are private and fault for the host (SIGBUS, KVM_UAPI.md §2.3), so both the `load`
    /// and the kernel's read of the source fail. Expected: an anonymous staging buffer, as for private regions.
    static let populateFromGuestMemfdMmap: Comment =
        "Lowering: launch-command source is an mmap of a guest_memfd without INIT_SHARED (SIGBUS, KVM_UAPI.md §2.3)"

    /// Lowering.swift `lowerPayload`: each ELF PT_LOAD segment gets its own populate step over its pages, so two
    /// segments sharing a 4 KiB page populate that page twice: TDX cannot add a page twice (the second
    /// KVM_TDX_INIT_MEM_REGION fails) and SNP LAUNCH_UPDATE needs pages whose RMP entry is still shared
    /// (KVM_UAPI.md §3.1, §3.2); with staging buffers, the first copy also lacks the other segment's bytes.
    /// Expected: one populate per page range, from one buffer holding every segment's bytes.
    static let elfSegmentsSharingAPage: Comment =
        "Lowering: ELF segments sharing a 4 KiB page populate that page twice (KVM_UAPI.md §3.1, §3.2)"

    /// check + lowering: a payload loaded into a guest_memfd region with `mmap: true` but without `init-shared`
    /// (any platform; on sw-protected, SNP, TDX and CCA init-shared is not even allowed) is accepted, and the
    /// `load` step writes through the guest_memfd mmap, which faults for the host (SIGBUS, KVM_UAPI.md §2.3).
    /// Expected: `check` rejects such a payload placement (or the region's mmap without init-shared).
    static let loadIntoGuestMemfdMmap: Comment =
        "check/Lowering: payload is written through an mmap of a guest_memfd without INIT_SHARED (SIGBUS, KVM_UAPI.md §2.3)"
}
