import KVM
import Plan
import Synchronization

// The exit loop of one vCPU (DESIGN §7, the guest ABI of Examples/guests/README.md): run, decode the exit,
// answer it, repeat until the VM ends. It reaches the vCPU and the VM only through two small protocols,
// `VCPUPort` and `MemoryConversionPort`: `KVMVCPUPort`/`KVMConversions` implement them over the KVM module,
// and the tests replay exit sequences through fakes — in particular the KVM_EXIT_MEMORY_FAULT and
// KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) exits that this development host's KVM cannot produce
// (KVM_UAPI.md §6: no private memory, and a guest `vmcall` hangs KVM_RUN).

// MARK: - Ports

/// The vCPU calls the exit loop needs.
public protocol VCPUPort: AnyObject, Sendable {
    /// The vCPU index (`%vcpu.N`).
    var index: UInt32 { get }
    /// KVM_RUN until the next exit. Throws for failures of KVM_RUN that are not exits.
    func run() throws(KVMError) -> VCPUExit
    /// The bytes a port IN reads (`size * count` of them).
    func answerIO(_ bytes: [UInt8])
    /// The bytes an MMIO read loads.
    func answerMMIO(_ bytes: [UInt8])
    /// `kvm_run.hypercall.ret`.
    func setHypercallReturn(_ value: UInt64)
    /// Sets `immediate_exit`: the next (or current, once kicked) KVM_RUN returns EINTR. Any thread may call it.
    func requestStop()
    /// The register dump printed when the guest dies (lines without newlines).
    func registerDump() -> [String]
}

/// The VM calls that carry out the sharing engine's actions.
public protocol MemoryConversionPort: Sendable {
    /// `KVM_SET_MEMORY_ATTRIBUTES`: `private` → `KVM_MEMORY_ATTRIBUTE_PRIVATE`, else 0.
    func setMemoryAttributes(gpa: UInt64, size: UInt64, private: Bool) throws
    /// `fallocate(PUNCH_HOLE | KEEP_SIZE)` on the region's guest_memfd.
    func punchHole(region: String, offset: UInt64, size: UInt64) throws
    /// `madvise(MADV_DONTNEED)` (anonymous) or `MADV_REMOVE` (memfd / guest_memfd mapping) of the region's
    /// shared side; `offset` is relative to the region's base.
    func discardShared(region: String, offset: UInt64, size: UInt64) throws
}

// MARK: - How a VM ends

/// Why the VM stopped, and the exit status it gives `kvmplan launch` (DESIGN §3).
public enum Termination: Hashable, Sendable {
    /// The guest wrote `status` to the exit port.
    case exitPort(status: UInt8, vcpu: UInt32)
    /// Every vCPU executed HLT: exit 0.
    case allHalted
    /// The guest pulsed the reset line through the i8042 (0xfe to port 0x64, Linux `reboot=k`): exit 0.
    case reset(vcpu: UInt32)
    /// Shutdown (triple fault), internal error, failed entry, an unexpected exit or a failed KVM call: 125.
    case fatal(vcpu: UInt32?, message: String)
    /// `--timeout` elapsed: 124.
    case timeout
    /// SIGINT, SIGTERM or SIGHUP: 130 here; the launcher exits 128 + the signal (`InterruptSignal.exitStatus`).
    case interrupted

    public var status: Int32 {
        switch self {
        case .exitPort(let status, _): Int32(status)
        case .allHalted, .reset: 0
        case .fatal: 125
        case .timeout: 124
        case .interrupted: 130
        }
    }
}

/// The state the vCPU threads of one VM share: how it ended (the first reason wins) and how many vCPUs
/// halted. `onFinish` wakes the coordinator, which stops the other vCPUs.
public final class VMControl: Sendable {
    private struct State {
        var termination: Termination?
        var halted = 0
    }

    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    public let vcpuCount: Int
    private let onFinish: @Sendable () -> Void

