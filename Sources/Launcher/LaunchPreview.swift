import Plan

/// `kvmplan launch --dry-run`: what a launch would check and do, computed from the plan alone. It opens
/// nothing: not /dev/kvm, no VM, no memory. The output is the plan text followed by this section, in the
/// plan text's comment syntax:
///
/// ```
/// # dry run: nothing was opened or created. `kvmplan launch` would:
/// #   check the plan (validate) and the payload ../Examples/guests/hello-long.bin (sha256:…): ok
/// #   open /dev/kvm (missing or not accessible: exit 126)
/// #   check KVM_GET_API_VERSION = 12
/// #   check the host is x86_64
/// #   check KVM_CAP_NR_MEMSLOTS >= 1 on /dev/kvm                        (Manifests/hello-long.yaml:9:3)
/// #   check KVM_CAP_GUEST_MEMFD_FLAGS bits 0x3 on a temporary KVM_X86_DEFAULT_VM  (…)
/// #   (any check failing: the missing things with their manifest lines, exit 126)
/// #   execute 13 steps, kvm … boot.0 (a step failing: undo, exit 125)
/// #   run 1 vCPU, one thread each: run.0; handlers: serial 0x3f8, exit port 0xf4, halt
/// #   exit status: the guest's exit-port byte, 0 when every vCPU halted, 124 after --timeout, 125 on a fault
/// ```
public enum LaunchPreview {
    /// The dry-run section for `plan`; `payloadStatus` says what became of the payload check.
    public static func render(_ plan: Plan, payloadStatus: String, timeout: Double?) -> String {
        var lines: [(String, String?)] = []
        lines.append(("check the plan (validate) and \(payloadStatus)", nil))
        lines.append(("open /dev/kvm read-write (missing or not accessible: exit 126)", nil))
        lines.append(("check KVM_GET_API_VERSION = \(plan.requires.apiVersion)", nil))
        let type = plan.requires.vmType
        lines.append(("check the host is \(plan.arch.rawValue)", nil))
        if plan.arch == .x86_64 && type.type.value != 0 {
            lines.append(("check KVM_CAP_VM_TYPES has bit \(type.type.value) (\(type.type.name))", type.source?.description))
        } else if let needs = type.type.hostNeeds {
            lines.append(("VM type \(type.type.name) needs \(needs)", type.source?.description))
        } else {
            lines.append(("VM type \(type.type.name) (always creatable where KVM is)", type.source?.description))
        }
        if type.type.armKind == .protected {
            // pKVM pins every page donated to the guest and charges it to RLIMIT_MEMLOCK (KVM_UAPI.md §8).
            let pinned = plan.steps.reduce(UInt64(0)) { total, step in
                total &+ (step.operation.memslot?.size ?? 0)
            }
            let amount = pinned % (1 << 20) == 0 ? "\(pinned >> 20) MiB" : "\(pinned) bytes"
            lines.append(("guest memory is pinned: RLIMIT_MEMLOCK must allow \(amount) (or CAP_IPC_LOCK)", type.source?.description))
        }
        for requirement in plan.requires.sortedCapabilities {
            let expectation: String
            switch requirement.expect {
            case .atLeast(let minimum): expectation = ">= \(minimum)"
            case .bits(let mask): expectation = "bits \(hex(mask))"
            }
            let scope = requirement.scope == .vm ? "on a temporary \(type.type.name) VM" : "on /dev/kvm"
            lines.append(("check \(requirement.cap.name) \(expectation) \(scope)", requirement.source?.description))
        }
        lines.append(("(a check failing: each missing thing with its manifest line, exit 126)", nil))

        let runSteps = plan.steps.filter { if case .run = $0.operation { true } else { false } }
        let setup = plan.steps.filter { if case .run = $0.operation { false } else { true } }
        if let first = setup.first, let last = setup.last {
            lines.append(("execute \(setup.count) steps, \(first.id) … \(last.id) (a step failing: undo in reverse, exit 125)", nil))
        }
        let launchCommands = setup.filter { Self.partialCommands.contains($0.operation.command ?? "") }
        if let first = launchCommands.first {
            let platform = first.operation.command?.hasPrefix("KVM_SEV") == true ? "SEV-SNP" : "TDX"
            lines.append(("repeat each \(first.operation.command ?? "") until KVM has done its whole range (\(PartialProgress.maximumStalls) calls in a row without progress: exit 125)", nil))
            lines.append(("the \(platform) launch commands are implemented against the kernel's uapi layouts and ordering rules and checked with a recording kernel double, never run on \(platform) hardware", nil))
        }
        if let unsupported = plan.steps.first(where: { PlanExecutor.unsupportedReason($0) != nil }) {
            lines.append(("but cannot execute step \(unsupported.id): \(PlanExecutor.unsupportedReason(unsupported) ?? "") (exit 125)", nil))
        }
        if !runSteps.isEmpty {
            let handlers = plan.handlers.map(handlerText).joined(separator: ", ")
            lines.append(("run \(runSteps.count) vCPU\(runSteps.count == 1 ? "" : "s"), one thread each: \(runSteps.map(\.id).joined(separator: ", ")); handlers: \(handlers)", nil))
            let limit = timeout.map { "timeout after \(Launcher.seconds($0)) of running (exit 124)" } ?? "no timeout"
            lines.append((limit, nil))
            lines.append(("exit status: the guest's exit-port byte, 0 when every vCPU halted, 125 on a fault, 128 + signal on SIGINT (130), SIGTERM (143) or SIGHUP (129)", nil))
        }

        let width = min(72, lines.filter { $0.1 != nil }.map(\.0.count).max() ?? 0)
        var out = "# dry run: nothing was opened or created. `kvmplan launch` would:\n"
        for (text, source) in lines {
            if let source {
                let pad = String(repeating: " ", count: max(0, width - text.count))
                out += "#   \(text)\(pad)  (\(source))\n"
            } else {
                out += "#   \(text)\n"
            }
        }
        return out
    }

    /// The launch commands KVM may do in part, which the launcher repeats (`PartialProgress`).
    static let partialCommands: Set<String> = ["KVM_SEV_SNP_LAUNCH_UPDATE", "KVM_TDX_INIT_MEM_REGION"]

    static func handlerText(_ handler: Handler) -> String {
        switch handler.kind {
        case .serial(let port): "serial \(hex(UInt64(port)))"
        case .exitPort(let port): "exit port \(hex(UInt64(port)))"
        case .halt: "halt"
        case .mmio(let region, let range, let readonly): "mmio \(region) \(range)\(readonly ? " (read-only slot)" : "")"
        case .hypercallMapGPARange: "KVM_HC_MAP_GPA_RANGE conversions"
        case .memoryFault: "memory-fault conversions"
        case .i8042(let port): "i8042 \(hex(UInt64(port))) (reset 0xfe → exit 0)"
        }
    }
}
