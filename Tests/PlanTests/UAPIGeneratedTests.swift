import Foundation
import TestSupport
import Testing

/// The checked-in files generated from Scripts/uapi/kvm-uapi.json are what the generator writes today: it runs
/// into a temporary directory and every output must equal the repository's copy byte for byte.
@Suite("uapi table: generated files are fresh")
struct UAPIGeneratedTests {
    static let outputs = [
        "Sources/CKVM/include/ckvm_uapi.h",
        "Sources/CKVM/ckvm_uapi.c",
        "Sources/Plan/UAPI+Generated.swift",
        "Sources/KVM/UAPI+Generated.swift",
        "Sources/Rules/UAPI+Generated.swift",
        "Tests/KVMTests/UAPIConsistency+Generated.swift",
    ]

    @Test func checkedInFilesAreNotStale() throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-uapi-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let result = try Command.run("/usr/bin/env", ["python3", Repo.path("Scripts/generate-uapi.py"), "--output", temporary])
        try #require(result.status == 0, "generate-uapi.py failed: \(result.stderr)")
        for output in Self.outputs {
            let fresh = try String(contentsOfFile: temporary + "/" + output, encoding: .utf8)
            let checkedIn = try String(contentsOfFile: Repo.path(output), encoding: .utf8)
            #expect(fresh == checkedIn, "\(output) is stale: run `python3 Scripts/generate-uapi.py`")
        }
        // The generator writes exactly these files.
        let written = FileManager.default.enumerator(atPath: temporary)?.compactMap { item -> String? in
            guard let path = item as? String else { return nil }
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: temporary + "/" + path, isDirectory: &isDirectory)
            return isDirectory.boolValue ? nil : path
        }
        #expect(Set(written ?? []) == Set(Self.outputs))
    }
}
