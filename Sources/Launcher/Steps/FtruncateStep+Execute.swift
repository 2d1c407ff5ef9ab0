import KVM
import Plan

extension FtruncateStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        guard let memfd = x.memfds[fd.name] else { throw x.missing(fd) }
        try memfd.setSize(size)
        return "0"
    }
}
