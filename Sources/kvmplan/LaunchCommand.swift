import ArgumentParser
import Compiler
import Diagnostics
import Launcher
import Plan
import Rules
import SystemPackage

/// `kvmplan launch`: manifest (or plan JSON) → plan → this host's /dev/kvm (DESIGN §7). Wiring only: the
/// compiler makes the plan, the launcher executes it, this command picks the exit code.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run a manifest's guest (or a plan JSON file) on this host's /dev/kvm, its serial console on stdout.",
        discussion: """
            The input is a manifest, or a plan file from 'kvmplan plan --format json' (recognised by a .json \
            name or a leading '{'; it can only express kvmplan's closed set of typed steps and is validated \
            when read). A plan file's payload (and a Linux plan's initrd) is the path recorded in the plan, followed \
            only inside the plan file's directory: a regular file there or below it once '..' and symbolic links are resolved; \
            --payload names any other file explicitly. Every payload's sha256 must match the plan, and every \
            'load' step checks the sha256 of the bytes it copies.

            Before creating anything, the plan's requirements are compared with this host: the KVM API \
            version, the architecture, the VM type (KVM_CAP_VM_TYPES) and every capability, VM-scope ones on \
            a temporary VM of the plan's type. Then the steps run in order. Each vCPU runs on a thread of its \
            own (the first one on kvmplan's main thread). Memory backed by hugetlb needs free huge pages on \
            the host; without them its mmap step fails (exit 125).

            SEV-SNP and TDX plans: /dev/sev is opened like /dev/kvm (SNP), and the launch commands \
            (KVM_SEV_INIT2 to KVM_SEV_SNP_LAUNCH_FINISH, KVM_TDX_CAPABILITIES to KVM_TDX_FINALIZE_VM) are \
            KVM_MEMORY_ENCRYPT_OP calls; KVM_SEV_SNP_LAUNCH_UPDATE and KVM_TDX_INIT_MEM_REGION are repeated \
            with the remainder KVM writes back until the whole range is done (EAGAIN retried; 16 calls in a \
            row without progress fail the step, exit 125), and a failed command's message carries the \
            firmware's error code (kvm_sev_cmd.error, kvm_tdx_cmd.hw_error). These steps are implemented \
            against the kernel's uapi layouts and ordering rules and checked with a recording kernel double; \
            they have never run on SEV-SNP or TDX hardware, and neither has the run phase of such a guest.

            Guest ABI: bytes written to COM1 (port 0x3f8) go to stdout unbuffered, the line status register \
            (0x3fd) reads 0x60; the byte written to port 0xf4 is the exit status and ends the VM; HLT ends a \
            vCPU and the VM exits 0 when every vCPU halted. Accesses to an MMIO hole or writes to a read-only \
            slot are reported on stderr as 'mmio write 0x<gpa> <len> bytes: <hex>' (or 'mmio read 0x<gpa> \
            <len> bytes', which reads zeros) and the guest resumes.

            Exit status: the guest's exit-port byte; 0 when every vCPU halted; 124 --timeout elapsed; 125 \
            kvmplan's own failure (unreadable or invalid manifest or plan, no payload, payload mismatch, a \
            failed step, a step this launcher cannot execute, guest shutdown/triple fault, KVM internal \
            error); 126 /dev/kvm is missing or not accessible, or this host lacks the architecture, VM type \
            or a capability the plan needs; 128 + signal when stopped by SIGINT (130), SIGTERM (143) or SIGHUP \
            (129): the guest is stopped and every step undone first, with one line on stderr; 2 usage error.

            stderr: manifest diagnostics as 'file:line:col: error[rule]: …'; each host shortfall as \
            'file:line:col: error: this host's KVM cannot create KVM_X86_TDX_VM (KVM_CAP_VM_TYPES = 0x1)'; a \
            failed step as 'kvmplan: step slot.ram (KVM_SET_USER_MEMORY_REGION, file:line:col) failed: \
            EINVAL (Invalid argument)', after which the steps before it are undone in reverse (munmap, \
            close); a dead guest as 'kvmplan: vcpu N: <decoded exit reason>' and a register dump; \
            'kvmplan: timeout: …' and 'kvmplan: interrupted (SIGTERM); stopped the guest'.

            --trace prints each executed step on stderr in the plan's one-line text syntax followed by \
            ' = result  # step-id'; ioctls made by exit handlers (sharing conversions) are indented; teardown \
            lines start with '# undo'. KVM_RUN steps are printed when their vCPU stopped, with the reason and \
            the number of exits.

            --dry-run does everything that has no effect on the host: reads and checks the manifest or plan, \
            lowers it, validates the plan, verifies the payload's sha256, then prints the plan text and the \
            checks and steps a launch would perform, as '#' comment lines. It opens nothing (not even \
            /dev/kvm). Exit 0, or 125 when the launch would fail before reaching the host (no payload, a \
            payload mismatch).
            """
    )

    @Argument(help: "A manifest (YAML) or a plan file (JSON from 'kvmplan plan --format json').")
    var file: String

    @Option(help: ArgumentHelp("Stop the guest after SECONDS of running (decimals allowed) and exit 124. Default: no limit.", valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print every executed step with its result on stderr.")
    var trace = false

    @Flag(name: .customLong("dry-run"), help: "Print the plan and what a launch would check and do, without opening /dev/kvm.")
    var dryRun = false

    @Option(
        name: .customLong("payload"),
        help: ArgumentHelp("Load this payload file instead of the one the plan names (its sha256 must still match).", valueName: "path"))
    var payloadPath: String?

    @OptionGroup var colour: ColourOption

    func validate() throws {
        if let timeout, !(timeout > 0) || !timeout.isFinite {
            let shown = timeout.isFinite && timeout.rounded() == timeout && abs(timeout) < 1e15 ? String(Int64(timeout)) : String(timeout)
            throw ValidationError("--timeout must be a positive number of seconds, not \(shown)")
        }
    }

    func run() throws {
        colour.apply()
        try Self.execute(file: file, timeout: timeout, trace: trace, dryRun: dryRun, payloadPath: payloadPath)
    }

    /// The launch itself. `main.swift` calls it directly for the plain `kvmplan launch FILE`, which skips
    /// building ArgumentParser's command tree (about 1.5 ms of a 5 ms launch).
    static func execute(file: String, timeout: Double?, trace: Bool, dryRun: Bool, payloadPath: String?) throws {
        let input = try LaunchInput.load(file, payloadOverride: payloadPath)
        if dryRun {
            let problem = Launcher.planProblem(input.plan, payload: input.payload, initrd: input.initrd)
            let payloadStatus: String
            if let info = input.plan.payload {
                payloadStatus = "the payload \(input.payloadFile ?? info.path) (\(info.sha256.prefix(19))…): " + (problem == nil ? "ok" : "FAILS")
            } else {
                payloadStatus = "no payload"
            }
            Console.out(PlanTextRenderer().render(input.plan) + "\n")
            Console.out(LaunchPreview.render(input.plan, payloadStatus: payloadStatus, timeout: timeout))
            if let problem {
                Console.error("kvmplan: \(problem)")
                throw ExitCode(125)
            }
            return
        }
        let launcher = Launcher(
            options: LaunchOptions(timeout: timeout, trace: trace, handleInterrupt: true, planIsValidated: true),
            output: StandardStreams())
        let outcome = launcher.launch(input.plan, payload: input.payload, initrd: input.initrd)
        if outcome.status != 0 { throw ExitCode(outcome.status) }
    }
}

/// The plan and payload bytes of `kvmplan launch FILE`. Failures print on stderr and exit 125.
struct LaunchInput {
    var plan: Plan
    var payload: [UInt8]?
    /// Where the payload was read from.
    var payloadFile: String?
    /// A Linux guest's initrd (`format: linux` with `initrd`).
    var initrd: [UInt8]? = nil

    static func load(_ file: String, payloadOverride: String?) throws -> LaunchInput {
        let bytes: [UInt8]
        do {
            bytes = try LocalFileAccess().read(file)
        } catch {
            Console.error("kvmplan: \(error)")
            throw ExitCode(125)
        }
        let isPlan = file.hasSuffix(".json") || bytes.first(where: { ![9, 10, 13, 32].contains($0) }) == UInt8(ascii: "{")
        return isPlan
            ? try fromPlan(file, bytes, payloadOverride: payloadOverride)
            : try fromManifest(file, bytes, payloadOverride: payloadOverride)
    }

    /// Manifest → plan. The compiler has already read the payload to check it: those bytes are launched,
    /// so the file is read once.
    private static func fromManifest(_ file: String, _ bytes: [UInt8], payloadOverride: String?) throws -> LaunchInput {
        let (checked, diagnostics) = CompilerPipeline(files: LocalFileAccess()).check(bytes: bytes, file: file)
        Console.reportDiagnostics(diagnostics, file: file, bytes: bytes)
        guard let checked else { throw ExitCode(125) }
        let plan = Lowering().lower(checked)
        let initrd = checked.context.initrdFile?.bytes
        if let payloadOverride {
            return LaunchInput(plan: plan, payload: try readPayload(payloadOverride), payloadFile: payloadOverride, initrd: initrd)
        }
        return LaunchInput(
            plan: plan, payload: checked.context.payloadFile?.bytes, payloadFile: checked.context.payloadPath, initrd: initrd)
    }

    private static func fromPlan(_ file: String, _ bytes: [UInt8], payloadOverride: String?) throws -> LaunchInput {
        let plan: Plan
        do {
            plan = try Plan(json: String(decoding: bytes, as: UTF8.self))
        } catch {
            Console.error("kvmplan: \(file): not a valid plan: \(error)")
            throw ExitCode(125)
        }
        // A plan file may come from elsewhere: its payload and initrd paths are only followed inside the plan's
        // directory (PlanPayloadFile); any other payload must be named with --payload.
        var initrd: [UInt8]? = nil
        do {
            initrd = try PlanPayloadFile.readInitrd(for: plan, planFile: file)?.bytes
        } catch {
            Console.error("kvmplan: \(file): \(error)")
            throw ExitCode(125)
        }
        if let payloadOverride {
            return LaunchInput(plan: plan, payload: try readPayload(payloadOverride), payloadFile: payloadOverride, initrd: initrd)
        }
        do {
            guard let (payload, path) = try PlanPayloadFile.read(for: plan, planFile: file) else {
                return LaunchInput(plan: plan, payload: nil, payloadFile: nil)
            }
            return LaunchInput(plan: plan, payload: payload, payloadFile: path, initrd: initrd)
        } catch {
            Console.error("kvmplan: \(file): \(error); name the payload with --payload")
            throw ExitCode(125)
        }
    }

    private static func readPayload(_ path: String) throws -> [UInt8] {
        do {
            return try LocalFileAccess().readPayload(path)
        } catch {
            Console.error("kvmplan: payload: \(error)")
            throw ExitCode(125)
        }
    }
}
