internal import CKVM
import Synchronization
import SystemPackage

// The mocking driver of the one kernel door (STYLE.md rule 10; swift-system's `MockingDriver`). A test installs
// a driver for the duration of a closure; every call that goes through `Syscalls` is then recorded as a
// `MockedCall` and may be made to fail with a chosen errno. The driver is `package`: it is not part of the
// KVM module's public API, and without an installed driver each call costs one task-local read.

/// One system call as the wrapper in `Syscalls` saw it.
package struct MockedCall: Hashable, Sendable, CustomStringConvertible {
    /// The system call: `ioctl`, `open`, `close`, `memfd_create`, `ftruncate`, `fallocate`, `mmap`, `munmap`,
    /// `madvise`.
    package var name: String
    /// The operation as `KVMError.operation` spells it: `KVM_CREATE_VM`, `open /dev/kvm`, `mmap`, ….
    package var operation: String
    /// The descriptor the call acts on (-1 when it takes none).
    package var fd: CInt
    /// The ioctl request number.
    package var request: UInt?
    /// Scalar arguments: an ioctl's integer argument; `ftruncate`'s length; `fallocate`'s mode, offset and
    /// length; `mmap`'s length, prot, flags and offset; `munmap`'s address and length; `madvise`'s address,
    /// length and advice; `memfd_create`'s flags.
    package var arguments: [UInt64]
    /// The bytes of an ioctl's struct argument as the wrapper passes them in (for `KVM_MEMORY_ENCRYPT_OP`, the
    /// 24-byte `struct kvm_sev_cmd` or `struct kvm_tdx_cmd`; for `KVM_SET_CPUID2` and its kin, the whole
    /// `struct kvm_cpuid2` with its entries).
    package var bytes: [UInt8]?
    /// The `KVM_MEMORY_ENCRYPT_OP` sub-command as the kernel spells it (`KVM_SEV_SNP_LAUNCH_UPDATE`,
    /// `KVM_TDX_INIT_VM`); nil for every other call.
    package var command: String?
    /// For `KVM_MEMORY_ENCRYPT_OP`, the bytes the command's `data` field points at, as passed in (e.g. the 64-byte
    /// `struct kvm_sev_snp_launch_update`, or `struct kvm_tdx_init_vm` with its CPUID entries); nil when `data`
    /// is an immediate.
    package var payload: [UInt8]?
    /// The path `open` opens, or the name `memfd_create` gives.
    package var path: String?
    /// What the call returned: ≥ 0, or `-errno` (a forced failure, or the real kernel's).
    package var result: Int = 0
    /// Whether the call reads a host fact (`uname`) rather than acting on a kernel object: never recorded.
    package var isHostFact = false

    package init(
        name: String, operation: String, fd: CInt = -1, request: UInt? = nil, arguments: [UInt64] = [],
        bytes: [UInt8]? = nil, path: String? = nil, command: String? = nil, payload: [UInt8]? = nil
    ) {
        (self.name, self.operation, self.fd, self.request) = (name, operation, fd, request)
        (self.arguments, self.bytes, self.path) = (arguments, bytes, path)
        (self.command, self.payload) = (command, payload)
    }

    static func ioctl(
        _ operation: String, _ fd: CInt, _ request: UInt, arguments: [UInt64] = [], bytes: [UInt8]? = nil
    ) -> MockedCall {
        MockedCall(name: "ioctl", operation: operation, fd: fd, request: request, arguments: arguments, bytes: bytes)
    }

    static func ioctl(_ operation: String, _ fd: CInt, _ request: UInt, pointer: UnsafeMutableRawPointer?) -> MockedCall {
        // A raw pointer argument (a variable-length buffer): only its presence is part of the call.
        MockedCall(name: "ioctl", operation: operation, fd: fd, request: request)
    }

    static func hostFact(_ name: String) -> MockedCall {
        var call = MockedCall(name: name, operation: name)
        call.isHostFact = true
        return call
    }

    /// `ioctl(fd 7, KVM_CREATE_VM, 0)`, `mmap(fd -1, 0x200000, 0x3, 0x22, 0x0)`, `open(/dev/kvm)`,
    /// `ioctl(fd 8, KVM_MEMORY_ENCRYPT_OP, KVM_SEV_INIT2, 24 bytes, payload 48 bytes)`.
    package var description: String {
        var parts: [String] = []
        if let path { parts.append(path) }
        if fd >= 0 || request != nil || name == "mmap" { parts.append("fd \(fd)") }
        if request != nil { parts.append(operation) }
        if let command { parts.append(command) }
        parts += arguments.map { $0 < 10 ? String($0) : "0x" + String($0, radix: 16) }
        if let bytes { parts.append("\(bytes.count) bytes") }
        if let payload { parts.append("payload \(payload.count) bytes") }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }
}

