import KVM
import Plan

extension LinuxBootParamsStep: ExecutableStep {
    func execute(_ x: PlanExecutor, _ step: Step) throws -> String {
        guard let payload = x.payload else { throw StepProblem(detail: "the zero page needs the kernel image, but no payload bytes were given") }
        guard let page = LinuxZeroPage.build(image: payload, cmdlineGPA: cmdlineGPA, initrd: initrd, e820: e820) else {
            throw StepProblem(detail: "the payload has no complete setup header, or the e820 map has more than 128 entries")
        }
        guard cmdlineGPA >= zeroPage else { throw StepProblem(detail: "the command line lies below the zero page") }
        let (cmdlineOffset, wraps) = into.offset.addingReportingOverflow(cmdlineGPA - zeroPage)
        guard !wraps else { throw StepProblem(detail: "the command line at \(hex(cmdlineGPA)) lies beyond \(into.map)") }
        try x.write(page, into: into, gpa: zeroPage)
        try x.write(Array(cmdline.utf8) + [0], into: Address(into.map, offset: cmdlineOffset), gpa: cmdlineGPA)
        return "zero page at \(hex(zeroPage)), \(cmdline.utf8.count + 1)-byte command line at \(hex(cmdlineGPA)), \(e820.count) e820 entries"
    }
}
