// The only file of kvmplan that calls into the kernel (STYLE.md rule 8). Every other file of the
// KVM module goes through `Syscalls`; this keeps the list of system calls short and auditable and
// gives EINTR exactly one place to be handled. Each wrapper also describes its call (`MockedCall`) to
// `valueOrErrno`, which hands it to the mocking driver when a test installed one (`Syscalls+Mocking.swift`):
// that is how tests record the syscall trace of a launch and force errnos, with or without /dev/kvm.

internal import CKVM
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
#error("The KVM module drives /dev/kvm and needs Linux (Glibc or Musl).")
#endif

enum Syscalls {
    // MARK: - The one EINTR loop

    /// Runs `body`, which returns a result ≥ 0 or `-errno`, retrying while it fails with EINTR
    /// (unless `retryOnInterrupt` is false, e.g. for KVM_RUN, whose EINTR is an exit), and throws
    /// `KVMError(operation, errno)` for any other failure.
    ///
    /// Unlike swift-nio's `syscall(blocking:)`, this does not trap on EBADF or EFAULT: descriptors
    /// can be adopted from outside (and the bad-descriptor tests rely on the error), and EFAULT is
    /// how KVM_RUN reports KVM_EXIT_MEMORY_FAULT.
    ///
    /// `call` describes the system call for the mocking driver (tests only); it is evaluated only when a
    /// driver is installed, and each attempt (also an EINTR retry) is one call of the trace. When a test's
    /// answer (or the fake kernel) rewrote the call's struct bytes or payload, `answered` copies them back
    /// into the caller's memory, as the kernel's `copy_to_user` would.
    @inline(__always)
    static func valueOrErrno(
        _ operation: KVMError.Operation,
        detail: String? = nil,
        retryOnInterrupt: Bool = true,
        call: () -> MockedCall,
        answered: (MockedCall) -> Void = { _ in },
        _ body: () -> Int
    ) throws(KVMError) -> Int {
        let driver = MockingDriver.current
        while true {
            let result = if let driver { driver.perform(call(), answered: answered, body) } else { body() }
            if result >= 0 { return result }
            let error = Errno(rawValue: CInt(truncatingIfNeeded: -result))
            if retryOnInterrupt && error == .interrupted { continue }
            throw KVMError(operation: operation, errno: error, detail: detail)
        }
    }

    /// `-errno` of the last failed libc call, in the form `valueOrErrno` expects.
    @inline(__always)
    private static func negativeErrno() -> Int { -Int(errno) }

    // MARK: - ioctl

    /// `ioctl(fd, request)`.
    static func ioctl(_ fd: CInt, _ ioctl: KVMIoctl, detail: String? = nil) throws(KVMError) -> Int {
        try valueOrErrno(.ioctl(ioctl), detail: detail, call: { .ioctl(ioctl.rawValue, fd, ioctl.request) }) {
            ckvm_ioctl_none(fd, ioctl.request)
        }
    }

    /// `ioctl(fd, request, argument)` with an integer argument.
    static func ioctl(_ fd: CInt, _ ioctl: KVMIoctl, value: UInt, detail: String? = nil) throws(KVMError) -> Int {
        try valueOrErrno(
            .ioctl(ioctl), detail: detail, call: { .ioctl(ioctl.rawValue, fd, ioctl.request, arguments: [UInt64(value)]) }
        ) {
            ckvm_ioctl_int(fd, ioctl.request, value)
        }
    }

    /// `ioctl(fd, request, pointer)`. The pointer must stay valid for the duration of the call.
    static func ioctl(
        _ fd: CInt, _ ioctl: KVMIoctl, pointer: UnsafeMutableRawPointer?, detail: String? = nil,
        retryOnInterrupt: Bool = true
    ) throws(KVMError) -> Int {
        try valueOrErrno(
            .ioctl(ioctl), detail: detail, retryOnInterrupt: retryOnInterrupt,
            call: { .ioctl(ioctl.rawValue, fd, ioctl.request, pointer: pointer) }
        ) {
            ckvm_ioctl_ptr(fd, ioctl.request, pointer)
        }
    }

