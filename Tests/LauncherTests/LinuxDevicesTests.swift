import KVM
import Launcher
import Plan
import Synchronization
import Testing

/// The Linux guest's devices: the 16550A as Linux's 8250 driver probes and drives it, the i8042 reset, and
/// the exit loop with an in-kernel IRQ chip (replayed: this host's KVM cannot boot Linux, LAB.md).
struct LinuxDevicesTests {
    typealias R = UART16550.Register

    // MARK: UART, step by step as drivers/tty/serial/8250/8250_port.c does it

    @Test("autoconfig: the IER test, the loopback MSR test and the FIFO bits identify a 16550A")
    func probe() {
        var uart = UART16550()
        // IER test: 0 reads back 0, 0x0f reads back 0x0f.
        _ = uart.write(R.ier, 0)
        #expect(uart.read(R.ier).0 & 0x0f == 0)
        _ = uart.write(R.ier, 0x0f)
        #expect(uart.read(R.ier).0 & 0x0f == 0x0f)
        _ = uart.write(R.ier, 0)
        // Loopback: MCR = LOOP | OUT2 | RTS → MSR & 0xf0 = DCD | CTS (0x90).
        _ = uart.write(R.mcr, 0x1a)
        #expect(uart.read(R.msr).0 & 0xf0 == 0x90)
        _ = uart.write(R.mcr, 0)
        // FIFO enabled: IIR bits 7:6 = 3 (a 16550A); EFR probes under LCR 0xbf read IIR, not 0.
        _ = uart.write(R.iir, 0x01)
        #expect(uart.read(R.iir).0 >> 6 == 3)
        _ = uart.write(R.lcr, 0xbf)
        #expect(uart.read(R.iir).0 != 0)
        _ = uart.write(R.lcr, 0x03)
        // Scratch register keeps its value; the divisor latch is separate from THR/IER.
        _ = uart.write(R.scratch, 0xa5)
        #expect(uart.read(R.scratch).0 == 0xa5)
        _ = uart.write(R.lcr, 0x83)
        _ = uart.write(R.data, 0x01)
        _ = uart.write(R.ier, 0x00)
        #expect(uart.read(R.data).0 == 0x01)
        _ = uart.write(R.lcr, 0x03)
        #expect(uart.divisor == 1)
        #expect(uart.read(R.lsr).0 == 0x60)
    }

    @Test("the THRE test: enabling THRI raises IIR = THRI and the line; reading IIR acknowledges it")
    func threTest() {
        var uart = UART16550()
        let enable = uart.write(R.ier, UART16550.ierTHRI)
        #expect(enable.irq == true)
        let (iir1, ack) = uart.read(R.iir)
        #expect(iir1 & 0x0f == UART16550.iirTHRI)
        #expect(ack.irq == false)
        #expect(uart.read(R.iir).0 & 0x01 == 1, "acknowledged: no interrupt pending")
        _ = uart.write(R.ier, 0)
        let again = uart.write(R.ier, UART16550.ierTHRI)
        #expect(again.irq == true, "re-enabling THRI with THR empty interrupts again")
        #expect(uart.read(R.iir).0 & 0x0f == UART16550.iirTHRI)
    }

    @Test("a byte written to THR goes out; with THRI enabled each byte makes a new interrupt")
    func transmit() {
        var uart = UART16550()
        let polled = uart.write(R.data, UInt8(ascii: "A"))
        #expect(polled == UART16550.Effect(output: UInt8(ascii: "A")), "no interrupt without IER.THRI")
        _ = uart.write(R.ier, UART16550.ierTHRI)
        let pulsed = uart.write(R.data, UInt8(ascii: "B"))
        #expect(pulsed.output == UInt8(ascii: "B"))
        #expect(pulsed.pulse, "the line was high: lower and raise it, a new edge")
        _ = uart.read(R.iir)
        let raised = uart.write(R.data, UInt8(ascii: "C"))
        #expect(raised.irq == true && !raised.pulse)
        _ = uart.write(R.mcr, UART16550.mcrLoop)
        #expect(uart.write(R.data, 0x55).output == nil, "loopback output does not leave the UART")
    }

