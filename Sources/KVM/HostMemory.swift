internal import CKVM
import Synchronization

// MARK: - HostMemory

/// A host mapping: anonymous memory, a memfd, a guest_memfd or a vCPU's `kvm_run` page.
///
/// The mapping is removed with `munmap` when the object is deinitialized or by an explicit
/// `unmap()`, whichever comes first. `userspaceAddress` is what a memslot's `userspace_addr` wants.
///
/// `@unchecked Sendable`: the address and size never change, and the only mutable state (whether
/// the mapping still exists) is behind a `Mutex`. The bytes themselves are shared memory (with the
/// guest, too); synchronising access to them is the caller's job, as with any shared memory.
public final class HostMemory: @unchecked Sendable {
    /// First byte of the mapping.
    public let baseAddress: UnsafeMutableRawPointer
    /// Length of the mapping in bytes.
    public let size: Int
    /// What the mapping shows, for messages: `anonymous`, `memfd`, `guest_memfd`, `kvm_run`.
    public let kind: String
    /// The advice `discard` uses: MADV_DONTNEED for private anonymous memory, MADV_REMOVE for
    /// shared file mappings (which frees the file's pages too).
    private let discardAdvice: CInt
    private let mapped = Mutex(true)
    /// The memfd behind a mapping made by `HostMemory.memfd(name:size:hugePages:noReserve:)`, kept
    /// alive with the mapping (e.g. to punch holes or to pass its descriptor on); nil otherwise.
    public let memfd: Memfd?

    init(baseAddress: UnsafeMutableRawPointer, size: Int, kind: String, discardAdvice: CInt, memfd: Memfd? = nil) {
        self.baseAddress = baseAddress
        self.size = size
        self.kind = kind
        self.discardAdvice = discardAdvice
        self.memfd = memfd
    }

    deinit {
        // SAFETY: the mapping is this object's and nobody can use it after deinit.
        if mapped.withLock({ $0 }) { try? Syscalls.unmap(baseAddress, length: size) }
    }

    /// Maps `size` bytes of private anonymous memory, read-write, zero-filled.
    ///
    /// The corresponding system call is `mmap(2)` with `MAP_PRIVATE | MAP_ANONYMOUS`.
    /// - Parameters:
    ///   - size: the length in bytes.
    ///   - noReserve: adds `MAP_NORESERVE` (no swap reservation: large sparse guests).
    ///   - hugePages: adds `MAP_HUGETLB` with the page size; `size` must be a multiple of it and the
    ///     pages must be available in the hugetlb pool (else ENOMEM).
    /// - Returns: the mapping, unmapped when the value goes.
    /// - Throws: `KVMError` with `mmap`'s errno.
    public static func anonymous(size: Int, noReserve: Bool = false, hugePages: HugePageSize? = nil) throws(KVMError)
        -> HostMemory
    {
        var flags = Syscalls.mapPrivateAnonymous
        if noReserve { flags |= CKVM_MAP_NORESERVE }
        if let hugePages { flags |= hugePages.mmapFlags }
        let base = try Syscalls.map(length: size, prot: Syscalls.protReadWrite, flags: flags, fd: -1, offset: 0)
        return HostMemory(baseAddress: base, size: size, kind: "anonymous", discardAdvice: CKVM_MADV_DONTNEED)
    }

    /// Creates a memfd of `size` bytes (on hugetlbfs with `hugePages`) and maps all of it,
    /// read-write and `MAP_SHARED`. The mapping keeps the memfd alive as `memfd`.
    ///
    /// The corresponding system calls are `memfd_create(2)`, `ftruncate(2)` and `mmap(2)`.
    public static func memfd(name: String, size: Int, hugePages: HugePageSize? = nil, noReserve: Bool = false)
        throws(KVMError) -> HostMemory
    {
        let file = try Memfd(name: name, size: UInt64(size), hugePages: hugePages)
        return try sharedFile(
            fd: file.rawDescriptor, offset: 0, length: size, noReserve: noReserve, kind: "memfd",
            memfd: file)
    }

    /// Maps `length` bytes of the file `fd` at `offset`, read-write and `MAP_SHARED`.
    static func sharedFile(fd: CInt, offset: UInt64, length: Int, noReserve: Bool, kind: String, memfd: Memfd? = nil)
        throws(KVMError) -> HostMemory
    {
        var flags = Syscalls.mapShared
        if noReserve { flags |= CKVM_MAP_NORESERVE }
        let base = try Syscalls.map(
            length: length, prot: Syscalls.protReadWrite, flags: flags, fd: fd, offset: Int64(bitPattern: offset))
        return HostMemory(baseAddress: base, size: length, kind: kind, discardAdvice: CKVM_MADV_REMOVE, memfd: memfd)
    }

    /// The mapping's address as a memslot's `userspace_addr`.
    public var userspaceAddress: UInt64 { UInt64(UInt(bitPattern: baseAddress)) }

    /// The mapping as a buffer. Valid only while `isMapped`.
    public var bytes: UnsafeMutableRawBufferPointer {
        precondition(isMapped, "\(kind) mapping used after unmap()")
        // SAFETY: `baseAddress ..< baseAddress + size` is this object's mapping, still mapped (checked).
        return UnsafeMutableRawBufferPointer(start: baseAddress, count: size)
    }

