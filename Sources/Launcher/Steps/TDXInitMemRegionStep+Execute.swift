import KVM
import Plan

extension TDXInitMemRegionStep: ExecutableStep {
    /// KVM_TDX_INIT_MEM_REGION of `nrPages` pages at `gpa` from the step's source mapping, repeated until KVM has
    /// added them all (`PartialProgress`).
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        let vcpu = try x.requireVCPU(self.vcpu, step)
        let (bytes, overflow) = nrPages.multipliedReportingOverflow(by: 4096)
        guard !overflow, nrPages > 0, gpa % 4096 == 0 else {
            throw StepProblem(detail: "gpa \(hex(gpa)) must be 4 KiB aligned and the page count (\(nrPages)) non-zero")
        }
        let (_, source) = try x.userspaceAddress(self.source, size: bytes)
        let measure = self.measure
        let start = TDXMemRegion(sourceAddr: source, gpa: gpa, nrPages: nrPages)
        let progress = try PartialProgress.repeatUntilDone(
            start, remaining: \.nrPages,
            describe: { "source_addr \(hex($0.sourceAddr)) gpa \(hex($0.gpa)) nr_pages \($0.nrPages)" },
            check: Self.check
        ) { region in
            try vcpu.tdxInitMemRegion(region, measure: measure)
        }
        return progress.result
        #else
        throw x.unsupported(step)
        #endif
    }

    #if arch(x86_64)
    /// What is wrong with the remainder KVM wrote back, if anything: `nr_pages` may only shrink, with `gpa` and
    /// `source_addr` advanced by 4 KiB per page done (tdx.c `tdx_vcpu_init_mem_region`).
    static func check(_ before: TDXMemRegion, _ after: TDXMemRegion) -> String? {
        guard after.nrPages <= before.nrPages else { return "the remainder grew" }
        let done = (before.nrPages - after.nrPages) &* 4096
        guard after.gpa == before.gpa &+ done else { return "gpa did not advance by the pages done" }
        guard after.sourceAddr == before.sourceAddr &+ done else { return "source_addr did not advance by the pages done" }
        return nil
    }
    #endif
}
