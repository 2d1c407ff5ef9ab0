import ArgumentParser
import Compiler
import Diagnostics
import Plan
import Rules

enum PlanFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
    case c
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Compile a manifest into its ordered, typed plan of /dev/kvm steps.",
        discussion: """
            text: the aligned plan. json: the canonical plan (sorted keys, sha256 digest; the same \
            manifest always gives the same bytes, wherever it lies and however it is named: sources and the \
            payload path are relative to the manifest's directory, and the digest covers what executes — \
            steps, arguments, requirements, handlers, the payload's sha256 — not sources, comments or \
            paths); `kvmplan launch` and `kvmplan diff` accept it. \
            c: a standalone C program performing the same ioctls, a reproducer for kernel bug reports.
            SEV-SNP and TDX plans carry the expected launch measurement (`# measurement:` in text, \
            `measurement` in JSON): SNP's launch digest over the LAUNCH_UPDATE pages and each vCPU's VMSA, \
            TDX's MRTD over the INIT_MEM_REGION pages.
            Exit status: 0 ok, 1 invalid manifest (its diagnostics on stderr, no plan), 2 usage or I/O error.
            """
    )

    @Argument(help: "The manifest file.")
    var file: String

    @Option(help: "Output format: text, json or c.")
    var format: PlanFormat = .text

    @Option(name: .shortAndLong, help: "Write the plan to this file instead of stdout.")
    var output: String?

    @OptionGroup var colour: ColourOption

    func run() throws {
        colour.apply()
        // Written the same wherever the manifest lies and however it was named (sources and the payload
        // path relative to the manifest's directory; the digest never covers them).
        let plan = try ManifestLoading.plan(from: file).relativeToManifestDirectory()
        let text: String
        switch format {
        case .text: text = PlanTextRenderer().render(plan)
        case .json: text = plan.jsonString(pretty: true) + "\n"
        case .c: text = PlanCRenderer().render(plan)
        }
        try Console.result(text, to: output, raw: format != .text)
    }
}

extension Console {
    /// A command's result (`plan`, `map`): written to `output` (`-o FILE`; a failed write is exit 2) or to
    /// stdout — `raw` (JSON, C) byte for byte, else through `out`'s terminal escaping.
    static func result(_ text: String, to output: String?, raw: Bool) throws {
        guard let output else {
            if raw { outData(text) } else { out(text) }
            return
        }
        do {
            try LocalFileAccess().write(text, to: output)
        } catch {
            Console.error("kvmplan: \(error)")
            throw ExitCode(2)
        }
    }
}

/// Manifest → plan for the commands that need one (plan, diff, launch): diagnostics go to stderr;
/// an invalid manifest is `ExitCode(invalidExit)`, an unreadable file `ExitCode(ioExit)`.
enum ManifestLoading {
    static func plan(from file: String, invalidExit: Int32 = 1, ioExit: Int32 = 2) throws -> Plan {
        let bytes: [UInt8]
        do {
            bytes = try LocalFileAccess().read(file)
        } catch {
            Console.error("kvmplan: \(error)")
            throw ExitCode(ioExit)
        }
        let pipeline = CompilerPipeline()
        let (checked, diagnostics) = pipeline.check(bytes: bytes, file: file)
        Console.reportDiagnostics(diagnostics, file: file, bytes: bytes)
        guard let checked else { throw ExitCode(invalidExit) }
        return Lowering().lower(checked)
    }
}
