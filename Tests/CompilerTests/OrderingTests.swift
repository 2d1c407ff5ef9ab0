import Compiler
import Foundation
import Plan
import Testing

/// The kernel's ordering rules (KVM_UAPI.md §3.1 TDX, §3.2 SEV-SNP) on the sample plans, asserted step by
/// step so a failure names the rule; `PlanRules` holds the same checks for generated manifests.
@Suite("Ordering")
struct OrderingTests {
    // MARK: - TDX

    @Test("TDX: KVM_TDX_INIT_VM comes before every KVM_CREATE_VCPU")
    func tdxInitVMBeforeVCPUs() throws {
        let plan = try Compile.sample("tdx").plan
        let initVM = try #require(PlanRules.first(plan, .tdxInitVM))
        let vcpus = PlanRules.indices(plan, .createVCPU)
        #expect(vcpus.count == 2)
        for index in vcpus { #expect(initVM < index, "\(PlanRules.describe(plan, index))") }
        #expect(try #require(PlanRules.first(plan, .createVM)) < initVM)
        #expect(try #require(PlanRules.first(plan, .tdxCapabilities)) < initVM)
    }

    @Test("TDX: every KVM_TDX_INIT_VCPU follows its vCPU's creation")
    func tdxInitVCPUAfterCreate() throws {
        let plan = try Compile.sample("tdx").plan
        let inits = PlanRules.indices(plan, .tdxInitVCPU)
        #expect(inits.count == 2)
        for index in inits {
            guard case .tdxInitVCPU(let it) = plan.steps[index].operation, case let vcpu = it.vcpu else { continue }
            let created = try #require(PlanRules.definition(plan, vcpu))
            #expect(created < index, "\(vcpu) created at \(created), initialized at \(index)")
        }
    }

    @Test("TDX: KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) of a range precedes each KVM_TDX_INIT_MEM_REGION in it")
    func tdxAttributesBeforeInitMemRegion() throws {
        let plan = try Compile.sample("tdx").plan
        let regions = PlanRules.indices(plan, .tdxInitMemRegion)
        #expect(!regions.isEmpty, "the TDX sample has a measured payload")
        for index in regions {
            guard case .tdxInitMemRegion(let it) = plan.steps[index].operation, case let gpa = it.gpa, case let pages = it.nrPages, case let measure = it.measure else { continue }
            #expect(measure)
            #expect(gpa % 4096 == 0)
            #expect(PlanRules.privateBefore(plan, index, gpa: gpa, size: pages * 4096), "\(PlanRules.describe(plan, index))")
            // The attribute step for the range is attr.ram, and it comes earlier.
            let attr = try #require(plan.steps.firstIndex { $0.id == "attr.ram" })
            #expect(attr < index)
        }
    }

    @Test("TDX: KVM_TDX_FINALIZE_VM after every KVM_TDX_INIT_MEM_REGION and before any KVM_RUN")
    func tdxFinalize() throws {
        let plan = try Compile.sample("tdx").plan
        let finalize = try #require(PlanRules.first(plan, .tdxFinalizeVM))
        for index in PlanRules.indices(plan, .tdxInitMemRegion) { #expect(index < finalize) }
        for index in PlanRules.indices(plan, .tdxInitVCPU) { #expect(index < finalize) }
        let runs = PlanRules.indices(plan, .run)
        #expect(runs.count == 2)
        for index in runs { #expect(finalize < index) }
    }

    @Test("TDX: KVM_TDX_INIT_VM's gpaw is the manifest's gpa-bits", arguments: [48, 52])
    func tdxGPAW(bits: Int) throws {
        var text = String(decoding: try RepoFileAccess().read("Manifests/tdx.yaml"), as: UTF8.self)
        text = text.replacingOccurrences(of: "gpa-bits: 48", with: "gpa-bits: \(bits)")
        let plan = try Compile.bytes(Array(text.utf8), file: "Manifests/tdx.yaml").plan
        let step = try #require(plan.steps.first { $0.operation.kind == .tdxInitVM })
        guard case .tdxInitVM(let it) = step.operation, case let gpaw = it.gpaw else { return }
        #expect(Int(gpaw) == bits)
        #expect(PlanRules.tdx(plan, gpaBits: bits) == [])
    }

    @Test("TDX: every rule of §3.1 at once")
    func tdxAll() throws {
        let plan = try Compile.sample("tdx").plan
        #expect(PlanRules.tdx(plan, gpaBits: 48) == [])
    }

    @Test("TDX: KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP, 24) before any vCPU (tdx.c:685-686; x86.c:6763-6782)")
    func tdxSplitIRQChip() throws {
        let plan = try Compile.sample("tdx").plan
        let enable = try #require(plan.steps.firstIndex { $0.id == "enable.KVM_CAP_SPLIT_IRQCHIP" })
        guard case .enableCap(let it) = plan.steps[enable].operation, case let cap = it.cap, case let args = it.args, it.on == .vm else {
            Issue.record("enable.KVM_CAP_SPLIT_IRQCHIP is \(plan.steps[enable].operation)")
            return
        }
        #expect(cap == .splitIRQChip && cap.number == 121)
        #expect(args == [24, 0, 0, 0])
        let vcpus = PlanRules.indices(plan, .createVCPU)
        #expect(!vcpus.isEmpty)
        for index in vcpus { #expect(enable < index) }
        #expect(try #require(PlanRules.first(plan, .tdxInitVM)) > enable)
        #expect(plan.requires.capabilities["KVM_CAP_SPLIT_IRQCHIP"]?.scope == .vm)
    }

    @Test("TDX: per vCPU KVM_TDX_GET_CPUID → KVM_SET_CPUID2 → KVM_TDX_INIT_VCPU (tdx.c:3072-3078, lapic.c:2848-2852)")
    func tdxCPUIDBeforeInitVCPU() throws {
        let plan = try Compile.sample("tdx").plan
        for index in 0..<2 {
            let cpuid = try #require(plan.steps.firstIndex { $0.id == "cpuid.\(index)" })
            let initVCPU = try #require(plan.steps.firstIndex { $0.id == "tdx.init-vcpu.\(index)" })
            #expect(plan.steps[cpuid].operation == .setCPUID2(vcpu: .vcpu(UInt32(index)), from: .tdx))
            #expect(plan.steps[cpuid].operation.ioctls(arch: .x86_64) == [.memoryEncryptOp, .setCPUID2], "KVM_TDX_GET_CPUID, then KVM_SET_CPUID2")
            #expect(cpuid < initVCPU)
        }
    }

    @Test("TDX: KVM_CAP_MAX_VCPUS is the TD's own limit, asked on the VM fd (tdx.c:665)")
    func tdxMaxVCPUsOnVM() throws {
        let plan = try Compile.sample("tdx").plan
        #expect(plan.requires.capabilities["KVM_CAP_MAX_VCPUS"]?.scope == .vm)
        let check = try #require(plan.steps.first { $0.id == "cap.KVM_CAP_MAX_VCPUS" })
        #expect(check.operation == .checkExtension(on: .vm, cap: .maxVCPUs, expect: .atLeast(2)))
        // Elsewhere it stays a /dev/kvm question.
        #expect(try Compile.sample("smp").plan.requires.capabilities["KVM_CAP_MAX_VCPUS"]?.scope == .system)
    }

    @Test(
        "SNP and TDX always enable KVM_CAP_EXIT_HYPERCALL(1 << KVM_HC_MAP_GPA_RANGE) (sev.c:3824-3827, 4034-4036; tdx.c:1247-1257)",
        arguments: ["sev-snp", "tdx"])
    func hypercallExitAlwaysEnabled(platform: String) throws {
        // No sharing section and no convertible region: the exit is still enabled, before any vCPU runs.
        let yaml = """
            kvmplan: 1
            name: plain
            arch: x86_64
            platform: \(platform)
            memory:
              regions:
                - {name: ram, base: 0x0, size: 2MiB, access: private}

            """
        let plan = try Compile.bytes(Array(yaml.utf8), file: "Manifests/plain.yaml").plan
        let step = try #require(plan.steps.first { $0.id == "enable.KVM_CAP_EXIT_HYPERCALL" })
        #expect(step.operation == .enableCap(cap: .exitHypercall, args: [1 << 12, 0, 0, 0]))
        #expect(plan.requires.capabilities["KVM_CAP_EXIT_HYPERCALL"]?.expect == .bits(1 << 12))
    }

    @Test("TDX: the sample's payload is firmware at the reset vector, in private memory, measured")
    func tdxFirmware() throws {
        let plan = try Compile.sample("tdx").plan
        let payload = try #require(plan.payload)
        #expect(payload.format == .firmware)
        #expect(payload.entry == 0xffff_fff0)
        #expect(payload.loadGPA + payload.size == 1 << 32)
        #expect(PlanRules.indices(plan, .setBootState).isEmpty, "a TD's registers are the TDX module's")
        let populate = try #require(plan.steps.first { $0.operation.kind == .tdxInitMemRegion })
        #expect(populate.operation == .tdxInitMemRegion(vcpu: .vcpu(0), gpa: payload.loadGPA, nrPages: payload.size / 4096, source: Address(.mapping("staging-payload")), measure: true))
    }

    // MARK: - SEV-SNP

    @Test("SNP: KVM_SEV_INIT2 before LAUNCH_START before any memslot")
    func snpInitStartBeforeMemory() throws {
        let plan = try Compile.sample("sev-snp").plan
        let initIndex = try #require(PlanRules.first(plan, .sevInit2))
        let start = try #require(PlanRules.first(plan, .snpLaunchStart))
        #expect(initIndex < start)
        let slots = PlanRules.slots(plan)
        #expect(!slots.isEmpty)
        for slot in slots { #expect(start < slot.index, "\(PlanRules.describe(plan, slot.index))") }
        #expect(try #require(PlanRules.definition(plan, .sev)) < initIndex)
    }

    @Test("SNP: PRIVATE attributes before each LAUNCH_UPDATE of that range; gpa and size 4 KiB-aligned")
    func snpAttributesBeforeLaunchUpdate() throws {
        let plan = try Compile.sample("sev-snp").plan
        let updates = PlanRules.indices(plan, .snpLaunchUpdate)
        #expect(!updates.isEmpty, "the SNP sample has a measured payload")
        for index in updates {
            guard case .snpLaunchUpdate(let it) = plan.steps[index].operation, case let gpa = it.gpa, case let size = it.size, case let type = it.pageType, case let source = it.source else { continue }
            #expect(gpa % 4096 == 0, "gpa \(gpa)")
            #expect(size % 4096 == 0 && size > 0, "size \(size)")
            #expect(source.offset % 4096 == 0, "source \(source)")
            #expect(type == .normal)
            #expect(PlanRules.privateBefore(plan, index, gpa: gpa, size: size), "\(PlanRules.describe(plan, index))")
        }
    }

    @Test("SNP: all vCPUs created and booted before LAUNCH_FINISH; FINISH before KVM_RUN")
    func snpFinish() throws {
        let plan = try Compile.sample("sev-snp").plan
        let finish = try #require(PlanRules.first(plan, .snpLaunchFinish))
        let creates = PlanRules.indices(plan, .createVCPU)
        let boots = PlanRules.indices(plan, .setBootState)
        #expect(creates.count == 2)
        #expect(boots.count == 2)
        for index in creates + boots { #expect(index < finish, "\(PlanRules.describe(plan, index))") }
        for index in PlanRules.indices(plan, .snpLaunchUpdate) { #expect(index < finish) }
        let runs = PlanRules.indices(plan, .run)
        #expect(runs.count == 2)
        for index in runs { #expect(finish < index) }
    }

    @Test("SNP: LAUNCH_UPDATE is described as a loop until len == 0 (sev.c:2483-2489), in the text and the C reproducer")
    func snpLaunchUpdateLoops() throws {
        let plan = try Compile.sample("sev-snp").plan
        let updates = plan.steps.filter { $0.operation.kind == .snpLaunchUpdate }
        #expect(updates.count == 2)
        for step in updates { #expect(step.comment?.contains("repeated until len == 0") == true, "\(step.id)") }
        let c = PlanCRenderer().render(plan)
        #expect(c.contains("while (u.len > 0)"))
    }

    @Test("SNP: the long-mode boot area (GDT, page tables) is LAUNCH_UPDATE'd as measured pages after the boot steps wrote it")
    func snpBootAreaMeasured() throws {
        let plan = try Compile.sample("sev-snp").plan
        let area = try #require(plan.steps.firstIndex { $0.id == "snp.launch-update.boot-area" })
        #expect(plan.steps[area].operation == .snpLaunchUpdate(gpa: 0x1000, size: 0x7000, pageType: .normal, source: Address(.mapping("ram"), offset: 0x1000)))
        for index in PlanRules.indices(plan, .setBootState) { #expect(index < area) }
        #expect(area < (try #require(PlanRules.first(plan, .snpLaunchFinish))))
    }

    @Test("SNP: every rule of §3.2 at once")
    func snpAll() throws {
        let plan = try Compile.sample("sev-snp").plan
        #expect(PlanRules.snp(plan) == [])
    }

    // MARK: - Every plan

    @Test("every sample: validate() is empty (each fd defined before use) and every KVM_RUN comes last", arguments: Samples.all)
    func general(sample: String) throws {
        let plan = try Compile.sample(sample).plan
        #expect(plan.validate().map(\.description) == [])
        #expect(PlanRules.general(plan) == [])
        if plan.payload != nil {
            let runs = PlanRules.indices(plan, .run)
            #expect(!runs.isEmpty)
            #expect(runs == Array((plan.steps.count - runs.count)..<plan.steps.count))
        }
    }
}
