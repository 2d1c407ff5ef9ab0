import KVM
import Plan

extension SEVInit2Step: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        try x.requireVM().sevInit2(vmsaFeatures: vmsaFeatures, ghcbVersion: ghcbVersion, sev: try x.requireSEV(sev))
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
