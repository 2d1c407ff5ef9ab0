import ArgumentParser
import Diagnostics
import Manifest
import Plan
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
        if rule == nil && !list {
            Console.error("kvmplan: explain needs a rule id (such as memory.overlap); 'kvmplan explain --list' lists them")
            throw ExitCode(2)
        }
        // The manifest rules, and the plan-file ids documented so far.
        let all = (RuleCatalogue.all + PlanIssue.documentation).sorted { $0.id < $1.id }
        if list {
            let width = all.map(\.id.rawValue.count).max() ?? 0
            for doc in all {
                let pad = String(repeating: " ", count: width - doc.id.rawValue.count)
                Console.out("\(doc.id)\(pad)  \(doc.severity.rawValue.padding(7))  \(doc.summary)\n")
            }
            return
        }
        guard let rule, let doc = all.first(where: { $0.id == DiagnosticID(rule) }) else {
            let suggestion =
                ManifestMessages.closest(rule ?? "", in: all.map(\.id.rawValue))
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
