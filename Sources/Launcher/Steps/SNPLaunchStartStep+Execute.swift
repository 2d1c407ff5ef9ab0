import KVM
import Plan

extension SNPLaunchStartStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        try x.requireVM().snpLaunchStart(policy: policy, sev: try x.requireSEV(sev))
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
