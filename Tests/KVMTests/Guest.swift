import Foundation
import KVM
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Kicks a vCPU out of a hung `KVM_RUN` (this host's KVM loops on a triple fault instead of
/// returning KVM_EXIT_SHUTDOWN, KVM_UAPI.md §6): after `seconds`, unless cancelled, it sends
/// SIGUSR1 (with a no-op handler, no SA_RESTART) to the thread that created it, so `run()` returns
/// `.interrupted` and the test fails instead of hanging.
final class Watchdog: Sendable {
    private let done = Mutex(false)

    private static let installHandler: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGUSR1, &action, nil)
    }()

    init(seconds: Double = 10) {
        _ = Watchdog.installHandler
        let target = pthread_self()
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            self.done.withLock { finished in
                if !finished { pthread_kill(target, SIGUSR1) }
            }
        }
    }

    func cancel() { done.withLock { $0 = true } }
}

#if arch(x86_64)
/// A real-mode guest: `code` loaded at guest-physical 0x1000 in a 64 KiB slot, CS:IP = 0:0x1000.
enum RealModeGuest {
    static let codeAddress: UInt64 = 0x1000
    static let slotSize: UInt64 = 0x1_0000

    /// Points the vCPU at `codeAddress` in real mode with flat zero-based CS and DS.
    static func boot(_ vcpu: VCPU) throws {
        var sregs = try vcpu.getSregs()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        sregs.ds.base = 0
        sregs.ds.selector = 0
        try vcpu.setSregs(sregs)
        var regs = Registers()
        regs.rip = codeAddress
        regs.rflags = 0x2
        try vcpu.setRegs(regs)
    }

    /// Runs until HLT, answering exits with `handle`; records an issue on anything unexpected.
    /// Returns the exits seen, in order, for assertions.
    @discardableResult
    static func run(_ vcpu: VCPU, maxExits: Int = 32, handle: (VCPU, VCPUExit) -> Void = { _, _ in })
        throws -> [ExitReason]
    {
        let watchdog = Watchdog()
        defer { watchdog.cancel() }
        var exits: [ExitReason] = []
        for _ in 0..<maxExits {
            let exit = try vcpu.run()
            exits.append(exit.reason)
            switch exit {
            case .hlt:
                return exits
            case .interrupted:
                Issue.record("the guest did not reach HLT within the watchdog's time")
                return exits
            case .io, .mmio:
                handle(vcpu, exit)
            default:
                Issue.record("unexpected exit \(exit)")
                return exits
            }
        }
        Issue.record("no HLT after \(maxExits) exits")
        return exits
    }
}
#endif