    public init(vcpuCount: Int, onFinish: @escaping @Sendable () -> Void = {}) {
        self.vcpuCount = vcpuCount
        self.onFinish = onFinish
    }

    /// Records how the VM ended; false (and no effect) when it had already ended.
    @discardableResult
    public func finish(_ termination: Termination) -> Bool {
        let first = state.withLock { s -> Bool in
            guard s.termination == nil else { return false }
            s.termination = termination
            return true
        }
        if first {
            stopping.store(true, ordering: .releasing)
            onFinish()
        }
        return first
    }

    /// Counts a halted vCPU; ends the VM with `.allHalted` when it was the last one running.
    func vcpuHalted() {
        let all = state.withLock { s -> Bool in
            s.halted += 1
            return s.halted == vcpuCount
        }
        if all { finish(.allHalted) }
    }

    public var termination: Termination? { state.withLock { $0.termination } }

    /// True once the VM has ended: every vCPU loop stops at its next exit.
    public var isStopping: Bool { stopping.load(ordering: .acquiring) }
}

// MARK: - Handlers

/// The plan's exit handlers, resolved for the loop.
public struct ExitPolicy: Sendable {
    public var serialPort: UInt16?
    public var exitPort: UInt16?
    public var haltEndsVCPU: Bool
    public var mapGPARange: Bool
    public var memoryFault: Bool
    /// The i8042's command/status port (Linux guests): status reads, reset command.
    public var i8042Port: UInt16?
    /// The plan's MMIO regions (holes without a memslot, read-only slots whose writes exit); nil when the policy
    /// was not made from a plan. An MMIO exit outside all of them is the guest touching unmapped memory, and
    /// says so.
    public var mmioRegions: [(name: String, range: GPARange, readonly: Bool)]?

    public init(
        serialPort: UInt16? = 0x3f8, exitPort: UInt16? = 0xf4, haltEndsVCPU: Bool = true,
        mapGPARange: Bool = false, memoryFault: Bool = false
    ) {
        (self.serialPort, self.exitPort, self.haltEndsVCPU) = (serialPort, exitPort, haltEndsVCPU)
        (self.mapGPARange, self.memoryFault) = (mapGPARange, memoryFault)
    }

    public init(handlers: [Handler]) {
        self.init(serialPort: nil, exitPort: nil, haltEndsVCPU: false)
        mmioRegions = []
        for handler in handlers {
            switch handler.kind {
            case .serial(let port): serialPort = port
            case .exitPort(let port): exitPort = port
            case .halt: haltEndsVCPU = true
            case .mmio(let region, let range, let readonly): mmioRegions?.append((region, range, readonly))
            case .hypercallMapGPARange: mapGPARange = true
            case .memoryFault: memoryFault = true
            case .i8042(let port): i8042Port = port
            }
        }
    }
}

/// The sharing engine of a VM, shared by its vCPU threads, with the port that carries out its actions.
public final class SharingHandler: Sendable {
    private let engine: Mutex<SharingEngine>
    let conversions: any MemoryConversionPort

    public init(engine: SharingEngine, conversions: any MemoryConversionPort) {
        self.engine = Mutex(engine)
        self.conversions = conversions
    }

    public enum Result: Hashable, Sendable {
        /// Converted (possibly nothing to do); the actions performed, as trace text.
        case converted([String])
        /// Refused; answer the hypercall with `ret`.
        case refused(ret: UInt64, reason: String)
        case fatal(String)
    }

    /// Decides and performs a conversion under the engine's lock, so conversions from several vCPUs are
    /// applied in the order the engine decided them.
    public func handle(_ request: SharingEngine.Request) -> Result {
        engine.withLock { engine -> Result in
            switch engine.handle(request) {
            case .refuse(let ret, let reason): return .refused(ret: ret, reason: reason)
            case .fatal(let reason): return .fatal(reason)
            case .convert(let actions):
                var done: [String] = []
                for action in actions {
                    do {
                        done.append(try perform(action))
                    } catch {
                        return .fatal("\(Self.describe(action)) failed: \(error)")
                    }
                }
                return .converted(done)
            }
        }
    }

