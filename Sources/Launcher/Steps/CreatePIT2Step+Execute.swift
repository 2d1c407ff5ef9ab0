import KVM
import Plan

extension CreatePIT2Step: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        try x.requireVM().createPIT2(speakerDummy: flags.contains(.speakerDummy))
        return "0"
        #else
        throw x.unsupported(step)
        #endif
    }
}
