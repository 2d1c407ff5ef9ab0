import TestSupport

extension Golden {
    /// The compiler's golden files: plans of every sample in every format, and diffs.
    static let compiler = Golden("Tests/CompilerTests/Golden")
}
