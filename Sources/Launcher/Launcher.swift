import KVM
import Plan
import Synchronization

// MARK: - Options and outcome

/// How to launch.
public struct LaunchOptions: Sendable {
    /// Stop the guest after this many seconds of running (from the first KVM_RUN): exit 124. Nil: never.
    public var timeout: Double?
    /// Print every executed step with its result on the output's message stream (`--trace`).
    public var trace: Bool
    /// Handle SIGINT, SIGTERM and SIGHUP for the duration of the launch: tear down and exit 128 + signal (the CLI;
    /// not in-process tests).
    public var handleInterrupt: Bool
    /// The KVM device.
    public var devicePath: String
    /// Skip `Plan.validate()`: the caller got the plan from the JSON decoder (which validates) or from the
    /// lowering (which produces valid plans). The executor still checks every fd it uses.
    public var planIsValidated: Bool

    public init(
        timeout: Double? = nil, trace: Bool = false, handleInterrupt: Bool = false,
        devicePath: String = KVMSystem.defaultPath, planIsValidated: Bool = false
    ) {
        self.timeout = timeout
        self.trace = trace
        self.handleInterrupt = handleInterrupt
        self.devicePath = devicePath
        self.planIsValidated = planIsValidated
    }
}

/// What a launch did.
public struct LaunchOutcome: Sendable {
    /// kvmplan's exit status (DESIGN §3): the guest's status, 0 after all vCPUs halted, 124 timeout,
    /// 125 kvmplan's own failure, 126 the host lacks something the plan needs, 128 + signal on SIGINT (130),
    /// SIGTERM (143) or SIGHUP (129).
    public var status: Int32
    /// How the VM ended, when it ran.
    public var termination: Termination?
    /// The failed step, when one failed.
    public var failure: StepFailure?
    /// What the host lacks (status 126 before anything was created).
    public var shortfalls: [HostShortfall] = []
    /// Every executed step, handler ioctl and undo, in order (also printed with `trace`).
    public var trace: [TraceEntry] = []
    /// Per vCPU index: how its loop ended.
    public var vcpuResults: [UInt32: VCPUResult] = [:]
}

// MARK: - Launcher

/// Executes a plan on /dev/kvm (DESIGN §7): compare the plan's requirements with the host, execute the
/// steps, run every vCPU on its own thread until the guest ends, then tear everything down.
///
/// Messages (stderr, through `output.message`):
/// - host shortfalls: `file:line:col: error: this host's KVM cannot create KVM_X86_TDX_VM (KVM_CAP_VM_TYPES = 0x1)`;
/// - a failed step: `kvmplan: step slot.ram (KVM_SET_USER_MEMORY_REGION2, file:line:col) failed: EINVAL (Invalid argument)`;
/// - MMIO: `mmio write 0xfe000000 4 bytes: efbeadde`;
/// - death of the guest: `kvmplan: vcpu 0: KVM_EXIT_SHUTDOWN: …` and a register dump;
/// - `kvmplan: timeout: …` (124), `kvmplan: interrupted (SIGINT)` (130; SIGTERM 143, SIGHUP 129).
public struct Launcher: Sendable {
    public var options: LaunchOptions
    public var output: any LaunchOutput

    public init(options: LaunchOptions = LaunchOptions(), output: any LaunchOutput = StandardStreams()) {
        self.options = options
        self.output = output
    }

