import KVM
import Plan

extension TDXCapabilitiesStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        let capabilities = try x.requireVM().tdxCapabilities()
        x.tdxCapabilities = capabilities
        return "0 (supported attributes \(hex(capabilities.supportedAttributes)), XFAM \(hex(capabilities.supportedXFAM)), "
            + "\(capabilities.configurableCPUID.count) configurable CPUID leaves)"
        #else
        throw x.unsupported(step)
        #endif
    }
}
