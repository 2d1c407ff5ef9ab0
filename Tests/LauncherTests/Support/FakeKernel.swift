import Foundation
import KVM
import Launcher
import Synchronization
import SystemPackage

/// A vCPU that replays a script of exits instead of entering a guest, and records every answer the exit
/// loop gives. It stands in for KVM where this host's KVM cannot produce the exits: KVM_EXIT_MEMORY_FAULT
/// and KVM_EXIT_HYPERCALL need a private-memory VM type (KVM_UAPI.md §6), and deaths such as a triple fault
/// do not reach userspace here.
final class ReplayVCPU: VCPUPort {
    enum Step: Sendable {
        case exit(VCPUExit)
        /// KVM_RUN fails with this errno (not an exit).
        case fail(Errno)
        /// The guest spins in KVM_RUN until `requestStop` (or a kick) makes it return EINTR.
        case spin
    }

    struct Recorded: Sendable {
        var io: [[UInt8]] = []
        var mmio: [[UInt8]] = []
        var hypercallReturns: [UInt64] = []
        var stopRequested = false
        var runs = 0
    }

    let index: UInt32
    private let script: Mutex<[Step]>
    private let recorded = Mutex(Recorded())
    private let stop = Atomic<Bool>(false)

    init(index: UInt32 = 0, _ script: [Step]) {
        self.index = index
        self.script = Mutex(script)
    }

    var answers: Recorded { recorded.withLock { $0 } }

    func run() throws(KVMError) -> VCPUExit {
        recorded.withLock { $0.runs += 1 }
        if stop.load(ordering: .acquiring) { return .interrupted }
        let next = script.withLock { $0.isEmpty ? Step.spin : $0.removeFirst() }
        switch next {
        case .exit(let exit): return exit
        case .fail(let errno): throw KVMError(operation: .ioctl(.run), errno: errno)
        case .spin:
            while !stop.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.001) }
            return .interrupted
        }
    }

    func answerIO(_ bytes: [UInt8]) { recorded.withLock { $0.io.append(bytes) } }
    func answerMMIO(_ bytes: [UInt8]) { recorded.withLock { $0.mmio.append(bytes) } }
    func setHypercallReturn(_ value: UInt64) { recorded.withLock { $0.hypercallReturns.append(value) } }

    func requestStop() {
        stop.store(true, ordering: .releasing)
        recorded.withLock { $0.stopRequested = true }
    }

    func registerDump() -> [String] { ["rip 0000000000100000 rsp 0000000000000000 rflags 00000002"] }
}

/// The VM side of conversions: records each call in the plan's spelling, optionally failing one.
final class RecordingConversions: MemoryConversionPort {
    private let log = Mutex<[String]>([])
    let failing: String?

    /// `failing`: a prefix of the call that throws EINVAL (`"KVM_SET_MEMORY_ATTRIBUTES"`, `"fallocate"`).
    init(failing: String? = nil) { self.failing = failing }

    var calls: [String] { log.withLock { $0 } }

    private func record(_ call: String) throws {
        if let failing, call.hasPrefix(failing) {
            let name = String(call.prefix { $0 != " " })
            let operation: KVMError.Operation =
                switch name {
                case "fallocate": .fallocate
                case "madvise": .madvise
                default: KVMIoctl(rawValue: name).map { .ioctl($0) } ?? .mmap
                }
            throw KVMError(operation: operation, errno: .invalidArgument)
        }
        log.withLock { $0.append(call) }
    }

    func setMemoryAttributes(gpa: UInt64, size: UInt64, private isPrivate: Bool) throws {
        try record("KVM_SET_MEMORY_ATTRIBUTES gpa=0x\(String(gpa, radix: 16)) size=0x\(String(size, radix: 16)) \(isPrivate ? "PRIVATE" : "0")")
    }

    func punchHole(region: String, offset: UInt64, size: UInt64) throws {
        try record("fallocate PUNCH_HOLE \(region) offset=0x\(String(offset, radix: 16)) size=0x\(String(size, radix: 16))")
    }

    func discardShared(region: String, offset: UInt64, size: UInt64) throws {
        try record("madvise \(region) offset=0x\(String(offset, radix: 16)) size=0x\(String(size, radix: 16))")
    }
}

// MARK: - Exit builders

enum Exits {
    static func out(_ port: UInt16, _ bytes: [UInt8]) -> ReplayVCPU.Step {
        .exit(.io(IOExit(direction: .out, size: 1, port: port, count: bytes.count, dataOffset: 0), data: bytes))
    }

    static func inb(_ port: UInt16) -> ReplayVCPU.Step {
        .exit(.io(IOExit(direction: .in, size: 1, port: port, count: 1, dataOffset: 0), data: []))
    }

    static func mapGPARange(gpa: UInt64, pages: UInt64, encrypted: Bool, pageSize: UInt64 = 0) -> ReplayVCPU.Step {
        .exit(.hypercall(HypercallExit(nr: 12, args: [gpa, pages, pageSize | (encrypted ? 1 << 4 : 0), 0, 0, 0], flags: 1)))
    }

    static func fault(gpa: UInt64, size: UInt64, private isPrivate: Bool) -> ReplayVCPU.Step {
        .exit(.memoryFault(MemoryFaultExit(flags: isPrivate ? 1 << 3 : 0, gpa: gpa, size: size)))
    }

    static let hlt = ReplayVCPU.Step.exit(.hlt)
}
