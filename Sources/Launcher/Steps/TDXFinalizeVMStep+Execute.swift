import KVM
import Plan

extension TDXFinalizeVMStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        let vm = try x.requireVM()
        return try RetriedCommand.run(retrying: .resourceBusy) { try vm.tdxFinalizeVM() }
        #else
        throw x.unsupported(step)
        #endif
    }
}
