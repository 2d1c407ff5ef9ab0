import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kvmplan launch` stopped by SIGINT, SIGTERM (systemd, Docker, Kubernetes, CI cancel) or SIGHUP: the guest
/// is stopped, every step undone, one line on stderr, exit 128 + signal. And no /proc: exit 2, never a pass.
@Suite("kvmplan launch: signals; no /proc", .requiresBinary)
struct SignalTests {
    /// A guest that spins forever (`jmp $`), in a scratch directory.
    static func spinningGuest() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-signal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data([0xEB, 0xFE]).write(to: URL(fileURLWithPath: dir + "/spin.bin"))
        try Data(
            """
            kvmplan: 1
            name: spin
            arch: x86_64
            platform: default
            vcpus: 2
            memory:
              regions:
                - {name: ram, base: 0x0, size: 2MiB, backing: anonymous}
            payload:
              path: spin.bin
              load: ram+0x100000
              mode: long

            """.utf8
        ).write(to: URL(fileURLWithPath: dir + "/spin.yaml"))
        return dir
    }

    @Test(
        "a running guest stopped by a signal: one stderr line, exit 128 + signal",
        .requiresKVM, .timeLimit(.minutes(1)),
        arguments: [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")])
    func signal(_ number: Int32, _ name: String) throws {
        let binary = try #require(KVMPlanBinary.path)
        let dir = try Self.spinningGuest()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let errURL = URL(fileURLWithPath: dir + "/stderr")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // --timeout is the safety net: a launch that ignored the signal would end with 124, not hang.
        process.arguments = ["launch", "--timeout", "20", dir + "/spin.yaml"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        Thread.sleep(forTimeInterval: 1.0)  // the launch takes milliseconds; the guest now spins
        #expect(kill(process.processIdentifier, number) == 0)
        process.waitUntilExit()
        try err.close()
        let stderr = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        #expect(process.terminationReason == .exit, "kvmplan handled \(name) rather than dying of it")
        #expect(process.terminationStatus == 128 + number, "\(stderr)")
        let lines = stderr.split(separator: "\n").filter { $0.hasPrefix("kvmplan:") }
        #expect(lines == ["kvmplan: interrupted (\(name)); stopped the guest"], "\(stderr)")
    }

    static let canHideProc: Bool =
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
        && (try? run("/usr/bin/unshare", ["--mount", "--fork", "sh", "-c", "umount -l /proc"]).status) == 0

    @Test(
        "without /proc the command line cannot be read: exit 2 with a message, not the help and 0",
        .enabled(if: canHideProc, "needs root and unshare(1) to hide /proc"))
    func noProc() throws {
        let binary = try #require(KVMPlanBinary.path)
        let result = try run(
            "/usr/bin/unshare",
            ["--mount", "--fork", "sh", "-c", "umount -l /proc && exec \"$0\" check Manifests/invalid/overlapping-regions.yaml", binary])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("kvmplan: cannot read the command line: /proc/self/cmdline is not readable"), "\(result)")
        #expect(!result.stdout.contains("USAGE"), "\(result)")
    }
}
