import Compiler
import KVM
import Launcher
import Plan
import TestSupport
import Testing

/// The host comparison against made-up hosts: every shortfall names what is missing and the manifest line.
struct HostCheckTests {
    struct FakeHost: HostFacts {
        var architecture: PlanArch = .x86_64
        var api = 12
        var system: [UInt32: Int] = [:]
        var perVM: [UInt32: Int] = [:]
        var vmFailure: KVMError?

        func apiVersion() throws(KVMError) -> Int { api }
        func checkExtension(_ number: UInt32) throws(KVMError) -> Int { system[number] ?? 0 }
        func checkExtensionsOnVM(type: UInt64, _ numbers: [UInt32]) throws(KVMError) -> [UInt32: Int] {
            if let vmFailure { throw vmFailure }
            return perVM.filter { numbers.contains($0.key) }
        }
    }

    /// This development host (KVM_UAPI.md §6).
    static let thisKindOfHost = FakeHost(
        system: [
            Capability.vmTypes.number: 1, Capability.nrMemslots.number: 32764, Capability.userMemory2.number: 1,
            Capability.guestMemfd.number: 1, Capability.readonlyMem.number: 1, Capability.maxVCPUs.number: 1024,
            Capability.exitHypercall.number: 4096, Capability.guestMemfdFlags.number: 3,
        ],
        perVM: [Capability.guestMemfdFlags.number: 3, Capability.memoryAttributes.number: 0])

    func plan(_ name: String) throws -> Plan { try Samples.compile(name).plan }
    func location(_ name: String, _ lineColumn: String) -> String { Repo.path("Manifests/\(name).yaml") + ":" + lineColumn }

    @Test(arguments: ["hello-long", "hello-real", "hello-protected", "hello-elf", "memtest", "mmio", "smp"])
    func theLaunchableSamplesFitThisKindOfHost(_ name: String) throws {
        #expect(HostCheck.shortfalls(of: try plan(name), on: Self.thisKindOfHost) == [])
    }

    @Test func aMissingVMTypeNamesTheBitmapAndTheManifestLine() throws {
        let shortfalls = HostCheck.shortfalls(of: try plan("tdx"), on: Self.thisKindOfHost)
        #expect(
            shortfalls.map(\.description) == [
                location("tdx", "5:11") + ": error: this host's KVM cannot create KVM_X86_TDX_VM (KVM_CAP_VM_TYPES = 0x1)"
            ])
    }

    @Test func anotherArchitectureIsAShortfall() throws {
        let shortfalls = HostCheck.shortfalls(of: try plan("hello-long"), on: FakeHost(architecture: .arm64))
        #expect(shortfalls.count == 1)
        #expect(shortfalls.first?.message == "this host's KVM cannot create KVM_X86_DEFAULT_VM: the host is arm64, the plan is for x86_64")
    }

    @Test func missingSystemCapabilitiesAreEachReported() throws {
        var host = Self.thisKindOfHost
        host.system[Capability.userMemory2.number] = 0
        host.system[Capability.nrMemslots.number] = 1
        let shortfalls = HostCheck.shortfalls(of: try plan("memtest"), on: host)
        #expect(
            shortfalls.map(\.message) == [
                "this host's KVM has KVM_CAP_NR_MEMSLOTS = 1 on /dev/kvm, the plan needs at least 2",
                "this host's KVM lacks KVM_CAP_USER_MEMORY2 (KVM_CHECK_EXTENSION = 0 on /dev/kvm)",
            ])
        #expect(shortfalls.allSatisfy { $0.source?.hasPrefix(Repo.path("Manifests/memtest.yaml:")) == true })
    }

    @Test func vmScopeCapabilitiesAreReadOnAVMOfThePlansType() throws {
        var host = Self.thisKindOfHost
        host.perVM[Capability.guestMemfdFlags.number] = 1  // MMAP but not INIT_SHARED on this VM type
        let shortfalls = HostCheck.shortfalls(of: try plan("hello-elf"), on: host)
        #expect(
            shortfalls.map(\.message) == [
                "this host's KVM has KVM_CAP_GUEST_MEMFD_FLAGS = 0x1 on a KVM_X86_DEFAULT_VM VM, the plan needs bits 0x3 (missing 0x2)"
            ])
    }

    @Test func aVMTypeThatCannotBeCreatedIsAShortfall() throws {
        var host = Self.thisKindOfHost
        host.vmFailure = KVMError(operation: .ioctl(.createVM), errno: .invalidArgument)
        let shortfalls = HostCheck.shortfalls(of: try plan("hello-elf"), on: host)
        #expect(shortfalls.map(\.message) == ["this host's KVM cannot create KVM_X86_DEFAULT_VM: KVM_CREATE_VM failed: EINVAL (Invalid argument)"])
    }

    @Test func anotherAPIVersionIsAShortfall() throws {
        var host = Self.thisKindOfHost
        host.api = 11
        #expect(
            HostCheck.shortfalls(of: try plan("hello-long"), on: host).map(\.description)
                == ["kvmplan: error: this host's KVM API version is 11, the plan needs 12"])
    }
}