    /// Launches `plan` with the payload file's bytes (nil when the plan loads none).
    public func launch(_ plan: Plan, payload: [UInt8]?, initrd: [UInt8]? = nil) -> LaunchOutcome {
        var outcome = LaunchOutcome(status: 125)

        // 1. The plan itself.
        let issues = options.planIsValidated ? [] : plan.validate()
        if let issue = issues.first {
            output.message("kvmplan: invalid plan: \(issue)" + (issues.count > 1 ? " (and \(issues.count - 1) more)" : ""))
            return outcome
        }

        // 2. This host, before anything is created (the check's own /dev/kvm fd and VM are closed after it).
        let shortfalls = hostShortfalls(plan)
        if !shortfalls.isEmpty {
            outcome.status = HostCheck.status(of: shortfalls)
            outcome.shortfalls = shortfalls
            for shortfall in shortfalls { output.message(shortfall.description) }
            return outcome
        }

        // 3. The payload, and whether this launcher can execute every step.
        if let problem = Self.payloadProblem(plan, payload: payload) ?? Self.initrdProblem(plan, initrd: initrd) {
            output.message("kvmplan: \(problem)")
            return outcome
        }
        if let step = plan.steps.first(where: { PlanExecutor.unsupportedReason($0) != nil }) {
            let failure = StepFailure(
                step, detail: "kvmplan's launcher cannot execute this step: \(PlanExecutor.unsupportedReason(step) ?? "")")
            outcome.failure = failure
            output.message("kvmplan: \(failure)")
            return outcome
        }

        // 4. SIGINT, SIGTERM and SIGHUP, for the whole launch.
        let (wakeUp, pipeErrno) = WakeUp.make()
        guard let wakeUp else {
            output.message("kvmplan: cannot create the launcher's wake-up pipe: errno \(pipeErrno)")
            return outcome
        }
        let handleInterrupt = options.handleInterrupt
        let previousInterruptAction = handleInterrupt ? InterruptSignal.install(wakeFD: wakeUp.writeEnd) : nil
        defer { if let previousInterruptAction { InterruptSignal.restore(previousInterruptAction) } }

        // 5. The steps.
        let executor = PlanExecutor(
            plan: plan, payload: payload, initrd: initrd, output: output, trace: options.trace,
            interrupted: { handleInterrupt && InterruptSignal.wasReceived })
        let runSteps: [Step]
        do {
            runSteps = try executor.executeSteps()
        } catch {
            outcome.failure = error
            outcome.status = error.status
            outcome.trace = executor.entries
            return outcome
        }

        // 6. The vCPUs.
        if !runSteps.isEmpty {
            let (termination, results) = run(runSteps, plan: plan, executor: executor, wakeUp: wakeUp)
            output.consoleEnded()
            outcome.termination = termination
            // A stop by SIGTERM or SIGHUP ends the loop like SIGINT (`.interrupted`); the status names the signal.
            outcome.status = termination == .interrupted ? InterruptSignal.exitStatus : termination.status
            outcome.vcpuResults = results
            for step in runSteps {
                let index = step.operation.on?.index ?? 0
                let result = results[index]?.description ?? "not started"
                executor.record(TraceEntry(kind: .step, stepID: step.id, line: executor.stepLine(step), result: result))
            }
            switch termination {
            case .timeout:
                output.message("kvmplan: timeout: the guest ran longer than \(Self.seconds(options.timeout ?? 0)); stopped it")
            case .interrupted:
                output.message("kvmplan: interrupted (\(InterruptSignal.name)); stopped the guest")
            case .fatal(nil, let message):
                output.message("kvmplan: \(message)")
            case .exitPort, .allHalted, .reset, .fatal:
                break
            }
        } else {
            outcome.status = 0
        }

        // 7. Tear down, newest first.
        executor.undoAll()
        outcome.trace = executor.entries
        return outcome
    }

    // MARK: Before anything is created

    /// What is wrong with the plan or its payload, independent of the host; nil when nothing is.
    public static func planProblem(_ plan: Plan, payload: [UInt8]?, initrd: [UInt8]? = nil) -> String? {
        let issues = plan.validate()
        if let issue = issues.first {
            return "invalid plan: \(issue)" + (issues.count > 1 ? " (and \(issues.count - 1) more)" : "")
        }
        return payloadProblem(plan, payload: payload) ?? initrdProblem(plan, initrd: initrd)
    }

    /// Why the payload cannot be launched (none, or not the file the plan was made for); nil when it can.
    static func payloadProblem(_ plan: Plan, payload: [UInt8]?) -> String? {
        guard let info = plan.payload else {
            return "the plan has no payload: 'launch' needs one (a manifest without one can be checked, planned and diffed)"
        }
        guard let payload else { return "the plan loads \(info.path), but no payload bytes were given" }
        let digest = PayloadDigest.sha256(payload)
        guard digest == info.sha256 else {
            return "payload \(info.path) has \(digest), the plan was made for \(info.sha256); refusing to load it"
        }
        return nil
    }

    /// Why the initrd cannot be launched (the plan names one and it is missing or another file); nil when it can.
    static func initrdProblem(_ plan: Plan, initrd: [UInt8]?) -> String? {
        guard let info = plan.payload?.initrd else { return nil }
        guard let initrd else { return "the plan loads the initrd \(info.path), but no initrd bytes were given" }
        let digest = PayloadDigest.sha256(initrd)
        guard digest == info.sha256 else {
            return "initrd \(info.path) has \(digest), the plan was made for \(info.sha256); refusing to load it"
        }
        return nil
    }

