import KVM
import Plan

extension TDXInitVMStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        let vm = try x.requireVM()
        guard let capabilities = x.tdxCapabilities else {
            throw StepProblem(detail: "its CPUID comes from KVM_TDX_CAPABILITIES, which no earlier step asked")
        }
        let cpuid = TDXCPUID.initVM(configurable: capabilities.configurableCPUID, supported: try x.cpuidEntries(), gpaw: gpaw)
        let parameters = TDXInitVMParameters(
            attributes: attributes, xfam: xfam, mrconfigid: measurements.mrconfigid, mrowner: measurements.mrowner,
            mrownerconfig: measurements.mrownerconfig, cpuid: cpuid)
        let result = try RetriedCommand.run(retrying: .resourceTemporarilyUnavailable) { try vm.tdxInitVM(parameters) }
        let gpawSet = cpuid.contains { $0.function == 0x8000_0008 }
        return result + " (\(cpuid.count) CPUID entries" + (gpawSet ? ", GuestPhysAddrSize \(gpaw))" : "; no configurable leaf 0x80000008 for the GPA width)")
        #else
        throw x.unsupported(step)
        #endif
    }
}

#if arch(x86_64)
/// The CPUID of `KVM_TDX_INIT_VM`, built as the plan's C reproducer builds it (`TDXInitVMStep.cStatements`): each
/// leaf `KVM_TDX_CAPABILITIES` reports as configurable (KVM rejects any other, tdx.c `setup_tdparams_cpuids`),
/// its configurable bits ANDed with what `KVM_GET_SUPPORTED_CPUID` reports for the same leaf and subleaf (kept
/// as reported when KVM_GET_SUPPORTED_CPUID has no such leaf), and GuestPhysAddrSize, CPUID 0x80000008
/// EAX[23:16], set to the GPA width (48 or 52: KVM takes the TD's GPAW from it, tdx.c
/// `setup_tdparams_eptp_controls`). An approximation of a VMM's CPUID model, enough for INIT_VM itself.
enum TDXCPUID {
    static func initVM(configurable: [CPUIDEntry], supported: [CPUIDEntry], gpaw: UInt8) -> [CPUIDEntry] {
        configurable.map { leaf in
            var entry = leaf
            if let host = supported.first(where: { $0.function == leaf.function && $0.index == leaf.index }) {
                entry.eax &= host.eax
                entry.ebx &= host.ebx
                entry.ecx &= host.ecx
                entry.edx &= host.edx
            }
            if entry.function == 0x8000_0008 {
                entry.eax = entry.eax & ~0x00ff_0000 | UInt32(gpaw) << 16
            }
            return entry
        }
    }
}
#endif
