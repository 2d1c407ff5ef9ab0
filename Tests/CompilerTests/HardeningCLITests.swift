import Compiler
import Foundation
import Plan
import Rules
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Issue 15 through the built binary: what a plan file, a manifest or the output streams could make kvmplan do.
@Suite("Hardening (CLI)", .enabled(if: Run.kvmplan != nil, "no built kvmplan binary found (swift build first)"))
struct HardeningCLITests {
    static func kvmplan(_ arguments: [String], in directory: String = Repo.root) throws -> Run.Result {
        try Run.process(try #require(Run.kvmplan), arguments, in: directory)
    }

    /// Runs kvmplan with stdout on `stdoutPath` (a device such as /dev/full); returns status and stderr.
    static func kvmplan(_ arguments: [String], stdoutTo stdoutPath: String) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Run.kvmplan))
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: Repo.root)
        let out = try #require(FileHandle(forWritingAtPath: stdoutPath))
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try out.close()
        return (process.terminationStatus, String(decoding: errData, as: UTF8.self))
    }

    /// The canonical plan of a sample manifest, decoded.
    static func samplePlan(_ name: String = "hello-long") throws -> Plan {
        let result = try kvmplan(["plan", "--format", "json", "Manifests/\(name).yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        return try Plan(json: result.stdout)
    }

    // MARK: - Item 8: a failed write to stdout is exit 2

    @Test(
        "a failed write to stdout is an I/O error: exit 2 with a message",
        arguments: [
            ["plan", "Manifests/hello-long.yaml"], ["plan", "--format", "json", "Manifests/hello-long.yaml"],
            ["plan", "--format", "c", "Manifests/hello-long.yaml"], ["check", "--format", "json", "Manifests/hello-long.yaml"],
            ["schema"], ["explain", "memory.overlap"],
        ])
    func stdoutFull(arguments: [String]) throws {
        let (status, stderr) = try Self.kvmplan(arguments, stdoutTo: "/dev/full")
        #expect(status == 2, "\(arguments): \(stderr)")
        #expect(stderr.contains("cannot write to standard output"), "\(stderr)")
    }

    @Test("plan -o /dev/full fails with exit 2 and leaves the device a device")
    func outputToFullDevice() throws {
        let result = try Self.kvmplan(["plan", "-o", "/dev/full", "Manifests/hello-long.yaml"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("/dev/full"), "\(result.stderr)")
        var info = stat()
        #expect(stat("/dev/full", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    // MARK: - Item 4: -o never follows a planted link, never replaces a non-regular file

    @Test("plan -o onto a FIFO writes into it or fails; it never replaces it with a regular file")
    func outputToFIFO() throws {
        let directory = try Run.temporaryDirectory("kvmplan-fifo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/out"
        #expect(mkfifo(fifo, 0o600) == 0)
        let result = try Self.kvmplan(["plan", "-o", fifo, "Manifests/hello-long.yaml"])
        #expect(result.status == 2, "no reader: the write fails (\(result.stderr))")
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the FIFO was replaced")
    }

    @Test("the temporary file of -o is created exclusively: a symbolic link planted at its name is not followed")
    func plantedTemporaryLink() throws {
        let directory = try Run.temporaryDirectory("kvmplan-plant")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let victim = directory + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let out = directory + "/plan.txt"
        // Every name the writer could pick for its temporary file in this process, the old one included.
        var planted = [out + ".kvmplan-\(getpid()).tmp"]
        for attempt in 0..<3 { planted.append(out + ".kvmplan-\(getpid())-\(attempt).tmp") }
        for name in planted { #expect(symlink(victim, name) == 0) }
        try LocalFileAccess().write("the plan\n", to: out)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "the plan\n")
        var info = stat()
        for name in planted { #expect(lstat(name, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK, "\(name)") }
    }

    // MARK: - Item 12: special files are refused from stat, never opened

    @Test("a socket named as a manifest or payload is refused as not a regular file, without an open")
    func socketIsRefusedBeforeOpen() throws {
        let directory = try Run.temporaryDirectory("kvmplan-socket")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            // SAFETY: sockaddr_un is laid out as a sockaddr for bind(2).
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        // open(2) of a socket fails with ENXIO: the message says what stat saw instead.
        #expect(throws: LocalFileAccess.ReadError.self) { try LocalFileAccess().read(path) }
        do {
            _ = try LocalFileAccess().readPayload(path)
            Issue.record("a socket was read as a payload")
        } catch {
            #expect(error.reason == "not a regular file", "\(error)")
        }
        let result = try Self.kvmplan(["check", path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("not a regular file"), "\(result.stderr)")
    }

    // MARK: - Item 3: a plan file's payload path is confined to its directory

    /// A plan file in its own directory whose payload path names `path`, with the real payload's digest.
    static func tamperedPlan(payloadPath path: String, in directory: String) throws -> String {
        var plan = try samplePlan()
        plan.payload?.path = path
        let file = directory + "/plan.json"
        try plan.jsonString().write(toFile: file, atomically: false, encoding: .utf8)
        return file
    }

    @Test(
        "a plan's payload path outside the plan's directory is refused, without revealing a digest of the file",
        arguments: ["ABSOLUTE", "../secret/key", "link-out"])
    func payloadOutsidePlanDirectory(kind: String) throws {
        let root = try Run.temporaryDirectory("kvmplan-oracle")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/secret", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        let secret = root + "/secret/key"
        try "top secret".write(toFile: secret, atomically: false, encoding: .utf8)
        #expect(symlink(secret, root + "/plans/link-out") == 0)
        let path = kind == "ABSOLUTE" ? secret : kind
        let planFile = try Self.tamperedPlan(payloadPath: path, in: root + "/plans")
        let secretDigest = PayloadDigest.sha256(Array("top secret".utf8))
        let result = try Self.kvmplan(["launch", "--dry-run", planFile])
        #expect(result.status == 125, "\(result.stderr)")
        #expect(result.stderr.contains("outside the plan's directory"), "\(result.stderr)")
        #expect(!result.stderr.contains(secretDigest) && !result.stdout.contains(secretDigest))
    }

    @Test("--payload names a file explicitly, and a payload next to the plan is found")
    func payloadInsideOrNamed() throws {
        let directory = try Run.temporaryDirectory("kvmplan-payload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = Repo.path("Examples/guests/hello-long.bin")
        try FileManager.default.copyItem(atPath: binary, toPath: directory + "/hello-long.bin")
        let inside = try Self.tamperedPlan(payloadPath: "hello-long.bin", in: directory)
        let found = try Self.kvmplan(["launch", "--dry-run", inside])
        #expect(found.status == 0, "\(found.stderr)")
        let outside = try Self.tamperedPlan(payloadPath: "../nowhere/hello-long.bin", in: directory)
        let named = try Self.kvmplan(["launch", "--dry-run", "--payload", binary, outside])
        #expect(named.status == 0, "\(named.stderr)")
    }

    /// A Linux guest's plan file in `directory` (bzImage and initrd beside it), made by `kvmplan plan -o`.
    static func linuxPlan(in directory: String) throws -> String {
        try Data(BzImageBuilder(kernelSize: 8192).bytes).write(to: URL(fileURLWithPath: directory + "/bzImage"))
        try Data([UInt8](repeating: 7, count: 5000)).write(to: URL(fileURLWithPath: directory + "/initrd.cpio"))
        let manifest = """
            kvmplan: 1
            name: linux
            arch: x86_64
            platform: default
            memory:
              regions:
                - {name: ram, base: 0x0, size: 64MiB}
            payload:
              format: linux
              path: bzImage
              initrd: initrd.cpio
              cmdline: "console=ttyS0 reboot=k"

            """
        try manifest.write(toFile: directory + "/linux.yaml", atomically: false, encoding: .utf8)
        let plan = try Self.kvmplan(["plan", "--format", "json", "-o", "plan.json", "linux.yaml"], in: directory)
        #expect(plan.status == 0, "\(plan.stderr)")
        return directory + "/plan.json"
    }

    @Test("a Linux plan file finds its initrd beside it; an initrd path outside its directory is refused, without a digest")
    func initrdConfinedToPlanDirectory() throws {
        let root = try Run.temporaryDirectory("kvmplan-initrd")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        let planFile = try Self.linuxPlan(in: root + "/plans")
        var plan = try Plan(json: String(contentsOfFile: planFile, encoding: .utf8))
        #expect(plan.payload?.initrd?.path == "initrd.cpio")
        let found = try Self.kvmplan(["launch", "--dry-run", planFile])
        #expect(found.status == 0, "\(found.stderr)")

        let secret = root + "/secret"
        try "top secret".write(toFile: secret, atomically: false, encoding: .utf8)
        let digest = plan.digest
        plan.payload?.initrd?.path = "../secret"
        try plan.jsonString().write(toFile: planFile, atomically: false, encoding: .utf8)
        // The initrd's path is not part of what executes: the digest stays.
        #expect(try Plan(json: String(contentsOfFile: planFile, encoding: .utf8)).digest == digest)
        let refused = try Self.kvmplan(["launch", "--dry-run", planFile])
        #expect(refused.status == 125, "\(refused.stderr)")
        #expect(refused.stderr.contains("initrd '../secret'") && refused.stderr.contains("outside the plan's directory"), "\(refused.stderr)")
        let secretDigest = PayloadDigest.sha256(Array("top secret".utf8))
        #expect(!refused.stderr.contains(secretDigest) && !refused.stdout.contains(secretDigest))
    }

    // MARK: - Item 7: one payload limit, the real error

    @Test("a 100 MiB payload that compiles from its manifest also launches from its plan file (--dry-run)")
    func largePayloadFromPlanFile() throws {
        let directory = try Run.temporaryDirectory("kvmplan-large")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let payload = directory + "/big.bin"
        #expect(FileManager.default.createFile(atPath: payload, contents: nil))
        #expect(truncate(payload, 100 << 20) == 0)
        let manifest = """
            kvmplan: 1
            name: big
            arch: x86_64
            platform: default
            memory:
              regions:
                - name: ram
                  base: 0x0
                  size: 256MiB
            payload:
              format: flat
              path: big.bin
              load: ram+0x100000
              entry: 0x100000
              mode: long

            """
        try manifest.write(toFile: directory + "/big.yaml", atomically: false, encoding: .utf8)
        let plan = try Self.kvmplan(["plan", "--format", "json", "-o", "plan.json", "big.yaml"], in: directory)
        #expect(plan.status == 0, "\(plan.stderr)")
        let launch = try Self.kvmplan(["launch", "--dry-run", "plan.json"], in: directory)
        #expect(launch.status == 0, "\(launch.stderr)")
        #expect(launch.stdout.contains("big.bin"), "\(launch.stdout)")
    }

    @Test("a payload that is too large is reported with the limit, not as 'cannot find'")
    func tooLargePayloadNamesTheLimit() throws {
        let directory = try Run.temporaryDirectory("kvmplan-huge")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let huge = directory + "/huge.bin"
        #expect(FileManager.default.createFile(atPath: huge, contents: nil))
        #expect(truncate(huge, off_t(PayloadFile.readLimit) + 1) == 0)
        let planFile = try Self.tamperedPlan(payloadPath: "huge.bin", in: directory)
        let result = try Self.kvmplan(["launch", "--dry-run", planFile])
        #expect(result.status == 125)
        #expect(result.stderr.contains("larger than 256 MiB"), "\(result.stderr)")
    }

    // MARK: - Item 10: no raw control characters in human output

    @Test("plan strings with terminal escapes reach stdout and stderr escaped")
    func escapesAreEscaped() throws {
        let directory = try Run.temporaryDirectory("kvmplan-escape")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Repo.path("Examples/guests/hello-long.bin"), toPath: directory + "/hello-long.bin")
        var plan = try Self.samplePlan()
        plan.payload?.path = "hello-long.bin"
        plan.steps[0].comment = "\u{1B}]0;owned\u{07}\u{1B}[2J\u{9B}2J"
        let file = directory + "/plan.json"
        try plan.jsonString().write(toFile: file, atomically: false, encoding: .utf8)
        let dryRun = try Self.kvmplan(["launch", "--dry-run", file])
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(dryRun.stdout.contains("\\e]0;owned\\a\\e[2J\\u{9b}2J"), "\(dryRun.stdout)")
        for control in ["\u{1B}", "\u{07}", "\u{9B}"] { #expect(!dryRun.stdout.contains(control) && !dryRun.stderr.contains(control)) }

        var bad = plan
        let located = try #require(bad.steps.firstIndex { $0.source != nil })
        bad.steps[located].source?.file = "\u{1B}[2Jevil.yaml"
        try bad.jsonString().write(toFile: file, atomically: false, encoding: .utf8)
        let refused = try Self.kvmplan(["launch", "--dry-run", file])
        #expect(refused.status == 125)
        #expect(refused.stderr.contains("plan.invalid-path"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("\u{1B}"))
    }
}