    /// What this host lacks for `plan`: /dev/kvm itself, or the plan's requirements.
    public func hostShortfalls(_ plan: Plan) -> [HostShortfall] {
        let facts: KVMHostFacts
        do {
            facts = try KVMHostFacts(devicePath: options.devicePath)
        } catch {
            return [HostShortfall(Self.deviceMessage(error, path: options.devicePath))]
        }
        return HostCheck.shortfalls(of: plan, on: facts)
    }

    static func deviceMessage(_ error: KVMError, path: String) -> String {
        if error.isDeviceMissing {
            return "\(path) does not exist: this host has no KVM (load the kvm module or enable virtualization) [\(error)]"
        }
        if error.isPermissionDenied {
            return "permission denied opening \(path): run as root or join its group (usually 'kvm') [\(error)]"
        }
        return "cannot open \(path): \(error)"
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    // MARK: The run phase

    private func run(_ runSteps: [Step], plan: Plan, executor: PlanExecutor, wakeUp: WakeUp)
        -> (Termination, [UInt32: VCPUResult])
    {
        var ports: [KVMVCPUPort] = []
        for step in runSteps {
            guard let index = step.operation.on?.index, let vcpu = executor.vcpus[index] else {
                return (.fatal(vcpu: nil, message: "step \(step.id): its vCPU was not created"), [:])
            }
            ports.append(KVMVCPUPort(vcpu, index: index))
        }
        var sharing: SharingHandler?
        if let engine = Self.sharingEngine(plan), let vm = executor.vm {
            sharing = SharingHandler(engine: engine, conversions: KVMConversions(vm: vm, regions: executor.conversionRegions()))
        }
        let policy = ExitPolicy(handlers: plan.handlers)
        var devices: LegacyDevices?
        if policy.i8042Port != nil {
            let irqchip = plan.steps.contains { $0.operation.kind == .createIRQChip }
            devices = LegacyDevices(interrupts: irqchip ? executor.vm.map { KVMInterrupts(vm: $0) } : nil)
        }
        let phase = RunPhase(
            policy: policy, sharing: sharing, output: output, trace: options.trace,
            timeout: options.timeout, handleInterrupt: options.handleInterrupt, devices: devices)
        return phase.run(ports, wakeUp: wakeUp)
    }

    /// The sharing engine of the plan's conversion handlers, nil when it has none. A region starts private
    /// when a `KVM_SET_MEMORY_ATTRIBUTES … PRIVATE` step covers it.
    public static func sharingEngine(_ plan: Plan) -> SharingEngine? {
        var ranges: [ConvertibleRange] = []
        var onShare = SharingEngine.OnShare.punchHole
        var onUnshare = SharingEngine.OnUnshare.discard
        for handler in plan.handlers {
            switch handler.kind {
            case .hypercallMapGPARange(let convertible, let share, let unshare),
                .memoryFault(let convertible, let share, let unshare):
                for range in convertible where !ranges.contains(range) { ranges.append(range) }
                (onShare, onUnshare) = (share, unshare)
            default:
                continue
            }
        }
        guard !ranges.isEmpty else { return nil }
        var privateRanges: [GPARange] = []
        var gmemOffsets: [String: UInt64] = [:]
        for step in plan.steps {
            switch step.operation {
            case .setMemoryAttributes(let s) where s.attributes.contains(.private):
                let gpa = s.gpa, size = s.size
                privateRanges.append(GPARange(gpa: gpa, size: size))
            case .setUserMemoryRegion2(let s) where s.guestMemfd != nil:
                gmemOffsets[s.region] = s.guestMemfd?.offset
            default:
                continue
            }
        }
        let regions = ranges.map { range in
            SharingEngine.ConvertibleRegion(
                name: range.region, gpa: range.range.gpa, size: range.range.size,
                initiallyPrivate: privateRanges.contains { $0.contains(range.range) },
                gmemOffset: gmemOffsets[range.region] ?? 0)
        }
        return SharingEngine(
            regions: regions, onShare: onShare, onUnshare: onUnshare, refusal: plan.platform.mapGPARangeRefusal)
    }
}

// MARK: - Run phase

/// Runs a set of vCPU ports until the VM ends, the timeout elapses or SIGINT, SIGTERM or SIGHUP arrives, then
/// stops every vCPU (immediate_exit + a kick signal) and joins the threads. Generic over the ports, so the tests
/// drive it with fakes as well as with real vCPUs.
///
/// The first vCPU runs on the calling thread and every other one on a thread of its own; a watchdog thread
/// exists only with a timeout. Whoever ends the VM (a vCPU writing the exit port, the last HLT, a fault, the
/// watchdog, a signal seen by a vCPU loop) stops all vCPUs at once: nobody waits for a coordinator.
/// The signals are blocked on the extra vCPU threads, so they interrupt the calling thread's KVM_RUN.
public struct RunPhase: Sendable {
    public var policy: ExitPolicy
    public var sharing: SharingHandler?
    public var output: any LaunchOutput
    public var trace: Bool
    public var timeout: Double?
    public var handleInterrupt: Bool
    public var devices: LegacyDevices?

