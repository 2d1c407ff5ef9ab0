import KVM
import Plan

extension FallocateStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        switch (fd.kind, mode) {
        case (.guestMemfd, .allocate):
            guard let gmem = x.guestMemfds[fd.name] else { throw x.missing(fd) }
            try gmem.allocate(offset: offset, length: size)
        case (.guestMemfd, .punchHole):
            guard let gmem = x.guestMemfds[fd.name] else { throw x.missing(fd) }
            try gmem.punchHole(offset: offset, length: size)
        case (.memfd, .punchHole):
            guard let memfd = x.memfds[fd.name] else { throw x.missing(fd) }
            try memfd.punchHole(offset: offset, length: size)
        default:
            throw x.unsupported(step, "the KVM module has no wrapper for fallocate \(mode.rawValue) on \(fd)")
        }
        return "0"
    }
}