    private func perform(_ action: SharingEngine.Action) throws -> String {
        switch action {
        case .setAttributes(let gpa, let size, let isPrivate):
            try conversions.setMemoryAttributes(gpa: gpa, size: size, private: isPrivate)
        case .punchHole(let region, let offset, let size):
            try conversions.punchHole(region: region, offset: offset, size: size)
        case .discardShared(let region, let offset, let size):
            try conversions.discardShared(region: region, offset: offset, size: size)
        }
        return Self.describe(action) + " = 0"
    }

    /// The action in the plan's text syntax.
    static func describe(_ action: SharingEngine.Action) -> String {
        switch action {
        case .setAttributes(let gpa, let size, let isPrivate):
            "KVM_SET_MEMORY_ATTRIBUTES %vm gpa=\(hex(gpa)) size=\(sizeText(size)) attributes=\(isPrivate ? "PRIVATE" : "0")"
        case .punchHole(let region, let offset, let size):
            "fallocate %gmem.\(region) mode=KEEP_SIZE|PUNCH_HOLE offset=\(hex(offset)) size=\(sizeText(size))"
        case .discardShared(let region, let offset, let size):
            "madvise %map.\(region)+\(hex(offset)) size=\(sizeText(size)) advice=DONTNEED|REMOVE"
        }
    }
}

// MARK: - The loop

/// How one vCPU's loop ended, for `--trace` (`KVM_RUN %vcpu.0 = …`).
public struct VCPUResult: Hashable, Sendable {
    public var exits: Int
    /// `KVM_EXIT_HLT`, `exit port 0xf4 ← 0`, `stopped`, `KVM_EXIT_SHUTDOWN`, …
    public var ending: String

    public init(exits: Int, ending: String) {
        self.exits = exits
        self.ending = ending
    }

    public var description: String { "\(ending) after \(exits) exit\(exits == 1 ? "" : "s")" }
}

/// Runs one vCPU until the VM ends. Pure control flow over the ports: the same code runs on /dev/kvm and
/// in the replay tests.
public struct ExitLoop: Sendable {
    public let port: any VCPUPort
    public let control: VMControl
    public let policy: ExitPolicy
    public let sharing: SharingHandler?
    public let output: any LaunchOutput
    public let trace: Bool
    /// The UART and its interrupt line, for plans with an i8042 (Linux guests); nil: the polled COM1 of the
    /// tiny guests (every register but LSR reads 0).
    public let devices: LegacyDevices?
    /// Whether SIGINT, SIGTERM or SIGHUP arrived (checked before every KVM_RUN and after every EINTR).
    public let interrupted: @Sendable () -> Bool

    /// Port IN answers: COM1's line status register reads "transmitter empty".
    static let lineStatusIdle: UInt8 = 0x60
    /// `KVM_HC_MAP_GPA_RANGE`.
    static let mapGPARangeNumber = Hypercall.mapGPARange

    public init(
        port: any VCPUPort, control: VMControl, policy: ExitPolicy, sharing: SharingHandler? = nil,
        output: any LaunchOutput, trace: Bool = false, devices: LegacyDevices? = nil,
        interrupted: @escaping @Sendable () -> Bool = { false }
    ) {
        (self.port, self.control, self.policy, self.sharing) = (port, control, policy, sharing)
        (self.output, self.trace, self.interrupted, self.devices) = (output, trace, interrupted, devices)
    }

