import ArgumentParser
import Compiler
import Diagnostics
import Rules

/// Loads `--host PROFILE|local`.
enum HostProfileLoader {
    static func load(_ argument: String) throws -> HostProfile {
        if argument == "local" {
            return try localHostProfile()
        }
        let bytes: [UInt8]
        do {
            bytes = try LocalFileAccess().read(argument)
        } catch {
            Console.error("kvmplan: host profile: \(error)")
            throw ExitCode(2)
        }
        do {
            let json = try JSONValue.parse(String(decoding: bytes, as: UTF8.self))
            return try HostProfile(json: json)
        } catch {
            Console.error("kvmplan: host profile '\(argument)': \(error)")
            throw ExitCode(2)
        }
    }
}