    /// `ioctl(fd, request, &value)` for an in/out struct argument.
    static func ioctl<T>(
        _ fd: CInt, _ ioctl: KVMIoctl, argument value: inout T, detail: String? = nil
    ) throws(KVMError) -> Int {
        let request = ioctl.request
        // SAFETY: `value` is a trivial C struct owned by the caller; the pointer is only used for the
        // duration of the ioctl, and the request's size field equals MemoryLayout<T>.size (pinned
        // by ckvm.c's static asserts).
        return try withUnsafeMutableBytes(of: &value) { (bytes) throws(KVMError) -> Int in
            try valueOrErrno(
                .ioctl(ioctl), detail: detail,
                call: { .ioctl(ioctl.rawValue, fd, request, bytes: Array(UnsafeRawBufferPointer(bytes))) },
                answered: { copy($0.bytes, into: bytes) }
            ) {
                ckvm_ioctl_ptr(fd, request, bytes.baseAddress)
            }
        }
    }

    /// `ioctl(fd, request, buffer)` for a variable-length argument (`struct kvm_cpuid2` and its entries): the
    /// whole buffer is the call's struct bytes for the mocking driver. The buffer must stay valid for the call.
    static func ioctl(
        _ fd: CInt, _ ioctl: KVMIoctl, buffer: UnsafeMutableRawBufferPointer, detail: String? = nil
    ) throws(KVMError) -> Int {
        let request = ioctl.request
        // SAFETY: the caller owns `buffer` and keeps it alive for the call (`withExtendedLifetime`); KVM reads and
        // writes at most the size its header declares, which the buffer was allocated for (CPUIDBuffer).
        return try valueOrErrno(
            .ioctl(ioctl), detail: detail,
            call: { .ioctl(ioctl.rawValue, fd, request, bytes: Array(UnsafeRawBufferPointer(buffer))) },
            answered: { copy($0.bytes, into: buffer) }
        ) {
            ckvm_ioctl_ptr(fd, request, buffer.baseAddress)
        }
    }

    /// `ioctl(fd, KVM_MEMORY_ENCRYPT_OP, &command)`: `command` is a `struct kvm_sev_cmd` or `struct kvm_tdx_cmd`
    /// whose `data` field the caller pointed at `payload` (the sub-command's own struct), or holds an immediate
    /// when `payload` is nil. The mocking driver records the command's bytes, the payload's bytes and the
    /// sub-command's name (`KVM_SEV_SNP_LAUNCH_UPDATE`); a failure is `KVM_MEMORY_ENCRYPT_OP` with the
    /// sub-command as its detail. `payload` must stay valid for the call.
    static func memoryEncryptOp<Command>(
        _ fd: CInt, command: inout Command, name: String, payload: UnsafeMutableRawBufferPointer?
    ) throws(KVMError) -> Int {
        let operation = KVMIoctl.memoryEncryptOp
        // SAFETY: `command` is a trivial 24-byte C struct owned by the caller (`ckvm_sev_cmd`, `ckvm_tdx_cmd`: the
        // size KVM_MEMORY_ENCRYPT_OP's request number encodes is that of its `unsigned long`, but KVM copies the
        // whole struct, pinned by ckvm.c's static asserts); the pointer is only used for the duration of the ioctl.
        return try withUnsafeMutableBytes(of: &command) { (bytes) throws(KVMError) -> Int in
            try valueOrErrno(
                .ioctl(operation), detail: name,
                call: {
                    MockedCall(
                        name: "ioctl", operation: operation.rawValue, fd: fd, request: operation.request,
                        bytes: Array(UnsafeRawBufferPointer(bytes)), command: name,
                        payload: payload.map { Array(UnsafeRawBufferPointer($0)) })
                },
                answered: { call in
                    copy(call.bytes, into: bytes)
                    if let payload { copy(call.payload, into: payload) }
                }
            ) {
                ckvm_ioctl_ptr(fd, operation.request, bytes.baseAddress)
            }
        }
    }

