import KVM
import Plan

extension LoadPayloadStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        try x.load(into: into, gpa: gpa, size: size, fileOffset: fileOffset, digest: sha256)
    }
}