    // MARK: The exit loop with the devices

    final class RecordingInterrupts: InterruptPort, @unchecked Sendable {
        let levels = Mutex<[Bool]>([])
        func setIRQLine(_ irq: UInt32, high: Bool) throws {
            #expect(irq == 4)
            levels.withLock { $0.append(high) }
        }
    }

    func linuxPolicy() -> ExitPolicy {
        ExitPolicy(handlers: [.serial(), .exitPort(), .i8042()])
    }

    @Test("i8042: status says no keyboard (input empty, output never drains), 0xfe on port 0x64 ends the VM with exit 0; other ports are quiet")
    func i8042Reset() {
        let vcpu = ReplayVCPU([
            Exits.inb(0x64), Exits.inb(0x60), Exits.out(0x80, [0]), Exits.inb(0x71), Exits.out(0x64, [0xfe]),
        ])
        let output = CapturedOutput()
        let control = VMControl(vcpuCount: 1)
        let result = ExitLoop(
            port: vcpu, control: control, policy: linuxPolicy(), output: output, devices: LegacyDevices(interrupts: nil)
        ).run()
        #expect(control.termination == .reset(vcpu: 0))
        #expect(control.termination?.status == 0)
        #expect(result.ending == "i8042 reset")
        #expect(vcpu.answers.io == [[I8042.status], [0], [0]])
        #expect(output.messages.isEmpty, "a Linux guest probes many ports; they are answered silently")
    }

    @Test("the UART through the exit loop: output to the console, THRI on IRQ 4 through KVM_IRQ_LINE")
    func uartInterrupts() {
        let vcpu = ReplayVCPU([
            Exits.out(0x3f9, [UART16550.ierTHRI]), Exits.inb(0x3fa), Exits.out(0x3f8, Array("ok".utf8)),
            Exits.out(0xf4, [3]),
        ])
        let output = CapturedOutput()
        let interrupts = RecordingInterrupts()
        let control = VMControl(vcpuCount: 1)
        _ = ExitLoop(
            port: vcpu, control: control, policy: linuxPolicy(), output: output,
            devices: LegacyDevices(interrupts: interrupts)
        ).run()
        #expect(output.consoleText == "ok")
        #expect(control.termination == .exitPort(status: 3, vcpu: 0))
        #expect(vcpu.answers.io == [[0x02]], "IIR: THR empty (no FIFO enabled)")
        // IER.THRI raises; the IIR read lowers; 'o' raises again; 'k' pulses (low, high).
        #expect(interrupts.levels.withLock { $0 } == [true, false, true, false, true])
    }

    @Test("EAGAIN from KVM_RUN (an AP woken by INIT/SIPI in the in-kernel local APIC) means: run it again")
    func eagainRunsAgain() {
        let vcpu = ReplayVCPU(index: 1, [.fail(.resourceTemporarilyUnavailable), .fail(.resourceTemporarilyUnavailable), Exits.out(0xf4, [0])])
        let control = VMControl(vcpuCount: 2)
        let result = ExitLoop(port: vcpu, control: control, policy: linuxPolicy(), output: CapturedOutput()).run()
        #expect(control.termination == .exitPort(status: 0, vcpu: 1))
        #expect(result.exits == 3)
    }

    @Test("tiny guests keep the polled COM1: without devices the other UART registers read 0")
    func tinyGuestsUnchanged() {
        let vcpu = ReplayVCPU([Exits.inb(0x3fa), Exits.inb(0x3fd), Exits.out(0xf4, [0])])
        let output = CapturedOutput()
        _ = ExitLoop(port: vcpu, control: VMControl(vcpuCount: 1), policy: ExitPolicy(), output: output).run()
        #expect(vcpu.answers.io == [[0], [0x60]])
    }
}
