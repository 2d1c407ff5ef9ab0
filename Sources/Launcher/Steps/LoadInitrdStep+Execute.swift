import KVM
import Plan

extension LoadInitrdStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        guard let initrd = x.initrd else { throw StepProblem(detail: "the plan loads an initrd, but no initrd bytes were given") }
        return try x.copy(initrd, what: "initrd", into: into, gpa: gpa, fileOffset: 0, size: size, digest: sha256)
    }
}
