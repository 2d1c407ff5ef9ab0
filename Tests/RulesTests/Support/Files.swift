import Compiler
import Foundation
import Rules
import TestSupport

enum FileManagerShim {
    /// The names of the `*.yaml` files directly in `directory`, sorted.
    static func yamlFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
}

/// The real file system, with relative paths taken from the repository root, as `kvmplan check` sees
/// them when run there.
struct RepoFiles: FileAccess {
    private let local = LocalFileAccess()

    private func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : Repo.path(path) }

    func payload(at path: String) -> PayloadFile? { local.payload(at: absolute(path)) }
}
