import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `--color auto|always|never`.
enum ColourMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto
    case always
    case never
}

/// The `--color` option, shared by every command that may colour its output.
struct ColourOption: ParsableArguments {
    @Option(
        name: .customLong("color"),
        help: ArgumentHelp(
            "Colour: auto (on a terminal, unless NO_COLOR is set or TERM=dumb), always or never.", valueName: "when"))
    var mode: ColourMode = .auto

    /// Makes this choice the one `Console` uses.
    func apply() { Console.colourMode = mode }
}

extension Console {
    /// The `--color` choice of this run (set once, before any output, by the command's `run`).
    nonisolated(unsafe) static var colourMode: ColourMode = .auto

    /// Whether output written to `fd` is coloured: `always` and `never` decide; `auto` colours a terminal
    /// unless `NO_COLOR` is set to anything non-empty (no-color.org) or `TERM` is `dumb`.
    static func colours(fd: Int32) -> Bool {
        colours(fd: fd, mode: colourMode, environment: { key in getenv(key).map { String(cString: $0) } })
    }

    static func colours(fd: Int32, mode: ColourMode, environment: (String) -> String?) -> Bool {
        switch mode {
        case .always: return true
        case .never: return false
        case .auto:
            if let noColour = environment("NO_COLOR"), !noColour.isEmpty { return false }
            if environment("TERM") == "dumb" { return false }
            return isatty(fd) == 1
        }
    }

    static var colourStdout: Bool { colours(fd: 1) }
    static var colourStderr: Bool { colours(fd: 2) }
}
