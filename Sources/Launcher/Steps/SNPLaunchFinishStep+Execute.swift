import KVM
import Plan

extension SNPLaunchFinishStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        try x.requireVM().snpLaunchFinish(
            hostData: finish.hostData, idBlock: finish.idBlock, idAuth: finish.idAuth, sev: try x.requireSEV(sev))
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