    public func run() -> VCPUResult {
        var exits = 0
        while true {
            if interrupted() { control.finish(.interrupted) }
            if control.isStopping { return VCPUResult(exits: exits, ending: "stopped") }
            let exit: VCPUExit
            do {
                exit = try port.run()
            } catch let error where error.errno == .resourceTemporarilyUnavailable {
                // EAGAIN: a vCPU waiting in the in-kernel local APIC (an AP before its INIT/SIPI) got an event;
                // KVM returns to userspace to be entered again (x86.c, KVM_MP_STATE_UNINITIALIZED), as QEMU does.
                exits += 1
                continue
            } catch {
                fatal("KVM_RUN failed: \(KVMError.name(of: error.errno)) (\(error.errno.description))", dump: false)
                return VCPUResult(exits: exits, ending: "KVM_RUN failed")
            }
            exits += 1
            switch exit {
            case .interrupted:
                continue  // a kick: the stop check above decides
            case .io(let io, let data):
                if let ending = handleIO(io, data: data) { return VCPUResult(exits: exits, ending: ending) }
            case .mmio(let mmio):
                handleMMIO(mmio)
            case .hlt:
                guard policy.haltEndsVCPU else {
                    fatal("unexpected KVM_EXIT_HLT (the plan has no halt handler)")
                    return VCPUResult(exits: exits, ending: "KVM_EXIT_HLT")
                }
                control.vcpuHalted()
                return VCPUResult(exits: exits, ending: "KVM_EXIT_HLT")
            case .hypercall(let call):
                if let ending = handleHypercall(call) { return VCPUResult(exits: exits, ending: ending) }
            case .memoryFault(let fault):
                if let ending = handleMemoryFault(fault) { return VCPUResult(exits: exits, ending: ending) }
            case .shutdown:
                fatal("KVM_EXIT_SHUTDOWN: the guest shut down (triple fault)")
                return VCPUResult(exits: exits, ending: "KVM_EXIT_SHUTDOWN")
            case .internalError(let e):
                let data = e.data.map { hex($0) }.joined(separator: " ")
                fatal(
                    "KVM_EXIT_INTERNAL_ERROR: suberror \(e.suberror) (\(Self.suberrorName(e.suberror)))"
                        + (data.isEmpty ? "" : ", data \(data)"))
                return VCPUResult(exits: exits, ending: "KVM_EXIT_INTERNAL_ERROR")
            case .failEntry(let e):
                fatal("KVM_EXIT_FAIL_ENTRY: hardware entry failure reason \(hex(e.hardwareEntryFailureReason)) on host cpu \(e.cpu)")
                return VCPUResult(exits: exits, ending: "KVM_EXIT_FAIL_ENTRY")
            case .systemEvent(let e):
                fatal(
                    "KVM_EXIT_SYSTEM_EVENT: \(Self.systemEventName(e.type))"
                        + (e.data.isEmpty ? "" : ", data \(e.data.map { hex($0) }.joined(separator: " "))"))
                return VCPUResult(exits: exits, ending: "KVM_EXIT_SYSTEM_EVENT")
            case .other(let reason):
                fatal("unexpected exit \(reason) (\(reason.rawValue))")
                return VCPUResult(exits: exits, ending: reason.description)
            }
        }
    }

    // MARK: Port I/O

    /// Returns the loop's ending when the exit ends the VM.
    private func handleIO(_ io: IOExit, data: [UInt8]) -> String? {
        if let devices {
            switch handlePCIO(io, data: data, devices: devices) {
            case .handled: return nil
            case .ends(let ending): return ending
            case .notTheirs: break
            }
        }
        switch io.direction {
        case .out:
            if let serial = policy.serialPort, io.port == serial {
                output.console(data)
            } else if let exitPort = policy.exitPort, io.port == exitPort {
                let status = data.first ?? 0
                control.finish(.exitPort(status: status, vcpu: port.index))
                return "exit port \(hex(UInt64(exitPort))) ← \(status)"
            } else if let serial = policy.serialPort, io.port > serial && io.port - serial <= 7 {
                // The other UART registers (IER, FCR, LCR, MCR, …): accepted and ignored.
            } else {
                output.message("kvmplan: vcpu \(port.index): out to port \(hex(UInt64(io.port))) ignored")
            }
        case .in:
            var answer = [UInt8](repeating: 0, count: io.size * io.count)
            if let serial = policy.serialPort, io.port >= serial && io.port - serial == 5, io.size == 1 {
                for i in answer.indices { answer[i] = Self.lineStatusIdle }
            }
            port.answerIO(answer)
        }
        return nil
    }

