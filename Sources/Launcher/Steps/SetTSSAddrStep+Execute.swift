import KVM
import Plan

extension SetTSSAddrStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        guard let address32 = UInt32(exactly: address) else { throw StepProblem(detail: "the TSS address must lie below 4 GiB") }
        try x.requireVM().setTSSAddress(address32)
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
