import ArgumentParser
import Compiler
import Diagnostics
import Rules

extension DiagnosticFormat: ExpressibleByArgument {}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate manifests offline: every diagnostic of every file, located at file:line:col.",
        discussion: """
            A directory is checked recursively: every *.yaml and *.yml file below it, in sorted order \
            (hidden entries such as .git are skipped, links to directories are not followed). '-' reads one \
            manifest from standard input, reported as <stdin>; its payload path is relative to the current \
            directory.

            Waivers: --ignore ID (repeatable, or comma-separated) drops that id's findings everywhere; a \
            comment '# kvmplan: ignore[ID]' (or ignore[ID1, ID2]) drops them on its own line. Only warnings \
            and host.* findings can be waived: any other error would make plan and launch fail. An inline \
            waiver that names an unknown id, an error, or nothing on its line is reported as an ignore.* \
            warning.

            Exit status: 0 all valid, 1 some manifest invalid, 2 usage or I/O error (a file or host profile \
            that cannot be read; it is also reported as an io.* diagnostic in every format).
            """
    )

    @Argument(help: ArgumentHelp("Manifest files, directories (checked recursively) or '-' for standard input.", valueName: "file"))
    var files: [String]

    @Option(help: "Output format: text, json, sarif or github.")
    var format: DiagnosticFormat = .text

    @Flag(help: "Treat warnings as errors.")
    var strict = false

    @Option(
        name: .customLong("host"),
        help: ArgumentHelp(
            "Also check against a host profile: a JSON file from 'kvmplan probe --format json', a directory of them, or 'local' to probe this host. Repeatable: every profile is checked, and with two or more a manifest × host matrix follows.",
            valueName: "profile"))
    var hostProfiles: [String] = []

    @Option(
        name: .customLong("ignore"),
        help: ArgumentHelp("Waive a warning or host.* finding everywhere (repeatable; comma-separated ids allowed).", valueName: "id"))
    var ignore: [String] = []

    @Flag(
        name: .customLong("skip-non-manifests"),
        help: "Skip YAML files with no top-level 'kvmplan:' line (for hooks that pass every staged YAML file).")
    var skipNonManifests = false

    @OptionGroup var colour: ColourOption

    func run() throws {
        colour.apply()
        var ignored = Set<DiagnosticID>()
        for id in ignore.flatMap({ $0.split(separator: ",") }).map({ String($0).trimmingCharacters(in: " ") }) where !id.isEmpty {
            if let problem = Waivers.waiverProblem(for: id) {
                Console.error("kvmplan: --ignore: \(problem)")
                throw ExitCode(2)
            }
            ignored.insert(DiagnosticID(id))
        }
        try Self.execute(
            files: files, format: format, strict: strict, hostProfiles: hostProfiles, waivers: Waivers(ignored: ignored),
            skipNonManifests: skipNonManifests)
    }

    /// Whether a line of the file starts with `kvmplan:` (the format-version key every manifest has).
    static func hasTopLevelKVMPlanKey(_ bytes: [UInt8]) -> Bool {
        let key = Array("kvmplan:".utf8)
        var start = 0
        while start < bytes.count {
            if bytes[start...].starts(with: key) { return true }
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else { return false }
            start = newline + 1
        }
        return false
    }

    /// How standard input is named in diagnostics.
    static let standardInputName = "<stdin>"

    /// The whole command; `main.swift` calls it directly for `kvmplan check FILE...` (no options), because
    /// ArgumentParser's bookkeeping grows quadratically with the number of positional arguments (about 25 ms
    /// for 1000 files, a third of the check itself; Benchmarks/check).
    static func execute(
        files arguments: [String], format: DiagnosticFormat, strict: Bool, hostProfiles: [String] = [], waivers: Waivers = Waivers(),
        skipNonManifests: Bool = false
    ) throws {
        var all = Diagnostics()
        let (hosts, hostFailures) = try HostProfileLoader.loadAll(hostProfiles)
        all.append(contentsOf: hostFailures)
        // When no profile given could be loaded, no manifest is checked: a pass without the hosts would be
        // read as a pass on them.
        let hostFailed = !hostProfiles.isEmpty && hosts.isEmpty
        var matrix = FleetMatrix(hosts: hosts.map(\.name))
        var files: [String] = []
        for argument in arguments {
            let found = ManifestFinder.expand(argument)
            if found.isEmpty {
                all.append(IOMessages.read(argument, "it is a directory with no *.yaml or *.yml file"))
            }
            files += found
        }
        let fleet = FleetCheck(hosts: hosts)
        let reader = LocalFileAccess()
        var sources = SourceCache()
        var stdinRead = false
        var skipped = 0
        for argument in files where !hostFailed {
            let file = argument == "-" ? standardInputName : argument
            let bytes: [UInt8]
            do {
                if argument == "-" {
                    guard !stdinRead else {
                        all.append(IOMessages.read(file, "standard input can be read only once"))
                        continue
                    }
                    stdinRead = true
                    bytes = try reader.readStandardInput()
                } else {
                    bytes = try reader.read(argument)
                }
            } catch let error as LocalFileAccess.ReadError {
                all.append(IOMessages.read(file, error.reason))
                matrix.add(file, hosts.map { _ in .unreadable })
                continue
            } catch {
                all.append(IOMessages.read(file, "\(error)"))
                matrix.add(file, hosts.map { _ in .unreadable })
                continue
            }
            if skipNonManifests && !Self.hasTopLevelKVMPlanKey(bytes) {
                skipped += 1
                continue
            }
            let inline = Waivers.inlineComments(in: bytes)
            let result = fleet.check(bytes: bytes, file: file) { diagnostics in
                let kept = waivers.apply(diagnostics, file: file, inline: inline)
                return strict ? kept.promotingWarnings() : kept
            }
            // An inline waiver used on some hosts but not others is not stale: only one unused on every host
            // (reported once, unattributed) is.
            let diagnostics = Diagnostics(
                result.diagnostics.filter { !($0.id == "ignore.unused" && hosts.count > 1 && $0.message.hasPrefix("host '")) })
            matrix.add(file, result.verdicts)
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
            format: format, showSource: Console.stdoutIsTerminal, colour: Console.colourStdout,
            toolVersion: KVMPlanVersion.full, sourceLine: sources.sourceLine)
        if format == .json && !hosts.isEmpty {
            var document = DiagnosticRenderer.jsonDocument(all)
            if case .object(var keys) = document {
                keys["fleet"] = matrix.json()
                document = .object(keys)
            }
            Console.outData(document.serialized(pretty: true) + "\n")
        } else {
            // JSON and SARIF go out byte for byte (their strings are escaped by the format); text is made
            // terminal-safe by Console.out.
            let rendered = renderer.render(format == .text ? findings : all, catalogue: RuleCatalogue.byID)
            if format == .json || format == .sarif { Console.outData(rendered) } else { Console.out(rendered) }
        }
        if format == .text && hosts.count >= 2 {
            Console.out("\n" + matrix.text())
        }
        if format == .text {
            let count = files.count - skipped
            let checked = count == 1 ? "1 manifest" : "\(count) manifests"
            let skippedText = skipped == 0 ? "" : " (\(skipped) other YAML file\(skipped == 1 ? "" : "s") skipped)"
            Console.error("kvmplan: checked \(checked)\(skippedText): \(all.errorCount) error(s), \(all.warningCount) warning(s)")
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
            format: .text, showSource: stderrIsTerminal, colour: colourStderr, sourceLine: sources.sourceLine)
        error(renderer.render(diagnostics))
    }
}
