import KVM
import Plan

extension SetCPUID2Step: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let ref = self.vcpu
        #if arch(x86_64)
        let vcpu = try x.requireVCPU(ref, step)
        if from == .tdx {
            // The CPUID the TDX module enforces for this TD, given back to KVM so that its view matches (and
            // has x2APIC, which KVM_TDX_INIT_VCPU needs): KVM_TDX_GET_CPUID, then KVM_SET_CPUID2.
            let entries = try vcpu.tdxGetCPUID()
            try vcpu.setCPUID2(entries)
            return "0 (\(entries.count) entries from KVM_TDX_GET_CPUID)"
        }
        var entries = try x.cpuidEntries()
        if from == .supportedHypervisor, let index = ref.index {
            // The hypervisor bit, and this vCPU's APIC id where CPUID reports it (leaf 1 EBX[31:24], the
            // x2APIC id of leaves 0xb and 0x1f): KVM gives vCPU N local APIC id N, and the MP table says so.
            for i in entries.indices {
                switch entries[i].function {
                case 1:
                    entries[i].ecx |= 1 << 31
                    entries[i].ebx = entries[i].ebx & 0x00ff_ffff | index << 24
                case 0xb, 0x1f:
                    entries[i].edx = index
                default:
                    break
                }
            }
        }
        try vcpu.setCPUID2(entries)
        return "0 (\(entries.count) entries)"
        #else
        throw x.unsupported(step)
        #endif
    }
}
