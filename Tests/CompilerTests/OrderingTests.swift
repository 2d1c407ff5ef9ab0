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
            guard case .tdxInitVCPU(let vcpu) = plan.steps[index].operation else { continue }
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
            guard case .tdxInitMemRegion(_, let gpa, let pages, _, let measure) = plan.steps[index].operation else { continue }
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
        guard case .tdxInitVM(_, _, _, let gpaw) = step.operation else { return }
        #expect(Int(gpaw) == bits)
        #expect(PlanRules.tdx(plan, gpaBits: bits) == [])
    }

    @Test("TDX: every rule of §3.1 at once")
    func tdxAll() throws {
        let plan = try Compile.sample("tdx").plan
        #expect(PlanRules.tdx(plan, gpaBits: 48) == [])
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
            guard case .snpLaunchUpdate(_, _, let gpa, let size, let type, let source) = plan.steps[index].operation else { continue }
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
