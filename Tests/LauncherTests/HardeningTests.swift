import Compiler
import KVM
import Launcher
import Plan
import Testing
import TestSupport

/// Issue 15 in the launcher: what a tampered plan file could make it do.
struct LauncherHardeningTests {
    /// Before the fix, `serial + 5` and `serial + 7` trapped (SIGILL) on the guest's first port access when the
    /// plan's serial port was 0xfffb or above.
    @Test("a serial port at the top of the port space never traps the exit loop", arguments: [UInt16(0xfffb), 0xfffe, 0xffff])
    func serialPortAtTheTop(port: UInt16) {
        let vcpu = ReplayVCPU([Exits.inb(0xffff), Exits.out(0xfffa, [1]), Exits.out(port, Array("x".utf8)), Exits.out(0xf4, [3])])
        let output = CapturedOutput()
        let control = VMControl(vcpuCount: 1)
        let result = ExitLoop(port: vcpu, control: control, policy: ExitPolicy(serialPort: port), output: output).run()
        #expect(control.termination == .exitPort(status: 3, vcpu: 0))
        #expect(result.exits == 4)
        #expect(output.consoleText == "x")
        // 0xffff is the line status register only for a UART at 0xfffa; at 0xfffb+ it is another register.
        #expect(vcpu.answers.io == [[0]])
    }
}
