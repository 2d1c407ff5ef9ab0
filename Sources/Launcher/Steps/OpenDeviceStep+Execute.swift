import KVM
import Plan

extension OpenDeviceStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        switch path {
        case .kvm:
            let kvm = try KVMSystem()
            x.system = kvm
            x.acquire(step, .kvm, .system(kvm))
            return "fd \(kvm.rawDescriptor)"
        case .sev:
            // The AMD Secure Processor's device: every SEV-SNP launch command names it (kvm_sev_cmd.sev_fd).
            let sev = try SEVDevice()
            x.sevDevice = sev
            x.acquire(step, .sev, .sevDevice(sev))
            return "fd \(sev.rawDescriptor)"
        }
    }
}
