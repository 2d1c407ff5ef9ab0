import KVM
import Plan

extension EnableCapStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let kvmCap = KVMCapability(rawValue: cap.number)
        if on.kind == .vcpu {
            try x.requireVCPU(on, step).enableCap(kvmCap, args: args)
        } else {
            try x.requireVM().enableCap(kvmCap, args: args)
        }
        return "0"
    }
}
