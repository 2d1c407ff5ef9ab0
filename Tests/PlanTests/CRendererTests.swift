import Foundation
import Plan
import TestSupport
import Testing

/// Compiles the C reproducers with `cc -Wall -Werror -std=c11` and runs them on /dev/kvm where it opens.
@Suite(.serialized)
struct CRendererTests {
    @Test func golden() throws {
        Golden.plan.assert(PlanCRenderer().render(Fixtures.defaultX86), matches: "default-x86.c.txt")
    }

    @Test(arguments: Fixtures.all.map(\.name))
    func compilesWarningFree(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        let build = try Scratch()
        let source = build.path("\(name).c")
        try PlanCRenderer().render(plan).write(toFile: source, atomically: true, encoding: .utf8)
        var arguments = ["-Wall", "-Werror", "-std=c11", "-o", build.path(name), source]
        if plan.arch != .x86_64 {
            // An arm64 reproducer on this x86 host: check that it compiles, with the arch guard lifted.
            arguments = ["-Wall", "-Werror", "-std=c11", "-DKVMPLAN_ANY_ARCH", "-c", "-o", build.path(name + ".o"), source]
        }
        let cc = try Command.run("/usr/bin/env", ["cc"] + arguments)
        #expect(cc.status == 0, "cc failed:\n\(cc.stderr)")
    }

    @Test(arguments: Fixtures.all.map(\.name))
    func arm64ReproducersRefuseOtherHosts(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        let text = PlanCRenderer().render(plan)
        let guardMacro = plan.arch == .x86_64 ? "__x86_64__" : "__aarch64__"
        #expect(text.contains("#if !defined(\(guardMacro)) && !defined(KVMPLAN_ANY_ARCH)"))
        #expect(!text.contains("#include <linux/kvm.h>"))
    }

    @Test func notesHardwareAndPostedUAPI() {
        let snp = PlanCRenderer().render(Fixtures.sevSNP)
        #expect(snp.contains("/* needs an AMD EPYC host with SEV-SNP enabled"))
        #expect(snp.contains("#define KP_KVM_MEMORY_ENCRYPT_OP 0xC008AEBAUL"))
        let cca = PlanCRenderer().render(Fixtures.cca)
        #expect(cca.contains("WARNING: steps marked 'posted uapi'"))
        #expect(cca.contains("#define KP_KVM_SET_REGS 0x4360AE82UL"))
        #expect(!cca.contains("KP_KVM_MEMORY_ENCRYPT_OP"))
    }

    /// The default-platform reproducer runs to the end of set-up on this host's KVM: anonymous memslot,
    /// guest_memfd MMAP|INIT_SHARED memslot through KVM_SET_USER_MEMORY_REGION2, vCPU, CPUID, real-mode state.
    @Test(.requiresKVM) func runsOnDevKVM() throws {
        let build = try Scratch()
        let binary = try build.compile(Fixtures.defaultX86, named: "default")
        let run = try Command.run(binary, [])
        #expect(run.status == 0, "reproducer failed:\n\(run.stderr)")
        #expect(run.stdout.contains("set-up of plan hello-real done (17 steps), stopping before KVM_RUN"))

        // With a payload argument, load steps copy the file's bytes.
        let payload = build.path("payload.bin")
        try Data(repeating: 0xf4, count: 600).write(to: URL(fileURLWithPath: payload))
        let loaded = try Command.run(binary, [payload])
        #expect(loaded.status == 0, "reproducer with payload failed:\n\(loaded.stderr)")
    }

    /// A long-mode vCPU state is accepted by KVM_SET_SREGS too.
    @Test(.requiresKVM) func longModeBootStateRuns() throws {
        var plan = Fixtures.defaultX86
        if let index = plan.steps.firstIndex(where: { $0.id == "boot.0" }) {
            plan.steps[index].operation = .setBootState(vcpu: .vcpu(0), mode: .long, entry: 0x1_0000, vcpuCount: 1)
        }
        let build = try Scratch()
        let run = try Command.run(try build.compile(plan, named: "long"), [])
        #expect(run.status == 0, "reproducer failed:\n\(run.stderr)")
    }

    /// A step the host cannot do stops the program with `step <id>: <op> failed: …` and exit status 1.
    @Test(.requiresKVM) func reportsTheFailingStep() throws {
        var plan = Fixtures.defaultX86
        plan.steps.insert(Step("cap.bogus", .checkExtension(cap: .guestMemfd, expect: .atLeast(1_000))), at: 2)
        plan.steps.insert(Step("vcpu.again", .createVCPU(index: 0)), at: plan.steps.count - 1)
        let build = try Scratch()
        let binary = try build.compile(plan, named: "failing-cap")
        let run = try Command.run(binary, [])
        #expect(run.status == 1)
        #expect(run.stderr == "step cap.bogus: KVM_CHECK_EXTENSION failed: KVM_CAP_GUEST_MEMFD = 1, expected >= 1000\n")

        plan.steps.remove(at: 2)
        let again = try Command.run(try build.compile(plan, named: "failing-vcpu"), [])
        #expect(again.status == 1)
        #expect(again.stderr == "step vcpu.again: KVM_CREATE_VCPU failed: File exists\n")
    }
}

// MARK: - Helpers

/// A temporary directory, removed when the value goes away.
final class Scratch {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "kvmplan-plan-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    /// Renders and compiles a plan's reproducer; returns the binary's path.
    func compile(_ plan: Plan, named name: String) throws -> String {
        let source = path(name + ".c")
        try PlanCRenderer().render(plan).write(toFile: source, atomically: true, encoding: .utf8)
        let cc = try Command.run("/usr/bin/env", ["cc", "-Wall", "-Werror", "-std=c11", "-o", path(name), source])
        guard cc.status == 0 else { throw Command.Failure(message: "cc failed:\n\(cc.stderr)") }
        return path(name)
    }
}

enum Command {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Runs a program to completion, capturing its output.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
