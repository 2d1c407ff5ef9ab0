import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// kvmplan: compile YAML guest manifests into KVM ioctl plans, check, diff and launch them.
/// This target only wires the pipeline's stages and picks exit codes (DESIGN §1, §3).
struct KVMPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvmplan",
        abstract: "Compile confidential-VM manifests into /dev/kvm ioctl plans; check, diff and launch them.",
        discussion: """
            Exit codes: check/plan 0 ok, 1 invalid manifest, 2 usage or I/O error.
            diff 0 same, 1 different, 2 error. launch: the guest's exit status; 124 timeout;
            125 kvmplan's own failure; 126 host lacks a capability the plan needs.
            """,
        version: KVMPlanVersion.number,
        subcommands: KVMPlan.allSubcommands
    )
}

// On Linux the Swift runtime reads the command line from /proc/self/cmdline. Without /proc (a minimal
// container, a chroot) it sees no arguments at all, not even the program's name: fail loudly rather than
// run as if none were given (which printed the help and exited 0, so a CI step passed having checked nothing).
if CommandLine.arguments.isEmpty {
    Console.error(
        "kvmplan: cannot read the command line: /proc/self/cmdline is not readable (is /proc mounted?); nothing was done")
    exit(2)
}

// Usage errors exit 2 (DESIGN §3), not ArgumentParser's default 64.
do {
    let arguments = CommandLine.arguments
    if arguments.count == 3, arguments[1] == "launch", !arguments[2].hasPrefix("-") {
        // Fast path for the most common call; every other form goes through ArgumentParser.
        try LaunchCommand.execute(file: arguments[2], timeout: nil, trace: false, dryRun: false, payloadPath: nil)
    } else if arguments.count >= 3, arguments[1] == "check", arguments.dropFirst(2).allSatisfy({ !$0.hasPrefix("-") }) {
        // Fast path for CI's call: plain files, default options (see CheckCommand.execute).
        try CheckCommand.execute(files: Array(arguments.dropFirst(2)), format: .text, strict: false)
    } else {
        var command = try KVMPlan.parseAsRoot()
        try command.run()
    }
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    let exitCode = KVMPlan.exitCode(for: error)
    if exitCode == .success || exitCode.rawValue == 0 {
        KVMPlan.exit(withError: error)
    }
    let message = KVMPlan.fullMessage(for: error)
    if !message.isEmpty { Console.error(message) }
    exit(exitCode == .validationFailure || exitCode.rawValue == 64 ? 2 : exitCode.rawValue)
}
