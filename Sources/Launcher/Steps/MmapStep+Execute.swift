import KVM
import Plan

extension MmapStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        guard let length = Int(exactly: size) else { throw StepProblem(detail: "size \(size) does not fit this host") }
        let memory: HostMemory
        var note = ""
        switch source {
        case .anonymous:
            guard !shared, offset == 0 else { throw x.unsupported(step, "MAP_SHARED anonymous memory has no KVM-module wrapper") }
            memory = try HostMemory.anonymous(size: length, noReserve: noreserve)
        case .hugetlbAnonymous(let huge):
            guard !shared, offset == 0, let pageSize = KVM.HugePageSize(rawValue: Int(huge.bytes)) else {
                throw x.unsupported(step, "MAP_SHARED hugetlb anonymous memory has no KVM-module wrapper")
            }
            // Without MAP_NORESERVE the kernel reserves the huge pages now, so a host without enough of
            // them fails this step with ENOMEM instead of killing kvmplan with SIGBUS at the first touch.
            memory = try HostMemory.anonymous(size: length, noReserve: false, hugePages: pageSize)
            if noreserve { note = " (NORESERVE not applied: huge pages are reserved up front)" }
        case .memfd(let fd):
            guard let memfd = x.memfds[fd.name] else { throw x.missing(fd) }
            guard shared else { throw x.unsupported(step, "MAP_PRIVATE memfd mappings have no KVM-module wrapper") }
            memory = try memfd.map(offset: offset, length: length, noReserve: noreserve)
        case .guestMemfd(let fd):
            guard let gmem = x.guestMemfds[fd.name] else { throw x.missing(fd) }
            guard shared else { throw StepProblem(detail: "a guest_memfd can only be mapped MAP_SHARED") }
            memory = try gmem.map(offset: offset, length: length)
        }
        x.mappings[name] = memory
        x.acquire(step, .mapping(name), .mapping(memory))
        return hex(memory.userspaceAddress) + note
    }
}
