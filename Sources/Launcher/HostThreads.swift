import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The launcher's host primitives that are not KVM: one POSIX thread per vCPU, the signal that kicks a
// vCPU thread out of KVM_RUN, the wake-up pipe the coordinator waits on (with the timeout), and SIGINT,
// SIGTERM and SIGHUP.
// Nothing here touches /dev/kvm; KVM is reached only through the KVM module (STYLE.md rule 8).

// MARK: - Threads

/// A joinable POSIX thread running a closure. vCPUs need real threads: KVM_RUN blocks, and a guest that
/// spins waiting for another vCPU would starve Swift's cooperative pool.
final class HostThread: @unchecked Sendable {
    // @unchecked: `handle` is written once by `start` before any other thread can see the object and
    // read only by `kick`/`join`, which the coordinator calls after `start` returned.
    private var handle = pthread_t()
    private var started = false

    private final class Body: @unchecked Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// The calling thread, for kicks (not joinable through this object).
    static func current() -> HostThread {
        let thread = HostThread()
        thread.handle = pthread_self()
        thread.started = true
        thread.joinable = false
        return thread
    }

    private var joinable = true

    /// Starts `body` on a new thread; returns the errno of `pthread_create` on failure.
    func start(_ body: @escaping @Sendable () -> Void) -> CInt {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        // SAFETY: `context` is a retained `Body`; the thread takes the retain back exactly once. On failure
        // the thread never ran, so the retain is released here instead.
        let result = pthread_create(
            &handle, nil,
            { raw in
                guard let raw else { return nil }
                // SAFETY: `raw` is the retained `Body` passed by `start`; taken back exactly once here.
                let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
                body.run()
                return nil
            }, context)
        if result != 0 {
            // SAFETY: the thread was not created, so nobody else will release `context`.
            Unmanaged<Body>.fromOpaque(context).release()
            return result
        }
        started = true
        return 0
    }

    /// Sends the kick signal to the thread: a KVM_RUN in progress returns EINTR.
    func kick() {
        // The calling thread needs no kick: it is not inside KVM_RUN while it runs this.
        guard started, pthread_equal(handle, pthread_self()) == 0 else { return }
        _ = pthread_kill(handle, VCPUKick.signal)
    }

    /// Waits for the thread to end.
    func join() {
        guard started, joinable else { return }
        _ = pthread_join(handle, nil)
        started = false
    }
}

/// The signal that interrupts KVM_RUN on a vCPU thread (SIGUSR1, with a handler that does nothing: its
/// only effect is the EINTR). Installed once per process; `immediate_exit` covers the window in which the
/// thread is between its stop check and the ioctl.
enum VCPUKick {
    static let signal = SIGUSR1

    private static let installed = Mutex(false)

    /// Unblocks the kick signal on the calling thread and returns the previous mask. A thread inherits the
    /// signal mask of the thread that created it, and Dispatch's worker threads (Swift concurrency, the test
    /// runner) block SIGUSR1: a blocked kick would stay pending without ever interrupting KVM_RUN.
    static func unblockOnThisThread() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        var previous = sigset_t()
        _ = pthread_sigmask(SIG_UNBLOCK, &set, &previous)
        return previous
    }

    static func restoreMask(_ mask: sigset_t) {
        var mask = mask
        _ = pthread_sigmask(SIG_SETMASK, &mask, nil)
    }

    /// The mask of an extra vCPU thread: the kick unblocked and, when kvmplan handles SIGINT/SIGTERM/SIGHUP,
    /// those blocked, so that they land on the calling thread (the first vCPU's loop notices them).
    static func prepareVCPUThread(blockInterrupt: Bool) {
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, signal)
        _ = pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        if blockInterrupt {
            var block = sigset_t()
            sigemptyset(&block)
            for number in InterruptSignal.handled { sigaddset(&block, number) }
            _ = pthread_sigmask(SIG_BLOCK, &block, nil)
        }
    }

    static func installHandler() {
        installed.withLock { done in
            guard !done else { return }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            _ = sigaction(signal, &action, nil)
            done = true
        }
    }
}

// MARK: - Wake-up

/// A pipe the coordinator waits on: vCPU threads (the guest finished) and the signal handler write a byte.
/// `wait(timeout:)` is `poll(2)` with the remaining time, so the timeout needs no extra thread.
final class WakeUp: Sendable {
    let readEnd: CInt
    let writeEnd: CInt

