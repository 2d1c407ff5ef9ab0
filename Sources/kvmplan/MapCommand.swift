import ArgumentParser
import Compiler
import Diagnostics
import Plan

enum MapFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case svg
}

/// `kvmplan map`: the guest physical address space of a manifest or plan, drawn.
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Draw a guest's physical address space: regions to scale, private/shared/convertible, MMIO holes, aliases.",
        discussion: """
            The input is a manifest or a plan JSON file (the map is drawn from the plan, so both give the \\
            same map). Regions are drawn to scale, on a log2 scale when their sizes differ by more than \\
            64×; gaps between them are shown; private memory (█, red), convertible (▓, orange), shared \\
            (░, green) and MMIO holes (·, grey) differ in glyph and colour; the payload and the launcher's \\
            boot area are marked inside their regions; on platforms with a shared bit (SEV-SNP C-bit, TDX \\
            shared bit, CCA unprotected-IPA bit) each private or convertible region's shared alias is listed.
            --format svg writes a standalone SVG image.
            Exit status: 0 ok, 1 invalid manifest (its diagnostics on stderr), 2 usage or I/O error.
            """
    )

    @Argument(help: "A manifest (YAML) or a plan file (JSON from 'kvmplan plan --format json').")
    var file: String

    @Option(help: "Output format: text (a terminal map) or svg.")
    var format: MapFormat = .text

    @Option(name: .shortAndLong, help: "Write the map to this file instead of stdout.")
    var output: String?

    @OptionGroup var colour: ColourOption

    func run() throws {
        colour.apply()
        let plan = try DiffCommand.load(file, invalidExit: 1)
        let map = plan.memoryMap
        let renderer = GuestMemoryMapRenderer(colour: output == nil && Console.colourStdout)
        let text = format == .svg ? renderer.svg(map) : renderer.text(map)
        try Console.result(text, to: output, raw: false)
    }
}
