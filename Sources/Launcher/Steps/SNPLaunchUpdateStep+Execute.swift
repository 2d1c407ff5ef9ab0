import KVM
import Plan

extension SNPLaunchUpdateStep: ExecutableStep {
    /// KVM_SEV_SNP_LAUNCH_UPDATE of `[gpa, gpa + size)` from the step's source mapping, repeated until KVM has
    /// done the whole range (`PartialProgress`).
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        #if arch(x86_64)
        let vm = try x.requireVM()
        let sev = try x.requireSEV(self.sev)
        guard gpa % 4096 == 0, size % 4096 == 0, size > 0 else {
            throw StepProblem(detail: "gpa \(hex(gpa)) and size \(hex(size)) must be non-zero multiples of 4 KiB")
        }
        let (_, source) = try x.userspaceAddress(self.source, size: size)
        let type = pageType.value
        let start = SNPLaunchRange(gfnStart: gpa >> 12, uaddr: source, len: size, type: type)
        let progress = try PartialProgress.repeatUntilDone(
            start, remaining: \.len,
            describe: { "gfn_start \(hex($0.gfnStart)) uaddr \(hex($0.uaddr)) len \(hex($0.len))" },
            check: Self.check
        ) { range in
            try vm.snpLaunchUpdate(range, sev: sev)
        }
        return progress.result
        #else
        throw x.unsupported(step)
        #endif
    }

    #if arch(x86_64)
    /// What is wrong with the remainder KVM wrote back, if anything: it may only shrink by whole pages, with
    /// `gfn_start` and (except for ZERO pages) `uaddr` advanced by what was done (sev.c `snp_launch_update`).
    static func check(_ before: SNPLaunchRange, _ after: SNPLaunchRange) -> String? {
        guard after.len <= before.len else { return "the remainder grew" }
        let done = before.len - after.len
        guard done % 4096 == 0 else { return "it did part of a page" }
        guard after.gfnStart == before.gfnStart &+ done / 4096 else { return "gfn_start did not advance by the pages done" }
        let uaddr = before.type == SNPLaunchRange.zeroPageType ? before.uaddr : before.uaddr &+ done
        guard after.uaddr == uaddr else { return "uaddr did not advance by the bytes done" }
        return nil
    }
    #endif
}
