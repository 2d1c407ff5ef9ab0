import Diagnostics

extension PlanIssue {
    /// Documentation of plan-file ids, for `kvmplan explain` (the ids a tampered or hand-written plan file gets
    /// from `Plan.validate()`; issue 15).
    public static let documentation: [RuleDocumentation] = [
        RuleDocumentation(
            id: "plan.invalid-path", severity: .error, summary: "A path in a plan file (payload or source) contains a control character.",
            rationale: "The launcher opens a path up to its first NUL while the plan shows the whole string; ESC and BEL sequences would reach the terminal of whoever reads the plan.",
            kernel: "open(2) would open another file than the one the plan names.",
            fix: "Re-create the plan with 'kvmplan plan --format json' from a manifest whose paths are printable."),
        RuleDocumentation(
            id: "plan.load-mismatch", severity: .error, summary: "A load step's guest address disagrees with the memslots.",
            rationale: "A load copies payload bytes into a mapping at an offset and names the guest address they land at; when the mapping backs a memslot, that offset must be where the memslot holds the address, and the range must lie inside one memslot. Otherwise the bytes go elsewhere than the plan, the trace and the measurement say.",
            kernel: "Nothing fails: the guest would find its payload at another address than the plan shows.",
            fix: "Re-create the plan from its manifest; do not edit load steps by hand."),
        RuleDocumentation(
            id: "plan.out-of-range", severity: .error, summary: "A number in a plan file is outside its real range.",
            rationale: "A plan file may come from elsewhere and kvmplan runs it as root: handler ports (the UART needs its port and the 7 after it), vCPU indices and counts (at most 4096), memslot ids (at most 32767), boot entries (real mode below 1 MiB, protected mode below 4 GiB) and every address or offset plus size (no wrap past 2^64) are bounded before any arithmetic is done on them.",
            kernel: "KVM would refuse most of them with EINVAL; a serial port of 0xfffb or above used to crash the launcher at the guest's first port access.",
            fix: "Re-create the plan from its manifest."),
        RuleDocumentation(
            id: "plan.payload-mismatch", severity: .error, summary: "A plan's payload disagrees with its load and boot steps.",
            rationale: "The payload's size, load address (flat images: one load of every byte), entry and boot mode are shown by --dry-run and diff; the steps are what runs. They must say the same, and no load may read past the payload.",
            kernel: "Nothing fails: the guest would start elsewhere, or with other bytes, than the plan's summary says.",
            fix: "Re-create the plan from its manifest."),
        RuleDocumentation(
            id: "plan.run-not-last", severity: .error, summary: "A step comes after a KVM_RUN step.",
            rationale: "The launcher starts every vCPU after all other steps, so a step after a KVM_RUN would run in another order than the plan shows.",
            kernel: "Nothing fails: the step would run before the vCPUs, not after.",
            fix: "Put every KVM_RUN step last (the compiler always does)."),
    ]
}
