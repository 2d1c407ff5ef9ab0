import KVM
import Plan

extension TDXInitVCPUStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        // RCX 0: the plan gives the TD firmware no hand-off value.
        try x.requireVCPU(vcpu, step).tdxInitVCPU(rcx: 0)
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
