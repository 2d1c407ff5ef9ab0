import Compiler
import Plan
import TestSupport
import Testing

/// The lowering of `format: linux` (a synthetic bzImage in memory): the in-kernel devices before any vCPU,
/// the boot protocol's steps, the boot state of vCPU 0 only, the i8042 handler; and what `diff` says when the
/// kernel or the command line changes.
struct LinuxLoweringTests {
    static let kernel = BzImageBuilder(kernelSize: 8192).bytes

    static func manifest(cmdline: String = "console=ttyS0 reboot=k", vcpus: Int = 1, initrd: Bool = true) -> String {
        """
        kvmplan: 1
        name: linux
        arch: x86_64
        platform: default
        vcpus: \(vcpus)
        memory:
          regions:
            - {name: ram, base: 0x0, size: 64MiB}
            - {name: mmio, base: 0xfe000000, size: 16MiB, backing: none}
        payload:
          format: linux
          path: bzImage
        \(initrd ? "  initrd: initrd.cpio\n" : "")  cmdline: "\(cmdline)"
        """
    }

    static func compile(_ text: String, kernel: [UInt8] = kernel, initrd: [UInt8] = [UInt8](repeating: 7, count: 5000)) throws -> Compiled {
        let files = RepoFileAccess(virtual: ["Manifests/linux/bzImage": kernel, "Manifests/linux/initrd.cpio": initrd])
        return try Compile.bytes(Array(text.utf8), file: "Manifests/linux/linux.yaml", files: files)
    }

    @Test("devices before vCPUs, then kernel, initrd and zero page; vCPU 0 boots in mode linux")
    func steps() throws {
        let plan = try Self.compile(Self.manifest(vcpus: 2)).plan
        let ids = plan.steps.map(\.id)
        for id in ["tss-addr", "identity-map-addr", "irqchip", "pit", "load.kernel", "load.initrd", "boot-params", "mp-table", "boot.0"] {
            #expect(ids.contains(id), "\(id) in \(ids)")
        }
        let index = { (id: String) in ids.firstIndex(of: id) ?? -1 }
        #expect(index("irqchip") < index("vcpu.0") && index("tss-addr") < index("vcpu.0") && index("identity-map-addr") < index("vcpu.0"))
        #expect(index("irqchip") < index("pit"))
        #expect(!ids.contains("boot.1"), "other vCPUs wait for INIT/SIPI in the in-kernel local APIC")
        guard case .linuxMPTable(let it)? = plan.step(id: "mp-table")?.operation, it.gpa == 0x9_fc00, it.cpus == 2 else {
            Issue.record("mp-table lists both vCPUs")
            return
        }
        #expect(plan.validate().isEmpty, "\(plan.validate())")
        guard case .loadPayload(let it)? = plan.step(id: "load.kernel")?.operation, case let gpa = it.gpa, case let size = it.size, case let fileOffset = it.fileOffset else {
            Issue.record("load.kernel")
            return
        }
        #expect(gpa == 0x100000 && fileOffset == 1024 && size == 8192)
        guard case .linuxBootParams(let it)? = plan.step(id: "boot-params")?.operation, case let zeroPage = it.zeroPage, case let cmdlineGPA = it.cmdlineGPA, case let cmdline = it.cmdline, case let initrd = it.initrd, case let e820 = it.e820
        else {
            Issue.record("boot-params")
            return
        }
        #expect(zeroPage == 0x8000 && cmdlineGPA == 0x9000 && cmdline == "console=ttyS0 reboot=k")
        #expect(initrd == GPARange(gpa: (64 << 20) - 0x2000, size: 5000), "as high as it goes in RAM, page-aligned")
        #expect(e820 == [E820Entry(address: 0, size: 0x10000, kind: .reserved), E820Entry(address: 0x10000, size: (64 << 20) - 0x10000, kind: .ram)])
        guard case .setBootState(let it)? = plan.step(id: "boot.0")?.operation, case let mode = it.mode, case let entry = it.entry else {
            Issue.record("boot.0")
            return
        }
        #expect(mode == .linux && entry == 0x100200)
        guard case .setCPUID2(let it)? = plan.step(id: "cpuid.0")?.operation, case let from = it.from else {
            Issue.record("cpuid.0")
            return
        }
        #expect(from == .supportedHypervisor, "the hypervisor bit makes Linux find kvmclock")
        #expect(plan.handlers.map(\.kind) == [.serial(port: 0x3f8), .exitPort(port: 0xf4), .i8042(port: 0x64), .mmio(region: "mmio", range: GPARange(gpa: 0xfe00_0000, size: 16 << 20), readonly: false)])
        #expect(plan.payload?.format == .linux && plan.payload?.initrd?.size == 5000)
        for cap in ["KVM_CAP_IRQCHIP", "KVM_CAP_PIT2", "KVM_CAP_SET_TSS_ADDR", "KVM_CAP_SET_IDENTITY_MAP_ADDR"] {
            #expect(plan.requires.capabilities[cap] != nil, "\(cap)")
        }
    }

    @Test("the plan survives its canonical JSON, and its C reproducer names the new ioctls")
    func codecs() throws {
        let plan = try Self.compile(Self.manifest(cmdline: "console=ttyS0 \\\"x\\\"")).plan
        let decoded = try Plan(json: plan.jsonString())
        #expect(decoded == plan)
        let c = PlanCRenderer().render(plan)
        for fragment in ["KP_KVM_CREATE_IRQCHIP", "KP_KVM_CREATE_PIT2", "KP_KVM_SET_TSS_ADDR", "zp[0x210] = 0xff", "r.rsi = 0x8000", "ecx |= 1u << 31"] {
            #expect(c.contains(fragment), "\(fragment)")
        }
    }

    @Test("diff: a new kernel, initrd or command line is a measurement change")
    func diff() throws {
        let a = try Self.compile(Self.manifest()).plan
        let cmdline = PlanDiffer.diff(a, try Self.compile(Self.manifest(cmdline: "console=ttyS0 reboot=k debug")).plan)
        #expect(cmdline.findings.contains { $0.risk == .measurement && $0.message.contains("command line changes") })
        var other = Self.kernel
        other[other.count - 1] ^= 0xff
        let kernel = PlanDiffer.diff(a, try Self.compile(Self.manifest(), kernel: other).plan)
        #expect(kernel.findings.contains { $0.risk == .measurement && $0.message.contains("the kernel changes") })
        let initrd = PlanDiffer.diff(a, try Self.compile(Self.manifest(), initrd: [1, 2, 3]).plan)
        #expect(initrd.findings.contains { $0.risk == .measurement && $0.message.contains("the initrd changes") })
        let none = PlanDiffer.diff(a, try Self.compile(Self.manifest(initrd: false)).plan)
        #expect(none.findings.contains { $0.message.contains("the initrd is removed") })
    }
}
