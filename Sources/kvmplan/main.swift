import ArgumentParser
import Manifest
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// kvmplan: compile YAML guest manifests into KVM ioctl plans, check, diff and launch them.
/// This target only wires the pipeline's stages and picks exit codes.
struct KVMPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvmplan",
        abstract: "Compile confidential-VM manifests into /dev/kvm ioctl plans; check, diff and launch them.",
        // One item a line, each short enough for an 80-column terminal: ArgumentParser re-wraps long lines.
        discussion: """
            Exit status:
              check, plan  0 ok; 1 invalid manifest; 2 usage or I/O error
              diff         0 same; 1 different; 2 error (as diff(1))
              launch       the guest's exit status (0 when every vCPU halted);
                           124 --timeout; 125 kvmplan's own failure;
                           126 the host lacks a VM type or capability;
                           128 + signal when stopped: 130 SIGINT, 143 SIGTERM,
                           129 SIGHUP (the guest is stopped, every step undone)
              probe        0 ok; 125 a KVM call failed; 126 no usable /dev/kvm
              explain      0 ok; 2 unknown rule id
              any          2 usage error

            Documentation: docs/manifest.md (the manifest format) and
            docs/kernel-facts.md (the kernel rules behind each check) in the
            kvmplan repository; 'kvmplan explain ID' for one diagnostic.
            """,
        version: KVMPlanVersion.full,
        subcommands: KVMPlan.allSubcommands
    )
}

/// Exits with `status`, or with 2 when a write to stdout failed (DESIGN §3: an I/O error; a plan written to a
/// full disk or a closed pipe must not look like a success).
func finish(_ status: Int32) -> Never {
    if let failure = Console.stdoutFailure {
        Console.error("kvmplan: cannot write to standard output: \(Errno(rawValue: failure))")
        exit(2)
    }
    exit(status)
}

// Usage errors exit 2 (DESIGN §3), not ArgumentParser's default 64.
// On Linux the Swift runtime reads the command line from /proc/self/cmdline. Without /proc (a minimal
// container, a chroot) it sees no arguments at all, not even the program's name: fail loudly rather than
// run as if none were given (which printed the help and exited 0, so a CI step passed having checked nothing).
if CommandLine.arguments.isEmpty {
    Console.error(
        "kvmplan: cannot read the command line: /proc/self/cmdline is not readable (is /proc mounted?); nothing was done")
    exit(2)
}

// Usage errors exit 2, not ArgumentParser's default 64.
do {
    let arguments = CommandLine.arguments.normalisingNegativeOptionValues()
    if arguments.count == 3, arguments[1] == "launch", !arguments[2].hasPrefix("-") {
        // Fast path for the most common call; every other form goes through ArgumentParser.
        try LaunchCommand.execute(file: arguments[2], timeout: nil, trace: false, dryRun: false, payloadPath: nil)
    } else if arguments.count >= 3, arguments[1] == "check", arguments.dropFirst(2).allSatisfy({ !$0.hasPrefix("-") }) {
        // Fast path for CI's call: plain files, default options (see CheckCommand.execute).
        try CheckCommand.execute(files: Array(arguments.dropFirst(2)), format: .text, strict: false)
    } else {
        try KVMPlan.refuseUnknownSubcommand(arguments)
        var command = try KVMPlan.parseAsRoot(Array(arguments.dropFirst()))
        try command.run()
    }
    finish(0)
} catch let code as ExitCode {
    finish(code.rawValue)
} catch {
    let exitCode = KVMPlan.exitCode(for: error)
    if exitCode == .success || exitCode.rawValue == 0 {
        KVMPlan.exit(withError: error)
    }
    let message = KVMPlan.fullMessage(for: error)
    if !message.isEmpty { Console.error(message) }
    exit(exitCode == .validationFailure || exitCode.rawValue == 64 ? 2 : exitCode.rawValue)
}

extension Array where Element == String {
    /// `--timeout -1` as `--timeout=-1`: ArgumentParser reads a value that starts with '-' as the next option
    /// and said "missing value"; joined, the command's own validation explains what is wrong with it.
    func normalisingNegativeOptionValues() -> [String] {
        var out: [String] = []
        var index = startIndex
        while index < endIndex {
            let word = self[index]
            if word == "--timeout", index + 1 < endIndex, self[index + 1].hasPrefix("-"), Double(self[index + 1]) != nil {
                out.append(word + "=" + self[index + 1])
                index += 2
            } else {
                out.append(word)
                index += 1
            }
        }
        return out
    }
}

extension KVMPlan {
    /// A misspelt subcommand gets a suggestion (ArgumentParser would only print the usage) and exit 2.
    /// Checked after the fast paths, which never need it.
    static func refuseUnknownSubcommand(_ arguments: [String]) throws {
        guard let word = arguments.dropFirst().first, !word.hasPrefix("-"), word != "help" else { return }
        let names: [String] = allSubcommands.compactMap { command in command.configuration.commandName }
        guard !names.contains(word) else { return }
        let suggestion = ManifestMessages.closest(word, in: names).map { "; did you mean '\($0)'?" } ?? ""
        Console.error("kvmplan: unknown command '\(word)'\(suggestion) (commands: \(names.joined(separator: ", ")))")
        throw ExitCode(2)
    }
}