/// Records the system calls made through `Syscalls` while it is installed, fails chosen ones, and lets a test
/// answer chosen ones in the kernel's place (`answer(where:with:)`: read and rewrite the struct bytes and the
/// `KVM_MEMORY_ENCRYPT_OP` payload, as the kernel's `copy_to_user` would, and choose the result).
///
/// ```swift
/// let driver = MockingDriver(mode: .fakeKernel)
/// driver.force(.interrupted, where: { $0.operation == "KVM_CREATE_VM" })
/// try driver.withInstalled { _ = try KVMSystem().createVM() }
/// driver.trace.map(\.operation)  // ["open /dev/kvm", "KVM_CREATE_VM", "KVM_CREATE_VM", "close", "close"]
/// ```
///
/// The driver is bound to the current task (a task-local value), so tests running in parallel do not see each
/// other's drivers; threads started with `pthread_create` (the extra vCPUs of a run phase) do not see it
/// either.
package final class MockingDriver: Sendable {
    package enum Mode: Sendable {
        /// Plays the kernel: no descriptor is opened, `open`, `memfd_create` and the creating ioctls return
        /// fresh fake descriptors (from 2 000 000, above any real one), every other call succeeds with 0,
        /// `KVM_GET_API_VERSION` answers 12 and `KVM_CHECK_EXTENSION` `capabilityValue(cap)`. `mmap` maps
        /// private anonymous memory of the asked length, so the memory can be used as usual. The two launch
        /// commands the kernel may do in part, `KVM_SEV_SNP_LAUNCH_UPDATE` and `KVM_TDX_INIT_MEM_REGION`, do the
        /// whole range in one call (the remainder they write back is empty); answer them with
        /// `answer(where:with:)` to play partial progress. Nothing else is written back.
        case fakeKernel
        /// Records the calls and makes them on this host's kernel, except the forced failures.
        case realKernel
    }

    package let mode: Mode
    /// The value the fake kernel answers `KVM_CHECK_EXTENSION` with, per capability number.
    package let capabilityValue: @Sendable (UInt) -> Int

    private struct Forced {
        var errno: Errno
        var remaining: Int
        var matches: @Sendable (MockedCall, Int) -> Bool
    }

    private struct Answer {
        var remaining: Int
        var matches: @Sendable (MockedCall) -> Bool
        var respond: @Sendable (inout MockedCall) -> Int
    }

    private struct State {
        var trace: [MockedCall] = []
        var forced: [Forced] = []
        var answers: [Answer] = []
        var nextDescriptor: CInt = 2_000_000
    }

    private let state = Mutex(State())

    package init(mode: Mode = .fakeKernel, capabilityValue: @escaping @Sendable (UInt) -> Int = { _ in 0x7fff_ffff }) {
        self.mode = mode
        self.capabilityValue = capabilityValue
    }

    /// The driver installed for the current task, if any.
    @TaskLocal package static var current: MockingDriver?

    /// Runs `body` with this driver installed.
    package func withInstalled<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = MockingDriver.$current.withValue(self) {
            do throws(E) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Every call made so far, in order (EINTR retries and forced failures included).
    package var trace: [MockedCall] { state.withLock { $0.trace } }

    /// Makes the next `times` calls that match `predicate` fail with `errno` instead of running.
    package func force(_ errno: Errno, times: Int = 1, where predicate: @escaping @Sendable (MockedCall) -> Bool) {
        state.withLock { $0.forced.append(Forced(errno: errno, remaining: times, matches: { call, _ in predicate(call) })) }
    }

    /// Makes the call at position `index` of the trace (0-based, counting every call) fail with `errno`.
    package func force(_ errno: Errno, atCall index: Int) {
        state.withLock { $0.forced.append(Forced(errno: errno, remaining: 1, matches: { _, position in position == index })) }
    }

    /// Answers the next `times` calls that match `predicate` (every one by default) in the kernel's place, in
    /// either mode: `respond` gets the call as the wrapper made it, may rewrite its `bytes` and `payload` (the
    /// wrapper copies them back into its argument, at most the argument's size), and returns the result, ≥ 0
    /// or `-errno`. A forced errno (`force`) takes precedence; the first matching answer registered wins. The
    /// trace keeps the call as it was made.
    ///
    /// ```swift
    /// // A KVM_SEV_SNP_LAUNCH_UPDATE that does one page per call (gfn_start @0, uaddr @8, len @16 of the payload).
    /// driver.answer(where: { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }) { call in
    ///     guard var payload = call.payload else { return -Int(Errno.badAddress.rawValue) }
    ///     MockedBytes.store(&payload, MockedBytes.load(payload, at: 16) - 4096, at: 16)  // and gfn_start, uaddr
    ///     call.payload = payload
    ///     return 0
    /// }
    /// ```
    package func answer(
        times: Int = .max, where predicate: @escaping @Sendable (MockedCall) -> Bool,
        with respond: @escaping @Sendable (inout MockedCall) -> Int
    ) {
        state.withLock { $0.answers.append(Answer(remaining: times, matches: predicate, respond: respond)) }
    }

    /// Records `call` and returns its result, ≥ 0 or `-errno`: a forced errno, a test's answer, the fake
    /// kernel's answer, or `body`'s (the real call). `answered` gets the call as an answer left it.
    func perform(_ call: MockedCall, answered: (MockedCall) -> Void = { _ in }, _ body: () -> Int) -> Int {
        if call.isHostFact { return body() }
        let (position, forced, respond): (Int, Errno?, (@Sendable (inout MockedCall) -> Int)?) = state.withLock { state in
            let position = state.trace.count
            state.trace.append(call)
            if let i = state.forced.firstIndex(where: { $0.remaining > 0 && $0.matches(call, position) }) {
                state.forced[i].remaining -= 1
                return (position, state.forced[i].errno, nil)
            }
            if let i = state.answers.firstIndex(where: { $0.remaining > 0 && $0.matches(call) }) {
                state.answers[i].remaining -= 1
                return (position, nil, state.answers[i].respond)
            }
            return (position, nil, nil)
        }
        let result: Int
        if let forced {
            result = -Int(forced.rawValue)
        } else if let respond {
            // Outside the lock: an answer may look at the trace.
            var answer = call
            result = respond(&answer)
            answered(answer)
        } else {
            switch mode {
            case .realKernel:
                result = body()
            case .fakeKernel:
                var answer = call
                result = fakeResult(&answer, body)
                if answer != call { answered(answer) }
            }
        }
        state.withLock { if position < $0.trace.count { $0.trace[position].result = result } }
        return result
    }

    private func newDescriptor() -> Int {
        state.withLock { state in
            defer { state.nextDescriptor += 1 }
            return Int(state.nextDescriptor)
        }
    }

    private func fakeResult(_ call: inout MockedCall, _ body: () -> Int) -> Int {
        switch call.name {
        case "open", "memfd_create": return newDescriptor()
        // `mmap` maps anonymous memory (see `Syscalls.map`), which `munmap` removes for real.
        case "mmap", "munmap": return body()
        case "ioctl": break
        default: return 0
        }
        switch call.request {
        case CKVM_KVM_CREATE_VM, CKVM_KVM_CREATE_VCPU, CKVM_KVM_CREATE_GUEST_MEMFD: return newDescriptor()
        case CKVM_KVM_GET_API_VERSION: return 12
        // Three pages: `struct kvm_run` and the PIO/coalesced-MMIO pages after it.
        case CKVM_KVM_GET_VCPU_MMAP_SIZE: return 3 * 4096
        case CKVM_KVM_CHECK_EXTENSION: return capabilityValue(UInt(call.arguments.first ?? 0))
        case CKVM_KVM_MEMORY_ENCRYPT_OP:
            Self.completeLaunchRange(&call)
            return 0
        default: return 0
        }
    }

    /// The fake kernel's `KVM_SEV_SNP_LAUNCH_UPDATE` and `KVM_TDX_INIT_MEM_REGION`: the whole range in one call,
    /// written back as the kernel does (sev.c `snp_launch_update`, tdx.c `tdx_vcpu_init_mem_region`).
    private static func completeLaunchRange(_ call: inout MockedCall) {
        guard var payload = call.payload, payload.count >= 24 else { return }
        switch call.command {
        case "KVM_SEV_SNP_LAUNCH_UPDATE":
            // struct kvm_sev_snp_launch_update: gfn_start @0, uaddr @8, len @16, type @24 (ZERO leaves uaddr).
            let len = MockedBytes.load(payload, at: 16)
            MockedBytes.store(&payload, MockedBytes.load(payload, at: 0) &+ len / 4096, at: 0)
            if payload.count > 24 && payload[24] != UInt8(CKVM_KVM_SEV_SNP_PAGE_TYPE_ZERO) {
                MockedBytes.store(&payload, MockedBytes.load(payload, at: 8) &+ len, at: 8)
            }
            MockedBytes.store(&payload, 0, at: 16)
        case "KVM_TDX_INIT_MEM_REGION":
            // struct kvm_tdx_init_mem_region: source_addr @0, gpa @8, nr_pages @16.
            let bytes = MockedBytes.load(payload, at: 16) &* 4096
            MockedBytes.store(&payload, MockedBytes.load(payload, at: 0) &+ bytes, at: 0)
            MockedBytes.store(&payload, MockedBytes.load(payload, at: 8) &+ bytes, at: 8)
            MockedBytes.store(&payload, 0, at: 16)
        default:
            return
        }
        call.payload = payload
    }
}

/// Little-endian fields of recorded struct bytes, for answers that play the kernel.
package enum MockedBytes {
    /// The `UInt64` at `offset` (zero-extended when fewer than 8 bytes remain).
    package static func load(_ bytes: [UInt8], at offset: Int, size: Int = 8) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<size).reversed() where offset + i < bytes.count {
            value = value << 8 | UInt64(bytes[offset + i])
        }
        return value
    }

    /// Stores the low `size` bytes of `value` at `offset` (bytes beyond the end are dropped).
    package static func store(_ bytes: inout [UInt8], _ value: UInt64, at offset: Int, size: Int = 8) {
        for i in 0..<size where offset + i < bytes.count {
            bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))
        }
    }
}
