import Foundation
import TestSupport
import Testing

/// Issue 15, item 12: the installed binary runs as root; a RUNPATH of `$ORIGIN` would make the dynamic loader
/// look for libraries next to it first (a library planted beside the binary would be loaded). The documented
/// build drops it (`--disable-local-rpath`).
struct RunpathTests {
    @Test(
        "every documented release build drops $ORIGIN from the RUNPATH",
        arguments: [
            "README.md", ".ci/run", "Benchmarks/run.sh", "Benchmarks/launch/run.sh", "Examples/ci/github-actions.yml",
            "Tests/Lab/run",
        ])
    func documentedBuildsDropOrigin(file: String) throws {
        let text = try String(contentsOfFile: Repo.path(file), encoding: .utf8)
        let builds = text.split(separator: "\n").filter { $0.contains("swift build -c release") && !$0.contains("#") }
        #expect(!builds.isEmpty, "\(file) has no release build")
        for line in builds { #expect(line.contains("--disable-local-rpath"), "\(file): \(line)") }
    }

    static let releaseBinary = Repo.path(".build/release/kvmplan")

    @Test(
        "the release binary has no $ORIGIN in its RUNPATH or RPATH",
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: releaseBinary)
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/readelf"),
            "no release binary (README command 1 builds it) or no readelf"))
    func releaseBinaryHasNoOrigin() throws {
        let result = try run("/usr/bin/readelf", ["-d", Self.releaseBinary])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("NEEDED"), "not a dynamic section: \(result.stdout)")
        let paths = result.stdout.split(separator: "\n").filter { $0.contains("RUNPATH") || $0.contains("RPATH") }
        #expect(!paths.contains { $0.contains("$ORIGIN") }, "\(paths)")
    }
}
