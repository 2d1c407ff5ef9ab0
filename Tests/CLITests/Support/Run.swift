import Foundation
import TestSupport
import Testing

/// The `kvmplan` executable of this build: the products directory of the running test bundle first
/// (`swift test` builds it there), then the usual build directories of the repository.
enum KVMPlanBinary {
    static let path: String? = {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL {
            // Linux: …/debug/kvmplanPackageTests.xctest; macOS: …/debug/kvmplanPackageTests.xctest/Contents/MacOS/….
            var directory = executable.deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(directory.appendingPathComponent("kvmplan").path)
                directory = directory.deletingLastPathComponent()
            }
        }
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent("kvmplan").path)
        }
        candidates.append(Repo.path(".build/debug/kvmplan"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static let missing = "no kvmplan executable next to the test bundle or in .build/debug; run `swift build` first"
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only when the built `kvmplan` executable was found.
    static var requiresBinary: Self { .enabled(if: KVMPlanBinary.path != nil, Comment(rawValue: KVMPlanBinary.missing)) }
}

struct RunResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// Runs a program with the repository root as working directory. Output goes through temporary files, so
/// large outputs cannot fill a pipe and dead-lock.
func run(
    _ executable: String, _ arguments: [String], directory: String = Repo.root, input: String? = nil,
    environment: [String: String]? = nil
) throws -> RunResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout")
    let errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.standardOutput = out
    process.standardError = err
    if let input {
        let inURL = scratch.appendingPathComponent("stdin")
        try Data(input.utf8).write(to: inURL)
        process.standardInput = try FileHandle(forReadingFrom: inURL)
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    if let environment { process.environment = environment }
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return RunResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs the built `kvmplan`.
func kvmplan(_ arguments: String...) throws -> RunResult {
    let binary = try #require(KVMPlanBinary.path, Comment(rawValue: KVMPlanBinary.missing))
    return try run(binary, arguments)
}

/// Parses JSON with Foundation (this target does not link kvmplan's own modules).
func parseJSON(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

/// The sample manifests, as paths relative to the repository root.
func sampleManifests() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: Repo.path("Manifests"))) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "Manifests/\($0)" }
}

func invalidManifests() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: Repo.path("Manifests/invalid"))) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "Manifests/invalid/\($0)" }
}