    /// Whether the mapping still exists (false after `unmap()`).
    public var isMapped: Bool { mapped.withLock { $0 } }

    /// Removes the mapping now rather than at deinitialization. Calling it again does nothing.
    ///
    /// The corresponding system call is `munmap(2)`.
    public func unmap() throws(KVMError) {
        let wasMapped = mapped.withLock { (state: inout Bool) -> Bool in
            defer { state = false }
            return state
        }
        guard wasMapped else { return }
        // SAFETY: unmapped once (the flag flipped above); later uses of `bytes` trap on the flag.
        try Syscalls.unmap(baseAddress, length: size)
    }

    /// Gives the pages of `offset ..< offset + length` back to the kernel: the next access sees
    /// zeroes. Used when a shared page becomes private (`on-unshare: discard`).
    ///
    /// The corresponding system call is `madvise(2)` with `MADV_DONTNEED` (anonymous memory) or
    /// `MADV_REMOVE` (memfd and guest_memfd mappings, which also frees the file's pages).
    public func discard(offset: Int, length: Int) throws(KVMError) {
        precondition(
            offset >= 0 && length >= 0 && offset <= size && length <= size - offset,
            "discard range outside the \(kind) mapping")
        precondition(isMapped, "\(kind) mapping used after unmap()")
        // SAFETY: the range lies inside the mapping (checked above); madvise only takes the address.
        try Syscalls.advise(baseAddress + offset, length: length, advice: discardAdvice)
    }
}

// MARK: - Memfd

/// An anonymous shared-memory file (`memfd_create`), optionally on hugetlbfs, as shared backing for
/// guest memory. The descriptor is closed when the object is deinitialized.
public final class Memfd: Sendable {
    /// The descriptor number (read-only; owned by this object).
    public let rawDescriptor: CInt
    /// File size in bytes: as created, then as the last `setSize(_:)` left it.
    public var size: UInt64 { currentSize.load(ordering: .relaxed) }
    private let currentSize: Atomic<UInt64>
    /// The hugetlb page size, or nil for ordinary shmem pages.
    public let hugePages: HugePageSize?

    /// Creates a memfd named `name` (visible in /proc/PID/fd) and sizes it to `size` bytes.
    ///
    /// The corresponding system calls are `memfd_create(2)` (with `MFD_CLOEXEC`, and
    /// `MFD_HUGETLB | MFD_HUGE_2MB/1GB` for `hugePages`) and `ftruncate(2)`.
    public init(name: String, size: UInt64, hugePages: HugePageSize? = nil) throws(KVMError) {
        let fd = try Syscalls.memfdCreate(name, flags: hugePages?.memfdFlags ?? 0)
        do {
            try Syscalls.setFileSize(fd, length: Int64(bitPattern: size))
        } catch {
            Syscalls.closeIgnoringErrors(fd)
            throw error
        }
        self.rawDescriptor = fd
        self.currentSize = Atomic(size)
        self.hugePages = hugePages
    }

    /// Adopts `descriptor`; for tests and callers that received a memfd from elsewhere.
    package init(adoptingDescriptor descriptor: CInt, size: UInt64, hugePages: HugePageSize? = nil) {
        self.rawDescriptor = descriptor
        self.currentSize = Atomic(size)
        self.hugePages = hugePages
    }

    deinit { Syscalls.closeIgnoringErrors(rawDescriptor) }

    /// Resizes the file to `size` bytes (a plan's `ftruncate` step after its `memfd_create` step); on hugetlbfs
    /// a multiple of the huge page size.
    ///
    /// The corresponding system call is `ftruncate(2)`.
    public func setSize(_ size: UInt64) throws(KVMError) {
        guard let length = Int64(exactly: size) else { throw KVMError(operation: .ftruncate, errno: .fileTooLarge) }
        try Syscalls.setFileSize(rawDescriptor, length: length)
        currentSize.store(size, ordering: .relaxed)
    }

    /// Maps `length` bytes (default: the whole file) at `offset`, read-write and `MAP_SHARED`.
    ///
    /// The corresponding system call is `mmap(2)`.
    public func map(offset: UInt64 = 0, length: Int? = nil, noReserve: Bool = false) throws(KVMError) -> HostMemory {
        try HostMemory.sharedFile(
            fd: rawDescriptor, offset: offset, length: length ?? Int(clamping: size), noReserve: noReserve,
            kind: "memfd")
    }

    /// Frees the file's pages in `offset ..< offset + length` (they read back as zeroes).
    ///
    /// The corresponding system call is `fallocate(2)` with `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`.
    public func punchHole(offset: UInt64, length: UInt64) throws(KVMError) {
        try Syscalls.fallocate(
            rawDescriptor, mode: CKVM_FALLOC_FL_PUNCH_HOLE | CKVM_FALLOC_FL_KEEP_SIZE,
            offset: Int64(bitPattern: offset), length: Int64(bitPattern: length), detail: "memfd punch hole")
    }
}
