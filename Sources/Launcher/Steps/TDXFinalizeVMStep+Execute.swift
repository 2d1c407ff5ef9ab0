import KVM
import Plan

extension TDXFinalizeVMStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        try x.requireVM().tdxFinalizeVM()
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
