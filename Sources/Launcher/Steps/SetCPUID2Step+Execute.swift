import KVM
import Plan

extension SetCPUID2Step: ExecutableStep {
    var unsupportedReason: String? { from == .tdx ? "\(from.rawValue) is not implemented" : nil }

    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let ref = self.vcpu
        guard from == .supported || from == .supportedHypervisor else { throw x.unsupported(step) }
        #if arch(x86_64)
        let vcpu = try x.requireVCPU(ref, step)
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
