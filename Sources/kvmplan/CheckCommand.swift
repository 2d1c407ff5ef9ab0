import ArgumentParser
import Compiler
import Diagnostics
import Rules

extension DiagnosticFormat: ExpressibleByArgument {}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate manifests offline: every diagnostic of every file, located at file:line:col.",
        discussion: "Exit status: 0 all valid, 1 some manifest invalid, 2 usage or I/O error."
    )

    @Argument(help: "Manifest files to check.")
    var files: [String]

    @Option(help: "Output format: text, json, sarif or github.")
    var format: DiagnosticFormat = .text

    @Flag(help: "Treat warnings as errors.")
    var strict = false

    @Option(
        name: .customLong("host"),
        help: "Also check against a host profile: a JSON file from 'kvmplan probe --format json', or 'local' to probe this host.")
    var hostProfile: String?

    func run() throws {
        try Self.execute(files: files, format: format, strict: strict, hostProfile: hostProfile)
    }

    /// The whole command; `main.swift` calls it directly for `kvmplan check FILE...` (no options), because
    /// ArgumentParser's bookkeeping grows quadratically with the number of positional arguments (about 25 ms
    /// for 1000 files, a third of the check itself; Benchmarks/check).
    static func execute(files: [String], format: DiagnosticFormat, strict: Bool, hostProfile: String?) throws {
        var all = Diagnostics()
        var host: HostProfile? = nil
        var hostFailed = false
        if let hostProfile {
            switch try HostProfileLoader.load(hostProfile) {
            case .profile(let profile): host = profile
            case .failure(let diagnostic):
                all.append(diagnostic)
                hostFailed = true
            }
        }
        let pipeline = CompilerPipeline(host: host)
        let reader = LocalFileAccess()
        var sources = SourceCache()
        // With a host profile that cannot be loaded, no manifest is checked: a pass without the host
        // would be read as a pass on it.
        for file in files where !hostFailed {
            let bytes: [UInt8]
            do {
                bytes = try reader.read(file)
            } catch let error as LocalFileAccess.ReadError {
                all.append(IOMessages.read(file, error.reason))
                continue
            } catch {
                all.append(IOMessages.read(file, "\(error)"))
                continue
            }
            let (_, diagnostics) = pipeline.check(bytes: bytes, file: file)
            if format == .text && Console.stdoutIsTerminal && !diagnostics.isEmpty { sources.remember(file, bytes) }
            all.append(contentsOf: diagnostics)
        }
        if strict { all = all.promotingWarnings() }
        let failures = all.filter(\.isToolFailure)
        let findings = Diagnostics(all.filter { !$0.isToolFailure })
        if format == .text {
            // Text: a failure to read goes to stderr (it is about the run, not a manifest); findings to stdout.
            for failure in failures { Console.error("kvmplan: \(failure.message)") }
        }
        let renderer = DiagnosticRenderer(
            format: format, showSource: Console.stdoutIsTerminal, colour: Console.stdoutIsTerminal,
            toolVersion: KVMPlanVersion.number, sourceLine: sources.sourceLine)
        Console.out(renderer.render(format == .text ? findings : all, catalogue: RuleCatalogue.byID))
        if format == .text {
            let checked = files.count == 1 ? "1 manifest" : "\(files.count) manifests"
            Console.error("kvmplan: checked \(checked): \(all.errorCount) error(s), \(all.warningCount) warning(s)")
        }
        if !failures.isEmpty { throw ExitCode(2) }
        if all.hasErrors { throw ExitCode(1) }
    }
}

/// The source lines of files with diagnostics, for the caret display on a terminal.
struct SourceCache {
    var lines: [String: [String]] = [:]

    mutating func remember(_ file: String, _ bytes: [UInt8]) {
        lines[file] = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Line `n` (1-based) of a remembered file, for `DiagnosticRenderer.sourceLine`.
    var sourceLine: @Sendable (String, Int) -> String? {
        let lines = self.lines
        return { file, line in lines[file].flatMap { line >= 1 && line <= $0.count ? $0[line - 1] : nil } }
    }
}

extension Console {
    /// Prints one file's diagnostics on stderr as text (source line and caret on a terminal): the form every
    /// command that compiles a manifest on the way (plan, diff, launch) uses.
    static func reportDiagnostics(_ diagnostics: Diagnostics, file: String, bytes: [UInt8]) {
        guard !diagnostics.isEmpty else { return }
        var sources = SourceCache()
        sources.remember(file, bytes)
        let renderer = DiagnosticRenderer(
            format: .text, showSource: stderrIsTerminal, colour: stderrIsTerminal, sourceLine: sources.sourceLine)
        error(renderer.render(diagnostics))
    }
}