    /// What the Linux guest's devices did with a port access.
    private enum PCIO {
        /// Not theirs: the exit port, handled like every guest's.
        case notTheirs
        case handled
        /// The access ends the VM (the i8042 reset, a failed KVM_IRQ_LINE); the loop's ending.
        case ends(String)
    }

    /// The Linux guest's devices: the full UART on COM1, the i8042, and silence for other ports (a kernel
    /// probes many: COM2–4, CMOS, port 0x80 delays).
    private func handlePCIO(_ io: IOExit, data: [UInt8], devices: LegacyDevices) -> PCIO {
        if let exitPort = policy.exitPort, io.port == exitPort { return .notTheirs }
        let count = io.size * io.count
        if let serial = policy.serialPort, io.port >= serial, io.port <= serial + 7, io.size == 1 {
            let offset = Int(io.port - serial)
            do {
                if io.direction == .out {
                    var bytes: [UInt8] = []
                    for value in data {
                        if let byte = try devices.uartAccess(offset: offset, write: value).output { bytes.append(byte) }
                    }
                    if !bytes.isEmpty { output.console(bytes) }
                } else {
                    var answer: [UInt8] = []
                    for _ in 0..<io.count { answer.append(try devices.uartAccess(offset: offset, write: nil).read) }
                    port.answerIO(answer)
                }
            } catch {
                fatal("KVM_IRQ_LINE for the UART's IRQ \(devices.uartIRQ) failed: \(error)", dump: false)
                return .ends("KVM_IRQ_LINE failed")
            }
            return .handled
        }
        if let i8042 = policy.i8042Port, io.port == i8042 || io.port == I8042.dataPort {
            if io.direction == .out {
                if io.port == i8042, data.contains(I8042.resetCommand) {
                    control.finish(.reset(vcpu: port.index))
                    return .ends("i8042 reset")
                }
            } else {
                let value = io.port == i8042 ? I8042.status : 0
                port.answerIO([UInt8](repeating: value, count: count))
            }
            return .handled
        }
        if io.direction == .in { port.answerIO([UInt8](repeating: 0, count: count)) }
        return .handled
    }

    // MARK: MMIO

    private func handleMMIO(_ mmio: MMIOExit) {
        // An access the plan did not declare: no MMIO hole and no read-only slot (for a write) holds it.
        var note = ""
        if let regions = policy.mmioRegions,
            !regions.contains(where: { $0.range.contains(GPARange(gpa: mmio.physAddr, size: UInt64(max(1, mmio.data.count)))) && (mmio.isWrite || !$0.readonly) })
        {
            note = " (outside the plan's MMIO regions: unmapped guest memory)"
        }
        if mmio.isWrite {
            output.message("mmio write \(hex(mmio.physAddr)) \(mmio.data.count) bytes: \(hexBytes(mmio.data))" + note)
        } else {
            output.message("mmio read \(hex(mmio.physAddr)) \(mmio.data.count) bytes" + note)
            port.answerMMIO([UInt8](repeating: 0, count: mmio.data.count))
        }
    }

    // MARK: Conversions

