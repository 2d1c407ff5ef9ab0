import Compiler
import Foundation
import KVM
import Launcher
import Plan
import Synchronization
import TestSupport
import Testing

// MARK: - Output capture

/// A `LaunchOutput` that keeps everything: the console bytes and the stderr lines.
final class CapturedOutput: LaunchOutput {
    private let state = Mutex<(console: [UInt8], messages: [String])>(([], []))

    func console(_ bytes: [UInt8]) { state.withLock { $0.console += bytes } }
    func message(_ line: String) { state.withLock { $0.messages.append(line) } }

    var consoleText: String { String(decoding: state.withLock { $0.console }, as: UTF8.self) }
    var messages: [String] { state.withLock { $0.messages } }
}

/// A `LaunchOutput` for a traced launch under a mocking driver: where in the driver's trace each executed
/// step ended (the `--trace` line of a step is printed right after it ran).
final class StepBoundaries: LaunchOutput {
    let driver: MockingDriver
    private let state = Mutex<[(id: String, end: Int)]>([])

    init(driver: MockingDriver) { self.driver = driver }

    func console(_ bytes: [UInt8]) {}
    func message(_ line: String) {
        guard !line.hasPrefix("#"), !line.hasPrefix(" "), let mark = line.range(of: "  # ", options: .backwards) else { return }
        let id = String(line[mark.upperBound...])
        let end = driver.trace.count
        state.withLock { $0.append((id, end)) }
    }

    /// Step ids with the trace length after each, in execution order (KVM_RUN steps come after the run).
    var ends: [(id: String, end: Int)] { state.withLock { $0 } }
}

// MARK: - Plans from manifests

struct CompiledSample {
    var plan: Plan
    var payload: [UInt8]?
}

enum Samples {
    /// Every launchable sample manifest, with its console output and exit status (Examples/guests/README.md).
    static let launchable: [(name: String, console: String, status: Int32)] = [
        ("hello-long", "Hello from long mode\n", 0),
        ("hello-real", "Hello from real mode\n", 0),
        ("hello-protected", "Hello from protected mode\n", 0),
        ("hello-elf", "Hello from long mode\n", 0),
        ("memtest", "memtest: 2 ranges OK\n", 0),
        ("mmio", "rom: 0x00000000\nmmio done\n", 0),
        ("smp", "cpu 0 up\ncpu 1 up\ncpu 2 up\ncpu 3 up\n", 0),
    ]

    /// Compiles `Manifests/NAME.yaml` (as `kvmplan launch` does, with its path relative to the repository).
    static func compile(_ name: String) throws -> CompiledSample {
        try compile(file: Repo.path("Manifests/\(name).yaml"))
    }

    static func compile(file: String) throws -> CompiledSample {
        let bytes = try LocalFileAccess().read(file)
        let (checked, diagnostics) = CompilerPipeline().check(bytes: bytes, file: file)
        guard let checked else {
            throw SampleError(description: "\(file) does not check: \(diagnostics.map(\.message))")
        }
        return CompiledSample(plan: Lowering().lower(checked), payload: checked.context.payloadFile?.bytes)
    }

    /// Writes a manifest (and payload bytes) to a fresh temporary directory and compiles it.
    static func compile(manifest: String, payload: [UInt8], payloadName: String = "guest.bin") throws -> CompiledSample {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-launch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(payload).write(to: dir.appendingPathComponent(payloadName))
        let file = dir.appendingPathComponent("guest.yaml")
        try Data(manifest.utf8).write(to: file)
        return try compile(file: file.path)
    }

    struct SampleError: Error, CustomStringConvertible { var description: String }
}

// MARK: - Descriptors and mappings

/// What a launch may leave behind: descriptors of KVM, guest_memfd and memfds, and their mappings.
struct KernelResources: Equatable, CustomStringConvertible {
    var descriptorCount: Int
    /// `fd -> link` for descriptors whose target belongs to KVM or guest memory.
    var kvmDescriptors: [String: String]
    /// Lines of /proc/self/maps that map a vCPU, a memfd or a guest_memfd.
    var kvmMappings: [String]

    static func snapshot() -> KernelResources {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        var kvm: [String: String] = [:]
        for fd in fds {
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else { continue }
            if isKVMRelated(link) { kvm[fd] = link }
        }
        let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        let mappings = maps.split(separator: "\n").map(String.init).filter { line in
            line.contains("kvm") || line.contains("memfd:") || line.contains("guest_memfd") || line.contains("gmem")
        }
        return KernelResources(descriptorCount: fds.count, kvmDescriptors: kvm, kvmMappings: mappings.sorted())
    }

    static func isKVMRelated(_ link: String) -> Bool {
        link == "/dev/kvm" || link.contains("kvm") || link.contains("memfd:") || link.contains("guest_memfd")
            || link.contains("gmem")
    }

    /// Whether this snapshot holds nothing `before` did not: no more descriptors, and no KVM descriptor or
    /// mapping that was not there.
    func holdsNothingBeyond(_ before: KernelResources) -> Bool {
        descriptorCount <= before.descriptorCount
            && kvmDescriptors.allSatisfy { before.kvmDescriptors[$0.key] == $0.value }
            && Set(kvmMappings).isSubset(of: Set(before.kvmMappings))
    }

    /// Snapshots until one holds nothing beyond `before`, for at most `seconds`. Other test suites run in
    /// parallel and may hold a descriptor of their own (a pipe to `make`, a vCPU) for a moment; a leak stays.
    static func settled(after before: KernelResources, seconds: Double = 15) -> KernelResources {
        let deadline = Date().addingTimeInterval(seconds)
        var now = snapshot()
        while !now.holdsNothingBeyond(before) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            now = snapshot()
        }
        return now
    }

    var description: String {
        "\(descriptorCount) fds, KVM-related \(kvmDescriptors.sorted { $0.key < $1.key }), mappings \(kvmMappings)"
    }
}

// MARK: - Trace parsing

extension LaunchOutcome {
    /// The ids of the executed steps, in trace order.
    var executedStepIDs: [String] { trace.filter { $0.kind == .step }.compactMap(\.stepID) }
    /// The ids of the undone steps, in undo order.
    var undoneStepIDs: [String] { trace.filter { $0.kind == .undo }.compactMap(\.stepID) }
}

/// The step ids of `--trace` text lines: lines that start with neither `#` nor a space end with `  # ID`.
func traceStepIDs(_ lines: [String]) -> [String] {
    lines.filter { !$0.hasPrefix("#") && !$0.hasPrefix(" ") && $0.contains("  # ") }.compactMap { line in
        line.range(of: "  # ", options: .backwards).map { String(line[$0.upperBound...]) }
    }
}
