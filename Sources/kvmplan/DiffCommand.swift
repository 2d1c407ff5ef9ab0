import ArgumentParser
import Compiler
import Diagnostics
import Plan

enum DiffFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what a change to a guest does, step by step, with its risks.",
        discussion: """
            Each side is a manifest or a plan JSON file (`kvmplan plan --format json`), in any mix. Steps are \
            matched by their stable ids: + added, - removed, ~ changed (field: old → new), ± moved. Findings \
            above the steps carry a risk class: exposure (memory the host can newly read), measurement (the \
            launch measurement changes), compatibility (a new VM type, capability or guest_memfd flag is \
            needed), layout (regions move, grow or shrink; the vCPU count changes).
            Exit status: 0 same, 1 different, 2 error (as diff(1)). With --fail-on, 1 only when findings of \
            those classes exist.
            """
    )

    @Argument(help: "The old manifest or plan.")
    var old: String

    @Argument(help: "The new manifest or plan.")
    var new: String

    @Option(help: "Output format: text or json.")
    var format: DiffFormat = .text

    @Option(
        name: .customLong("fail-on"),
        help: "Comma-separated risk classes (exposure, measurement, compatibility, layout): exit 1 only when one is found.")
    var failOn: String?

    @OptionGroup var colour: ColourOption

    func run() throws {
        colour.apply()
        var gate: Set<RiskClass>? = nil
        if let failOn {
            var classes = Set<RiskClass>()
            for word in failOn.split(separator: ",").map({ String($0).trimmingCharacters(in: " ") }) where !word.isEmpty {
                guard let risk = RiskClass(rawValue: word) else {
                    Console.error(
                        "kvmplan: --fail-on: unknown risk class '\(word)'; use \(RiskClass.allCases.map(\.rawValue).joined(separator: ", "))")
                    throw ExitCode(2)
                }
                classes.insert(risk)
            }
            // An empty list (`--fail-on ''`, `,,,`) would turn the gate off without a word: a usage error.
            guard !classes.isEmpty else {
                Console.error(
                    "kvmplan: --fail-on: no risk class given; use one or more of \(RiskClass.allCases.map(\.rawValue).joined(separator: ", "))")
                throw ExitCode(2)
            }
            gate = classes
        }
        let a = try Self.load(old)
        let b = try Self.load(new)
        let diff = PlanDiffer.diff(a, b)
        switch format {
        case .text:
            Console.out(PlanDiffRenderer(style: Console.colourStdout ? .ansi : .plain).text(diff, left: old, right: new))
        case .json:
            Console.outData(PlanDiffRenderer().json(diff, left: old, right: new).serialized(pretty: true) + "\n")
        }
        if let gate {
            if !diff.findings(in: gate).isEmpty { throw ExitCode(1) }
            return
        }
        if !diff.isEmpty { throw ExitCode(1) }
    }

    /// A manifest (compiled) or a plan JSON file (decoded and validated); every failure is exit 2 unless
    /// `invalidExit` says otherwise for an invalid manifest (`map` exits 1, as `plan` does).
    static func load(_ file: String, invalidExit: Int32 = 2) throws -> Plan {
        let bytes: [UInt8]
        do {
            bytes = try LocalFileAccess().read(file)
        } catch {
            Console.error("kvmplan: \(error)")
            throw ExitCode(2)
        }
        if bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }) == UInt8(ascii: "{") {
            do {
                return try Plan(json: String(decoding: bytes, as: UTF8.self))
            } catch {
                Console.error("\(file): error: not a valid kvmplan plan: \(error)")
                throw ExitCode(2)
            }
        }
        return try ManifestLoading.plan(from: file, invalidExit: invalidExit, ioExit: 2)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
