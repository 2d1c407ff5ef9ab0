import Foundation
import TestSupport
import Testing

/// The `kvmplan` executable of this build (the products directory of the running test bundle first).
enum KVMPlanBinary {
    static let path: String? = {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL {
            var directory = executable.deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(directory.appendingPathComponent("kvmplan").path)
                directory = directory.deletingLastPathComponent()
            }
        }
        candidates.append(Repo.path(".build/debug/kvmplan"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// Runs a program from the repository root; returns exit status and stdout (stderr is discarded).
func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String) {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-rules-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: output) }
    let handle = try FileHandle(forWritingTo: output)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: Repo.root)
    process.standardOutput = handle
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try handle.close()
    return (process.terminationStatus, String(decoding: try Data(contentsOf: output), as: UTF8.self))
}

enum Python {
    static let hasJSONSchema = (try? runProgram("/usr/bin/env", ["python3", "-c", "import jsonschema"]).status) == 0
}
