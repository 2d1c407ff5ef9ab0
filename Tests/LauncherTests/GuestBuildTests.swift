import Foundation
import TestSupport
import Testing

/// The committed example guests must be exactly what their sources build to.
@Suite struct GuestBuildTests {
    /// True when every tool the guests' Makefile needs is on PATH.
    static let toolsAvailable: Bool = ["as", "ld", "objcopy", "make"].allSatisfy { tool in
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            .split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    @Test(
        "make -C Examples/guests check rebuilds the committed payloads byte for byte",
        .enabled(if: toolsAvailable, "GNU binutils (as, ld, objcopy) or make not found on PATH")
    )
    func committedGuestsAreReproducible() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["make", "-C", Repo.path("Examples/guests"), "check"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let log = String(decoding: data, as: UTF8.self)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "make check failed:\n\(log)")
    }
}