    /// Copies what a mocked answer left in `bytes` back into the argument's memory (at most its size).
    private static func copy(_ bytes: [UInt8]?, into destination: UnsafeMutableRawBufferPointer) {
        guard let bytes else { return }
        let count = min(bytes.count, destination.count)
        bytes.withUnsafeBytes { source in
            // SAFETY: `count` bytes fit both the answer and the caller's argument, which are distinct memory.
            UnsafeMutableRawBufferPointer(rebasing: destination[0..<count]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
        }
    }

    /// `ioctl(fd, KVM_RUN)`: not retried on EINTR, which means "a signal arrived" to the run loop.
    static func run(_ fd: CInt) throws(KVMError) -> Int {
        try valueOrErrno(.ioctl(.run), retryOnInterrupt: false, call: { .ioctl(KVMIoctl.run.rawValue, fd, KVMIoctl.run.request) }) {
            ckvm_ioctl_none(fd, KVMIoctl.run.request)
        }
    }

    // MARK: - Descriptors

    /// `open(path, O_RDWR | O_CLOEXEC)`.
    static func openReadWrite(_ path: String) throws(KVMError) -> CInt {
        let operation = KVMError.Operation.open(path: path)
        let fd = try valueOrErrno(operation, call: { MockedCall(name: "open", operation: operation.description, path: path) }) {
            let r = open(path, O_RDWR | O_CLOEXEC)
            return r < 0 ? negativeErrno() : Int(r)
        }
        return CInt(fd)
    }

    /// `close(fd)`, ignoring errors: Linux releases the descriptor even when close fails (also on
    /// EINTR, so it must never be retried), and there is nothing a deinitializer could do.
    static func closeIgnoringErrors(_ fd: CInt) {
        guard fd >= 0 else { return }
        if let driver = MockingDriver.current {
            _ = driver.perform(MockedCall(name: "close", operation: "close", fd: fd)) { Int(close(fd)) }
            return
        }
        _ = close(fd)
    }

    /// `memfd_create(name, MFD_CLOEXEC | flags)`.
    static func memfdCreate(_ name: String, flags: CUnsignedInt) throws(KVMError) -> CInt {
        let fd = try valueOrErrno(
            .memfdCreate, detail: name,
            call: { MockedCall(name: "memfd_create", operation: "memfd_create", arguments: [UInt64(flags)], path: name) }
        ) {
            Int(ckvm_memfd_create(name, CKVM_MFD_CLOEXEC | flags))
        }
        return CInt(fd)
    }

    /// `ftruncate(fd, length)`.
    static func setFileSize(_ fd: CInt, length: Int64) throws(KVMError) {
        _ = try valueOrErrno(
            .ftruncate, call: { MockedCall(name: "ftruncate", operation: "ftruncate", fd: fd, arguments: [UInt64(bitPattern: length)]) }
        ) {
            let r = ftruncate(fd, off_t(length))
            return r < 0 ? negativeErrno() : Int(r)
        }
    }

    /// `fallocate(fd, mode, offset, length)`.
    static func fallocate(_ fd: CInt, mode: CInt, offset: Int64, length: Int64, detail: String?) throws(KVMError) {
        _ = try valueOrErrno(
            .fallocate, detail: detail,
            call: {
                MockedCall(
                    name: "fallocate", operation: "fallocate", fd: fd,
                    arguments: [UInt64(UInt32(bitPattern: mode)), UInt64(bitPattern: offset), UInt64(bitPattern: length)])
            }
        ) {
            Int(ckvm_fallocate(fd, mode, offset, length))
        }
    }

    // MARK: - Memory

    /// `mmap(NULL, length, prot, flags, fd, offset)`.
    static func map(
        length: Int, prot: CInt, flags: CInt, fd: CInt, offset: Int64
    ) throws(KVMError) -> UnsafeMutableRawPointer {
        var mapping: UnsafeMutableRawPointer? = nil
        // SAFETY: `mapping` is a local out-parameter; the kernel chooses the address (addr = NULL).
        _ = try valueOrErrno(
            .mmap,
            call: {
                MockedCall(
                    name: "mmap", operation: "mmap", fd: fd,
                    arguments: [
                        UInt64(length), UInt64(UInt32(bitPattern: prot)), UInt64(UInt32(bitPattern: flags)),
                        UInt64(bitPattern: offset),
                    ])
            }
        ) {
            if let driver = MockingDriver.current, driver.mode == .fakeKernel {
                // The fake kernel backs every mapping with private anonymous memory of the same length, so the
                // caller can read and write it (and `munmap` removes it as usual).
                return Int(ckvm_mmap(nil, length, prot, MAP_PRIVATE | MAP_ANONYMOUS | CKVM_MAP_NORESERVE, -1, 0, &mapping))
            }
            return Int(ckvm_mmap(nil, length, prot, flags, fd, offset, &mapping))
        }
        guard let mapping else {
            // ckvm_mmap returned 0, so it stored a mapping; a nil here would be a shim bug.
            preconditionFailure("ckvm_mmap succeeded without a mapping")
        }
        return mapping
    }

    /// `munmap(address, length)`.
    static func unmap(_ address: UnsafeMutableRawPointer, length: Int) throws(KVMError) {
        _ = try valueOrErrno(
            .munmap,
            call: {
                MockedCall(name: "munmap", operation: "munmap", arguments: [UInt64(UInt(bitPattern: address)), UInt64(length)])
            }
        ) {
            // SAFETY: callers pass a mapping they own (HostMemory), exactly once.
            let r = munmap(address, length)
            return r < 0 ? negativeErrno() : Int(r)
        }
    }

    /// `madvise(address, length, advice)`.
    static func advise(_ address: UnsafeMutableRawPointer, length: Int, advice: CInt) throws(KVMError) {
        _ = try valueOrErrno(
            .madvise,
            call: {
                MockedCall(
                    name: "madvise", operation: "madvise",
                    arguments: [UInt64(UInt(bitPattern: address)), UInt64(length), UInt64(UInt32(bitPattern: advice))])
            }
        ) {
            // SAFETY: callers pass a range inside a live mapping they own (HostMemory.discard).
            let r = madvise(address, length, advice)
            return r < 0 ? negativeErrno() : Int(r)
        }
    }

    static let protReadWrite = PROT_READ | PROT_WRITE
    static let mapShared = MAP_SHARED
    static let mapPrivateAnonymous = MAP_PRIVATE | MAP_ANONYMOUS

    // MARK: - Host facts

    /// `sysconf(_SC_PAGESIZE)`.
    static func pageSize() -> Int {
        Int(sysconf(CInt(_SC_PAGESIZE)))
    }

    /// `uname(2)`: the kernel release and machine strings.
    static func systemNames() throws(KVMError) -> (release: String, machine: String) {
        var names = utsname()
        // A host fact, not a kernel object: never mocked (MockedCall.hostFact passes through).
        _ = try valueOrErrno(.uname, call: { .hostFact("uname") }) {
            let r = uname(&names)
            return r < 0 ? negativeErrno() : Int(r)
        }
        // SAFETY: utsname's fields are NUL-terminated char arrays filled by the kernel; the buffer
        // is bounded by the tuple's size and read before `names` goes out of scope.
        func string<T>(_ field: inout T) -> String {
            withUnsafeBytes(of: &field) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return (string(&names.release), string(&names.machine))
    }

    /// CPUID leaf/subleaf, or nil when the leaf is beyond the maximum (or not x86).
    static func cpuid(leaf: UInt32, subleaf: UInt32 = 0) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32)? {
        var a: UInt32 = 0
        var b: UInt32 = 0
        var c: UInt32 = 0
        var d: UInt32 = 0
        guard ckvm_cpuid(leaf, subleaf, &a, &b, &c, &d) != 0 else { return nil }
        return (a, b, c, d)
    }
}
