import KVM
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The loop around a launch command that KVM may do in part and then writes the remainder back:
/// `KVM_SEV_SNP_LAUNCH_UPDATE` (`len`, sev.c `snp_launch_update`: "loop until len == 0", KVM_UAPI.md §8) and
/// `KVM_TDX_INIT_MEM_REGION` (`nr_pages`, tdx.c `tdx_vcpu_init_mem_region`). It never spins: every call must
/// shrink the remainder or count as a stall (EAGAIN, which the kernel documents as "retry", or a success that
/// did nothing), and `maximumStalls` stalls in a row fail the step. A remainder that grows, or whose addresses do
/// not follow from the work done, fails it at once. (EINTR is retried below this, in `Syscalls`, with the
/// remainder KVM wrote back.)
struct PartialProgress {
    /// Calls in a row that may do nothing before the step gives up.
    static let maximumStalls = 16

    /// Calls made, EAGAIN retries included.
    var calls = 0
    /// Calls that failed with EAGAIN and were retried.
    var eagainRetries = 0
    /// Successful calls that did nothing.
    var emptyCalls = 0

    /// What `--trace` prints: `0`, or `0 (3 calls, 1 EAGAIN)` when it took more than one.
    var result: String {
        guard calls > 1 else { return "0" }
        var notes = ["\(calls) calls"]
        if eagainRetries > 0 { notes.append("\(eagainRetries) EAGAIN") }
        if emptyCalls > 0 { notes.append("\(emptyCalls) without progress") }
        return "0 (" + notes.joined(separator: ", ") + ")"
    }

    /// Calls `call` until `remaining(state)` is 0. `call` makes one kernel call with the current state and returns
    /// the state KVM wrote back; `check(before, after)` says what is wrong with a remainder that does not follow
    /// from `before` (nil when it does). `describe` names a state in messages.
    static func repeatUntilDone<State>(
        _ start: State, remaining: (State) -> UInt64, describe: (State) -> String,
        check: (State, State) -> String?, _ call: (State) throws -> State
    ) throws -> PartialProgress {
        var progress = PartialProgress()
        var state = start
        var stalls = 0
        while remaining(state) > 0 {
            progress.calls += 1
            let next: State
            do {
                next = try call(state)
            } catch let error as KVMError where error.errno == .resourceTemporarilyUnavailable {
                progress.eagainRetries += 1
                stalls += 1
                if stalls >= maximumStalls {
                    throw StepProblem(
                        detail: "EAGAIN (\(error.errno.description)) \(stalls) times in a row, \(describe(state)) left; giving up",
                        errnoName: KVMError.name(of: error.errno))
                }
                continue
            }
            if let wrong = check(state, next) {
                throw StepProblem(detail: "the kernel wrote back \(describe(next)) after \(describe(state)): \(wrong)")
            }
            if remaining(next) == remaining(state) {
                progress.emptyCalls += 1
                stalls += 1
                if stalls >= maximumStalls {
                    throw StepProblem(detail: "no progress in \(stalls) calls in a row, \(describe(state)) left; giving up")
                }
                continue
            }
            stalls = 0
            state = next
        }
        return progress
    }
}

/// A launch command the kernel asks to be repeated with one errno: `KVM_TDX_INIT_VM` returns EAGAIN when the TDX
/// module is out of entropy for a TD's keys (tdx.c `__tdx_td_init`), `KVM_TDX_FINALIZE_VM` EBUSY when the TD's
/// operands are busy (tdx.c `tdx_td_finalize`, `tdx_operand_busy`). Retried at most `PartialProgress.maximumStalls`
/// times in a row, waiting 1, 2, 4 … up to 128 ms between tries (about a second in all: the entropy the TDX module
/// lacks comes back with time), then the step fails with that errno; any other failure ends it at once.
enum RetriedCommand {
    /// Runs `call` until it does not fail with `retryable`; returns what `--trace` prints (`0`, or
    /// `0 (3 calls, 2 EBUSY)`).
    static func run(retrying retryable: Errno, _ call: () throws -> Void) throws -> String {
        var failures = 0
        while true {
            do {
                try call()
                return failures == 0 ? "0" : "0 (\(failures + 1) calls, \(failures) \(KVMError.name(of: retryable)))"
            } catch let error as KVMError where error.errno == retryable {
                failures += 1
                if failures >= PartialProgress.maximumStalls {
                    throw StepProblem(
                        detail: "\(KVMError.name(of: retryable)) (\(retryable.description)) \(failures) times in a row; giving up",
                        errnoName: KVMError.name(of: retryable))
                }
                pause(milliseconds: min(128, 1 << (failures - 1)))
            }
        }
    }
}

/// Sleeps the calling thread (a launch's set-up runs on one thread, before any vCPU).
private func pause(milliseconds: Int) {
    var request = timespec(tv_sec: 0, tv_nsec: milliseconds * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
