import Compiler
import KVM
import Launcher
import Plan
import TestSupport
import Testing

/// What a dry run and the host check say about VM types that need more than KVM (KVM_UAPI.md §8): pKVM's
/// `kvm-arm.mode=protected` (KVM_CREATE_VM is EINVAL without it, arm.c:241-252 in Linux 7.1.5) and the pinned
/// memory it charges to RLIMIT_MEMLOCK; CCA's posted series.
struct PlatformHostNeedsTests {
    struct ArmHost: HostFacts {
        var architecture: PlanArch { .arm64 }
        var createFails: KVMError?
        func apiVersion() throws(KVMError) -> Int { 12 }
        func checkExtension(_ number: UInt32) throws(KVMError) -> Int { number == Capability.nrMemslots.number ? 32767 : 512 }
        func checkExtensionsOnVM(type: UInt64, _ numbers: [UInt32]) throws(KVMError) -> [UInt32: Int] {
            if let createFails { throw createFails }
            return [:]
        }
    }

    @Test("dry run of pKVM: needs kvm-arm.mode=protected, names RLIMIT_MEMLOCK with the pinned size")
    func pkvmDryRun() throws {
        let plan = try Samples.compile("pkvm").plan
        let text = LaunchPreview.render(plan, payloadStatus: "no payload", timeout: nil)
        #expect(text.contains("needs a host booted with kvm-arm.mode=protected (otherwise KVM_CREATE_VM fails with EINVAL)"))
        #expect(text.contains("guest memory is pinned: RLIMIT_MEMLOCK must allow 256 MiB (or CAP_IPC_LOCK)"))
        #expect(!text.contains("always creatable"))
    }

    @Test("dry run of CCA names the posted series")
    func ccaDryRun() throws {
        let plan = try Samples.compile("cca").plan
        let text = LaunchPreview.render(plan, payloadStatus: "no payload", timeout: nil)
        #expect(text.contains("posted Arm CCA series v14"))
        #expect(!text.contains("RLIMIT_MEMLOCK"))
    }

    @Test("host check of pKVM on an arm64 host not booted protected: the shortfall says why")
    func pkvmHostCheck() throws {
        let plan = try Samples.compile("pkvm").plan
        let refusing = ArmHost(createFails: KVMError(operation: .ioctl(.createVM), errno: .invalidArgument))
        let shortfalls = HostCheck.shortfalls(of: plan, on: refusing)
        #expect(shortfalls.count == 1)
        #expect(shortfalls.first?.message.contains("kvm-arm.mode=protected") == true, "\(shortfalls)")
        #expect(HostCheck.shortfalls(of: plan, on: ArmHost()) == [])
    }
}