    /// Nil with the errno when no pipe can be made.
    static func make() -> (WakeUp?, CInt) {
        var fds: [CInt] = [-1, -1]
        // SAFETY: `fds` has room for the two descriptors pipe(2) stores.
        guard pipe(&fds) == 0 else { return (nil, errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return (WakeUp(readEnd: fds[0], writeEnd: fds[1]), 0)
    }

    private init(readEnd: CInt, writeEnd: CInt) {
        self.readEnd = readEnd
        self.writeEnd = writeEnd
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Wakes the waiter (async-signal-safe: one write(2)).
    func signal() { WakeUp.poke(writeEnd) }

    static func poke(_ fd: CInt) {
        var byte: UInt8 = 1
        // SAFETY: writes the one byte of a local; a full pipe already means "woken".
        _ = write(fd, &byte, 1)
    }

    /// Waits until `signal()` or the deadline (`nil`: forever). Returns false on timeout.
    func wait(until deadline: Deadline?) -> Bool {
        while true {
            var timeoutMs: CInt = -1
            if let deadline {
                let left = deadline.remainingNanoseconds()
                if left <= 0 { return false }
                timeoutMs = CInt(clamping: (left + 999_999) / 1_000_000)
            }
            var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            // SAFETY: one pollfd, a local that outlives the call.
            let n = poll(&entry, 1, timeoutMs)
            if n > 0 { return true }
            // EINTR (e.g. SIGINT) or a failure: report "woken", the caller re-checks what happened.
            if n < 0 { return true }
        }
    }
}

/// A point in CLOCK_MONOTONIC time.
struct Deadline: Sendable {
    let nanoseconds: Int64

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    init(secondsFromNow seconds: Double) {
        nanoseconds = Deadline.now() + Int64(min(seconds, 1e9) * 1e9)
    }

    func remainingNanoseconds() -> Int64 { nanoseconds - Deadline.now() }
}

// MARK: - SIGINT, SIGTERM, SIGHUP

/// SIGINT, SIGTERM or SIGHUP during a launch (the CLI's, not the tests'): systemd, Docker, Kubernetes and CI
/// runners stop a job with SIGTERM, a closed terminal sends SIGHUP. The handler records the first signal and
/// writes to the current launch's wake-up pipe; the launcher stops the guest, tears down and exits
/// 128 + the signal's number (130, 143, 129). The previous actions are restored afterwards.
enum InterruptSignal {
    /// The signals a launch handles, in the order they are installed.
    static let handled: [CInt] = [SIGINT, SIGTERM, SIGHUP]

    /// The write end of the wake-up pipe of the launch in progress, or -1.
    private static let wakeFD = Atomic<Int32>(-1)
    /// The first handled signal received, or 0.
    private static let received = Atomic<Int32>(0)

    static var wasReceived: Bool { received.load(ordering: .acquiring) != 0 }

    /// The signal that stopped the launch (SIGINT when none was recorded).
    static var signal: CInt {
        let number = received.load(ordering: .acquiring)
        return number == 0 ? SIGINT : number
    }

    /// 128 + the signal's number, as shells report a process killed by it.
    static var exitStatus: Int32 { 128 + signal }

    /// `SIGINT`, `SIGTERM` or `SIGHUP`.
    static var name: String { name(of: signal) }

    static func name(of signal: CInt) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }

    /// What `install` replaced: each signal's action and the calling thread's signal mask.
    struct Previous {
        var actions: [sigaction]
        var mask: sigset_t
    }

    /// Installs the handler for every handled signal and unblocks them on the calling thread (a parent —
    /// a test runner, a supervisor — may have left them blocked, and a blocked SIGTERM would be ignored);
    /// returns what it replaced for `restore`.
    static func install(wakeFD fd: CInt) -> Previous {
        // Touch the globals first, so the handler never runs their lazy initialisation.
        received.store(0, ordering: .releasing)
        wakeFD.store(fd, ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { number in
            // The first signal wins: a SIGTERM after a SIGINT does not change the exit status.
            _ = InterruptSignal.received.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
            let fd = InterruptSignal.wakeFD.load(ordering: .acquiring)
            if fd >= 0 { WakeUp.poke(fd) }
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        let actions = handled.map { number in
            var previous = sigaction()
            _ = sigaction(number, &action, &previous)
            return previous
        }
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in handled { sigaddset(&unblock, number) }
        var mask = sigset_t()
        _ = pthread_sigmask(SIG_UNBLOCK, &unblock, &mask)
        return Previous(actions: actions, mask: mask)
    }

    static func restore(_ previous: Previous) {
        var mask = previous.mask
        _ = pthread_sigmask(SIG_SETMASK, &mask, nil)
        for (number, action) in zip(handled, previous.actions) {
            var action = action
            _ = sigaction(number, &action, nil)
        }
        wakeFD.store(-1, ordering: .releasing)
    }
}
