internal import CKVM

/// A guest_memfd: the private backing of guest memory, created by `VM.createGuestMemfd` and bound
/// to memslots with `KVM_SET_USER_MEMORY_REGION2`. The descriptor is closed when the object is
/// deinitialized (the kernel keeps the memory while a memslot still binds it).
///
/// The file cannot be read, written or resized (KVM_UAPI.md §2.2); `fallocate` and, with
/// `GUEST_MEMFD_FLAG_MMAP`, `mmap` are its only operations.
public final class GuestMemfd: Sendable {
    /// The descriptor number (read-only; owned by this object), for `guest_memfd` in region2.
    public let rawDescriptor: CInt
    /// Size in bytes, as created.
    public let size: UInt64
    /// The `GUEST_MEMFD_FLAG_*` it was created with.
    public let flags: GuestMemfdFlags

    init(descriptor: CInt, size: UInt64, flags: GuestMemfdFlags) {
        self.rawDescriptor = descriptor
        self.size = size
        self.flags = flags
    }

    /// Adopts `descriptor`; for tests and callers that received a guest_memfd from elsewhere.
    package convenience init(adoptingDescriptor descriptor: CInt, size: UInt64, flags: GuestMemfdFlags = []) {
        self.init(descriptor: descriptor, size: size, flags: flags)
    }

    deinit { Syscalls.closeIgnoringErrors(rawDescriptor) }

    /// Maps `length` bytes (default: the whole file) at `offset`, read-write and `MAP_SHARED`
    /// (`MAP_PRIVATE` is EINVAL). Needs `GUEST_MEMFD_FLAG_MMAP` (else ENODEV); touching a page that
    /// is not shared (no `GUEST_MEMFD_FLAG_INIT_SHARED`) raises SIGBUS (KVM_UAPI.md §2.3).
    ///
    /// The corresponding system call is `mmap(2)`.
    public func map(offset: UInt64 = 0, length: Int? = nil) throws(KVMError) -> HostMemory {
        try HostMemory.sharedFile(
            fd: rawDescriptor, offset: offset, length: length ?? Int(clamping: size), noReserve: false,
            kind: "guest_memfd")
    }

    /// Frees the backing of `offset ..< offset + length` (both host-page aligned) and zaps the
    /// guest's mappings of it: the guest next sees a zeroed page. Used when a private page becomes
    /// shared (`on-share: punch-hole`).
    ///
    /// The corresponding system call is `fallocate(2)` with `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`.
    public func punchHole(offset: UInt64, length: UInt64) throws(KVMError) {
        try Syscalls.fallocate(
            rawDescriptor, mode: CKVM_FALLOC_FL_PUNCH_HOLE | CKVM_FALLOC_FL_KEEP_SIZE,
            offset: Int64(bitPattern: offset), length: Int64(bitPattern: length),
            detail: "guest_memfd punch hole 0x\(String(offset, radix: 16))+0x\(String(length, radix: 16))")
    }

    /// Allocates the backing of `offset ..< offset + length` ahead of use (the range must lie
    /// below `size`, else EINVAL).
    ///
    /// The corresponding system call is `fallocate(2)` with `FALLOC_FL_KEEP_SIZE`.
    public func allocate(offset: UInt64, length: UInt64) throws(KVMError) {
        try Syscalls.fallocate(
            rawDescriptor, mode: CKVM_FALLOC_FL_KEEP_SIZE,
            offset: Int64(bitPattern: offset), length: Int64(bitPattern: length),
            detail: "guest_memfd allocate 0x\(String(offset, radix: 16))+0x\(String(length, radix: 16))")
    }
}