    private func handleHypercall(_ call: HypercallExit) -> String? {
        guard call.nr == Self.mapGPARangeNumber, policy.mapGPARange, let sharing else {
            fatal("unexpected KVM_EXIT_HYPERCALL nr \(call.nr) (the plan has no handler for it)")
            return "KVM_EXIT_HYPERCALL"
        }
        let args = call.args + [UInt64](repeating: 0, count: max(0, 3 - call.args.count))
        let request = SharingEngine.Request.mapGPARange(gpa: args[0], pages: args[1], attributes: args[2])
        let what = "KVM_HC_MAP_GPA_RANGE gpa=\(hex(args[0])) pages=\(args[1]) attributes=\(hex(args[2]))"
        switch sharing.handle(request) {
        case .converted(let actions):
            traceActions(actions, cause: what)
            port.setHypercallReturn(0)
        case .refused(let ret, let reason):
            output.message("kvmplan: vcpu \(port.index): refused \(what): \(reason) (ret \(Int64(bitPattern: ret)))")
            port.setHypercallReturn(ret)
        case .fatal(let reason):
            fatal("\(what): \(reason)")
            return "KVM_EXIT_HYPERCALL"
        }
        return nil
    }

    private func handleMemoryFault(_ fault: MemoryFaultExit) -> String? {
        let what =
            "KVM_EXIT_MEMORY_FAULT gpa=\(hex(fault.gpa)) size=\(hex(fault.size)) flags=\(hex(fault.flags))"
            + " (\(fault.isPrivate ? "private" : "shared") access\(fault.hardwarePoison ? ", EHWPOISON" : ""))"
        guard !fault.hardwarePoison else {
            fatal("\(what): the guest_memfd page is poisoned; the guest cannot continue")
            return "KVM_EXIT_MEMORY_FAULT"
        }
        guard policy.memoryFault, let sharing else {
            fatal("\(what): the plan has no memory-fault handler, so nothing can make this access succeed")
            return "KVM_EXIT_MEMORY_FAULT"
        }
        switch sharing.handle(.memoryFault(gpa: fault.gpa, size: fault.size, flags: fault.flags)) {
        case .converted(let actions):
            traceActions(actions, cause: what)
        case .refused(_, let reason), .fatal(let reason):
            fatal("\(what): \(reason)")
            return "KVM_EXIT_MEMORY_FAULT"
        }
        return nil
    }

    private func traceActions(_ actions: [String], cause: String) {
        guard trace else { return }
        if actions.isEmpty { output.message("  # vcpu \(port.index): \(cause): nothing to convert") }
        for action in actions { output.message("  \(action)  # vcpu \(port.index): \(cause)") }
    }

    // MARK: Death

    private func fatal(_ reason: String, dump: Bool = true) {
        guard control.finish(.fatal(vcpu: port.index, message: reason)) else { return }
        var lines = ["kvmplan: vcpu \(port.index): \(reason)"]
        if dump { lines += port.registerDump().map { "  " + $0 } }
        for line in lines { output.message(line) }
    }

    static func suberrorName(_ suberror: UInt32) -> String {
        switch suberror {
        case 1: "KVM_INTERNAL_ERROR_EMULATION: instruction emulation failed"
        case 2: "KVM_INTERNAL_ERROR_SIMUL_EX: exception while delivering an exception"
        case 3: "KVM_INTERNAL_ERROR_DELIVERY_EV: event delivery failed"
        case 4: "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON"
        default: "unknown suberror"
        }
    }

    static func systemEventName(_ type: UInt32) -> String {
        switch type {
        case 1: "SHUTDOWN"
        case 2: "RESET"
        case 3: "CRASH"
        case 4: "WAKEUP"
        case 5: "SUSPEND"
        case 6: "SEV_TERM"
        case 7: "TDX_FATAL"
        default: "type \(type)"
        }
    }
}

// MARK: - Spelling

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// `efbeadde`: bytes in memory order, two lowercase digits each.
func hexBytes(_ bytes: [UInt8]) -> String {
    var out = ""
    for b in bytes {
        if b < 16 { out += "0" }
        out += String(b, radix: 16)
    }
    return out
}

/// `2MiB` in the largest binary unit that divides it exactly, else decimal (as the plan text spells sizes).
func sizeText(_ value: UInt64) -> String {
    let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
    for (unit, suffix) in units where value != 0 && value % unit == 0 { return "\(value / unit)\(suffix)" }
    return String(value)
}
