import KVM
import Plan

extension RunStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        // The run phase starts every vCPU together (Launcher); `prepareRun` checks these steps.
        throw StepProblem(detail: "KVM_RUN steps run in the run phase, after every other step")
    }
}
