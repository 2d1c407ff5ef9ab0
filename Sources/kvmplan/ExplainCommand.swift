import ArgumentParser
import Diagnostics
import Manifest
import Rules

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a diagnostic id: what it checks, why, the kernel behaviour it prevents, how to fix it."
    )

    @Argument(help: "A rule id such as memory.overlap.")
    var rule: String?

    @Flag(help: "List every rule id with its one-line summary.")
    var list = false

    func run() throws {
        if list || rule == nil {
            let width = RuleCatalogue.all.map(\.id.rawValue.count).max() ?? 0
            for doc in RuleCatalogue.all {
                let pad = String(repeating: " ", count: width - doc.id.rawValue.count)
                Console.out("\(doc.id)\(pad)  \(doc.severity.rawValue.padding(7))  \(doc.summary)\n")
            }
            return
        }
        guard let rule, let doc = RuleCatalogue.byID[DiagnosticID(rule)] else {
            let suggestion = ManifestMessages.closest(rule ?? "", in: RuleCatalogue.all.map(\.id.rawValue))
                .map { "; did you mean '\($0)'?" } ?? ""
            Console.error("kvmplan: unknown rule id '\(rule ?? "")'\(suggestion) ('kvmplan explain --list' lists them)")
            throw ExitCode(2)
        }
        Console.out(
            """
            \(doc.id) (\(doc.severity.rawValue))
              \(doc.summary)

            Why:
              \(doc.rationale)

            Kernel:
              \(doc.kernel)

            Fix:
              \(doc.fix)

            """)
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
