import KVM
import Plan

extension CreateGuestMemfdStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        let gmem = try x.requireVM().createGuestMemfd(size: size, flags: KVM.GuestMemfdFlags(rawValue: flags.rawValue))
        x.guestMemfds[name] = gmem
        x.acquire(step, .guestMemfd(name), .guestMemfd(gmem))
        return "fd \(gmem.rawDescriptor)"
    }
}
