import Plan

/// A step kind the launcher executes: its execution through the KVM module (the one kernel door), beside its
/// description in `Plan/Steps/`. One file per step kind, `Launcher/Steps/<Kind>+Execute.swift`; the executor finds
/// it by conformance (`Operation.executable`), so there is nothing to register.
protocol ExecutableStep {
    /// Performs the step on the executor's VM: returns the result `--trace` prints (`fd 5`, `0`), records what
    /// it acquires with `PlanExecutor.acquire` so a later failure undoes it, throws `KVMError` or `StepProblem`.
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String

    /// Why this launcher cannot execute this particular step of an executable kind (checked for every step
    /// before anything is created); nil when it can.
    var unsupportedReason: String? { get }
}

extension ExecutableStep {
    var unsupportedReason: String? { nil }
}

extension Operation {
    /// The step's execution: its step kind's `ExecutableStep` conformance (`Launcher/Steps/<Kind>+Execute.swift`);
    /// nil for the kinds the launcher does not execute.
    var executable: (any ExecutableStep)? { stepValue as? any ExecutableStep }
}