    public init(
        policy: ExitPolicy, sharing: SharingHandler? = nil, output: any LaunchOutput, trace: Bool = false,
        timeout: Double? = nil, handleInterrupt: Bool = false, devices: LegacyDevices? = nil
    ) {
        (self.policy, self.sharing, self.output, self.trace) = (policy, sharing, output, trace)
        (self.timeout, self.handleInterrupt, self.devices) = (timeout, handleInterrupt, devices)
    }

    /// Runs `ports` with a wake-up pipe of its own.
    public func run(_ ports: [any VCPUPort]) -> (Termination, [UInt32: VCPUResult]) {
        let (wakeUp, pipeErrno) = WakeUp.make()
        guard let wakeUp else { return (.fatal(vcpu: nil, message: "cannot create a pipe: errno \(pipeErrno)"), [:]) }
        return run(ports, wakeUp: wakeUp)
    }

    func run(_ ports: [any VCPUPort], wakeUp: WakeUp) -> (Termination, [UInt32: VCPUResult]) {
        guard let first = ports.first else { return (.allHalted, [:]) }
        VCPUKick.installHandler()
        let savedMask = VCPUKick.unblockOnThisThread()
        defer { VCPUKick.restoreMask(savedMask) }

        let kicker = Kicker(ports: ports)
        let control = VMControl(
            vcpuCount: ports.count,
            onFinish: {
                kicker.stopAll()
                wakeUp.signal()
            })
        let handleInterrupt = self.handleInterrupt
        let interrupted: @Sendable () -> Bool = { handleInterrupt && InterruptSignal.wasReceived }
        let results = Mutex<[UInt32: VCPUResult]>([:])
        func loop(_ port: any VCPUPort) -> ExitLoop {
            ExitLoop(
                port: port, control: control, policy: policy, sharing: sharing, output: output, trace: trace,
                devices: devices, interrupted: interrupted)
        }

        kicker.add(HostThread.current())
        var threads: [HostThread] = []
        for port in ports.dropFirst() {
            let exitLoop = loop(port)
            let thread = HostThread()
            let error = thread.start {
                VCPUKick.prepareVCPUThread(blockInterrupt: handleInterrupt)
                let result = exitLoop.run()
                results.withLock { $0[port.index] = result }
            }
            if error != 0 {
                control.finish(.fatal(vcpu: port.index, message: "cannot start a thread for vcpu \(port.index): errno \(error)"))
                break
            }
            threads.append(thread)
            kicker.add(thread)
        }
        var watchdog: HostThread?
        if let timeout, control.termination == nil {
            let deadline = Deadline(secondsFromNow: timeout)
            let thread = HostThread()
            let error = thread.start {
                while control.termination == nil {
                    let woken = wakeUp.wait(until: deadline)
                    if interrupted() {
                        control.finish(.interrupted)
                    } else if !woken {
                        control.finish(.timeout)
                    }
                }
            }
            if error == 0 {
                watchdog = thread
            } else {
                control.finish(.fatal(vcpu: nil, message: "cannot start the timeout thread: errno \(error)"))
            }
        }

        let result = loop(first).run()
        results.withLock { $0[first.index] = result }
        // The first vCPU may be done (halted) while others run: wait for the VM to end, and for a signal.
        while control.termination == nil {
            _ = wakeUp.wait(until: nil)
            if interrupted() { control.finish(.interrupted) }
        }
        for thread in threads { thread.join() }
        watchdog?.join()
        let termination = control.termination ?? .fatal(vcpu: nil, message: "the VM ended without a reason")
        return (termination, results.withLock { $0 })
    }
}

/// Stops every vCPU of a run: `immediate_exit` on each port (a thread about to enter KVM_RUN returns at once),
/// then the kick signal to each vCPU thread (a thread inside KVM_RUN returns with EINTR).
final class Kicker: Sendable {
    private let ports: [any VCPUPort]
    private let threads = Mutex<[HostThread]>([])

    init(ports: [any VCPUPort]) { self.ports = ports }

    func add(_ thread: HostThread) { threads.withLock { $0.append(thread) } }

    func stopAll() {
        for port in ports { port.requestStop() }
        for thread in threads.withLock({ $0 }) { thread.kick() }
    }
}
